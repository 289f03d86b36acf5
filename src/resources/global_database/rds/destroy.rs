//! [`destroy`]: remove the whole database from both regions in one run, in the order Aurora
//! requires: detach the secondaries and wait until they stand alone, detach the writer, delete
//! the global cluster, the instances, the clusters (with final snapshots unless skipped), then
//! the subnet, parameter and security groups, the secret and the KMS keys. Role-aware: after a
//! failover the writer is in the DR region and the primary region's cluster is the secondary.
//! Idempotent: whatever is already gone counts as deleted.

use std::time::SystemTime;

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use futures::future::try_join_all;

use crate::aws::error::ok_if_not_found;
use crate::aws::kms;
use crate::aws::{wait_for, AwsContext, AwsError, Deadline, Poll, RegionCtx, Role};

use super::clusters::delete_instance;
use super::find::{
    aws_error, find_instances, find_unaliased_keys, CLUSTER, GLOBAL_CLUSTER, KMS_KEY,
};
use super::foundation::delete_foundation;
use super::observe::load;
use super::secret::delete_secret;
use super::{arn_region, part, wait, GlobalInfo, KeyInfo, Names, Observed};

/// What a destroy left behind on purpose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestroyOutcome {
    /// Final snapshots taken (`region/identifier`).
    pub final_snapshots: Vec<String>,
    /// KMS keys kept because snapshots or AWS Backup recovery points are encrypted with them:
    /// `region/alias (what uses it)`.
    pub kept_keys: Vec<String>,
}

/// The same 30-day window as every other key drpair schedules for deletion.
const KEY_DELETION_WINDOW_DAYS: i32 = kms::DELETION_WINDOW_DAYS;

pub async fn destroy(
    ctx: &AwsContext,
    names: &Names,
    skip_final_snapshot: bool,
    secret_recovery_window_days: i64,
    deadline: Deadline,
) -> Result<DestroyOutcome, AwsError> {
    let global_id = names.global_cluster();
    let observed = Box::pin(load(ctx, names)).await?;
    let mut outcome = DestroyOutcome::default();
    if observed.is_empty() {
        tracing::info!("Aurora global database {global_id} has nothing left to destroy");
        return Ok(outcome);
    }
    tracing::info!("destroying Aurora global database {global_id}");
    if let Some(global) = &observed.global {
        Box::pin(detach_members(ctx, global, deadline)).await?;
        delete_global(&ctx.primary, &global_id, deadline).await?;
    }
    let stamp = timestamp();
    let snapshots = tokio::try_join!(
        Box::pin(delete_cluster(
            &ctx.primary,
            names,
            &observed,
            skip_final_snapshot,
            &stamp,
            deadline
        )),
        Box::pin(delete_cluster(
            &ctx.dr,
            names,
            &observed,
            skip_final_snapshot,
            &stamp,
            deadline
        )),
    )?;
    outcome.final_snapshots = [snapshots.0, snapshots.1].into_iter().flatten().collect();
    tokio::try_join!(
        Box::pin(delete_foundation(
            &ctx.primary,
            names,
            &observed.primary,
            deadline
        )),
        Box::pin(delete_foundation(&ctx.dr, names, &observed.dr, deadline)),
    )?;
    Box::pin(delete_secret(ctx, names, secret_recovery_window_days)).await?;
    let kept = tokio::try_join!(
        Box::pin(delete_key(&ctx.primary, names, &observed)),
        Box::pin(delete_key(&ctx.dr, names, &observed)),
    )?;
    outcome.kept_keys = [kept.0, kept.1].into_iter().flatten().collect();
    tracing::info!("destroyed Aurora global database {global_id}");
    Ok(outcome)
}

