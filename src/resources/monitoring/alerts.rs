//! The AWS side of `drpair_monitoring`: per region a KMS key, an SNS topic encrypted with it
//! (whose policy lets CloudWatch alarms and EventBridge rules of this account publish), the
//! subscriptions, and the CloudWatch alarms of that region, each notifying its own region's
//! topic on ALARM and on OK.
//!
//! Everything has a deterministic name: the topic is `{prefix}-alerts-{version}-{env}` in both
//! regions (its ARN follows from the account), the key's alias `alias/{topic}`, the alarms
//! `{prefix}-{kind}-{version}-{env}`; alarms and topics carry the owner tag. So a create
//! interrupted at any point is completed by the next [`ensure`], and [`destroy`] removes
//! whatever exists.
//!
//! Layout: [`topics`] (topic, policy, subscriptions), [`cloudwatch`] (alarms), [`observe`]
//! ([`observe()`] and [`drift`]), [`ensure`] and [`destroy`].

mod cloudwatch;
mod destroy;
mod ensure;
mod observe;
mod topics;

use serde_json::{json, Value};

use crate::aws::iam::Account;
use crate::aws::kms::{KeySpec, RegionKey};
use crate::aws::tags::{standard_tags, Tags};
use crate::aws::Role;

use super::alarms::AlarmSpec;

pub use destroy::destroy;
pub use ensure::ensure;
pub use observe::{drift, observe};

/// The owner tag's prefix: the Terraform resource type.
pub const OWNER_KIND: &str = "drpair_monitoring";
/// The error code of an ensure that found an object of that name it may not adopt.
pub use crate::aws::iam::NOT_OWNED_CODE as NOT_OWNED;

/// Values of the `drpair:part` tag (alarms use their kind).
pub mod part {
    pub const TOPIC: &str = "topic";
    pub const KMS_KEY: &str = "kms-key";
}

/// A subscription of both topics: `email`, `https`, `sqs`, `lambda`, ….
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Endpoint {
    pub protocol: String,
    pub endpoint: String,
}

impl Endpoint {
    pub fn new(protocol: &str, endpoint: &str) -> Self {
        Self {
            protocol: protocol.to_owned(),
            endpoint: endpoint.to_owned(),
        }
    }

    /// How messages, errors, logs and `drift` name the subscription: by its protocol only. The
    /// endpoint is a sensitive attribute (webhook URLs carry tokens, addresses are personal
    /// data), and `drift` is state Terraform shows in plans.
    pub fn label(&self) -> String {
        format!(
            "{} subscription (endpoint not shown: sensitive)",
            self.protocol
        )
    }
}

/// What the monitoring should be.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MonitoringSpec {
    /// The topic's name in both regions, e.g. `drpair-alerts-v2-dev`; also the resource id.
    pub topic_name: String,
    pub prefix: String,
    pub name_version: String,
    pub environment: String,
    /// Subscriptions of both topics (emails as `email` endpoints).
    pub subscriptions: Vec<Endpoint>,
    /// Subscriptions this resource made earlier and no longer wants: removed where confirmed.
    pub retired: Vec<Endpoint>,
    pub alarms: Vec<AlarmSpec>,
    pub default_tags: Tags,
    pub user_tags: Tags,
}

impl MonitoringSpec {
    pub fn owner(&self) -> String {
        owner_tag_value(&self.topic_name)
    }

    pub fn key_alias(&self) -> String {
        format!("alias/{}", self.topic_name)
    }

    /// The full tag set of one object on one side.
    pub fn tags(&self, role: Role, part: &str, name: &str) -> Tags {
        standard_tags(
            &self.environment,
            role.tag_value(),
            &self.owner(),
            part,
            Some(name),
            &self.default_tags,
            &self.user_tags,
        )
    }

    pub fn alarm_tags(&self, alarm: &AlarmSpec) -> Tags {
        let mut tags = self.tags(alarm.role, alarm.kind, &alarm.name);
        tags.extend(alarm.extra_tags.iter().cloned());
        tags
    }

    /// Whether an alarm name has the shape of this resource's alarms.
    pub fn is_alarm_name(&self, name: &str) -> bool {
        name.starts_with(&format!("{}-", self.prefix))
            && name.ends_with(&format!("-{}-{}", self.name_version, self.environment))
            && name != self.topic_name
    }

    pub fn alarms_in(&self, role: Role) -> impl Iterator<Item = &AlarmSpec> {
        self.alarms.iter().filter(move |a| a.role == role)
    }

    pub fn key_spec(&self, role: Role, region: &str, account: &Account) -> KeySpec {
        let name = format!("{}-key", self.topic_name);
        KeySpec {
            alias: self.key_alias(),
            owner: self.owner(),
            description: format!(
                "Encryption at rest of SNS topic {} in {region} ({} side), managed by {}",
                self.topic_name,
                role.label(),
                self.owner()
            ),
            tags: self.tags(role, part::KMS_KEY, &name),
            policy: Some(key_policy(account, region)),
        }
    }
}

pub fn owner_tag_value(topic_name: &str) -> String {
    format!("{OWNER_KIND}/{topic_name}")
}

