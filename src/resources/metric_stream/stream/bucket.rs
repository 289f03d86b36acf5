//! A direction's bucket (in the region that keeps the other region's metrics): found by name,
//! created and kept versioned, SSE-KMS encrypted with that region's key through an S3 Bucket
//! Key, closed to the public, refusing requests without TLS (its bucket policy) and expiring its
//! objects; emptied of every version and deleted on destroy.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, Delete, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, VersioningConfiguration,
};

use serde_json::{json, Value};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::{normalize_policy, parse_policy};
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::{AwsError, RegionCtx};

use super::{ObservedBucket, ABORT_MULTIPART_DAYS, LIFECYCLE_RULE};

pub(super) const BUCKET: &str = "S3 bucket";
/// DeleteObjects takes at most 1000 keys.
const DELETE_BATCH: usize = 1000;
/// The `Sid` of the one bucket-policy statement this resource owns.
pub const TLS_ONLY_SID: &str = "DenyRequestsWithoutTLS";

// ---- the bucket policy: TLS only ----

/// The statement that refuses every request to the bucket and its objects not made over TLS,
/// as AWS words it: "Deny" `s3:*` on the bucket and `bucket/*` for any principal when
/// `aws:SecureTransport` is `false` (Amazon S3 User Guide, "Security best practices for Amazon
/// S3": "Enforce encryption of data in transit"; the AWS Config rule `s3-bucket-ssl-requests-only`
/// checks for it). Firehose delivers over HTTPS, so it is not affected.
pub fn tls_only_statement(bucket_arn: &str) -> Value {
    json!({
        "Sid": TLS_ONLY_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, format!("{bucket_arn}/*")],
        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
    })
}