/// Removes every member from the global cluster, secondaries first, waiting until each stands
/// alone (a detached secondary is `promoting` for a while and cannot be deleted before).
async fn detach_members(
    ctx: &AwsContext,
    global: &GlobalInfo,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let (writers, secondaries): (Vec<_>, Vec<_>) = global.members.iter().partition(|m| m.is_writer);
    for batch in [secondaries, writers] {
        try_join_all(batch.iter().map(|m| async move {
            let rc = region_of(ctx, &global.id, &m.cluster_arn)?;
            detach(rc, &global.id, &m.cluster_arn, deadline).await
        }))
        .await?;
    }
    Ok(())
}

fn region_of<'a>(
    ctx: &'a AwsContext,
    global_id: &str,
    cluster_arn: &str,
) -> Result<&'a RegionCtx, AwsError> {
    let region = arn_region(cluster_arn).unwrap_or_default();
    Role::BOTH
        .into_iter()
        .map(|r| ctx.region(r))
        .find(|rc| rc.region == region)
        .ok_or_else(|| {
            AwsError::api(
                "deleting",
                GLOBAL_CLUSTER,
                global_id,
                &ctx.primary.region,
                None,
                format!("it has a member outside {} and {}: {cluster_arn}; remove it from the global cluster first", ctx.primary.region, ctx.dr.region),
            )
        })
}

async fn detach(
    rc: &RegionCtx,
    global_id: &str,
    cluster_arn: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let cluster_id = cluster_arn.rsplit(':').next().unwrap_or(cluster_arn);
    let out = rc
        .rds()
        .remove_from_global_cluster()
        .global_cluster_identifier(global_id)
        .db_cluster_identifier(cluster_arn)
        .send()
        .await
        .map_err(aws_error(
            "removing from the global cluster",
            CLUSTER,
            cluster_id,
            &rc.region,
        ));
    ok_if_not_found(out)?;
    tracing::info!("removed {cluster_id} from {global_id}; waiting until it stands alone");
    wait::cluster_standalone(rc, cluster_id, deadline).await?;
    wait::left_global(rc, global_id, cluster_arn, deadline).await
}

/// Deletes the global cluster once its members are gone. AWS is eventually consistent here:
/// right after the last member left, DeleteGlobalCluster keeps answering
/// `InvalidGlobalClusterStateFault` "Global Cluster ... is not empty" for a while, so that answer
/// is retried until the destroy's deadline (as terraform-provider-aws's `aws_rds_global_cluster`
/// delete does: "Allow for eventual consistency").
async fn delete_global(rc: &RegionCtx, id: &str, deadline: Deadline) -> Result<(), AwsError> {
    wait_for(deadline, GLOBAL_CLUSTER, id, &rc.region, || async {
        let out = rc
            .rds()
            .delete_global_cluster()
            .global_cluster_identifier(id)
            .send()
            .await
            .map_err(aws_error("deleting", GLOBAL_CLUSTER, id, &rc.region));
        match ok_if_not_found(out) {
            Ok(_) => Ok(Poll::Ready(())),
            Err(e) if still_not_empty(&e) => Ok(Poll::Pending(
                "not empty yet (its last member left moments ago)".into(),
            )),
            Err(e) => Err(e),
        }
    })
    .await?;
    tracing::info!("deleting global cluster {id}");
    wait::global_deleted(rc, id, deadline).await
}

/// The answer DeleteGlobalCluster gives while AWS still counts members that already left.
fn still_not_empty(err: &AwsError) -> bool {
    err.code() == Some("InvalidGlobalClusterStateFault") && err.to_string().contains("is not empty")
}

