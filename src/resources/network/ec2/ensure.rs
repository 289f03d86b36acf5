//! Create, adopt and repair: every part is first looked up by its owner and part tags, and
//! only what is missing is created, so re-running completes an interrupted create and repairs
//! out-of-band deletions.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, NatGateway, NatGatewayState, ResourceType, RouteTable,
    VpcPeeringConnection,
};
use aws_sdk_ec2::Client;
use futures::future::try_join_all;

use crate::aws::error::api_error;
use crate::aws::tags::tag_specification;
use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx};
use crate::resources::network::cidr::{plan_subnets, SubnetPlan};

use super::find::{
    find_available_zones, Inventory, ELASTIC_IP, INTERNET_GATEWAY, NAT_GATEWAY, ROUTE_TABLE,
    SUBNET, VPC,
};
use super::peering::{add_peer_routes, ensure_peering};
use super::routes::{ensure_association, ensure_route, Target, ANYWHERE};
use super::{observe::read, part, wait, NetworkSpec, ObservedNetwork};

/// Creates whatever part of the network is missing in either region, repairs routes and
/// associations, and returns what exists afterwards. On failure the error comes with what
/// exists at that point, so the caller can record it and a later destroy can remove it.
pub async fn ensure(
    ctx: &AwsContext,
    spec: &NetworkSpec,
    deadline: Deadline,
) -> Result<ObservedNetwork, (AwsError, Option<ObservedNetwork>)> {
    tracing::info!(
        "ensuring network {} in {} and {}",
        spec.owner(),
        ctx.primary.region,
        ctx.dr.region
    );
    let result = match converge(ctx, spec, deadline).await {
        Ok(()) => read(ctx, &spec.id, &spec.default_tags)
            .await
            .and_then(|observed| {
                observed.ok_or_else(|| AwsError::not_found(VPC, &spec.id, &ctx.primary.region))
            }),
        Err(err) => Err(err),
    };
    match result {
        Ok(observed) => Ok(observed),
        Err(err) => {
            tracing::warn!("network {} is incomplete: {err}", spec.owner());
            let partial = read(ctx, &spec.id, &spec.default_tags).await.ok().flatten();
            Err((err, partial))
        }
    }
}

async fn converge(
    ctx: &AwsContext,
    spec: &NetworkSpec,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let nonce = run_nonce();
    let (primary, dr) = tokio::try_join!(
        RegionJob::new(&ctx.primary, spec, deadline, nonce).run(),
        RegionJob::new(&ctx.dr, spec, deadline, nonce).run(),
    )?;
    let pcx_id = ensure_peering(ctx, spec, &primary, &dr, deadline).await?;
    tokio::try_join!(
        add_peer_routes(&ctx.primary, &primary.route_tables, &dr.cidr_block, &pcx_id),
        add_peer_routes(&ctx.dr, &dr.route_tables, &primary.cidr_block, &pcx_id),
    )?;
    tracing::info!("network {} is complete", spec.owner());
    Ok(())
}

/// What one region's pass leaves for the cross-region steps.
pub(super) struct BuiltRegion {
    pub vpc_id: String,
    pub cidr_block: String,
    pub route_tables: Vec<RouteTable>,
    pub peerings: Vec<VpcPeeringConnection>,
}

struct Subnets {
    public: Vec<String>,
    private: Vec<String>,
}

/// One region's pass over its parts.
struct RegionJob<'a> {
    rc: &'a RegionCtx,
    spec: &'a NetworkSpec,
    deadline: Deadline,
    ec2: Client,
    /// Salts client tokens: a retry of a request within this run is idempotent, while a later
    /// run (e.g. repairing a NAT gateway deleted out of band) never gets an old answer back.
    nonce: u64,
}

impl<'a> RegionJob<'a> {
    fn new(rc: &'a RegionCtx, spec: &'a NetworkSpec, deadline: Deadline, nonce: u64) -> Self {
        Self {
            rc,
            spec,
            deadline,
            ec2: rc.ec2(),
            nonce,
        }
    }

