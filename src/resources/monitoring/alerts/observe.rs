//! [`observe()`]: what exists of the monitoring in both regions; [`drift`]: how that differs
//! from the spec, one phrase per difference.

use crate::aws::iam::{caller_account, same_policy, Account};
use crate::aws::kms::{find_key, key_drift_with_policy};
use crate::aws::tags::OWNER_TAG;
use crate::aws::{AwsContext, AwsError, RegionCtx, Role};

use super::cloudwatch::{differences, load_alarms};
use super::topics::{encrypted_with, find_topic};
use super::{
    key_policy, topic_arn, topic_policy, MonitoringSpec, ObservedMonitoring, RegionObserved,
};

/// Reads the keys, topics (with subscriptions) and this resource's alarms in both regions.
pub async fn observe(
    ctx: &AwsContext,
    spec: &MonitoringSpec,
) -> Result<ObservedMonitoring, AwsError> {
    let account = caller_account(&ctx.primary).await?;
    let (primary, dr) = tokio::try_join!(
        observe_region(&ctx.primary, spec, &account),
        observe_region(&ctx.dr, spec, &account),
    )?;
    Ok(ObservedMonitoring {
        account,
        primary,
        dr,
    })
}

pub(super) async fn observe_region(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    account: &Account,
) -> Result<RegionObserved, AwsError> {
    let arn = topic_arn(account, &rc.region, &spec.topic_name);
    let alias = spec.key_alias();
    let (key, topic, alarms) = tokio::try_join!(
        find_key(rc, &alias),
        find_topic(rc, &arn),
        load_alarms(rc, spec),
    )?;
    let owner = spec.owner();
    Ok(RegionObserved {
        region: rc.region.clone(),
        // Only this resource's key: state must never record (and destroy never delete) a key
        // the alias happens to point at that belongs to someone else.
        key: key.filter(|k| k.tags.get(OWNER_TAG) == Some(&owner)),
        topic,
        alarms: alarms
            .into_iter()
            .filter(|a| a.tags.get(OWNER_TAG) == Some(&owner))
            .collect(),
    })
}

