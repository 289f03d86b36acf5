//! Customer-managed KMS keys owned by a drpair resource, one per region, found through a
//! deterministic alias (`alias/{name}`).
//!
//! A key created just before a crash (no alias yet) is found again by its owner tag and adopted
//! rather than leaked; a key disabled or scheduled for deletion out of band is revived; automatic
//! rotation is enabled and kept enabled; the key policy is kept as specified. Every drpair key
//! has an explicit policy ([`key_policy_for`]) that separates administering the key (the
//! account, through IAM, without cryptographic use) from using it (only through the services
//! that encrypt with it, `kms:ViaService`, from this account, `kms:CallerAccount`) instead of
//! AWS's default policy, which gives the account `kms:*`. A key that is not known to be ours
//! (untagged under the alias, or found by its owner tag alone) is adopted only when its policy
//! names no principal outside the account. [`destroy_key`] schedules the deletion
//! (with AWS's longest window, 30 days) and removes the alias, unless an AWS Backup recovery
//! point is still encrypted with the key ([`recovery_points_using`]): then the key and its alias
//! are kept, or that backup could never be restored.

use aws_sdk_backup::types::RecoveryPointStatus;
use aws_sdk_kms::types::{KeyMetadata, KeyState, KeyUsageType, Tag};
use serde_json::{json, Value};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::{parse_policy, same_policy, Account, NOT_OWNED_CODE};
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{AwsError, RegionCtx};

pub const KEY: &str = "KMS key";
/// The waiting period of every key drpair schedules for deletion: AWS's longest (and its
/// default), 30 days, the most time to notice that something still needs the key and cancel
/// ("Deleting AWS KMS keys": "When a KMS key is deleted, all data that was encrypted under the
/// KMS key is unrecoverable"; ScheduleKeyDeletion takes 7 to 30 days).
pub const DELETION_WINDOW_DAYS: i32 = 30;
const POLICY_NAME: &str = "default";

/// What a key should be. `tags` must include the owner tag (`drpair:owner` = `owner`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeySpec {
    /// `alias/…`.
    pub alias: String,
    pub owner: String,
    pub description: String,
    pub tags: Tags,
    /// The key policy, normally from [`key_policy_for`]; None keeps AWS's default (the account
    /// may do anything with the key through IAM), which no drpair key uses.
    pub policy: Option<Value>,
}

/// One region's key as KMS has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionKey {
    pub arn: String,
    pub key_id: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, …
    pub state: String,
    pub tags: Tags,
    /// Whether automatic rotation is on; None when it was not asked (a key pending deletion).
    pub rotation_enabled: Option<bool>,
    /// The key policy, parsed; Null when it could not be read (a key pending deletion).
    pub policy: Value,
}

impl RegionKey {
    pub fn is_enabled(&self) -> bool {
        self.state == KeyState::Enabled.as_str()
    }
}

/// The administrative actions of a key ("Allows key administrators to administer the KMS key",
/// in "Default key policy" of the KMS developer guide), without `kms:Create*`, which would
/// include `kms:CreateGrant` and so let an administrator hand out use of the key.
const ADMIN_ACTIONS: &[&str] = &[
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
];

/// What a service needs to encrypt with a key on a caller's behalf: the actions of the AWS
/// managed keys' "Allow access through {service} for all principals in the account that are
/// authorized to use {service}" statement (e.g. `aws/rds`, `aws/secretsmanager`, `aws/dynamodb`).
const USE_ACTIONS: &[&str] = &[
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:DescribeKey",
];

