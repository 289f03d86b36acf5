//! The AWS side of `drpair_backup_plan`: a backup vault in each region (encrypted with a
//! customer-managed KMS key of that region), a backup plan in the primary region whose rule
//! backs up into the primary vault on a schedule and copies every recovery point to the DR
//! vault, the same plan in the DR region (when DR resources are given) backing up into the DR
//! vault and copying to the primary vault, a selection in each plan, and the IAM role AWS Backup
//! assumes (IAM is global: one role serves both regions).
//!
//! Why a plan per region: a DR stack must keep protecting whichever region writes. After an
//! Aurora global database failover the writer is the DR cluster, and a plan works in its own
//! region: its rule names a vault of that region by name (`TargetBackupVaultName`), the backup
//! is taken there, and only copy actions reach another region ("Creating backup copies across
//! AWS Regions"). A plan in the primary region alone therefore stops protecting the data when
//! the DR region takes over, and is gone with the primary region in an outage. Whether AWS Backup can snapshot an Aurora global database's
//! secondary (read-only) cluster is not stated either way in AWS's documentation (the Aurora
//! global database limitations and AWS Backup's feature availability list no such
//! restriction; a secondary has its own cluster volume and automated backups). The design does
//! not depend on it: the DR plan selects the DR cluster from the start, so its jobs protect the
//! data whenever that cluster is the writer, and at worst fail (visibly, as AWS Backup job
//! failures) while it is a secondary whose data the primary plan already protects.
//!
//! Everything has a deterministic name (`{prefix}-backup-vault-{version}-{env}` and
//! `{prefix}-backup-plan-{version}-{env}` in both regions, `{prefix}-backup-{version}-{env}` for
//! the role) and carries the owner tag, so a create interrupted at any point is completed by the
//! next [`ensure`], and [`destroy`] removes whatever exists.
//!
//! Layout: [`find`] (lookups), [`ensure`] (create, adopt, repair), [`observe`] ([`observe()`]
//! and [`drift`]) and [`destroy`].

mod destroy;
mod ensure;
mod find;
mod observe;
pub mod protect;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::aws::iam::{service_trust_policy, Account, ObservedRole, RoleSpec};
use crate::aws::kms::{KeySpec, RegionKey};
use crate::aws::tags::{standard_tags, Tags};
use crate::aws::Role;
use protect::{ObservedLock, VaultLockSpec};

pub use destroy::destroy;
pub use ensure::ensure;
pub use observe::{drift, observe};

/// The owner tag's prefix: the Terraform resource type.
pub const OWNER_KIND: &str = "drpair_backup_plan";
/// The DR-Role tag of global objects (the IAM role).
pub const GLOBAL_ROLE: &str = "global";
/// The AWS-managed policies AWS Backup needs to back up and to restore.
pub const MANAGED_POLICIES: [&str; 2] = [
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
];

/// Values of the `drpair:part` tag.
pub mod part {
    pub const VAULT: &str = "backup-vault";
    pub const KMS_KEY: &str = "kms-key";
    pub const PLAN: &str = "backup-plan";
    pub const ROLE: &str = "backup-role";
}

/// What the backup plan should be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupSpec {
    /// The plan's name; also the resource id.
    pub plan_name: String,
    pub vault_name: String,
    pub role_name: String,
    /// The primary plan's rule (copies to the DR vault).
    pub rule_name: String,
    /// The DR plan's rule (copies to the primary vault).
    pub dr_rule_name: String,
    pub selection_name: String,
    pub environment: String,
    /// What the primary plan backs up. Sorted.
    pub resource_arns: Vec<String>,
    /// What the DR plan backs up; empty: no DR plan. Sorted.
    pub dr_resource_arns: Vec<String>,
    pub schedule: String,
    pub retention_days: i64,
    pub copy_retention_days: i64,
    pub continuous_backup: bool,
    /// Delete the vaults' recovery points on destroy (else a vault holding any is an error).
    pub force_destroy: bool,
    /// The Vault Lock of both vaults; None: no lock.
    pub vault_lock: Option<VaultLockSpec>,
    /// Whether both vaults get drpair's access policy denying recovery point deletion.
    pub protect_recovery_points: bool,
    /// Principals (ArnLike patterns of `aws:PrincipalArn`) exempt from that policy, besides the
    /// account root. Sorted.
    pub admin_arns: Vec<String>,
    pub default_tags: Tags,
    pub user_tags: Tags,
}

impl BackupSpec {
    pub fn owner(&self) -> String {
        owner_tag_value(&self.plan_name)
    }

