//! Between the Terraform model and the AWS side: the spec a model asks for, the state what
//! exists maps to, and the inputs an import recovers from the plan and its selection.

use crate::aws::tags::{is_aws_tag, user_tags, Tags};
use crate::aws::{Deadline, Role};
use crate::framework::{Diagnostics, Val};
use crate::provider::DrClient;

use super::backup::protect::{self, LockMode, VaultLockSpec};
use super::backup::{self, BackupSpec, ObservedBackup};
use super::{
    BackupPlanModel, RegionModel, VaultLockModel, DEFAULT_PREFIX, DEFAULT_RETENTION_DAYS,
    DEFAULT_SCHEDULE,
};

/// `{prefix}-backup-plan-{name_version}-{environment}`.
pub(super) fn plan_name(client: &DrClient, prefix: &str) -> String {
    client.versioned_name(&format!("{prefix}-backup-plan"))
}

fn prefix(m: &BackupPlanModel) -> Option<String> {
    match &m.name_prefix {
        Val::Known(p) => Some(p.clone()),
        Val::Null => Some(DEFAULT_PREFIX.to_owned()),
        Val::Unknown => None,
    }
}

/// The names of everything, from the prefix alone (inputs left empty).
pub(super) fn names_only(client: &DrClient, m: &BackupPlanModel) -> Option<BackupSpec> {
    let prefix = prefix(m)?;
    Some(BackupSpec {
        plan_name: m
            .id
            .known()
            .cloned()
            .unwrap_or_else(|| plan_name(client, &prefix)),
        vault_name: client.versioned_name(&format!("{prefix}-backup-vault")),
        role_name: client.versioned_name(&format!("{prefix}-backup")),
        rule_name: format!("{prefix}-copy-to-dr"),
        dr_rule_name: format!("{prefix}-copy-to-primary"),
        selection_name: format!("{prefix}-selection"),
        environment: client.environment.clone(),
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
        ..BackupSpec::default()
    })
}

/// What a model asks for; None while an input is unknown.
pub(super) fn spec(client: &DrClient, m: &BackupPlanModel) -> Option<BackupSpec> {
    let known_or = |v: &Val<i64>| match v {
        Val::Known(n) => Some(*n),
        Val::Null => Some(DEFAULT_RETENTION_DAYS),
        Val::Unknown => None,
    };
    let mut resource_arns = m.resource_arns.known()?.clone();
    resource_arns.sort();
    resource_arns.dedup();
    let mut dr_resource_arns = match &m.dr_resource_arns {
        Val::Known(arns) => arns.clone(),
        Val::Null => Vec::new(),
        Val::Unknown => return None,
    };
    dr_resource_arns.sort();
    dr_resource_arns.dedup();
    Some(BackupSpec {
        resource_arns,
        dr_resource_arns,
        schedule: match &m.schedule {
            Val::Known(s) => s.trim().to_owned(),
            Val::Null => DEFAULT_SCHEDULE.to_owned(),
            Val::Unknown => return None,
        },
        retention_days: known_or(&m.retention_days)?,
        copy_retention_days: known_or(&m.copy_retention_days)?,
        continuous_backup: m.continuous_backup.known().copied().unwrap_or(false),
        force_destroy: m.force_destroy.known().copied().unwrap_or(false),
        vault_lock: match &m.vault_lock {
            Val::Known(lock) => Some(VaultLockSpec {
                mode: LockMode::parse(lock.mode.known()?)?,
                min_retention_days: known_opt(&lock.min_retention_days)?,
                max_retention_days: known_opt(&lock.max_retention_days)?,
                changeable_for_days: known_opt(&lock.changeable_for_days)?,
            }),
            Val::Null => None,
            Val::Unknown => return None,
        },
        protect_recovery_points: match &m.protect_recovery_points {
            Val::Known(b) => *b,
            Val::Null => true,
            Val::Unknown => return None,
        },
        admin_arns: match &m.recovery_point_admin_arns {
            Val::Known(arns) => {
                let mut arns = arns.clone();
                arns.sort();
                arns.dedup();
                arns
            }
            Val::Null => Vec::new(),
            Val::Unknown => return None,
        },
        ..names_only(client, m)?
    })
}

/// A known or null optional number; None while unknown.
fn known_opt(v: &Val<i64>) -> Option<Option<i64>> {
    match v {
        Val::Known(n) => Some(Some(*n)),
        Val::Null => Some(None),
        Val::Unknown => None,
    }
}

