//! The AWS side of `drpair_metric_stream`: each region's metrics kept in the other region, so
//! whichever region writes after a failover still has its metrics kept away from it. Per
//! direction (named by its *source*, the region whose metrics it carries): a CloudWatch metric
//! stream in the source region (filtered to the namespaces), a Kinesis Data Firehose stream next
//! to it (server-side encrypted with the source region's KMS key) delivering to an S3 bucket in
//! the other region (SSE-KMS with that region's key and an S3 Bucket Key, versioned, public
//! access blocked, objects expiring), and two IAM roles: one CloudWatch assumes to put records
//! into exactly that Firehose stream, one Firehose assumes to write into exactly that bucket
//! with exactly that key. One KMS key per region serves both the region's Firehose stream and
//! its bucket.
//!
//! Names are deterministic: the metric stream and the Firehose stream are
//! `{prefix}-metrics-{version}-{env}` in both regions (regional names); the global ones of the
//! primary's direction are `{prefix}-metrics-{account}-{version}-{env}` (bucket, in the DR
//! region), `{prefix}-metric-stream-…` and `{prefix}-metric-delivery-…` (roles), those of the DR
//! region's direction the same with `{prefix}-dr-` in front. Everything carries the owner tag, so
//! a create interrupted at any point is completed by the next [`ensure`], and [`destroy`]
//! removes whatever exists, the buckets emptied of every object version first.
//!
//! Layout: [`bucket`], [`firehose`], [`cloudwatch`] (one AWS object each: find, ensure,
//! delete), [`observe`] ([`observe()`] and [`drift`]), [`ensure`] and [`destroy`].

mod bucket;
mod cloudwatch;
mod destroy;
mod ensure;
mod firehose;
mod observe;

use std::collections::BTreeMap;

use serde_json::json;

use crate::aws::iam::{
    allow, policy_document, service_trust_policy, Account, ObservedRole, RoleSpec,
};
use crate::aws::kms::{KeySpec, RegionKey};
use crate::aws::tags::{standard_tags, Tags};
use crate::aws::Role;

pub use destroy::destroy;
pub use ensure::ensure;
pub use observe::{drift, observe};

/// The policy of a region's key: administered by the account, used only through Firehose (the
/// stream's server-side encryption, for which Firehose creates a grant: "Data protection in
/// Amazon Data Firehose", server-side encryption with a customer managed key) and S3 (the
/// Firehose role's writes into the bucket, `kms:GenerateDataKey` via S3 in the bucket's region:
/// "Grant Firehose access to an Amazon S3 destination"), by principals of this account.
pub fn key_policy(account: &Account, region: &str) -> serde_json::Value {
    crate::aws::kms::key_policy_for(account, region, &["firehose", "s3"], Vec::new())
}

/// The owner tag's prefix: the Terraform resource type.
pub const OWNER_KIND: &str = "drpair_metric_stream";
/// The DR-Role tag of global objects (the IAM roles).
pub const GLOBAL_ROLE: &str = "global";
/// Where the objects go in the bucket, and failed records.
pub const OBJECT_PREFIX: &str = "metrics/";
pub const ERROR_PREFIX: &str = "errors/";
/// Firehose buffering: 5 MiB or 5 minutes, whichever comes first.
pub const BUFFER_MB: i32 = 5;
pub const BUFFER_SECONDS: i32 = 300;
/// The bucket's lifecycle rule.
pub const LIFECYCLE_RULE: &str = "expire-metrics";
pub const ABORT_MULTIPART_DAYS: i32 = 7;
/// The inline policies' names on the roles.
pub const STREAM_POLICY: &str = "put-records-to-firehose";
pub const DELIVERY_POLICY: &str = "deliver-to-bucket";

/// Values of the `drpair:part` tag.
pub mod part {
    pub const METRIC_STREAM: &str = "metric-stream";
    pub const FIREHOSE: &str = "firehose";
    pub const BUCKET: &str = "bucket";
    pub const KMS_KEY: &str = "kms-key";
    pub const STREAM_ROLE: &str = "metric-stream-role";
    pub const DELIVERY_ROLE: &str = "firehose-role";
}