fn statements(policy: &Value) -> Vec<Value> {
    match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one @ Value::Object(_)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Whether the bucket policy holds [`tls_only_statement`] as this resource writes it (compared
/// in canonical form: S3 may return scalars as lists and reorder them).
pub fn has_tls_only_statement(policy: Option<&Value>, bucket_arn: &str) -> bool {
    let wanted = normalize_policy(&tls_only_statement(bucket_arn));
    policy.is_some_and(|p| {
        statements(p)
            .iter()
            .any(|st| normalize_policy(st) == wanted)
    })
}

/// The bucket policy with [`tls_only_statement`] in place: the statements others wrote are
/// kept as they are, a statement of this resource's `Sid` is replaced, `Version` is kept (or
/// set).
pub fn with_tls_only_statement(policy: Option<&Value>, bucket_arn: &str) -> Value {
    let mut out = match policy {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => json!({}),
    };
    let mut list: Vec<Value> = policy
        .map(statements)
        .unwrap_or_default()
        .into_iter()
        .filter(|st| st.get("Sid").and_then(Value::as_str) != Some(TLS_ONLY_SID))
        .collect();
    list.push(tls_only_statement(bucket_arn));
    if out.get("Version").is_none() {
        out["Version"] = json!("2012-10-17");
    }
    out["Statement"] = Value::Array(list);
    out
}

fn build_error(
    name: &str,
    region: &str,
) -> impl Fn(aws_smithy_types::error::operation::BuildError) -> AwsError {
    let (name, region) = (name.to_owned(), region.to_owned());
    move |e| {
        AwsError::api(
            "building a request for",
            BUCKET,
            &name,
            &region,
            None,
            e.to_string(),
        )
    }
}

/// S3 answers some "nothing configured" cases with their own codes.
fn absent(err: &AwsError, codes: &[&str]) -> bool {
    err.code().is_some_and(|c| codes.contains(&c))
}

/// The bucket's tags; None when the bucket does not exist (in this account).
pub(super) async fn find_bucket_tags(rc: &RegionCtx, name: &str) -> Result<Option<Tags>, AwsError> {
    let s3 = rc.s3();
    let head = s3
        .head_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(api_error("reading", BUCKET, name, &rc.region));
    match head {
        Ok(_) => {}
        Err(e) if e.is_not_found() || absent(&e, &["NoSuchBucket", "404", "NotFound"]) => {
            return Ok(None)
        }
        Err(e) => return Err(e),
    }
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(out) => Ok(Some(
            out.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect(),
        )),
        Err(e) => {
            let e = api_error("reading tags of", BUCKET, name, &rc.region)(e);
            if absent(&e, &["NoSuchBucket"]) {
                Ok(None)
            } else if absent(&e, &["NoSuchTagSet", "NoSuchTagSetError"]) {
                Ok(Some(Tags::new()))
            } else {
                Err(e)
            }
        }
    }
}

/// The bucket and its configuration; None when it does not exist (in this account).
pub(super) async fn find_bucket(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<ObservedBucket>, AwsError> {
    let Some(tags) = find_bucket_tags(rc, name).await? else {
        return Ok(None);
    };
    let s3 = rc.s3();
    let versioning = s3
        .get_bucket_versioning()
        .bucket(name)
        .send()
        .await
        .map_err(api_error("reading versioning of", BUCKET, name, &rc.region))?
        .status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    let (sse_algorithm, sse_key, bucket_key_enabled) =
        match s3.get_bucket_encryption().bucket(name).send().await {
            Ok(out) => {
                let rule = out
                    .server_side_encryption_configuration()
                    .and_then(|c| c.rules().first());
                let (algorithm, key) = rule
                    .and_then(|r| r.apply_server_side_encryption_by_default())
                    .map(|d| {
                        (
                            d.sse_algorithm().as_str().to_owned(),
                            d.kms_master_key_id().map(str::to_owned),
                        )
                    })
                    .unwrap_or_default();
                let bucket_key = rule.and_then(|r| r.bucket_key_enabled()) == Some(true);
                (algorithm, key, bucket_key)
            }
            Err(e) => {
                let e = api_error("reading encryption of", BUCKET, name, &rc.region)(e);
                if !absent(&e, &["ServerSideEncryptionConfigurationNotFoundError"]) {
                    return Err(e);
                }
                (String::new(), None, false)
            }
        };
    let public_access_blocked = match s3.get_public_access_block().bucket(name).send().await {
        Ok(out) => out.public_access_block_configuration().is_some_and(|c| {
            c.block_public_acls() == Some(true)
                && c.ignore_public_acls() == Some(true)
                && c.block_public_policy() == Some(true)
                && c.restrict_public_buckets() == Some(true)
        }),
        Err(e) => {
            let e = api_error(
                "reading the public access block of",
                BUCKET,
                name,
                &rc.region,
            )(e);
            if !absent(&e, &["NoSuchPublicAccessBlockConfiguration"]) {
                return Err(e);
            }
            false
        }
    };
    let expiration = match s3
        .get_bucket_lifecycle_configuration()
        .bucket(name)
        .send()
        .await
    {
        Ok(out) => out
            .rules()
            .iter()
            .find(|r| r.id() == Some(LIFECYCLE_RULE) && r.status() == &ExpirationStatus::Enabled)
            .map(|r| {
                (
                    r.expiration().and_then(|e| e.days()),
                    r.noncurrent_version_expiration()
                        .and_then(|n| n.noncurrent_days()),
                )
            }),
        Err(e) => {
            let e = api_error("reading the lifecycle of", BUCKET, name, &rc.region)(e);
            if !absent(&e, &["NoSuchLifecycleConfiguration"]) {
                return Err(e);
            }
            None
        }
    };
    let policy = match s3.get_bucket_policy().bucket(name).send().await {
        Ok(out) => out.policy().map(parse_policy),
        Err(e) => {
            let e = api_error("reading the policy of", BUCKET, name, &rc.region)(e);
            if !absent(&e, &["NoSuchBucketPolicy"]) {
                return Err(e);
            }
            None
        }
    };
    Ok(Some(ObservedBucket {
        name: name.to_owned(),
        tags,
        versioning,
        sse_algorithm,
        sse_key,
        bucket_key_enabled,
        public_access_blocked,
        expiration,
        policy,
    }))
}

/// Creates the bucket (in `rc`'s region) or adopts this account's, then brings tags,
/// versioning, encryption, the public access block, the TLS-only statement of the bucket policy
/// (other statements kept) and the lifecycle to what they should be.
pub(super) async fn ensure_bucket(
    rc: &RegionCtx,
    name: &str,
    bucket_arn: &str,
    tags: &Tags,
    key_arn: &str,
    retention_days: i32,
) -> Result<(), AwsError> {
    let s3 = rc.s3();
    let error = build_error(name, &rc.region);
    let existing = find_bucket(rc, name).await?;
    if existing.is_none() {
        let mut create = s3.create_bucket().bucket(name);
        // us-east-1 is the one region that takes no location constraint.
        if rc.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(rc.region.as_str()))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => tracing::info!("created {BUCKET} {name} in {}", rc.region),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
            Err(e) => return Err(api_error("creating", BUCKET, name, &rc.region)(e)),
        }
    }
    let current = existing.unwrap_or_default();
    if current.tags != *tags {
        let set: Result<Vec<Tag>, _> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        s3.put_bucket_tagging()
            .bucket(name)
            .tagging(
                Tagging::builder()
                    .set_tag_set(Some(set.map_err(&error)?))
                    .build()
                    .map_err(&error)?,
            )
            .send()
            .await
            .map_err(api_error("tagging", BUCKET, name, &rc.region))?;
    }
    // Encryption before anything is written; versioning before objects exist.
    if current.sse_algorithm != ServerSideEncryption::AwsKms.as_str()
        || current.sse_key.as_deref() != Some(key_arn)
        || !current.bucket_key_enabled
    {
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(ServerSideEncryption::AwsKms)
                    .kms_master_key_id(key_arn)
                    .build()
                    .map_err(&error)?,
            )
            .bucket_key_enabled(true)
            .build();
        s3.put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(&error)?,
            )
            .send()
            .await
            .map_err(api_error("encrypting", BUCKET, name, &rc.region))?;
    }
    if current.versioning != BucketVersioningStatus::Enabled.as_str() {
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(api_error(
                "enabling versioning of",
                BUCKET,
                name,
                &rc.region,
            ))?;
    }
    if !current.public_access_blocked {
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(api_error(
                "blocking public access to",
                BUCKET,
                name,
                &rc.region,
            ))?;
    }
    // After the public access block: a Deny for everyone is not a public policy, so
    // BlockPublicPolicy lets it through.
    if !has_tls_only_statement(current.policy.as_ref(), bucket_arn) {
        let policy = with_tls_only_statement(current.policy.as_ref(), bucket_arn);
        s3.put_bucket_policy()
            .bucket(name)
            .policy(policy.to_string())
            .send()
            .await
            .map_err(api_error(
                "setting the TLS-only policy of",
                BUCKET,
                name,
                &rc.region,
            ))?;
    }
    if current.expiration != Some((Some(retention_days), Some(retention_days))) {
        let rule = LifecycleRule::builder()
            .id(LIFECYCLE_RULE)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .expiration(LifecycleExpiration::builder().days(retention_days).build())
            .noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(retention_days)
                    .build(),
            )
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(ABORT_MULTIPART_DAYS)
                    .build(),
            )
            .build()
            .map_err(&error)?;
        s3.put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .rules(rule)
                    .build()
                    .map_err(&error)?,
            )
            .send()
            .await
            .map_err(api_error(
                "setting the lifecycle of",
                BUCKET,
                name,
                &rc.region,
            ))?;
    }
    Ok(())
}

