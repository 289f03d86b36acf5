//! The primary region's CloudWatch metric stream: written with PutMetricStream (create or
//! replace its configuration), started when stopped, re-tagged, deleted.

use aws_sdk_cloudwatch::types::{MetricStreamFilter, MetricStreamOutputFormat, Tag};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::retry_role_propagation;
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{AwsError, Deadline, RegionCtx};

use super::ObservedStream;

pub(super) const STREAM: &str = "CloudWatch metric stream";
pub(super) const RUNNING: &str = "running";

/// What the metric stream should be.
pub(super) struct MetricStreamSpec<'a> {
    pub name: &'a str,
    pub firehose_arn: &'a str,
    pub role_arn: &'a str,
    pub output_format: &'a str,
    /// Sorted.
    pub namespaces: &'a [String],
    pub tags: &'a Tags,
}

/// The stream with its configuration and tags; None when it does not exist.
pub(super) async fn find_stream(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<ObservedStream>, AwsError> {
    let cw = rc.cloudwatch();
    let out = cw
        .get_metric_stream()
        .name(name)
        .send()
        .await
        .map_err(api_error("reading", STREAM, name, &rc.region));
    let Some(out) = ok_if_not_found(out)? else {
        return Ok(None);
    };
    let arn = out.arn().unwrap_or_default().to_owned();
    let tags = cw
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(api_error("listing tags of", STREAM, name, &rc.region));
    let tags = match ok_if_not_found(tags)? {
        Some(t) => t
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect(),
        None => return Ok(None),
    };
    let mut namespaces: Vec<String> = out
        .include_filters()
        .iter()
        .filter_map(|f| f.namespace().map(str::to_owned))
        .collect();
    namespaces.sort();
    Ok(Some(ObservedStream {
        arn,
        state: out.state().unwrap_or_default().to_owned(),
        firehose_arn: out.firehose_arn().unwrap_or_default().to_owned(),
        role_arn: out.role_arn().unwrap_or_default().to_owned(),
        output_format: out
            .output_format()
            .map(|f| f.as_str().to_owned())
            .unwrap_or_default(),
        namespaces,
        tags,
    }))
}

/// How a stream's configuration differs from the spec (its state aside), one phrase each.
pub(super) fn differences(spec: &MetricStreamSpec<'_>, s: &ObservedStream) -> Vec<String> {
    let mut out = Vec::new();
    if s.firehose_arn != spec.firehose_arn {
        out.push(format!(
            "streams to {}, expected {}",
            s.firehose_arn, spec.firehose_arn
        ));
    }
    if s.role_arn != spec.role_arn {
        out.push(format!(
            "uses role {}, expected {}",
            s.role_arn, spec.role_arn
        ));
    }
    if s.output_format != spec.output_format {
        out.push(format!(
            "output format is {}, expected {}",
            s.output_format, spec.output_format
        ));
    }
    if s.namespaces != spec.namespaces {
        out.push(format!(
            "namespaces are {:?}, expected {:?}",
            s.namespaces, spec.namespaces
        ));
    }
    out
}

fn cw_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Creates or updates the stream, makes sure it is running and carries exactly its tags;
/// returns its ARN.
pub(super) async fn ensure_stream(
    rc: &RegionCtx,
    spec: &MetricStreamSpec<'_>,
    deadline: Deadline,
) -> Result<String, AwsError> {
    let cw = rc.cloudwatch();
    let current = find_stream(rc, spec.name).await?;
    let write = current
        .as_ref()
        .is_none_or(|s| !differences(spec, s).is_empty());
    let mut arn = current.as_ref().map(|s| s.arn.clone()).unwrap_or_default();
    if write {
        let filters: Vec<MetricStreamFilter> = spec
            .namespaces
            .iter()
            .map(|ns| MetricStreamFilter::builder().namespace(ns).build())
            .collect();
        // Tags are applied only when the stream is created.
        let tags = current.is_none().then(|| cw_tags(spec.tags));
        // A role created a moment ago may not be usable by CloudWatch yet.
        let out = retry_role_propagation(deadline, || async {
            cw.put_metric_stream()
                .name(spec.name)
                .firehose_arn(spec.firehose_arn)
                .role_arn(spec.role_arn)
                .output_format(MetricStreamOutputFormat::from(spec.output_format))
                .set_include_filters(Some(filters.clone()))
                .set_tags(tags.clone())
                .send()
                .await
                .map_err(api_error("writing", STREAM, spec.name, &rc.region))
        })
        .await?;
        arn = out.arn().unwrap_or_default().to_owned();
        tracing::info!("wrote {STREAM} {} in {}", spec.name, rc.region);
    }
    if current.as_ref().is_some_and(|s| s.state != RUNNING) {
        cw.start_metric_streams()
            .names(spec.name)
            .send()
            .await
            .map_err(api_error("starting", STREAM, spec.name, &rc.region))?;
        tracing::info!("started {STREAM} {} in {}", spec.name, rc.region);
    }
    if let Some(current) = &current {
        let (set, remove) = tag_changes(&current.tags, spec.tags);
        if !set.is_empty() {
            cw.tag_resource()
                .resource_arn(&current.arn)
                .set_tags(Some(cw_tags(&set)))
                .send()
                .await
                .map_err(api_error("tagging", STREAM, spec.name, &rc.region))?;
        }
        if !remove.is_empty() {
            cw.untag_resource()
                .resource_arn(&current.arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(api_error("untagging", STREAM, spec.name, &rc.region))?;
        }
    }
    Ok(arn)
}

/// Deletes the stream when it is this resource's; a missing one is success.
pub(super) async fn delete_stream(rc: &RegionCtx, name: &str, owner: &str) -> Result<(), AwsError> {
    let Some(stream) = find_stream(rc, name).await? else {
        return Ok(());
    };
    if let Some(other) = stream.tags.get(OWNER_TAG).filter(|o| *o != owner) {
        tracing::warn!("leaving {STREAM} {name}: owned by {other}, not {owner}");
        return Ok(());
    }
    let out = rc
        .cloudwatch()
        .delete_metric_stream()
        .name(name)
        .send()
        .await
        .map_err(api_error("deleting", STREAM, name, &rc.region));
    ok_if_not_found(out)?;
    tracing::info!("deleted {STREAM} {name} in {}", rc.region);
    Ok(())
}
