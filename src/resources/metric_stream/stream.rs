//! The AWS side of `drpair_metric_stream`: a CloudWatch metric stream in the primary region
//! (filtered to the namespaces), a Kinesis Data Firehose stream next to it (server-side
//! encrypted with a primary-region KMS key) delivering to an S3 bucket in the DR region
//! (SSE-KMS with a DR-region key, versioned, public access blocked, objects expiring), and the
//! two IAM roles: one CloudWatch assumes to put records into exactly that Firehose stream, one
//! Firehose assumes to write into exactly that bucket with exactly that key.
//!
//! Names are deterministic (`{prefix}-metrics-{version}-{env}` for the streams,
//! `{prefix}-metrics-{account}-{version}-{env}` for the bucket) and everything carries the
//! owner tag, so a create interrupted at any point is completed by the next [`ensure`], and
//! [`destroy`] removes whatever exists, the bucket emptied of every object version first.
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

    /// `{prefix}-metrics-{account}-{version}-{env}`: S3 names are global, the account makes
    /// this one unique.
    pub fn bucket_name(&self, account: &Account) -> String {
        bucket_name(
            &self.prefix,
            &account.id,
            &self.name_version,
            &self.environment,
        )
    }

    pub fn stream_role_name(&self) -> String {
        format!(
            "{}-metric-stream-{}-{}",
            self.prefix, self.name_version, self.environment
        )
    }

    pub fn delivery_role_name(&self) -> String {
        format!(
            "{}-metric-delivery-{}-{}",
            self.prefix, self.name_version, self.environment
        )
    }

    pub fn firehose_arn(&self, account: &Account, region: &str) -> String {
        format!(
            "arn:{}:firehose:{region}:{}:deliverystream/{}",
            account.partition, account.id, self.name
        )
    }

    pub fn bucket_arn(&self, account: &Account) -> String {
        format!(
            "arn:{}:s3:::{}",
            account.partition,
            self.bucket_name(account)
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

    pub fn key_spec(&self, role: Role, region: &str) -> KeySpec {
        let what = match role {
            Role::Primary => format!("Firehose stream {}", self.name),
            Role::Dr => format!("metrics bucket of {}", self.name),
        };
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
            policy: None,
        }
    }

    /// The role CloudWatch assumes to stream: it may put records into this Firehose stream
    /// and nothing else.
    pub fn stream_role(&self, account: &Account, primary_region: &str) -> RoleSpec {
        let firehose = self.firehose_arn(account, primary_region);
        RoleSpec {
            name: self.stream_role_name(),
            description: format!(
                "Assumed by CloudWatch metric stream {} to put records into its Firehose stream, managed by {}",
                self.name,
                self.owner()
            ),
            // As AWS documents it, without a condition.
            trust_policy: service_trust_policy("streams.metrics.cloudwatch.amazonaws.com", None),
            managed_policy_arns: Vec::new(),
            inline_policies: BTreeMap::from([(
                STREAM_POLICY.to_owned(),
                policy_document(vec![allow(
                    "PutRecordsToTheStreamsFirehose",
                    &["firehose:PutRecord", "firehose:PutRecordBatch"],
                    &[firehose],
                )]),
            )]),
            tags: self.tags(GLOBAL_ROLE, part::STREAM_ROLE, &self.stream_role_name()),
            owner: self.owner(),
        }
    }

    /// The role Firehose assumes to deliver: it may write objects into this bucket, encrypted
    /// with this key through S3 in the DR region, and nothing else.
    pub fn delivery_role(&self, account: &Account, dr_region: &str, dr_key_arn: &str) -> RoleSpec {
        let bucket = self.bucket_arn(account);
        let mut kms = allow(
            "EncryptObjectsWithTheBucketKey",
            &["kms:GenerateDataKey", "kms:Decrypt"],
            &[dr_key_arn.to_owned()],
        );
        kms["Condition"] = json!({
            "StringEquals": { "kms:ViaService": format!("s3.{dr_region}.amazonaws.com") },
            "StringLike": { "kms:EncryptionContext:aws:s3:arn": format!("{bucket}/{OBJECT_PREFIX}*") },
        });
        let mut kms_errors = kms.clone();
        kms_errors["Sid"] = json!("EncryptErrorObjectsWithTheBucketKey");
        kms_errors["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] =
            json!(format!("{bucket}/{ERROR_PREFIX}*"));
        RoleSpec {
            name: self.delivery_role_name(),
            description: format!(
                "Assumed by Firehose stream {} to deliver into its bucket in {dr_region}, managed by {}",
                self.name,
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
                    kms_errors,
                ]),
            )]),
            tags: self.tags(GLOBAL_ROLE, part::DELIVERY_ROLE, &self.delivery_role_name()),
            owner: self.owner(),
        }
    }
}

