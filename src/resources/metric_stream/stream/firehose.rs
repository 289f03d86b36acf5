//! The primary region's Firehose stream: created (retrying while its new role propagates) and
//! waited for, its destination and encryption repaired in place, deleted and waited for.

use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamEncryptionConfigurationInput,
    DeliveryStreamType, EncryptionConfiguration, ExtendedS3DestinationConfiguration,
    ExtendedS3DestinationUpdate, KeyType, KmsEncryptionConfig, Tag,
};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::retry_role_propagation;
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{wait_for, AwsError, Deadline, Poll, RegionCtx};

use super::{ObservedFirehose, BUFFER_MB, BUFFER_SECONDS, ERROR_PREFIX, OBJECT_PREFIX};

pub(super) const FIREHOSE: &str = "Firehose stream";

/// What the Firehose stream should be.
pub(super) struct FirehoseSpec<'a> {
    pub name: &'a str,
    pub role_arn: &'a str,
    pub bucket_arn: &'a str,
    /// The DR key S3 objects are encrypted with.
    pub s3_key_arn: &'a str,
    /// The primary key the stream's buffer is encrypted with.
    pub sse_key_arn: &'a str,
    pub tags: &'a Tags,
}

fn build_error(
    name: &str,
    region: &str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> AwsError {
    let (name, region) = (name.to_owned(), region.to_owned());
    move |e| {
        AwsError::api(
            "building a request for",
            FIREHOSE,
            &name,
            &region,
            None,
            e.to_string(),
        )
    }
}

/// The stream with its destination, encryption and tags; None when it does not exist.
pub(super) async fn find_firehose(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<ObservedFirehose>, AwsError> {
    let fh = rc.firehose();
    let out = fh
        .describe_delivery_stream()
        .delivery_stream_name(name)
        .send()
        .await
        .map_err(api_error("describing", FIREHOSE, name, &rc.region));
    let Some(out) = ok_if_not_found(out)? else {
        return Ok(None);
    };
    let Some(d) = out.delivery_stream_description() else {
        return Ok(None);
    };
    let dest = d.destinations().first();
    let s3 = dest.and_then(|x| x.extended_s3_destination_description());
    let sse = d
        .delivery_stream_encryption_configuration()
        .filter(|c| {
            c.status()
                .is_some_and(|s| matches!(s.as_str(), "ENABLED" | "ENABLING"))
        })
        .map(|c| {
            (
                c.key_type()
                    .map(|k| k.as_str().to_owned())
                    .unwrap_or_default(),
                c.key_arn().map(str::to_owned),
            )
        });
    let mut tags = Tags::new();
    let mut start: Option<String> = None;
    loop {
        let page = fh
            .list_tags_for_delivery_stream()
            .delivery_stream_name(name)
            .set_exclusive_start_tag_key(start.take())
            .send()
            .await
            .map_err(api_error("listing tags of", FIREHOSE, name, &rc.region));
        let Some(page) = ok_if_not_found(page)? else {
            return Ok(None);
        };
        tags.extend(
            page.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().unwrap_or_default().to_owned())),
        );
        match page.tags().last() {
            Some(last) if page.has_more_tags() => start = Some(last.key().to_owned()),
            _ => break,
        }
    }
    Ok(Some(ObservedFirehose {
        arn: d.delivery_stream_arn().to_owned(),
        status: d.delivery_stream_status().as_str().to_owned(),
        version_id: d.version_id().to_owned(),
        destination_id: dest
            .map(|x| x.destination_id().to_owned())
            .unwrap_or_default(),
        role_arn: s3.map(|s| s.role_arn().to_owned()).unwrap_or_default(),
        bucket_arn: s3.map(|s| s.bucket_arn().to_owned()).unwrap_or_default(),
        prefix: s3.and_then(|s| s.prefix()).unwrap_or_default().to_owned(),
        s3_kms_key: s3
            .and_then(|s| s.encryption_configuration())
            .and_then(|e| e.kms_encryption_config())
            .map(|k| k.awskms_key_arn().to_owned()),
        sse,
        tags,
    }))
}

