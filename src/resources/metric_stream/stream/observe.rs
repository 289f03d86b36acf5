//! [`observe()`]: what exists of the metric stream in both regions; [`drift`]: how that
//! differs from the spec, one phrase per difference.

use crate::aws::iam::{caller_account, find_role, role_drift, Account};
use crate::aws::kms::{find_key, key_drift_with_policy, RegionKey};
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::{AwsContext, AwsError, RegionCtx, Role};

use super::bucket::{find_bucket, has_tls_only_statement};
use super::cloudwatch::{
    differences as stream_differences, find_stream, MetricStreamSpec, RUNNING,
};
use super::firehose::{differences as firehose_differences, find_firehose, FirehoseSpec};
use super::{ObservedDirection, ObservedMetrics, StreamSpec, LIFECYCLE_RULE};

/// Whether an object carrying `tags` may be read as this resource's: tagged as its own, or not
/// tagged by any drpair resource (an object being imported).
pub(super) fn adoptable(tags: &Tags, owner: &str) -> bool {
    tags.get(OWNER_TAG).is_none_or(|o| o == owner)
}

async fn owned_key(rc: &RegionCtx, spec: &StreamSpec) -> Result<Option<RegionKey>, AwsError> {
    let owner = spec.owner();
    Ok(find_key(rc, &spec.key_alias())
        .await?
        .filter(|k| k.tags.get(OWNER_TAG) == Some(&owner)))
}

/// Reads the keys, and of both directions the bucket, the Firehose stream, the metric stream
/// and the roles.
pub async fn observe(ctx: &AwsContext, spec: &StreamSpec) -> Result<ObservedMetrics, AwsError> {
    let account = caller_account(&ctx.primary).await?;
    observe_with(ctx, spec, account).await
}

/// What exists of the direction carrying `source`'s metrics.
async fn observe_direction(
    ctx: &AwsContext,
    spec: &StreamSpec,
    account: &Account,
    source: Role,
) -> Result<ObservedDirection, AwsError> {
    let owner = spec.owner();
    let (here, there) = (ctx.region(source), ctx.region(source.peer()));
    let bucket_name = spec.bucket_name(account, source);
    let (stream_role_name, delivery_role_name) = (
        spec.stream_role_name(source),
        spec.delivery_role_name(source),
    );
    let (bucket, firehose, stream, stream_role, delivery_role) = tokio::try_join!(
        find_bucket(there, &bucket_name),
        find_firehose(here, &spec.name),
        find_stream(here, &spec.name),
        find_role(&ctx.primary, &stream_role_name),
        find_role(&ctx.primary, &delivery_role_name),
    )?;
    Ok(ObservedDirection {
        bucket: bucket.filter(|b| adoptable(&b.tags, &owner)),
        firehose: firehose.filter(|f| adoptable(&f.tags, &owner)),
        stream: stream.filter(|s| adoptable(&s.tags, &owner)),
        stream_role: stream_role.filter(|r| adoptable(&r.tags, &owner)),
        delivery_role: delivery_role.filter(|r| adoptable(&r.tags, &owner)),
    })
}

pub(super) async fn observe_with(
    ctx: &AwsContext,
    spec: &StreamSpec,
    account: Account,
) -> Result<ObservedMetrics, AwsError> {
    let (primary_key, dr_key, primary, dr) = tokio::try_join!(
        owned_key(&ctx.primary, spec),
        owned_key(&ctx.dr, spec),
        Box::pin(observe_direction(ctx, spec, &account, Role::Primary)),
        Box::pin(observe_direction(ctx, spec, &account, Role::Dr)),
    )?;
    Ok(ObservedMetrics {
        account,
        primary_region: ctx.primary.region.clone(),
        dr_region: ctx.dr.region.clone(),
        primary_key,
        dr_key,
        primary,
        dr,
    })
}

/// Differences from the spec: keys, and of both directions the bucket's protection and
/// lifecycle, the roles, the Firehose stream and the metric stream (including a stream stopped
/// out of band). Empty when nothing needs repair.
pub fn drift(spec: &StreamSpec, o: &ObservedMetrics) -> Vec<String> {
    let mut out = Vec::new();
    for role in Role::BOTH {
        let policy = super::key_policy(&o.account, o.region(role));
        out.extend(key_drift_with_policy(
            o.region(role),
            &spec.key_alias(),
            o.key(role),
            Some(&policy),
        ));
    }
    for source in Role::BOTH {
        direction_drift(spec, o, source, &mut out);
    }
    out
}

