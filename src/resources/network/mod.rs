//! `drpair_network`: a VPC in each region with public and private subnets in
//! `az_count` availability zones, internet and NAT gateways, route tables, and
//! a cross-region peering connection routed on both sides.
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update,
//! delete, import. The AWS work is in [`ec2`], the CIDR arithmetic in [`cidr`].

pub mod cidr;
pub mod ec2;

use crate::aws::{Deadline, Role};
use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::value::{Number, Value};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::provider::DrClient;
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use ec2::{NetworkSpec, ObservedNetwork, RegionNetwork, RegionSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

const DEFAULT_AZ_COUNT: i64 = 3;
const MAX_AZ_COUNT: i64 = 6;
/// NAT gateways and cross-region peering take minutes on AWS.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NetworkModel {
    pub id: Val<String>,
    pub name: Val<String>,
    pub az_count: Val<i64>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub primary: Val<RegionModel>,
    pub dr: Val<RegionModel>,
    pub peering_connection_id: Val<String>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionModel {
    pub cidr_block: Val<String>,
    pub region: Val<String>,
    pub vpc_id: Val<String>,
    pub availability_zones: Val<Vec<String>>,
    pub public_subnet_ids: Val<Vec<String>>,
    pub private_subnet_ids: Val<Vec<String>>,
    pub internet_gateway_id: Val<String>,
    pub nat_gateway_ids: Val<Vec<String>>,
    pub public_route_table_id: Val<String>,
    pub private_route_table_ids: Val<Vec<String>>,
}

pub struct Network;

fn region_attribute(name: &str, what: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::string("cidr_block").required().requires_replace().description(format!(
                "IPv4 CIDR block of the {what} VPC, /16 to /28, not overlapping the other region's. It is split into equal public and private subnets, one of each per availability zone. Changing it replaces the network."
            )),
            Attribute::string("region").computed().description("The AWS region of this side."),
            Attribute::string("vpc_id").computed().description("VPC id."),
            Attribute::string_list("availability_zones").computed().description("The availability zones used, in subnet order."),
            Attribute::string_list("public_subnet_ids").computed().description("Public subnets (for load balancers), one per availability zone."),
            Attribute::string_list("private_subnet_ids").computed().description("Private subnets (for instances and databases), one per availability zone."),
            Attribute::string("internet_gateway_id").computed().description("Internet gateway id."),
            Attribute::string_list("nat_gateway_ids").computed().description("NAT gateways, one per availability zone."),
            Attribute::string("public_route_table_id").computed().description("Route table of the public subnets."),
            Attribute::string_list("private_route_table_ids").computed().description("Route tables of the private subnets, one per availability zone."),
        ],
    )
    .required()
    .description(format!("The {what} region's network: its CIDR block in, and the ids of what was built there out."))
}

