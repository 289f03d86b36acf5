//! [`read`]: what exists in both regions, and how it differs from a complete network.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    NatGateway, NatGatewayState, RouteTable, Subnet, Vpc, VpcPeeringConnection,
    VpcPeeringConnectionStateReasonCode,
};

use crate::aws::tags::{from_ec2_tags, user_tags, NAME_TAG};
use crate::aws::{AwsContext, AwsError};

use super::find::{
    peering_connects, peering_is_live, peering_state, state_name, Inventory, Tagged,
};
use super::routes::{check_route, describe_problem, is_associated, Target, ANYWHERE};
use super::{owner_tag_value, part, ObservedNetwork, RegionNetwork};

/// Reads the network with this id from both regions: one describe per object kind per region.
/// `None` when neither region has its VPC.
pub async fn read(
    ctx: &AwsContext,
    id: &str,
    default_tags: &BTreeMap<String, String>,
) -> Result<Option<ObservedNetwork>, AwsError> {
    let owner = owner_tag_value(id);
    let (primary, dr) = tokio::try_join!(
        Inventory::load(&ctx.primary, &owner),
        Inventory::load(&ctx.dr, &owner),
    )?;
    Ok(observe(&primary, &dr, default_tags))
}

/// Builds the observed network from the two regions' inventories.
pub(super) fn observe(
    primary: &Inventory,
    dr: &Inventory,
    default_tags: &BTreeMap<String, String>,
) -> Option<ObservedNetwork> {
    let vpc = primary.vpc().or(dr.vpc())?;
    let tags = from_ec2_tags(vpc.tags());
    let az_count = primary.az_count().max(dr.az_count());
    let mut drift = Vec::new();

    let peering = live_peering(primary, dr, &mut drift);
    let peering_id = peering.and_then(|p| p.vpc_peering_connection_id());
    let primary_cidr = primary.vpc().and_then(Vpc::cidr_block);
    let dr_cidr = dr.vpc().and_then(Vpc::cidr_block);
    let primary_peer = peering_id.zip(dr_cidr);
    let dr_peer = peering_id.zip(primary_cidr);

    Some(ObservedNetwork {
        name: tags.get(NAME_TAG).cloned().unwrap_or_default(),
        az_count: u8::try_from(az_count).unwrap_or(u8::MAX),
        user_tags: user_tags(&tags, default_tags),
        primary: RegionObserver::new(primary, az_count, primary_peer, &mut drift).observe(),
        dr: RegionObserver::new(dr, az_count, dr_peer, &mut drift).observe(),
        peering_connection_id: peering_id.map(str::to_owned),
        drift,
    })
}

/// The peering connection the network uses: live, and tagged as its `peering` part (on the
/// requester's side, or failing that the accepter's).
fn live_peering<'a>(
    primary: &'a Inventory,
    dr: &'a Inventory,
    drift: &mut Vec<String>,
) -> Option<&'a VpcPeeringConnection> {
    let tagged = |inv: &'a Inventory| {
        inv.peerings
            .iter()
            .filter(|p| p.part() == Some(part::PEERING))
            .collect::<Vec<_>>()
    };
    let mut candidates = tagged(primary);
    candidates.extend(tagged(dr));
    let vpc_ids = primary
        .vpc()
        .and_then(Vpc::vpc_id)
        .zip(dr.vpc().and_then(Vpc::vpc_id));
    let joins_our_vpcs = |p: &VpcPeeringConnection| {
        vpc_ids.is_some_and(|(requester, accepter)| peering_connects(p, requester, accepter))
    };
    // Prefer the one joining today's VPCs over a leftover of a replaced VPC.
    let live = candidates
        .iter()
        .filter(|p| peering_is_live(p))
        .max_by_key(|p| joins_our_vpcs(p));
    if let Some(live) = live {
        let state = peering_state(live);
        if state != Some(&VpcPeeringConnectionStateReasonCode::Active) {
            drift.push(format!(
                "peering connection {} is {}, not active",
                live.vpc_peering_connection_id().unwrap_or_default(),
                state_name(state)
            ));
        }
        return Some(live);
    }
    match candidates.first() {
        Some(gone) => drift.push(format!(
            "peering connection {} is {}",
            gone.vpc_peering_connection_id().unwrap_or_default(),
            state_name(peering_state(gone))
        )),
        None => drift.push("peering connection is missing".into()),
    }
    None
}

/// Walks one region's parts in order, collecting ids and drift.
struct RegionObserver<'a> {
    inv: &'a Inventory,
    az_count: usize,
    /// The peering connection and the peer's CIDR block, when both are known.
    peer: Option<(&'a str, &'a str)>,
    drift: &'a mut Vec<String>,
}

