//! Create, adopt and repair, in dependency order: the keys, then both directions at once, each
//! its bucket (in the other region), delivery role, Firehose stream, stream role and metric
//! stream (started when stopped). Only what is missing or different is written.

use std::time::Instant;

use crate::aws::iam::{caller_account, ensure_role, find_role, Account, NOT_OWNED_CODE};
use crate::aws::kms::{ensure_key, RegionKey};
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::{AwsContext, AwsError, Deadline, Role};

use super::bucket::{ensure_bucket, find_bucket_tags, BUCKET};
use super::cloudwatch::{ensure_stream, find_stream, MetricStreamSpec, STREAM};
use super::firehose::{ensure_firehose, find_firehose, FirehoseSpec, FIREHOSE};
use super::observe::observe_with;
use super::{part, ObservedMetrics, StreamSpec};

/// Brings everything to the spec and returns what exists afterwards. Objects of the same names
/// that are untagged are adopted only when `adopt_untagged` (after an import). On failure the
/// error comes with what exists at that point, so the caller can record it for destroy.
pub async fn ensure(
    ctx: &AwsContext,
    spec: &StreamSpec,
    adopt_untagged: bool,
    deadline: Deadline,
) -> Result<ObservedMetrics, (AwsError, Option<ObservedMetrics>)> {
    tracing::info!(
        "ensuring metric stream {} in {} and {}, each region's metrics kept in the other",
        spec.owner(),
        ctx.primary.region,
        ctx.dr.region
    );
    let started = Instant::now();
    let work = async {
        let account = caller_account(&ctx.primary).await?;
        if !adopt_untagged {
            preflight(ctx, spec, &account.id).await?;
        }
        let (primary_key_spec, dr_key_spec) = (
            spec.key_spec(&account, Role::Primary, &ctx.primary.region),
            spec.key_spec(&account, Role::Dr, &ctx.dr.region),
        );
        let (primary_key, dr_key) = tokio::try_join!(
            ensure_key(&ctx.primary, &primary_key_spec, adopt_untagged),
            ensure_key(&ctx.dr, &dr_key_spec, adopt_untagged),
        )?;
        let keys = Keys {
            primary: &primary_key,
            dr: &dr_key,
        };
        tokio::try_join!(
            Box::pin(ensure_direction(
                ctx,
                spec,
                &account,
                Role::Primary,
                &keys,
                adopt_untagged,
                deadline
            )),
            Box::pin(ensure_direction(
                ctx,
                spec,
                &account,
                Role::Dr,
                &keys,
                adopt_untagged,
                deadline
            )),
        )?;
        // Boxed: two directions of SDK futures are too large for a worker's stack in one frame.
        Box::pin(observe_with(ctx, spec, account)).await
    };
    let result = match tokio::time::timeout(deadline.remaining(), Box::pin(work)).await {
        Ok(result) => result,
        Err(_) => Err(AwsError::Timeout {
            what: "metric stream".into(),
            id: spec.name.clone(),
            region: ctx.primary.region.clone(),
            waited_secs: started.elapsed().as_secs(),
            last_state: "buckets, roles, Firehose and metric streams not all in place".into(),
        }),
    };
    match result {
        Ok(observed) => Ok(observed),
        Err(err) => {
            tracing::warn!("metric stream {} is incomplete: {err}", spec.owner());
            let partial = match caller_account(&ctx.primary).await {
                Ok(account) => Box::pin(observe_with(ctx, spec, account))
                    .await
                    .ok()
                    .filter(ObservedMetrics::exists),
                Err(_) => None,
            };
            Err((err, partial))
        }
    }
}

/// The two regions' keys.
struct Keys<'a> {
    primary: &'a RegionKey,
    dr: &'a RegionKey,
}

impl Keys<'_> {
    fn of(&self, role: Role) -> &RegionKey {
        match role {
            Role::Primary => self.primary,
            Role::Dr => self.dr,
        }
    }
}

