//! What keeps the backups from being wiped: the vaults' KMS key policies, AWS Backup Vault Lock
//! and the vault access policy, each applied to both vaults, read back for drift, and checked by
//! destroy before anything is deleted.
//!
//! - **Key policy** ([`key_policy`]): the account administers each vault key through IAM
//!   without using it; principals of the account use it only through AWS Backup
//!   (`kms:ViaService` `backup.{region}.amazonaws.com`) and Amazon RDS (`rds.{region}…`), from
//!   this account (`kms:CallerAccount`). RDS is needed because Aurora is not fully managed by
//!   AWS Backup: a cross-region copy of an Aurora recovery point is an RDS cluster snapshot copy
//!   in the destination region that "AWS Backup will re-encrypt … using the customer managed key
//!   of your destination vault" ("Creating backup copies across AWS Regions",
//!   https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-region-backup.html), which RDS
//!   does with the key (and a grant, `kms:CreateGrant`) in that region on behalf of the backup
//!   role; "Your IAM role must have access to the KMS key being used to back up and restore the
//!   object … The permissions in IAM policy and KMS key policy must be consistent" ("Encryption
//!   for backups in AWS Backup", https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html).
//! - **Vault Lock** ([`VaultLockSpec`]): PutBackupVaultLockConfiguration on both vaults. "If any
//!   user (including the root user) attempts to delete a backup or change the lifecycle
//!   properties in a locked vault, AWS Backup will deny the operation"; governance mode can be
//!   removed by users with the IAM permission, compliance mode ("ChangeableForDays", at least 3:
//!   "AWS Backup enforces a 72-hour cooling-off period") is immutable from its lock date on
//!   ("AWS Backup Vault Lock", https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html;
//!   API_PutBackupVaultLockConfiguration). Any backup or copy job into the vault whose retention
//!   is outside MinRetentionDays..MaxRetentionDays fails, so the plans' retentions are checked
//!   against the lock at plan time. DescribeBackupVault reports `Locked`, `MinRetentionDays`,
//!   `MaxRetentionDays` and, in compliance mode, `LockDate`: the mode is read from the lock date.
//! - **Vault access policy** ([`vault_policy`]): denies `backup:DeleteRecoveryPoint`,
//!   `backup:UpdateRecoveryPointLifecycle`, `backup:PutBackupVaultAccessPolicy` and
//!   `backup:DeleteBackupVaultAccessPolicy` to every principal except the account root and the
//!   `recovery_point_admin_arns` (`aws:PrincipalArn`, `ArnNotLike`), after "Deny access to delete
//!   recovery points" in "Vault access policies"
//!   (https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html;
//!   the AWS Config rule backup-recovery-point-manual-deletion-disabled asks for the first three
//!   actions, with `Principal` and `Resource` `*`). AWS Backup's access policies take no
//!   wildcard in `Action`, so the actions are listed.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::{parse_policy, same_policy, Account};
use crate::aws::kms::key_policy_for;
use crate::aws::{AwsError, RegionCtx};

use super::find::VAULT;
use super::{BackupSpec, ObservedVault};

/// The services that use a vault key in its region: AWS Backup itself and RDS (Aurora snapshot
/// copies re-encrypted with the destination vault's key).
pub const KEY_SERVICES: [&str; 2] = ["backup", "rds"];
/// The Sid of drpair's statement in a vault access policy.
pub const POLICY_SID: &str = "DenyRecoveryPointDeletionExceptAdmins";
/// What the vault access policy denies to everyone but the administrators.
pub const DENIED_ACTIONS: [&str; 4] = [
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:PutBackupVaultAccessPolicy",
    "backup:DeleteBackupVaultAccessPolicy",
];
/// AWS's bounds (API_PutBackupVaultLockConfiguration): "The shortest minimum retention period you
/// can specify is 1 day", the longest retention 36500 days; ChangeableForDays at least 3.
pub const MIN_LOCK_DAYS: i64 = 1;
pub const MAX_LOCK_DAYS: i64 = 36500;
pub const MIN_CHANGEABLE_DAYS: i64 = 3;

