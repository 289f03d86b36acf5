//! Plan-time checks of the configuration: attribute names, key types, tags.

use crate::aws::tags::is_managed_key;
use crate::framework::{AttributePath, Diagnostics, Val};
use std::collections::BTreeMap;

use super::dynamo::KEY_TYPES;

/// DynamoDB allows up to 255 bytes for key attribute names.
pub const MAX_ATTRIBUTE_NAME: usize = 255;

/// Why `name` is not a usable attribute name, if it is not. drpair accepts the names that work
/// unquoted in DynamoDB expressions and in every SDK: letters, digits, `_`, `-` and `.`.
pub fn attribute_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_ATTRIBUTE_NAME {
        return Some(format!(
            "it is {} bytes long; the limit is {MAX_ATTRIBUTE_NAME}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Some(format!("it contains {c:?}"));
    }
    None
}

pub fn attribute_name(value: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(name) = value else { return };
    if let Some(problem) = attribute_name_problem(name) {
        diags.error_at(
            path,
            "Invalid attribute name",
            format!("{name:?} cannot be used: {problem}. Use 1-{MAX_ATTRIBUTE_NAME} letters, digits, underscores, hyphens or dots, e.g. \"session_id\"."),
        );
    }
}

pub fn key_type(value: &Val<String>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(ty) = value else { return };
    if !KEY_TYPES.contains(&ty.as_str()) {
        diags.error_at(
            path,
            "Invalid key attribute type",
            format!("{ty:?} is not a key attribute type: use \"S\" (string), \"N\" (number) or \"B\" (binary)."),
        );
    }
}

pub fn tags(value: &Val<BTreeMap<String, String>>, path: AttributePath, diags: &mut Diagnostics) {
    let Val::Known(tags) = value else { return };
    for key in tags.keys() {
        if is_managed_key(key) || key.starts_with("drpair:") {
            diags.error_at(
                path.key(key),
                "Reserved tag key",
                format!(
                    "drpair sets {key:?} itself on every object it creates; remove it from tags."
                ),
            );
        } else if key.starts_with("aws:") {
            diags.error_at(
                path.key(key),
                "Reserved tag key",
                format!("{key:?}: tag keys starting with \"aws:\" are reserved for AWS."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names() {
        let long = "a".repeat(256);
        let cases = [
            ("session_id", None),
            ("expires-at.v2", None),
            ("A9", None),
            (&"a".repeat(255)[..], None),
            ("", Some("it is empty")),
            ("session id", Some("it contains ' '")),
            ("id#1", Some("it contains '#'")),
            ("é", Some("it contains 'é'")),
            (
                long.as_str(),
                Some("it is 256 bytes long; the limit is 255"),
            ),
        ];
        for (name, want) in cases {
            assert_eq!(attribute_name_problem(name).as_deref(), want, "{name:?}");
        }
    }

    #[test]
    fn diagnostics_name_the_attribute() {
        let mut diags = Diagnostics::new();
        attribute_name(
            &Val::Known("bad name".into()),
            AttributePath::root().attr("hash_key"),
            &mut diags,
        );
        key_type(
            &Val::Known("X".into()),
            AttributePath::root().attr("hash_key_type"),
            &mut diags,
        );
        attribute_name(
            &Val::Unknown,
            AttributePath::root().attr("range_key"),
            &mut diags,
        );
        tags(
            &Val::Known([("Environment".to_string(), "x".to_string())].into()),
            AttributePath::root().attr("tags"),
            &mut diags,
        );
        let paths: Vec<String> = diags.iter().map(|d| format!("{:?}", d.path)).collect();
        assert_eq!(diags.iter().count(), 3, "{paths:?}");
        assert!(diags.has_errors());
    }
}
