//! `drpair_backup_plan`: backup vaults in both regions (each encrypted with a KMS key of its
//! region), a backup plan in the primary region whose rule backs up `resource_arns` on
//! `schedule`, keeps recovery points `retention_days`, and copies each to the DR vault where it
//! is kept `copy_retention_days`; the same plan in the DR region for `dr_resource_arns` (the DR
//! cluster, the writer after a failover), copying to the primary vault; and the IAM role AWS
//! Backup assumes in both regions (with the AWS-managed backup and restore policies).
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update, delete, import.
//! The AWS work is in [`backup`], the schedule syntax in [`schedule`], the state mapping in
//! [`state`].

pub mod backup;
pub mod schedule;
mod state;

use crate::aws::Role;
use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::types::Type;
use crate::framework::value::{Number, Value};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::provider::DrClient;
use crate::resources::monitoring::validate::{name_prefix, tags as validate_tags};
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use state::{from_observed, imported, plan_name, spec, Converged};

pub const DEFAULT_PREFIX: &str = "drpair";
pub const DEFAULT_SCHEDULE: &str = "cron(0 5 ? * * *)";
const DEFAULT_RETENTION_DAYS: i64 = 35;
/// AWS keeps continuous backups at most 35 days.
const MAX_CONTINUOUS_RETENTION_DAYS: i64 = 35;
/// Emptying a vault of many recovery points takes a while.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BackupPlanModel {
    pub id: Val<String>,
    pub name_prefix: Val<String>,
    pub resource_arns: Val<Vec<String>>,
    pub dr_resource_arns: Val<Vec<String>>,
    pub schedule: Val<String>,
    pub retention_days: Val<i64>,
    pub copy_retention_days: Val<i64>,
    pub continuous_backup: Val<bool>,
    pub force_destroy: Val<bool>,
    pub vault_lock: Val<VaultLockModel>,
    pub protect_recovery_points: Val<bool>,
    pub recovery_point_admin_arns: Val<Vec<String>>,
    pub plan_id: Val<String>,
    pub plan_arn: Val<String>,
    pub version_id: Val<String>,
    pub role_arn: Val<String>,
    pub selection_id: Val<String>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub primary: Val<RegionModel>,
    pub dr: Val<RegionModel>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionModel {
    pub region: Val<String>,
    pub vault_name: Val<String>,
    pub vault_arn: Val<String>,
    pub kms_key_arn: Val<String>,
    pub plan_id: Val<String>,
    pub plan_arn: Val<String>,
    pub version_id: Val<String>,
    pub selection_id: Val<String>,
    pub lock_date: Val<String>,
}

/// `vault_lock`: AWS Backup Vault Lock on both vaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VaultLockModel {
    pub mode: Val<String>,
    pub min_retention_days: Val<i64>,
    pub max_retention_days: Val<i64>,
    pub changeable_for_days: Val<i64>,
}

pub struct BackupPlan;

fn region_attribute(name: &str, what: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::string("region").computed().description("The AWS region of this side."),
            Attribute::string("vault_name").computed().description("`{name_prefix}-backup-vault-{name_version}-{environment}`, the same name in both regions."),
            Attribute::string("vault_arn").computed().description(format!("ARN of the {what} vault.")),
            Attribute::string("kms_key_arn").computed().description("ARN of the customer-managed KMS key encrypting the vault (alias `alias/{vault name}`)."),
            Attribute::string("plan_id").computed().description(format!("The {what} region's backup plan's id (empty when that region has no plan: the DR region without `dr_resource_arns`).")),
            Attribute::string("plan_arn").computed().description(format!("The {what} region's backup plan's ARN (empty without a plan).")),
            Attribute::string("version_id").computed().description(format!("The {what} region's plan's current version (empty without a plan).")),
            Attribute::string("selection_id").computed().description(format!("The {what} region's plan's selection (empty without a plan).")),
            Attribute::string("lock_date").computed().description(format!("When the {what} vault's compliance-mode Vault Lock becomes immutable (RFC 3339, UTC); empty without a lock or in governance mode.")),
        ],
    )
    .computed()
    .description(format!("The {what} region's vault, key and plan."))
}