/// The vault key's policy (both regions use the same shape, each with its own region).
pub fn key_policy(account: &Account, region: &str) -> Value {
    key_policy_for(account, region, &KEY_SERVICES, Vec::new())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    Governance,
    Compliance,
}

impl LockMode {
    pub fn parse(text: &str) -> Option<LockMode> {
        match text {
            "governance" => Some(LockMode::Governance),
            "compliance" => Some(LockMode::Compliance),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            LockMode::Governance => "governance",
            LockMode::Compliance => "compliance",
        }
    }
}

/// The Vault Lock both vaults should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VaultLockSpec {
    pub mode: LockMode,
    pub min_retention_days: Option<i64>,
    pub max_retention_days: Option<i64>,
    /// Compliance mode only: days until the lock is immutable.
    pub changeable_for_days: Option<i64>,
}

impl VaultLockSpec {
    /// Why `days` of retention would be refused by the lock, if it would.
    pub fn refuses(&self, days: i64) -> Option<String> {
        if let Some(min) = self.min_retention_days.filter(|m| days < *m) {
            return Some(format!(
                "shorter than the lock's min_retention_days ({min})"
            ));
        }
        if let Some(max) = self.max_retention_days.filter(|m| days > *m) {
            return Some(format!("longer than the lock's max_retention_days ({max})"));
        }
        None
    }

    fn describe(&self) -> String {
        let days = |d: Option<i64>| d.map_or("none".to_owned(), |d| d.to_string());
        format!(
            "{} (min {}, max {} days)",
            self.mode.label(),
            days(self.min_retention_days),
            days(self.max_retention_days)
        )
    }
}

/// A vault's lock as DescribeBackupVault reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedLock {
    pub min_retention_days: Option<i64>,
    pub max_retention_days: Option<i64>,
    /// Seconds since the epoch; only compliance mode has one.
    pub lock_date: Option<i64>,
}

impl ObservedLock {
    pub fn mode(&self) -> LockMode {
        if self.lock_date.is_some() {
            LockMode::Compliance
        } else {
            LockMode::Governance
        }
    }

    /// Compliance mode past its lock date: AWS refuses to change or remove it.
    pub fn immutable(&self, now: i64) -> bool {
        self.lock_date.is_some_and(|d| now >= d)
    }

    fn matches(&self, wanted: &VaultLockSpec) -> bool {
        self.mode() == wanted.mode
            && self.min_retention_days == wanted.min_retention_days
            && self.max_retention_days == wanted.max_retention_days
    }

    fn describe(&self) -> String {
        let days = |d: Option<i64>| d.map_or("none".to_owned(), |d| d.to_string());
        format!(
            "{} (min {}, max {} days)",
            self.mode().label(),
            days(self.min_retention_days),
            days(self.max_retention_days)
        )
    }
}

pub fn now_epoch() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// RFC 3339 (UTC, seconds) of an epoch, for state.
pub fn rfc3339(epoch: i64) -> String {
    aws_smithy_types::DateTime::from_secs(epoch)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// The principals the vault access policy exempts: the account root (the break-glass identity)
/// and the administrators, sorted.
pub fn exempt_principals(spec: &BackupSpec, account: &Account) -> Vec<String> {
    let mut all = vec![account.root_arn()];
    all.extend(spec.admin_arns.iter().cloned());
    all.sort();
    all.dedup();
    all
}

/// The vault access policy of a vault (None when the spec does not protect recovery points).
pub fn vault_policy(spec: &BackupSpec, account: &Account) -> Option<Value> {
    if !spec.protect_recovery_points {
        return None;
    }
    Some(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": POLICY_SID,
            "Effect": "Deny",
            "Principal": { "AWS": "*" },
            "Action": DENIED_ACTIONS,
            // Not the vault's ARN: DeleteRecoveryPoint and UpdateRecoveryPointLifecycle are
            // authorized on the recovery point's ARN (resource type `recoveryPoint`), which a
            // statement naming the vault would not match. A vault access policy applies to its
            // own vault only, so `*` here is this vault and its recovery points.
            "Resource": "*",
            "Condition": {
                "ArnNotLike": { "aws:PrincipalArn": exempt_principals(spec, account) }
            }
        }]
    }))
}

