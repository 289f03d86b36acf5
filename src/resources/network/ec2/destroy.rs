//! [`destroy`]: remove everything the network owns, in dependency order, in both regions.
//! Everything is found by the owner tag, so a half-created network is removed just as well,
//! and anything already gone counts as removed.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{NatGatewayState, RouteTable};
use futures::future::try_join_all;

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx};

use super::find::{
    peering_is_live, Inventory, Tagged, ELASTIC_IP, INTERNET_GATEWAY, NAT_GATEWAY, PEERING,
    ROUTE_TABLE, SUBNET, VPC,
};
use super::routes::{delete_route, disassociate};
use super::{owner_tag_value, wait};

/// Removes the network with this id from both regions: peering routes, the peering connection,
/// NAT gateways (waiting until deleted), Elastic IPs, route tables, subnets, the internet
/// gateway and the VPC. Idempotent.
pub async fn destroy(ctx: &AwsContext, id: &str, deadline: Deadline) -> Result<(), AwsError> {
    let owner = owner_tag_value(id);
    let (primary, dr) = tokio::try_join!(
        Inventory::load(&ctx.primary, &owner),
        Inventory::load(&ctx.dr, &owner),
    )?;
    if primary.is_empty() && dr.is_empty() {
        tracing::info!("network {owner} has nothing left to destroy");
        return Ok(());
    }
    tracing::info!(
        "destroying network {owner} in {} and {}",
        ctx.primary.region,
        ctx.dr.region
    );
    tokio::try_join!(
        remove_peer_routes(&ctx.primary, &primary.route_tables),
        remove_peer_routes(&ctx.dr, &dr.route_tables),
    )?;
    remove_peerings(ctx, &primary, &dr, deadline).await?;
    tokio::try_join!(
        teardown_region(&ctx.primary, &primary, deadline),
        teardown_region(&ctx.dr, &dr, deadline),
    )?;
    tracing::info!("destroyed network {owner}");
    Ok(())
}

async fn remove_peer_routes(rc: &RegionCtx, route_tables: &[RouteTable]) -> Result<(), AwsError> {
    let routes = route_tables.iter().flat_map(|rt| {
        let rt_id = rt.route_table_id().unwrap_or_default();
        rt.routes()
            .iter()
            .filter(|r| r.vpc_peering_connection_id().is_some())
            .filter_map(move |r| Some((rt_id, r.destination_cidr_block()?)))
    });
    try_join_all(routes.map(|(rt_id, destination)| delete_route(rc, rt_id, destination))).await?;
    Ok(())
}

/// Deletes each live peering connection from the side that has it tagged (the requester,
/// normally) and waits until it is gone.
async fn remove_peerings(
    ctx: &AwsContext,
    primary: &Inventory,
    dr: &Inventory,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let mut seen = BTreeSet::new();
    let mut targets = Vec::new();
    for (rc, inv) in [(&ctx.primary, primary), (&ctx.dr, dr)] {
        for pcx in inv.peerings.iter().filter(|p| peering_is_live(p)) {
            if let Some(id) = pcx.object_id().filter(|id| seen.insert(*id)) {
                targets.push((rc, id));
            }
        }
    }
    try_join_all(targets.into_iter().map(|(rc, id)| async move {
        delete_peering(rc, id).await?;
        wait::peering_deleted(rc, id, deadline).await
    }))
    .await?;
    Ok(())
}

async fn delete_peering(rc: &RegionCtx, id: &str) -> Result<(), AwsError> {
    let result = rc
        .ec2()
        .delete_vpc_peering_connection()
        .vpc_peering_connection_id(id)
        .send()
        .await
        .map_err(api_error("deleting", PEERING, id, &rc.region));
    match ok_if_not_found(result) {
        Ok(_) => {
            tracing::info!("deleted peering connection {id} in {}", rc.region);
            Ok(())
        }
        // Already being deleted (e.g. from the other side).
        Err(err) if err.code() == Some("InvalidStateTransition") => Ok(()),
        Err(err) => Err(err),
    }
}

/// One region's objects, dependants first.
async fn teardown_region(
    rc: &RegionCtx,
    inv: &Inventory,
    deadline: Deadline,
) -> Result<(), AwsError> {
    remove_nat_gateways(rc, inv, deadline).await?;
    each(&inv.addresses, |id| release_address(rc, id, deadline)).await?;
    try_join_all(
        inv.route_tables
            .iter()
            .map(|rt| remove_route_table(rc, rt, deadline)),
    )
    .await?;
    each(&inv.subnets, |id| delete_subnet(rc, id, deadline)).await?;
    try_join_all(inv.internet_gateways.iter().map(|igw| {
        let attached: Vec<&str> = igw
            .attachments()
            .iter()
            .filter_map(|a| a.vpc_id())
            .collect();
        remove_internet_gateway(
            rc,
            igw.internet_gateway_id().unwrap_or_default(),
            attached,
            deadline,
        )
    }))
    .await?;
    each(&inv.vpcs, |id| delete_vpc(rc, id, deadline)).await?;
    Ok(())
}