    fn region(&self) -> &str {
        &self.rc.region
    }

    fn az_count(&self) -> usize {
        self.spec.az_count.into()
    }

    /// How errors name a part before it has an AWS id.
    fn label(&self, part: &str) -> String {
        if part == part::VPC {
            self.spec.id.clone()
        } else {
            format!("{}/{part}", self.spec.id)
        }
    }

    fn tag_spec(
        &self,
        resource_type: ResourceType,
        part: &str,
    ) -> aws_sdk_ec2::types::TagSpecification {
        tag_specification(resource_type, &self.spec.tags(self.rc.role, part))
    }

    fn client_token(&self, part: &str, parents: &[&str]) -> String {
        let nonce = self.nonce.to_string();
        let owner = self.spec.owner();
        let mut fields = vec![owner.as_str(), part, nonce.as_str()];
        fields.extend_from_slice(parents);
        client_token(&fields)
    }

    async fn run(self) -> Result<BuiltRegion, AwsError> {
        let cidr = &self.spec.region(self.rc.role).cidr_block;
        let plan = plan_subnets(cidr, self.spec.az_count)
            .map_err(|e| AwsError::Config(format!("{} cidr_block: {e}", self.rc.role.label())))?;
        let inv = Inventory::load(self.rc, &self.spec.owner()).await?;
        let vpc_id = self.ensure_vpc(&inv, cidr).await?;
        let zones = self.zones(&inv, &vpc_id).await?;
        let (igw_id, subnets, allocations) = tokio::try_join!(
            self.ensure_internet_gateway(&inv, &vpc_id),
            self.ensure_subnets(&inv, &vpc_id, &zones, &plan),
            self.ensure_addresses(&inv),
        )?;
        let nats = self
            .ensure_nat_gateways(&inv, &vpc_id, &subnets.public, &allocations)
            .await?;
        let route_tables = self
            .ensure_route_tables(&inv, &vpc_id, &igw_id, &subnets, &nats)
            .await?;
        Ok(BuiltRegion {
            vpc_id,
            cidr_block: cidr.clone(),
            route_tables,
            peerings: inv.peerings,
        })
    }

    async fn ensure_vpc(&self, inv: &Inventory, cidr: &str) -> Result<String, AwsError> {
        let vpc_id = match inv.vpc() {
            Some(vpc) => {
                let id = vpc.vpc_id().unwrap_or_default().to_owned();
                if vpc.cidr_block() != Some(cidr) {
                    return Err(AwsError::Config(format!(
                        "VPC {id} in {} has CIDR block {}, not {cidr}; a VPC's CIDR block cannot \
                         change, the network must be replaced",
                        self.region(),
                        vpc.cidr_block().unwrap_or("(none)"),
                    )));
                }
                id
            }
            None => self.create_vpc(cidr).await?,
        };
        self.enable_dns(&vpc_id).await?;
        Ok(vpc_id)
    }

    async fn create_vpc(&self, cidr: &str) -> Result<String, AwsError> {
        let label = self.label(part::VPC);
        let out = self
            .ec2
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(self.tag_spec(ResourceType::Vpc, part::VPC))
            .send()
            .await
            .map_err(api_error("creating", VPC, &label, self.region()))?;
        let id = out
            .vpc
            .and_then(|v| v.vpc_id)
            .ok_or_else(|| no_id("creating", VPC, &label, self.region()))?;
        tracing::info!("created VPC {id} ({cidr}) in {}", self.region());
        wait::vpc_available(self.rc, &id, self.deadline).await?;
        Ok(id)
    }

