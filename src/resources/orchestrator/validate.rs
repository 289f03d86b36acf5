//! Plan-time checks of `drpair_failover_orchestrator`'s configuration, with attribute paths.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::tags::is_managed_key;
use crate::framework::{AttributePath, Diagnostics, Val};

pub const MODES: [&str; 2] = ["automatic", "notify_only"];
pub const MAX_CONSECUTIVE_FAILURES: i64 = 10;
const MAX_ALARM_PREFIX: usize = 200;
const MAX_CAPACITY: i64 = 10_000;

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