impl<'a> RegionObserver<'a> {
    fn new(
        inv: &'a Inventory,
        az_count: usize,
        peer: Option<(&'a str, &'a str)>,
        drift: &'a mut Vec<String>,
    ) -> Self {
        Self {
            inv,
            az_count,
            peer,
            drift,
        }
    }

    fn report(&mut self, message: String) {
        self.drift.push(format!("{}: {message}", self.inv.region));
    }

    fn observe(mut self) -> Option<RegionNetwork> {
        let Some(vpc) = self.inv.vpc() else {
            self.report("VPC is missing".into());
            return None;
        };
        let vpc_id = vpc.vpc_id().unwrap_or_default();
        let mut net = RegionNetwork {
            vpc_id: vpc_id.to_owned(),
            cidr_block: vpc.cidr_block().unwrap_or_default().to_owned(),
            ..RegionNetwork::default()
        };
        let (public, private) = self.subnets(vpc_id, &mut net);
        self.internet_gateway(vpc_id, &mut net);
        let nats = self.nat_gateways(vpc_id, &mut net);

        let public_rt = self.inv.route_table(vpc_id, part::PUBLIC_ROUTE_TABLE);
        match public_rt {
            Some(rt) => {
                net.public_route_table_id = id_of(rt);
                let igw = (!net.internet_gateway_id.is_empty())
                    .then_some(net.internet_gateway_id.as_str());
                let subnets: Vec<_> = public.iter().flatten().copied().collect();
                self.route_table(rt, igw.map(Target::InternetGateway), &subnets);
            }
            None => self.report("public route table is missing".into()),
        }
        for i in 0..self.az_count {
            match self.inv.route_table(vpc_id, &part::private_route_table(i)) {
                Some(rt) => {
                    net.private_route_table_ids.push(id_of(rt));
                    let subnets: Vec<_> = private[i].iter().copied().collect();
                    self.route_table(rt, nats[i].map(Target::NatGateway), &subnets);
                }
                None => self.report(format!("private route table {i} is missing")),
            }
        }
        Some(net)
    }

    /// Subnet ids per zone (None where missing), public then private.
    fn subnets(
        &mut self,
        vpc_id: &str,
        net: &mut RegionNetwork,
    ) -> (Vec<Option<&'a str>>, Vec<Option<&'a str>>) {
        let (mut public, mut private) = (Vec::new(), Vec::new());
        for i in 0..self.az_count {
            let p = self.inv.subnet(vpc_id, &part::public_subnet(i));
            let q = self.inv.subnet(vpc_id, &part::private_subnet(i));
            let zone = p.or(q).and_then(Subnet::availability_zone);
            if let Some(zone) = zone {
                net.availability_zones.push(zone.to_owned());
            }
            let zone_note = zone.map(|z| format!(" ({z})")).unwrap_or_default();
            match p {
                Some(subnet) => {
                    net.public_subnet_ids.push(id_of(subnet));
                    if subnet.map_public_ip_on_launch() != Some(true) {
                        self.report(format!(
                            "public subnet {i} ({}) does not map public IPs on launch",
                            id_of(subnet)
                        ));
                    }
                }
                None => self.report(format!("public subnet {i}{zone_note} is missing")),
            }
            match q {
                Some(subnet) => net.private_subnet_ids.push(id_of(subnet)),
                None => self.report(format!("private subnet {i}{zone_note} is missing")),
            }
            public.push(p.and_then(Subnet::subnet_id));
            private.push(q.and_then(Subnet::subnet_id));
        }
        (public, private)
    }

    fn internet_gateway(&mut self, vpc_id: &str, net: &mut RegionNetwork) {
        let Some(igw) = self.inv.internet_gateway() else {
            self.report("internet gateway is missing".into());
            return;
        };
        net.internet_gateway_id = id_of(igw);
        if !igw.attachments().iter().any(|a| a.vpc_id() == Some(vpc_id)) {
            self.report(format!(
                "internet gateway {} is not attached to {vpc_id}",
                id_of(igw)
            ));
        }
    }