    pub fn key_alias(&self) -> String {
        format!("alias/{}", self.vault_name)
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

    /// The vault key of `role`'s region, with its explicit policy ([`protect::key_policy`]).
    pub fn key_spec(&self, role: Role, region: &str, account: &Account) -> KeySpec {
        let name = format!("{}-key", self.vault_name);
        KeySpec {
            alias: self.key_alias(),
            owner: self.owner(),
            description: format!(
                "Encryption of backup vault {} in {region} ({} side), managed by {}",
                self.vault_name,
                role.label(),
                self.owner()
            ),
            tags: self.tags(role.tag_value(), part::KMS_KEY, &name),
            policy: Some(protect::key_policy(account, region)),
        }
    }

    /// The role AWS Backup assumes: trusted by backup.amazonaws.com only, and only on behalf of
    /// this account (`aws:SourceAccount`, the confused-deputy guard of the IAM User Guide's "The
    /// confused deputy problem"), with the AWS-managed backup and restore policies and nothing
    /// else.
    ///
    /// Not `aws:SourceArn`: AWS Backup documents `aws:SourceArn` only for the resource policies
    /// it is named in (a backup vault's ARN for SNS topics it publishes to, "Cross-service
    /// confused deputy prevention" in the AWS Backup developer guide), not which ARN, if any, it
    /// presents when assuming the role for backup, copy, restore and lifecycle jobs; a condition
    /// on a key the request lacks would stop every backup. The plans' copies stay in this
    /// account (another region's vault), so `aws:SourceAccount` holds for copy jobs too.
    pub fn role_spec(&self, account: &Account) -> RoleSpec {
        RoleSpec {
            name: self.role_name.clone(),
            description: format!(
                "Assumed by AWS Backup for the plan {}, managed by {}",
                self.plan_name,
                self.owner()
            ),
            trust_policy: service_trust_policy("backup.amazonaws.com", Some(&account.id)),
            managed_policy_arns: MANAGED_POLICIES
                .iter()
                .map(|p| format!("arn:{}:iam::aws:policy/{p}", account.partition))
                .collect(),
            inline_policies: BTreeMap::new(),
            tags: self.tags(GLOBAL_ROLE, part::ROLE, &self.role_name),
            owner: self.owner(),
        }
    }

    /// The ARN of the vault of this name in `region`.
    pub fn vault_arn(&self, account: &Account, region: &str) -> String {
        format!(
            "arn:{}:backup:{region}:{}:backup-vault:{}",
            account.partition, account.id, self.vault_name
        )
    }

    /// Whether `role`'s region has a plan: the primary always, the DR region when there are DR
    /// resources to back up.
    pub fn wants_plan(&self, role: Role) -> bool {
        !self.resources(role).is_empty()
    }

    /// What `role`'s plan backs up.
    pub fn resources(&self, role: Role) -> &[String] {
        match role {
            Role::Primary => &self.resource_arns,
            Role::Dr => &self.dr_resource_arns,
        }
    }

    /// The plan document of `role`'s region: one rule into that region's vault, copied to the
    /// other region's vault (`other_vault_arn`).
    pub fn desired_rule(&self, role: Role, other_vault_arn: &str) -> ObservedRule {
        ObservedRule {
            name: match role {
                Role::Primary => self.rule_name.clone(),
                Role::Dr => self.dr_rule_name.clone(),
            },
            target_vault: self.vault_name.clone(),
            schedule: self.schedule.clone(),
            delete_after_days: Some(self.retention_days),
            copies: vec![(other_vault_arn.to_owned(), Some(self.copy_retention_days))],
            continuous_backup: self.continuous_backup,
        }
    }
}

pub fn owner_tag_value(plan_name: &str) -> String {
    format!("{OWNER_KIND}/{plan_name}")
}

/// One region's vault.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedVault {
    pub name: String,
    pub arn: String,
    pub kms_key_arn: String,
    pub recovery_points: i64,
    pub tags: Tags,
    /// Its Vault Lock, when `Locked`.
    pub lock: Option<ObservedLock>,
    /// Its access policy, parsed.
    pub access_policy: Option<Value>,
}

/// The part of a backup rule this resource manages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedRule {
    pub name: String,
    pub target_vault: String,
    pub schedule: String,
    pub delete_after_days: Option<i64>,
    /// Copy actions: destination vault ARN and its retention.
    pub copies: Vec<(String, Option<i64>)>,
    pub continuous_backup: bool,
}

/// The backup plan, at its latest version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedPlan {
    pub id: String,
    pub arn: String,
    pub version_id: String,
    pub rules: Vec<ObservedRule>,
    pub tags: Tags,
}

/// The plan's selection of this resource's name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedSelection {
    pub id: String,
    pub role_arn: String,
    /// Sorted.
    pub resources: Vec<String>,
}

/// What exists in both regions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedBackup {
    pub account: Account,
    pub primary_region: String,
    pub dr_region: String,
    pub primary_vault: Option<ObservedVault>,
    pub dr_vault: Option<ObservedVault>,
    pub primary_key: Option<RegionKey>,
    pub dr_key: Option<RegionKey>,
    /// The primary region's plan and its selection.
    pub plan: Option<ObservedPlan>,
    pub selection: Option<ObservedSelection>,
    /// The DR region's plan and its selection.
    pub dr_plan: Option<ObservedPlan>,
    pub dr_selection: Option<ObservedSelection>,
    pub role: Option<ObservedRole>,
}

