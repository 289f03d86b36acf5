//! Plan-time checks of `drpair_monitoring`'s inputs, each naming its attribute.

use std::collections::BTreeMap;

use crate::aws::tags::is_managed_key;
use crate::framework::{AttributePath, Diagnostics, Val};

/// Protocols `subscriptions` accepts, with the shape of their endpoints. Email goes through
/// `email_addresses`; Firehose subscriptions need a role, which this resource does not make.
/// Plain `http` is refused: SNS would send every alarm (names, thresholds, the state of the DR
/// stack) and the subscription confirmation token over the network unencrypted, where anyone on
/// the path can read or forge them ("Security best practices" of the SNS developer guide:
/// "Enforce encryption of data in transit"; its "Limit subscriptions to HTTPS" example).
pub const PROTOCOLS: [&str; 5] = ["https", "sqs", "lambda", "sms", "email-json"];

pub fn name_prefix(v: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(p) = v else { return };
    let ok = (1..=24).contains(&p.len())
        && p.starts_with(|c: char| c.is_ascii_lowercase())
        && !p.ends_with('-')
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        diags.error_at(
            path,
            "Invalid name prefix",
            format!("{p:?} must be 1-24 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen; it starts the names of the topics and alarms."),
        );
    }
}

/// `local@domain.tld`, without spaces: what SNS accepts as an email endpoint.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
        && s.len() <= 254
}

pub fn emails(v: &Val<Vec<String>>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(list) = v else { return };
    for e in list {
        if !is_email(e) {
            diags.error_at(
                path.clone(),
                "Invalid email address",
                // Not quoted: the addresses are a sensitive attribute.
                format!(
                    "One of the addresses ({} characters, not shown: sensitive) is not an email address such as oncall@example.com.",
                    e.chars().count()
                ),
            );
        }
    }
}