    /// NAT gateway ids per zone (None where missing).
    fn nat_gateways(&mut self, vpc_id: &str, net: &mut RegionNetwork) -> Vec<Option<&'a str>> {
        let mut ids = Vec::new();
        for i in 0..self.az_count {
            if self.inv.address(&part::eip(i)).is_none() {
                self.report(format!("Elastic IP {i} is missing"));
            }
            let part = part::nat(i);
            let live = self.inv.live_nat(vpc_id, &part);
            match live {
                Some(nat) => {
                    net.nat_gateway_ids.push(id_of(nat));
                    if nat.state() != Some(&NatGatewayState::Available) {
                        self.report(format!(
                            "NAT gateway {i} ({}) is {}, not available",
                            id_of(nat),
                            state_name(nat.state())
                        ));
                    }
                }
                None => match self.inv.nats(&part).next() {
                    Some(gone) => self.report(format!(
                        "NAT gateway {i} ({}) is {}",
                        id_of(gone),
                        state_name(gone.state())
                    )),
                    None => self.report(format!("NAT gateway {i} is missing")),
                },
            }
            ids.push(live.and_then(NatGateway::nat_gateway_id));
        }
        ids
    }

    /// Checks a route table's default route, its subnet associations and its route to the peer.
    fn route_table(&mut self, rt: &RouteTable, default: Option<Target>, subnets: &[&str]) {
        let rt_id = id_of(rt);
        if let Some(target) = default {
            self.route(rt, &rt_id, ANYWHERE, target);
        }
        for subnet in subnets {
            if !is_associated(rt, subnet) {
                self.report(format!("{subnet} is not associated with {rt_id}"));
            }
        }
        if let Some((pcx, peer_cidr)) = self.peer {
            self.route(rt, &rt_id, peer_cidr, Target::Peering(pcx));
        }
    }

    fn route(&mut self, rt: &RouteTable, rt_id: &str, destination: &str, target: Target) {
        if let Some(problem) = check_route(rt, destination, target) {
            self.report(describe_problem(&problem, rt_id, destination, target));
        }
    }
}