/// Differences from the spec in both regions: a missing or unusable key, a missing topic, a
/// topic no longer encrypted with its key or with another policy, missing subscriptions, alarms
/// missing, changed or no longer wanted. Empty when nothing needs repair.
pub fn drift(spec: &MonitoringSpec, o: &ObservedMonitoring) -> Vec<String> {
    let mut out = Vec::new();
    for role in Role::BOTH {
        let r = o.region(role);
        let region = r.region.as_str();
        // The key policy is compared too: a policy whose service statements lost their
        // confused-deputy guard is repaired by the next apply (ensure_key puts the spec's).
        out.extend(key_drift_with_policy(
            region,
            &spec.key_alias(),
            r.key.as_ref(),
            Some(&key_policy(&o.account, region)),
        ));
        let arn = topic_arn(&o.account, region, &spec.topic_name);
        match &r.topic {
            None => out.push(format!("{region}: topic {} is missing", spec.topic_name)),
            Some(topic) => {
                if let Some(key) = &r.key {
                    if !encrypted_with(topic, key, &spec.key_alias()) {
                        out.push(format!(
                            "{region}: topic is not encrypted with {}",
                            spec.key_alias()
                        ));
                    }
                }
                if !same_policy(&topic.policy, &topic_policy(&o.account, region, &arn)) {
                    out.push(format!("{region}: topic policy differs"));
                }
                for wanted in &spec.subscriptions {
                    if !topic.subscriptions.iter().any(|s| s.is(wanted)) {
                        out.push(format!("{region}: {} is missing", wanted.label()));
                    }
                }
            }
        }
        for alarm in spec.alarms_in(role) {
            match r.alarms.iter().find(|a| a.name == alarm.name) {
                None => out.push(format!("{region}: alarm {} is missing", alarm.name)),
                Some(a) => {
                    for d in differences(alarm, a, &arn) {
                        out.push(format!("{region}: alarm {}: {d}", alarm.name));
                    }
                }
            }
        }
        for a in &r.alarms {
            if !spec.alarms_in(role).any(|s| s.name == a.name) {
                out.push(format!("{region}: alarm {} is not wanted", a.name));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::alarms::AlarmSpec;
    use super::super::{Endpoint, ObservedAlarm, ObservedSubscription, ObservedTopic};
    use super::*;
    use crate::aws::kms::RegionKey;

    fn account() -> Account {
        Account {
            id: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    fn alarm(role: Role) -> AlarmSpec {
        AlarmSpec {
            name: "drpair-replication-lag-v2-dev".into(),
            role,
            kind: "replication-lag",
            description: "d".into(),
            namespace: "AWS/RDS",
            metric_name: "AuroraGlobalDBReplicationLag",
            dimensions: vec![("DBClusterIdentifier".into(), "c".into())],
            statistic: "Maximum",
            period: 60,
            evaluation_periods: 3,
            datapoints_to_alarm: 3,
            threshold: 1000.0,
            comparison: "GreaterThanThreshold",
            treat_missing_data: "breaching",
            extra_tags: Vec::new(),
        }
    }

    fn spec() -> MonitoringSpec {
        MonitoringSpec {
            topic_name: "drpair-alerts-v2-dev".into(),
            prefix: "drpair".into(),
            name_version: "v2".into(),
            environment: "dev".into(),
            subscriptions: vec![Endpoint::new("email", "oncall@example.com")],
            alarms: vec![alarm(Role::Dr)],
            ..MonitoringSpec::default()
        }
    }

    fn complete() -> ObservedMonitoring {
        let s = spec();
        let region = |role: Role, name: &str| {
            let arn = topic_arn(&account(), name, &s.topic_name);
            let a = alarm(Role::Dr);
            RegionObserved {
                region: name.into(),
                key: Some(RegionKey {
                    arn: format!("arn:aws:kms:{name}:123456789012:key/k"),
                    key_id: "k".into(),
                    state: "Enabled".into(),
                    policy: key_policy(&account(), name),
                    ..RegionKey::default()
                }),
                topic: Some(ObservedTopic {
                    arn: arn.clone(),
                    kms_key_id: Some("k".into()),
                    policy: topic_policy(&account(), name, &arn),
                    subscriptions: vec![ObservedSubscription {
                        arn: "PendingConfirmation".into(),
                        protocol: "email".into(),
                        endpoint: "oncall@example.com".into(),
                    }],
                    ..ObservedTopic::default()
                }),
                alarms: if role == Role::Dr {
                    vec![ObservedAlarm {
                        name: a.name.clone(),
                        description: a.description.clone(),
                        namespace: a.namespace.into(),
                        metric_name: a.metric_name.into(),
                        dimensions: a.dimensions.clone(),
                        statistic: a.statistic.into(),
                        period: 60,
                        evaluation_periods: 3,
                        datapoints_to_alarm: 3,
                        threshold: 1000.0,
                        comparison: a.comparison.into(),
                        treat_missing_data: a.treat_missing_data.into(),
                        actions_enabled: true,
                        alarm_actions: vec![arn.clone()],
                        ok_actions: vec![arn],
                        ..ObservedAlarm::default()
                    }]
                } else {
                    Vec::new()
                },
            }
        };
        ObservedMonitoring {
            account: account(),
            primary: region(Role::Primary, "us-east-1"),
            dr: region(Role::Dr, "us-east-2"),
        }
    }

    #[test]
    fn nothing_to_repair_when_complete() {
        assert_eq!(drift(&spec(), &complete()), Vec::<String>::new());
    }

    #[test]
    fn reports_each_missing_part() {
        let mut o = complete();
        o.dr.alarms.clear();
        o.primary.topic.as_mut().unwrap().subscriptions.clear();
        o.dr.key.as_mut().unwrap().state = "Disabled".into();
        assert_eq!(
            drift(&spec(), &o),
            vec![
                "us-east-1: email subscription (endpoint not shown: sensitive) is missing",
                "us-east-2: KMS key alias/drpair-alerts-v2-dev is Disabled, expected Enabled",
                "us-east-2: alarm drpair-replication-lag-v2-dev is missing",
            ]
        );
        let mut o = complete();
        o.primary.topic = None;
        o.dr.alarms[0].threshold = 5.0;
        assert_eq!(
            drift(&spec(), &o),
            vec![
                "us-east-1: topic drpair-alerts-v2-dev is missing",
                "us-east-2: alarm drpair-replication-lag-v2-dev: threshold is 5, expected 1000",
            ]
        );
    }

    /// A topic or key policy whose service statements lost their confused-deputy conditions
    /// (e.g. edited out of band to AWS's unconditioned examples) is drift, in its region.
    #[test]
    fn policies_without_the_source_conditions_are_drift() {
        let unguarded = |doc: &serde_json::Value| {
            let mut doc = doc.clone();
            for st in doc["Statement"].as_array_mut().unwrap() {
                if st.get("Principal").and_then(|p| p.get("Service")).is_some() {
                    st.as_object_mut().unwrap().remove("Condition");
                }
            }
            doc
        };
        let mut o = complete();
        let topic = o.dr.topic.as_mut().unwrap();
        topic.policy = unguarded(&topic.policy);
        let key = o.primary.key.as_mut().unwrap();
        key.policy = unguarded(&key.policy);
        assert_eq!(
            drift(&spec(), &o),
            vec![
                "us-east-1: KMS key alias/drpair-alerts-v2-dev has a key policy other than drpair's",
                "us-east-2: topic policy differs",
            ]
        );
        // The other region's scoping is not this region's.
        let mut o = complete();
        o.dr.key.as_mut().unwrap().policy = key_policy(&account(), "us-east-1");
        assert_eq!(
            drift(&spec(), &o),
            vec!["us-east-2: KMS key alias/drpair-alerts-v2-dev has a key policy other than drpair's"]
        );
    }
}