/// The direction carrying `source`'s metrics: the bucket in the other region, the delivery
/// role, the Firehose stream, the stream role and the metric stream in `source`'s region.
async fn ensure_direction(
    ctx: &AwsContext,
    spec: &StreamSpec,
    account: &Account,
    source: Role,
    keys: &Keys<'_>,
    adopt_untagged: bool,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let (here, there) = (ctx.region(source), ctx.region(source.peer()));
    let (here_key, there_key) = (keys.of(source), keys.of(source.peer()));
    let bucket = spec.bucket_name(account, source);
    let retention = i32::try_from(spec.retention_days).map_err(|_| {
        AwsError::Config(format!(
            "retention_days {} is too large",
            spec.retention_days
        ))
    })?;
    let bucket_arn = spec.bucket_arn(account, source);
    ensure_bucket(
        there,
        &bucket,
        &bucket_arn,
        &spec.tags(source.peer().tag_value(), part::BUCKET, &bucket),
        &there_key.arn,
        retention,
    )
    .await?;
    let delivery_role = ensure_role(
        &ctx.primary,
        &spec.delivery_role(account, source, &there.region, &there_key.arn),
        adopt_untagged,
    )
    .await?;
    let firehose_tags = spec.tags(source.tag_value(), part::FIREHOSE, &spec.name);
    let firehose_arn = ensure_firehose(
        here,
        &FirehoseSpec {
            name: &spec.name,
            role_arn: &delivery_role.arn,
            bucket_arn: &bucket_arn,
            s3_key_arn: &there_key.arn,
            sse_key_arn: &here_key.arn,
            tags: &firehose_tags,
        },
        deadline,
    )
    .await?;
    let stream_role = ensure_role(
        &ctx.primary,
        &spec.stream_role(account, source, &here.region),
        adopt_untagged,
    )
    .await?;
    let stream_tags = spec.tags(source.tag_value(), part::METRIC_STREAM, &spec.name);
    ensure_stream(
        here,
        &MetricStreamSpec {
            name: &spec.name,
            firehose_arn: &firehose_arn,
            role_arn: &stream_role.arn,
            output_format: &spec.output_format,
            namespaces: &spec.namespaces,
            tags: &stream_tags,
        },
        deadline,
    )
    .await?;
    Ok(())
}

fn not_owned(what: &str, id: &str, region: &str, tags: &Tags, owner: &str) -> AwsError {
    let detail = match tags.get(OWNER_TAG) {
        Some(o) => format!("it is owned by {o}, not {owner}"),
        None => format!("an object of this name exists and is not managed by drpair (no {OWNER_TAG} tag); bring it under this resource with `terraform import`, or delete it"),
    };
    AwsError::api(
        "adopting",
        what,
        id,
        region,
        Some(NOT_OWNED_CODE.to_owned()),
        detail,
    )
}

/// Refuses, before anything is made, when a bucket, a stream or a role of the spec's names
/// exists without this resource's owner tag.
async fn preflight(ctx: &AwsContext, spec: &StreamSpec, account: &str) -> Result<(), AwsError> {
    tokio::try_join!(
        Box::pin(preflight_direction(ctx, spec, account, Role::Primary)),
        Box::pin(preflight_direction(ctx, spec, account, Role::Dr)),
    )?;
    Ok(())
}

async fn preflight_direction(
    ctx: &AwsContext,
    spec: &StreamSpec,
    account: &str,
    source: Role,
) -> Result<(), AwsError> {
    let owner = spec.owner();
    let mine = |tags: &Tags| tags.get(OWNER_TAG) == Some(&owner);
    let (here, there) = (ctx.region(source), ctx.region(source.peer()));
    let bucket = super::bucket_name(
        &spec.prefix,
        account,
        &spec.name_version,
        &spec.environment,
        source,
    );
    let (stream_role, delivery_role) = (
        spec.stream_role_name(source),
        spec.delivery_role_name(source),
    );
    let (b, f, s, sr, dr) = tokio::try_join!(
        find_bucket_tags(there, &bucket),
        find_firehose(here, &spec.name),
        find_stream(here, &spec.name),
        find_role(&ctx.primary, &stream_role),
        find_role(&ctx.primary, &delivery_role),
    )?;
    if let Some(tags) = b.filter(|tags| !mine(tags)) {
        return Err(not_owned(BUCKET, &bucket, &there.region, &tags, &owner));
    }
    if let Some(f) = f.filter(|f| !mine(&f.tags)) {
        return Err(not_owned(
            FIREHOSE,
            &spec.name,
            &here.region,
            &f.tags,
            &owner,
        ));
    }
    if let Some(s) = s.filter(|s| !mine(&s.tags)) {
        return Err(not_owned(STREAM, &spec.name, &here.region, &s.tags, &owner));
    }
    for r in [sr, dr].into_iter().flatten() {
        if !mine(&r.tags) {
            return Err(not_owned("IAM role", &r.name, "global", &r.tags, &owner));
        }
    }
    Ok(())
}