fn key_arn(o: &ObservedMetrics, role: Role) -> String {
    o.key(role).map(|k| k.arn.clone()).unwrap_or_default()
}

/// The differences of the direction carrying `source`'s metrics, each phrase starting with the
/// region of the object (or the role's name).
fn direction_drift(spec: &StreamSpec, o: &ObservedMetrics, source: Role, out: &mut Vec<String>) {
    let d = o.direction(source);
    let (here, there) = (o.region(source), o.region(source.peer()));
    let bucket_name = spec.bucket_name(&o.account, source);
    let there_key = key_arn(o, source.peer());
    let here_key = key_arn(o, source);
    match &d.bucket {
        None => out.push(format!("{there}: bucket {bucket_name} is missing")),
        Some(b) => {
            if b.versioning != "Enabled" {
                out.push(format!("{there}: bucket {bucket_name} is not versioned"));
            }
            if b.sse_algorithm != "aws:kms"
                || (!there_key.is_empty() && b.sse_key.as_deref() != Some(there_key.as_str()))
            {
                out.push(format!(
                    "{there}: bucket {bucket_name} is not encrypted with {}",
                    spec.key_alias()
                ));
            }
            if !b.bucket_key_enabled {
                out.push(format!(
                    "{there}: bucket {bucket_name} does not use an S3 Bucket Key"
                ));
            }
            if !b.public_access_blocked {
                out.push(format!(
                    "{there}: bucket {bucket_name} does not block public access"
                ));
            }
            if !has_tls_only_statement(b.policy.as_ref(), &spec.bucket_arn(&o.account, source)) {
                out.push(format!(
                    "{there}: bucket {bucket_name} policy does not deny requests without TLS (aws:SecureTransport)"
                ));
            }
            let days = i32::try_from(spec.retention_days).ok();
            if b.expiration != Some((days, days)) {
                out.push(format!(
                    "{there}: bucket {bucket_name} lifecycle rule {LIFECYCLE_RULE} does not expire objects after {} days",
                    spec.retention_days
                ));
            }
        }
    }
    out.extend(role_drift(
        &spec.delivery_role(&o.account, source, there, &there_key),
        d.delivery_role.as_ref(),
    ));
    out.extend(role_drift(
        &spec.stream_role(&o.account, source, here),
        d.stream_role.as_ref(),
    ));
    let delivery_role_arn = o.account.role_arn(&spec.delivery_role_name(source));
    let bucket_arn = spec.bucket_arn(&o.account, source);
    let no_tags = Tags::new();
    let firehose_spec = FirehoseSpec {
        name: &spec.name,
        role_arn: &delivery_role_arn,
        bucket_arn: &bucket_arn,
        s3_key_arn: &there_key,
        sse_key_arn: &here_key,
        tags: &no_tags,
    };
    match &d.firehose {
        None => out.push(format!("{here}: Firehose stream {} is missing", spec.name)),
        Some(f) => {
            for diff in firehose_differences(&firehose_spec, f) {
                out.push(format!("{here}: Firehose stream {} {diff}", spec.name));
            }
            if f.status != "ACTIVE" {
                out.push(format!(
                    "{here}: Firehose stream {} is {}, expected ACTIVE",
                    spec.name, f.status
                ));
            }
        }
    }
    let firehose_arn = spec.firehose_arn(&o.account, here);
    let stream_role_arn = o.account.role_arn(&spec.stream_role_name(source));
    let stream_spec = MetricStreamSpec {
        name: &spec.name,
        firehose_arn: &firehose_arn,
        role_arn: &stream_role_arn,
        output_format: &spec.output_format,
        namespaces: &spec.namespaces,
        tags: &no_tags,
    };
    match &d.stream {
        None => out.push(format!("{here}: metric stream {} is missing", spec.name)),
        Some(s) => {
            for diff in stream_differences(&stream_spec, s) {
                out.push(format!("{here}: metric stream {} {diff}", spec.name));
            }
            if s.state != RUNNING {
                out.push(format!(
                    "{here}: metric stream {} is {}, expected running",
                    spec.name, s.state
                ));
            }
        }
    }
}
