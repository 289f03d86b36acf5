//! Create, adopt and repair: each region's key, topic, subscriptions and alarms are looked up by
//! their deterministic names and only what is missing or different is written, so re-running
//! completes an interrupted create and repairs out-of-band changes.

use crate::aws::iam::{caller_account, Account};
use crate::aws::kms::ensure_key;
use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx};

use super::cloudwatch::{check_alarm_owners, ensure_alarms, load_alarms};
use super::observe::observe;
use super::topics::{check_owner, ensure_topic, find_topic};
use super::{topic_arn, MonitoringSpec, ObservedMonitoring};

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
        if !adopt_untagged {
            // Refuse before making anything, so a refusal leaves nothing behind in either region.
            tokio::try_join!(
                preflight(&ctx.primary, spec, &account),
                preflight(&ctx.dr, spec, &account),
            )?;
        }
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

/// Fails with [`NOT_OWNED`] when the region's topic or one of its wanted alarms exists without
/// this resource's owner tag.
async fn preflight(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    account: &Account,
) -> Result<(), AwsError> {
    if let Some(topic) = find_topic(rc, &topic_arn(account, &rc.region, &spec.topic_name)).await? {
        check_owner(rc, spec, &topic, false)?;
    }
    let existing = load_alarms(rc, spec).await?;
    check_alarm_owners(rc, spec, &existing, false)
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
