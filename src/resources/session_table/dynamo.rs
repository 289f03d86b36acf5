//! The AWS side of `drpair_session_table`: a DynamoDB global table (version 2019.11.21) whose
//! source table lives in the primary region and whose replica lives in the DR region, each
//! encrypted with a customer-managed KMS key of its own region, with streams, TTL,
//! point-in-time recovery and tags in both regions.
//!
//! Everything has a deterministic name: the table is `session-table-{version}-{env}` in both
//! regions, each region's key is found through the alias `alias/{table}` (or, for a key created
//! just before a crash, through its owner tag). So a create interrupted at any point is completed
//! by the next [`ensure`], and [`destroy`] removes whatever exists.
//!
//! Layout: [`find`] (describe calls mapped to plain facts, waiters), [`kms`] (the keys),
//! [`ensure`] (create, adopt, repair), [`observe`] ([`observe()`] and [`drift`]) and
//! [`destroy`].

mod destroy;
mod ensure;
mod find;
mod kms;
mod observe;

use std::collections::BTreeMap;

use crate::aws::tags::{standard_tags, Tags};
use crate::aws::Role;

pub use destroy::destroy;
pub use ensure::{ensure, Adoption, NOT_OWNED};
pub use observe::{drift, leftovers, observe};

/// The owner tag's prefix: the Terraform resource type.
pub const OWNER_KIND: &str = "drpair_session_table";

/// Values of the `drpair:part` tag.
pub mod part {
    pub const TABLE: &str = "table";
    pub const REPLICA: &str = "replica";
    pub const KMS_KEY: &str = "kms-key";
}

/// DynamoDB's scalar types for key attributes.
pub const KEY_TYPES: [&str; 3] = ["S", "N", "B"];

/// The key schema: what a table is and cannot change without being replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySchema {
    pub hash_key: String,
    /// `S`, `N` or `B`.
    pub hash_key_type: String,
    pub range_key: Option<String>,
    pub range_key_type: String,
}

/// What the session table should be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableSpec {
    /// The table's name in both regions, e.g. `session-table-v2-dev`; also the resource id.
    pub name: String,
    pub environment: String,
    pub keys: KeySchema,
    /// The attribute TTL reads expiry times from; None leaves TTL off.
    pub ttl_attribute: Option<String>,
    pub point_in_time_recovery: bool,
    pub default_tags: Tags,
    pub user_tags: Tags,
}

impl TableSpec {
    pub fn owner(&self) -> String {
        owner_tag_value(&self.name)
    }

    /// The KMS alias of the table's key, the same name in both regions.
    pub fn key_alias(&self) -> String {
        key_alias(&self.name)
    }

    /// The full tag set of one part on one side.
    pub fn tags(&self, role: Role, part: &str) -> Tags {
        let name = if part == part::KMS_KEY {
            format!("{}-key", self.name)
        } else {
            self.name.clone()
        };
        standard_tags(
            &self.environment,
            role.tag_value(),
            &self.owner(),
            part,
            Some(&name),
            &self.default_tags,
            &self.user_tags,
        )
    }

    /// The tags of the table on one side: the source table in the primary, the replica in DR.
    pub fn table_tags(&self, role: Role) -> Tags {
        self.tags(role, table_part(role))
    }
}

/// The part name of the table on one side.
pub fn table_part(role: Role) -> &'static str {
    match role {
        Role::Primary => part::TABLE,
        Role::Dr => part::REPLICA,
    }
}

/// The value of the owner tag for the table with this name.
pub fn owner_tag_value(name: &str) -> String {
    format!("{OWNER_KIND}/{name}")
}

pub fn key_alias(name: &str) -> String {
    format!("alias/{name}")
}

/// The state of TTL on one table, as DescribeTimeToLive reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ttl {
    /// `ENABLED`, `ENABLING`, `DISABLED` or `DISABLING`.
    pub status: String,
    pub attribute: Option<String>,
}

impl Ttl {
    /// The attribute TTL is on (or turning on) for; None when off or turning off.
    pub fn effective_attribute(&self) -> Option<&str> {
        match self.status.as_str() {
            "ENABLED" | "ENABLING" => self.attribute.as_deref(),
            _ => None,
        }
    }
}

/// One region's table (the source table or the replica).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionTable {
    pub arn: String,
    /// `ACTIVE`, `CREATING`, `UPDATING`, …
    pub status: String,
    pub stream_arn: Option<String>,
    /// None when streams are off.
    pub stream_view_type: Option<String>,
    /// The KMS key the table is encrypted with; None for an AWS-owned or AWS-managed key.
    pub sse_kms_key_arn: Option<String>,
    pub billing_mode: String,
    pub ttl: Ttl,
    pub point_in_time_recovery: bool,
    pub tags: Tags,
}

