//! The AWS side of `drpair_network` (`src/resources/network/ec2`) against the emulator, without
//! Terraform, as numbered steps: ensure and check both regions, ensure again creates nothing,
//! out-of-band damage is reported as drift and repaired, tags are updated in place, destroy
//! leaves nothing tagged in either region, and destroy again succeeds. Also: an interrupted
//! create is adopted, and a failed create returns what it made.
//!
//! Emulator gaps worked around here (never in the product code): moto keeps a deleted NAT
//! gateway's Elastic IP associated (AWS releases the association), lists deleted NAT gateways and
//! peering connections forever, and shows the requester's tags on both sides of a cross-region
//! peering connection.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Once;
use std::time::Duration;

use aws_sdk_ec2::types::{
    Filter, NatGatewayState, RouteTable, Tag, VpcAttributeName, VpcPeeringConnectionStateReasonCode,
};
use aws_sdk_ec2::Client;
use drpair::aws::{AwsContext, AwsSettings, Deadline, Role};
use drpair::resources::network::ec2::{
    self, NetworkSpec, ObservedNetwork, RegionNetwork, RegionSpec,
};

use crate::harness::Emulator;

const TIMEOUT: Duration = Duration::from_secs(300);
const PRIMARY_CIDR: &str = "10.10.0.0/16";
const DR_CIDR: &str = "10.20.0.0/16";

/// The SDK's standard chain finds these in the environment; the emulator accepts any.
fn fake_credentials() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for (key, value) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            std::env::set_var(key, value);
        }
    });
}

async fn context(emulator: &Emulator) -> AwsContext {
    fake_credentials();
    AwsContext::load(&AwsSettings {
        primary_region: "us-east-1".into(),
        dr_region: "us-east-2".into(),
        endpoint_url: Some(emulator.endpoint.clone()),
        profile: None,
        assume_role_arn: None,
        permissions_boundary_arn: None,
    })
    .await
    .expect("loading the AWS context")
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn spec(id: &str, az_count: u8) -> NetworkSpec {
    NetworkSpec {
        id: id.into(),
        name: "payments".into(),
        environment: "test".into(),
        az_count,
        default_tags: map(&[("CostCenter", "payments")]),
        user_tags: map(&[("Team", "sre")]),
        primary: RegionSpec {
            cidr_block: PRIMARY_CIDR.into(),
        },
        dr: RegionSpec {
            cidr_block: DR_CIDR.into(),
        },
    }
}

fn deadline() -> Deadline {
    Deadline::after(TIMEOUT)
}

async fn ensure(ctx: &AwsContext, spec: &NetworkSpec) -> ObservedNetwork {
    match ec2::ensure(ctx, spec, deadline()).await {
        Ok(observed) => observed,
        Err((err, partial)) => panic!("ensure failed: {err}\npartial: {partial:#?}"),
    }
}

fn tags(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
        .collect()
}

fn owner_filter(id: &str) -> Filter {
    Filter::builder()
        .name("tag:drpair:owner")
        .values(ec2::owner_tag_value(id))
        .build()
}

fn owned_by(list: &[Tag], id: &str) -> bool {
    tags(list).get("drpair:owner") == Some(&ec2::owner_tag_value(id))
}

/// The ids of every live object tagged with the owner in one region, looked up with the plain
/// SDK (no product code). Deleted NAT gateways and peering connections are not live: the
/// emulator lists them forever (AWS for about an hour).
async fn live_ids(ec2: &Client, id: &str) -> BTreeSet<String> {
    let f = || owner_filter(id);
    let mut ids = BTreeSet::new();
    let vpcs = ec2.describe_vpcs().filters(f()).send().await.unwrap();
    ids.extend(
        vpcs.vpcs()
            .iter()
            .filter_map(|v| v.vpc_id())
            .map(String::from),
    );
    let subnets = ec2.describe_subnets().filters(f()).send().await.unwrap();
    ids.extend(
        subnets
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id())
            .map(String::from),
    );
    let igws = ec2
        .describe_internet_gateways()
        .filters(f())
        .send()
        .await
        .unwrap();
    ids.extend(
        igws.internet_gateways()
            .iter()
            .filter_map(|g| g.internet_gateway_id())
            .map(String::from),
    );
    let eips = ec2.describe_addresses().filters(f()).send().await.unwrap();
    ids.extend(
        eips.addresses()
            .iter()
            .filter_map(|a| a.allocation_id())
            .map(String::from),
    );
    let rts = ec2
        .describe_route_tables()
        .filters(f())
        .send()
        .await
        .unwrap();
    ids.extend(
        rts.route_tables()
            .iter()
            .filter_map(|r| r.route_table_id())
            .map(String::from),
    );
    let nats = ec2
        .describe_nat_gateways()
        .filter(f())
        .send()
        .await
        .unwrap();
    ids.extend(
        nats.nat_gateways()
            .iter()
            .filter(|n| owned_by(n.tags(), id))
            .filter(|n| n.state() != Some(&NatGatewayState::Deleted))
            .filter_map(|n| n.nat_gateway_id())
            .map(String::from),
    );
    let pcxs = ec2
        .describe_vpc_peering_connections()
        .filters(f())
        .send()
        .await
        .unwrap();
    ids.extend(
        pcxs.vpc_peering_connections()
            .iter()
            .filter(|p| owned_by(p.tags(), id))
            .filter(|p| {
                p.status().and_then(|s| s.code())
                    != Some(&VpcPeeringConnectionStateReasonCode::Deleted)
            })
            .filter_map(|p| p.vpc_peering_connection_id())
            .map(String::from),
    );
    ids
}

