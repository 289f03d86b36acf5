//! Plan-time checks of `drpair_failover_orchestrator`'s configuration, with attribute paths.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::tags::is_managed_key;
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::functions::rto::{self, RtoBudget};

use super::deploy::logs::RETENTION_DAYS;
use super::OrchestratorModel;

pub const MODES: [&str; 2] = ["automatic", "notify_only"];
pub const MAX_CONSECUTIVE_FAILURES: i64 = 10;
const MAX_ALARM_PREFIX: usize = 200;
const MAX_CAPACITY: i64 = 10_000;
pub const MAX_LAG_THRESHOLD_MS: i64 = 3_600_000;
pub const MAX_RTO_TARGET_SECONDS: i64 = 86_400;
pub const MAX_DNS_FAILOVER_SECONDS: i64 = 3_600;

/// Aurora cluster and global cluster identifiers: 1-63 letters, digits or hyphens, starting
/// with a letter, no trailing hyphen, no two hyphens in a row.
pub fn cluster_identifier(
    value: &Val<String>,
    path: AttributePath,
    what: &str,
    diags: &mut Diagnostics,
) {
    let Val::Known(id) = value else { return };
    let ok = (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && !id.ends_with('-')
        && !id.contains("--")
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        diags.error_at(
            path,
            format!("Invalid {what}"),
            format!("{id:?} is not an Aurora identifier: 1-63 letters, digits or hyphens, starting with a letter, without a trailing hyphen or two hyphens in a row (e.g. \"dr-db-cluster-v2-dev\")."),
        );
    }
}

/// Route 53 health-check ids (UUIDs in practice).
pub fn health_check_id(value: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(id) = value else { return };
    let ok =
        (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        diags.error_at(
            path,
            "Invalid health check id",
            format!("{id:?} is not a Route 53 health check id (e.g. \"abcdef11-2222-3333-4444-555555fedcba\"); use drpair_failover_dns's primary.health_check_id."),
        );
    }
}

pub fn asg_name(value: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(name) = value else { return };
    if name.is_empty() || name.len() > 255 || name.trim() != name || name.contains(':') {
        diags.error_at(
            path,
            "Invalid Auto Scaling group name",
            format!("{name:?} is not an Auto Scaling group name: 1-255 characters, no colon, no surrounding spaces; use drpair_app_tier's dr.asg_name."),
        );
    } else if name.contains(['*', '?']) {
        // The name goes into the orchestrator's IAM policy (the one group it may scale), where
        // `*` and `?` are wildcards: "web-*" would let it scale every group of that prefix.
        diags.error_at(
            path,
            "Wildcard in Auto Scaling group name",
            format!("{name:?} contains * or ?, which the orchestrator's IAM policy would read as a wildcard and so let it scale other groups; name the one DR group (drpair_app_tier's dr.asg_name)."),
        );
    }
}

/// A DNS name (or IP address) a certificate can be valid for: the probe's TLS server name.
pub fn tls_name(value: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(name) = value else { return };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let ok = name.parse::<std::net::IpAddr>().is_ok()
        || (name.len() <= 253 && name.trim_end_matches('.').split('.').all(label_ok));
    if !ok {
        diags.error_at(
            path,
            "Invalid TLS name",
            format!("{name:?} is not a DNS name or IP address: primary_endpoint_tls_name is the name on the primary's certificate (for example api.payments.example.com)."),
        );
    }
}

/// Why a string is not an SNS topic ARN, if it is not.
pub fn topic_arn_problem(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [scheme, partition, service, region, account, name] = parts.as_slice() else {
        return Some(
            "it does not have the six parts of arn:PARTITION:sns:REGION:ACCOUNT:NAME".into(),
        );
    };
    if *scheme != "arn" || !partition.starts_with("aws") || *service != "sns" {
        return Some("it is not an SNS ARN (arn:aws:sns:...)".into());
    }
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Some(format!("{region:?} is not a region"));
    }
    if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
        return Some(format!("{account:?} is not a 12-digit account id"));
    }
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if base.is_empty()
        || base.len() > 256
        || !base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Some(format!("{name:?} is not a topic name"));
    }
    None
}