/// The ARN a topic of this name has in `region`.
pub fn topic_arn(account: &Account, region: &str, name: &str) -> String {
    format!(
        "arn:{}:sns:{region}:{}:{name}",
        account.partition, account.id
    )
}

/// The ARN pattern of every CloudWatch alarm of the account in `region`: the `aws:SourceArn`
/// CloudWatch presents when an alarm publishes to SNS ("Resource: arn:aws:cloudwatch:REGION:
/// ACCOUNT:alarm:NAME is not authorized to perform: SNS:Publish", AWS re:Post knowledge center
/// "Why didn't I receive an SNS notification for my CloudWatch alarm trigger?"). Alarms notify
/// only topics of their own region, so the region is part of the guard.
pub fn alarm_source_arn(account: &Account, region: &str) -> String {
    format!(
        "arn:{}:cloudwatch:{region}:{}:alarm:*",
        account.partition, account.id
    )
}

/// The confused-deputy guard on a statement for CloudWatch alarms: only alarms of this account
/// in `region` (`aws:SourceAccount` and `aws:SourceArn`, as the SNS developer guide's "Allow any
/// CloudWatch alarm to publish to a topic" example scopes them).
fn alarms_of(account: &Account, region: &str) -> Value {
    json!({
        "StringEquals": { "aws:SourceAccount": account.id },
        "ArnLike": { "aws:SourceArn": alarm_source_arn(account, region) }
    })
}

/// Who may publish to a topic in `region`: CloudWatch alarms of this account in that region
/// (`aws:SourceAccount` and `aws:SourceArn`), EventBridge rules of this account
/// (`aws:SourceAccount` only, as before: the EventBridge user guide's SNS example, "Using
/// resource-based policies for Amazon EventBridge", has no `aws:SourceArn`, and earlier versions
/// of it said condition blocks could not be used there at all); the account itself manages it.
pub fn topic_policy(account: &Account, region: &str, topic_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AlarmsPublish",
                "Effect": "Allow",
                "Principal": { "Service": "cloudwatch.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": alarms_of(account, region)
            },
            {
                "Sid": "RulesPublish",
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": { "StringEquals": { "aws:SourceAccount": account.id } }
            },
            {
                "Sid": "AccountManages",
                "Effect": "Allow",
                "Principal": { "AWS": account.root_arn() },
                "Action": [
                    "sns:GetTopicAttributes",
                    "sns:SetTopicAttributes",
                    "sns:ListSubscriptionsByTopic",
                    "sns:Subscribe",
                    "sns:Publish",
                    "sns:DeleteTopic"
                ],
                "Resource": topic_arn
            }
        ]
    })
}

/// The policy of the topic's key in `region`: the account administers it (AWS's default, which
/// lets IAM policies grant its use), and CloudWatch and EventBridge may use it to publish to the
/// encrypted topic ("Enable compatibility between event sources from AWS services and encrypted
/// topics", SNS developer guide).
///
/// CloudWatch may use it only for alarms of this account in this region (`aws:SourceAccount`,
/// `aws:SourceArn`: the keys SNS passes on for the publishing alarm, as in the SNS guide's
/// key-policy example for AWS event sources and AWS's re:Post article "How do I configure a
/// CloudWatch alarm with an encrypted SNS topic?"). EventBridge's statement keeps no condition:
/// EventBridge documents these keys for event-bus keys (`aws:events:event-bus:arn`), not for the
/// KMS calls SNS makes when a rule publishes to an encrypted topic, and a condition the request
/// does not carry would drop every event silently. Who may publish at all is scoped by the topic
/// policy.
pub fn key_policy(account: &Account, region: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AccountAdministers",
                "Effect": "Allow",
                "Principal": { "AWS": account.root_arn() },
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "AlarmsEncrypt",
                "Effect": "Allow",
                "Principal": { "Service": "cloudwatch.amazonaws.com" },
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
                "Condition": alarms_of(account, region)
            },
            {
                "Sid": "RulesEncrypt",
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*"
            }
        ]
    })
}

/// One subscription as SNS lists it; `arn` is `PendingConfirmation` until an email is confirmed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedSubscription {
    pub arn: String,
    pub protocol: String,
    pub endpoint: String,
}

impl ObservedSubscription {
    pub fn is(&self, e: &Endpoint) -> bool {
        self.protocol == e.protocol && self.endpoint == e.endpoint
    }

    /// Only confirmed subscriptions have an ARN that Unsubscribe takes.
    pub fn is_confirmed(&self) -> bool {
        self.arn.starts_with("arn:")
    }
}

/// A region's topic.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedTopic {
    pub arn: String,
    /// The `KmsMasterKeyId` attribute (an ARN, key id or alias); None when unencrypted.
    pub kms_key_id: Option<String>,
    pub policy: Value,
    pub tags: Tags,
    pub subscriptions: Vec<ObservedSubscription>,
}

/// A CloudWatch metric alarm as DescribeAlarms reports it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedAlarm {
    pub name: String,
    pub arn: String,
    pub description: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
    pub period: i32,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub threshold: f64,
    pub comparison: String,
    pub treat_missing_data: String,
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub state: String,
    pub tags: Tags,
}

