//! Plan-time checks of a `drpair_failover_dns` configuration, each naming the attribute at
//! fault; above all the RTO budget: detection (interval × threshold) + the alias TTL + the DR
//! promotion allowance must fit `rto_target_seconds`.

use crate::aws::tags::is_managed_key;
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::functions::{ALIAS_TTL_SECONDS, PROMOTION_ALLOWANCE_SECONDS};

use super::{FailoverDnsModel, HealthCheckModel};

pub const DEFAULT_INTERVAL: i64 = crate::functions::rto::DNS_REQUEST_INTERVAL_SECONDS;
pub const DEFAULT_THRESHOLD: i64 = crate::functions::rto::DNS_FAILURE_THRESHOLD;
pub const DEFAULT_RTO_TARGET: i64 = 300;
const INTERVALS: [i64; 2] = [10, 30];
const MAX_THRESHOLD: i64 = 10;

/// Seconds from the primary failing until Route 53 calls it unhealthy.
pub fn detection_seconds(request_interval: i64, failure_threshold: i64) -> i64 {
    request_interval * failure_threshold
}

/// Detection + alias TTL (60 s) + DR promotion allowance (120 s).
pub fn rto_budget_seconds(request_interval: i64, failure_threshold: i64) -> i64 {
    crate::functions::rto_budget_seconds(
        request_interval,
        failure_threshold,
        ALIAS_TTL_SECONDS,
        PROMOTION_ALLOWANCE_SECONDS,
    )
}

/// The largest failure threshold that fits the target with this interval, if any.
fn max_threshold(target: i64, interval: i64) -> Option<i64> {
    let room = target - ALIAS_TTL_SECONDS - PROMOTION_ALLOWANCE_SECONDS;
    let n = (room / interval).min(MAX_THRESHOLD);
    (n >= 1).then_some(n)
}

/// The effective health check settings of a configuration (defaults filled in), when known.
pub fn timing(check: &Val<HealthCheckModel>) -> Option<(i64, i64)> {
    match check {
        Val::Null => Some((DEFAULT_INTERVAL, DEFAULT_THRESHOLD)),
        Val::Unknown => None,
        Val::Known(c) => {
            let get = |v: &Val<i64>, default: i64| match v {
                Val::Known(n) => Some(*n),
                Val::Null => Some(default),
                Val::Unknown => None,
            };
            Some((
                get(&c.request_interval, DEFAULT_INTERVAL)?,
                get(&c.failure_threshold, DEFAULT_THRESHOLD)?,
            ))
        }
    }
}

/// Fails when the worst-case recovery time exceeds the target, saying which knob to turn.
pub fn rto(config: &FailoverDnsModel, diags: &mut Diagnostics) {
    let Some((interval, threshold)) = timing(&config.health_check) else {
        return;
    };
    let target = match &config.rto_target_seconds {
        Val::Known(n) => *n,
        Val::Null => DEFAULT_RTO_TARGET,
        Val::Unknown => return,
    };
    if !INTERVALS.contains(&interval) || !(1..=MAX_THRESHOLD).contains(&threshold) {
        return; // reported on their own
    }
    let budget = rto_budget_seconds(interval, threshold);
    if budget <= target {
        return;
    }
    let mut knobs = Vec::new();
    if let Some(n) = max_threshold(target, interval).filter(|n| *n < threshold) {
        knobs.push(format!(
            "lower health_check.failure_threshold to {n} or less"
        ));
    }
    if interval == 30 {
        if let Some(n) = max_threshold(target, 10) {
            knobs.push(format!(
                "set health_check.request_interval = 10 (with failure_threshold {n} or less)"
            ));
        }
    }
    knobs.push(format!(
        "raise rto_target_seconds to {budget} or more if the business accepts it"
    ));
    let path = match &config.health_check {
        Val::Known(_) => AttributePath::root()
            .attr("health_check")
            .attr("failure_threshold"),
        _ => AttributePath::root().attr("rto_target_seconds"),
    };
    diags.error_at(
        path,
        "Health check timing exceeds the RTO target",
        format!(
            "The worst-case recovery time is health_check.request_interval ({interval} s) × health_check.failure_threshold ({threshold}) = {} s to detect the failure, + {ALIAS_TTL_SECONDS} s alias TTL + {PROMOTION_ALLOWANCE_SECONDS} s to promote the DR database = {budget} s, above rto_target_seconds ({target} s). To fit: {}.",
            detection_seconds(interval, threshold),
            knobs.join("; or ")
        ),
    );
}

