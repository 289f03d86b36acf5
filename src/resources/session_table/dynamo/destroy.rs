//! [`destroy`]: remove the DR replica (and wait until it is gone), delete the source table (and
//! wait), then schedule both KMS keys for deletion and remove their aliases. Anything already
//! gone counts as removed, so destroy finishes in one run and may be run again.

use aws_sdk_dynamodb::types::{
    DeleteReplicationGroupMemberAction, ReplicationGroupUpdate, TableDescription,
};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::tags::OWNER_TAG;
use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx};

use super::find::{self, REPLICA, TABLE};
use super::{key_alias, kms, owner_tag_value};

/// Removes the session table `name` from both regions. `known_keys` are the key ARNs recorded
/// in state (primary, DR), used when an alias is already gone.
pub async fn destroy(
    ctx: &AwsContext,
    name: &str,
    known_keys: [Option<&str>; 2],
    deadline: Deadline,
) -> Result<(), AwsError> {
    tracing::info!(
        "destroying session table {name} in {} and {}",
        ctx.primary.region,
        ctx.dr.region
    );
    if let Some(source) = find::describe_table(&ctx.primary, name).await? {
        refuse_foreign(&ctx.primary, name, &source).await?;
    }
    remove_replica(ctx, name, deadline).await?;
    delete_table(&ctx.primary, name, deadline).await?;
    let (alias, owner) = (key_alias(name), owner_tag_value(name));
    let [primary_key, dr_key] = known_keys;
    tokio::try_join!(
        kms::destroy_key(&ctx.primary, &alias, &owner, primary_key),
        kms::destroy_key(&ctx.dr, &alias, &owner, dr_key),
    )?;
    tracing::info!("destroyed session table {name}");
    Ok(())
}

/// Takes the DR replica out of the global table and waits until its table is gone. A table left
/// in the DR region on its own (its source deleted out of band) is deleted if it is ours.
async fn remove_replica(ctx: &AwsContext, name: &str, deadline: Deadline) -> Result<(), AwsError> {
    let (primary, dr) = (&ctx.primary, &ctx.dr);
    if let Some(source) = find::describe_table(primary, name).await? {
        if find::status(&source) == "DELETING" {
            find::wait_table_gone(primary, name, deadline).await?;
        } else if let Some(member) = find::replica_member(&source, &dr.region) {
            if member.status != "DELETING" {
                find::wait_replica(primary, name, &dr.region, true, deadline)
                    .await
                    .or_else(|e| match e {
                        // A failed replica is removed all the same.
                        AwsError::Api(ref f) if f.code.as_deref() == Some("CREATION_FAILED") => {
                            Ok(source.clone())
                        }
                        other => Err(other),
                    })?;
                let delete = DeleteReplicationGroupMemberAction::builder()
                    .region_name(&dr.region)
                    .build()
                    .map_err(|e| AwsError::Config(format!("building a replica removal: {e}")))?;
                tracing::info!("removing the replica of {name} in {}", dr.region);
                let sent = primary
                    .dynamodb()
                    .update_table()
                    .table_name(name)
                    .replica_updates(ReplicationGroupUpdate::builder().delete(delete).build())
                    .send()
                    .await
                    .map_err(api_error("deleting", REPLICA, name, &dr.region));
                ok_if_not_found(sent)?;
            }
            find::wait_replica(primary, name, &dr.region, false, deadline).await?;
        }
    }
    match find::describe_table(dr, name).await? {
        None => Ok(()),
        Some(t) if find::status(&t) == "DELETING" => {
            find::wait_table_gone(dr, name, deadline).await
        }
        Some(t) => {
            let tags = find::list_tags(dr, t.table_arn().unwrap_or_default()).await?;
            if tags.get(OWNER_TAG) == Some(&owner_tag_value(name)) {
                delete_table(dr, name, deadline).await
            } else {
                tracing::warn!(
                    "leaving DynamoDB table {name} in {}: it is not tagged as owned by this resource",
                    dr.region
                );
                Ok(())
            }
        }
    }
}

/// State names the table, so an untagged one (imported) is ours; another owner's is not.
async fn refuse_foreign(rc: &RegionCtx, name: &str, t: &TableDescription) -> Result<(), AwsError> {
    let tags = find::list_tags(rc, t.table_arn().unwrap_or_default()).await?;
    let owner = owner_tag_value(name);
    match tags.get(OWNER_TAG).filter(|o| **o != owner) {
        Some(other) => Err(AwsError::api(
            "deleting",
            TABLE,
            name,
            &rc.region,
            None,
            format!("the table is owned by {other}, not {owner}; take it out of this state with `terraform state rm` instead"),
        )),
        None => Ok(()),
    }
}

/// Deletes one region's table and waits until it is gone; a missing table is fine.
async fn delete_table(rc: &RegionCtx, name: &str, deadline: Deadline) -> Result<(), AwsError> {
    match find::describe_table(rc, name).await? {
        None => return Ok(()),
        Some(t) if find::status(&t) == "DELETING" => {}
        Some(_) => {
            find::wait_table_active(rc, name, deadline).await?;
            tracing::info!("deleting DynamoDB table {name} in {}", rc.region);
            let sent = rc
                .dynamodb()
                .delete_table()
                .table_name(name)
                .send()
                .await
                .map_err(api_error("deleting", TABLE, name, &rc.region));
            ok_if_not_found(sent)?;
        }
    }
    find::wait_table_gone(rc, name, deadline).await
}