/// How a stream's destination and encryption differ from the spec, one phrase each.
pub(super) fn differences(spec: &FirehoseSpec<'_>, f: &ObservedFirehose) -> Vec<String> {
    let mut out = Vec::new();
    if f.bucket_arn != spec.bucket_arn {
        out.push(format!(
            "delivers to {}, expected {}",
            f.bucket_arn, spec.bucket_arn
        ));
    }
    if f.role_arn != spec.role_arn {
        out.push(format!(
            "uses role {}, expected {}",
            f.role_arn, spec.role_arn
        ));
    }
    if f.prefix != OBJECT_PREFIX {
        out.push(format!(
            "writes under {:?}, expected {OBJECT_PREFIX:?}",
            f.prefix
        ));
    }
    if f.s3_kms_key.as_deref() != Some(spec.s3_key_arn) {
        out.push(format!(
            "encrypts objects with {:?}, expected {}",
            f.s3_kms_key, spec.s3_key_arn
        ));
    }
    let sse_ok = f.sse.as_ref().is_some_and(|(t, k)| {
        t == KeyType::CustomerManagedCmk.as_str() && k.as_deref() == Some(spec.sse_key_arn)
    });
    if !sse_ok {
        out.push(format!("is not encrypted with {}", spec.sse_key_arn));
    }
    out
}

fn encryption(
    key_arn: &str,
    error: impl Fn(aws_smithy_types::error::operation::BuildError) -> AwsError,
) -> Result<EncryptionConfiguration, AwsError> {
    Ok(EncryptionConfiguration::builder()
        .kms_encryption_config(
            KmsEncryptionConfig::builder()
                .awskms_key_arn(key_arn)
                .build()
                .map_err(error)?,
        )
        .build())
}

fn buffering() -> BufferingHints {
    BufferingHints::builder()
        .size_in_mbs(BUFFER_MB)
        .interval_in_seconds(BUFFER_SECONDS)
        .build()
}

/// Creates the stream or repairs it, and waits until it is ACTIVE; returns its ARN.
pub(super) async fn ensure_firehose(
    rc: &RegionCtx,
    spec: &FirehoseSpec<'_>,
    deadline: Deadline,
) -> Result<String, AwsError> {
    let fh = rc.firehose();
    let error = build_error(spec.name, &rc.region);
    let mut current = find_firehose(rc, spec.name).await?;
    if current.as_ref().is_some_and(|f| f.status == "DELETING") {
        wait_gone(rc, spec.name, deadline).await?;
        current = None;
    }
    let Some(current) = current else {
        let destination = ExtendedS3DestinationConfiguration::builder()
            .role_arn(spec.role_arn)
            .bucket_arn(spec.bucket_arn)
            .prefix(OBJECT_PREFIX)
            .error_output_prefix(ERROR_PREFIX)
            .buffering_hints(buffering())
            .compression_format(CompressionFormat::Gzip)
            .encryption_configuration(encryption(spec.s3_key_arn, &error)?)
            .build()
            .map_err(&error)?;
        let sse = DeliveryStreamEncryptionConfigurationInput::builder()
            .key_type(KeyType::CustomerManagedCmk)
            .key_arn(spec.sse_key_arn)
            .build()
            .map_err(&error)?;
        let tags: Result<Vec<Tag>, _> = spec
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let tags = tags.map_err(&error)?;
        // A role created a moment ago may not be assumable by Firehose yet.
        retry_role_propagation(deadline, || async {
            fh.create_delivery_stream()
                .delivery_stream_name(spec.name)
                .delivery_stream_type(DeliveryStreamType::DirectPut)
                .delivery_stream_encryption_configuration_input(sse.clone())
                .extended_s3_destination_configuration(destination.clone())
                .set_tags(Some(tags.clone()))
                .send()
                .await
                .map_err(api_error("creating", FIREHOSE, spec.name, &rc.region))
        })
        .await?;
        tracing::info!("created {FIREHOSE} {} in {}", spec.name, rc.region);
        return wait_active(rc, spec.name, deadline).await;
    };
    let current = if current.status == "CREATING" {
        wait_active(rc, spec.name, deadline).await?;
        find_firehose(rc, spec.name)
            .await?
            .ok_or_else(|| AwsError::not_found(FIREHOSE, spec.name, &rc.region))?
    } else {
        current
    };
    let diffs = differences(spec, &current);
    let destination_differs = diffs.iter().any(|d| !d.starts_with("is not encrypted"));
    if destination_differs {
        let update = ExtendedS3DestinationUpdate::builder()
            .role_arn(spec.role_arn)
            .bucket_arn(spec.bucket_arn)
            .prefix(OBJECT_PREFIX)
            .error_output_prefix(ERROR_PREFIX)
            .buffering_hints(buffering())
            .compression_format(CompressionFormat::Gzip)
            .encryption_configuration(encryption(spec.s3_key_arn, &error)?)
            .build();
        retry_role_propagation(deadline, || async {
            fh.update_destination()
                .delivery_stream_name(spec.name)
                .current_delivery_stream_version_id(&current.version_id)
                .destination_id(&current.destination_id)
                .extended_s3_destination_update(update.clone())
                .send()
                .await
                .map_err(api_error(
                    "updating the destination of",
                    FIREHOSE,
                    spec.name,
                    &rc.region,
                ))
        })
        .await?;
    }
    if diffs.iter().any(|d| d.starts_with("is not encrypted")) {
        fh.start_delivery_stream_encryption()
            .delivery_stream_name(spec.name)
            .delivery_stream_encryption_configuration_input(
                DeliveryStreamEncryptionConfigurationInput::builder()
                    .key_type(KeyType::CustomerManagedCmk)
                    .key_arn(spec.sse_key_arn)
                    .build()
                    .map_err(&error)?,
            )
            .send()
            .await
            .map_err(api_error("encrypting", FIREHOSE, spec.name, &rc.region))?;
    }
    let (set, remove) = tag_changes(&current.tags, spec.tags);
    if !set.is_empty() {
        let tags: Result<Vec<Tag>, _> = set
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        fh.tag_delivery_stream()
            .delivery_stream_name(spec.name)
            .set_tags(Some(tags.map_err(&error)?))
            .send()
            .await
            .map_err(api_error("tagging", FIREHOSE, spec.name, &rc.region))?;
    }
    if !remove.is_empty() {
        fh.untag_delivery_stream()
            .delivery_stream_name(spec.name)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(api_error("untagging", FIREHOSE, spec.name, &rc.region))?;
    }
    Ok(current.arn)
}