fn id_of<T: Tagged>(item: &T) -> String {
    item.object_id().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::{
        Address, InternetGateway, InternetGatewayAttachment, Route, RouteState,
        RouteTableAssociation, Tag, VpcPeeringConnectionStateReason, VpcPeeringConnectionVpcInfo,
    };

    const OWNER: &str = "drpair_network/payments-test";

    fn tags(part: &str) -> Vec<Tag> {
        [
            ("drpair:owner", OWNER),
            ("drpair:part", part),
            ("Name", "payments"),
            ("Environment", "test"),
            ("Team", "sre"),
            ("CostCenter", "payments"),
        ]
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
        .collect()
    }

    fn route(dest: &str) -> aws_sdk_ec2::types::builders::RouteBuilder {
        Route::builder()
            .destination_cidr_block(dest)
            .state(RouteState::Active)
    }

    /// A complete region: VPC, 2 zones, IGW, EIPs, NATs, route tables with all routes.
    fn region(name: &str, n: u8, cidr: &str, peer_cidr: &str) -> Inventory {
        let p = format!("{name}-");
        let vpc = format!("vpc-{n}");
        let mut inv = Inventory {
            region: name.into(),
            vpcs: vec![Vpc::builder()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .set_tags(Some(tags("vpc")))
                .build()],
            internet_gateways: vec![InternetGateway::builder()
                .internet_gateway_id(format!("igw-{n}"))
                .attachments(InternetGatewayAttachment::builder().vpc_id(&vpc).build())
                .set_tags(Some(tags("igw")))
                .build()],
            ..Inventory::default()
        };
        let mut public_rt = RouteTable::builder()
            .route_table_id(format!("rtb-{n}p"))
            .vpc_id(&vpc)
            .set_tags(Some(tags("public-rt")))
            .routes(route(ANYWHERE).gateway_id(format!("igw-{n}")).build())
            .routes(route(peer_cidr).vpc_peering_connection_id("pcx-1").build());
        for i in 0..2 {
            let (public, private) = (format!("subnet-{n}p{i}"), format!("subnet-{n}q{i}"));
            for (id, part, map) in [
                (&public, part::public_subnet(i), true),
                (&private, part::private_subnet(i), false),
            ] {
                inv.subnets.push(
                    Subnet::builder()
                        .subnet_id(id)
                        .vpc_id(&vpc)
                        .availability_zone(format!("{p}{}", ['a', 'b'][i]))
                        .map_public_ip_on_launch(map)
                        .set_tags(Some(tags(&part)))
                        .build(),
                );
            }
            public_rt =
                public_rt.associations(RouteTableAssociation::builder().subnet_id(&public).build());
            inv.addresses.push(
                Address::builder()
                    .allocation_id(format!("eipalloc-{n}{i}"))
                    .set_tags(Some(tags(&part::eip(i))))
                    .build(),
            );
            inv.nat_gateways.push(
                NatGateway::builder()
                    .nat_gateway_id(format!("nat-{n}{i}"))
                    .vpc_id(&vpc)
                    .state(NatGatewayState::Available)
                    .set_tags(Some(tags(&part::nat(i))))
                    .build(),
            );
            inv.route_tables.push(
                RouteTable::builder()
                    .route_table_id(format!("rtb-{n}q{i}"))
                    .vpc_id(&vpc)
                    .set_tags(Some(tags(&part::private_route_table(i))))
                    .routes(
                        route(ANYWHERE)
                            .nat_gateway_id(format!("nat-{n}{i}"))
                            .build(),
                    )
                    .routes(route(peer_cidr).vpc_peering_connection_id("pcx-1").build())
                    .associations(RouteTableAssociation::builder().subnet_id(&private).build())
                    .build(),
            );
        }
        inv.route_tables.insert(0, public_rt.build());
        inv
    }

    fn peering(state: VpcPeeringConnectionStateReasonCode) -> VpcPeeringConnection {
        VpcPeeringConnection::builder()
            .vpc_peering_connection_id("pcx-1")
            .requester_vpc_info(
                VpcPeeringConnectionVpcInfo::builder()
                    .vpc_id("vpc-1")
                    .build(),
            )
            .accepter_vpc_info(
                VpcPeeringConnectionVpcInfo::builder()
                    .vpc_id("vpc-2")
                    .build(),
            )
            .status(
                VpcPeeringConnectionStateReason::builder()
                    .code(state)
                    .build(),
            )
            .set_tags(Some(tags("peering")))
            .build()
    }

    fn complete() -> (Inventory, Inventory) {
        let mut primary = region("us-east-1", 1, "10.10.0.0/16", "10.20.0.0/16");
        primary
            .peerings
            .push(peering(VpcPeeringConnectionStateReasonCode::Active));
        let dr = region("us-east-2", 2, "10.20.0.0/16", "10.10.0.0/16");
        (primary, dr)
    }

    fn defaults() -> BTreeMap<String, String> {
        [("CostCenter".to_string(), "payments".to_string())].into()
    }

    #[test]
    fn a_complete_network_has_no_drift() {
        let (primary, dr) = complete();
        let observed = observe(&primary, &dr, &defaults()).unwrap();
        assert_eq!(observed.drift, Vec::<String>::new());
        assert_eq!(observed.az_count, 2);
        assert_eq!(observed.name, "payments");
        assert_eq!(
            observed.user_tags,
            [("Team".to_string(), "sre".to_string())].into()
        );
        assert_eq!(observed.peering_connection_id.as_deref(), Some("pcx-1"));
        let p = observed.primary.unwrap();
        assert_eq!(p.availability_zones, ["us-east-1-a", "us-east-1-b"]);
        assert_eq!(p.public_subnet_ids, ["subnet-1p0", "subnet-1p1"]);
        assert_eq!(p.private_subnet_ids, ["subnet-1q0", "subnet-1q1"]);
        assert_eq!(p.nat_gateway_ids, ["nat-10", "nat-11"]);
        assert_eq!(p.public_route_table_id, "rtb-1p");
        assert_eq!(p.private_route_table_ids, ["rtb-1q0", "rtb-1q1"]);
        assert_eq!(observed.dr.unwrap().vpc_id, "vpc-2");
    }

    #[test]
    fn nothing_at_all_is_none() {
        assert_eq!(
            observe(&Inventory::default(), &Inventory::default(), &defaults()),
            None
        );
    }

    #[test]
    fn drift_is_reported_per_part() {
        type Breaker = fn(&mut Inventory, &mut Inventory);
        let cases: Vec<(&str, Breaker, &str)> = vec![
            (
                "private subnet deleted",
                |p, _| p.subnets.retain(|s| s.subnet_id() != Some("subnet-1q1")),
                "us-east-1: private subnet 1 (us-east-1-b) is missing",
            ),
            (
                "NAT gateway deleted",
                |_, d| {
                    d.nat_gateways[0] = NatGateway::builder()
                        .nat_gateway_id("nat-20")
                        .vpc_id("vpc-2")
                        .state(NatGatewayState::Deleted)
                        .set_tags(Some(tags(&part::nat(0))))
                        .build()
                },
                "us-east-2: NAT gateway 0 (nat-20) is deleted",
            ),
            (
                "route deleted",
                |_, d| {
                    d.route_tables[1] = RouteTable::builder()
                        .route_table_id("rtb-2q0")
                        .vpc_id("vpc-2")
                        .set_tags(Some(tags(&part::private_route_table(0))))
                        .associations(
                            RouteTableAssociation::builder()
                                .subnet_id("subnet-2q0")
                                .build(),
                        )
                        .build()
                },
                "us-east-2: route to 0.0.0.0/0 missing from rtb-2q0",
            ),
            (
                "peering deleted",
                |p, _| p.peerings[0] = peering(VpcPeeringConnectionStateReasonCode::Deleted),
                "peering connection pcx-1 is deleted",
            ),
            (
                "DR VPC gone",
                |_, d| d.vpcs.clear(),
                "us-east-2: VPC is missing",
            ),
        ];
        for (name, break_it, expected) in cases {
            let (mut primary, mut dr) = complete();
            break_it(&mut primary, &mut dr);
            let observed = observe(&primary, &dr, &defaults()).unwrap();
            assert!(
                observed.drift.iter().any(|d| d == expected),
                "{name}: {:?}",
                observed.drift
            );
        }
    }
}