/// Whether `endpoint` has the shape `protocol` needs; Err explains what it should look like.
pub fn endpoint_shape(protocol: &str, endpoint: &str) -> Result<(), String> {
    let arn_of = |service: &str| {
        let parts: Vec<&str> = endpoint.splitn(6, ':').collect();
        parts.len() == 6 && parts[0] == "arn" && parts[2] == service && !parts[5].is_empty()
    };
    let ok = match protocol {
        "https" => endpoint.starts_with("https://") && endpoint.len() > 8,
        "http" => {
            return Err(
                "plain-HTTP subscriptions are not accepted: SNS would deliver alarms and the subscription's confirmation token unencrypted; use protocol \"https\" with an https:// URL".into(),
            )
        }
        "sqs" => arn_of("sqs"),
        "lambda" => arn_of("lambda"),
        "sms" => {
            endpoint.starts_with('+')
                && endpoint.len() > 4
                && endpoint[1..].chars().all(|c| c.is_ascii_digit())
        }
        "email-json" => is_email(endpoint),
        "email" => {
            return Err("put email addresses in email_addresses rather than subscriptions".into())
        }
        other => {
            return Err(format!(
                "protocol {other:?} is not supported here; use one of {}",
                PROTOCOLS.join(", ")
            ))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(match protocol {
            "https" => "an https endpoint is a URL starting with https://".into(),
            "sqs" => "an sqs endpoint is a queue ARN, arn:aws:sqs:REGION:ACCOUNT:NAME".into(),
            "lambda" => {
                "a lambda endpoint is a function ARN, arn:aws:lambda:REGION:ACCOUNT:function:NAME"
                    .into()
            }
            "sms" => "an sms endpoint is a phone number in E.164 form, e.g. +15555550100".into(),
            _ => "an email-json endpoint is an email address".into(),
        })
    }
}

/// An RDS cluster identifier: 1-63 letters, digits or hyphens, starting with a letter, without
/// two hyphens in a row or a trailing hyphen.
pub fn cluster_identifier(v: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(id) = v else { return };
    let ok = (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && !id.ends_with('-')
        && !id.contains("--")
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        diags.error_at(
            path,
            "Invalid cluster identifier",
            format!("{id:?} is not an Aurora cluster identifier: 1-63 letters, digits or hyphens, starting with a letter, no two hyphens in a row, not ending with a hyphen."),
        );
    }
}

pub fn health_check_ids(v: &Val<Vec<String>>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(ids) = v else { return };
    for id in ids {
        let ok = (1..=64).contains(&id.len())
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !ok {
            diags.error_at(
                path.clone(),
                "Invalid health check id",
                format!("{id:?} is not a Route 53 health check id (letters, digits and hyphens, such as 2d2b2a3c-1f5e-4a7b-9c1d-0e2f3a4b5c6d)."),
            );
        }
    }
}

/// A DynamoDB table name: 3-255 letters, digits, `_`, `-` or `.`.
pub fn table_name(v: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(name) = v else { return };
    let ok = (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        diags.error_at(
            path,
            "Invalid table name",
            format!(
                "{name:?} is not a DynamoDB table name: 3-255 letters, digits, '_', '-' or '.'."
            ),
        );
    }
}

pub fn positive(v: &Val<i64>, path: AttributePath, what: &str, diags: &mut Diagnostics) {
    if let Val::Known(n) = v {
        if *n <= 0 {
            diags.error_at(
                path,
                format!("Invalid {what}"),
                format!("{what} is {n}; it must be a positive number of milliseconds."),
            );
        }
    }
}

pub fn tags(v: &Val<BTreeMap<String, String>>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(tags) = v else { return };
    for key in tags.keys() {
        if is_managed_key(key) || key.starts_with("aws:") || key.starts_with("drpair:") {
            diags.error_at(
                path.key(key),
                "Reserved tag key",
                format!("The tag {key:?} is set by drpair (or AWS) and cannot be set here."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for (e, ok) in [
            ("oncall@example.com", true),
            ("a.b+c@mail.example.io", true),
            ("oncall", false),
            ("on call@example.com", false),
            ("a@b", false),
            ("a@@b.com", false),
            ("@example.com", false),
            ("a@example.", false),
        ] {
            assert_eq!(is_email(e), ok, "{e}");
        }
    }

    #[test]
    fn endpoints() {
        for (p, e, ok) in [
            ("https", "https://hooks.example.com/x", true),
            ("https", "http://hooks.example.com/x", false),
            ("http", "http://hooks.example.com/x", false),
            ("http", "https://hooks.example.com/x", false),
            ("sqs", "arn:aws:sqs:us-east-1:123456789012:alerts", true),
            ("sqs", "arn:aws:sns:us-east-1:123456789012:alerts", false),
            (
                "lambda",
                "arn:aws:lambda:us-east-2:123456789012:function:f",
                true,
            ),
            ("sms", "+15555550100", true),
            ("sms", "555", false),
            ("email", "a@b.io", false),
            (
                "firehose",
                "arn:aws:firehose:us-east-1:1:deliverystream/x",
                false,
            ),
        ] {
            assert_eq!(endpoint_shape(p, e).is_ok(), ok, "{p} {e}");
        }
    }

    #[test]
    fn prefixes_and_identifiers() {
        let check = |f: fn(&Val<String>, AttributePath, &mut Diagnostics), v: &str| {
            let mut d = Diagnostics::new();
            f(&Val::Known(v.to_string()), AttributePath::root(), &mut d);
            !d.has_errors()
        };
        assert!(check(name_prefix, "drpair"));
        assert!(!check(name_prefix, "Drpair"));
        assert!(!check(name_prefix, "drpair-"));
        assert!(check(cluster_identifier, "dr-db-cluster-v2-dev"));
        assert!(!check(cluster_identifier, "dr--db"));
        assert!(!check(cluster_identifier, "1db"));
        assert!(check(table_name, "session-table-v2-dev"));
        assert!(!check(table_name, "ab"));
    }

    /// Plain HTTP is refused with a reason that says what to use instead, whatever the URL.
    #[test]
    fn plain_http_is_refused() {
        let why = endpoint_shape("http", "http://hooks.example.com/alerts").unwrap_err();
        assert!(why.contains("plain-HTTP"), "{why}");
        assert!(why.contains("https"), "{why}");
        assert!(!PROTOCOLS.contains(&"http"));
        assert!(endpoint_shape("https", "https://hooks.example.com/alerts").is_ok());
        let other = endpoint_shape("gopher", "gopher://x").unwrap_err();
        assert!(!other.contains("http,"), "http is not offered: {other}");
    }
}
