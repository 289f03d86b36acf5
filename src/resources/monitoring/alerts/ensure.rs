//! Create, adopt and repair: each region's key, topic, subscriptions and alarms are looked up by
//! their deterministic names and only what is missing or different is written, so re-running
//! completes an interrupted create and repairs out-of-band changes.

use crate::aws::iam::{caller_account, Account};
use crate::aws::kms::ensure_key;
use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx};

use super::cloudwatch::ensure_alarms;
use super::observe::observe;
use super::topics::ensure_topic;
use super::{MonitoringSpec, ObservedMonitoring};

/// Brings both regions to the spec and returns what exists afterwards. Objects of the same name
/// that are untagged are adopted only when `adopt_untagged` (after an import). On failure the
/// error comes with what exists at that point, so the caller can record it for destroy.
pub async fn ensure(
    ctx: &AwsContext,
    spec: &MonitoringSpec,
    adopt_untagged: bool,
    deadline: Deadline,
) -> Result<ObservedMonitoring, (AwsError, Option<ObservedMonitoring>)> {
    tracing::info!(
        "ensuring monitoring {} in {} and {}",
        spec.owner(),
        ctx.primary.region,
        ctx.dr.region
    );
    let work = async {
        let account = caller_account(&ctx.primary).await?;
        tokio::try_join!(
            ensure_region(&ctx.primary, spec, &account, adopt_untagged),
            ensure_region(&ctx.dr, spec, &account, adopt_untagged),
        )?;
        observe(ctx, spec).await
    };
    let result = match tokio::time::timeout(deadline.remaining(), work).await {
        Ok(result) => result,
        Err(_) => Err(AwsError::Timeout {
            what: "monitoring".into(),
            id: spec.topic_name.clone(),
            region: format!("{}+{}", ctx.primary.region, ctx.dr.region),
            waited_secs: 0,
            last_state: "keys, topics and alarms not all written".into(),
        }),
    };
    match result {
        Ok(observed) => Ok(observed),
        Err(err) => {
            tracing::warn!("monitoring {} is incomplete: {err}", spec.owner());
            let partial = observe(ctx, spec).await.ok().filter(|o| o.exists());
            Err((err, partial))
        }
    }
}

async fn ensure_region(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    account: &Account,
    adopt_untagged: bool,
) -> Result<(), AwsError> {
    let key = ensure_key(
        rc,
        &spec.key_spec(rc.role, &rc.region, account),
        adopt_untagged,
    )
    .await?;
    let topic_arn = ensure_topic(rc, spec, account, &key, adopt_untagged).await?;
    ensure_alarms(rc, spec, &topic_arn, adopt_untagged).await
}