impl ObservedBackup {
    pub fn vault(&self, role: Role) -> Option<&ObservedVault> {
        match role {
            Role::Primary => self.primary_vault.as_ref(),
            Role::Dr => self.dr_vault.as_ref(),
        }
    }

    pub fn key(&self, role: Role) -> Option<&RegionKey> {
        match role {
            Role::Primary => self.primary_key.as_ref(),
            Role::Dr => self.dr_key.as_ref(),
        }
    }

    pub fn plan(&self, role: Role) -> Option<&ObservedPlan> {
        match role {
            Role::Primary => self.plan.as_ref(),
            Role::Dr => self.dr_plan.as_ref(),
        }
    }

    pub fn selection(&self, role: Role) -> Option<&ObservedSelection> {
        match role {
            Role::Primary => self.selection.as_ref(),
            Role::Dr => self.dr_selection.as_ref(),
        }
    }

    pub fn region(&self, role: Role) -> &str {
        match role {
            Role::Primary => &self.primary_region,
            Role::Dr => &self.dr_region,
        }
    }

    /// Whether anything destroy would remove exists, the keys included (a destroy stopped
    /// between scheduling a key's deletion and removing its alias leaves the alias: the
    /// resource stays in state until a destroy has removed it).
    pub fn exists(&self) -> bool {
        self.primary_key.is_some()
            || self.dr_key.is_some()
            || self.primary_vault.is_some()
            || self.dr_vault.is_some()
            || self.plan.is_some()
            || self.dr_plan.is_some()
            || self.role.is_some()
    }
}

/// A JSON view of a rule, for messages.
pub fn describe_rule(rule: &ObservedRule) -> Value {
    serde_json::json!({
        "schedule": rule.schedule,
        "retention_days": rule.delete_after_days,
        "copies": rule.copies,
        "continuous_backup": rule.continuous_backup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn spec() -> BackupSpec {
        BackupSpec {
            plan_name: "drpair-backup-plan-v2-dev".into(),
            vault_name: "drpair-backup-vault-v2-dev".into(),
            role_name: "drpair-backup-v2-dev".into(),
            rule_name: "drpair-copy-to-dr".into(),
            dr_rule_name: "drpair-copy-to-primary".into(),
            selection_name: "drpair-selection".into(),
            environment: "dev".into(),
            resource_arns: vec![
                "arn:aws:rds:us-east-1:123456789012:cluster:primary-db-cluster-v2-dev".into(),
            ],
            dr_resource_arns: vec![
                "arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-dev".into(),
            ],
            schedule: "cron(0 * * * ? *)".into(),
            retention_days: 35,
            copy_retention_days: 35,
            ..BackupSpec::default()
        }
    }

    #[test]
    fn role_is_scoped_to_backup() {
        let account = Account {
            id: "123456789012".into(),
            partition: "aws".into(),
        };
        let role = spec().role_spec(&account);
        assert_eq!(
            role.trust_policy["Statement"][0]["Principal"]["Service"],
            "backup.amazonaws.com"
        );
        assert_eq!(
            role.trust_policy["Statement"][0]["Condition"],
            serde_json::json!({ "StringEquals": { "aws:SourceAccount": "123456789012" } }),
            "AWS Backup may assume the role only on behalf of this account"
        );
        assert_eq!(
            role.managed_policy_arns,
            vec![
                "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
                "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
            ]
        );
        assert!(role.inline_policies.is_empty());
        assert_eq!(role.tags.get("DR-Role").map(String::as_str), Some("global"));
        assert_eq!(
            spec().vault_arn(&account, "us-east-2"),
            "arn:aws:backup:us-east-2:123456789012:backup-vault:drpair-backup-vault-v2-dev"
        );
        let rule = spec().desired_rule(Role::Primary, "arn:dr");
        assert_eq!(rule.copies, vec![("arn:dr".to_string(), Some(35))]);
        assert_eq!(rule.target_vault, "drpair-backup-vault-v2-dev");
        assert_eq!(rule.name, "drpair-copy-to-dr");
    }

    #[test]
    fn each_region_backs_up_its_own_resources_and_copies_to_the_other() {
        let s = spec();
        let dr = s.desired_rule(Role::Dr, "arn:primary");
        assert_eq!(dr.name, "drpair-copy-to-primary");
        assert_eq!(
            dr.target_vault, s.vault_name,
            "the same vault name in both regions"
        );
        assert_eq!(dr.copies, vec![("arn:primary".to_string(), Some(35))]);
        assert!(s.wants_plan(Role::Primary) && s.wants_plan(Role::Dr));
        assert_eq!(s.resources(Role::Dr), &s.dr_resource_arns[..]);
        let primary_only = BackupSpec {
            dr_resource_arns: Vec::new(),
            ..spec()
        };
        assert!(!primary_only.wants_plan(Role::Dr));
    }
}
