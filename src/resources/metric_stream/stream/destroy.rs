//! Ordered, idempotent teardown in one run, both directions at once: the metric stream and its
//! role first (nothing new is sent), then the Firehose stream (waited for) and its role, then
//! the bucket emptied of every version and deleted; last the two keys (scheduled for deletion).

use crate::aws::iam::{caller_account, delete_role, Account};
use crate::aws::kms::destroy_key;
use crate::aws::{AwsContext, AwsError, Deadline, Role};

use super::bucket::delete_bucket;
use super::cloudwatch::delete_stream;
use super::firehose::delete_firehose;
use super::StreamSpec;

/// Removes everything of the metric stream in both regions. `known_keys` are the key ARNs
/// state recorded (primary, DR), used when an alias is gone.
pub async fn destroy(
    ctx: &AwsContext,
    spec: &StreamSpec,
    known_keys: [Option<&str>; 2],
    deadline: Deadline,
) -> Result<(), AwsError> {
    let account = caller_account(&ctx.primary).await?;
    tokio::try_join!(
        Box::pin(destroy_direction(
            ctx,
            spec,
            &account,
            Role::Primary,
            deadline
        )),
        Box::pin(destroy_direction(ctx, spec, &account, Role::Dr, deadline)),
    )?;
    let (alias, owner) = (spec.key_alias(), spec.owner());
    tokio::try_join!(
        destroy_key(&ctx.primary, &alias, &owner, known_keys[0]),
        destroy_key(&ctx.dr, &alias, &owner, known_keys[1]),
    )?;
    tracing::info!("metric stream {} is gone", spec.owner());
    Ok(())
}

/// The direction carrying `source`'s metrics, in order.
async fn destroy_direction(
    ctx: &AwsContext,
    spec: &StreamSpec,
    account: &Account,
    source: Role,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let owner = spec.owner();
    let (here, there) = (ctx.region(source), ctx.region(source.peer()));
    delete_stream(here, &spec.name, &owner).await?;
    delete_role(&ctx.primary, &spec.stream_role_name(source), &owner).await?;
    delete_firehose(here, &spec.name, &owner, deadline).await?;
    delete_role(&ctx.primary, &spec.delivery_role_name(source), &owner).await?;
    delete_bucket(there, &spec.bucket_name(account, source), &owner).await
}