/// Firehose assumes its role passing the account id as external id (AWS's documented guard).
fn firehose_trust_policy(account: &Account) -> serde_json::Value {
    let mut trust = service_trust_policy("firehose.amazonaws.com", None);
    trust["Statement"][0]["Condition"] =
        json!({ "StringEquals": { "sts:ExternalId": account.id } });
    trust
}

pub fn owner_tag_value(name: &str) -> String {
    format!("{OWNER_KIND}/{name}")
}

pub fn bucket_name(prefix: &str, account: &str, name_version: &str, environment: &str) -> String {
    format!("{prefix}-metrics-{account}-{name_version}-{environment}")
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
    /// All four public-access blocks on.
    pub public_access_blocked: bool,
    /// The expiry rule: current-object days and noncurrent-version days.
    pub expiration: Option<(Option<i32>, Option<i32>)>,
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

/// What exists in both regions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedMetrics {
    pub account: Account,
    pub primary_region: String,
    pub dr_region: String,
    pub primary_key: Option<RegionKey>,
    pub dr_key: Option<RegionKey>,
    pub bucket: Option<ObservedBucket>,
    pub firehose: Option<ObservedFirehose>,
    pub stream: Option<ObservedStream>,
    pub stream_role: Option<ObservedRole>,
    pub delivery_role: Option<ObservedRole>,
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

    /// Whether anything of the resource exists.
    pub fn exists(&self) -> bool {
        self.bucket.is_some()
            || self.firehose.is_some()
            || self.stream.is_some()
            || self.stream_role.is_some()
            || self.delivery_role.is_some()
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
            s.bucket_name(&account()),
            "drpair-metrics-123456789012-v2-dev"
        );
        assert_eq!(s.stream_role_name(), "drpair-metric-stream-v2-dev");
        assert_eq!(s.delivery_role_name(), "drpair-metric-delivery-v2-dev");
        assert_eq!(
            s.firehose_arn(&account(), "us-east-1"),
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/drpair-metrics-v2-dev"
        );
    }

    #[test]
    fn roles_name_exactly_their_resources() {
        let s = spec();
        let stream = s.stream_role(&account(), "us-east-1");
        let doc = &stream.inline_policies[STREAM_POLICY];
        assert!(wildcard_actions(doc).is_empty());
        assert_eq!(
            doc["Statement"][0]["Resource"][0],
            "arn:aws:firehose:us-east-1:123456789012:deliverystream/drpair-metrics-v2-dev"
        );
        assert_eq!(
            stream.trust_policy["Statement"][0]["Principal"]["Service"],
            "streams.metrics.cloudwatch.amazonaws.com"
        );
        let firehose_trust = &s.delivery_role(&account(), "us-east-2", "k").trust_policy;
        assert_eq!(
            firehose_trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
            "123456789012"
        );
        let delivery = s.delivery_role(
            &account(),
            "us-east-2",
            "arn:aws:kms:us-east-2:123456789012:key/k",
        );
        let doc = &delivery.inline_policies[DELIVERY_POLICY];
        assert!(wildcard_actions(doc).is_empty());
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
                .all(|r| r.contains("drpair-metrics-123456789012-v2-dev") || r.ends_with("key/k")),
            "{resources:?}"
        );
        assert!(!resources.iter().any(|r| r == "*"));
        assert_eq!(
            doc["Statement"][2]["Condition"]["StringEquals"]["kms:ViaService"],
            "s3.us-east-2.amazonaws.com"
        );
    }
}