/// What the metric stream should be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamSpec {
    /// The metric stream's and the Firehose stream's name; also the resource id.
    pub name: String,
    pub prefix: String,
    pub name_version: String,
    pub environment: String,
    /// Sorted.
    pub namespaces: Vec<String>,
    pub output_format: String,
    pub retention_days: i64,
    pub default_tags: Tags,
    pub user_tags: Tags,
}

impl StreamSpec {
    pub fn owner(&self) -> String {
        owner_tag_value(&self.name)
    }

    pub fn key_alias(&self) -> String {
        format!("alias/{}", self.name)
    }

    /// The bucket in `source.peer()` that keeps `source`'s metrics:
    /// `{prefix}-metrics-{account}-{version}-{env}` (the primary's, in the DR region) or
    /// `{prefix}-dr-metrics-…` (the DR region's, in the primary). S3 names are global, the
    /// account makes them unique.
    pub fn bucket_name(&self, account: &Account, source: Role) -> String {
        bucket_name(
            &self.prefix,
            &account.id,
            &self.name_version,
            &self.environment,
            source,
        )
    }

    /// The role CloudWatch assumes to stream `source`'s metrics.
    pub fn stream_role_name(&self, source: Role) -> String {
        format!(
            "{}-metric-stream-{}-{}",
            global_prefix(&self.prefix, source),
            self.name_version,
            self.environment
        )
    }

    /// The role Firehose assumes to deliver `source`'s metrics.
    pub fn delivery_role_name(&self, source: Role) -> String {
        delivery_role_name(&self.prefix, &self.name_version, &self.environment, source)
    }

    pub fn firehose_arn(&self, account: &Account, region: &str) -> String {
        format!(
            "arn:{}:firehose:{region}:{}:deliverystream/{}",
            account.partition, account.id, self.name
        )
    }

    pub fn bucket_arn(&self, account: &Account, source: Role) -> String {
        format!(
            "arn:{}:s3:::{}",
            account.partition,
            self.bucket_name(account, source)
        )
    }

    /// The full tag set of one object; `dr_role` is `primary`, `dr` or `global`.
    pub fn tags(&self, dr_role: &str, part: &str, name: &str) -> Tags {
        standard_tags(
            &self.environment,
            dr_role,
            &self.owner(),
            part,
            Some(name),
            &self.default_tags,
            &self.user_tags,
        )
    }

    /// The region's key: it encrypts the region's Firehose stream and the bucket there that
    /// keeps the other region's metrics.
    pub fn key_spec(&self, account: &Account, role: Role, region: &str) -> KeySpec {
        let what = format!(
            "Firehose stream {} and of the bucket of the {} region's metrics",
            self.name,
            role.peer().label()
        );
        KeySpec {
            alias: self.key_alias(),
            owner: self.owner(),
            description: format!(
                "Encryption at rest of the {what} in {region} ({} side), managed by {}",
                role.label(),
                self.owner()
            ),
            tags: self.tags(
                role.tag_value(),
                part::KMS_KEY,
                &format!("{}-key", self.name),
            ),
            policy: Some(key_policy(account, region)),
        }
    }

    /// The role CloudWatch assumes to stream `source`'s metrics: it may put records into the
    /// Firehose stream of `source_region` and nothing else.
    pub fn stream_role(&self, account: &Account, source: Role, source_region: &str) -> RoleSpec {
        let firehose = self.firehose_arn(account, source_region);
        let name = self.stream_role_name(source);
        RoleSpec {
            description: format!(
                "Assumed by CloudWatch metric stream {} in {source_region} to put records into its Firehose stream, managed by {}",
                self.name,
                self.owner()
            ),
            trust_policy: stream_trust_policy(account),
            managed_policy_arns: Vec::new(),
            inline_policies: BTreeMap::from([(
                STREAM_POLICY.to_owned(),
                policy_document(vec![allow(
                    "PutRecordsToTheStreamsFirehose",
                    &["firehose:PutRecord", "firehose:PutRecordBatch"],
                    &[firehose],
                )]),
            )]),
            tags: self.tags(GLOBAL_ROLE, part::STREAM_ROLE, &name),
            owner: self.owner(),
            name,
        }
    }