/// The policy of a drpair key: the account administers it through IAM but may not encrypt or
/// decrypt with it directly; principals of the account use it only through `services` (e.g.
/// `rds`, `secretsmanager`) in `region` (`kms:ViaService` = `{service}.{region}.amazonaws.com`,
/// `kms:CallerAccount` = the account), as AWS managed keys are scoped ("AWS managed keys" and
/// "kms:ViaService" in the KMS developer guide). `extra` statements follow (service principals
/// such as CloudWatch Logs, with their own conditions).
///
/// Key policy lockout: PutKeyPolicy requires the new policy to let the caller call PutKeyPolicy
/// again; the administration statement does (`kms:Put*` for the account, granted to the caller
/// by its IAM policy).
pub fn key_policy_for(
    account: &Account,
    region: &str,
    services: &[&str],
    extra: Vec<Value>,
) -> Value {
    let via: Vec<String> = services
        .iter()
        .map(|s| format!("{s}.{region}.amazonaws.com"))
        .collect();
    let mut statements = vec![json!({
        "Sid": "AccountAdministersTheKeyThroughIAM",
        "Effect": "Allow",
        "Principal": { "AWS": account.root_arn() },
        "Action": ADMIN_ACTIONS,
        "Resource": "*"
    })];
    if !via.is_empty() {
        statements.push(json!({
            "Sid": "AccountUsesTheKeyOnlyThroughItsServices",
            "Effect": "Allow",
            "Principal": { "AWS": account.root_arn() },
            "Action": USE_ACTIONS,
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": via,
                    "kms:CallerAccount": account.id
                }
            }
        }));
    }
    statements.extend(extra);
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The account a key (or any resource) ARN belongs to: `arn:{partition}:kms:{region}:{account}:…`.
pub fn account_of(arn: &str) -> Option<Account> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(partition), _, _, Some(id)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!partition.is_empty() && !id.is_empty()).then(|| Account {
        id: id.to_owned(),
        partition: partition.to_owned(),
    })
}

/// The principals an `Allow` statement of `policy` names that are outside `account`: another
/// account's ARN or id, or anyone (`*`). Service principals are not counted (their statements
/// carry their own conditions).
pub fn foreign_principals(policy: &Value, account_id: &str) -> Vec<String> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    let mut foreign = Vec::new();
    for st in statements
        .iter()
        .filter(|st| st.get("Effect").and_then(Value::as_str) == Some("Allow"))
    {
        let principals: Vec<String> = match st.get("Principal") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Object(map)) => map
                .get("AWS")
                .map(|v| match v {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|i| i.as_str().map(str::to_owned))
                        .collect(),
                    Value::String(s) => vec![s.clone()],
                    _ => Vec::new(),
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        for p in principals {
            let ours = p == account_id || account_of(&p).is_some_and(|a| a.id == account_id);
            if !ours {
                foreign.push(p);
            }
        }
    }
    foreign.sort();
    foreign.dedup();
    foreign
}

/// The key an alias (or key id/ARN) points at, with its tags; None when there is none.
pub async fn find_key(rc: &RegionCtx, key_id: &str) -> Result<Option<RegionKey>, AwsError> {
    let out = rc
        .kms()
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .map_err(api_error("describing", KEY, key_id, &rc.region));
    match ok_if_not_found(out)?.and_then(|o| o.key_metadata) {
        Some(meta) => Ok(Some(with_tags(rc, &meta).await?)),
        None => Ok(None),
    }
}

async fn with_tags(rc: &RegionCtx, meta: &KeyMetadata) -> Result<RegionKey, AwsError> {
    let key_id = meta.key_id();
    let state = meta.key_state().cloned();
    // "Key states of AWS KMS keys": GetKeyRotationStatus and GetKeyPolicy work on enabled and
    // disabled keys; a key pending deletion is only read for its state and tags.
    let readable = matches!(state, Some(KeyState::Enabled) | Some(KeyState::Disabled));
    let (tags, rotation_enabled, policy) = if readable {
        let (tags, rotation, policy) = tokio::try_join!(
            key_tags(rc, key_id),
            rotation_status(rc, key_id),
            key_policy(rc, key_id)
        )?;
        (tags, Some(rotation), policy)
    } else {
        (key_tags(rc, key_id).await?, None, Value::Null)
    };
    Ok(RegionKey {
        arn: meta.arn().unwrap_or_default().to_owned(),
        key_id: key_id.to_owned(),
        state: state.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        tags,
        rotation_enabled,
        policy,
    })
}

