//! Finders: batched lookups by owner tag (one describe per object kind per region), lookups by
//! id that map "not found" to [`AwsError::NotFound`], and the [`Inventory`] of one region.

use aws_sdk_ec2::types::{
    Address, AvailabilityZone, Filter, InternetGateway, NatGateway, NatGatewayState, RouteTable,
    Subnet, Tag, Vpc, VpcPeeringConnection, VpcPeeringConnectionStateReasonCode,
};
use aws_sdk_ec2::Client;

use crate::aws::error::{api_error, AwsError};
use crate::aws::tags::{tag_value, OWNER_TAG, PART_TAG};
use crate::aws::RegionCtx;

pub(super) const VPC: &str = "VPC";
pub(super) const SUBNET: &str = "subnet";
pub(super) const INTERNET_GATEWAY: &str = "internet gateway";
pub(super) const ELASTIC_IP: &str = "Elastic IP";
pub(super) const NAT_GATEWAY: &str = "NAT gateway";
pub(super) const ROUTE_TABLE: &str = "route table";
pub(super) const PEERING: &str = "VPC peering connection";

/// An EC2 object with an id and tags.
pub(super) trait Tagged {
    fn object_id(&self) -> Option<&str>;
    fn tag_list(&self) -> &[Tag];

    fn part(&self) -> Option<&str> {
        tag_value(self.tag_list(), PART_TAG)
    }

    fn owned_by(&self, owner: &str) -> bool {
        tag_value(self.tag_list(), OWNER_TAG) == Some(owner)
    }
}

macro_rules! tagged {
    ($($ty:ty => $id:ident),* $(,)?) => {$(
        impl Tagged for $ty {
            fn object_id(&self) -> Option<&str> {
                self.$id()
            }
            fn tag_list(&self) -> &[Tag] {
                self.tags()
            }
        }
    )*};
}

tagged! {
    Vpc => vpc_id,
    Subnet => subnet_id,
    InternetGateway => internet_gateway_id,
    NatGateway => nat_gateway_id,
    Address => allocation_id,
    RouteTable => route_table_id,
    VpcPeeringConnection => vpc_peering_connection_id,
}

/// A NAT gateway that is gone or going counts as missing.
pub(super) fn nat_is_live(nat: &NatGateway) -> bool {
    !matches!(
        nat.state(),
        Some(NatGatewayState::Deleted | NatGatewayState::Deleting | NatGatewayState::Failed)
    )
}

pub(super) fn peering_state(
    pcx: &VpcPeeringConnection,
) -> Option<&VpcPeeringConnectionStateReasonCode> {
    pcx.status().and_then(|s| s.code())
}

/// A peering connection that is gone, going, refused or lapsed counts as missing.
pub(super) fn peering_is_live(pcx: &VpcPeeringConnection) -> bool {
    use VpcPeeringConnectionStateReasonCode as S;
    !matches!(
        peering_state(pcx),
        Some(S::Deleted | S::Deleting | S::Failed | S::Rejected | S::Expired)
    )
}

/// Whether the peering connection joins these two VPCs, requester first.
pub(super) fn peering_connects(
    pcx: &VpcPeeringConnection,
    requester: &str,
    accepter: &str,
) -> bool {
    pcx.requester_vpc_info().and_then(|v| v.vpc_id()) == Some(requester)
        && pcx.accepter_vpc_info().and_then(|v| v.vpc_id()) == Some(accepter)
}

pub(super) fn state_name<T: AsRef<str>>(state: Option<&T>) -> String {
    state.map_or_else(|| "unknown".to_owned(), |s| s.as_ref().to_owned())
}

/// Everything one network owns in one region, from one describe per object kind.
#[derive(Clone, Debug, Default)]
pub(super) struct Inventory {
    pub region: String,
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub internet_gateways: Vec<InternetGateway>,
    pub nat_gateways: Vec<NatGateway>,
    pub addresses: Vec<Address>,
    pub route_tables: Vec<RouteTable>,
    pub peerings: Vec<VpcPeeringConnection>,
}