    /// The role Firehose assumes to deliver `source`'s metrics: it may write objects into the
    /// bucket in `dest_region`, encrypted with that region's key through S3 there, and nothing
    /// else.
    ///
    /// The bucket uses an S3 Bucket Key, so S3 asks KMS with the *bucket* ARN as encryption
    /// context (`aws:s3:arn`), not the object's: "When an S3 Bucket Key is enabled for the source
    /// or destination bucket, the encryption context will be the bucket Amazon Resource Name (ARN)
    /// and not the object ARN … You need to update your IAM policies to use the bucket ARN for the
    /// encryption context" (Amazon S3 User Guide, "Configuring your bucket to use an S3 Bucket
    /// Key with SSE-KMS for new objects"). A condition on object ARNs, as in Firehose's own
    /// example policy for buckets without a Bucket Key, would refuse every delivery.
    pub fn delivery_role(
        &self,
        account: &Account,
        source: Role,
        dest_region: &str,
        dest_key_arn: &str,
    ) -> RoleSpec {
        let bucket = self.bucket_arn(account, source);
        let name = self.delivery_role_name(source);
        let mut kms = allow(
            "EncryptObjectsWithTheBucketKey",
            &["kms:GenerateDataKey", "kms:Decrypt"],
            &[dest_key_arn.to_owned()],
        );
        kms["Condition"] = json!({
            "StringEquals": {
                "kms:ViaService": format!("s3.{dest_region}.amazonaws.com"),
                "kms:EncryptionContext:aws:s3:arn": bucket,
            },
        });
        RoleSpec {
            description: format!(
                "Assumed by Firehose stream {} to deliver {} metrics into its bucket in {dest_region}, managed by {}",
                self.name,
                source.label(),
                self.owner()
            ),
            trust_policy: firehose_trust_policy(account),
            managed_policy_arns: Vec::new(),
            inline_policies: BTreeMap::from([(
                DELIVERY_POLICY.to_owned(),
                policy_document(vec![
                    allow(
                        "WriteObjects",
                        &["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                        &[format!("{bucket}/{OBJECT_PREFIX}*"), format!("{bucket}/{ERROR_PREFIX}*")],
                    ),
                    allow(
                        "FindTheBucket",
                        &["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                        &[bucket],
                    ),
                    kms,
                ]),
            )]),
            tags: self.tags(GLOBAL_ROLE, part::DELIVERY_ROLE, &name),
            owner: self.owner(),
            name,
        }
    }
}

/// CloudWatch assumes the stream role only on behalf of this account's metric streams
/// (`aws:SourceAccount`, the confused-deputy guard of the IAM User Guide's "The confused deputy
/// problem"): "Metric data is streamed by CloudWatch to the destination Firehose delivery stream
/// on behalf of the source that owns the metric stream resource" ("Trust between CloudWatch and
/// Firehose", whose example trust policy has no condition). Not `aws:SourceArn`: CloudWatch does
/// not document which ARN, if any, it presents when it assumes the role, and a condition on a
/// key the request lacks would stop every metric from streaming.
fn stream_trust_policy(account: &Account) -> serde_json::Value {
    service_trust_policy(
        "streams.metrics.cloudwatch.amazonaws.com",
        Some(&account.id),
    )
}

/// Firehose assumes its role passing the account id as external id: the guard Firehose
/// documents ("Allow Firehose to assume an IAM role": `sts:ExternalId` = the account, "to ensure
/// that only Amazon Data Firehose activity originating from your AWS account can assume this IAM
/// role"). Firehose documents no `aws:SourceAccount`/`aws:SourceArn` for this call, so none is
/// added.
fn firehose_trust_policy(account: &Account) -> serde_json::Value {
    let mut trust = service_trust_policy("firehose.amazonaws.com", None);
    trust["Statement"][0]["Condition"] =
        json!({ "StringEquals": { "sts:ExternalId": account.id } });
    trust
}

pub fn owner_tag_value(name: &str) -> String {
    format!("{OWNER_KIND}/{name}")
}

/// The start of the global names (bucket, roles) of `source`'s direction: the prefix, or
/// `{prefix}-dr` for the DR region's metrics.
fn global_prefix(prefix: &str, source: Role) -> String {
    match source {
        Role::Primary => prefix.to_owned(),
        Role::Dr => format!("{prefix}-dr"),
    }
}

pub fn bucket_name(
    prefix: &str,
    account: &str,
    name_version: &str,
    environment: &str,
    source: Role,
) -> String {
    format!(
        "{}-metrics-{account}-{name_version}-{environment}",
        global_prefix(prefix, source)
    )
}

pub fn delivery_role_name(
    prefix: &str,
    name_version: &str,
    environment: &str,
    source: Role,
) -> String {
    format!(
        "{}-metric-delivery-{name_version}-{environment}",
        global_prefix(prefix, source)
    )
}

/// The DR bucket as S3 has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedBucket {
    pub name: String,
    pub tags: Tags,
    /// `Enabled`, `Suspended` or empty (never versioned).
    pub versioning: String,
    pub sse_algorithm: String,
    pub sse_key: Option<String>,
    /// The default encryption uses an S3 Bucket Key (the delivery role's KMS permission
    /// depends on it: see [`StreamSpec::delivery_role`]).
    pub bucket_key_enabled: bool,
    /// All four public-access blocks on.
    pub public_access_blocked: bool,
    /// The expiry rule: current-object days and noncurrent-version days.
    pub expiration: Option<(Option<i32>, Option<i32>)>,
    /// The bucket policy, parsed; None when the bucket has none.
    pub policy: Option<serde_json::Value>,
}

/// The Firehose stream as Firehose has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedFirehose {
    pub arn: String,
    /// `ACTIVE`, `CREATING`, `DELETING`, …
    pub status: String,
    pub version_id: String,
    pub destination_id: String,
    pub role_arn: String,
    pub bucket_arn: String,
    pub prefix: String,
    pub s3_kms_key: Option<String>,
    /// Server-side encryption of the stream: key type and ARN when enabled (or enabling).
    pub sse: Option<(String, Option<String>)>,
    pub tags: Tags,
}

