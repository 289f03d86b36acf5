//! One region's CloudWatch alarms: found by name prefix and owner tag, written with
//! PutMetricAlarm (which replaces an alarm's whole configuration, keeping its state), re-tagged
//! in place, and deleted.

use aws_sdk_cloudwatch::types::{
    AlarmType, ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag,
};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{AwsError, RegionCtx};

use super::super::alarms::AlarmSpec;
use super::{MonitoringSpec, ObservedAlarm, NOT_OWNED};

pub(super) const ALARM: &str = "CloudWatch alarm";
/// DeleteAlarms takes at most 100 names.
const DELETE_BATCH: usize = 100;

/// Every metric alarm of the region whose name has the shape of the spec's alarms, with its
/// tags (owned by this resource or not: the caller decides).
pub(super) async fn load_alarms(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
) -> Result<Vec<ObservedAlarm>, AwsError> {
    let cw = rc.cloudwatch();
    let prefix = format!("{}-", spec.prefix);
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = cw
            .describe_alarms()
            .alarm_name_prefix(&prefix)
            .alarm_types(AlarmType::MetricAlarm)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error(
                "listing",
                "CloudWatch alarms",
                &prefix,
                &rc.region,
            ))?;
        found.extend(
            out.metric_alarms()
                .iter()
                .filter(|a| a.alarm_name().is_some_and(|n| spec.is_alarm_name(n)))
                .map(from_sdk),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    for alarm in &mut found {
        let tags = cw
            .list_tags_for_resource()
            .resource_arn(&alarm.arn)
            .send()
            .await
            .map_err(api_error("listing tags of", ALARM, &alarm.name, &rc.region));
        alarm.tags = match ok_if_not_found(tags)? {
            Some(out) => out
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
            None => Tags::new(),
        };
    }
    Ok(found)
}

