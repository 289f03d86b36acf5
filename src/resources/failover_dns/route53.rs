//! The AWS side of `drpair_failover_dns`: a public hosted zone (created, or an existing one), a
//! Route 53 health check per region against that region's load balancer, and two failover alias
//! records for one name: PRIMARY (the primary ALB, with its health check) and SECONDARY (the DR
//! ALB, with its own), `EvaluateTargetHealth` on both.
//!
//! Route 53's control plane lives in us-east-1, but its data plane (health checkers and name
//! servers) is global: failover happens by health status alone and never edits a record, so it
//! works while us-east-1 is down.
//!
//! Health checks and zones have no names; drpair finds its own by caller reference (a prefix
//! derived from the owner, [`check_reference_prefix`] / [`zone_reference_prefix`]), which is
//! set atomically at creation — an interrupted create is adopted by the next apply.
//!
//! Layout: [`zone`], [`checks`], [`records`], [`ensure`], [`observe`] ([`read`]) and [`destroy`].

mod checks;
mod destroy;
mod ensure;
mod observe;
mod records;
mod zone;

use std::collections::BTreeMap;

use crate::aws::tags::{standard_tags, Tags};
use crate::aws::Role;
use crate::resources::app_tier::fleet::fingerprint::fnv1a64;

pub use destroy::destroy;
pub use ensure::ensure;
pub use observe::{drift, read};
pub use zone::{find_zone, find_zone_for};

/// The owner tag's prefix: the Terraform resource type.
pub const OWNER_KIND: &str = "drpair_failover_dns";
/// The DR-Role tag of the zone, which serves both regions.
pub const GLOBAL_ROLE: &str = "global";

/// How a health check probes a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckSpec {
    /// `HTTP` or `HTTPS`.
    pub protocol: String,
    pub port: i32,
    pub path: String,
    pub request_interval: i32,
    pub failure_threshold: i32,
}

/// One region's load balancer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub alb_dns_name: String,
    pub alb_zone_id: String,
}

/// Where the records go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ZoneSource {
    /// A public zone drpair creates (and deletes) for this domain.
    Create { name: String },
    /// An existing zone, left in place on destroy.
    Existing { id: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsSpec {
    /// The record's fully qualified name, without the trailing dot.
    pub fqdn: String,
    pub zone: ZoneSource,
    pub environment: String,
    pub check: CheckSpec,
    pub primary: Endpoint,
    pub dr: Endpoint,
    pub default_tags: BTreeMap<String, String>,
    pub user_tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedZone {
    /// Without the `/hostedzone/` prefix.
    pub id: String,
    /// Without the trailing dot.
    pub name: String,
    pub name_servers: Vec<String>,
    /// drpair created it (its caller reference says so).
    pub managed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedCheck {
    pub id: String,
    pub version: i64,
    pub check: CheckSpec,
    /// The name the check probes.
    pub target: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRecord {
    pub set_identifier: String,
    pub alias_dns_name: String,
    pub alias_zone_id: String,
    pub evaluate_target_health: bool,
    pub health_check_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedDns {
    pub zone: ObservedZone,
    pub primary_check: Option<ObservedCheck>,
    pub dr_check: Option<ObservedCheck>,
    pub primary_record: Option<ObservedRecord>,
    pub dr_record: Option<ObservedRecord>,
}

impl ObservedDns {
    pub fn check(&self, role: Role) -> Option<&ObservedCheck> {
        match role {
            Role::Primary => self.primary_check.as_ref(),
            Role::Dr => self.dr_check.as_ref(),
        }
    }

    pub fn record(&self, role: Role) -> Option<&ObservedRecord> {
        match role {
            Role::Primary => self.primary_record.as_ref(),
            Role::Dr => self.dr_record.as_ref(),
        }
    }
}

/// The value of the owner tag for the records of this name.
pub fn owner_tag_value(fqdn: &str) -> String {
    format!("{OWNER_KIND}/{fqdn}")
}

/// A DNS name as Route 53 stores it, compared without case and trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Caller references of this owner's health checks for one side start with this.
pub fn check_reference_prefix(fqdn: &str, role: Role) -> String {
    let hash = fnv1a64(owner_tag_value(&normalize(fqdn)).as_bytes());
    format!("drpair-{hash:016x}-{}-", role.tag_value())
}

/// Caller references of a zone drpair created for this domain start with this.
pub fn zone_reference_prefix(zone_name: &str) -> String {
    let hash = fnv1a64(format!("{OWNER_KIND}/zone/{}", normalize(zone_name)).as_bytes());
    format!("drpair-zone-{hash:016x}-")
}

/// The failover set identifier of a side's record.
pub fn set_identifier(role: Role) -> &'static str {
    role.tag_value()
}

impl DnsSpec {
    pub fn owner(&self) -> String {
        owner_tag_value(&self.fqdn)
    }

    pub fn endpoint(&self, role: Role) -> &Endpoint {
        match role {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }

    /// Tags of a health check (`DR-Role` of the region it watches) or of the zone (`global`).
    pub fn tags(&self, dr_role: &str, part: &str) -> Tags {
        standard_tags(
            &self.environment,
            dr_role,
            &self.owner(),
            part,
            Some(&format!("{}-{part}", self.fqdn)),
            &self.default_tags,
            &self.user_tags,
        )
    }
}

/// Stable part names, the values of the `drpair:part` tag.
pub mod part {
    pub const ZONE: &str = "zone";

    pub fn health_check(role: crate::aws::Role) -> String {
        format!("{}-health-check", role.tag_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_references_are_stable_and_short() {
        let p = check_reference_prefix("api.payments.example.com", Role::Primary);
        assert_eq!(
            p,
            check_reference_prefix("API.payments.example.com.", Role::Primary)
        );
        assert_ne!(
            p,
            check_reference_prefix("api.payments.example.com", Role::Dr)
        );
        assert!(p.len() + 13 <= 64, "{p}");
        assert!(zone_reference_prefix("payments.example.com").starts_with("drpair-zone-"));
    }

    #[test]
    fn names_normalize() {
        assert_eq!(normalize("Api.Example.COM."), "api.example.com");
    }
}