pub fn all(config: &FailoverDnsModel, diags: &mut Diagnostics) {
    let root = AttributePath::root();
    if config.zone_name.is_null() && config.zone_id.is_null() {
        diags.error_at(
            root.attr("zone_name"),
            "No hosted zone",
            "Set zone_name to create a public hosted zone for the domain, or zone_id to put the records in an existing zone.",
        );
    }
    if let Val::Known(z) = &config.zone_name {
        domain(z.trim_end_matches('.'), &root.attr("zone_name"), diags);
    }
    if let Val::Known(r) = &config.record_name {
        if r != "@" {
            domain(r, &root.attr("record_name"), diags);
        }
    }
    for (side, endpoint) in [("primary", &config.primary), ("dr", &config.dr)] {
        let Val::Known(e) = endpoint else { continue };
        if let Val::Known(dns) = &e.alb_dns_name {
            if dns.is_empty() || dns.contains("://") || dns.contains('/') {
                diags.error_at(
                    root.attr(side).attr("alb_dns_name"),
                    "Invalid load balancer DNS name",
                    format!("{dns:?} is not a DNS name; use the load balancer's DNS name without scheme or path (drpair_app_tier.web.{side}.alb_dns_name)."),
                );
            }
        }
        if e.alb_zone_id.known().is_some_and(|z| z.is_empty()) {
            diags.error_at(root.attr(side).attr("alb_zone_id"), "Empty zone id", "alb_zone_id is the load balancer's canonical hosted zone id (drpair_app_tier.web.<side>.alb_zone_id).");
        }
    }
    if let Val::Known(c) = &config.health_check {
        health_check(c, &root.attr("health_check"), diags);
    }
    if let Val::Known(t) = &config.rto_target_seconds {
        if *t < 1 {
            diags.error_at(
                root.attr("rto_target_seconds"),
                "Invalid RTO target",
                format!("rto_target_seconds is {t}; it must be a positive number of seconds."),
            );
        }
    }
    if let Val::Known(tags) = &config.tags {
        for key in tags
            .keys()
            .filter(|k| is_managed_key(k) || k.starts_with("aws:"))
        {
            diags.error_at(
                root.attr("tags").key(key),
                "Reserved tag key",
                format!("The tag {key:?} is set by drpair (or AWS) and cannot be set in tags."),
            );
        }
    }
    rto(config, diags);
}

fn health_check(c: &HealthCheckModel, path: &AttributePath, diags: &mut Diagnostics) {
    let protocol = c.protocol.known().map(String::as_str);
    if let Some(p) = protocol {
        if p != "HTTP" && p != "HTTPS" {
            diags.error_at(
                path.attr("protocol"),
                "Invalid protocol",
                format!("protocol is {p:?}; it must be \"HTTP\" or \"HTTPS\"."),
            );
        }
    }
    if let Val::Known(port) = &c.port {
        if !(1..=65_535).contains(port) {
            diags.error_at(
                path.attr("port"),
                "Invalid port",
                format!("port is {port}; it must be from 1 to 65535."),
            );
        } else if *port == 80 && protocol == Some("HTTPS") {
            diags.error_at(
                path.attr("port"),
                "HTTPS on port 80",
                "protocol is HTTPS but port is 80 (the default); set port = 443.",
            );
        }
    }
    if let Val::Known(p) = &c.path {
        if !p.starts_with('/') || p.len() > 255 {
            diags.error_at(
                path.attr("path"),
                "Invalid path",
                format!("{p:?} must start with / and be at most 255 characters."),
            );
        }
    }
    if let Val::Known(i) = &c.request_interval {
        if !INTERVALS.contains(i) {
            diags.error_at(path.attr("request_interval"), "Invalid request interval", format!("request_interval is {i}; Route 53 checks every 10 (fast) or 30 (standard) seconds."));
        }
    }
    if let Val::Known(t) = &c.failure_threshold {
        if !(1..=MAX_THRESHOLD).contains(t) {
            diags.error_at(
                path.attr("failure_threshold"),
                "Invalid failure threshold",
                format!("failure_threshold is {t}; it must be from 1 to {MAX_THRESHOLD}."),
            );
        }
    }
}