/// Deletes every object version and delete marker, then the bucket. A bucket tagged with
/// another owner is left alone; a missing one is success.
pub(super) async fn delete_bucket(rc: &RegionCtx, name: &str, owner: &str) -> Result<(), AwsError> {
    let Some(tags) = find_bucket_tags(rc, name).await? else {
        return Ok(());
    };
    if let Some(other) = tags.get(OWNER_TAG).filter(|o| *o != owner) {
        tracing::warn!("leaving {BUCKET} {name}: owned by {other}, not {owner}");
        return Ok(());
    }
    let s3 = rc.s3();
    let error = build_error(name, &rc.region);
    let mut emptied = 0usize;
    loop {
        // Always from the start: what was listed is deleted before the next page.
        let out = s3
            .list_object_versions()
            .bucket(name)
            .send()
            .await
            .map_err(api_error(
                "listing object versions of",
                BUCKET,
                name,
                &rc.region,
            ));
        let Some(out) = ok_if_not_found(out)? else {
            return Ok(());
        };
        let mut ids = Vec::new();
        for v in out.versions() {
            ids.push((
                v.key().unwrap_or_default().to_owned(),
                v.version_id().map(str::to_owned),
            ));
        }
        for m in out.delete_markers() {
            ids.push((
                m.key().unwrap_or_default().to_owned(),
                m.version_id().map(str::to_owned),
            ));
        }
        if ids.is_empty() {
            break;
        }
        for batch in ids.chunks(DELETE_BATCH) {
            let objects: Result<Vec<ObjectIdentifier>, _> = batch
                .iter()
                .map(|(k, v)| {
                    ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v.clone())
                        .build()
                })
                .collect();
            let delete = Delete::builder()
                .set_objects(Some(objects.map_err(&error)?))
                .quiet(true)
                .build()
                .map_err(&error)?;
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(delete)
                .send()
                .await
                .map_err(api_error("emptying", BUCKET, name, &rc.region))?;
            if let Some(failed) = out.errors().first() {
                return Err(AwsError::api(
                    "emptying",
                    BUCKET,
                    name,
                    &rc.region,
                    failed.code().map(str::to_owned),
                    format!(
                        "could not delete {} ({}): {}",
                        failed.key().unwrap_or_default(),
                        failed.version_id().unwrap_or_default(),
                        failed.message().unwrap_or_default()
                    ),
                ));
            }
            emptied += batch.len();
        }
    }
    if emptied > 0 {
        tracing::info!("deleted {emptied} object versions from {BUCKET} {name}");
    }
    let out = s3
        .delete_bucket()
        .bucket(name)
        .send()
        .await
        .map_err(api_error("deleting", BUCKET, name, &rc.region));
    match out {
        Err(e) if !(e.is_not_found() || absent(&e, &["NoSuchBucket"])) => Err(e),
        _ => {
            tracing::info!("deleted {BUCKET} {name} in {}", rc.region);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUCKET_ARN: &str = "arn:aws:s3:::drpair-metrics-123456789012-v2-dev";

    #[test]
    fn the_tls_statement_denies_everything_without_secure_transport() {
        let st = tls_only_statement(BUCKET_ARN);
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Principal"], "*");
        assert_eq!(st["Action"], "s3:*");
        assert_eq!(
            st["Resource"],
            json!([BUCKET_ARN, format!("{BUCKET_ARN}/*")])
        );
        assert_eq!(
            st["Condition"],
            json!({ "Bool": { "aws:SecureTransport": "false" } })
        );
    }

    #[test]
    fn the_statement_is_found_in_any_form_and_only_for_this_bucket() {
        assert!(!has_tls_only_statement(None, BUCKET_ARN));
        let ours = with_tls_only_statement(None, BUCKET_ARN);
        assert!(has_tls_only_statement(Some(&ours), BUCKET_ARN));
        assert!(!has_tls_only_statement(
            Some(&ours),
            "arn:aws:s3:::another-bucket"
        ));
        // As S3 may return it: one statement as an object, resources reordered, scalars.
        let returned = json!({
            "Version": "2012-10-17",
            "Statement": {
                "Sid": TLS_ONLY_SID,
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:*"],
                "Resource": [format!("{BUCKET_ARN}/*"), BUCKET_ARN],
                "Condition": { "Bool": { "aws:SecureTransport": ["false"] } }
            }
        });
        assert!(has_tls_only_statement(Some(&returned), BUCKET_ARN));
        // Weakened out of band: the same Sid, no longer denying plain HTTP.
        let mut weakened = ours.clone();
        weakened["Statement"][0]["Condition"] =
            json!({ "Bool": { "aws:SecureTransport": "true" } });
        assert!(!has_tls_only_statement(Some(&weakened), BUCKET_ARN));
        assert!(!has_tls_only_statement(
            Some(&json!({ "Statement": [] })),
            BUCKET_ARN
        ));
    }

    #[test]
    fn merging_keeps_other_statements_and_replaces_only_ours() {
        let theirs = json!({
            "Sid": "AuditorsRead",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::123456789012:role/auditor" },
            "Action": "s3:GetObject",
            "Resource": format!("{BUCKET_ARN}/*")
        });
        let mut stale = tls_only_statement(BUCKET_ARN);
        stale["Condition"] = json!({});
        let existing = json!({
            "Version": "2012-10-17",
            "Id": "kept",
            "Statement": [theirs.clone(), stale]
        });
        let merged = with_tls_only_statement(Some(&existing), BUCKET_ARN);
        assert_eq!(merged["Id"], "kept");
        assert_eq!(
            merged["Statement"],
            json!([theirs, tls_only_statement(BUCKET_ARN)])
        );
        assert!(has_tls_only_statement(Some(&merged), BUCKET_ARN));
        let fresh = with_tls_only_statement(None, BUCKET_ARN);
        assert_eq!(
            fresh,
            json!({ "Version": "2012-10-17", "Statement": [tls_only_statement(BUCKET_ARN)] })
        );
    }
}
