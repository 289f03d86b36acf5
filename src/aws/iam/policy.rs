//! IAM policy documents: builders for the statements drpair writes, a canonical form for
//! comparing them with what IAM returns (URL-encoded, scalars or lists), and a check for
//! wildcard actions.

use serde_json::{json, Value};

/// `{"Version": "2012-10-17", "Statement": [...]}`.
pub fn policy_document(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// An Allow statement of `actions` on `resources`.
pub fn allow(sid: &str, actions: &[&str], resources: &[String]) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// A trust policy letting one AWS service assume the role, optionally only on behalf of
/// `source_account` (the confused-deputy guard `aws:SourceAccount`).
pub fn service_trust_policy(service: &str, source_account: Option<&str>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": "sts:AssumeRole",
    });
    if let Some(account) = source_account {
        statement["Condition"] = json!({ "StringEquals": { "aws:SourceAccount": account } });
    }
    policy_document(vec![statement])
}

/// A policy document in a canonical form for comparison: scalars in the list-valued elements
/// (`Action`, `Resource`, principals, condition values) become sorted lists, so
/// `"Action": "s3:PutObject"` equals `"Action": ["s3:PutObject"]`.
pub fn normalize_policy(doc: &Value) -> Value {
    fn as_sorted_list(v: &Value) -> Value {
        let mut items: Vec<Value> = match v {
            Value::Array(items) => items.iter().map(normalize).collect(),
            other => vec![normalize(other)],
        };
        items.sort_by_key(|a| a.to_string());
        items.dedup();
        Value::Array(items)
    }
    fn normalize(v: &Value) -> Value {
        match v {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let listy = matches!(
                            k.as_str(),
                            "Action" | "NotAction" | "Resource" | "NotResource"
                        );
                        let v = if listy {
                            as_sorted_list(v)
                        } else if matches!(k.as_str(), "Principal" | "NotPrincipal")
                            && v.is_object()
                        {
                            Value::Object(
                                v.as_object()
                                    .into_iter()
                                    .flatten()
                                    .map(|(pk, pv)| (pk.clone(), as_sorted_list(pv)))
                                    .collect(),
                            )
                        } else if k == "Condition" {
                            // Condition → operator → key → value(s).
                            Value::Object(
                                v.as_object()
                                    .into_iter()
                                    .flatten()
                                    .map(|(op, keys)| {
                                        let keys = keys
                                            .as_object()
                                            .into_iter()
                                            .flatten()
                                            .map(|(ck, cv)| (ck.clone(), as_sorted_list(cv)))
                                            .collect();
                                        (op.clone(), Value::Object(keys))
                                    })
                                    .collect(),
                            )
                        } else {
                            normalize(v)
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
            other => other.clone(),
        }
    }
    normalize(doc)
}

/// Whether two policy documents say the same thing (see [`normalize_policy`]).
pub fn same_policy(a: &Value, b: &Value) -> bool {
    normalize_policy(a) == normalize_policy(b)
}

/// Parses a policy document as IAM returns it: URL-encoded (RFC 3986) JSON, or plain JSON.
pub fn parse_policy(text: &str) -> Value {
    serde_json::from_str(text)
        .or_else(|_| serde_json::from_str(&percent_decode(text)))
        .unwrap_or_else(|_| Value::String(text.to_owned()))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The actions of a policy's Allow statements that are wildcards (`*`, `s3:*`, `s3:Put*`).
pub fn wildcard_actions(doc: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let statements = match &doc["Statement"] {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    for s in statements {
        let actions = match &s["Action"] {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for a in actions.iter().filter_map(Value::as_str) {
            if a.contains('*') {
                found.push(a.to_owned());
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_compare_in_canonical_form() {
        let a = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"], "Principal": {"Service": "firehose.amazonaws.com"}, "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}]});
        let b = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Principal": {"Service": ["firehose.amazonaws.com"]}, "Condition": {"StringEquals": {"aws:SourceAccount": ["1"]}}}]});
        assert!(same_policy(&a, &b));
        let c = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}]});
        assert!(!same_policy(&a, &c));
    }

    #[test]
    fn parses_url_encoded_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            parse_policy(encoded),
            json!({"Version": "2012-10-17", "Statement": []})
        );
        assert_eq!(parse_policy(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%2"), "a%2");
    }

    #[test]
    fn finds_wildcard_actions() {
        let doc = policy_document(vec![
            allow(
                "A",
                &["s3:PutObject", "s3:Get*"],
                &["arn:aws:s3:::b".into()],
            ),
            json!({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        ]);
        assert_eq!(wildcard_actions(&doc), vec!["s3:Get*", "*"]);
        assert!(
            wildcard_actions(&policy_document(vec![allow("A", &["kms:Decrypt"], &[])])).is_empty()
        );
    }

    #[test]
    fn trust_policies() {
        let t = service_trust_policy("backup.amazonaws.com", None);
        assert_eq!(
            t["Statement"][0]["Principal"]["Service"],
            "backup.amazonaws.com"
        );
        assert!(t["Statement"][0].get("Condition").is_none());
        let t = service_trust_policy("firehose.amazonaws.com", Some("123"));
        assert_eq!(
            t["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123"
        );
    }
}