fn from_sdk(a: &MetricAlarm) -> ObservedAlarm {
    ObservedAlarm {
        name: a.alarm_name().unwrap_or_default().to_owned(),
        arn: a.alarm_arn().unwrap_or_default().to_owned(),
        description: a.alarm_description().unwrap_or_default().to_owned(),
        namespace: a.namespace().unwrap_or_default().to_owned(),
        metric_name: a.metric_name().unwrap_or_default().to_owned(),
        dimensions: a
            .dimensions()
            .iter()
            .map(|d| {
                (
                    d.name().unwrap_or_default().to_owned(),
                    d.value().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        statistic: a
            .statistic()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        period: a.period().unwrap_or_default(),
        evaluation_periods: a.evaluation_periods().unwrap_or_default(),
        datapoints_to_alarm: a
            .datapoints_to_alarm()
            .or(a.evaluation_periods())
            .unwrap_or_default(),
        threshold: a.threshold().unwrap_or_default(),
        comparison: a
            .comparison_operator()
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default(),
        treat_missing_data: a.treat_missing_data().unwrap_or("missing").to_owned(),
        actions_enabled: a.actions_enabled().unwrap_or(true),
        alarm_actions: a.alarm_actions().to_vec(),
        ok_actions: a.ok_actions().to_vec(),
        state: a
            .state_value()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        tags: Tags::new(),
    }
}

/// How an existing alarm differs from its spec (configuration and actions), one phrase each.
pub(super) fn differences(spec: &AlarmSpec, a: &ObservedAlarm, topic_arn: &str) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |what: &str, actual: String, expected: String| {
        if actual != expected {
            diffs.push(format!("{what} is {actual}, expected {expected}"));
        }
    };
    check("namespace", a.namespace.clone(), spec.namespace.to_owned());
    check("metric", a.metric_name.clone(), spec.metric_name.to_owned());
    let mut dims = a.dimensions.clone();
    dims.sort();
    let mut want = spec.dimensions.clone();
    want.sort();
    check("dimensions", format!("{dims:?}"), format!("{want:?}"));
    check("statistic", a.statistic.clone(), spec.statistic.to_owned());
    check("period", a.period.to_string(), spec.period.to_string());
    check(
        "evaluation periods",
        a.evaluation_periods.to_string(),
        spec.evaluation_periods.to_string(),
    );
    check(
        "datapoints to alarm",
        a.datapoints_to_alarm.to_string(),
        spec.datapoints_to_alarm.to_string(),
    );
    check(
        "threshold",
        a.threshold.to_string(),
        spec.threshold.to_string(),
    );
    check(
        "comparison",
        a.comparison.clone(),
        spec.comparison.to_owned(),
    );
    check(
        "missing-data treatment",
        a.treat_missing_data.clone(),
        spec.treat_missing_data.to_owned(),
    );
    check(
        "description",
        a.description.clone(),
        spec.description.clone(),
    );
    check(
        "actions enabled",
        a.actions_enabled.to_string(),
        "true".into(),
    );
    let only_topic = vec![topic_arn.to_owned()];
    check(
        "ALARM actions",
        format!("{:?}", a.alarm_actions),
        format!("{only_topic:?}"),
    );
    check(
        "OK actions",
        format!("{:?}", a.ok_actions),
        format!("{only_topic:?}"),
    );
    diffs
}

fn cw_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Fails with [`NOT_OWNED`] when an alarm of a wanted name in this region is owned by someone
/// else, or is untagged and `adopt_untagged` is false.
pub(super) fn check_alarm_owners(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    existing: &[ObservedAlarm],
    adopt_untagged: bool,
) -> Result<(), AwsError> {
    let owner = spec.owner();
    for alarm in spec.alarms_in(rc.role) {
        let Some(current) = existing.iter().find(|a| a.name == alarm.name) else {
            continue;
        };
        let detail = match current.tags.get(OWNER_TAG) {
            Some(o) if *o == owner => continue,
            None if adopt_untagged => continue,
            Some(o) => format!("the alarm is owned by {o}, not {owner}"),
            None => format!("an alarm of this name exists and is not managed by drpair (no {OWNER_TAG} tag); bring it under this resource with `terraform import`, or delete it"),
        };
        return Err(AwsError::api(
            "adopting",
            ALARM,
            &alarm.name,
            &rc.region,
            Some(NOT_OWNED.to_owned()),
            detail,
        ));
    }
    Ok(())
}

/// Writes the region's alarms (only those that are missing or differ), fixes their tags, and
/// deletes this resource's alarms the spec no longer has. An alarm of a wanted name owned by
/// someone else is refused; an untagged one is adopted only when `adopt_untagged`.
pub(super) async fn ensure_alarms(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    topic_arn: &str,
    adopt_untagged: bool,
) -> Result<(), AwsError> {
    let existing = load_alarms(rc, spec).await?;
    check_alarm_owners(rc, spec, &existing, adopt_untagged)?;
    let owner = spec.owner();
    let cw = rc.cloudwatch();
    for alarm in spec.alarms_in(rc.role) {
        let current = existing.iter().find(|a| a.name == alarm.name);
        let tags = spec.alarm_tags(alarm);
        let changed = current.is_none_or(|c| !differences(alarm, c, topic_arn).is_empty());
        if changed {
            put_alarm(rc, alarm, topic_arn, &tags).await?;
        }
        if let Some(current) = current {
            let (set, remove) = tag_changes(&current.tags, &tags);
            if !set.is_empty() {
                cw.tag_resource()
                    .resource_arn(&current.arn)
                    .set_tags(Some(cw_tags(&set)))
                    .send()
                    .await
                    .map_err(api_error("tagging", ALARM, &alarm.name, &rc.region))?;
            }
            if !remove.is_empty() {
                cw.untag_resource()
                    .resource_arn(&current.arn)
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(api_error("untagging", ALARM, &alarm.name, &rc.region))?;
            }
        }
    }
    let unwanted: Vec<String> = existing
        .iter()
        .filter(|a| a.tags.get(OWNER_TAG) == Some(&owner))
        .filter(|a| !spec.alarms_in(rc.role).any(|s| s.name == a.name))
        .map(|a| a.name.clone())
        .collect();
    delete_alarms(rc, &unwanted).await
}

async fn put_alarm(
    rc: &RegionCtx,
    alarm: &AlarmSpec,
    topic_arn: &str,
    tags: &Tags,
) -> Result<(), AwsError> {
    rc.cloudwatch()
        .put_metric_alarm()
        .alarm_name(&alarm.name)
        .alarm_description(&alarm.description)
        .actions_enabled(true)
        .alarm_actions(topic_arn)
        .ok_actions(topic_arn)
        .namespace(alarm.namespace)
        .metric_name(alarm.metric_name)
        .set_dimensions(Some(
            alarm
                .dimensions
                .iter()
                .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                .collect(),
        ))
        .statistic(Statistic::from(alarm.statistic))
        .period(alarm.period)
        .evaluation_periods(alarm.evaluation_periods)
        .datapoints_to_alarm(alarm.datapoints_to_alarm)
        .threshold(alarm.threshold)
        .comparison_operator(ComparisonOperator::from(alarm.comparison))
        .treat_missing_data(alarm.treat_missing_data)
        .set_tags(Some(cw_tags(tags)))
        .send()
        .await
        .map_err(api_error("writing", ALARM, &alarm.name, &rc.region))?;
    tracing::info!("wrote {ALARM} {} in {}", alarm.name, rc.region);
    Ok(())
}

/// Deletes alarms by name, in batches; names that are already gone are fine.
pub(super) async fn delete_alarms(rc: &RegionCtx, names: &[String]) -> Result<(), AwsError> {
    for batch in names.chunks(DELETE_BATCH) {
        let out = rc
            .cloudwatch()
            .delete_alarms()
            .set_alarm_names(Some(batch.to_vec()))
            .send()
            .await
            .map_err(api_error("deleting", ALARM, &batch.join(","), &rc.region));
        if let Err(e) = out {
            // DeleteAlarms refuses the whole batch when one name is unknown: retry one by one.
            if e.code() != Some("ResourceNotFound") {
                return Err(e);
            }
            for name in batch {
                let one = rc
                    .cloudwatch()
                    .delete_alarms()
                    .alarm_names(name)
                    .send()
                    .await
                    .map_err(api_error("deleting", ALARM, name, &rc.region));
                match one {
                    Err(e) if e.code() == Some("ResourceNotFound") => {}
                    other => {
                        other?;
                    }
                }
            }
        }
        tracing::info!("deleted {ALARM}s {} in {}", batch.join(", "), rc.region);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::Role;

    fn spec() -> AlarmSpec {
        AlarmSpec {
            name: "a".into(),
            role: Role::Dr,
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

    fn observed(topic: &str) -> ObservedAlarm {
        let s = spec();
        ObservedAlarm {
            name: s.name.clone(),
            description: s.description.clone(),
            namespace: s.namespace.into(),
            metric_name: s.metric_name.into(),
            dimensions: s.dimensions.clone(),
            statistic: s.statistic.into(),
            period: 60,
            evaluation_periods: 3,
            datapoints_to_alarm: 3,
            threshold: 1000.0,
            comparison: s.comparison.into(),
            treat_missing_data: s.treat_missing_data.into(),
            actions_enabled: true,
            alarm_actions: vec![topic.into()],
            ok_actions: vec![topic.into()],
            ..ObservedAlarm::default()
        }
    }

    #[test]
    fn an_exact_alarm_has_no_differences() {
        assert!(differences(&spec(), &observed("t"), "t").is_empty());
    }

    #[test]
    fn threshold_and_actions_differences() {
        let mut a = observed("t");
        a.threshold = 2000.0;
        a.ok_actions = vec![];
        assert_eq!(
            differences(&spec(), &a, "t"),
            vec![
                "threshold is 2000, expected 1000",
                "OK actions is [], expected [\"t\"]",
            ]
        );
        assert_eq!(differences(&spec(), &observed("other"), "t").len(), 2);
    }
}