    /// DNS support and hostnames, set every time so an out-of-band change is repaired (the
    /// two calls are idempotent; hostnames need support enabled first).
    async fn enable_dns(&self, vpc_id: &str) -> Result<(), AwsError> {
        let on = || AttributeBooleanValue::builder().value(true).build();
        self.ec2
            .modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_support(on())
            .send()
            .await
            .map_err(api_error(
                "enabling DNS support on",
                VPC,
                vpc_id,
                self.region(),
            ))?;
        self.ec2
            .modify_vpc_attribute()
            .vpc_id(vpc_id)
            .enable_dns_hostnames(on())
            .send()
            .await
            .map_err(api_error(
                "enabling DNS hostnames on",
                VPC,
                vpc_id,
                self.region(),
            ))?;
        Ok(())
    }

    /// The zone of each index: where its subnets already are, else the region's first usable
    /// zones by name.
    async fn zones(&self, inv: &Inventory, vpc_id: &str) -> Result<Vec<String>, AwsError> {
        let available = find_available_zones(&self.ec2, self.region()).await?;
        (0..self.az_count())
            .map(|i| {
                [part::public_subnet(i), part::private_subnet(i)]
                    .iter()
                    .find_map(|p| inv.subnet(vpc_id, p)?.availability_zone())
                    .or(available.get(i).map(String::as_str))
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        AwsError::Config(format!(
                            "{} has {} usable availability zones, fewer than az_count = {}",
                            self.region(),
                            available.len(),
                            self.spec.az_count
                        ))
                    })
            })
            .collect()
    }

    async fn ensure_internet_gateway(
        &self,
        inv: &Inventory,
        vpc_id: &str,
    ) -> Result<String, AwsError> {
        let (id, attachments) = match inv.internet_gateway() {
            Some(igw) => (
                igw.internet_gateway_id().unwrap_or_default().to_owned(),
                igw.attachments()
                    .iter()
                    .filter_map(|a| a.vpc_id())
                    .collect(),
            ),
            None => (self.create_internet_gateway().await?, Vec::new()),
        };
        if attachments.contains(&vpc_id) {
            return Ok(id);
        }
        // An internet gateway attaches to one VPC: let go of one this network no longer uses.
        for stale in attachments {
            self.ec2
                .detach_internet_gateway()
                .internet_gateway_id(&id)
                .vpc_id(stale)
                .send()
                .await
                .map_err(api_error("detaching", INTERNET_GATEWAY, &id, self.region()))?;
        }
        self.ec2
            .attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(vpc_id)
            .send()
            .await
            .map_err(api_error("attaching", INTERNET_GATEWAY, &id, self.region()))?;
        tracing::info!("attached {id} to {vpc_id} in {}", self.region());
        Ok(id)
    }

    async fn create_internet_gateway(&self) -> Result<String, AwsError> {
        let label = self.label(part::INTERNET_GATEWAY);
        let out = self
            .ec2
            .create_internet_gateway()
            .tag_specifications(
                self.tag_spec(ResourceType::InternetGateway, part::INTERNET_GATEWAY),
            )
            .send()
            .await
            .map_err(api_error(
                "creating",
                INTERNET_GATEWAY,
                &label,
                self.region(),
            ))?;
        let id = out
            .internet_gateway
            .and_then(|g| g.internet_gateway_id)
            .ok_or_else(|| no_id("creating", INTERNET_GATEWAY, &label, self.region()))?;
        tracing::info!("created internet gateway {id} in {}", self.region());
        Ok(id)
    }

    async fn ensure_subnets(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        zones: &[String],
        plan: &SubnetPlan,
    ) -> Result<Subnets, AwsError> {
        let public = (0..self.az_count()).map(|i| {
            self.ensure_subnet(
                inv,
                vpc_id,
                part::public_subnet(i),
                &zones[i],
                plan.public[i].to_string(),
                true,
            )
        });
        let private = (0..self.az_count()).map(|i| {
            self.ensure_subnet(
                inv,
                vpc_id,
                part::private_subnet(i),
                &zones[i],
                plan.private[i].to_string(),
                false,
            )
        });
        let (public, private) = tokio::try_join!(try_join_all(public), try_join_all(private))?;
        Ok(Subnets { public, private })
    }

    async fn ensure_subnet(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        part: String,
        zone: &str,
        cidr: String,
        public: bool,
    ) -> Result<String, AwsError> {
        let (id, maps_public_ip) = match inv.subnet(vpc_id, &part) {
            Some(subnet) => (
                subnet.subnet_id().unwrap_or_default().to_owned(),
                subnet.map_public_ip_on_launch() == Some(true),
            ),
            None => (self.create_subnet(vpc_id, &part, zone, &cidr).await?, false),
        };
        if public && !maps_public_ip {
            self.ec2
                .modify_subnet_attribute()
                .subnet_id(&id)
                .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .map_err(api_error("updating", SUBNET, &id, self.region()))?;
        }
        Ok(id)
    }

    async fn create_subnet(
        &self,
        vpc_id: &str,
        part: &str,
        zone: &str,
        cidr: &str,
    ) -> Result<String, AwsError> {
        let label = self.label(part);
        let out = self
            .ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(cidr)
            .availability_zone(zone)
            .tag_specifications(self.tag_spec(ResourceType::Subnet, part))
            .send()
            .await
            .map_err(api_error("creating", SUBNET, &label, self.region()))?;
        let id = out
            .subnet
            .and_then(|s| s.subnet_id)
            .ok_or_else(|| no_id("creating", SUBNET, &label, self.region()))?;
        tracing::info!(
            "created subnet {id} ({part}, {cidr}, {zone}) in {}",
            self.region()
        );
        Ok(id)
    }

    /// One Elastic IP per zone, for its NAT gateway.
    async fn ensure_addresses(&self, inv: &Inventory) -> Result<Vec<String>, AwsError> {
        try_join_all((0..self.az_count()).map(|i| async move {
            let part = part::eip(i);
            match inv.address(&part).and_then(|a| a.allocation_id()) {
                Some(id) => Ok(id.to_owned()),
                None => self.allocate_address(&part).await,
            }
        }))
        .await
    }

    async fn allocate_address(&self, part: &str) -> Result<String, AwsError> {
        let label = self.label(part);
        let out = self
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(self.tag_spec(ResourceType::ElasticIp, part))
            .send()
            .await
            .map_err(api_error("allocating", ELASTIC_IP, &label, self.region()))?;
        let id = out
            .allocation_id
            .ok_or_else(|| no_id("allocating", ELASTIC_IP, &label, self.region()))?;
        tracing::info!("allocated Elastic IP {id} in {}", self.region());
        Ok(id)
    }

    async fn ensure_nat_gateways(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        subnets: &[String],
        allocations: &[String],
    ) -> Result<Vec<String>, AwsError> {
        let ids = try_join_all(
            (0..self.az_count())
                .map(|i| self.ensure_nat_gateway(inv, vpc_id, i, &subnets[i], &allocations[i])),
        )
        .await?;
        try_join_all(
            ids.iter()
                .map(|id| wait::nat_available(self.rc, id, self.deadline)),
        )
        .await?;
        Ok(ids)
    }

    async fn ensure_nat_gateway(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        i: usize,
        subnet_id: &str,
        allocation_id: &str,
    ) -> Result<String, AwsError> {
        let part = part::nat(i);
        if let Some(id) = inv
            .live_nat(vpc_id, &part)
            .and_then(NatGateway::nat_gateway_id)
        {
            return Ok(id.to_owned());
        }
        // A NAT gateway being deleted still holds the Elastic IP the new one needs.
        let deleting = inv
            .nats(&part)
            .filter(|n| n.state() == Some(&NatGatewayState::Deleting));
        for going in deleting {
            if let Some(id) = going.nat_gateway_id() {
                wait::nat_deleted(self.rc, id, self.deadline).await?;
            }
        }
        let label = self.label(&part);
        let out = self
            .ec2
            .create_nat_gateway()
            .subnet_id(subnet_id)
            .allocation_id(allocation_id)
            .client_token(self.client_token(&part, &[subnet_id, allocation_id]))
            .tag_specifications(self.tag_spec(ResourceType::Natgateway, &part))
            .send()
            .await
            .map_err(api_error("creating", NAT_GATEWAY, &label, self.region()))?;
        let id = out
            .nat_gateway
            .and_then(|n| n.nat_gateway_id)
            .ok_or_else(|| no_id("creating", NAT_GATEWAY, &label, self.region()))?;
        tracing::info!(
            "created NAT gateway {id} in {subnet_id} ({})",
            self.region()
        );
        Ok(id)
    }

    /// One public route table (default route to the internet gateway, every public subnet),
    /// then one private route table per zone (default route to that zone's NAT gateway).
    /// Returns every route table, public first.
    async fn ensure_route_tables(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        igw_id: &str,
        subnets: &Subnets,
        nats: &[String],
    ) -> Result<Vec<RouteTable>, AwsError> {
        let public = self
            .ensure_route_table(inv, vpc_id, part::PUBLIC_ROUTE_TABLE)
            .await?;
        let public_id = public.route_table_id().unwrap_or_default();
        ensure_route(self.rc, &public, ANYWHERE, Target::InternetGateway(igw_id)).await?;
        for subnet_id in &subnets.public {
            ensure_association(self.rc, public_id, subnet_id, &inv.route_tables).await?;
        }
        let private = try_join_all((0..self.az_count()).map(|i| async move {
            let rt = self
                .ensure_route_table(inv, vpc_id, &part::private_route_table(i))
                .await?;
            let rt_id = rt.route_table_id().unwrap_or_default();
            ensure_route(self.rc, &rt, ANYWHERE, Target::NatGateway(&nats[i])).await?;
            ensure_association(self.rc, rt_id, &subnets.private[i], &inv.route_tables).await?;
            Ok::<_, AwsError>(rt)
        }))
        .await?;
        Ok(std::iter::once(public).chain(private).collect())
    }

    async fn ensure_route_table(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        part: &str,
    ) -> Result<RouteTable, AwsError> {
        if let Some(rt) = inv.route_table(vpc_id, part) {
            return Ok(rt.clone());
        }
        let label = self.label(part);
        let out = self
            .ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .client_token(self.client_token(part, &[vpc_id]))
            .tag_specifications(self.tag_spec(ResourceType::RouteTable, part))
            .send()
            .await
            .map_err(api_error("creating", ROUTE_TABLE, &label, self.region()))?;
        let rt = out
            .route_table
            .filter(|rt| rt.route_table_id().is_some())
            .ok_or_else(|| no_id("creating", ROUTE_TABLE, &label, self.region()))?;
        tracing::info!(
            "created route table {} ({part}) in {}",
            rt.route_table_id().unwrap_or_default(),
            self.region()
        );
        Ok(rt)
    }
}

pub(super) fn no_id(verb: &str, what: &str, label: &str, region: &str) -> AwsError {
    AwsError::api(
        verb,
        what,
        label,
        region,
        None,
        "the response carried no id",
    )
}

fn run_nonce() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// An EC2 client token (at most 64 ASCII characters) derived from the fields: FNV-1a, which
/// unlike std's hasher is stable across Rust releases.
fn client_token(fields: &[&str]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = fields
        .iter()
        .flat_map(|f| f.bytes().chain([0]))
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    format!("drpair-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_tokens_are_stable_and_distinct() {
        let a = client_token(&["drpair_network/x", "nat-0", "1", "subnet-1"]);
        assert_eq!(
            a,
            client_token(&["drpair_network/x", "nat-0", "1", "subnet-1"])
        );
        assert_ne!(
            a,
            client_token(&["drpair_network/x", "nat-1", "1", "subnet-1"])
        );
        // Field boundaries count: ("ab", "c") differs from ("a", "bc").
        assert_ne!(client_token(&["ab", "c"]), client_token(&["a", "bc"]));
        assert!(a.len() <= 64 && a.is_ascii());
    }
}
