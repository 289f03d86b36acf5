//! The tags every drpair object carries, and their EC2 representations.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

/// Names the drpair resource that owns an object, e.g. `drpair_network/payments-dev`.
pub const OWNER_TAG: &str = "drpair:owner";
/// Names the object's stable role inside its owner, e.g. `private-subnet-1`.
pub const PART_TAG: &str = "drpair:part";
pub const ENVIRONMENT_TAG: &str = "Environment";
pub const DR_ROLE_TAG: &str = "DR-Role";
pub const NAME_TAG: &str = "Name";

pub type Tags = BTreeMap<String, String>;

/// The full tag set of one object. Later sources win: the provider's `default_tags`, then the
/// resource's own tags, then the tags drpair manages itself (which users cannot override).
pub fn standard_tags(
    environment: &str,
    dr_role: &str,
    owner: &str,
    part: &str,
    name: Option<&str>,
    default_tags: &Tags,
    user_tags: &Tags,
) -> Tags {
    let mut tags = default_tags.clone();
    tags.extend(user_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    if let Some(name) = name {
        tags.insert(NAME_TAG.into(), name.into());
    }
    for (key, value) in [
        (ENVIRONMENT_TAG, environment),
        (DR_ROLE_TAG, dr_role),
        (OWNER_TAG, owner),
        (PART_TAG, part),
    ] {
        tags.insert(key.into(), value.into());
    }
    tags
}

/// Keys drpair sets itself; they are not part of what the user configured.
pub fn is_managed_key(key: &str) -> bool {
    matches!(
        key,
        OWNER_TAG | PART_TAG | ENVIRONMENT_TAG | DR_ROLE_TAG | NAME_TAG
    )
}

/// The user's own tags recovered from an object's tags: managed keys removed, and
/// `default_tags` entries removed where the object carries the default value.
pub fn user_tags(actual: &Tags, default_tags: &Tags) -> Tags {
    actual
        .iter()
        .filter(|(k, v)| !is_managed_key(k) && default_tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

pub fn to_ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub fn from_ec2_tags(tags: &[Tag]) -> Tags {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// Tags applied atomically at creation, so no object ever exists without its owner tag.
pub fn tag_specification(resource_type: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(resource_type)
        .set_tags(Some(to_ec2_tags(tags)))
        .build()
}

/// The value of `key` among EC2 tags.
pub fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// Tags AWS reserves for itself (`aws:…`): never set, never removed.
pub fn is_aws_tag(key: &str) -> bool {
    key.starts_with("aws:")
}

/// What to change on an object carrying `actual` so that it carries exactly `desired`: the tags
/// to set (new or changed values) and the keys to remove (AWS's own `aws:` tags are left alone).
pub fn tag_changes(actual: &Tags, desired: &Tags) -> (Tags, Vec<String>) {
    let set = desired
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = actual
        .keys()
        .filter(|k| !desired.contains_key(*k) && !is_aws_tag(k))
        .cloned()
        .collect();
    (set, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn precedence_default_then_user_then_managed() {
        let defaults = map(&[
            ("CostCenter", "payments"),
            ("Team", "core"),
            ("Environment", "x"),
        ]);
        let user = map(&[("Team", "sre"), ("DR-Role", "mine"), ("Name", "user-name")]);
        let tags = standard_tags(
            "dev",
            "dr",
            "drpair_network/payments-dev",
            "vpc",
            Some("payments"),
            &defaults,
            &user,
        );
        assert_eq!(
            tags,
            map(&[
                ("CostCenter", "payments"),
                ("Team", "sre"),
                ("Environment", "dev"),
                ("DR-Role", "dr"),
                ("Name", "payments"),
                ("drpair:owner", "drpair_network/payments-dev"),
                ("drpair:part", "vpc"),
            ])
        );
    }

    #[test]
    fn without_a_name_the_users_name_stays() {
        let tags = standard_tags(
            "dev",
            "primary",
            "o",
            "p",
            None,
            &Tags::new(),
            &map(&[("Name", "n")]),
        );
        assert_eq!(tags.get("Name").map(String::as_str), Some("n"));
    }

    #[test]
    fn user_tags_strip_managed_and_unchanged_defaults() {
        let defaults = map(&[("CostCenter", "payments"), ("Team", "core")]);
        let actual = map(&[
            ("CostCenter", "payments"),
            ("Team", "sre"),
            ("Owner", "alice"),
            ("Environment", "dev"),
            ("DR-Role", "primary"),
            ("Name", "payments"),
            ("drpair:owner", "drpair_network/x"),
            ("drpair:part", "vpc"),
        ]);
        assert_eq!(
            user_tags(&actual, &defaults),
            map(&[("Team", "sre"), ("Owner", "alice")])
        );
    }

    #[test]
    fn tag_changes_set_and_remove_but_leave_aws_keys() {
        let actual = map(&[("a", "1"), ("b", "2"), ("aws:cloudformation:stack", "x")]);
        let desired = map(&[("a", "1"), ("b", "3"), ("c", "4")]);
        let (set, remove) = tag_changes(&actual, &desired);
        assert_eq!(set, map(&[("b", "3"), ("c", "4")]));
        assert!(remove.is_empty());
        let (set, remove) = tag_changes(&actual, &map(&[("a", "1")]));
        assert!(set.is_empty());
        assert_eq!(remove, vec!["b".to_string()]);
    }

    #[test]
    fn ec2_round_trip() {
        let tags = map(&[("a", "1"), ("b", "")]);
        let ec2 = to_ec2_tags(&tags);
        assert_eq!(tag_value(&ec2, "a"), Some("1"));
        assert_eq!(from_ec2_tags(&ec2), tags);
        let spec = tag_specification(ResourceType::Vpc, &tags);
        assert_eq!(spec.resource_type(), Some(&ResourceType::Vpc));
        assert_eq!(spec.tags().len(), 2);
    }
}
