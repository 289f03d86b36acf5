//! The access-log buckets, checked before the load balancers are pointed at them: an
//! Application Load Balancer delivers access logs only to a bucket of its own region whose
//! default encryption is SSE-S3 ("The bucket must be located in the same Region as the load
//! balancer"; "The only server-side encryption option that's supported is Amazon S3-managed keys
//! (SSE-S3)", "Enable access logs for your Application Load Balancer",
//! https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
//! AWS itself accepts a bucket encrypted with SSE-KMS and then silently delivers nothing, so
//! drpair refuses it up front, naming the attribute. Whether Elastic Load Balancing may write
//! (the bucket policy) is AWS's own check in ModifyLoadBalancerAttributes.

use aws_sdk_s3::types::ServerSideEncryption;

use crate::aws::error::api_error;
use crate::aws::{AwsContext, AwsError, RegionCtx, Role};

use super::TierSpec;

/// The Elastic Load Balancing account of us-east-1 and us-east-2 (Regions available before
/// August 2022), which the bucket policy names as principal; same page, Step 2.
pub const ELB_LOG_ACCOUNT_US_EAST_1: &str = "127311923021";
pub const ELB_LOG_ACCOUNT_US_EAST_2: &str = "033677994240";
/// The service principal of every Region (the only one for Regions from August 2022 on).
pub const ELB_LOG_SERVICE_PRINCIPAL: &str = "logdelivery.elasticloadbalancing.amazonaws.com";

const BUCKET: &str = "access log bucket";

/// The region a GetBucketLocation answer names: empty (or absent) is us-east-1, `EU` is
/// eu-west-1 ("GetBucketLocation", Amazon S3 API Reference).
pub(super) fn location_region(constraint: Option<&str>) -> String {
    match constraint {
        None | Some("") => "us-east-1".to_owned(),
        Some("EU") => "eu-west-1".to_owned(),
        Some(r) => r.to_owned(),
    }
}

/// Both regions' buckets, checked before anything is created or changed.
pub async fn check_buckets(ctx: &AwsContext, spec: &TierSpec) -> Result<(), AwsError> {
    tokio::try_join!(
        check_bucket(&ctx.primary, spec),
        check_bucket(&ctx.dr, spec)
    )?;
    Ok(())
}

fn attribute(role: Role) -> String {
    format!("{}.access_logs_bucket", role.tag_value())
}

async fn check_bucket(rc: &RegionCtx, spec: &TierSpec) -> Result<(), AwsError> {
    let Some((bucket, _)) = spec.access_logs(rc.role) else {
        return Ok(());
    };
    let region = rc.region.as_str();
    let attr = attribute(rc.role);
    let refuse = |message: String| AwsError::api("checking", BUCKET, bucket, region, None, message);
    let s3 = rc.s3();
    let location = s3
        .get_bucket_location()
        .bucket(bucket)
        .send()
        .await
        .map_err(api_error("locating", BUCKET, bucket, region));
    let location = match location {
        Ok(o) => o,
        Err(e) if e.is_not_found() || e.code() == Some("NoSuchBucket") => {
            return Err(refuse(format!(
                "{attr} = {bucket:?}: the bucket does not exist; create it in {region} (SSE-S3 default encryption, a bucket policy letting Elastic Load Balancing write) or choose another"
            )));
        }
        Err(e) => return Err(e),
    };
    let bucket_region = location_region(location.location_constraint().map(|c| c.as_str()));
    if bucket_region != region {
        return Err(refuse(format!(
            "{attr} = {bucket:?}: the bucket is in {bucket_region}, but this load balancer is in {region}; Application Load Balancers deliver access logs only to a bucket of their own region"
        )));
    }
    let encryption = s3
        .get_bucket_encryption()
        .bucket(bucket)
        .send()
        .await
        .map_err(api_error(
            "reading the default encryption of",
            BUCKET,
            bucket,
            region,
        ));
    let rules = match encryption {
        Ok(o) => o
            .server_side_encryption_configuration()
            .map(|c| c.rules().to_vec())
            .unwrap_or_default(),
        // No configuration: S3 encrypts with SSE-S3 by default (since January 2023).
        Err(e) if e.code() == Some("ServerSideEncryptionConfigurationNotFoundError") => Vec::new(),
        Err(e) => return Err(e),
    };
    let algorithm = rules
        .iter()
        .filter_map(|r| r.apply_server_side_encryption_by_default())
        .map(|d| d.sse_algorithm().clone())
        .next();
    match algorithm {
        None | Some(ServerSideEncryption::Aes256) => Ok(()),
        Some(other) => Err(refuse(format!(
            "{attr} = {bucket:?}: the bucket's default encryption is {} (SSE-KMS), but Application Load Balancers deliver access logs only to buckets encrypted with SSE-S3 (AES256); AWS would accept the setting and deliver no logs. Set the bucket's default encryption to SSE-S3 or choose another bucket",
            other.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_location_names_the_region() {
        assert_eq!(location_region(None), "us-east-1");
        assert_eq!(location_region(Some("")), "us-east-1");
        assert_eq!(location_region(Some("EU")), "eu-west-1");
        assert_eq!(location_region(Some("us-east-2")), "us-east-2");
    }
}
