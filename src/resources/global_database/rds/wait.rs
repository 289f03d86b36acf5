//! Waiters for the database's objects, all bounded by the operation's one deadline.

use crate::aws::{wait_for, AwsError, Deadline, Poll, RegionCtx};

use super::find::{
    find_cluster, find_global_cluster, find_instance, CLUSTER, GLOBAL_CLUSTER, INSTANCE,
};
use super::ClusterInfo;

/// What reads of an object just created may briefly answer.
const NOT_YET_VISIBLE: &str = "not yet visible";

/// Cluster and instance states that will not become `available` without someone's help.
const STUCK: &[&str] = &[
    "failed",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "incompatible-network",
    "incompatible-parameters",
    "incompatible-restore",
    "storage-full",
];

fn stuck(verb: &str, what: &str, id: &str, region: &str, status: &str) -> AwsError {
    AwsError::api(
        verb,
        what,
        id,
        region,
        None,
        format!("it is in state {status:?}, which needs attention in the RDS console before drpair can continue"),
    )
}

pub(super) async fn cluster_available(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, CLUSTER, id, &rc.region, || async {
        match find_cluster(rc, id).await? {
            Some(c) if c.status == "available" => Ok(Poll::Ready(())),
            Some(c) if STUCK.contains(&c.status.as_str()) => {
                Err(stuck("waiting for", CLUSTER, id, &rc.region, &c.status))
            }
            Some(c) => Ok(Poll::Pending(c.status)),
            None => Ok(Poll::Pending(NOT_YET_VISIBLE.into())),
        }
    })
    .await
}

/// Waits until a ModifyDBCluster has taken effect: the cluster reports the change (`reflected`),
/// has nothing pending and is `available`. AWS starts a modification asynchronously: right after
/// the call the cluster can still read `available` with its old values (terraform-provider-aws
/// waits 30 s before its first read for this reason), so a wait on the status alone would return
/// before the change even began. `change` names it in progress logs and timeouts.
pub(super) async fn cluster_modified(
    rc: &RegionCtx,
    id: &str,
    change: &str,
    reflected: impl Fn(&ClusterInfo) -> bool,
    deadline: Deadline,
) -> Result<ClusterInfo, AwsError> {
    wait_for(deadline, CLUSTER, id, &rc.region, || async {
        match find_cluster(rc, id).await? {
            Some(c) if STUCK.contains(&c.status.as_str()) => {
                Err(stuck("modifying", CLUSTER, id, &rc.region, &c.status))
            }
            Some(c)
                if c.status == "available"
                    && c.pending_engine_version.is_none()
                    && !c.pending_master_password
                    && reflected(&c) =>
            {
                Ok(Poll::Ready(c))
            }
            Some(c) => Ok(Poll::Pending(format!("{}, waiting for {change}", c.status))),
            None => Ok(Poll::Pending(NOT_YET_VISIBLE.into())),
        }
    })
    .await
}

/// Waits until a cluster removed from its global cluster stands alone and is `available` (a
/// detached secondary is `promoting` for a while); a cluster that is gone counts as done.
pub(super) async fn cluster_standalone(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, CLUSTER, id, &rc.region, || async {
        match find_cluster(rc, id).await? {
            None => Ok(Poll::Ready(())),
            Some(c) if c.global_cluster_id.is_some() => Ok(Poll::Pending(format!(
                "{} (still in a global cluster)",
                c.status
            ))),
            Some(c) if c.status == "available" => Ok(Poll::Ready(())),
            Some(c) if STUCK.contains(&c.status.as_str()) => {
                Err(stuck("detaching", CLUSTER, id, &rc.region, &c.status))
            }
            Some(c) => Ok(Poll::Pending(c.status)),
        }
    })
    .await
}

pub(super) async fn cluster_deleted(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, CLUSTER, id, &rc.region, || async {
        Ok(match find_cluster(rc, id).await? {
            None => Poll::Ready(()),
            Some(c) => Poll::Pending(c.status),
        })
    })
    .await
}

pub(super) async fn instance_available(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, INSTANCE, id, &rc.region, || async {
        let Some(i) = find_instance(rc, id).await? else {
            return Ok(Poll::Pending(NOT_YET_VISIBLE.into()));
        };
        let status = i.db_instance_status().unwrap_or_default();
        let pending_class = i
            .pending_modified_values()
            .and_then(|p| p.db_instance_class())
            .is_some();
        match status {
            "available" if !pending_class => Ok(Poll::Ready(())),
            s if STUCK.contains(&s) => Err(stuck("waiting for", INSTANCE, id, &rc.region, s)),
            s => Ok(Poll::Pending(s.to_owned())),
        }
    })
    .await
}

/// Waits until an instance runs as `class` and is `available` with no class change pending (see
/// [`cluster_modified`] for why the status alone is not enough).
pub(super) async fn instance_resized(
    rc: &RegionCtx,
    id: &str,
    class: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, INSTANCE, id, &rc.region, || async {
        let Some(i) = find_instance(rc, id).await? else {
            return Ok(Poll::Pending(NOT_YET_VISIBLE.into()));
        };
        let status = i.db_instance_status().unwrap_or_default();
        let pending = i
            .pending_modified_values()
            .and_then(|p| p.db_instance_class());
        let current = i.db_instance_class().unwrap_or_default();
        match status {
            "available" if pending.is_none() && current == class => Ok(Poll::Ready(())),
            s if STUCK.contains(&s) => Err(stuck("resizing", INSTANCE, id, &rc.region, s)),
            s => Ok(Poll::Pending(format!(
                "{s} as {current}, waiting for {class}"
            ))),
        }
    })
    .await
}

pub(super) async fn instance_deleted(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, INSTANCE, id, &rc.region, || async {
        Ok(match find_instance(rc, id).await? {
            None => Poll::Ready(()),
            Some(i) => Poll::Pending(i.db_instance_status().unwrap_or("deleting").to_owned()),
        })
    })
    .await
}

pub(super) async fn global_available(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, GLOBAL_CLUSTER, id, &rc.region, || async {
        match find_global_cluster(rc, id).await? {
            Some(g) if g.status == "available" => Ok(Poll::Ready(())),
            Some(g) => Ok(Poll::Pending(g.status)),
            None => Ok(Poll::Pending(NOT_YET_VISIBLE.into())),
        }
    })
    .await
}

/// Waits until the global cluster no longer lists this cluster as a member.
pub(super) async fn left_global(
    rc: &RegionCtx,
    global_id: &str,
    cluster_arn: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, GLOBAL_CLUSTER, global_id, &rc.region, || async {
        Ok(match find_global_cluster(rc, global_id).await? {
            Some(g) if g.is_member(cluster_arn) => {
                Poll::Pending(format!("{} still lists {cluster_arn}", g.status))
            }
            _ => Poll::Ready(()),
        })
    })
    .await
}

pub(super) async fn global_deleted(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, GLOBAL_CLUSTER, id, &rc.region, || async {
        Ok(match find_global_cluster(rc, id).await? {
            None => Poll::Ready(()),
            Some(g) => Poll::Pending(g.status),
        })
    })
    .await
}