/// Whether `policy` is one drpair wrote (its statement's Sid).
pub fn is_ours(policy: &Value) -> bool {
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    statements
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(POLICY_SID))
}

/// The vault's access policy; None when it has none (or the vault is gone).
pub async fn find_access_policy(rc: &RegionCtx, name: &str) -> Result<Option<Value>, AwsError> {
    let out = rc
        .backup()
        .get_backup_vault_access_policy()
        .backup_vault_name(name)
        .send()
        .await
        .map_err(api_error(
            "reading the access policy of",
            VAULT,
            name,
            &rc.region,
        ));
    Ok(ok_if_not_found(out)?.and_then(|o| o.policy().map(parse_policy)))
}

/// Puts the lock the spec asks for on the vault, or removes one the spec no longer wants.
/// A compliance lock past its lock date cannot be changed or removed: a clear error.
pub async fn ensure_lock(
    rc: &RegionCtx,
    spec: &BackupSpec,
    vault: &ObservedVault,
) -> Result<(), AwsError> {
    let name = vault.name.as_str();
    let immutable_error = |lock: &ObservedLock, what: &str| {
        AwsError::api(
            what,
            "backup vault lock of",
            name,
            &rc.region,
            Some("InvalidRequestException".into()),
            format!(
                "the vault's lock is {} in compliance mode and immutable since {} (its lock date): AWS Backup refuses to change or remove it, for anyone. Set vault_lock back to mode = \"compliance\", min_retention_days = {}, max_retention_days = {}.",
                lock.describe(),
                lock.lock_date.map(rfc3339).unwrap_or_default(),
                lock.min_retention_days.map_or("null".into(), |d| d.to_string()),
                lock.max_retention_days.map_or("null".into(), |d| d.to_string()),
            ),
        )
    };
    match (&spec.vault_lock, &vault.lock) {
        (None, None) => Ok(()),
        (Some(wanted), Some(lock)) if lock.matches(wanted) => Ok(()),
        (_, Some(lock)) if lock.immutable(now_epoch()) => Err(immutable_error(lock, "changing")),
        (None, Some(lock)) => {
            let out = rc
                .backup()
                .delete_backup_vault_lock_configuration()
                .backup_vault_name(name)
                .send()
                .await
                .map_err(api_error("removing the lock of", VAULT, name, &rc.region));
            match out {
                Err(e) if e.code() == Some("InvalidRequestException") => {
                    Err(immutable_error(lock, "removing"))
                }
                other => {
                    ok_if_not_found(other)?;
                    tracing::info!("removed the lock of {VAULT} {name} in {}", rc.region);
                    Ok(())
                }
            }
        }
        (Some(wanted), _) => {
            let changeable = match wanted.mode {
                LockMode::Compliance => wanted.changeable_for_days,
                LockMode::Governance => None,
            };
            // A compliance lock (in its grace time) becomes governance only by removing it
            // first: PutBackupVaultLockConfiguration without ChangeableForDays keeps the date.
            if wanted.mode == LockMode::Governance
                && vault.lock.as_ref().is_some_and(|l| l.lock_date.is_some())
            {
                rc.backup()
                    .delete_backup_vault_lock_configuration()
                    .backup_vault_name(name)
                    .send()
                    .await
                    .map_err(api_error("removing the lock of", VAULT, name, &rc.region))?;
            }
            rc.backup()
                .put_backup_vault_lock_configuration()
                .backup_vault_name(name)
                .set_min_retention_days(wanted.min_retention_days)
                .set_max_retention_days(wanted.max_retention_days)
                .set_changeable_for_days(changeable)
                .send()
                .await
                .map_err(api_error("locking", VAULT, name, &rc.region))?;
            tracing::info!(
                "locked {VAULT} {name} in {}: {}",
                rc.region,
                wanted.describe()
            );
            Ok(())
        }
    }
}

