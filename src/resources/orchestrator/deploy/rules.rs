//! The EventBridge rules (default event bus) that invoke the functions: find, ensure, drift,
//! delete.

use std::collections::BTreeMap;

use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
use serde_json::Value;

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::NOT_OWNED_CODE;
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{AwsError, RegionCtx};

pub const RULE: &str = "EventBridge rule";

/// What a rule should be: an event pattern or a schedule, and its targets (id → ARN).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleSpec {
    pub name: String,
    pub description: String,
    pub event_pattern: Option<Value>,
    pub schedule: Option<String>,
    pub targets: BTreeMap<String, String>,
    pub tags: Tags,
    pub owner: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRule {
    pub name: String,
    pub arn: String,
    pub description: String,
    pub event_pattern: Option<Value>,
    pub schedule: Option<String>,
    pub state: String,
    pub targets: BTreeMap<String, String>,
    pub tags: Tags,
}

/// The rule with its targets and tags; None when it does not exist.
pub async fn find_rule(rc: &RegionCtx, name: &str) -> Result<Option<ObservedRule>, AwsError> {
    let events = rc.eventbridge();
    let got = events
        .describe_rule()
        .name(name)
        .send()
        .await
        .map_err(api_error("reading", RULE, name, &rc.region));
    let Some(out) = ok_if_not_found(got)? else {
        return Ok(None);
    };
    let arn = out.arn().unwrap_or_default().to_owned();
    let mut rule = ObservedRule {
        name: name.to_owned(),
        description: out.description().unwrap_or_default().to_owned(),
        event_pattern: out
            .event_pattern()
            .map(|p| serde_json::from_str(p).unwrap_or_else(|_| Value::String(p.to_owned()))),
        schedule: out.schedule_expression().map(str::to_owned),
        state: out
            .state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        ..ObservedRule::default()
    };
    let mut next: Option<String> = None;
    loop {
        let page = events
            .list_targets_by_rule()
            .rule(name)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(api_error("listing the targets of", RULE, name, &rc.region));
        let Some(page) = ok_if_not_found(page)? else {
            return Ok(None);
        };
        for t in page.targets() {
            rule.targets.insert(t.id().to_owned(), t.arn().to_owned());
        }
        match page.next_token() {
            Some(token) => next = Some(token.to_owned()),
            None => break,
        }
    }
    let tags = events
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(api_error("listing the tags of", RULE, name, &rc.region));
    let Some(tags) = ok_if_not_found(tags)? else {
        return Ok(None);
    };
    rule.tags = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    rule.arn = arn;
    Ok(Some(rule))
}

/// How the rule differs from the spec, one phrase per difference.
pub fn rule_drift(spec: &RuleSpec, observed: Option<&ObservedRule>) -> Vec<String> {
    let name = &spec.name;
    let Some(rule) = observed else {
        return vec![format!("{RULE} {name} is missing")];
    };
    let mut drift = Vec::new();
    if rule.state != RuleState::Enabled.as_str() {
        drift.push(format!("{RULE} {name} is {}", rule.state.to_lowercase()));
    }
    if rule.event_pattern != spec.event_pattern {
        drift.push(format!("{RULE} {name}: event pattern differs"));
    }
    if rule.schedule != spec.schedule {
        drift.push(format!("{RULE} {name}: schedule differs"));
    }
    for (id, arn) in &spec.targets {
        if rule.targets.get(id) != Some(arn) {
            drift.push(format!("{RULE} {name}: target {id} is missing"));
        }
    }
    for id in rule.targets.keys() {
        if !spec.targets.contains_key(id) {
            drift.push(format!("{RULE} {name}: unexpected target {id}"));
        }
    }
    drift
}

