//! The cross-region half of ensure: the peering connection, requested from the primary and
//! accepted in the DR region, and the routes to the peer in every route table.

use aws_sdk_ec2::types::{ResourceType, RouteTable, VpcPeeringConnectionStateReasonCode};
use futures::future::try_join_all;

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::tags::{tag_specification, to_ec2_tags};
use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx, Role};

use super::ensure::{no_id, BuiltRegion};
use super::find::{peering_connects, peering_is_live, peering_state, Tagged, PEERING};
use super::routes::{ensure_route, Target};
use super::{part, wait, NetworkSpec};

/// Requests the peering from the primary, accepts it in the DR region, tags the accepter's
/// side (tags do not cross regions) and waits for it to be active.
pub(super) async fn ensure_peering(
    ctx: &AwsContext,
    spec: &NetworkSpec,
    primary: &BuiltRegion,
    dr: &BuiltRegion,
    deadline: Deadline,
) -> Result<String, AwsError> {
    let (requester, accepter) = (&ctx.primary, &ctx.dr);
    let (current, stale): (Vec<_>, Vec<_>) = primary
        .peerings
        .iter()
        .filter(|p| peering_is_live(p) && p.part() == Some(part::PEERING))
        .partition(|p| peering_connects(p, &primary.vpc_id, &dr.vpc_id));
    for pcx in stale.iter().filter_map(|p| p.vpc_peering_connection_id()) {
        // It joins a VPC this network replaced: it can never become useful again.
        delete_stale_peering(requester, pcx).await?;
    }
    let (id, active) = match current.first() {
        Some(pcx) => (
            pcx.vpc_peering_connection_id()
                .unwrap_or_default()
                .to_owned(),
            peering_state(pcx) == Some(&VpcPeeringConnectionStateReasonCode::Active),
        ),
        None => (
            request_peering(requester, accepter, spec, &primary.vpc_id, &dr.vpc_id).await?,
            false,
        ),
    };
    if !active && wait::peering_acceptable(accepter, &id, deadline).await? {
        accepter
            .ec2()
            .accept_vpc_peering_connection()
            .vpc_peering_connection_id(&id)
            .send()
            .await
            .map_err(api_error("accepting", PEERING, &id, &accepter.region))?;
        tracing::info!("accepted peering connection {id} in {}", accepter.region);
    }
    let accepter_tagged = dr
        .peerings
        .iter()
        .any(|p| p.object_id() == Some(id.as_str()));
    if !accepter_tagged {
        accepter
            .ec2()
            .create_tags()
            .resources(&id)
            .set_tags(Some(to_ec2_tags(&spec.tags(Role::Dr, part::PEERING))))
            .send()
            .await
            .map_err(api_error("tagging", PEERING, &id, &accepter.region))?;
    }
    wait::peering_active(requester, &id, deadline).await?;
    Ok(id)
}

async fn request_peering(
    requester: &RegionCtx,
    accepter: &RegionCtx,
    spec: &NetworkSpec,
    vpc_id: &str,
    peer_vpc_id: &str,
) -> Result<String, AwsError> {
    let label = format!("{}/{}", spec.id, part::PEERING);
    let out = requester
        .ec2()
        .create_vpc_peering_connection()
        .vpc_id(vpc_id)
        .peer_vpc_id(peer_vpc_id)
        .peer_region(&accepter.region)
        .tag_specifications(tag_specification(
            ResourceType::VpcPeeringConnection,
            &spec.tags(Role::Primary, part::PEERING),
        ))
        .send()
        .await
        .map_err(api_error("creating", PEERING, &label, &requester.region))?;
    let id = out
        .vpc_peering_connection
        .and_then(|p| p.vpc_peering_connection_id)
        .ok_or_else(|| no_id("creating", PEERING, &label, &requester.region))?;
    tracing::info!(
        "requested peering connection {id} from {vpc_id} ({}) to {peer_vpc_id} ({})",
        requester.region,
        accepter.region
    );
    Ok(id)
}

async fn delete_stale_peering(rc: &RegionCtx, id: &str) -> Result<(), AwsError> {
    let result = rc
        .ec2()
        .delete_vpc_peering_connection()
        .vpc_peering_connection_id(id)
        .send()
        .await
        .map_err(api_error("deleting", PEERING, id, &rc.region));
    ok_if_not_found(result)?;
    tracing::info!("deleted stale peering connection {id} in {}", rc.region);
    Ok(())
}

pub(super) async fn add_peer_routes(
    rc: &RegionCtx,
    route_tables: &[RouteTable],
    peer_cidr: &str,
    pcx_id: &str,
) -> Result<(), AwsError> {
    try_join_all(
        route_tables
            .iter()
            .map(|rt| ensure_route(rc, rt, peer_cidr, Target::Peering(pcx_id))),
    )
    .await?;
    Ok(())
}
