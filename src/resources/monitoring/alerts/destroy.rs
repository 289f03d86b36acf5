//! Ordered, idempotent teardown in both regions: alarms first (they point at the topics), then
//! the topics with their subscriptions, then the keys (scheduled for deletion).

use crate::aws::iam::{caller_account, Account};
use crate::aws::kms::destroy_key;
use crate::aws::tags::OWNER_TAG;
use crate::aws::{AwsContext, AwsError, RegionCtx};

use super::cloudwatch::{delete_alarms, load_alarms};
use super::topics::delete_topic;
use super::{topic_arn, MonitoringSpec};

/// Removes everything of the monitoring in both regions; what is already gone is skipped.
/// `known_keys` are the key ARNs state recorded (primary, DR), used when an alias is gone.
pub async fn destroy(
    ctx: &AwsContext,
    spec: &MonitoringSpec,
    known_keys: [Option<&str>; 2],
) -> Result<(), AwsError> {
    let account = caller_account(&ctx.primary).await?;
    tokio::try_join!(
        destroy_region(&ctx.primary, spec, &account, known_keys[0]),
        destroy_region(&ctx.dr, spec, &account, known_keys[1]),
    )?;
    tracing::info!("monitoring {} is gone", spec.owner());
    Ok(())
}

async fn destroy_region(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    account: &Account,
    known_key: Option<&str>,
) -> Result<(), AwsError> {
    let owner = spec.owner();
    let ours: Vec<String> = load_alarms(rc, spec)
        .await?
        .into_iter()
        .filter(|a| a.tags.get(OWNER_TAG) == Some(&owner))
        .map(|a| a.name)
        .collect();
    delete_alarms(rc, &ours).await?;
    delete_topic(rc, spec, &topic_arn(account, &rc.region, &spec.topic_name)).await?;
    destroy_key(rc, &spec.key_alias(), &owner, known_key).await
}