async fn live_ids_in_both(ctx: &AwsContext, id: &str) -> BTreeSet<String> {
    let mut ids = live_ids(&ctx.primary.ec2(), id).await;
    ids.extend(live_ids(&ctx.dr.ec2(), id).await);
    ids
}

async fn route_table(ec2: &Client, id: &str) -> RouteTable {
    let out = ec2
        .describe_route_tables()
        .route_table_ids(id)
        .send()
        .await
        .unwrap();
    out.route_tables()[0].clone()
}

fn route_target(rt: &RouteTable, destination: &str) -> Option<String> {
    let route = rt
        .routes()
        .iter()
        .find(|r| r.destination_cidr_block() == Some(destination))?;
    route
        .gateway_id()
        .or(route.nat_gateway_id())
        .or(route.vpc_peering_connection_id())
        .map(String::from)
}

fn associated_subnets(rt: &RouteTable) -> Vec<String> {
    let mut ids: Vec<String> = rt
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .map(String::from)
        .collect();
    ids.sort();
    ids
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

/// Checks one region's objects as AWS describes them.
async fn check_region(
    ctx: &AwsContext,
    role: Role,
    net: &RegionNetwork,
    pcx_id: &str,
    zones: &[&str],
) {
    let rc = ctx.region(role);
    let ec2 = rc.ec2();
    let region = rc.region.as_str();
    let (cidr, peer_cidr) = match role {
        Role::Primary => (PRIMARY_CIDR, DR_CIDR),
        Role::Dr => (DR_CIDR, PRIMARY_CIDR),
    };

    // The VPC, its tags and DNS attributes.
    let vpcs = ec2
        .describe_vpcs()
        .vpc_ids(&net.vpc_id)
        .send()
        .await
        .unwrap();
    let vpc = &vpcs.vpcs()[0];
    assert_eq!(vpc.cidr_block(), Some(cidr), "{region}");
    let vpc_tags = tags(vpc.tags());
    for (key, value) in [
        ("Name", "payments"),
        ("Environment", "test"),
        ("DR-Role", role.tag_value()),
        ("drpair:owner", "drpair_network/payments-test"),
        ("drpair:part", "vpc"),
        ("CostCenter", "payments"),
        ("Team", "sre"),
    ] {
        assert_eq!(
            vpc_tags.get(key).map(String::as_str),
            Some(value),
            "{region} VPC tag {key}"
        );
    }
    for attribute in [
        VpcAttributeName::EnableDnsSupport,
        VpcAttributeName::EnableDnsHostnames,
    ] {
        let out = ec2
            .describe_vpc_attribute()
            .vpc_id(&net.vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .unwrap();
        let value = match attribute {
            VpcAttributeName::EnableDnsSupport => out.enable_dns_support(),
            _ => out.enable_dns_hostnames(),
        };
        assert_eq!(
            value.and_then(|v| v.value()),
            Some(true),
            "{region} {attribute:?}"
        );
    }

    // Subnets: one public and one private per zone, all tagged with their role.
    assert_eq!(net.availability_zones, zones, "{region}");
    let subnets = ec2
        .describe_subnets()
        .filters(owner_filter("payments-test"))
        .send()
        .await
        .unwrap();
    assert_eq!(subnets.subnets().len(), 2 * zones.len(), "{region} subnets");
    for subnet in subnets.subnets() {
        let id = subnet.subnet_id().unwrap().to_owned();
        let subnet_tags = tags(subnet.tags());
        assert_eq!(subnet.vpc_id(), Some(net.vpc_id.as_str()));
        assert_eq!(subnet_tags["DR-Role"], role.tag_value());
        assert_eq!(subnet_tags["Environment"], "test");
        let public = net.public_subnet_ids.contains(&id);
        assert!(
            public || net.private_subnet_ids.contains(&id),
            "{id} is not in the network"
        );
        assert_eq!(
            subnet.map_public_ip_on_launch(),
            Some(public),
            "{region} {id}"
        );
        assert!(subnet_tags["Name"].starts_with(if public {
            "payments-public-subnet-"
        } else {
            "payments-private-subnet-"
        }));
    }

    // The internet gateway is attached.
    let igws = ec2
        .describe_internet_gateways()
        .internet_gateway_ids(&net.internet_gateway_id)
        .send()
        .await
        .unwrap();
    let attachments: Vec<_> = igws.internet_gateways()[0]
        .attachments()
        .iter()
        .filter_map(|a| a.vpc_id())
        .collect();
    assert_eq!(
        attachments,
        [net.vpc_id.as_str()],
        "{region} IGW attachments"
    );

    // A NAT gateway per zone, available, in that zone's public subnet.
    assert_eq!(net.nat_gateway_ids.len(), zones.len());
    for (i, nat_id) in net.nat_gateway_ids.iter().enumerate() {
        let out = ec2
            .describe_nat_gateways()
            .nat_gateway_ids(nat_id)
            .send()
            .await
            .unwrap();
        let nat = &out.nat_gateways()[0];
        assert_eq!(
            nat.state(),
            Some(&NatGatewayState::Available),
            "{region} {nat_id}"
        );
        assert_eq!(nat.subnet_id(), Some(net.public_subnet_ids[i].as_str()));
        assert_eq!(tags(nat.tags())["drpair:part"], format!("nat-{i}"));
    }

    // Routes: internet via the IGW (public) or the zone's NAT (private), the peer via the
    // peering connection everywhere; associations as planned.
    let public = route_table(&ec2, &net.public_route_table_id).await;
    assert_eq!(
        route_target(&public, "0.0.0.0/0").as_deref(),
        Some(net.internet_gateway_id.as_str())
    );
    assert_eq!(
        route_target(&public, peer_cidr).as_deref(),
        Some(pcx_id),
        "{region} public RT"
    );
    assert_eq!(associated_subnets(&public), sorted(&net.public_subnet_ids));
    assert_eq!(net.private_route_table_ids.len(), zones.len());
    for (i, rt_id) in net.private_route_table_ids.iter().enumerate() {
        let rt = route_table(&ec2, rt_id).await;
        assert_eq!(
            route_target(&rt, "0.0.0.0/0").as_deref(),
            Some(net.nat_gateway_ids[i].as_str())
        );
        assert_eq!(
            route_target(&rt, peer_cidr).as_deref(),
            Some(pcx_id),
            "{region} {rt_id}"
        );
        assert_eq!(associated_subnets(&rt), [net.private_subnet_ids[i].clone()]);
    }
}

async fn check_peering(ctx: &AwsContext, pcx_id: &str, observed: &ObservedNetwork) {
    for rc in [&ctx.primary, &ctx.dr] {
        let out = rc
            .ec2()
            .describe_vpc_peering_connections()
            .vpc_peering_connection_ids(pcx_id)
            .send()
            .await
            .unwrap();
        let pcx = &out.vpc_peering_connections()[0];
        assert_eq!(
            pcx.status().and_then(|s| s.code()),
            Some(&VpcPeeringConnectionStateReasonCode::Active),
            "{}",
            rc.region
        );
        let requester = pcx.requester_vpc_info().unwrap();
        let accepter = pcx.accepter_vpc_info().unwrap();
        assert_eq!(
            requester.vpc_id(),
            observed.primary.as_ref().map(|n| n.vpc_id.as_str())
        );
        assert_eq!(
            accepter.vpc_id(),
            observed.dr.as_ref().map(|n| n.vpc_id.as_str())
        );
        assert_eq!(accepter.region(), Some("us-east-2"));
    }
    // The requester's side carries the primary's tags. (The emulator shows the requester's tags
    // on both sides, so the accepter's own tags cannot be checked here.)
    let out = ctx
        .primary
        .ec2()
        .describe_vpc_peering_connections()
        .vpc_peering_connection_ids(pcx_id)
        .send()
        .await
        .unwrap();
    let pcx_tags = tags(out.vpc_peering_connections()[0].tags());
    assert_eq!(pcx_tags["DR-Role"], "primary");
    assert_eq!(pcx_tags["drpair:part"], "peering");
    assert_eq!(pcx_tags["Name"], "payments-peering");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_on_ec2_lifecycle() {
    let emulator = Emulator::start();
    let ctx = context(&emulator).await;
    let spec = spec("payments-test", 3);

    // 1. Ensure builds the whole network in both regions.
    let observed = ensure(&ctx, &spec).await;
    assert_eq!(observed.drift, Vec::<String>::new());
    assert_eq!(observed.name, "payments");
    assert_eq!(observed.az_count, 3);
    assert_eq!(observed.user_tags, map(&[("Team", "sre")]));
    let pcx_id = observed
        .peering_connection_id
        .clone()
        .expect("a peering connection");
    let primary = observed.primary.clone().expect("the primary network");
    let dr = observed.dr.clone().expect("the DR network");
    check_region(
        &ctx,
        Role::Primary,
        &primary,
        &pcx_id,
        &["us-east-1a", "us-east-1b", "us-east-1c"],
    )
    .await;
    check_region(
        &ctx,
        Role::Dr,
        &dr,
        &pcx_id,
        &["us-east-2a", "us-east-2b", "us-east-2c"],
    )
    .await;
    check_peering(&ctx, &pcx_id, &observed).await;
    let built = live_ids_in_both(&ctx, "payments-test").await;
    // Per region: VPC, 6 subnets, IGW, 3 EIPs, 3 NATs, 4 route tables; plus the peering.
    assert_eq!(built.len(), 2 * 18 + 1, "{built:?}");

    // 2. Ensure again creates nothing and changes nothing; read agrees.
    let again = ensure(&ctx, &spec).await;
    assert_eq!(again, observed);
    assert_eq!(live_ids_in_both(&ctx, "payments-test").await, built);
    let read = ec2::read(&ctx, "payments-test", &spec.default_tags)
        .await
        .unwrap();
    assert_eq!(read.as_ref(), Some(&observed));

    // 3. Out of band: a private route table loses its default route, a NAT gateway is deleted.
    let dr_ec2 = ctx.dr.ec2();
    let damaged_rt = dr.private_route_table_ids[1].clone();
    dr_ec2
        .delete_route()
        .route_table_id(&damaged_rt)
        .destination_cidr_block("0.0.0.0/0")
        .send()
        .await
        .unwrap();
    let primary_ec2 = ctx.primary.ec2();
    let deleted_nat = primary.nat_gateway_ids[0].clone();
    primary_ec2
        .delete_nat_gateway()
        .nat_gateway_id(&deleted_nat)
        .send()
        .await
        .unwrap();
    release_nat_addresses(&primary_ec2, &deleted_nat).await;

    // 4. Read reports both as drift.
    let drifted = ec2::read(&ctx, "payments-test", &spec.default_tags)
        .await
        .unwrap()
        .unwrap();
    let expected = [
        format!("us-east-2: route to 0.0.0.0/0 missing from {damaged_rt}"),
        format!("us-east-1: NAT gateway 0 ({deleted_nat}) is deleted"),
    ];
    for message in &expected {
        assert!(
            drifted.drift.contains(message),
            "{message:?} not in {:#?}",
            drifted.drift
        );
    }
    assert_eq!(drifted.drift.len(), 2, "{:#?}", drifted.drift);

    // 5. Ensure repairs: a new NAT gateway, routes back; nothing else is touched.
    let repaired = ensure(&ctx, &spec).await;
    assert_eq!(repaired.drift, Vec::<String>::new());
    let repaired_primary = repaired.primary.clone().unwrap();
    assert_ne!(repaired_primary.nat_gateway_ids[0], deleted_nat);
    assert_eq!(
        repaired_primary.nat_gateway_ids[1..],
        primary.nat_gateway_ids[1..]
    );
    assert_eq!(
        repaired_primary.private_subnet_ids,
        primary.private_subnet_ids
    );
    assert_eq!(repaired.dr, observed.dr);
    let rt = route_table(&dr_ec2, &damaged_rt).await;
    assert_eq!(
        route_target(&rt, "0.0.0.0/0").as_deref(),
        Some(dr.nat_gateway_ids[1].as_str())
    );
    let rt = route_table(&primary_ec2, &primary.private_route_table_ids[0]).await;
    assert_eq!(
        route_target(&rt, "0.0.0.0/0").as_deref(),
        Some(repaired_primary.nat_gateway_ids[0].as_str())
    );
    check_region(
        &ctx,
        Role::Primary,
        &repaired_primary,
        &pcx_id,
        &["us-east-1a", "us-east-1b", "us-east-1c"],
    )
    .await;

    // 6. Tags change in place: a user tag removed, another added, a default tag changed.
    let mut retagged = spec.clone();
    retagged.user_tags = map(&[("Owner", "alice")]);
    retagged.default_tags = map(&[("CostCenter", "platform")]);
    ec2::update_tags(&ctx, &retagged, &spec.user_tags, &spec.default_tags)
        .await
        .unwrap();
    for (rc, net) in [(&ctx.primary, &repaired_primary), (&ctx.dr, &dr)] {
        let out = rc
            .ec2()
            .describe_subnets()
            .subnet_ids(&net.private_subnet_ids[2])
            .send()
            .await
            .unwrap();
        let subnet_tags = tags(out.subnets()[0].tags());
        assert_eq!(subnet_tags.get("Team"), None, "{}", rc.region);
        assert_eq!(subnet_tags["Owner"], "alice");
        assert_eq!(subnet_tags["CostCenter"], "platform");
        assert_eq!(subnet_tags["Name"], "payments-private-subnet-2");
        assert_eq!(subnet_tags["DR-Role"], rc.role.tag_value());
    }
    let read = ec2::read(&ctx, "payments-test", &retagged.default_tags)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.user_tags, map(&[("Owner", "alice")]));
    assert_eq!(
        live_ids_in_both(&ctx, "payments-test").await.len(),
        built.len()
    );

    // 7. Destroy leaves nothing tagged in either region; destroy again succeeds.
    ec2::destroy(&ctx, "payments-test", deadline())
        .await
        .unwrap();
    assert_eq!(
        live_ids_in_both(&ctx, "payments-test").await,
        BTreeSet::new()
    );
    assert_eq!(
        ec2::read(&ctx, "payments-test", &spec.default_tags)
            .await
            .unwrap(),
        None
    );
    ec2::destroy(&ctx, "payments-test", deadline())
        .await
        .unwrap();
}

/// AWS releases the Elastic IP of a deleted NAT gateway; the emulator keeps it associated.
async fn release_nat_addresses(ec2: &Client, nat_id: &str) {
    let out = ec2
        .describe_nat_gateways()
        .nat_gateway_ids(nat_id)
        .send()
        .await
        .unwrap();
    for address in out.nat_gateways()[0].nat_gateway_addresses() {
        if let Some(association) = address.association_id() {
            ec2.disassociate_address()
                .association_id(association)
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_on_ec2_adopts_an_interrupted_create() {
    let emulator = Emulator::start();
    let ctx = context(&emulator).await;
    let spec = spec("adopt-test", 2);

    // A run that stopped right after creating the primary VPC and one of its subnets: objects
    // known only by their tags.
    let owner_tags = |role: Role, part: &str| {
        let tags = spec.tags(role, part);
        aws_sdk_ec2::types::TagSpecification::builder()
            .resource_type(if part == "vpc" {
                aws_sdk_ec2::types::ResourceType::Vpc
            } else {
                aws_sdk_ec2::types::ResourceType::Subnet
            })
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .build()
    };
    let vpc = ctx
        .primary
        .ec2()
        .create_vpc()
        .cidr_block(PRIMARY_CIDR)
        .tag_specifications(owner_tags(Role::Primary, "vpc"))
        .send()
        .await
        .unwrap();
    let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let subnet = ctx
        .primary
        .ec2()
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.10.64.0/18")
        .availability_zone("us-east-1b")
        .tag_specifications(owner_tags(Role::Primary, "public-subnet-1"))
        .send()
        .await
        .unwrap();
    let subnet_id = subnet.subnet().unwrap().subnet_id().unwrap().to_owned();

    let partial = ec2::read(&ctx, "adopt-test", &spec.default_tags)
        .await
        .unwrap()
        .unwrap();
    assert!(
        partial
            .drift
            .contains(&"us-east-2: VPC is missing".to_string()),
        "{:#?}",
        partial.drift
    );

    let observed = ensure(&ctx, &spec).await;
    assert_eq!(observed.drift, Vec::<String>::new());
    let primary = observed.primary.unwrap();
    assert_eq!(primary.vpc_id, vpc_id);
    assert_eq!(primary.public_subnet_ids[1], subnet_id);
    assert_eq!(live_ids_in_both(&ctx, "adopt-test").await.len(), 2 * 13 + 1);

    ec2::destroy(&ctx, "adopt-test", deadline()).await.unwrap();
    assert_eq!(live_ids_in_both(&ctx, "adopt-test").await, BTreeSet::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_on_ec2_failed_create_returns_what_it_made() {
    let emulator = Emulator::start();
    let ctx = context(&emulator).await;
    // us-east-2 has three availability zones: four cannot be placed there.
    let spec = spec("partial-test", 4);

    let (err, partial) = ec2::ensure(&ctx, &spec, deadline())
        .await
        .expect_err("ensure must fail in us-east-2");
    assert!(
        err.to_string()
            .contains("us-east-2 has 3 usable availability zones, fewer than az_count = 4"),
        "{err}"
    );
    let partial = partial.expect("the partial network");
    assert!(
        partial.dr.is_some(),
        "the DR VPC was made before the zones were checked"
    );
    assert!(!partial.drift.is_empty());

    ec2::destroy(&ctx, "partial-test", deadline())
        .await
        .unwrap();
    assert_eq!(
        live_ids_in_both(&ctx, "partial-test").await,
        BTreeSet::new()
    );
}