/// Puts drpair's access policy on the vault when it differs, or removes drpair's own policy when
/// the spec does not protect recovery points (a policy someone else wrote is then left alone).
/// Changing an existing drpair policy is itself denied by it to anyone but the exempt
/// principals: AWS answers AccessDenied, which is reported with what to do.
pub async fn ensure_access_policy(
    rc: &RegionCtx,
    spec: &BackupSpec,
    account: &Account,
    vault: &ObservedVault,
) -> Result<(), AwsError> {
    let name = vault.name.as_str();
    let wanted = vault_policy(spec, account);
    let denied = |e: AwsError, verb: &str| {
        if e.code() == Some("AccessDeniedException") {
            AwsError::api(
                verb,
                "access policy of backup vault",
                name,
                &rc.region,
                Some("AccessDeniedException".into()),
                format!("{e}. The vault's current access policy lets only the account root and recovery_point_admin_arns change it: apply as one of them ({}).", exempt_principals(spec, account).join(", ")),
            )
        } else {
            e
        }
    };
    match (&wanted, &vault.access_policy) {
        (Some(w), Some(current)) if same_policy(current, w) => Ok(()),
        (Some(w), _) => {
            rc.backup()
                .put_backup_vault_access_policy()
                .backup_vault_name(name)
                .policy(w.to_string())
                .send()
                .await
                .map_err(api_error(
                    "setting the access policy of",
                    VAULT,
                    name,
                    &rc.region,
                ))
                .map_err(|e| denied(e, "setting"))?;
            tracing::info!("set the access policy of {VAULT} {name} in {}", rc.region);
            Ok(())
        }
        (None, Some(current)) if is_ours(current) => {
            let out = rc
                .backup()
                .delete_backup_vault_access_policy()
                .backup_vault_name(name)
                .send()
                .await
                .map_err(api_error(
                    "removing the access policy of",
                    VAULT,
                    name,
                    &rc.region,
                ));
            ok_if_not_found(out).map_err(|e| denied(e, "removing"))?;
            Ok(())
        }
        (None, _) => Ok(()),
    }
}

/// How a vault's lock and access policy differ from the spec.
pub fn protection_drift(
    spec: &BackupSpec,
    account: &Account,
    region: &str,
    vault: &ObservedVault,
) -> Vec<String> {
    let mut out = Vec::new();
    let label = format!("{region}: backup vault {}", vault.name);
    match (&spec.vault_lock, &vault.lock) {
        (None, None) => {}
        (Some(w), None) => out.push(format!(
            "{label} has no vault lock, expected {}",
            w.describe()
        )),
        (None, Some(l)) => out.push(format!(
            "{label} has a vault lock, {}, that vault_lock does not ask for",
            l.describe()
        )),
        (Some(w), Some(l)) if !l.matches(w) => out.push(format!(
            "{label}: vault lock is {}, expected {}",
            l.describe(),
            w.describe()
        )),
        _ => {}
    }
    match (vault_policy(spec, account), &vault.access_policy) {
        (Some(_), None) => out.push(format!(
            "{label} has no access policy protecting its recovery points"
        )),
        (Some(w), Some(current)) if !same_policy(current, &w) => out.push(format!(
            "{label} has an access policy other than drpair's"
        )),
        (None, Some(current)) if is_ours(current) => out.push(format!(
            "{label} still has drpair's access policy, which protect_recovery_points = false removes"
        )),
        _ => {}
    }
    out
}