/// The metric stream as CloudWatch has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedStream {
    pub arn: String,
    /// `running` or `stopped`.
    pub state: String,
    pub firehose_arn: String,
    pub role_arn: String,
    pub output_format: String,
    /// Sorted.
    pub namespaces: Vec<String>,
    pub tags: Tags,
}

/// What exists of one direction (named by its source region).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedDirection {
    /// The bucket in the other region.
    pub bucket: Option<ObservedBucket>,
    /// The Firehose stream and the metric stream in the source region.
    pub firehose: Option<ObservedFirehose>,
    pub stream: Option<ObservedStream>,
    pub stream_role: Option<ObservedRole>,
    pub delivery_role: Option<ObservedRole>,
}

impl ObservedDirection {
    pub fn exists(&self) -> bool {
        self.bucket.is_some()
            || self.firehose.is_some()
            || self.stream.is_some()
            || self.stream_role.is_some()
            || self.delivery_role.is_some()
    }
}

/// What exists in both regions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedMetrics {
    pub account: Account,
    pub primary_region: String,
    pub dr_region: String,
    pub primary_key: Option<RegionKey>,
    pub dr_key: Option<RegionKey>,
    /// The primary region's metrics, kept in the DR region.
    pub primary: ObservedDirection,
    /// The DR region's metrics, kept in the primary region.
    pub dr: ObservedDirection,
}

impl ObservedMetrics {
    pub fn key(&self, role: Role) -> Option<&RegionKey> {
        match role {
            Role::Primary => self.primary_key.as_ref(),
            Role::Dr => self.dr_key.as_ref(),
        }
    }

    pub fn region(&self, role: Role) -> &str {
        match role {
            Role::Primary => &self.primary_region,
            Role::Dr => &self.dr_region,
        }
    }