/// Whether automatic key rotation is on.
pub async fn rotation_status(rc: &RegionCtx, key_id: &str) -> Result<bool, AwsError> {
    let out = rc
        .kms()
        .get_key_rotation_status()
        .key_id(key_id)
        .send()
        .await
        .map_err(api_error(
            "reading the rotation status of",
            KEY,
            key_id,
            &rc.region,
        ))?;
    Ok(out.key_rotation_enabled())
}

/// Turns automatic key rotation on (AWS's default period, 365 days).
async fn enable_rotation(rc: &RegionCtx, key_id: &str) -> Result<(), AwsError> {
    rc.kms()
        .enable_key_rotation()
        .key_id(key_id)
        .send()
        .await
        .map_err(api_error("enabling rotation of", KEY, key_id, &rc.region))?;
    Ok(())
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

/// The key's policy, parsed.
pub async fn key_policy(rc: &RegionCtx, key_id: &str) -> Result<Value, AwsError> {
    let out = rc
        .kms()
        .get_key_policy()
        .key_id(key_id)
        .policy_name(POLICY_NAME)
        .send()
        .await
        .map_err(api_error("reading the policy of", KEY, key_id, &rc.region))?;
    Ok(out.policy().map(parse_policy).unwrap_or(Value::Null))
}

/// A live key tagged with `owner` that has no alias: one created by an apply that stopped before
/// naming it. Keys scheduled for deletion belong to an earlier destroy and are left alone.
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
            if let Some(key) = find_key(rc, key_id).await? {
                if key.state != KeyState::PendingDeletion.as_str() && !has_alias(rc, key_id).await?
                {
                    return Ok(Some(key));
                }
            }
        }
        match out.next_marker() {
            Some(next) if out.truncated() => marker = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
}

async fn has_alias(rc: &RegionCtx, key_id: &str) -> Result<bool, AwsError> {
    let out = rc
        .kms()
        .list_aliases()
        .key_id(key_id)
        .send()
        .await
        .map_err(api_error("listing aliases of", KEY, key_id, &rc.region))?;
    Ok(!out.aliases().is_empty())
}