impl Inventory {
    pub async fn load(rc: &RegionCtx, owner: &str) -> Result<Self, AwsError> {
        let ec2 = rc.ec2();
        let region = rc.region.as_str();
        let (vpcs, subnets, internet_gateways, nat_gateways, addresses, route_tables, peerings) = tokio::try_join!(
            find_vpcs_by_owner(&ec2, region, owner),
            find_subnets_by_owner(&ec2, region, owner),
            find_internet_gateways_by_owner(&ec2, region, owner),
            find_nat_gateways_by_owner(&ec2, region, owner),
            find_addresses_by_owner(&ec2, region, owner),
            find_route_tables_by_owner(&ec2, region, owner),
            find_peerings_by_owner(&ec2, region, owner),
        )?;
        Ok(Self {
            region: rc.region.clone(),
            vpcs,
            subnets,
            internet_gateways,
            nat_gateways,
            addresses,
            route_tables,
            peerings,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.vpcs.is_empty()
            && self.subnets.is_empty()
            && self.internet_gateways.is_empty()
            && self.nat_gateways.is_empty()
            && self.addresses.is_empty()
            && self.route_tables.is_empty()
            && self.peerings.is_empty()
    }

    pub fn vpc(&self) -> Option<&Vpc> {
        by_part(&self.vpcs, super::part::VPC)
    }

    pub fn subnet(&self, vpc_id: &str, part: &str) -> Option<&Subnet> {
        self.subnets
            .iter()
            .find(|s| s.part() == Some(part) && s.vpc_id() == Some(vpc_id))
    }

    pub fn internet_gateway(&self) -> Option<&InternetGateway> {
        by_part(&self.internet_gateways, super::part::INTERNET_GATEWAY)
    }

    pub fn address(&self, part: &str) -> Option<&Address> {
        by_part(&self.addresses, part)
    }

    /// The usable NAT gateway of a part: live, and in this VPC.
    pub fn live_nat(&self, vpc_id: &str, part: &str) -> Option<&NatGateway> {
        self.nat_gateways
            .iter()
            .find(|n| n.part() == Some(part) && nat_is_live(n) && n.vpc_id() == Some(vpc_id))
    }

    /// Every NAT gateway tagged with this part, whatever its state.
    pub fn nats<'a>(&'a self, part: &'a str) -> impl Iterator<Item = &'a NatGateway> + 'a {
        self.nat_gateways
            .iter()
            .filter(move |n| n.part() == Some(part))
    }

    pub fn route_table(&self, vpc_id: &str, part: &str) -> Option<&RouteTable> {
        self.route_tables
            .iter()
            .find(|rt| rt.part() == Some(part) && rt.vpc_id() == Some(vpc_id))
    }

    /// The highest zone index any part carries, plus one.
    pub fn az_count(&self) -> usize {
        let parts = self
            .subnets
            .iter()
            .filter_map(Tagged::part)
            .chain(self.addresses.iter().filter_map(Tagged::part))
            .chain(self.nat_gateways.iter().filter_map(Tagged::part))
            .chain(self.route_tables.iter().filter_map(Tagged::part));
        parts
            .filter_map(super::part::index)
            .map(|i| i + 1)
            .max()
            .unwrap_or(0)
    }
}

fn by_part<'a, T: Tagged>(items: &'a [T], part: &str) -> Option<&'a T> {
    items.iter().find(|item| item.part() == Some(part))
}