pub fn topic_arns(value: &Val<Vec<Val<String>>>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(items) = value else { return };
    if items.is_empty() {
        diags.error_at(
            path.clone(),
            "No topics",
            "topic_arns needs at least one SNS topic; give both regions' topics (drpair_monitoring's primary.topic_arn and dr.topic_arn), so a message gets out whichever region is down.",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let Val::Known(arn) = item else { continue };
        let at = path.index(i as i64);
        if let Some(problem) = topic_arn_problem(arn) {
            diags.error_at(
                at,
                "Invalid topic ARN",
                format!("{arn:?} cannot be used: {problem}."),
            );
        } else if !seen.insert(arn.clone()) {
            diags.error_at(
                at,
                "Duplicate topic",
                format!("{arn} is listed more than once."),
            );
        }
    }
}

pub fn mode(value: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(mode) = value else { return };
    if !MODES.contains(&mode.as_str()) {
        diags.error_at(
            path,
            "Invalid mode",
            format!("{mode:?} is not a mode: use \"automatic\" (fail over without a human) or \"notify_only\" (detect and notify; an operator fails over with the drpair_failover action)."),
        );
    }
}

pub fn consecutive_failures(value: &Val<i64>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(n) = value else { return };
    if !(1..=MAX_CONSECUTIVE_FAILURES).contains(n) {
        diags.error_at(
            path,
            "Invalid number of failed probes",
            format!("consecutive_failures is {n}; it must be from 1 to {MAX_CONSECUTIVE_FAILURES}. Probes run every minute, so each one adds up to a minute to the detection time (and to the RTO)."),
        );
    }
}

pub fn lag_threshold(value: &Val<i64>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(n) = value else { return };
    if !(1..=MAX_LAG_THRESHOLD_MS).contains(n) {
        diags.error_at(
            path,
            "Invalid replication lag threshold",
            format!("replication_lag_threshold_ms is {n}; it must be from 1 to {MAX_LAG_THRESHOLD_MS} milliseconds. Aurora global databases typically replicate in under a second: 1000 (the default) tells a stopped replication from a busy one."),
        );
    }
}

/// CloudWatch Logs' retention values, listed for messages: `1, 3, 5, …, 3653`.
pub fn retention_values() -> String {
    RETENTION_DAYS
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// CloudWatch Logs keeps logs only for one of its retention values (PutRetentionPolicy).
pub fn log_retention_days(value: &Val<i64>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(n) = value else { return };
    if !RETENTION_DAYS.contains(n) {
        let nearest = RETENTION_DAYS
            .iter()
            .copied()
            .find(|d| d >= n)
            .unwrap_or(RETENTION_DAYS[RETENTION_DAYS.len() - 1]);
        diags.error_at(
            path,
            "Invalid log retention",
            format!("log_retention_days is {n}; CloudWatch Logs keeps logs for one of {} days (e.g. {nearest}).", retention_values()),
        );
    }
}

pub fn rto_target(value: &Val<i64>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(n) = value else { return };
    if !(1..=MAX_RTO_TARGET_SECONDS).contains(n) {
        diags.error_at(
            path,
            "Invalid RTO target",
            format!(
                "rto_target_seconds is {n}; it must be from 1 to {MAX_RTO_TARGET_SECONDS} seconds."
            ),
        );
    }
}

pub fn dns_failover_seconds(value: &Val<i64>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(n) = value else { return };
    if !(0..=MAX_DNS_FAILOVER_SECONDS).contains(n) {
        diags.error_at(
            path,
            "Invalid DNS failover time",
            format!("dns_failover_seconds is {n}; it must be from 0 to {MAX_DNS_FAILOVER_SECONDS} seconds (drpair_failover_dns's dns_failover_seconds: Route 53 detection + the alias TTL)."),
        );
    }
}

/// Fails the plan when the budget exceeds `rto_target_seconds`, saying which knob to turn.
pub fn rto_fits(m: &OrchestratorModel, budget: &RtoBudget, diags: &mut Diagnostics) {
    let Val::Known(target) = m.rto_target_seconds else {
        return;
    };
    if !(1..=MAX_RTO_TARGET_SECONDS).contains(&target) || budget.total_seconds <= target {
        return;
    }
    let mut fixes = Vec::new();
    let failures = budget.detection_seconds / rto::PROBE_PERIOD_SECONDS;
    match RtoBudget::max_consecutive_failures(target, budget.dns_seconds) {
        Some(n) if n < failures => fixes.push(format!(
            "lower consecutive_failures to {n} (each failed probe adds {} s of detection)",
            rto::PROBE_PERIOD_SECONDS
        )),
        _ => {}
    }
    if budget.dns_seconds > target {
        fixes.push(format!(
            "make DNS failover faster than {target} s (drpair_failover_dns's health_check: request_interval 10 and a lower failure_threshold)"
        ));
    }
    fixes.push(format!(
        "raise rto_target_seconds to {} or more if the business accepts it",
        budget.total_seconds
    ));
    diags.error_at(
        AttributePath::root().attr("rto_target_seconds"),
        "Failover timing exceeds the RTO target",
        format!(
            "The worst-case recovery time is {} s, above rto_target_seconds ({target} s): {}. To fit: {}.",
            budget.total_seconds,
            budget.explain(),
            fixes.join("; or ")
        ),
    );
}

pub fn alarm_name_prefix(value: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(prefix) = value else { return };
    if prefix.len() > MAX_ALARM_PREFIX
        || prefix
            .chars()
            .any(|c| c == '*' || c == '\\' || c.is_control())
    {
        diags.error_at(
            path,
            "Invalid alarm name prefix",
            format!("{prefix:?} cannot be used: at most {MAX_ALARM_PREFIX} characters, without `*`, `\\` or control characters (it becomes an EventBridge wildcard pattern)."),
        );
    }
}

pub fn scale_to(
    min_size: &Val<i64>,
    desired: &Val<i64>,
    path: AttributePath,
    diags: &mut Diagnostics,
) {
    if let Val::Known(min) = min_size {
        if !(0..=MAX_CAPACITY).contains(min) {
            diags.error_at(
                path.attr("min_size"),
                "Invalid minimum size",
                format!("min_size is {min}; it must be from 0 to {MAX_CAPACITY}."),
            );
        }
    }
    if let Val::Known(d) = desired {
        if !(1..=MAX_CAPACITY).contains(d) {
            diags.error_at(
                path.attr("desired_capacity"),
                "Invalid desired capacity",
                format!("desired_capacity is {d}; it must be from 1 to {MAX_CAPACITY}."),
            );
        } else if let Val::Known(min) = min_size {
            if d < min {
                diags.error_at(
                    path.attr("desired_capacity"),
                    "Desired capacity below the minimum",
                    format!("desired_capacity ({d}) is smaller than min_size ({min}); after a failover the DR group should run at least the primary's minimum."),
                );
            }
        }
    }
}

pub fn tags(value: &Val<BTreeMap<String, String>>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(tags) = value else { return };
    for (key, v) in tags {
        if is_managed_key(key) || key.starts_with("drpair:") || key.starts_with("aws:") {
            diags.error_at(
                path.key(key),
                "Reserved tag key",
                format!("{key:?} is set by drpair (or reserved by AWS) and cannot be configured; Environment and DR-Role come from the provider."),
            );
        } else if key.is_empty() || key.chars().count() > 128 || v.chars().count() > 256 {
            diags.error_at(path.key(key), "Invalid tag", "Tag keys are 1-128 characters and values at most 256 (IAM, Lambda, EventBridge and DynamoDB all carry them).");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(check: impl FnOnce(&mut Diagnostics)) -> Vec<String> {
        let mut diags = Diagnostics::new();
        check(&mut diags);
        diags.iter().map(|d| d.summary.clone()).collect()
    }

    #[test]
    fn tls_names() {
        for (name, ok) in [
            ("api.payments.example.com", true),
            ("10.0.0.1", true),
            ("::1", true),
            ("*.example.com", false),
            ("", false),
            ("https://api.example.com", false),
        ] {
            let got = errors(|d| tls_name(&Val::Known(name.into()), AttributePath::root(), d));
            assert_eq!(got.is_empty(), ok, "{name}: {got:?}");
        }
    }

    #[test]
    fn asg_names_without_wildcards() {
        for (name, wanted) in [
            ("payments-web-dev-dr", vec![]),
            ("web-*", vec!["Wildcard in Auto Scaling group name"]),
            ("web-?", vec!["Wildcard in Auto Scaling group name"]),
            ("a:b", vec!["Invalid Auto Scaling group name"]),
        ] {
            let got = errors(|d| asg_name(&Val::Known(name.into()), AttributePath::root(), d));
            assert_eq!(got, wanted, "{name}");
        }
    }

    #[test]
    fn cluster_identifiers() {
        for (id, ok) in [
            ("dr-db-cluster-v2-dev", true),
            ("a", true),
            ("1abc", false),
            ("abc-", false),
            ("a--b", false),
            ("a_b", false),
            (&"a".repeat(64) as &str, false),
        ] {
            let found = errors(|d| {
                cluster_identifier(&Val::Known(id.into()), AttributePath::root(), "cluster", d)
            });
            assert_eq!(found.is_empty(), ok, "{id}: {found:?}");
        }
    }

    #[test]
    fn topic_arn_checks() {
        assert_eq!(
            topic_arn_problem("arn:aws:sns:us-east-2:123456789012:drpair-alerts-v2-dev"),
            None
        );
        assert_eq!(
            topic_arn_problem("arn:aws-us-gov:sns:us-gov-west-1:123456789012:a.fifo"),
            None
        );
        for bad in [
            "arn:aws:sqs:us-east-2:123456789012:q",
            "arn:aws:sns:us-east-2:1234:t",
            "arn:aws:sns::123456789012:t",
            "arn:aws:sns:us-east-2:123456789012:bad name",
            "drpair-alerts",
        ] {
            assert!(topic_arn_problem(bad).is_some(), "{bad}");
        }
        let dup = "arn:aws:sns:us-east-2:123456789012:t".to_string();
        let list = Val::Known(vec![Val::Known(dup.clone()), Val::Unknown, Val::Known(dup)]);
        assert_eq!(
            errors(|d| topic_arns(&list, AttributePath::root(), d)),
            vec!["Duplicate topic"]
        );
        assert_eq!(
            errors(|d| topic_arns(&Val::Known(vec![]), AttributePath::root(), d)),
            vec!["No topics"]
        );
    }

    #[test]
    fn modes_counts_prefixes_and_capacities() {
        assert!(
            errors(|d| mode(&Val::Known("automatic".into()), AttributePath::root(), d)).is_empty()
        );
        assert_eq!(
            errors(|d| mode(&Val::Known("auto".into()), AttributePath::root(), d)),
            vec!["Invalid mode"]
        );
        assert_eq!(
            errors(|d| consecutive_failures(&Val::Known(0), AttributePath::root(), d)).len(),
            1
        );
        assert!(
            errors(|d| consecutive_failures(&Val::Known(3), AttributePath::root(), d)).is_empty()
        );
        assert_eq!(
            errors(|d| alarm_name_prefix(&Val::Known("a*".into()), AttributePath::root(), d)).len(),
            1
        );
        assert!(errors(|d| alarm_name_prefix(
            &Val::Known(String::new()),
            AttributePath::root(),
            d
        ))
        .is_empty());
        assert_eq!(
            errors(|d| scale_to(&Val::Known(3), &Val::Known(2), AttributePath::root(), d)),
            vec!["Desired capacity below the minimum"]
        );
        assert!(
            errors(|d| scale_to(&Val::Known(2), &Val::Unknown, AttributePath::root(), d))
                .is_empty()
        );
    }

    #[test]
    fn rto_inputs() {
        let root = AttributePath::root;
        assert_eq!(
            errors(|d| lag_threshold(&Val::Known(0), root(), d)),
            vec!["Invalid replication lag threshold"]
        );
        assert!(errors(|d| lag_threshold(&Val::Known(1000), root(), d)).is_empty());
        for days in [0, 2, 366, 3654, -1] {
            assert_eq!(
                errors(|d| log_retention_days(&Val::Known(days), root(), d)),
                vec!["Invalid log retention"],
                "{days}"
            );
        }
        for days in [1, 365, 400, 3653] {
            assert!(
                errors(|d| log_retention_days(&Val::Known(days), root(), d)).is_empty(),
                "{days}"
            );
        }
        assert_eq!(
            errors(|d| rto_target(&Val::Known(0), root(), d)),
            vec!["Invalid RTO target"]
        );
        assert!(errors(|d| rto_target(&Val::Unknown, root(), d)).is_empty());
        assert_eq!(
            errors(|d| dns_failover_seconds(&Val::Known(-1), root(), d)),
            vec!["Invalid DNS failover time"]
        );
        assert!(errors(|d| dns_failover_seconds(&Val::Null, root(), d)).is_empty());
    }

    fn budget_errors(failures: i64, dns: i64, target: i64) -> Vec<(String, String, String)> {
        let m = OrchestratorModel {
            rto_target_seconds: Val::Known(target),
            ..OrchestratorModel::default()
        };
        let mut diags = Diagnostics::new();
        rto_fits(&m, &RtoBudget::new(failures, dns), &mut diags);
        diags
            .iter()
            .map(|d| (d.summary.clone(), d.detail.clone(), format!("{:?}", d.path)))
            .collect()
    }

    #[test]
    fn a_budget_over_the_target_fails_naming_the_knobs() {
        assert!(budget_errors(2, 90, 300).is_empty());
        assert!(budget_errors(2, 90, 220).is_empty());
        let e = budget_errors(5, 90, 300);
        assert_eq!(e.len(), 1);
        let (summary, detail, path) = &e[0];
        assert_eq!(summary, "Failover timing exceeds the RTO target");
        assert!(path.contains("rto_target_seconds"), "{path}");
        assert!(detail.contains("is 400 s"), "{detail}");
        assert!(
            detail.contains("lower consecutive_failures to 3"),
            "{detail}"
        );
        assert!(
            detail.contains("raise rto_target_seconds to 400"),
            "{detail}"
        );
        let slow_dns = budget_errors(1, 400, 300);
        assert!(
            slow_dns[0].1.contains("drpair_failover_dns"),
            "{slow_dns:?}"
        );
        assert!(!slow_dns[0].1.contains("lower consecutive_failures"));
    }

    #[test]
    fn reserved_tags() {
        let tags = Val::Known(BTreeMap::from([
            ("DR-Role".to_string(), "x".to_string()),
            ("Team".to_string(), "sre".to_string()),
        ]));
        assert_eq!(
            errors(|d| super::tags(&tags, AttributePath::root(), d)),
            vec!["Reserved tag key"]
        );
    }
}