/// The DR replica as the source table lists it (DescribeTable `Replicas`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplicaMember {
    pub status: String,
    pub kms_key: Option<String>,
}

pub use crate::aws::kms::RegionKey;

/// What exists in both regions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedTable {
    pub name: String,
    pub keys: KeySchema,
    /// `2019.11.21` once the table has a replica.
    pub global_table_version: Option<String>,
    /// The DR region's entry in the source table's replica list.
    pub replica: Option<ReplicaMember>,
    pub primary: RegionTable,
    /// The table in the DR region, when it exists.
    pub dr: Option<RegionTable>,
    pub primary_key: Option<RegionKey>,
    pub dr_key: Option<RegionKey>,
}

impl ObservedTable {
    pub fn table(&self, role: Role) -> Option<&RegionTable> {
        match role {
            Role::Primary => Some(&self.primary),
            Role::Dr => self.dr.as_ref(),
        }
    }

    pub fn key(&self, role: Role) -> Option<&RegionKey> {
        match role {
            Role::Primary => self.primary_key.as_ref(),
            Role::Dr => self.dr_key.as_ref(),
        }
    }
}

/// Tags AWS reserves for itself (`aws:…`): never set, never removed.
pub fn is_aws_tag(key: &str) -> bool {
    key.starts_with("aws:")
}

/// The keys to remove from an object so that it carries exactly `desired` (AWS's own tags
/// aside).
pub fn removed_tag_keys(actual: &Tags, desired: &Tags) -> Vec<String> {
    actual
        .keys()
        .filter(|k| !is_aws_tag(k) && !desired.contains_key(*k))
        .cloned()
        .collect()
}

/// The tags to set on an object that carries `actual` so that it carries `desired`.
pub fn changed_tags(actual: &Tags, desired: &Tags) -> Tags {
    desired
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect::<BTreeMap<_, _>>()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn spec() -> TableSpec {
        TableSpec {
            name: "session-table-v2-test".into(),
            environment: "test".into(),
            keys: KeySchema {
                hash_key: "session_id".into(),
                hash_key_type: "S".into(),
                range_key: None,
                range_key_type: "S".into(),
            },
            ttl_attribute: Some("expires_at".into()),
            point_in_time_recovery: true,
            default_tags: [("CostCenter".to_string(), "payments".to_string())].into(),
            user_tags: [("Team".to_string(), "sre".to_string())].into(),
        }
    }

    #[test]
    fn tags_per_part_and_role() {
        let s = spec();
        let replica = s.table_tags(Role::Dr);
        let get = |t: &Tags, k: &str| t.get(k).cloned();
        assert_eq!(get(&replica, "DR-Role").as_deref(), Some("dr"));
        assert_eq!(get(&replica, "drpair:part").as_deref(), Some("replica"));
        assert_eq!(
            get(&replica, "drpair:owner").as_deref(),
            Some("drpair_session_table/session-table-v2-test")
        );
        assert_eq!(
            get(&replica, "Name").as_deref(),
            Some("session-table-v2-test")
        );
        assert_eq!(get(&replica, "CostCenter").as_deref(), Some("payments"));
        assert_eq!(get(&replica, "Team").as_deref(), Some("sre"));
        let key = s.tags(Role::Primary, part::KMS_KEY);
        assert_eq!(
            get(&key, "Name").as_deref(),
            Some("session-table-v2-test-key")
        );
        assert_eq!(get(&key, "DR-Role").as_deref(), Some("primary"));
        assert_eq!(s.key_alias(), "alias/session-table-v2-test");
    }

    #[test]
    fn tag_differences() {
        let t = |pairs: &[(&str, &str)]| -> Tags {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let actual = t(&[("a", "1"), ("b", "2"), ("aws:cloudformation:stack", "x")]);
        let desired = t(&[("a", "1"), ("b", "3"), ("c", "4")]);
        assert_eq!(removed_tag_keys(&actual, &desired), Vec::<String>::new());
        assert_eq!(
            changed_tags(&actual, &desired),
            t(&[("b", "3"), ("c", "4")])
        );
        assert_eq!(removed_tag_keys(&actual, &t(&[("a", "1")])), vec!["b"]);
    }

    #[test]
    fn ttl_effective_attribute() {
        for (status, want) in [
            ("ENABLED", Some("x")),
            ("ENABLING", Some("x")),
            ("DISABLING", None),
            ("DISABLED", None),
        ] {
            let ttl = Ttl {
                status: status.into(),
                attribute: Some("x".into()),
            };
            assert_eq!(ttl.effective_attribute(), want, "{status}");
        }
    }
}
