//! The IAM policies of the two roles: each names the resources it may touch, with no wildcard
//! action, and `*` resources only where AWS has no resource-level permissions.

use serde_json::{json, Value};

use crate::aws::iam::{allow, policy_document, service_trust_policy, Account};

use super::parts::Function;
use super::Spec;

impl Spec {
    /// Writing to the function's own log group, which drpair creates (encrypted, with a
    /// retention, tagged): not `logs:CreateLogGroup`, so Lambda can never make another one.
    fn log_statements(&self, account: &Account, function: Function) -> Vec<Value> {
        let group = self.log_group_arn(account, function);
        vec![allow(
            "WriteOwnLogs",
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            &[format!("{group}:*")],
        )]
    }

    /// Publishing to the topics, which drpair_monitoring encrypts with KMS keys of their
    /// regions: the publisher needs the key too, but only through SNS and only for these topics.
    /// The keys' ARNs are not inputs (the topics are), so the key resource is any key of the
    /// topics' regions, and the use is scoped by the encryption context SNS passes on each call,
    /// `aws:sns:topicArn` = the topic (AWS documents this key for SNS-encrypted topics, e.g. the
    /// key policy in GameLift FlexMatch's "Set up an SNS topic with server-side encryption":
    /// `kms:EncryptionContext:aws:sns:topicArn`): a key of another topic cannot be used.
    fn publish_statements(&self, account: &Account) -> Vec<Value> {
        let mut regions: Vec<String> = self
            .inputs
            .topic_arns
            .iter()
            .filter_map(|arn| arn.split(':').nth(3).map(str::to_owned))
            .collect();
        regions.sort();
        regions.dedup();
        let via: Vec<String> = regions
            .iter()
            .map(|r| format!("sns.{r}.amazonaws.com"))
            .collect();
        let keys: Vec<String> = regions
            .iter()
            .map(|r| format!("arn:{}:kms:{r}:{}:key/*", account.partition, account.id))
            .collect();
        vec![
            allow("Notify", &["sns:Publish"], &self.inputs.topic_arns),
            json!({
                "Sid": "EncryptedTopics",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": keys,
                "Condition": { "StringEquals": {
                    "kms:ViaService": via,
                    "kms:EncryptionContext:aws:sns:topicArn": self.inputs.topic_arns,
                } },
            }),
        ]
    }

    /// The orchestrator's permissions: exactly the global cluster, the DR cluster, the DR group,
    /// its state table and the topics. Nothing in the primary region but publishing to its topic:
    /// the orchestrator decides from direct probes of the primary's endpoint and the DR region's
    /// own metrics. `*` resources only where AWS has no resource-level permissions
    /// (GetMetricData, DescribeAutoScalingGroups).
    pub fn orchestrator_policy(&self, account: &Account) -> Value {
        let (p, id) = (&account.partition, &account.id);
        let global = format!(
            "arn:{p}:rds::{id}:global-cluster:{}",
            self.inputs.global_cluster_identifier
        );
        let dr_cluster = format!(
            "arn:{p}:rds:{}:{id}:cluster:{}",
            self.dr_region, self.inputs.dr_cluster_identifier
        );
        let mut statements = vec![
            allow(
                "ReadGlobalDatabase",
                &["rds:DescribeGlobalClusters"],
                std::slice::from_ref(&global),
            ),
            allow(
                "FailOverToDr",
                &["rds:FailoverGlobalCluster"],
                &[global, dr_cluster.clone()],
            ),
            allow("ReadDrCluster", &["rds:DescribeDBClusters"], &[dr_cluster]),
            allow(
                "ReadReplicationLag",
                &["cloudwatch:GetMetricData"],
                &["*".into()],
            ),
            allow(
                "DescribeGroups",
                &["autoscaling:DescribeAutoScalingGroups"],
                &["*".into()],
            ),
            allow(
                "ScaleDrGroup",
                &["autoscaling:UpdateAutoScalingGroup"],
                &[format!(
                    "arn:{p}:autoscaling:{}:{id}:autoScalingGroup:*:autoScalingGroupName/{}",
                    self.dr_region, self.inputs.dr_asg_name
                )],
            ),
            allow(
                "StateTable",
                &[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:DeleteItem",
                ],
                &[self.table_arn(account)],
            ),
        ];
        statements.extend(self.publish_statements(account));
        statements.extend(self.log_statements(account, Function::Orchestrator));
        policy_document(statements)
    }

    /// The notifier's permissions: publish to the topics, write its logs.
    pub fn notifier_policy(&self, account: &Account) -> Value {
        let mut statements = self.publish_statements(account);
        statements.extend(self.log_statements(account, Function::Notifier));
        policy_document(statements)
    }

    /// Lambda assumes the roles, for this account only.
    pub fn trust_policy(&self, account: &Account) -> Value {
        service_trust_policy("lambda.amazonaws.com", Some(&account.id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{account, spec};
    use crate::aws::iam::wildcard_actions;
    use serde_json::json;

    #[test]
    fn policies_name_their_resources_and_no_wildcard_action() {
        let s = spec();
        let a = account();
        let doc = s.orchestrator_policy(&a);
        assert!(wildcard_actions(&doc).is_empty(), "{doc:#}");
        let text = doc.to_string();
        for needle in [
            "arn:aws:rds::123456789012:global-cluster:global-db-cluster-v2-dev",
            "arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-dev",
            "autoScalingGroupName/payments-web-dev-dr",
            "arn:aws:dynamodb:us-east-2:123456789012:table/failover-state-v2-dev",
            "arn:aws:sns:us-east-1:123456789012:drpair-alerts-v2-dev",
            "sns.us-east-1.amazonaws.com",
            "/aws/lambda/failover-orchestrator-v2-dev:*",
        ] {
            assert!(text.contains(needle), "{needle} not in {doc:#}");
        }
        for statement in doc["Statement"].as_array().unwrap() {
            if statement["Resource"] == json!(["*"]) {
                let action = statement["Action"][0].as_str().unwrap();
                assert!(
                    [
                        "cloudwatch:GetMetricData",
                        "autoscaling:DescribeAutoScalingGroups"
                    ]
                    .contains(&action),
                    "{action} on *"
                );
            }
        }
        for absent in [
            "route53:",
            "cloudwatch:DescribeAlarms",
            "cluster:*",
            "logs:CreateLogGroup",
        ] {
            assert!(!text.contains(absent), "{absent} in {doc:#}");
        }
        let keys = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["Sid"] == "EncryptedTopics")
            .unwrap();
        assert_eq!(
            keys["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"],
            json!(s.inputs.topic_arns),
            "topic keys only for these topics: {keys:#}"
        );
        let notifier = s.notifier_policy(&a).to_string();
        assert!(notifier.contains("sns:Publish") && !notifier.contains("rds:"));
        assert!(notifier.contains("/aws/lambda/failover-notifier-v2-dev:*"));
        assert!(!notifier.contains("logs:CreateLogGroup"));
        assert_eq!(
            s.trust_policy(&a)["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"],
            "123456789012"
        );
    }
}