    /// The direction carrying `source`'s metrics.
    pub fn direction(&self, source: Role) -> &ObservedDirection {
        match source {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }

    /// Whether anything destroy would remove exists, the keys included (a destroy stopped
    /// between scheduling a key's deletion and removing its alias leaves the alias: the
    /// resource stays in state until a destroy has removed it).
    pub fn exists(&self) -> bool {
        self.primary.exists()
            || self.dr.exists()
            || self.primary_key.is_some()
            || self.dr_key.is_some()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::aws::iam::wildcard_actions;

    pub fn spec() -> StreamSpec {
        StreamSpec {
            name: "drpair-metrics-v2-dev".into(),
            prefix: "drpair".into(),
            name_version: "v2".into(),
            environment: "dev".into(),
            namespaces: vec!["AWS/RDS".into()],
            output_format: "json".into(),
            retention_days: 90,
            ..StreamSpec::default()
        }
    }

    pub fn account() -> Account {
        Account {
            id: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn names() {
        let s = spec();
        assert_eq!(
            s.bucket_name(&account(), Role::Primary),
            "drpair-metrics-123456789012-v2-dev"
        );
        assert_eq!(
            s.bucket_name(&account(), Role::Dr),
            "drpair-dr-metrics-123456789012-v2-dev"
        );
        assert_eq!(
            s.stream_role_name(Role::Primary),
            "drpair-metric-stream-v2-dev"
        );
        assert_eq!(
            s.stream_role_name(Role::Dr),
            "drpair-dr-metric-stream-v2-dev"
        );
        assert_eq!(
            s.delivery_role_name(Role::Primary),
            "drpair-metric-delivery-v2-dev"
        );
        assert_eq!(
            s.delivery_role_name(Role::Dr),
            "drpair-dr-metric-delivery-v2-dev"
        );
        assert_eq!(
            s.firehose_arn(&account(), "us-east-2"),
            "arn:aws:firehose:us-east-2:123456789012:deliverystream/drpair-metrics-v2-dev"
        );
    }

    #[test]
    fn roles_name_exactly_their_resources() {
        let s = spec();
        for (source, source_region, dest_region) in [
            (Role::Primary, "us-east-1", "us-east-2"),
            (Role::Dr, "us-east-2", "us-east-1"),
        ] {
            let stream = s.stream_role(&account(), source, source_region);
            let doc = &stream.inline_policies[STREAM_POLICY];
            assert!(wildcard_actions(doc).is_empty());
            assert_eq!(
                doc["Statement"][0]["Resource"][0],
                format!(
                    "arn:aws:firehose:{source_region}:123456789012:deliverystream/drpair-metrics-v2-dev"
                )
            );
            assert_eq!(
                stream.trust_policy["Statement"][0]["Principal"]["Service"],
                "streams.metrics.cloudwatch.amazonaws.com"
            );
            assert_eq!(
                stream.trust_policy["Statement"][0]["Condition"],
                json!({ "StringEquals": { "aws:SourceAccount": "123456789012" } }),
                "only this account's metric streams may use the role"
            );
            let key = format!("arn:aws:kms:{dest_region}:123456789012:key/k");
            let delivery = s.delivery_role(&account(), source, dest_region, &key);
            assert_eq!(
                delivery.trust_policy["Statement"][0]["Condition"]["StringEquals"]
                    ["sts:ExternalId"],
                "123456789012"
            );
            let doc = &delivery.inline_policies[DELIVERY_POLICY];
            assert!(wildcard_actions(doc).is_empty());
            let bucket = s.bucket_name(&account(), source);
            let resources: Vec<String> = doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|st| st["Resource"].as_array().unwrap().clone())
                .map(|r| r.as_str().unwrap().to_owned())
                .collect();
            assert!(
                resources
                    .iter()
                    .all(|r| r.starts_with(&format!("arn:aws:s3:::{bucket}")) || *r == key),
                "{resources:?}"
            );
            assert!(!resources.iter().any(|r| r == "*"));
        }
    }

    /// The bucket uses an S3 Bucket Key: S3 asks KMS with the bucket ARN as encryption context,
    /// so that (not object ARNs) is what the delivery role may use the key for, through S3 in
    /// the bucket's region only.
    #[test]
    fn the_delivery_role_may_use_the_key_for_the_bucket_key_context() {
        let s = spec();
        let delivery = s.delivery_role(
            &account(),
            Role::Dr,
            "us-east-1",
            "arn:aws:kms:us-east-1:123456789012:key/k",
        );
        let doc = &delivery.inline_policies[DELIVERY_POLICY];
        let kms = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["Sid"] == "EncryptObjectsWithTheBucketKey")
            .expect("the KMS statement");
        assert_eq!(
            kms["Condition"],
            json!({ "StringEquals": {
                "kms:ViaService": "s3.us-east-1.amazonaws.com",
                "kms:EncryptionContext:aws:s3:arn": "arn:aws:s3:::drpair-dr-metrics-123456789012-v2-dev",
            }})
        );
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 3);
    }
}
