//! Status checks and waiters for the network's objects, all bounded by the caller's deadline.

use std::future::Future;

use aws_sdk_ec2::types::{NatGatewayState, VpcPeeringConnectionStateReasonCode, VpcState};

use crate::aws::{wait_for, AwsError, Deadline, Poll, RegionCtx};

use super::find::{
    find_nat_gateway_by_id, find_peering_by_id, find_vpc_by_id, peering_state, state_name,
    NAT_GATEWAY, PEERING, VPC,
};

/// What reads of an object just created may briefly answer (EC2 is eventually consistent).
const NOT_YET_VISIBLE: &str = "not yet visible";

pub(super) async fn vpc_available(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let ec2 = rc.ec2();
    wait_for(deadline, VPC, id, &rc.region, || async {
        match find_vpc_by_id(&ec2, &rc.region, id).await {
            Ok(vpc) if vpc.state() == Some(&VpcState::Available) => Ok(Poll::Ready(())),
            Ok(vpc) => Ok(Poll::Pending(state_name(vpc.state()))),
            Err(err) if err.is_not_found() => Ok(Poll::Pending(NOT_YET_VISIBLE.into())),
            Err(err) => Err(err),
        }
    })
    .await
}

/// Waits until a new NAT gateway is `available`; a NAT gateway that fails or disappears ends the
/// wait with AWS's reason.
pub(super) async fn nat_available(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let ec2 = rc.ec2();
    wait_for(deadline, NAT_GATEWAY, id, &rc.region, || async {
        let nat = match find_nat_gateway_by_id(&ec2, &rc.region, id).await {
            Ok(nat) => nat,
            Err(err) if err.is_not_found() => return Ok(Poll::Pending(NOT_YET_VISIBLE.into())),
            Err(err) => return Err(err),
        };
        match nat.state() {
            Some(NatGatewayState::Available) => Ok(Poll::Ready(())),
            Some(
                NatGatewayState::Failed | NatGatewayState::Deleting | NatGatewayState::Deleted,
            ) => Err(AwsError::api(
                "creating",
                NAT_GATEWAY,
                id,
                &rc.region,
                nat.failure_code().map(str::to_owned),
                nat.failure_message().map_or_else(
                    || format!("the NAT gateway is {}", state_name(nat.state())),
                    str::to_owned,
                ),
            )),
            state => Ok(Poll::Pending(state_name(state))),
        }
    })
    .await
}

pub(super) async fn nat_deleted(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let ec2 = rc.ec2();
    wait_for(deadline, NAT_GATEWAY, id, &rc.region, || async {
        match find_nat_gateway_by_id(&ec2, &rc.region, id).await {
            Ok(nat) if nat.state() == Some(&NatGatewayState::Deleted) => Ok(Poll::Ready(())),
            Ok(nat) => Ok(Poll::Pending(state_name(nat.state()))),
            Err(err) if err.is_not_found() => Ok(Poll::Ready(())),
            Err(err) => Err(err),
        }
    })
    .await
}

/// Waits until the accepter's region sees the request. Returns whether it still needs
/// accepting (`pending-acceptance`) or already was (`provisioning`, `active`).
pub(super) async fn peering_acceptable(
    accepter: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<bool, AwsError> {
    use VpcPeeringConnectionStateReasonCode as S;
    let ec2 = accepter.ec2();
    wait_for(deadline, PEERING, id, &accepter.region, || async {
        let pcx = match find_peering_by_id(&ec2, &accepter.region, id).await {
            Ok(pcx) => pcx,
            Err(err) if err.is_not_found() => return Ok(Poll::Pending(NOT_YET_VISIBLE.into())),
            Err(err) => return Err(err),
        };
        match peering_state(&pcx) {
            Some(S::PendingAcceptance) => Ok(Poll::Ready(true)),
            Some(S::Provisioning | S::Active) => Ok(Poll::Ready(false)),
            Some(S::InitiatingRequest) | None => Ok(Poll::Pending(state_name(peering_state(&pcx)))),
            Some(state) => Err(peering_failed(accepter, id, state.as_str(), &pcx)),
        }
    })
    .await
}

pub(super) async fn peering_active(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    use VpcPeeringConnectionStateReasonCode as S;
    let ec2 = rc.ec2();
    wait_for(deadline, PEERING, id, &rc.region, || async {
        let pcx = find_peering_by_id(&ec2, &rc.region, id).await?;
        match peering_state(&pcx) {
            Some(S::Active) => Ok(Poll::Ready(())),
            Some(S::Deleted | S::Deleting | S::Failed | S::Rejected | S::Expired) => Err(
                peering_failed(rc, id, &state_name(peering_state(&pcx)), &pcx),
            ),
            state => Ok(Poll::Pending(state_name(state))),
        }
    })
    .await
}

pub(super) async fn peering_deleted(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    use VpcPeeringConnectionStateReasonCode as S;
    let ec2 = rc.ec2();
    wait_for(deadline, PEERING, id, &rc.region, || async {
        match find_peering_by_id(&ec2, &rc.region, id).await {
            Ok(pcx) => match peering_state(&pcx) {
                Some(S::Deleted | S::Rejected | S::Failed | S::Expired) => Ok(Poll::Ready(())),
                state => Ok(Poll::Pending(state_name(state))),
            },
            Err(err) if err.is_not_found() => Ok(Poll::Ready(())),
            Err(err) => Err(err),
        }
    })
    .await
}

fn peering_failed(
    rc: &RegionCtx,
    id: &str,
    state: &str,
    pcx: &aws_sdk_ec2::types::VpcPeeringConnection,
) -> AwsError {
    let reason = pcx.status().and_then(|s| s.message()).unwrap_or_default();
    AwsError::api(
        "creating",
        PEERING,
        id,
        &rc.region,
        None,
        format!("the peering connection is {state}: {reason}"),
    )
}

/// Runs `attempt` until it stops failing with `DependencyViolation` (or `InUse`), which EC2
/// answers while a dependant — typically a NAT gateway's network interface — is still being
/// released. Any other error, or the deadline, ends the retries.
pub(super) async fn retry_while_in_use<F, Fut>(
    deadline: Deadline,
    what: &str,
    id: &str,
    region: &str,
    mut attempt: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    wait_for(deadline, what, id, region, || {
        let fut = attempt();
        async move {
            match fut.await {
                Ok(()) => Ok(Poll::Ready(())),
                Err(err) if is_in_use(&err) => Ok(Poll::Pending(err.to_string())),
                Err(err) => Err(err),
            }
        }
    })
    .await
}

fn is_in_use(err: &AwsError) -> bool {
    err.is_dependency_violation()
        || matches!(
            err.code(),
            Some("InvalidIPAddress.InUse" | "InvalidAddress.Locked")
        )
}
