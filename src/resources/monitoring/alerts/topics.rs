//! One region's SNS topic: found by its deterministic ARN, created encrypted with the region's
//! key and with its policy, repaired in place, and its subscriptions kept.

use std::collections::HashMap;

use aws_sdk_sns::types::Tag;

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::{parse_policy, Account};
use crate::aws::kms::RegionKey;
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{AwsError, RegionCtx};

use super::{
    part, topic_arn, topic_policy, Endpoint, MonitoringSpec, ObservedSubscription, ObservedTopic,
    NOT_OWNED,
};

pub(super) const TOPIC: &str = "SNS topic";
const KMS_ATTRIBUTE: &str = "KmsMasterKeyId";
const POLICY_ATTRIBUTE: &str = "Policy";

/// The region's topic with its attributes, tags and subscriptions; None when it does not exist.
pub(super) async fn find_topic(
    rc: &RegionCtx,
    arn: &str,
) -> Result<Option<ObservedTopic>, AwsError> {
    let sns = rc.sns();
    let got = sns
        .get_topic_attributes()
        .topic_arn(arn)
        .send()
        .await
        .map_err(api_error("reading", TOPIC, arn, &rc.region));
    let Some(out) = ok_if_not_found(got)? else {
        return Ok(None);
    };
    let attributes = out.attributes().cloned().unwrap_or_default();
    let mut topic = ObservedTopic {
        arn: arn.to_owned(),
        kms_key_id: attributes
            .get(KMS_ATTRIBUTE)
            .filter(|k| !k.is_empty())
            .cloned(),
        policy: attributes
            .get(POLICY_ATTRIBUTE)
            .map(|p| parse_policy(p))
            .unwrap_or_default(),
        ..ObservedTopic::default()
    };
    // A topic deleted between these calls reads as gone.
    match load_details(rc, &mut topic).await {
        Ok(()) => Ok(Some(topic)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

async fn load_details(rc: &RegionCtx, topic: &mut ObservedTopic) -> Result<(), AwsError> {
    let sns = rc.sns();
    let arn = topic.arn.clone();
    let tags = sns
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(api_error("listing tags of", TOPIC, &arn, &rc.region))?;
    topic.tags = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    let mut token: Option<String> = None;
    loop {
        let out = sns
            .list_subscriptions_by_topic()
            .topic_arn(&arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error(
                "listing subscriptions of",
                TOPIC,
                &arn,
                &rc.region,
            ))?;
        topic
            .subscriptions
            .extend(out.subscriptions().iter().map(|s| ObservedSubscription {
                arn: s.subscription_arn().unwrap_or_default().to_owned(),
                protocol: s.protocol().unwrap_or_default().to_owned(),
                endpoint: s.endpoint().unwrap_or_default().to_owned(),
            }));
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(()),
        }
    }
}

fn sns_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// Whether the topic's `KmsMasterKeyId` names `key` (as ARN, key id or the alias).
pub(super) fn encrypted_with(topic: &ObservedTopic, key: &RegionKey, alias: &str) -> bool {
    topic
        .kms_key_id
        .as_deref()
        .is_some_and(|k| k == key.arn || k == key.key_id || k == alias)
}

/// Makes sure the region's topic exists, is encrypted with `key`, has its policy and tags, and
/// has the spec's subscriptions (retired ones removed where confirmed).
pub(super) async fn ensure_topic(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    account: &Account,
    key: &RegionKey,
    adopt_untagged: bool,
) -> Result<String, AwsError> {
    let name = &spec.topic_name;
    let arn = topic_arn(account, &rc.region, name);
    let policy = topic_policy(account, &rc.region, &arn);
    let desired_tags = spec.tags(rc.role, part::TOPIC, name);
    let sns = rc.sns();
    let topic = match find_topic(rc, &arn).await? {
        Some(topic) => {
            check_owner(rc, spec, &topic, adopt_untagged)?;
            if !encrypted_with(&topic, key, &spec.key_alias()) {
                set_attribute(rc, &arn, KMS_ATTRIBUTE, &key.arn).await?;
            }
            if !crate::aws::iam::same_policy(&topic.policy, &policy) {
                set_attribute(rc, &arn, POLICY_ATTRIBUTE, &policy.to_string()).await?;
            }
            let (set, remove) = tag_changes(&topic.tags, &desired_tags);
            if !set.is_empty() {
                sns.tag_resource()
                    .resource_arn(&arn)
                    .set_tags(Some(sns_tags(&set)))
                    .send()
                    .await
                    .map_err(api_error("tagging", TOPIC, &arn, &rc.region))?;
            }
            if !remove.is_empty() {
                sns.untag_resource()
                    .resource_arn(&arn)
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(api_error("untagging", TOPIC, &arn, &rc.region))?;
            }
            topic
        }
        None => {
            let attributes = HashMap::from([
                (KMS_ATTRIBUTE.to_owned(), key.arn.clone()),
                (POLICY_ATTRIBUTE.to_owned(), policy.to_string()),
            ]);
            let out = sns
                .create_topic()
                .name(name)
                .set_attributes(Some(attributes))
                .set_tags(Some(sns_tags(&desired_tags)))
                .send()
                .await
                .map_err(api_error("creating", TOPIC, name, &rc.region))?;
            tracing::info!("created {TOPIC} {} in {}", name, rc.region);
            ObservedTopic {
                arn: out.topic_arn().unwrap_or(&arn).to_owned(),
                ..ObservedTopic::default()
            }
        }
    };
    ensure_subscriptions(rc, spec, &topic).await?;
    Ok(topic.arn)
}

pub(super) fn check_owner(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    topic: &ObservedTopic,
    adopt_untagged: bool,
) -> Result<(), AwsError> {
    let detail = match topic.tags.get(OWNER_TAG) {
        Some(owner) if *owner == spec.owner() => return Ok(()),
        None if adopt_untagged => return Ok(()),
        Some(owner) => format!("the topic is owned by {owner}, not {}", spec.owner()),
        None => format!(
            "a topic of this name exists and is not managed by drpair (no {OWNER_TAG} tag); bring it under this resource with `terraform import`, or delete it"
        ),
    };
    Err(AwsError::api(
        "adopting",
        TOPIC,
        &topic.arn,
        &rc.region,
        Some(NOT_OWNED.to_owned()),
        detail,
    ))
}

async fn set_attribute(rc: &RegionCtx, arn: &str, name: &str, value: &str) -> Result<(), AwsError> {
    rc.sns()
        .set_topic_attributes()
        .topic_arn(arn)
        .attribute_name(name)
        .attribute_value(value)
        .send()
        .await
        .map_err(api_error("setting an attribute of", TOPIC, arn, &rc.region))?;
    Ok(())
}

/// Subscribes what is missing (an email waiting for confirmation counts as present, so no
/// second confirmation mail is sent) and unsubscribes retired endpoints. Subscriptions made by
/// others are left alone.
async fn ensure_subscriptions(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    topic: &ObservedTopic,
) -> Result<(), AwsError> {
    let sns = rc.sns();
    for wanted in &spec.subscriptions {
        if topic.subscriptions.iter().any(|s| s.is(wanted)) {
            continue;
        }
        sns.subscribe()
            .topic_arn(&topic.arn)
            .protocol(&wanted.protocol)
            .endpoint(&wanted.endpoint)
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(api_error(
                "subscribing to",
                TOPIC,
                &format!("{} ({})", topic.arn, wanted.label()),
                &rc.region,
            ))?;
        tracing::info!("subscribed {} to {}", wanted.label(), topic.arn);
    }
    for gone in retired(spec) {
        for s in topic
            .subscriptions
            .iter()
            .filter(|s| s.is(gone) && s.is_confirmed())
        {
            let out = sns
                .unsubscribe()
                .subscription_arn(&s.arn)
                .send()
                .await
                .map_err(api_error("unsubscribing from", TOPIC, &s.arn, &rc.region));
            ok_if_not_found(out)?;
        }
    }
    Ok(())
}

fn retired(spec: &MonitoringSpec) -> impl Iterator<Item = &Endpoint> {
    spec.retired
        .iter()
        .filter(|e| !spec.subscriptions.contains(e))
}

/// Deletes the region's topic (SNS removes its subscriptions with it) when it is this
/// resource's; a missing topic is success.
pub(super) async fn delete_topic(
    rc: &RegionCtx,
    spec: &MonitoringSpec,
    arn: &str,
) -> Result<(), AwsError> {
    let Some(topic) = find_topic(rc, arn).await? else {
        return Ok(());
    };
    if let Some(owner) = topic.tags.get(OWNER_TAG).filter(|o| **o != spec.owner()) {
        tracing::warn!(
            "leaving {TOPIC} {arn}: owned by {owner}, not {}",
            spec.owner()
        );
        return Ok(());
    }
    let sns = rc.sns();
    // Confirmed subscriptions are removed explicitly: a topic re-created under the same name
    // must not inherit them.
    for s in topic.subscriptions.iter().filter(|s| s.is_confirmed()) {
        let out = sns
            .unsubscribe()
            .subscription_arn(&s.arn)
            .send()
            .await
            .map_err(api_error("unsubscribing from", TOPIC, &s.arn, &rc.region));
        ok_if_not_found(out)?;
    }
    let out = sns
        .delete_topic()
        .topic_arn(arn)
        .send()
        .await
        .map_err(api_error("deleting", TOPIC, arn, &rc.region));
    ok_if_not_found(out)?;
    tracing::info!("deleted {TOPIC} {arn}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_matches_arn_id_or_alias() {
        let key = RegionKey {
            arn: "arn:aws:kms:us-east-1:1:key/k".into(),
            key_id: "k".into(),
            ..RegionKey::default()
        };
        let topic = |id: Option<&str>| ObservedTopic {
            kms_key_id: id.map(str::to_owned),
            ..ObservedTopic::default()
        };
        for (id, want) in [
            (Some("arn:aws:kms:us-east-1:1:key/k"), true),
            (Some("k"), true),
            (Some("alias/t"), true),
            (Some("alias/aws/sns"), false),
            (None, false),
        ] {
            assert_eq!(encrypted_with(&topic(id), &key, "alias/t"), want, "{id:?}");
        }
    }

    #[test]
    fn retired_excludes_what_is_still_wanted() {
        let spec = MonitoringSpec {
            subscriptions: vec![Endpoint::new("email", "a@x.io")],
            retired: vec![
                Endpoint::new("email", "a@x.io"),
                Endpoint::new("email", "b@x.io"),
            ],
            ..MonitoringSpec::default()
        };
        let gone: Vec<&Endpoint> = retired(&spec).collect();
        assert_eq!(gone, vec![&Endpoint::new("email", "b@x.io")]);
    }
}