async fn wait_active(rc: &RegionCtx, name: &str, deadline: Deadline) -> Result<String, AwsError> {
    wait_for(deadline, FIREHOSE, name, &rc.region, || async {
        match find_firehose(rc, name).await? {
            Some(f) if f.status == "ACTIVE" => Ok(Poll::Ready(f.arn)),
            Some(f) if f.status.ends_with("FAILED") => Err(AwsError::api(
                "creating",
                FIREHOSE,
                name,
                &rc.region,
                None,
                format!("the stream is {}", f.status),
            )),
            Some(f) => Ok(Poll::Pending(f.status)),
            None => Ok(Poll::Pending("not visible yet".into())),
        }
    })
    .await
}

async fn wait_gone(rc: &RegionCtx, name: &str, deadline: Deadline) -> Result<(), AwsError> {
    wait_for(deadline, FIREHOSE, name, &rc.region, || async {
        Ok(match find_firehose(rc, name).await? {
            Some(f) => Poll::Pending(f.status),
            None => Poll::Ready(()),
        })
    })
    .await
}

/// Deletes the stream when it is this resource's and waits until it is gone.
pub(super) async fn delete_firehose(
    rc: &RegionCtx,
    name: &str,
    owner: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let Some(f) = find_firehose(rc, name).await? else {
        return Ok(());
    };
    if let Some(other) = f.tags.get(OWNER_TAG).filter(|o| *o != owner) {
        tracing::warn!("leaving {FIREHOSE} {name}: owned by {other}, not {owner}");
        return Ok(());
    }
    if f.status != "DELETING" {
        let out = rc
            .firehose()
            .delete_delivery_stream()
            .delivery_stream_name(name)
            .send()
            .await
            .map_err(api_error("deleting", FIREHOSE, name, &rc.region));
        ok_if_not_found(out)?;
    }
    wait_gone(rc, name, deadline).await?;
    tracing::info!("deleted {FIREHOSE} {name} in {}", rc.region);
    Ok(())
}