/// What exists in one region.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionObserved {
    pub region: String,
    pub key: Option<RegionKey>,
    pub topic: Option<ObservedTopic>,
    /// The alarms tagged as this resource's.
    pub alarms: Vec<ObservedAlarm>,
}

/// What exists in both regions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedMonitoring {
    pub account: Account,
    pub primary: RegionObserved,
    pub dr: RegionObserved,
}

impl ObservedMonitoring {
    pub fn region(&self, role: Role) -> &RegionObserved {
        match role {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }

    /// Whether anything destroy would remove exists in either region, the keys included (a
    /// destroy stopped between scheduling a key's deletion and removing its alias leaves the
    /// alias: the resource stays in state until a destroy has removed it).
    pub fn exists(&self) -> bool {
        [&self.primary, &self.dr]
            .iter()
            .any(|r| r.key.is_some() || r.topic.is_some() || !r.alarms.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            id: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn names_and_policies() {
        let spec = MonitoringSpec {
            topic_name: "drpair-alerts-v2-dev".into(),
            prefix: "drpair".into(),
            name_version: "v2".into(),
            environment: "dev".into(),
            ..MonitoringSpec::default()
        };
        assert_eq!(spec.owner(), "drpair_monitoring/drpair-alerts-v2-dev");
        assert_eq!(spec.key_alias(), "alias/drpair-alerts-v2-dev");
        assert!(spec.is_alarm_name("drpair-replication-lag-v2-dev"));
        assert!(!spec.is_alarm_name("drpair-alerts-v2-dev"));
        assert!(!spec.is_alarm_name("drpair-replication-lag-v2-prod"));
        let arn = topic_arn(&account(), "us-east-2", &spec.topic_name);
        assert_eq!(
            arn,
            "arn:aws:sns:us-east-2:123456789012:drpair-alerts-v2-dev"
        );
        let key = spec.key_spec(Role::Dr, "us-east-2", &account());
        assert_eq!(key.tags.get("DR-Role").map(String::as_str), Some("dr"));
        assert_eq!(key.policy, Some(key_policy(&account(), "us-east-2")));
    }

    /// The statement of `doc` whose principal is the service `service`.
    fn statement_of<'a>(doc: &'a Value, service: &str) -> &'a Value {
        let found: Vec<&Value> = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Principal"]["Service"] == service)
            .collect();
        assert_eq!(found.len(), 1, "one statement for {service}: {doc:#}");
        found[0]
    }

    /// Confused deputy: CloudWatch may publish (and use the key) only for alarms of this
    /// account in the topic's own region; EventBridge only for this account's rules.
    #[test]
    fn services_are_scoped_to_this_account_and_region() {
        let arn = topic_arn(&account(), "us-east-2", "drpair-alerts-v2-dev");
        let alarms = json!({
            "StringEquals": { "aws:SourceAccount": "123456789012" },
            "ArnLike": { "aws:SourceArn": "arn:aws:cloudwatch:us-east-2:123456789012:alarm:*" }
        });
        let topic = topic_policy(&account(), "us-east-2", &arn);
        let cloudwatch = statement_of(&topic, "cloudwatch.amazonaws.com");
        assert_eq!(cloudwatch["Action"], "sns:Publish");
        assert_eq!(cloudwatch["Resource"], arn);
        assert_eq!(cloudwatch["Condition"], alarms);
        let events = statement_of(&topic, "events.amazonaws.com");
        assert_eq!(
            events["Condition"],
            json!({ "StringEquals": { "aws:SourceAccount": "123456789012" } })
        );
        assert_eq!(events["Resource"], arn);

        let key = key_policy(&account(), "us-east-2");
        let cloudwatch = statement_of(&key, "cloudwatch.amazonaws.com");
        assert_eq!(
            cloudwatch["Action"],
            json!(["kms:Decrypt", "kms:GenerateDataKey"])
        );
        assert_eq!(cloudwatch["Condition"], alarms);
        let events = statement_of(&key, "events.amazonaws.com");
        assert!(
            events.get("Condition").is_none(),
            "EventBridge's KMS calls through SNS carry no source keys: {events}"
        );
        // Another region's alarms are another region's business.
        assert_eq!(
            statement_of(
                &key_policy(&account(), "us-east-1"),
                "cloudwatch.amazonaws.com"
            )["Condition"]["ArnLike"]["aws:SourceArn"],
            "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"
        );
        assert_eq!(
            alarm_source_arn(
                &Account {
                    id: "111122223333".into(),
                    partition: "aws-us-gov".into()
                },
                "us-gov-west-1"
            ),
            "arn:aws-us-gov:cloudwatch:us-gov-west-1:111122223333:alarm:*"
        );
    }

    #[test]
    fn subscription_labels_hide_the_endpoint() {
        let hook = Endpoint::new("https", "https://hooks.example.com/T0/B0/secret-token");
        assert_eq!(
            hook.label(),
            "https subscription (endpoint not shown: sensitive)"
        );
        assert!(!Endpoint::new("email", "oncall@example.com")
            .label()
            .contains("oncall"));
    }
}