fn eventbridge_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// Creates the rule or brings it to the spec (enabled, pattern or schedule, targets, tags). A
/// rule tagged with another owner is refused; an untagged one unless `adopt_untagged`.
pub async fn ensure_rule(
    rc: &RegionCtx,
    spec: &RuleSpec,
    adopt_untagged: bool,
) -> Result<ObservedRule, AwsError> {
    let name = spec.name.as_str();
    let events = rc.eventbridge();
    let existing = find_rule(rc, name).await?;
    if let Some(rule) = &existing {
        let refusal = match rule.tags.get(OWNER_TAG) {
            Some(owner) if *owner != spec.owner => {
                Some(format!("the rule is owned by {owner}, not {}", spec.owner))
            }
            None if !adopt_untagged => Some(format!("a rule of this name exists and is not managed by drpair (no {OWNER_TAG} tag); delete or rename it, or import the resource that should own it")),
            _ => None,
        };
        if let Some(detail) = refusal {
            return Err(AwsError::api(
                "adopting",
                RULE,
                name,
                &rc.region,
                Some(NOT_OWNED_CODE.to_owned()),
                detail,
            ));
        }
    }
    let settings_differ = existing.as_ref().is_none_or(|r| {
        r.state != RuleState::Enabled.as_str()
            || r.description != spec.description
            || r.event_pattern != spec.event_pattern
            || r.schedule != spec.schedule
    });
    let mut arn = existing.as_ref().map(|r| r.arn.clone()).unwrap_or_default();
    if settings_differ {
        let out = events
            .put_rule()
            .name(name)
            .description(&spec.description)
            .set_event_pattern(spec.event_pattern.as_ref().map(Value::to_string))
            .set_schedule_expression(spec.schedule.clone())
            .state(RuleState::Enabled)
            .set_tags(existing.is_none().then(|| eventbridge_tags(&spec.tags)))
            .send()
            .await
            .map_err(api_error("putting", RULE, name, &rc.region))?;
        arn = out.rule_arn().unwrap_or_default().to_owned();
    }
    let current_tags = existing
        .as_ref()
        .map(|r| r.tags.clone())
        .unwrap_or_else(|| spec.tags.clone());
    let (set, remove) = tag_changes(&current_tags, &spec.tags);
    if !set.is_empty() {
        events
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(eventbridge_tags(&set)))
            .send()
            .await
            .map_err(api_error("tagging", RULE, name, &rc.region))?;
    }
    if !remove.is_empty() {
        events
            .untag_resource()
            .resource_arn(&arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(api_error("untagging", RULE, name, &rc.region))?;
    }
    let current_targets = existing.map(|r| r.targets).unwrap_or_default();
    let missing: Vec<Target> = spec
        .targets
        .iter()
        .filter(|(id, target)| current_targets.get(*id) != Some(*target))
        .filter_map(|(id, target)| Target::builder().id(id).arn(target).build().ok())
        .collect();
    if !missing.is_empty() {
        let out = events
            .put_targets()
            .rule(name)
            .set_targets(Some(missing))
            .send()
            .await
            .map_err(api_error("putting targets on", RULE, name, &rc.region))?;
        if let Some(failed) = out.failed_entries().first() {
            return Err(AwsError::api(
                "putting targets on",
                RULE,
                name,
                &rc.region,
                failed.error_code().map(str::to_owned),
                failed
                    .error_message()
                    .unwrap_or("a target was refused")
                    .to_owned(),
            ));
        }
    }
    let extra: Vec<String> = current_targets
        .keys()
        .filter(|id| !spec.targets.contains_key(*id))
        .cloned()
        .collect();
    if !extra.is_empty() {
        events
            .remove_targets()
            .rule(name)
            .set_ids(Some(extra))
            .send()
            .await
            .map_err(api_error("removing targets from", RULE, name, &rc.region))?;
    }
    Ok(ObservedRule {
        name: name.to_owned(),
        arn,
        description: spec.description.clone(),
        event_pattern: spec.event_pattern.clone(),
        schedule: spec.schedule.clone(),
        state: RuleState::Enabled.as_str().to_owned(),
        targets: spec.targets.clone(),
        tags: spec.tags.clone(),
    })
}

/// Removes the rule's targets, then the rule. One tagged with another owner is left alone; a
/// missing one is success.
pub async fn delete_rule(rc: &RegionCtx, name: &str, owner: &str) -> Result<(), AwsError> {
    let Some(rule) = find_rule(rc, name).await? else {
        return Ok(());
    };
    if let Some(other) = rule.tags.get(OWNER_TAG).filter(|o| *o != owner) {
        tracing::warn!("leaving {RULE} {name}: owned by {other}, not {owner}");
        return Ok(());
    }
    let events = rc.eventbridge();
    if !rule.targets.is_empty() {
        let removed = events
            .remove_targets()
            .rule(name)
            .set_ids(Some(rule.targets.keys().cloned().collect()))
            .send()
            .await
            .map_err(api_error("removing targets from", RULE, name, &rc.region));
        ok_if_not_found(removed)?;
    }
    let deleted = events
        .delete_rule()
        .name(name)
        .send()
        .await
        .map_err(api_error("deleting", RULE, name, &rc.region));
    ok_if_not_found(deleted)?;
    tracing::info!("deleted {RULE} {}/{name}", rc.region);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drift_of_a_rule() {
        let spec = RuleSpec {
            name: "r".into(),
            schedule: Some("rate(1 minute)".into()),
            targets: [("orchestrator".to_string(), "arn:f".to_string())].into(),
            ..RuleSpec::default()
        };
        assert_eq!(
            rule_drift(&spec, None),
            vec!["EventBridge rule r is missing"]
        );
        let exact = ObservedRule {
            name: "r".into(),
            schedule: spec.schedule.clone(),
            state: "ENABLED".into(),
            targets: spec.targets.clone(),
            ..ObservedRule::default()
        };
        assert!(rule_drift(&spec, Some(&exact)).is_empty());
        let broken = ObservedRule {
            state: "DISABLED".into(),
            event_pattern: Some(json!({"source": ["x"]})),
            targets: [("other".to_string(), "arn:g".to_string())].into(),
            ..exact
        };
        assert_eq!(
            rule_drift(&spec, Some(&broken)),
            vec![
                "EventBridge rule r is disabled",
                "EventBridge rule r: event pattern differs",
                "EventBridge rule r: target orchestrator is missing",
                "EventBridge rule r: unexpected target other",
            ]
        );
    }
}
