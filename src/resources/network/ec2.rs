//! The AWS side of `drpair_network`: a VPC per region with public and private subnets in
//! `az_count` availability zones, an internet gateway, a NAT gateway per zone, route tables,
//! and a cross-region VPC peering connection with routes to the peer in every route table.
//!
//! Every object is tagged with its owner (`drpair_network/{id}`) and a stable part name
//! (`vpc`, `public-subnet-0`, `nat-2`, …), so the network is found, completed, repaired and
//! removed by its tags alone: a create interrupted at any point is adopted by the next
//! [`ensure`], and [`destroy`] removes whatever exists.
//!
//! Layout: [`find`] (batched lookups by owner tag), [`ensure`] (create, adopt, repair),
//! [`observe`] ([`read`] and drift), [`routes`] (routes and associations), [`tagging`]
//! ([`update_tags`]) and [`destroy`].

mod destroy;
mod ensure;
mod find;
mod observe;
mod peering;
mod routes;
mod tagging;
mod wait;

use std::collections::BTreeMap;

use crate::aws::tags::{standard_tags, Tags};
use crate::aws::Role;

pub use destroy::destroy;
pub use ensure::ensure;
pub use observe::read;
pub use tagging::update_tags;

/// The owner tag's prefix: the Terraform resource type.
pub const OWNER_KIND: &str = "drpair_network";

/// One region's inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionSpec {
    pub cidr_block: String,
}

/// What the network should be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSpec {
    /// The owner id, e.g. `payments-test`; the ownership tag is `drpair_network/{id}`.
    pub id: String,
    pub name: String,
    pub environment: String,
    pub az_count: u8,
    pub default_tags: BTreeMap<String, String>,
    pub user_tags: BTreeMap<String, String>,
    pub primary: RegionSpec,
    pub dr: RegionSpec,
}

/// What exists in one region. Lists are in availability-zone order and hold only what exists
/// (a missing part is reported in [`ObservedNetwork::drift`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionNetwork {
    pub vpc_id: String,
    pub cidr_block: String,
    pub availability_zones: Vec<String>,
    pub public_subnet_ids: Vec<String>,
    pub private_subnet_ids: Vec<String>,
    pub internet_gateway_id: String,
    pub nat_gateway_ids: Vec<String>,
    pub public_route_table_id: String,
    pub private_route_table_ids: Vec<String>,
}

/// What exists in both regions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedNetwork {
    /// The VPC's `Name` tag.
    pub name: String,
    /// The number of availability zones any part was found for.
    pub az_count: u8,
    /// The VPC's tags less the managed keys and less `default_tags` entries with equal value.
    pub user_tags: BTreeMap<String, String>,
    pub primary: Option<RegionNetwork>,
    pub dr: Option<RegionNetwork>,
    pub peering_connection_id: Option<String>,
    /// Human-readable differences from a complete network, e.g.
    /// `us-east-1: private subnet 2 (us-east-1c) is missing`. Empty when nothing needs repair.
    pub drift: Vec<String>,
}

impl ObservedNetwork {
    pub fn region(&self, role: Role) -> Option<&RegionNetwork> {
        match role {
            Role::Primary => self.primary.as_ref(),
            Role::Dr => self.dr.as_ref(),
        }
    }
}

/// The value of the owner tag for the network with this id.
pub fn owner_tag_value(id: &str) -> String {
    format!("{OWNER_KIND}/{id}")
}

impl NetworkSpec {
    pub fn owner(&self) -> String {
        owner_tag_value(&self.id)
    }

    pub fn region(&self, role: Role) -> &RegionSpec {
        match role {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }

    /// The `Name` tag of a part: `{name}` for the VPC, `{name}-{part}` for everything else.
    pub fn name_of(&self, part: &str) -> String {
        if part == part::VPC {
            self.name.clone()
        } else {
            format!("{}-{part}", self.name)
        }
    }

    /// The full tag set of one part on one side.
    pub fn tags(&self, role: Role, part: &str) -> Tags {
        standard_tags(
            &self.environment,
            role.tag_value(),
            &self.owner(),
            part,
            Some(&self.name_of(part)),
            &self.default_tags,
            &self.user_tags,
        )
    }
}

/// Stable part names, the values of the `drpair:part` tag. Indexes count availability zones
/// from 0.
pub mod part {
    pub const VPC: &str = "vpc";
    pub const INTERNET_GATEWAY: &str = "igw";
    pub const PUBLIC_ROUTE_TABLE: &str = "public-rt";
    pub const PEERING: &str = "peering";

    pub const PUBLIC_SUBNET: &str = "public-subnet-";
    pub const PRIVATE_SUBNET: &str = "private-subnet-";
    pub const EIP: &str = "eip-";
    pub const NAT: &str = "nat-";
    pub const PRIVATE_ROUTE_TABLE: &str = "private-rt-";

    pub fn public_subnet(i: usize) -> String {
        format!("{PUBLIC_SUBNET}{i}")
    }

    pub fn private_subnet(i: usize) -> String {
        format!("{PRIVATE_SUBNET}{i}")
    }

    pub fn eip(i: usize) -> String {
        format!("{EIP}{i}")
    }

    pub fn nat(i: usize) -> String {
        format!("{NAT}{i}")
    }

    pub fn private_route_table(i: usize) -> String {
        format!("{PRIVATE_ROUTE_TABLE}{i}")
    }

    /// The zone index of an indexed part name (`nat-2` → 2).
    pub fn index(part: &str) -> Option<usize> {
        [PUBLIC_SUBNET, PRIVATE_SUBNET, EIP, NAT, PRIVATE_ROUTE_TABLE]
            .iter()
            .find_map(|prefix| part.strip_prefix(prefix)?.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> NetworkSpec {
        NetworkSpec {
            id: "payments-test".into(),
            name: "payments".into(),
            environment: "test".into(),
            az_count: 3,
            default_tags: [("CostCenter".to_string(), "payments".to_string())].into(),
            user_tags: [("Team".to_string(), "sre".to_string())].into(),
            primary: RegionSpec {
                cidr_block: "10.10.0.0/16".into(),
            },
            dr: RegionSpec {
                cidr_block: "10.20.0.0/16".into(),
            },
        }
    }

    #[test]
    fn part_tags() {
        let tags = spec().tags(Role::Dr, &part::nat(1));
        let get = |k: &str| tags.get(k).map(String::as_str);
        assert_eq!(get("Name"), Some("payments-nat-1"));
        assert_eq!(get("DR-Role"), Some("dr"));
        assert_eq!(get("Environment"), Some("test"));
        assert_eq!(get("drpair:owner"), Some("drpair_network/payments-test"));
        assert_eq!(get("drpair:part"), Some("nat-1"));
        assert_eq!(get("CostCenter"), Some("payments"));
        assert_eq!(get("Team"), Some("sre"));
        assert_eq!(spec().name_of(part::VPC), "payments");
    }

    #[test]
    fn part_indexes() {
        for (name, index) in [
            ("public-subnet-0", Some(0)),
            ("private-subnet-2", Some(2)),
            ("eip-1", Some(1)),
            ("nat-5", Some(5)),
            ("private-rt-3", Some(3)),
            ("public-rt", None),
            ("vpc", None),
            ("nat-x", None),
        ] {
            assert_eq!(part::index(name), index, "{name}");
        }
    }
}