fn owner_filter(owner: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{OWNER_TAG}"))
        .values(owner)
        .build()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Keeps what carries the owner tag: the filter is applied again on our side because not every
/// endpoint honours tag filters for every kind.
fn owned<T: Tagged>(items: Vec<T>, owner: &str) -> Vec<T> {
    items.into_iter().filter(|i| i.owned_by(owner)).collect()
}

pub(super) async fn find_vpcs_by_owner(
    ec2: &Client,
    region: &str,
    owner: &str,
) -> Result<Vec<Vpc>, AwsError> {
    let items = ec2
        .describe_vpcs()
        .filters(owner_filter(owner))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(api_error("reading", VPC, owner, region))?;
    Ok(owned(items, owner))
}

pub(super) async fn find_subnets_by_owner(
    ec2: &Client,
    region: &str,
    owner: &str,
) -> Result<Vec<Subnet>, AwsError> {
    let items = ec2
        .describe_subnets()
        .filters(owner_filter(owner))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(api_error("reading", SUBNET, owner, region))?;
    Ok(owned(items, owner))
}

pub(super) async fn find_internet_gateways_by_owner(
    ec2: &Client,
    region: &str,
    owner: &str,
) -> Result<Vec<InternetGateway>, AwsError> {
    let items = ec2
        .describe_internet_gateways()
        .filters(owner_filter(owner))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(api_error("reading", INTERNET_GATEWAY, owner, region))?;
    Ok(owned(items, owner))
}

pub(super) async fn find_nat_gateways_by_owner(
    ec2: &Client,
    region: &str,
    owner: &str,
) -> Result<Vec<NatGateway>, AwsError> {
    let items = ec2
        .describe_nat_gateways()
        .filter(owner_filter(owner))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(api_error("reading", NAT_GATEWAY, owner, region))?;
    Ok(owned(items, owner))
}

/// DescribeAddresses is not paginated: it returns every match at once.
pub(super) async fn find_addresses_by_owner(
    ec2: &Client,
    region: &str,
    owner: &str,
) -> Result<Vec<Address>, AwsError> {
    let out = ec2
        .describe_addresses()
        .filters(owner_filter(owner))
        .send()
        .await
        .map_err(api_error("reading", ELASTIC_IP, owner, region))?;
    Ok(owned(out.addresses.unwrap_or_default(), owner))
}

pub(super) async fn find_route_tables_by_owner(
    ec2: &Client,
    region: &str,
    owner: &str,
) -> Result<Vec<RouteTable>, AwsError> {
    let items = ec2
        .describe_route_tables()
        .filters(owner_filter(owner))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(api_error("reading", ROUTE_TABLE, owner, region))?;
    Ok(owned(items, owner))
}

pub(super) async fn find_peerings_by_owner(
    ec2: &Client,
    region: &str,
    owner: &str,
) -> Result<Vec<VpcPeeringConnection>, AwsError> {
    let items = ec2
        .describe_vpc_peering_connections()
        .filters(owner_filter(owner))
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(api_error("reading", PEERING, owner, region))?;
    Ok(owned(items, owner))
}

pub(super) async fn find_vpc_by_id(ec2: &Client, region: &str, id: &str) -> Result<Vpc, AwsError> {
    let out = ec2
        .describe_vpcs()
        .vpc_ids(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("reading", VPC, id, region, e).classify_not_found())?;
    out.vpcs
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::not_found(VPC, id, region))
}

pub(super) async fn find_nat_gateway_by_id(
    ec2: &Client,
    region: &str,
    id: &str,
) -> Result<NatGateway, AwsError> {
    let out = ec2
        .describe_nat_gateways()
        .nat_gateway_ids(id)
        .send()
        .await
        .map_err(|e| {
            AwsError::from_sdk("reading", NAT_GATEWAY, id, region, e).classify_not_found()
        })?;
    out.nat_gateways
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::not_found(NAT_GATEWAY, id, region))
}

pub(super) async fn find_peering_by_id(
    ec2: &Client,
    region: &str,
    id: &str,
) -> Result<VpcPeeringConnection, AwsError> {
    let out = ec2
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("reading", PEERING, id, region, e).classify_not_found())?;
    out.vpc_peering_connections
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::not_found(PEERING, id, region))
}

/// The route table a subnet is explicitly associated with, whoever owns it.
pub(super) async fn find_route_table_by_subnet(
    ec2: &Client,
    region: &str,
    subnet_id: &str,
) -> Result<RouteTable, AwsError> {
    let out = ec2
        .describe_route_tables()
        .filters(filter("association.subnet-id", subnet_id))
        .send()
        .await
        .map_err(api_error("reading", ROUTE_TABLE, subnet_id, region))?;
    out.route_tables
        .unwrap_or_default()
        .into_iter()
        .next()
        .ok_or_else(|| AwsError::not_found(ROUTE_TABLE, subnet_id, region))
}

/// The names of the region's usable availability zones (not Local or Wavelength zones),
/// sorted.
pub(super) async fn find_available_zones(
    ec2: &Client,
    region: &str,
) -> Result<Vec<String>, AwsError> {
    let out = ec2
        .describe_availability_zones()
        .filters(filter("state", "available"))
        .filters(filter("zone-type", "availability-zone"))
        .send()
        .await
        .map_err(api_error("reading", "availability zones", region, region))?;
    let mut names: Vec<String> = out
        .availability_zones
        .unwrap_or_default()
        .iter()
        .filter_map(AvailabilityZone::zone_name)
        .map(str::to_owned)
        .collect();
    names.sort();
    Ok(names)
}