/// Deletes every instance of the region's cluster, then the cluster. Returns the final
/// snapshot's name when one was taken.
async fn delete_cluster(
    rc: &RegionCtx,
    names: &Names,
    observed: &Observed,
    skip_final_snapshot: bool,
    stamp: &str,
    deadline: Deadline,
) -> Result<Option<String>, AwsError> {
    let id = names.cluster(rc.role);
    let Some(cluster) = &observed.region(rc.role).cluster else {
        return Ok(None);
    };
    let instances = find_instances(rc, &id).await?;
    try_join_all(
        instances
            .iter()
            .filter_map(|i| i.db_instance_identifier())
            .map(|instance| delete_instance(rc, instance, deadline)),
    )
    .await?;
    let snapshot = (!skip_final_snapshot).then(|| format!("{id}-final-{stamp}"));
    let request = rc.rds().delete_db_cluster().db_cluster_identifier(&id);
    let request = match &snapshot {
        Some(name) => request.final_db_snapshot_identifier(name),
        None => request.skip_final_snapshot(true),
    };
    let out = request
        .send()
        .await
        .map_err(aws_error("deleting", CLUSTER, &id, &rc.region));
    let deleted = match ok_if_not_found(out) {
        Ok(found) => found.is_some(),
        // Already being deleted by an earlier, interrupted destroy.
        Err(e)
            if e.code() == Some("InvalidDBClusterStateFault") && cluster.status == "deleting" =>
        {
            false
        }
        Err(e) => return Err(e),
    };
    tracing::info!("deleting Aurora cluster {id} in {}", rc.region);
    wait::cluster_deleted(rc, &id, deadline).await?;
    Ok(snapshot
        .filter(|_| deleted)
        .map(|s| format!("{}/{s}", rc.region)))
}

/// Schedules the region's key for deletion, then deletes its alias, unless something that can
/// still be restored is encrypted with it: a manual snapshot of the cluster (a final snapshot),
/// or an AWS Backup recovery point (a backup or continuous backup of the cluster: Aurora is not
/// fully managed by AWS Backup, so its recovery points keep the cluster's key, "Encryption for
/// backups in AWS Backup"). Then the key and its alias are kept, or those backups could never
/// be restored once the deletion window ends. Returns the kept key and why.
///
/// Retained automated backups (DescribeDBClusterAutomatedBackups) are not looked for: the
/// clusters are deleted without `DeleteAutomatedBackups = false`, so Aurora removes their
/// automated backups, "unless the AWS Backup policy specifies a point-in-time restore rule"
/// (API_DeleteDBCluster), and such a rule's continuous recovery point is found among the
/// recovery points.
async fn delete_key(
    rc: &RegionCtx,
    names: &Names,
    observed: &Observed,
) -> Result<Option<String>, AwsError> {
    let alias = names.key_alias(rc.role);
    let aliased = observed.region(rc.role).key.clone();
    let mut keys = Vec::new();
    match &aliased {
        Some(key) => keys.push(key.clone()),
        None => keys.extend(find_unaliased_keys(rc, &names.owner(), part::KMS_KEY).await?),
    }
    // In this order, a destroy stopped at any point leaves either a usable key under its alias
    // or a key pending deletion still under it: read keeps the resource while the alias is
    // there, so the next destroy finishes. (Alias first would leave a live key nothing names.)
    let live: Vec<_> = keys
        .into_iter()
        .filter(|k| k.state != "PendingDeletion")
        .collect();
    if !live.is_empty() {
        if let Some(kept) = keys_in_use(rc, names, observed, &live).await? {
            return Ok(Some(kept));
        }
    }
    let kms = rc.kms();
    for key in live {
        let out = kms
            .schedule_key_deletion()
            .key_id(&key.key_id)
            .pending_window_in_days(KEY_DELETION_WINDOW_DAYS)
            .send()
            .await
            .map_err(aws_error(
                "scheduling the deletion of",
                KMS_KEY,
                &key.key_id,
                &rc.region,
            ));
        match ok_if_not_found(out) {
            Ok(_) => {}
            Err(e) if e.code() == Some("KMSInvalidStateException") => {}
            Err(e) => return Err(e),
        }
        tracing::info!(
            "scheduled KMS key {} in {} for deletion in {KEY_DELETION_WINDOW_DAYS} days",
            key.key_id,
            rc.region
        );
    }
    if aliased.is_some() {
        let out = kms
            .delete_alias()
            .alias_name(&alias)
            .send()
            .await
            .map_err(aws_error(
                "deleting the alias of",
                KMS_KEY,
                &alias,
                &rc.region,
            ));
        ok_if_not_found(out)?;
    }
    Ok(None)
}

