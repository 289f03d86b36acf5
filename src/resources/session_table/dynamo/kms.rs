//! The customer-managed KMS key of each region, found through the alias `alias/{table}`.
//!
//! A key created just before a crash (no alias yet) is found again by its owner tag, so it is
//! adopted rather than leaked; a key scheduled for deletion out of band is revived; destroy
//! schedules the deletion (AWS's shortest window, 7 days) and removes the alias.

use aws_sdk_kms::types::{KeyMetadata, KeyState, KeyUsageType, Tag};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::{AwsError, RegionCtx};

use super::{changed_tags, part, removed_tag_keys, RegionKey, TableSpec};

pub(super) const KEY: &str = "KMS key";
const DELETION_WINDOW_DAYS: i32 = 7;

/// The key an alias points at, with its tags; None when the alias does not exist.
pub(super) async fn find_key(rc: &RegionCtx, alias: &str) -> Result<Option<RegionKey>, AwsError> {
    let out = rc
        .kms()
        .describe_key()
        .key_id(alias)
        .send()
        .await
        .map_err(api_error("describing", KEY, alias, &rc.region));
    match ok_if_not_found(out)?.and_then(|o| o.key_metadata) {
        Some(meta) => Ok(Some(with_tags(rc, &meta).await?)),
        None => Ok(None),
    }
}

async fn with_tags(rc: &RegionCtx, meta: &KeyMetadata) -> Result<RegionKey, AwsError> {
    Ok(RegionKey {
        arn: meta.arn().unwrap_or_default().to_owned(),
        key_id: meta.key_id().to_owned(),
        state: meta
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        tags: key_tags(rc, meta.key_id()).await?,
    })
}

async fn key_tags(rc: &RegionCtx, key_id: &str) -> Result<Tags, AwsError> {
    let mut tags = Tags::new();
    let mut marker: Option<String> = None;
    loop {
        let out = rc
            .kms()
            .list_resource_tags()
            .key_id(key_id)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(api_error("listing tags of", KEY, key_id, &rc.region))?;
        tags.extend(
            out.tags()
                .iter()
                .map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())),
        );
        match out.next_marker() {
            Some(next) if out.truncated() => marker = Some(next.to_owned()),
            _ => return Ok(tags),
        }
    }
}

/// A live key tagged with `owner` that has no alias: one created by an apply that stopped
/// before naming it. Keys scheduled for deletion belong to an earlier destroy and are left alone.
async fn find_unaliased(rc: &RegionCtx, owner: &str) -> Result<Option<RegionKey>, AwsError> {
    let mut marker: Option<String> = None;
    loop {
        let out = rc
            .kms()
            .list_keys()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(api_error("listing", "KMS keys", owner, &rc.region))?;
        for entry in out.keys() {
            let Some(key_id) = entry.key_id() else {
                continue;
            };
            // Keys this caller may not read (another account's, or gone meanwhile) are not ours.
            let tags = match key_tags(rc, key_id).await {
                Ok(tags) => tags,
                Err(e) if e.is_not_found() || e.code() == Some("AccessDeniedException") => continue,
                Err(e) => return Err(e),
            };
            if tags.get(OWNER_TAG).map(String::as_str) != Some(owner) {
                continue;
            }
            let meta = rc
                .kms()
                .describe_key()
                .key_id(key_id)
                .send()
                .await
                .map_err(api_error("describing", KEY, key_id, &rc.region))?
                .key_metadata;
            if let Some(meta) = meta {
                if !matches!(meta.key_state(), Some(KeyState::PendingDeletion)) {
                    return Ok(Some(with_tags(rc, &meta).await?));
                }
            }
        }
        match out.next_marker() {
            Some(next) if out.truncated() => marker = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// Makes sure the region's key exists, is enabled, has its alias and carries exactly its tags.
pub(super) async fn ensure_key(rc: &RegionCtx, spec: &TableSpec) -> Result<RegionKey, AwsError> {
    let alias = spec.key_alias();
    let owner = spec.owner();
    let desired = spec.tags(rc.role, part::KMS_KEY);
    let mut key = match find_key(rc, &alias).await? {
        Some(key) => {
            if let Some(other) = key.tags.get(OWNER_TAG).filter(|o| **o != owner) {
                return Err(AwsError::api(
                    "adopting",
                    KEY,
                    &alias,
                    &rc.region,
                    None,
                    format!(
                        "the alias points at key {} owned by {other}, not {owner}",
                        key.arn
                    ),
                ));
            }
            key
        }
        None => {
            let key = match find_unaliased(rc, &owner).await? {
                Some(orphan) => {
                    tracing::info!(
                        "adopting KMS key {} ({}) for {alias}",
                        orphan.arn,
                        rc.region
                    );
                    orphan
                }
                None => create_key(rc, spec, &desired).await?,
            };
            rc.kms()
                .create_alias()
                .alias_name(&alias)
                .target_key_id(&key.key_id)
                .send()
                .await
                .map_err(api_error("creating alias of", KEY, &alias, &rc.region))?;
            key
        }
    };
    if key.state == KeyState::PendingDeletion.as_str() {
        tracing::info!(
            "cancelling the deletion of KMS key {} ({})",
            key.arn,
            rc.region
        );
        rc.kms()
            .cancel_key_deletion()
            .key_id(&key.key_id)
            .send()
            .await
            .map_err(api_error(
                "cancelling deletion of",
                KEY,
                &key.arn,
                &rc.region,
            ))?;
        key.state = KeyState::Disabled.as_str().to_owned();
    }
    if key.state == KeyState::Disabled.as_str() {
        rc.kms()
            .enable_key()
            .key_id(&key.key_id)
            .send()
            .await
            .map_err(api_error("enabling", KEY, &key.arn, &rc.region))?;
        key.state = KeyState::Enabled.as_str().to_owned();
    }
    retag_key(rc, &key, &desired).await?;
    key.tags = desired;
    Ok(key)
}

async fn create_key(rc: &RegionCtx, spec: &TableSpec, tags: &Tags) -> Result<RegionKey, AwsError> {
    let alias = spec.key_alias();
    let out = rc
        .kms()
        .create_key()
        .description(format!(
            "Encryption at rest of DynamoDB table {} in {} ({} side), managed by {}",
            spec.name,
            rc.region,
            rc.role.label(),
            spec.owner()
        ))
        .key_usage(KeyUsageType::EncryptDecrypt)
        .set_tags(Some(kms_tags(tags)?))
        .send()
        .await
        .map_err(api_error("creating", KEY, &alias, &rc.region))?;
    let meta = out.key_metadata.ok_or_else(|| {
        AwsError::api(
            "creating",
            KEY,
            &alias,
            &rc.region,
            None,
            "no key metadata in the answer",
        )
    })?;
    rc.kms()
        .enable_key_rotation()
        .key_id(meta.key_id())
        .send()
        .await
        .map_err(api_error(
            "enabling rotation of",
            KEY,
            meta.key_id(),
            &rc.region,
        ))?;
    tracing::info!("created KMS key {} in {}", meta.key_id(), rc.region);
    Ok(RegionKey {
        arn: meta.arn().unwrap_or_default().to_owned(),
        key_id: meta.key_id().to_owned(),
        state: meta
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        tags: tags.clone(),
    })
}

fn kms_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| AwsError::Config(format!("KMS tag {k}: {e}")))
        })
        .collect()
}

