//! Ordered, idempotent teardown in one run: the metric stream and its role first (nothing new
//! is sent), then the Firehose stream (waited for) and its role, then the bucket emptied of
//! every version and deleted, then the keys (scheduled for deletion).

use crate::aws::iam::{caller_account, delete_role};
use crate::aws::kms::destroy_key;
use crate::aws::{AwsContext, AwsError, Deadline};

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
    let owner = spec.owner();
    delete_stream(&ctx.primary, &spec.name, &owner).await?;
    delete_role(&ctx.primary, &spec.stream_role_name(), &owner).await?;
    delete_firehose(&ctx.primary, &spec.name, &owner, deadline).await?;
    delete_role(&ctx.primary, &spec.delivery_role_name(), &owner).await?;
    delete_bucket(&ctx.dr, &spec.bucket_name(&account), &owner).await?;
    let alias = spec.key_alias();
    tokio::try_join!(
        destroy_key(&ctx.primary, &alias, &owner, known_keys[0]),
        destroy_key(&ctx.dr, &alias, &owner, known_keys[1]),
    )?;
    tracing::info!("metric stream {} is gone", spec.owner());
    Ok(())
}