/// What an apply leaves for state.
pub(super) enum Converged {
    Applied(BackupPlanModel),
    /// Failed: what exists (None when nothing readable does), so destroy can remove it.
    Failed(Option<BackupPlanModel>),
    /// An object of a wanted name is someone else's: nothing may be recorded.
    Refused,
}

/// Runs the idempotent ensure and maps the outcome to state.
pub(super) async fn converge(
    client: &DrClient,
    spec: &BackupSpec,
    planned: &BackupPlanModel,
    adopt_untagged: bool,
    deadline: Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Converged {
    match backup::ensure(&client.aws, spec, adopt_untagged, deadline).await {
        Ok(observed) => {
            let left = backup::drift(spec, &observed);
            if !left.is_empty() {
                tracing::warn!(
                    "backup plan {} still differs after apply: {left:?}",
                    spec.plan_name
                );
            }
            let mut model = from_observed(client, planned, &observed, Vec::new());
            // Tags are written exactly as planned; reading them back is for drift.
            model.tags_all = planned.tags_all.clone();
            Converged::Applied(model)
        }
        Err((e, _)) if e.code() == Some(crate::aws::iam::NOT_OWNED_CODE) => {
            diags.error(verb, e.to_string());
            Converged::Refused
        }
        Err((e, partial)) => {
            diags.error(verb, e.to_string());
            Converged::Failed(partial.map(|o| {
                let drift = backup::drift(spec, &o);
                from_observed(client, planned, &o, drift)
            }))
        }
    }
}

/// The state of a create that failed before anything readable existed.
pub(super) fn empty_state(client: &DrClient, planned: BackupPlanModel) -> BackupPlanModel {
    let vault = names_only(client, &planned)
        .map(|s| s.vault_name)
        .unwrap_or_default();
    let side = |role: Role| {
        Val::Known(RegionModel {
            region: Val::Known(client.aws.region(role).region.clone()),
            vault_name: Val::Known(vault.clone()),
            vault_arn: Val::Known(String::new()),
            kms_key_arn: Val::Known(String::new()),
            plan_id: Val::Known(String::new()),
            plan_arn: Val::Known(String::new()),
            version_id: Val::Known(String::new()),
            selection_id: Val::Known(String::new()),
            lock_date: Val::Known(String::new()),
        })
    };
    let empty = || Val::Known(String::new());
    BackupPlanModel {
        plan_id: empty(),
        plan_arn: empty(),
        version_id: empty(),
        role_arn: empty(),
        selection_id: empty(),
        primary: side(Role::Primary),
        dr: side(Role::Dr),
        drift: Val::Known(vec!["backup plan is missing".into()]),
        ..planned
    }
}

/// State from what exists. The inputs are kept from `base` (prior state or plan); the ids come
/// from AWS.
pub(super) fn from_observed(
    client: &DrClient,
    base: &BackupPlanModel,
    o: &ObservedBackup,
    drift: Vec<String>,
) -> BackupPlanModel {
    let names = names_only(client, base).unwrap_or_default();
    let text = |v: Option<&str>| Val::Known(v.unwrap_or_default().to_owned());
    let side = |role: Role| {
        let plan = o.plan(role);
        Val::Known(RegionModel {
            region: Val::Known(o.region(role).to_owned()),
            vault_name: Val::Known(names.vault_name.clone()),
            vault_arn: Val::Known(o.vault(role).map(|v| v.arn.clone()).unwrap_or_default()),
            kms_key_arn: Val::Known(o.key(role).map(|k| k.arn.clone()).unwrap_or_default()),
            plan_id: text(plan.map(|p| p.id.as_str())),
            plan_arn: text(plan.map(|p| p.arn.as_str())),
            version_id: text(plan.map(|p| p.version_id.as_str())),
            selection_id: text(o.selection(role).map(|s| s.id.as_str())),
            lock_date: Val::Known(
                o.vault(role)
                    .and_then(|v| v.lock.as_ref())
                    .and_then(|l| l.lock_date)
                    .map(protect::rfc3339)
                    .unwrap_or_default(),
            ),
        })
    };
    let mut m = base.clone();
    m.id = Val::Known(names.plan_name.clone());
    m.name_prefix = Val::Known(prefix(base).unwrap_or_else(|| DEFAULT_PREFIX.to_owned()));
    if !m.schedule.is_known() {
        m.schedule = Val::Known(DEFAULT_SCHEDULE.to_owned());
    }
    for field in [&mut m.retention_days, &mut m.copy_retention_days] {
        if !field.is_known() {
            *field = Val::Known(DEFAULT_RETENTION_DAYS);
        }
    }
    for field in [&mut m.continuous_backup, &mut m.force_destroy] {
        if !field.is_known() {
            *field = Val::Known(false);
        }
    }
    if !m.protect_recovery_points.is_known() {
        m.protect_recovery_points = Val::Known(true);
    }
    m.plan_id = text(o.plan.as_ref().map(|p| p.id.as_str()));
    m.plan_arn = text(o.plan.as_ref().map(|p| p.arn.as_str()));
    m.version_id = text(o.plan.as_ref().map(|p| p.version_id.as_str()));
    m.role_arn = text(o.role.as_ref().map(|r| r.arn.as_str()));
    m.selection_id = text(o.selection.as_ref().map(|s| s.id.as_str()));
    m.tags = match &base.tags {
        Val::Known(_) => base.tags.clone(),
        _ => Val::Null,
    };
    m.tags_all = match &o.plan {
        Some(p) => Val::Known(unmanaged(&p.tags)),
        None => base.tags_all.clone(),
    };
    m.primary = side(Role::Primary);
    m.dr = side(Role::Dr);
    m.drift = Val::Known(drift);
    m
}

fn unmanaged(tags: &Tags) -> Tags {
    user_tags(tags, &Tags::new())
        .into_iter()
        .filter(|(k, _)| !is_aws_tag(k))
        .collect()
}

/// State for `terraform import`: the inputs are what the plan's rule and selection have.
pub(super) fn imported(
    client: &DrClient,
    seed: &BackupPlanModel,
    o: &ObservedBackup,
) -> BackupPlanModel {
    let mut m = seed.clone();
    if let Some(rule) = o.plan.as_ref().and_then(|p| p.rules.first()) {
        m.schedule = Val::Known(rule.schedule.clone());
        m.retention_days = Val::from_option(rule.delete_after_days);
        m.copy_retention_days = Val::from_option(rule.copies.first().and_then(|(_, d)| *d));
        m.continuous_backup = Val::Known(rule.continuous_backup);
    }
    m.resource_arns = Val::Known(
        o.selection
            .as_ref()
            .map(|s| s.resources.clone())
            .unwrap_or_default(),
    );
    // No DR plan (or one selecting nothing) reads as no dr_resource_arns.
    m.dr_resource_arns = match o.dr_selection.as_ref().map(|s| s.resources.clone()) {
        Some(arns) if !arns.is_empty() => Val::Known(arns),
        _ => Val::Null,
    };
    m.force_destroy = Val::Known(false);
    // The lock and the access policy as the primary vault has them (drift shows the DR's).
    let vault = o.primary_vault.as_ref();
    m.vault_lock = match vault.and_then(|v| v.lock.as_ref()) {
        Some(lock) => Val::Known(VaultLockModel {
            mode: Val::Known(lock.mode().label().to_owned()),
            min_retention_days: Val::from_option(lock.min_retention_days),
            max_retention_days: Val::from_option(lock.max_retention_days),
            // AWS reports the lock date, not the grace time it was set with.
            changeable_for_days: Val::Null,
        }),
        None => Val::Null,
    };
    let policy = vault
        .and_then(|v| v.access_policy.as_ref())
        .filter(|p| protect::is_ours(p));
    m.protect_recovery_points = Val::Known(policy.is_some());
    let root = o.account.root_arn();
    let admins: Vec<String> = policy
        .map(protect::policy_exemptions)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| *a != root)
        .collect();
    m.recovery_point_admin_arns = if admins.is_empty() {
        Val::Null
    } else {
        Val::Known(admins)
    };
    let own: Tags = o
        .plan
        .as_ref()
        .map(|p| {
            user_tags(&p.tags, &client.default_tags)
                .into_iter()
                .filter(|(k, _)| !is_aws_tag(k))
                .collect()
        })
        .unwrap_or_default();
    m.tags = if own.is_empty() {
        Val::Null
    } else {
        Val::Known(own)
    };
    let drift = spec(client, &m)
        .map(|s| backup::drift(&s, o))
        .unwrap_or_default();
    from_observed(client, &m, o, drift)
}