#[async_trait]
impl Resource for Network {
    type Model = NetworkModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_network"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("A VPC in the primary and in the DR region, each across `az_count` availability zones with public subnets (for ALBs) and private subnets (for instances and databases), an internet gateway, a NAT gateway per zone and route tables, joined by a cross-region VPC peering connection with routes to the peer CIDR in every route table on both sides. Every object is tagged `Environment`, `DR-Role`, the provider's `default_tags` and `drpair:owner`, and is found again by those tags, so an interrupted apply is completed rather than duplicated.")
                .attr(Attribute::string("id").computed().description("`{name}-{environment}`; the import id."))
                .attr(Attribute::string("name").required().description(
                    "Name of the network, used in `Name` tags: 1-32 lowercase letters, digits and hyphens, starting with a letter.",
                ))
                .attr(
                    Attribute::number("az_count")
                        .default(Value::Number(Number::Int(DEFAULT_AZ_COUNT)))
                        .requires_replace()
                        .description("Availability zones per region, 2 to 6 (default 3). Changing it replaces the network."),
                )
                .attr(Attribute::string_map("tags").optional().description("Tags for every object of the network, on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the network's objects except those drpair manages: `default_tags` merged with `tags`."))
                .attr(region_attribute("primary", "primary"))
                .attr(region_attribute("dr", "DR"))
                .attr(Attribute::string("peering_connection_id").computed().description("The cross-region VPC peering connection, requested from the primary and accepted in the DR region."))
                .attr(Attribute::string_list("drift").computed().description(
                    "Parts found missing or broken outside Terraform at the last refresh (a deleted subnet, route or NAT gateway, an inactive peering connection). A non-empty list plans a repair; apply rebuilds what is missing and leaves it empty.",
                ))
                .attr(timeouts::attribute("create 30m, update 30m, delete 30m")),
        )
    }

    fn validate(&self, config: &NetworkModel, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        if let Val::Known(name) = &config.name {
            validate_name(name, &root.attr("name"), diags);
        }
        let az_count = match &config.az_count {
            Val::Known(n) if !(2..=MAX_AZ_COUNT).contains(n) => {
                diags.error_at(
                    root.attr("az_count"),
                    "Invalid availability zone count",
                    format!("az_count is {n}; it must be from 2 to {MAX_AZ_COUNT}. Load balancers need at least two zones, and three is the usual choice for a DR stack."),
                );
                None
            }
            Val::Known(n) => Some(*n as u8),
            Val::Null => Some(DEFAULT_AZ_COUNT as u8),
            Val::Unknown => None,
        };
        let mut parsed = Vec::new();
        for side in ["primary", "dr"] {
            let region = if side == "primary" {
                &config.primary
            } else {
                &config.dr
            };
            let Some(cidr) = region.known().and_then(|r| r.cidr_block.known()) else {
                continue;
            };
            let path = root.attr(side).attr("cidr_block");
            match cidr::parse_cidr(cidr) {
                Err(e) => diags.error_at(path, "Invalid CIDR block", e.to_string()),
                Ok(net) => {
                    if let Some(n) = az_count {
                        if let Err(e) = cidr::plan_subnets(cidr, n) {
                            diags.error_at(
                                path.clone(),
                                "CIDR block cannot hold the subnets",
                                e.to_string(),
                            );
                        }
                    }
                    parsed.push((path, net));
                }
            }
        }
        if let [(_, a), (dr_path, b)] = parsed.as_slice() {
            if cidr::overlaps(a, b) {
                diags.error_at(
                    dr_path.clone(),
                    "Overlapping CIDR blocks",
                    format!("The DR CIDR block {b} overlaps the primary's {a}. Peered VPCs cannot have overlapping address ranges; choose disjoint blocks such as 10.10.0.0/16 and 10.20.0.0/16."),
                );
            }
        }
        crate::resources::monitoring::validate::tags(&config.tags, root.attr("tags"), diags);
        timeouts::validate(&config.timeouts, &root.attr("timeouts"), diags);
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&NetworkModel>,
        mut planned: NetworkModel,
        _diags: &mut Diagnostics,
    ) -> NetworkModel {
        if let Val::Known(name) = &planned.name {
            planned.id = Val::Known(network_id(name, client));
        }
        planned.tags_all = match &planned.tags {
            Val::Unknown => Val::Unknown,
            tags => Val::Known(client.tags_all(tags)),
        };
        for role in Role::BOTH {
            if let Val::Known(r) = side_mut(&mut planned, role) {
                r.region = Val::Known(client.aws.region(role).region.clone());
            }
        }
        match prior {
            None => planned.drift = Val::Known(Vec::new()),
            Some(prior) if prior.drift.known().is_some_and(|d| !d.is_empty()) => {
                // Repair: what is rebuilt gets new ids.
                planned.drift = Val::Known(Vec::new());
                planned.peering_connection_id = Val::Unknown;
                for role in Role::BOTH {
                    if let Val::Known(r) = side_mut(&mut planned, role) {
                        mark_rebuildable_unknown(r);
                    }
                }
            }
            Some(_) => {}
        }
        planned
    }

    async fn create(
        &self,
        client: &DrClient,
        planned: NetworkModel,
        diags: &mut Diagnostics,
    ) -> Option<NetworkModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        converge(client, &spec, planned, deadline, "Creating network", diags).await
    }

    async fn read(
        &self,
        client: &DrClient,
        state: NetworkModel,
        diags: &mut Diagnostics,
    ) -> Option<NetworkModel> {
        let id = state.id.known()?.clone();
        match ec2::read(&client.aws, &id, &BTreeMap::new()).await {
            Ok(Some(observed)) => Some(from_observed(client, &state, observed)),
            Ok(None) => None,
            Err(e) => {
                diags.error("Reading network", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        prior: NetworkModel,
        planned: NetworkModel,
        diags: &mut Diagnostics,
    ) -> Option<NetworkModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        if prior.tags_all != planned.tags_all || prior.name != planned.name {
            let old = prior.tags_all.known().cloned().unwrap_or_default();
            if let Err(e) = ec2::update_tags(&client.aws, &spec, &old, &BTreeMap::new()).await {
                diags.error("Updating network tags", e.to_string());
                return Some(prior);
            }
        }
        converge(client, &spec, planned, deadline, "Repairing network", diags).await
    }

    async fn delete(&self, client: &DrClient, prior: NetworkModel, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        if let Err(e) = ec2::destroy(&client.aws, id, deadline).await {
            diags.error("Deleting network", e.to_string());
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<NetworkModel> {
        match ec2::read(&client.aws, id, &BTreeMap::new()).await {
            Ok(Some(observed)) => {
                let seed = NetworkModel {
                    id: Val::Known(id.to_string()),
                    ..NetworkModel::default()
                };
                let mut model = from_observed(client, &seed, observed);
                let own = client.own_tags(&model.tags_all.known().cloned().unwrap_or_default());
                model.tags = if own.is_empty() {
                    Val::Null
                } else {
                    Val::Known(own)
                };
                Some(model)
            }
            Ok(None) => {
                diags.error(
                    "Cannot import non-existent network",
                    format!("No VPC tagged drpair:owner = {} exists in {} or {}. The import id is `{{name}}-{{environment}}`, the id of the network in state.", ec2::owner_tag_value(id), client.aws.primary.region, client.aws.dr.region),
                );
                None
            }
            Err(e) => {
                diags.error("Importing network", e.to_string());
                None
            }
        }
    }
}

// ---- helpers below the resource ----

fn validate_name(name: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        diags.error_at(
            path.clone(),
            "Invalid name",
            format!("{name:?} must be 1-32 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen."),
        );
    }
}

fn network_id(name: &str, client: &DrClient) -> String {
    format!("{name}-{}", client.environment)
}

fn side_mut(m: &mut NetworkModel, role: Role) -> &mut Val<RegionModel> {
    match role {
        Role::Primary => &mut m.primary,
        Role::Dr => &mut m.dr,
    }
}

fn mark_rebuildable_unknown(r: &mut RegionModel) {
    if r.vpc_id.known().is_none_or(|v| v.is_empty()) {
        r.vpc_id = Val::Unknown;
    }
    r.public_subnet_ids = Val::Unknown;
    r.private_subnet_ids = Val::Unknown;
    r.internet_gateway_id = Val::Unknown;
    r.nat_gateway_ids = Val::Unknown;
    r.public_route_table_id = Val::Unknown;
    r.private_route_table_ids = Val::Unknown;
    r.availability_zones = Val::Unknown;
}

fn spec(client: &DrClient, m: &NetworkModel) -> Option<NetworkSpec> {
    let cidr = |r: &Val<RegionModel>| r.known().and_then(|r| r.cidr_block.known()).cloned();
    Some(NetworkSpec {
        id: m.id.known()?.clone(),
        name: m.name.known()?.clone(),
        environment: client.environment.clone(),
        az_count: u8::try_from(*m.az_count.known()?).ok()?,
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
        primary: RegionSpec {
            cidr_block: cidr(&m.primary)?,
        },
        dr: RegionSpec {
            cidr_block: cidr(&m.dr)?,
        },
    })
}

/// Runs the idempotent ensure and maps the outcome to state; on failure the
/// state records what exists, so destroy can remove it.
async fn converge(
    client: &DrClient,
    spec: &NetworkSpec,
    planned: NetworkModel,
    deadline: Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Option<NetworkModel> {
    match ec2::ensure(&client.aws, spec, deadline).await {
        Ok(observed) => {
            let mut model = from_observed(client, &planned, observed);
            // Tags are written exactly as planned; reading them back is for drift.
            model.tags_all = planned.tags_all.clone();
            Some(model)
        }
        Err((e, partial)) => {
            diags.error(verb, e.to_string());
            partial.map(|p| from_observed(client, &planned, p))
        }
    }
}

/// State from what exists in AWS. Inputs the user wrote are kept from `base`
/// (prior state or plan) where AWS cannot tell them apart.
fn from_observed(client: &DrClient, base: &NetworkModel, o: ObservedNetwork) -> NetworkModel {
    let side = |role: Role, base: &Val<RegionModel>, net: Option<&RegionNetwork>| {
        let cidr = base
            .known()
            .and_then(|b| b.cidr_block.known().cloned())
            .or_else(|| net.map(|n| n.cidr_block.clone()))
            .unwrap_or_default();
        let n = net.cloned().unwrap_or_default();
        Val::Known(RegionModel {
            cidr_block: Val::Known(if n.cidr_block.is_empty() {
                cidr
            } else {
                n.cidr_block
            }),
            region: Val::Known(client.aws.region(role).region.clone()),
            vpc_id: Val::Known(n.vpc_id),
            availability_zones: Val::Known(n.availability_zones),
            public_subnet_ids: Val::Known(n.public_subnet_ids),
            private_subnet_ids: Val::Known(n.private_subnet_ids),
            internet_gateway_id: Val::Known(n.internet_gateway_id),
            nat_gateway_ids: Val::Known(n.nat_gateway_ids),
            public_route_table_id: Val::Known(n.public_route_table_id),
            private_route_table_ids: Val::Known(n.private_route_table_ids),
        })
    };
    let mut drift = o.drift.clone();
    for (role, net) in [(Role::Primary, &o.primary), (Role::Dr, &o.dr)] {
        if net.is_none() && !drift.iter().any(|d| d.contains("VPC")) {
            drift.push(format!(
                "{}: VPC is missing",
                client.aws.region(role).region
            ));
        }
    }
    let name = if o.name.is_empty() {
        base.name.clone()
    } else {
        Val::Known(o.name.clone())
    };
    let tags = match &base.tags {
        Val::Known(_) => base.tags.clone(),
        _ => Val::Null,
    };
    NetworkModel {
        id: base.id.clone(),
        name,
        az_count: Val::Known(i64::from(o.az_count)),
        tags,
        tags_all: Val::Known(o.user_tags.clone()),
        primary: side(Role::Primary, &base.primary, o.primary.as_ref()),
        dr: side(Role::Dr, &base.dr, o.dr.as_ref()),
        peering_connection_id: Val::Known(o.peering_connection_id.clone().unwrap_or_default()),
        drift: Val::Known(drift),
        timeouts: base.timeouts.clone(),
    }
}