/// Makes sure the region's key exists, is enabled, has its alias, policy and exactly its tags.
/// A key under the alias tagged with another owner is refused; an untagged one only when
/// `adopt_untagged`.
pub async fn ensure_key(
    rc: &RegionCtx,
    spec: &KeySpec,
    adopt_untagged: bool,
) -> Result<RegionKey, AwsError> {
    let alias = spec.alias.as_str();
    let mut key = match find_key(rc, alias).await? {
        Some(key) => {
            match key.tags.get(OWNER_TAG) {
                Some(other) if *other != spec.owner => {
                    return Err(not_owned(
                        rc,
                        alias,
                        format!("the alias points at key {} owned by {other}, not {}", key.arn, spec.owner),
                    ))
                }
                None if !adopt_untagged => {
                    return Err(not_owned(
                        rc,
                        alias,
                        format!("the alias points at key {}, which is not managed by drpair (no {OWNER_TAG} tag); delete the alias or import the resource that should own it", key.arn),
                    ))
                }
                None => check_adoptable(rc, alias, &key)?,
                _ => {}
            }
            key
        }
        None => {
            let key = match find_unaliased(rc, &spec.owner).await? {
                Some(orphan) => {
                    check_adoptable(rc, alias, &orphan)?;
                    tracing::info!("adopting {KEY} {} ({}) for {alias}", orphan.arn, rc.region);
                    orphan
                }
                None => create_key(rc, spec).await?,
            };
            rc.kms()
                .create_alias()
                .alias_name(alias)
                .target_key_id(&key.key_id)
                .send()
                .await
                .map_err(api_error("creating alias of", KEY, alias, &rc.region))?;
            key
        }
    };
    if key.state == KeyState::PendingDeletion.as_str() {
        tracing::info!(
            "cancelling the deletion of {KEY} {} ({})",
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
    if key.rotation_enabled != Some(true) {
        enable_rotation(rc, &key.key_id).await?;
        key.rotation_enabled = Some(true);
    }
    if let Some(policy) = &spec.policy {
        let current = match &key.policy {
            Value::Null => key_policy(rc, &key.key_id).await?,
            known => known.clone(),
        };
        if !same_policy(&current, policy) {
            rc.kms()
                .put_key_policy()
                .key_id(&key.key_id)
                .policy_name(POLICY_NAME)
                .policy(policy.to_string())
                .send()
                .await
                .map_err(api_error(
                    "setting the policy of",
                    KEY,
                    &key.arn,
                    &rc.region,
                ))?;
        }
        key.policy = policy.clone();
    }
    retag(rc, &key, &spec.tags).await?;
    key.tags = spec.tags.clone();
    Ok(key)
}

/// A key found without proof that drpair made it (untagged under the alias, or tagged with the
/// owner but under no alias) is adopted only if its policy lets no one outside the account use
/// or administer it: adopting would otherwise encrypt the resource's data with a key a stranger
/// controls, even after drpair replaced the policy (grants and a copy of the data may remain).
fn check_adoptable(rc: &RegionCtx, alias: &str, key: &RegionKey) -> Result<(), AwsError> {
    let Some(account) = account_of(&key.arn) else {
        return Ok(());
    };
    let foreign = foreign_principals(&key.policy, &account.id);
    if foreign.is_empty() {
        return Ok(());
    }
    Err(not_owned(
        rc,
        alias,
        format!(
            "key {} is not known to be drpair's and its policy allows principals outside account {}: {}; drpair does not adopt it (review the key, then delete it or its alias)",
            key.arn,
            account.id,
            foreign.join(", ")
        ),
    ))
}

fn not_owned(rc: &RegionCtx, alias: &str, detail: String) -> AwsError {
    AwsError::api(
        "adopting",
        KEY,
        alias,
        &rc.region,
        Some(NOT_OWNED_CODE.to_owned()),
        detail,
    )
}

async fn create_key(rc: &RegionCtx, spec: &KeySpec) -> Result<RegionKey, AwsError> {
    let alias = spec.alias.as_str();
    let out = rc
        .kms()
        .create_key()
        .description(&spec.description)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .set_policy(spec.policy.as_ref().map(Value::to_string))
        .set_tags(Some(kms_tags(&spec.tags)?))
        .send()
        .await
        .map_err(api_error("creating", KEY, alias, &rc.region))?;
    let meta = out.key_metadata.ok_or_else(|| {
        AwsError::api(
            "creating",
            KEY,
            alias,
            &rc.region,
            None,
            "no key metadata in the answer",
        )
    })?;
    enable_rotation(rc, meta.key_id()).await?;
    tracing::info!(
        "created {KEY} {} in {} for {alias}",
        meta.key_id(),
        rc.region
    );
    Ok(RegionKey {
        arn: meta.arn().unwrap_or_default().to_owned(),
        key_id: meta.key_id().to_owned(),
        state: meta
            .key_state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        tags: spec.tags.clone(),
        rotation_enabled: Some(true),
        policy: spec.policy.clone().unwrap_or(Value::Null),
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

async fn retag(rc: &RegionCtx, key: &RegionKey, desired: &Tags) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(&key.tags, desired);
    if !set.is_empty() {
        rc.kms()
            .tag_resource()
            .key_id(&key.key_id)
            .set_tags(Some(kms_tags(&set)?))
            .send()
            .await
            .map_err(api_error("tagging", KEY, &key.arn, &rc.region))?;
    }
    if !remove.is_empty() {
        rc.kms()
            .untag_resource()
            .key_id(&key.key_id)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(api_error("untagging", KEY, &key.arn, &rc.region))?;
    }
    Ok(())
}

/// How the region's key differs from what an encrypted object needs: missing, disabled or
/// scheduled for deletion, automatic rotation off, or (when `policy` is given) a key policy
/// other than drpair's. Empty when it is as specified.
pub fn key_drift(region: &str, alias: &str, key: Option<&RegionKey>) -> Vec<String> {
    key_drift_with_policy(region, alias, key, None)
}

/// [`key_drift`], also comparing the key policy with `policy`.
pub fn key_drift_with_policy(
    region: &str,
    alias: &str,
    key: Option<&RegionKey>,
    policy: Option<&Value>,
) -> Vec<String> {
    match key {
        None => vec![format!("{region}: {KEY} {alias} is missing")],
        Some(k) if !k.is_enabled() => {
            vec![format!(
                "{region}: {KEY} {alias} is {}, expected Enabled",
                k.state
            )]
        }
        Some(k) => {
            let mut drift = Vec::new();
            if k.rotation_enabled == Some(false) {
                drift.push(format!(
                    "{region}: {KEY} {alias} has automatic rotation off"
                ));
            }
            if let Some(expected) = policy {
                if !k.policy.is_null() && !same_policy(&k.policy, expected) {
                    drift.push(format!(
                        "{region}: {KEY} {alias} has a key policy other than drpair's"
                    ));
                }
            }
            drift
        }
    }
}

/// The AWS Backup recovery points of the region encrypted with one of `key_arns` (their ARNs),
/// those being deleted left out. Backups of resources AWS Backup does not fully manage (Aurora,
/// RDS, DynamoDB without advanced backup, EBS) inherit the source resource's key ("Encryption
/// for backups in AWS Backup"), so such a recovery point outlives its resource and still needs
/// the key: scheduling that key's deletion makes the backup unrestorable once the window ends.
///
/// `resource_arns` are looked up first (ListRecoveryPointsByResource, cheap and exact); when none
/// of their recovery points uses the keys, every vault of the region is read
/// (ListRecoveryPointsByBackupVault), which also finds copies and backups of other resources
/// encrypted with the keys. A caller not allowed to list backups gets an empty answer and a
/// warning: the 30-day deletion window is then the only safeguard.
pub async fn recovery_points_using(
    rc: &RegionCtx,
    key_arns: &[&str],
    resource_arns: &[&str],
) -> Result<Vec<String>, AwsError> {
    if key_arns.iter().all(|k| k.is_empty()) {
        return Ok(Vec::new());
    }
    match find_recovery_points(rc, key_arns, resource_arns).await {
        Err(e) if e.code() == Some("AccessDeniedException") => {
            tracing::warn!(
                "cannot tell whether AWS Backup recovery points in {} use {}: {e}",
                rc.region,
                key_arns.join(", ")
            );
            Ok(Vec::new())
        }
        other => other,
    }
}

async fn find_recovery_points(
    rc: &RegionCtx,
    key_arns: &[&str],
    resource_arns: &[&str],
) -> Result<Vec<String>, AwsError> {
    let backup = rc.backup();
    let uses = |key: Option<&str>, status: Option<&RecoveryPointStatus>| {
        key.is_some_and(|k| key_arns.contains(&k)) && status != Some(&RecoveryPointStatus::Deleting)
    };
    let mut found = Vec::new();
    for resource in resource_arns.iter().filter(|a| !a.is_empty()) {
        let mut token: Option<String> = None;
        loop {
            let page = backup
                .list_recovery_points_by_resource()
                .resource_arn(*resource)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(api_error(
                    "listing the recovery points of",
                    "resource",
                    resource,
                    &rc.region,
                ));
            let Some(page) = ok_if_not_found(page)? else {
                break;
            };
            found.extend(
                page.recovery_points()
                    .iter()
                    .filter(|p| uses(p.encryption_key_arn(), p.status()))
                    .filter_map(|p| p.recovery_point_arn().map(str::to_owned)),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
    }
    if !found.is_empty() {
        return Ok(found);
    }
    let mut vaults = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = backup
            .list_backup_vaults()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error(
                "listing",
                "backup vaults",
                &rc.region,
                &rc.region,
            ))?;
        vaults.extend(
            page.backup_vault_list()
                .iter()
                .filter(|v| v.number_of_recovery_points() > 0)
                .filter_map(|v| v.backup_vault_name().map(str::to_owned)),
        );
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    for vault in vaults {
        let mut token: Option<String> = None;
        loop {
            let page = backup
                .list_recovery_points_by_backup_vault()
                .backup_vault_name(&vault)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(api_error(
                    "listing the recovery points of",
                    "backup vault",
                    &vault,
                    &rc.region,
                ));
            // A vault deleted meanwhile holds nothing.
            let Some(page) = ok_if_not_found(page)? else {
                break;
            };
            found.extend(
                page.recovery_points()
                    .iter()
                    .filter(|p| uses(p.encryption_key_arn(), p.status()))
                    .filter_map(|p| p.recovery_point_arn().map(str::to_owned)),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
    }
    Ok(found)
}

/// How a kept key's users read in messages: the first recovery point and how many there are.
pub fn describe_recovery_points(arns: &[String]) -> String {
    match arns {
        [] => "no AWS Backup recovery point".to_owned(),
        [one] => format!("AWS Backup recovery point {one}"),
        [first, rest @ ..] => format!(
            "{} AWS Backup recovery points ({first} and {} more)",
            arns.len(),
            rest.len()
        ),
    }
}

/// Schedules the deletion of the region's key (30-day window) and removes its alias. The key is
/// found through the alias or, when the alias is already gone, through `known_arn` (from
/// state); it is only touched when it is tagged as `owner`'s or is the one state records. A key
/// that an AWS Backup recovery point of the region is encrypted with is kept, alias and all,
/// with a warning: deleting it would make that backup unrestorable. Idempotent.
pub async fn destroy_key(
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
                "leaving {KEY} {} and {alias} ({}): not tagged as owned by {owner}",
                key.arn,
                rc.region
            );
            return Ok(());
        }
        if key.state != KeyState::PendingDeletion.as_str() {
            let users = recovery_points_using(rc, &[key.arn.as_str()], &[]).await?;
            if !users.is_empty() {
                tracing::warn!(
                    "keeping {KEY} {} and {alias} ({}): {} is encrypted with it; schedule its deletion once those backups are no longer needed",
                    key.arn,
                    rc.region,
                    describe_recovery_points(&users)
                );
                return Ok(());
            }
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
                "scheduled {KEY} {} ({}) for deletion in {DELETION_WINDOW_DAYS} days",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_uses_the_longest_window() {
        assert_eq!(DELETION_WINDOW_DAYS, 30);
    }

    #[test]
    fn recovery_points_in_messages() {
        assert_eq!(
            describe_recovery_points(&[]),
            "no AWS Backup recovery point"
        );
        assert_eq!(
            describe_recovery_points(&["arn:a".into()]),
            "AWS Backup recovery point arn:a"
        );
        assert_eq!(
            describe_recovery_points(&["arn:a".into(), "arn:b".into(), "arn:c".into()]),
            "3 AWS Backup recovery points (arn:a and 2 more)"
        );
    }

    fn account() -> Account {
        Account {
            id: "111122223333".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn key_policy_separates_administration_from_use() {
        let policy = key_policy_for(
            &account(),
            "us-east-2",
            &["rds", "secretsmanager"],
            Vec::new(),
        );
        let text = policy.to_string();
        assert!(!text.contains("\"kms:*\""), "{policy:#}");
        let statements = policy["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        let admin = statements[0]["Action"].as_array().unwrap();
        for forbidden in [
            "kms:Encrypt",
            "kms:Decrypt",
            "kms:CreateGrant",
            "kms:Create*",
            "kms:GenerateDataKey*",
            "kms:ReEncrypt*",
        ] {
            assert!(!admin.contains(&json!(forbidden)), "{forbidden}");
        }
        assert!(
            admin.contains(&json!("kms:Put*")),
            "lockout check: the account can change the policy"
        );
        let usage = &statements[1];
        assert_eq!(usage["Principal"]["AWS"], "arn:aws:iam::111122223333:root");
        assert_eq!(
            usage["Condition"]["StringEquals"]["kms:ViaService"],
            json!([
                "rds.us-east-2.amazonaws.com",
                "secretsmanager.us-east-2.amazonaws.com"
            ])
        );
        assert_eq!(
            usage["Condition"]["StringEquals"]["kms:CallerAccount"],
            "111122223333"
        );
        let extra = json!({ "Sid": "Service", "Effect": "Allow" });
        let with_extra = key_policy_for(&account(), "us-east-1", &[], vec![extra.clone()]);
        assert_eq!(
            with_extra["Statement"].as_array().unwrap().len(),
            2,
            "no use statement without services"
        );
        assert_eq!(with_extra["Statement"][1], extra);
    }

    #[test]
    fn account_of_an_arn() {
        assert_eq!(
            account_of("arn:aws-cn:kms:cn-north-1:111122223333:key/abc"),
            Some(Account {
                id: "111122223333".into(),
                partition: "aws-cn".into()
            })
        );
        assert_eq!(
            account_of("arn:aws:iam::111122223333:root").map(|a| a.id),
            Some("111122223333".into())
        );
        assert_eq!(account_of("alias/x"), None);
        assert_eq!(account_of("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn foreign_principals_of_a_policy() {
        let ours = key_policy_for(&account(), "us-east-1", &["dynamodb"], Vec::new());
        assert!(foreign_principals(&ours, "111122223333").is_empty());
        let policy = json!({
            "Statement": [
                { "Effect": "Allow", "Principal": { "AWS": ["arn:aws:iam::111122223333:role/admin", "arn:aws:iam::444455556666:root"] }, "Action": "kms:*" },
                { "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt" },
                { "Effect": "Allow", "Principal": { "AWS": "444455556666" }, "Action": "kms:Decrypt" },
                { "Effect": "Allow", "Principal": { "Service": "logs.us-east-1.amazonaws.com" }, "Action": "kms:Decrypt" },
                { "Effect": "Deny", "Principal": { "AWS": "arn:aws:iam::777788889999:root" }, "Action": "kms:*" }
            ]
        });
        assert_eq!(
            foreign_principals(&policy, "111122223333"),
            vec!["*", "444455556666", "arn:aws:iam::444455556666:root"]
        );
        let single = json!({ "Statement": { "Effect": "Allow", "Principal": { "AWS": "*" } } });
        assert_eq!(foreign_principals(&single, "111122223333"), vec!["*"]);
    }

    #[test]
    fn drift_of_rotation_and_policy() {
        let expected = key_policy_for(&account(), "us-east-1", &["dynamodb"], Vec::new());
        let mut key = RegionKey {
            state: "Enabled".into(),
            rotation_enabled: Some(true),
            policy: expected.clone(),
            ..RegionKey::default()
        };
        assert!(
            key_drift_with_policy("us-east-1", "alias/a", Some(&key), Some(&expected)).is_empty()
        );
        key.rotation_enabled = Some(false);
        key.policy = json!({ "Statement": [] });
        assert_eq!(
            key_drift_with_policy("us-east-1", "alias/a", Some(&key), Some(&expected)),
            vec![
                "us-east-1: KMS key alias/a has automatic rotation off",
                "us-east-1: KMS key alias/a has a key policy other than drpair's"
            ]
        );
        assert_eq!(
            key_drift("us-east-1", "alias/a", Some(&key)).len(),
            1,
            "policy not compared"
        );
    }

    #[test]
    fn drift_of_a_key() {
        assert_eq!(
            key_drift("us-east-2", "alias/a", None),
            vec!["us-east-2: KMS key alias/a is missing"]
        );
        let mut key = RegionKey {
            state: "Enabled".into(),
            ..RegionKey::default()
        };
        assert!(key_drift("us-east-2", "alias/a", Some(&key)).is_empty());
        key.state = "PendingDeletion".into();
        assert_eq!(
            key_drift("us-east-2", "alias/a", Some(&key)),
            vec!["us-east-2: KMS key alias/a is PendingDeletion, expected Enabled"]
        );
    }
}