async fn retag_key(rc: &RegionCtx, key: &RegionKey, desired: &Tags) -> Result<(), AwsError> {
    let set = changed_tags(&key.tags, desired);
    if !set.is_empty() {
        rc.kms()
            .tag_resource()
            .key_id(&key.key_id)
            .set_tags(Some(kms_tags(&set)?))
            .send()
            .await
            .map_err(api_error("tagging", KEY, &key.arn, &rc.region))?;
    }
    let removed = removed_tag_keys(&key.tags, desired);
    if !removed.is_empty() {
        rc.kms()
            .untag_resource()
            .key_id(&key.key_id)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(api_error("untagging", KEY, &key.arn, &rc.region))?;
    }
    Ok(())
}

/// Schedules the deletion of the region's key and removes its alias. The key is found through
/// the alias or, when the alias is already gone, through `known_arn` (from state); it is only
/// touched when it is tagged as `owner`'s or is the one state records. Idempotent.
pub(super) async fn destroy_key(
    rc: &RegionCtx,
    alias: &str,
    owner: &str,
    known_arn: Option<&str>,
) -> Result<(), AwsError> {
    let key = match find_key(rc, alias).await? {
        Some(key) => Some(key),
        None => match known_arn.filter(|a| !a.is_empty()) {
            Some(arn) => find_key(rc, arn).await?,
            None => None,
        },
    };
    if let Some(key) = &key {
        let ours = key.tags.get(OWNER_TAG).map(String::as_str) == Some(owner)
            || known_arn == Some(key.arn.as_str());
        if !ours {
            tracing::warn!(
                "leaving KMS key {} and {alias} ({}): not tagged as owned by {owner}",
                key.arn,
                rc.region
            );
            return Ok(());
        }
        if key.state != KeyState::PendingDeletion.as_str() {
            let scheduled = rc
                .kms()
                .schedule_key_deletion()
                .key_id(&key.key_id)
                .pending_window_in_days(DELETION_WINDOW_DAYS)
                .send()
                .await
                .map_err(api_error(
                    "scheduling deletion of",
                    KEY,
                    &key.arn,
                    &rc.region,
                ));
            ok_if_not_found(scheduled)?;
            tracing::info!(
                "scheduled KMS key {} ({}) for deletion in {DELETION_WINDOW_DAYS} days",
                key.arn,
                rc.region
            );
        }
    }
    let deleted = rc
        .kms()
        .delete_alias()
        .alias_name(alias)
        .send()
        .await
        .map_err(api_error("deleting alias of", KEY, alias, &rc.region));
    ok_if_not_found(deleted)?;
    Ok(())
}