/// `arn:aws:iam::ACCOUNT:role/NAME` (path unknown: `role/*NAME` matches any) of an STS caller
/// ARN, which is how `aws:PrincipalArn` names an assumed role's session; users and the root
/// are their own ARN.
pub fn principal_patterns(caller_arn: &str) -> Vec<String> {
    let parts: Vec<&str> = caller_arn.splitn(6, ':').collect();
    let [_, partition, service, _, account, resource] = parts[..] else {
        return vec![caller_arn.to_owned()];
    };
    if service == "sts" {
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            let role = rest.split('/').next().unwrap_or_default();
            return vec![format!("arn:{partition}:iam::{account}:role/{role}")];
        }
        if let Some(user) = resource.strip_prefix("user/") {
            return vec![format!("arn:{partition}:iam::{account}:user/{user}")];
        }
    }
    vec![caller_arn.to_owned()]
}

/// Whether `principal` matches one ArnLike pattern of `exempt` (each of the six parts on its
/// own, `*` and `?` wildcards; a role's path is ignored when the pattern has none).
pub fn exempt(principal: &str, exempt: &[String]) -> bool {
    fn glob(text: &str, pattern: &str) -> bool {
        let (t, p): (Vec<char>, Vec<char>) = (text.chars().collect(), pattern.chars().collect());
        let (mut ti, mut pi, mut star, mut mark) = (0, 0, None, 0);
        while ti < t.len() {
            if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
                ti += 1;
                pi += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some(pi);
                mark = ti;
                pi += 1;
            } else if let Some(s) = star {
                pi = s + 1;
                mark += 1;
                ti = mark;
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
    let strip_path = |arn: &str| -> String {
        match arn.split_once(":role/") {
            Some((head, tail)) => {
                format!("{head}:role/{}", tail.rsplit('/').next().unwrap_or(tail))
            }
            None => arn.to_owned(),
        }
    };
    exempt.iter().any(|pattern| {
        let a: Vec<&str> = principal.splitn(6, ':').collect();
        let b: Vec<&str> = pattern.splitn(6, ':').collect();
        let like = |a: &[&str], b: &[&str]| {
            a.len() == 6 && b.len() == 6 && a.iter().zip(b).all(|(x, y)| glob(x, y))
        };
        like(&a, &b) || {
            let (pa, pb) = (strip_path(principal), strip_path(pattern));
            let a: Vec<&str> = pa.splitn(6, ':').collect();
            let b: Vec<&str> = pb.splitn(6, ':').collect();
            like(&a, &b)
        }
    })
}

/// The caller's ARN (STS GetCallerIdentity).
pub async fn caller_arn(rc: &RegionCtx) -> Result<String, AwsError> {
    let out = rc
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(api_error("reading", "caller identity", "sts", &rc.region))?;
    Ok(out.arn().unwrap_or_default().to_owned())
}

/// Before a destroy deletes anything: why the recovery points of `vaults` (region, vault) could
/// not be deleted, if they could not. A locked vault's points cannot be deleted by anyone; a
/// vault whose access policy denies the caller (drpair's, with the caller not exempt) neither.
pub fn refuse_locked_or_protected(
    spec: &BackupSpec,
    caller: &str,
    vaults: &[(&str, Option<&ObservedVault>)],
) -> Result<(), AwsError> {
    let mut reasons = Vec::new();
    let mut first = None;
    for (region, vault) in vaults {
        let Some(v) = vault.filter(|v| v.recovery_points > 0) else {
            continue;
        };
        if let Some(lock) = &v.lock {
            first.get_or_insert(*region);
            reasons.push(match lock.mode() {
                LockMode::Governance => format!("{region}: the vault is locked in governance mode ({} recovery points); AWS Backup refuses to delete recovery points of a locked vault, for everyone. Remove vault_lock, apply (deleting the lock takes backup:DeleteBackupVaultLockConfiguration), then destroy again", v.recovery_points),
                LockMode::Compliance if lock.immutable(now_epoch()) => format!("{region}: the vault is locked in compliance mode since {} ({} recovery points); nobody can delete them or the lock: the vault can be destroyed only once every recovery point has reached the end of its retention", lock.lock_date.map(rfc3339).unwrap_or_default(), v.recovery_points),
                LockMode::Compliance => format!("{region}: the vault is locked in compliance mode, still changeable until {} ({} recovery points); AWS Backup refuses to delete recovery points of a locked vault. Remove vault_lock and apply before that date, then destroy again", lock.lock_date.map(rfc3339).unwrap_or_default(), v.recovery_points),
            });
            continue;
        }
        let denies = v.access_policy.as_ref().is_some_and(|p| {
            is_ours(p) && {
                let exempted = policy_exemptions(p);
                !principal_patterns(caller)
                    .iter()
                    .any(|c| exempt(c, &exempted))
            }
        });
        if denies {
            first.get_or_insert(*region);
            reasons.push(format!("{region}: the vault's access policy denies backup:DeleteRecoveryPoint to {caller} ({} recovery points); destroy as the account root or one of recovery_point_admin_arns ({}), or as such an administrator set protect_recovery_points = false and apply first", v.recovery_points, policy_exemptions(p_or_empty(v)).join(", ")));
        }
    }
    let Some(region) = first else {
        return Ok(());
    };
    Err(AwsError::api(
        "deleting",
        VAULT,
        &spec.vault_name,
        region,
        None,
        format!(
            "force_destroy cannot delete the vaults' recovery points: {}. Nothing was deleted: the plans, vaults and KMS keys are as they were, so every backup stays restorable.",
            reasons.join("; ")
        ),
    ))
}

fn p_or_empty(v: &ObservedVault) -> &Value {
    static EMPTY: Value = Value::Null;
    v.access_policy.as_ref().unwrap_or(&EMPTY)
}

/// The `aws:PrincipalArn` values drpair's statement exempts.
pub fn policy_exemptions(policy: &Value) -> Vec<String> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    statements
        .iter()
        .filter(|s| s.get("Sid").and_then(Value::as_str) == Some(POLICY_SID))
        .filter_map(|s| s.pointer("/Condition/ArnNotLike/aws:PrincipalArn"))
        .flat_map(|v| match v {
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec;
    use super::*;

    fn account() -> Account {
        Account {
            id: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn the_key_is_used_only_through_backup_and_rds_of_its_region() {
        let policy = key_policy(&account(), "us-east-2");
        let use_statement = &policy["Statement"][1];
        assert_eq!(
            use_statement["Condition"]["StringEquals"]["kms:ViaService"],
            json!([
                "backup.us-east-2.amazonaws.com",
                "rds.us-east-2.amazonaws.com"
            ])
        );
        assert_eq!(
            use_statement["Condition"]["StringEquals"]["kms:CallerAccount"],
            "123456789012"
        );
        let admin = policy["Statement"][0]["Action"].as_array().unwrap();
        assert!(!admin.iter().any(|a| a == "kms:Decrypt" || a == "kms:*"));
    }

    #[test]
    fn the_vault_policy_denies_deletion_to_all_but_root_and_admins() {
        let mut s = spec();
        s.protect_recovery_points = true;
        s.admin_arns = vec!["arn:aws:iam::123456789012:role/backup-admin".into()];
        let p = vault_policy(&s, &account()).unwrap();
        let st = &p["Statement"][0];
        assert_eq!(st["Effect"], "Deny");
        assert_eq!(st["Principal"], json!({ "AWS": "*" }));
        // Recovery point actions are authorized on the point's ARN, not the vault's.
        assert_eq!(st["Resource"], "*");
        assert!(st["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("backup:DeleteRecoveryPoint")));
        assert_eq!(
            st["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
            json!([
                "arn:aws:iam::123456789012:role/backup-admin",
                "arn:aws:iam::123456789012:root"
            ])
        );
        assert!(is_ours(&p));
        s.protect_recovery_points = false;
        assert!(vault_policy(&s, &account()).is_none());
    }

    #[test]
    fn callers_are_matched_as_aws_principal_arn() {
        let admins = vec![
            "arn:aws:iam::123456789012:role/backup-admin".to_string(),
            "arn:aws:iam::123456789012:root".to_string(),
        ];
        let assumed = "arn:aws:sts::123456789012:assumed-role/backup-admin/session-1";
        assert!(principal_patterns(assumed)
            .iter()
            .any(|p| exempt(p, &admins)));
        let other = "arn:aws:sts::123456789012:assumed-role/deployer/ci";
        assert!(!principal_patterns(other).iter().any(|p| exempt(p, &admins)));
        assert!(exempt(
            "arn:aws:iam::123456789012:role/ops/backup-admin",
            &admins
        ));
        assert!(exempt(
            "arn:aws:iam::123456789012:role/x",
            &["arn:aws:iam::123456789012:role/*".to_string()]
        ));
    }

    #[test]
    fn lock_checks_and_drift() {
        let lock = VaultLockSpec {
            mode: LockMode::Compliance,
            min_retention_days: Some(7),
            max_retention_days: Some(90),
            changeable_for_days: Some(3),
        };
        assert!(lock.refuses(7).is_none() && lock.refuses(90).is_none());
        assert!(lock.refuses(6).unwrap().contains("min_retention_days (7)"));
        assert!(lock
            .refuses(91)
            .unwrap()
            .contains("max_retention_days (90)"));
        let mut s = spec();
        s.vault_lock = Some(lock);
        let vault = ObservedVault {
            name: "v".into(),
            arn: "arn:vault".into(),
            ..ObservedVault::default()
        };
        let drift = protection_drift(&s, &account(), "us-east-1", &vault);
        assert_eq!(
            drift,
            vec!["us-east-1: backup vault v has no vault lock, expected compliance (min 7, max 90 days)"]
        );
        let locked = ObservedVault {
            lock: Some(ObservedLock {
                min_retention_days: Some(7),
                max_retention_days: Some(90),
                lock_date: Some(1),
            }),
            ..vault
        };
        assert!(protection_drift(&s, &account(), "us-east-1", &locked).is_empty());
        assert!(locked.lock.as_ref().unwrap().immutable(now_epoch()));
    }

    #[test]
    fn destroy_refuses_locked_and_protected_vaults_naming_what_to_do() {
        let s = spec();
        let locked = ObservedVault {
            recovery_points: 2,
            lock: Some(ObservedLock::default()),
            ..ObservedVault::default()
        };
        let err = refuse_locked_or_protected(
            &s,
            "arn:aws:sts::1:user/x",
            &[("us-east-1", Some(&locked))],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("governance mode") && err.contains("Nothing was deleted"),
            "{err}"
        );
        let mut p = spec();
        p.protect_recovery_points = true;
        let protected = ObservedVault {
            recovery_points: 1,
            access_policy: vault_policy(&p, &account()),
            ..ObservedVault::default()
        };
        let err = refuse_locked_or_protected(
            &p,
            "arn:aws:sts::123456789012:assumed-role/deployer/ci",
            &[("us-east-2", Some(&protected))],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("denies backup:DeleteRecoveryPoint"), "{err}");
        assert!(refuse_locked_or_protected(
            &p,
            "arn:aws:iam::123456789012:root",
            &[("us-east-2", Some(&protected))]
        )
        .is_ok());
        let empty = ObservedVault {
            lock: Some(ObservedLock::default()),
            ..ObservedVault::default()
        };
        assert!(refuse_locked_or_protected(&s, "x", &[("us-east-1", Some(&empty))]).is_ok());
    }
}