/// Why the region's live keys must be kept (a manual snapshot or an AWS Backup recovery point
/// is encrypted with them), as `region/alias (used by …)`; None when nothing uses them.
async fn keys_in_use(
    rc: &RegionCtx,
    names: &Names,
    observed: &Observed,
    keys: &[KeyInfo],
) -> Result<Option<String>, AwsError> {
    let alias = names.key_alias(rc.role);
    let key_arns: Vec<&str> = keys.iter().map(|k| k.arn.as_str()).collect();
    let mut users = Vec::new();
    if snapshot_uses_keys(rc, &names.cluster(rc.role), key_arns.iter().copied()).await? {
        users.push(format!("manual snapshots of {}", names.cluster(rc.role)));
    }
    let cluster_arn = observed
        .region(rc.role)
        .cluster
        .as_ref()
        .map(|c| c.arn.as_str())
        .filter(|a| !a.is_empty());
    let points = kms::recovery_points_using(rc, &key_arns, cluster_arn.as_slice()).await?;
    if !points.is_empty() {
        users.push(kms::describe_recovery_points(&points));
    }
    if users.is_empty() {
        return Ok(None);
    }
    let why = users.join(" and ");
    tracing::warn!(
        "keeping KMS key {alias} in {}: {why} encrypted with it must stay restorable",
        rc.region
    );
    Ok(Some(format!("{}/{alias} (used by {why})", rc.region)))
}

async fn snapshot_uses_keys<'a>(
    rc: &RegionCtx,
    cluster_id: &str,
    key_arns: impl Iterator<Item = &'a str>,
) -> Result<bool, AwsError> {
    let key_arns: Vec<&str> = key_arns.collect();
    let rds = rc.rds();
    let mut marker = None;
    loop {
        let page = rds
            .describe_db_cluster_snapshots()
            .db_cluster_identifier(cluster_id)
            .snapshot_type("manual")
            .set_marker(marker.take())
            .send()
            .await
            .map_err(aws_error(
                "listing the snapshots of",
                CLUSTER,
                cluster_id,
                &rc.region,
            ));
        let Some(page) = ok_if_not_found(page)? else {
            return Ok(false);
        };
        if page
            .db_cluster_snapshots()
            .iter()
            .any(|s| s.kms_key_id().is_some_and(|k| key_arns.contains(&k)))
        {
            return Ok(true);
        }
        match page.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => return Ok(false),
        }
    }
}

/// `YYYYMMDDHHMMSS` in UTC, for final snapshot names.
fn timestamp() -> String {
    stamp_of(SystemTime::now())
}

fn stamp_of(t: SystemTime) -> String {
    let text = DateTime::from(t).fmt(Format::DateTime).unwrap_or_default();
    text.chars().filter(char::is_ascii_digit).take(14).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn not_empty_is_retried() {
        let fault = |code: &str, message: &str| {
            AwsError::api(
                "deleting",
                GLOBAL_CLUSTER,
                "g",
                "us-east-1",
                Some(code.into()),
                message,
            )
        };
        assert!(still_not_empty(&fault(
            "InvalidGlobalClusterStateFault",
            "Global Cluster arn:aws:rds::123456789012:global-cluster:g is not empty"
        )));
        assert!(!still_not_empty(&fault(
            "InvalidGlobalClusterStateFault",
            "Global cluster g is in failing-over state."
        )));
        assert!(!still_not_empty(&fault(
            "InvalidParameterCombination",
            "Cannot delete protected Global Cluster, please disable deletion protection and try again."
        )));
    }

    #[test]
    fn snapshot_stamps() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(stamp_of(t), "20261118110640");
    }
}