/// A DNS name of letters, digits, hyphens and underscores, `*` allowed as the first label.
fn domain(name: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let labels: Vec<&str> = name.split('.').collect();
    let ok = !name.is_empty()
        && name.len() <= 253
        && labels.iter().enumerate().all(|(i, l)| {
            (i == 0 && *l == "*")
                || (!l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        });
    if !ok {
        diags.error_at(path.clone(), "Invalid DNS name", format!("{name:?} is not a DNS name: labels of letters, digits and hyphens (at most 63 characters each), separated by dots."));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(interval: i64, threshold: i64, target: Val<i64>) -> FailoverDnsModel {
        FailoverDnsModel {
            zone_name: Val::Known("payments.example.com".into()),
            record_name: Val::Known("api".into()),
            health_check: Val::Known(HealthCheckModel {
                protocol: Val::Known("HTTP".into()),
                port: Val::Known(80),
                path: Val::Known("/health".into()),
                request_interval: Val::Known(interval),
                failure_threshold: Val::Known(threshold),
            }),
            rto_target_seconds: target,
            ..FailoverDnsModel::default()
        }
    }

    fn errors(c: &FailoverDnsModel) -> Vec<(String, String, String)> {
        let mut d = Diagnostics::new();
        all(c, &mut d);
        d.iter()
            .map(|d| {
                (
                    d.summary.clone(),
                    d.detail.clone(),
                    d.path.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn budgets() {
        assert_eq!(rto_budget_seconds(10, 3), 210);
        assert_eq!(rto_budget_seconds(30, 10), 480);
        assert_eq!(detection_seconds(30, 10), 300);
        assert_eq!(max_threshold(300, 30), Some(4));
        assert_eq!(max_threshold(300, 10), Some(10));
        assert_eq!(max_threshold(185, 10), None);
    }

    #[test]
    fn slow_checks_fail_the_rto_target_naming_the_knobs() {
        let e = errors(&config(30, 10, Val::Known(300)));
        assert_eq!(e.len(), 1, "{e:?}");
        let (summary, detail, path) = &e[0];
        assert_eq!(summary, "Health check timing exceeds the RTO target");
        for needle in [
            "health_check.request_interval",
            "health_check.failure_threshold",
            "rto_target_seconds",
            "480 s",
            "to 4 or less",
            "request_interval = 10",
        ] {
            assert!(detail.contains(needle), "{needle}: {detail}");
        }
        assert!(path.contains("failure_threshold"), "{path}");
    }

    #[test]
    fn defaults_fit_the_default_target() {
        assert!(errors(&config(10, 3, Val::Null)).is_empty());
        let defaults = FailoverDnsModel {
            zone_name: Val::Known("payments.example.com".into()),
            record_name: Val::Known("api".into()),
            ..FailoverDnsModel::default()
        };
        assert!(errors(&defaults).is_empty());
        let tight = FailoverDnsModel {
            rto_target_seconds: Val::Known(200),
            ..defaults
        };
        let e = errors(&tight);
        assert_eq!(e.len(), 1);
        assert!(e[0].2.contains("rto_target_seconds"), "{e:?}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = errors(&config(15, 11, Val::Null));
        let summaries: Vec<&str> = e.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            summaries,
            vec!["Invalid request interval", "Invalid failure threshold"]
        );
        let mut c = config(10, 3, Val::Null);
        c.zone_name = Val::Null;
        c.record_name = Val::Known("bad_.-x".into());
        let summaries: Vec<String> = errors(&c).into_iter().map(|e| e.0).collect();
        assert_eq!(
            summaries,
            vec!["No hosted zone".to_string(), "Invalid DNS name".to_string()]
        );
    }
}