/// Runs `remove` on the id of every item, concurrently.
async fn each<'a, T, F, Fut>(items: &'a [T], remove: F) -> Result<(), AwsError>
where
    T: Tagged,
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    try_join_all(items.iter().filter_map(Tagged::object_id).map(remove)).await?;
    Ok(())
}

async fn remove_nat_gateways(
    rc: &RegionCtx,
    inv: &Inventory,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let remaining = inv
        .nat_gateways
        .iter()
        .filter(|n| n.state() != Some(&NatGatewayState::Deleted));
    try_join_all(remaining.map(|nat| async move {
        let id = nat.nat_gateway_id().unwrap_or_default();
        if nat.state() != Some(&NatGatewayState::Deleting) {
            let result = rc
                .ec2()
                .delete_nat_gateway()
                .nat_gateway_id(id)
                .send()
                .await
                .map_err(api_error("deleting", NAT_GATEWAY, id, &rc.region));
            ok_if_not_found(result)?;
            tracing::info!("deleting NAT gateway {id} in {}", rc.region);
        }
        wait::nat_deleted(rc, id, deadline).await
    }))
    .await?;
    Ok(())
}

async fn release_address(
    rc: &RegionCtx,
    allocation_id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait::retry_while_in_use(deadline, ELASTIC_IP, allocation_id, &rc.region, || async {
        let result = rc
            .ec2()
            .release_address()
            .allocation_id(allocation_id)
            .send()
            .await
            .map_err(api_error(
                "releasing",
                ELASTIC_IP,
                allocation_id,
                &rc.region,
            ));
        ok_if_not_found(result).map(drop)
    })
    .await?;
    tracing::info!("released Elastic IP {allocation_id} in {}", rc.region);
    Ok(())
}

/// Removes the explicit subnet associations, then the table. A table made the VPC's main
/// table cannot be deleted; it goes with the VPC.
async fn remove_route_table(
    rc: &RegionCtx,
    rt: &RouteTable,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let id = rt.route_table_id().unwrap_or_default();
    if rt.associations().iter().any(|a| a.main() == Some(true)) {
        tracing::warn!("route table {id} is the main route table of its VPC; it goes with the VPC");
        return Ok(());
    }
    for association in rt
        .associations()
        .iter()
        .filter_map(|a| a.route_table_association_id())
    {
        disassociate(rc, association).await?;
    }
    wait::retry_while_in_use(deadline, ROUTE_TABLE, id, &rc.region, || async {
        let result = rc
            .ec2()
            .delete_route_table()
            .route_table_id(id)
            .send()
            .await
            .map_err(api_error("deleting", ROUTE_TABLE, id, &rc.region));
        ok_if_not_found(result).map(drop)
    })
    .await?;
    tracing::info!("deleted route table {id} in {}", rc.region);
    Ok(())
}

async fn delete_subnet(rc: &RegionCtx, id: &str, deadline: Deadline) -> Result<(), AwsError> {
    wait::retry_while_in_use(deadline, SUBNET, id, &rc.region, || async {
        let result = rc
            .ec2()
            .delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .map_err(api_error("deleting", SUBNET, id, &rc.region));
        ok_if_not_found(result).map(drop)
    })
    .await?;
    tracing::info!("deleted subnet {id} in {}", rc.region);
    Ok(())
}

async fn remove_internet_gateway(
    rc: &RegionCtx,
    id: &str,
    attached_to: Vec<&str>,
    deadline: Deadline,
) -> Result<(), AwsError> {
    for vpc_id in attached_to {
        // Detaching fails while instances in the VPC still hold public addresses.
        wait::retry_while_in_use(deadline, INTERNET_GATEWAY, id, &rc.region, || async {
            let result = rc
                .ec2()
                .detach_internet_gateway()
                .internet_gateway_id(id)
                .vpc_id(vpc_id)
                .send()
                .await
                .map_err(api_error("detaching", INTERNET_GATEWAY, id, &rc.region));
            match ok_if_not_found(result) {
                Err(err) if err.code() == Some("Gateway.NotAttached") => Ok(()),
                other => other.map(drop),
            }
        })
        .await?;
    }
    wait::retry_while_in_use(deadline, INTERNET_GATEWAY, id, &rc.region, || async {
        let result = rc
            .ec2()
            .delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
            .map_err(api_error("deleting", INTERNET_GATEWAY, id, &rc.region));
        ok_if_not_found(result).map(drop)
    })
    .await?;
    tracing::info!("deleted internet gateway {id} in {}", rc.region);
    Ok(())
}

async fn delete_vpc(rc: &RegionCtx, id: &str, deadline: Deadline) -> Result<(), AwsError> {
    wait::retry_while_in_use(deadline, VPC, id, &rc.region, || async {
        let result = rc
            .ec2()
            .delete_vpc()
            .vpc_id(id)
            .send()
            .await
            .map_err(api_error("deleting", VPC, id, &rc.region));
        ok_if_not_found(result).map(drop)
    })
    .await?;
    tracing::info!("deleted VPC {id} in {}", rc.region);
    Ok(())
}