fn days(name: &str, what: &str) -> Attribute {
    Attribute::number(name)
        .default(Value::Number(Number::Int(DEFAULT_RETENTION_DAYS)))
        .description(format!("{what}, at least 1 (default {DEFAULT_RETENTION_DAYS}). Changed in place (a new plan version)."))
}

#[async_trait]
impl Resource for BackupPlan {
    type Model = BackupPlanModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_backup_plan"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("AWS Backup for the DR stack, protecting whichever region writes: a backup vault `{name_prefix}-backup-vault-{name_version}-{environment}` in the primary and in the DR region, each encrypted with a customer-managed KMS key of its region; a backup plan `{name_prefix}-backup-plan-{name_version}-{environment}` in the primary region whose rule backs up `resource_arns` (e.g. the primary Aurora cluster) on `schedule` into the primary vault, keeps each recovery point `retention_days`, and copies it to the DR vault, kept `copy_retention_days`; the same plan in the DR region for `dr_resource_arns` (e.g. the DR Aurora cluster, the writer after a failover), backing up into the DR vault and copying to the primary vault; a selection in each plan; and the IAM role `{name_prefix}-backup-{name_version}-{environment}` AWS Backup assumes in both regions, trusted by backup.amazonaws.com only and only on behalf of this account (`aws:SourceAccount`), with the AWS-managed policies AWSBackupServiceRolePolicyForBackup and AWSBackupServiceRolePolicyForRestores. Everything carries `Environment`, `DR-Role`, the provider's `default_tags` and `drpair:owner`; anything deleted or changed outside Terraform shows in `drift` and is repaired by the next apply. Aurora backups are encrypted with the cluster's own KMS key (AWS Backup does not fully manage Aurora), their cross-region copies with the destination vault's key; `drpair_global_database` keeps its keys on destroy while recovery points use them.")
                .attr(Attribute::string("id").computed().description("The plan name, `{name_prefix}-backup-plan-{name_version}-{environment}`; the import id."))
                .attr(Attribute::string("name_prefix").default(Value::String(DEFAULT_PREFIX.into())).requires_replace().description("Start of the vault, plan and role names: 1-24 lowercase letters, digits or hyphens (default `drpair`). Changing it replaces everything."))
                .attr(Attribute::new("resource_arns", Type::Set(Box::new(Type::String))).required().description("ARNs of the resources the primary region's plan backs up, in the primary region (e.g. `drpair_global_database.main.primary.cluster_arn`). Changed in place (the selection is replaced)."))
                .attr(Attribute::new("dr_resource_arns", Type::Set(Box::new(Type::String))).optional().description("ARNs of the resources the DR region's plan backs up, in the DR region (e.g. `drpair_global_database.main.dr.cluster_arn`), so that after a failover the new writer is backed up too and copied back to the primary vault. Without it there is no DR plan (the plan warns: the DR cluster is then not backed up after a failover). An Aurora global database's secondary cluster is selected from the start; its jobs protect the data whenever it is the writer. Changed in place."))
                .attr(Attribute::string("schedule").default(Value::String(DEFAULT_SCHEDULE.into())).description("When backups run: an AWS cron expression in UTC, `cron(minutes hours day-of-month month day-of-week year)`, at most hourly (default `cron(0 5 ? * * *)`, daily at 05:00). Checked at plan time; AWS Backup does not take rate() expressions."))
                .attr(days("retention_days", "Days each recovery point is kept in the vault of the region it was taken in"))
                .attr(days("copy_retention_days", "Days each copy is kept in the other region's vault"))
                .attr(Attribute::bool("continuous_backup").default(Value::Bool(false)).description("Continuous backup (point-in-time restore within `retention_days`, at most 35) by both regions' plans. Cross-region copies are snapshots: the other region gets no point-in-time restore, which the plan warns about."))
                .attr(Attribute::bool("force_destroy").default(Value::Bool(false)).description("Delete the recovery points of both vaults, in both regions, on destroy (as `aws_backup_vault`'s `force_destroy` does): every backup and every cross-region copy is gone, which cannot be undone. Without it, a destroy while either vault holds recovery points is refused before anything is deleted: AWS deletes only empty vaults, and the vaults' KMS keys, which encrypt the copies, are kept with them. With it, destroy still refuses before deleting anything when AWS would refuse to delete the points: a vault under `vault_lock`, or `protect_recovery_points` while Terraform does not run as the account root or one of `recovery_point_admin_arns`. Recovery points the destroy leaves (refused) stay restorable: their vaults and keys are kept."))
                .attr(
                    Attribute::nested(
                        "vault_lock",
                        Nesting::Single,
                        vec![
                            Attribute::string("mode").required().description("`governance`: the lock can be removed (or changed) by principals allowed backup:DeleteBackupVaultLockConfiguration (removing `vault_lock` does so). `compliance`: the lock can be changed or removed only for `changeable_for_days` after it is first applied; from its lock date (`primary.lock_date`, `dr.lock_date`) nobody, not the account root nor AWS, can change or remove it, and the vaults cannot be deleted while they hold recovery points."),
                            Attribute::number("min_retention_days").optional().description(format!("Every backup and copy into the vaults must be kept at least this many days ({MIN_LOCK}-{MAX_LOCK}); AWS Backup fails jobs that are not, so `retention_days` and `copy_retention_days` must be at least this (checked at plan time).", MIN_LOCK = backup::protect::MIN_LOCK_DAYS, MAX_LOCK = backup::protect::MAX_LOCK_DAYS)),
                            Attribute::number("max_retention_days").optional().description(format!("Every backup and copy into the vaults must be kept at most this many days (up to {}); `retention_days` and `copy_retention_days` must not exceed it.", backup::protect::MAX_LOCK_DAYS)),
                            Attribute::number("changeable_for_days").optional().description(format!("Compliance mode only (required there), at least {}: the grace time, in days from when the lock is first applied, during which it can still be changed or removed (AWS enforces a 72-hour cooling-off period). Changing only this value later does not move the lock date.", backup::protect::MIN_CHANGEABLE_DAYS)),
                        ],
                    )
                    .optional()
                    .description("AWS Backup Vault Lock on both vaults (PutBackupVaultLockConfiguration): while it is in place AWS Backup refuses, for every principal including the account root, to delete a recovery point or shorten its lifecycle, and fails backups and copies whose retention is outside min/max. Read back from both vaults (a lock removed or changed outside Terraform shows in `drift`). Removing it (or changing it) in compliance mode after the lock date is refused, at plan time when the state shows the date has passed. Destroy: a locked vault that holds recovery points cannot be emptied, so destroy refuses before deleting anything; remove a governance lock (apply) first, a compliance lock past its date cannot be removed: the vaults can be destroyed only when all their recovery points have expired."),
                )
                .attr(Attribute::bool("protect_recovery_points").default(Value::Bool(true)).description("A vault access policy on both vaults (default on) that denies backup:DeleteRecoveryPoint, backup:UpdateRecoveryPointLifecycle, backup:PutBackupVaultAccessPolicy and backup:DeleteBackupVaultAccessPolicy to every principal except the account root and `recovery_point_admin_arns` (condition `ArnNotLike` on `aws:PrincipalArn`), as AWS's vault access policy example \"Deny access to delete recovery points\". Once applied, only those principals can change or remove the policy: changing `recovery_point_admin_arns` or turning this off must be applied as one of them (anyone else gets AccessDenied). `force_destroy` deletes recovery points only when Terraform runs as one of them; otherwise destroy refuses before deleting anything. Without `recovery_point_admin_arns` only the account root can delete recovery points. A policy changed or removed outside Terraform shows in `drift` and is put back by apply. False removes drpair's policy (a policy written by someone else is left alone)."))
                .attr(Attribute::new("recovery_point_admin_arns", Type::Set(Box::new(Type::String))).optional().description("IAM roles (or users) of this account exempt from the vault access policy, e.g. a break-glass backup administrator role: `arn:aws:iam::ACCOUNT:role/NAME` (wildcards as in `ArnLike`; a role's sessions match its role ARN through `aws:PrincipalArn`). The account root is always exempt. Requires `protect_recovery_points`."))
                .attr(Attribute::string("plan_id").computed().description("The primary region's backup plan's id (the DR region's: `dr.plan_id`)."))
                .attr(Attribute::string("plan_arn").computed().description("The primary region's backup plan's ARN."))
                .attr(Attribute::string("version_id").computed().description("The primary region's plan's current version; every change of the rule makes a new one (in both regions' plans)."))
                .attr(Attribute::string("role_arn").computed().description("ARN of the IAM role AWS Backup assumes in both regions."))
                .attr(Attribute::string("selection_id").computed().description("The primary region's plan's selection of `resource_arns`."))
                .attr(Attribute::string_map("tags").optional().description("Tags for the vaults, keys, plan and role, on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the plan except those drpair manages: `default_tags` merged with `tags`."))
                .attr(region_attribute("primary", "primary"))
                .attr(region_attribute("dr", "DR"))
                .attr(Attribute::string_list("drift").computed().description("Differences found outside Terraform at the last refresh (a deleted vault, plan, selection or role, a changed rule, a disabled key or changed key policy, a vault lock or vault access policy removed or changed), each naming its region. A non-empty list plans a repair; apply restores what is missing and leaves it empty."))
                .attr(timeouts::attribute("create 30m, update 30m, delete 30m")),
        )
    }

    fn validate(&self, config: &BackupPlanModel, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        name_prefix(&config.name_prefix, root.attr("name_prefix"), diags);
        if let Val::Known(arns) = &config.resource_arns {
            if arns.is_empty() {
                diags.error_at(root.attr("resource_arns"), "No resources to back up", "resource_arns is empty; list at least one resource ARN, such as the primary Aurora cluster's.");
            }
            for arn in arns {
                if arn.splitn(6, ':').count() != 6 || !arn.starts_with("arn:") {
                    diags.error_at(root.attr("resource_arns"), "Invalid resource ARN", format!("{arn:?} is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)."));
                }
            }
        }
        if let Val::Known(arns) = &config.dr_resource_arns {
            if arns.is_empty() {
                diags.error_at(root.attr("dr_resource_arns"), "No DR resources to back up", "dr_resource_arns is empty; list the DR resources to back up (such as drpair_global_database.main.dr.cluster_arn), or omit it to have no DR plan.");
            }
            for arn in arns {
                if arn.splitn(6, ':').count() != 6 || !arn.starts_with("arn:") {
                    diags.error_at(root.attr("dr_resource_arns"), "Invalid resource ARN", format!("{arn:?} is not an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE)."));
                }
            }
        }
        if let Val::Known(s) = &config.schedule {
            if let Err(why) = schedule::validate_backup_schedule(s) {
                diags.error_at(root.attr("schedule"), "Invalid schedule expression", why);
            }
        }
        for name in ["retention_days", "copy_retention_days"] {
            let v = if name == "retention_days" {
                &config.retention_days
            } else {
                &config.copy_retention_days
            };
            if let Val::Known(n) = v {
                if *n < 1 {
                    diags.error_at(
                        root.attr(name),
                        "Invalid retention",
                        format!("{name} is {n}; recovery points must be kept at least 1 day."),
                    );
                }
            }
        }
        if let (Val::Known(true), Val::Known(n)) =
            (&config.continuous_backup, &config.retention_days)
        {
            if *n > MAX_CONTINUOUS_RETENTION_DAYS {
                diags.error_at(root.attr("retention_days"), "Retention too long for continuous backup", format!("retention_days is {n}; continuous backups are kept at most {MAX_CONTINUOUS_RETENTION_DAYS} days."));
            }
        }
        validate_protection(config, diags);
        validate_tags(&config.tags, root.attr("tags"), diags);
        timeouts::validate(&config.timeouts, &root.attr("timeouts"), diags);
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&BackupPlanModel>,
        mut planned: BackupPlanModel,
        diags: &mut Diagnostics,
    ) -> BackupPlanModel {
        let root = AttributePath::root();
        if let Val::Known(prefix) = &planned.name_prefix {
            planned.id = Val::Known(plan_name(client, prefix));
        }
        planned.tags_all = match &planned.tags {
            Val::Unknown => Val::Unknown,
            tags => Val::Known(client.tags_all(tags)),
        };
        if planned.continuous_backup.known() == Some(&true) {
            diags.warning_at(
                root.attr("continuous_backup"),
                "Cross-region copies of continuous backups are snapshots",
                format!("With continuous_backup, the primary region ({}) can restore to any point within retention_days, but the copies in the DR region ({}) are snapshots: no point-in-time restore there.", client.aws.primary.region, client.aws.dr.region),
            );
        }
        if let Val::Known(arns) = &planned.resource_arns {
            let primary = &client.aws.primary.region;
            for arn in arns {
                let region = arn.split(':').nth(3).unwrap_or_default();
                if !region.is_empty() && region != primary {
                    diags.error_at(root.attr("resource_arns"), "Resource outside the primary region", format!("{arn} is in {region}; the primary region's backup plan runs in {primary} and can only back up resources there. Its copies go to the DR region by themselves; list DR resources in dr_resource_arns."));
                }
            }
        }
        match &planned.dr_resource_arns {
            Val::Known(arns) => {
                let dr = &client.aws.dr.region;
                for arn in arns {
                    let region = arn.split(':').nth(3).unwrap_or_default();
                    if !region.is_empty() && region != dr {
                        diags.error_at(root.attr("dr_resource_arns"), "Resource outside the DR region", format!("{arn} is in {region}; the DR region's backup plan runs in {dr} and can only back up resources there. List primary resources in resource_arns."));
                    }
                }
            }
            Val::Null => diags.warning_at(
                root.attr("dr_resource_arns"),
                "The DR region is not backed up",
                format!("Without dr_resource_arns there is no backup plan in the DR region ({}): after a failover the writer there is not backed up (the primary region's plan backs up only the primary region's cluster, no longer the writer, and stops with that region in an outage). Set dr_resource_arns = [drpair_global_database.main.dr.cluster_arn].", client.aws.dr.region),
            ),
            Val::Unknown => {}
        }
        let repair = prior.is_some_and(|p| p.drift.known().is_some_and(|d| !d.is_empty()));
        let lock_changed = prior.is_some_and(|p| p.vault_lock != planned.vault_lock);
        if let Some(p) = prior.filter(|_| lock_changed) {
            refuse_immutable_lock(p, &planned, diags);
        }
        let rule_changed = prior.is_some_and(|p| {
            p.schedule != planned.schedule
                || p.retention_days != planned.retention_days
                || p.copy_retention_days != planned.copy_retention_days
                || p.continuous_backup != planned.continuous_backup
        });
        let selection_changed = prior.is_some_and(|p| p.resource_arns != planned.resource_arns);
        let dr_selection_changed =
            prior.is_some_and(|p| p.dr_resource_arns != planned.dr_resource_arns);
        if repair {
            planned.plan_id = Val::Unknown;
            planned.plan_arn = Val::Unknown;
        }
        if repair || rule_changed {
            planned.version_id = Val::Unknown;
        }
        if repair || selection_changed {
            planned.selection_id = Val::Unknown;
        }
        let vault = client.versioned_name(&format!(
            "{}-backup-vault",
            planned
                .name_prefix
                .known()
                .map_or(DEFAULT_PREFIX, |p| p.as_str())
        ));
        for role in Role::BOTH {
            let prior_side = prior.and_then(|p| side(p, role).known());
            let keep = |v: Option<&Val<String>>| match v {
                Some(Val::Known(s)) if !s.is_empty() && !repair => Val::Known(s.clone()),
                _ => Val::Unknown,
            };
            let (plan_id, plan_arn, version_id, selection_id) = match role {
                // The primary region's plan is the top-level one.
                Role::Primary => (
                    planned.plan_id.clone(),
                    planned.plan_arn.clone(),
                    planned.version_id.clone(),
                    planned.selection_id.clone(),
                ),
                Role::Dr => match &planned.dr_resource_arns {
                    Val::Unknown => (Val::Unknown, Val::Unknown, Val::Unknown, Val::Unknown),
                    Val::Known(arns) if !arns.is_empty() => {
                        let had = |v: Option<&Val<String>>, changed: bool| {
                            if changed {
                                Val::Unknown
                            } else {
                                keep(v)
                            }
                        };
                        (
                            had(prior_side.map(|s| &s.plan_id), false),
                            had(prior_side.map(|s| &s.plan_arn), false),
                            had(prior_side.map(|s| &s.version_id), rule_changed),
                            had(prior_side.map(|s| &s.selection_id), dr_selection_changed),
                        )
                    }
                    // No DR plan.
                    _ => {
                        let none = || Val::Known(String::new());
                        (none(), none(), none(), none())
                    }
                },
            };
            let lock_date = match (prior_side.map(|s| &s.lock_date), &planned.vault_lock) {
                (_, Val::Null) => Val::Known(String::new()),
                (Some(Val::Known(d)), _) if !lock_changed && !repair => Val::Known(d.clone()),
                _ => Val::Unknown,
            };
            *side_mut(&mut planned, role) = Val::Known(RegionModel {
                region: Val::Known(client.aws.region(role).region.clone()),
                vault_name: Val::Known(vault.clone()),
                vault_arn: keep(prior_side.map(|s| &s.vault_arn)),
                kms_key_arn: keep(prior_side.map(|s| &s.kms_key_arn)),
                plan_id,
                plan_arn,
                version_id,
                selection_id,
                lock_date,
            });
        }
        if prior.is_none() || repair {
            planned.drift = Val::Known(Vec::new());
        }
        planned
    }

    async fn create(
        &self,
        client: &DrClient,
        planned: BackupPlanModel,
        diags: &mut Diagnostics,
    ) -> Option<BackupPlanModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        match state::converge(
            client,
            &spec,
            &planned,
            false,
            deadline,
            "Creating backup plan",
            diags,
        )
        .await
        {
            Converged::Applied(m) | Converged::Failed(Some(m)) => Some(m),
            // Nothing readable exists: keep the names in state so destroy can sweep.
            Converged::Failed(None) => Some(state::empty_state(client, planned)),
            Converged::Refused => None,
        }
    }

    async fn read(
        &self,
        client: &DrClient,
        state: BackupPlanModel,
        diags: &mut Diagnostics,
    ) -> Option<BackupPlanModel> {
        let spec = spec(client, &state)?;
        match backup::observe(&client.aws, &spec).await {
            Ok(observed) if observed.exists() => {
                let drift = backup::drift(&spec, &observed);
                Some(from_observed(client, &state, &observed, drift))
            }
            Ok(_) => None,
            Err(e) => {
                diags.error("Reading backup plan", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        _prior: BackupPlanModel,
        planned: BackupPlanModel,
        diags: &mut Diagnostics,
    ) -> Option<BackupPlanModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        match state::converge(
            client,
            &spec,
            &planned,
            true,
            deadline,
            "Updating backup plan",
            diags,
        )
        .await
        {
            Converged::Applied(m) | Converged::Failed(Some(m)) => Some(m),
            Converged::Failed(None) | Converged::Refused => None,
        }
    }

    async fn delete(&self, client: &DrClient, prior: BackupPlanModel, diags: &mut Diagnostics) {
        let Some(spec) = spec(client, &prior) else {
            return;
        };
        let key = |role: Role| {
            side(&prior, role)
                .known()
                .and_then(|s| s.kms_key_arn.known())
                .map(String::as_str)
        };
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        if let Err(e) = backup::destroy(
            &client.aws,
            &spec,
            [key(Role::Primary), key(Role::Dr)],
            deadline,
        )
        .await
        {
            diags.error("Deleting backup plan", e.to_string());
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<BackupPlanModel> {
        let suffix = format!(
            "-backup-plan-{}-{}",
            client.name_version, client.environment
        );
        let Some(prefix) = id.strip_suffix(&suffix).filter(|p| !p.is_empty()) else {
            diags.error(
                "Cannot import this backup plan",
                format!("The import id is the plan name, `{{name_prefix}}{suffix}` for this provider (e.g. `{DEFAULT_PREFIX}{suffix}`); {id:?} is not of that form."),
            );
            return None;
        };
        let seed = BackupPlanModel {
            id: Val::Known(id.to_owned()),
            name_prefix: Val::Known(prefix.to_owned()),
            ..BackupPlanModel::default()
        };
        let spec = state::names_only(client, &seed)?;
        match backup::observe(&client.aws, &spec).await {
            Ok(observed) if observed.plan.is_some() => Some(imported(client, &seed, &observed)),
            Ok(_) => {
                diags.error(
                    "Cannot import non-existent backup plan",
                    format!("No backup plan named {id:?} exists in {}. The import id is the plan name, `{{name_prefix}}-backup-plan-{{name_version}}-{{environment}}`.", client.aws.primary.region),
                );
                None
            }
            Err(e) => {
                diags.error("Importing backup plan", e.to_string());
                None
            }
        }
    }
}

// ---- helpers below the resource ----

fn side(m: &BackupPlanModel, role: Role) -> &Val<RegionModel> {
    match role {
        Role::Primary => &m.primary,
        Role::Dr => &m.dr,
    }
}

fn side_mut(m: &mut BackupPlanModel, role: Role) -> &mut Val<RegionModel> {
    match role {
        Role::Primary => &mut m.primary,
        Role::Dr => &mut m.dr,
    }
}

/// `vault_lock`, `protect_recovery_points` and `recovery_point_admin_arns`: AWS's bounds of
/// PutBackupVaultLockConfiguration, and the plan's retentions inside the lock (AWS Backup fails
/// backup and copy jobs outside MinRetentionDays..MaxRetentionDays).
fn validate_protection(config: &BackupPlanModel, diags: &mut Diagnostics) {
    use backup::protect::{LockMode, MAX_LOCK_DAYS, MIN_CHANGEABLE_DAYS, MIN_LOCK_DAYS};
    let root = AttributePath::root();
    if let Val::Known(lock) = &config.vault_lock {
        let at = root.attr("vault_lock");
        let mode = match &lock.mode {
            Val::Known(m) => match LockMode::parse(m) {
                Some(mode) => Some(mode),
                None => {
                    diags.error_at(at.attr("mode"), "Invalid vault lock mode", format!("mode is {m:?}; use \"governance\" (removable by principals allowed backup:DeleteBackupVaultLockConfiguration) or \"compliance\" (immutable after changeable_for_days)."));
                    None
                }
            },
            _ => None,
        };
        match (mode, &lock.changeable_for_days) {
            (Some(LockMode::Compliance), Val::Null) => diags.error_at(at.attr("changeable_for_days"), "Compliance lock without a grace time", format!("A compliance-mode vault lock needs changeable_for_days (at least {MIN_CHANGEABLE_DAYS}): the days during which it can still be changed or removed, after which it is immutable.")),
            (Some(LockMode::Governance), Val::Known(_)) => diags.error_at(at.attr("changeable_for_days"), "Grace time on a governance lock", "changeable_for_days sets a lock date, which makes the lock a compliance-mode lock; use mode = \"compliance\", or leave changeable_for_days out for governance mode."),
            (_, Val::Known(n)) if *n < MIN_CHANGEABLE_DAYS => diags.error_at(at.attr("changeable_for_days"), "Grace time too short", format!("changeable_for_days is {n}; AWS Backup enforces a 72-hour cooling-off period before a vault lock becomes immutable, so it must be at least {MIN_CHANGEABLE_DAYS}.")),
            _ => {}
        }
        for (name, v) in [
            ("min_retention_days", &lock.min_retention_days),
            ("max_retention_days", &lock.max_retention_days),
        ] {
            if let Val::Known(n) = v {
                if !(MIN_LOCK_DAYS..=MAX_LOCK_DAYS).contains(n) {
                    diags.error_at(at.attr(name), "Invalid vault lock retention", format!("{name} is {n}; AWS Backup takes {MIN_LOCK_DAYS} to {MAX_LOCK_DAYS} days."));
                }
            }
        }
        if let (Val::Known(min), Val::Known(max)) =
            (&lock.min_retention_days, &lock.max_retention_days)
        {
            if min > max {
                diags.error_at(
                    at.attr("min_retention_days"),
                    "Invalid vault lock retention",
                    format!(
                        "min_retention_days ({min}) is greater than max_retention_days ({max})."
                    ),
                );
            }
        }
        let spec_lock = backup::protect::VaultLockSpec {
            mode: mode.unwrap_or(LockMode::Governance),
            min_retention_days: lock.min_retention_days.known().copied(),
            max_retention_days: lock.max_retention_days.known().copied(),
            changeable_for_days: None,
        };
        for (name, v, what) in [
            ("retention_days", &config.retention_days, "backups"),
            (
                "copy_retention_days",
                &config.copy_retention_days,
                "cross-region copies",
            ),
        ] {
            let days = match v {
                Val::Known(n) => *n,
                Val::Null => DEFAULT_RETENTION_DAYS,
                Val::Unknown => continue,
            };
            if let Some(why) = spec_lock.refuses(days) {
                diags.error_at(root.attr(name), "Retention outside the vault lock", format!("{name} is {days}, {why}: AWS Backup fails {what} into a locked vault whose retention is outside the lock's range. Change {name} or vault_lock."));
            }
        }
    }
    if let Val::Known(arns) = &config.recovery_point_admin_arns {
        let at = root.attr("recovery_point_admin_arns");
        for arn in arns {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let iam_principal = parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "iam"
                && parts[3].is_empty()
                && (parts[5] == "root"
                    || parts[5].starts_with("role/")
                    || parts[5].starts_with("user/"));
            if !iam_principal {
                diags.error_at(at.clone(), "Invalid administrator ARN", format!("{arn:?} is not an IAM role, user or root ARN (arn:aws:iam::ACCOUNT:role/NAME); aws:PrincipalArn names a role's sessions by the role's ARN."));
            }
        }
        if config.protect_recovery_points.known() == Some(&false) && !arns.is_empty() {
            diags.error_at(at, "Administrators without the vault access policy", "recovery_point_admin_arns are the principals exempt from the vault access policy that protect_recovery_points puts on the vaults; with protect_recovery_points = false there is none. Remove one or the other.");
        }
    }
}

/// A compliance-mode lock past its lock date (as the prior state recorded it) cannot be changed
/// or removed by anyone: the plan fails, naming the date.
fn refuse_immutable_lock(
    prior: &BackupPlanModel,
    planned: &BackupPlanModel,
    diags: &mut Diagnostics,
) {
    let now = backup::protect::now_epoch();
    for role in Role::BOTH {
        let Some(date) = side(prior, role)
            .known()
            .and_then(|s| s.lock_date.known())
            .filter(|d| !d.is_empty())
        else {
            continue;
        };
        let Ok(at) = aws_smithy_types::DateTime::from_str(
            date,
            aws_smithy_types::date_time::Format::DateTime,
        ) else {
            continue;
        };
        if at.secs() <= now {
            let what = if planned.vault_lock.is_null() {
                "removed"
            } else {
                "changed"
            };
            diags.error_at(
                AttributePath::root().attr("vault_lock"),
                "Compliance vault lock is immutable",
                format!("The vaults' compliance-mode vault lock became immutable on {date} (its lock date): AWS Backup refuses to change or remove it, for anyone, so it cannot be {what}. Set vault_lock back to what the state has."),
            );
            return;
        }
    }
}
