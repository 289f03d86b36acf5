//! Create, adopt and repair: keys and vaults in both regions, the role, each region's plan
//! (updated in place when its rule differs; the DR region's removed when there is nothing for it
//! to back up) and its selection (replaced when it differs: AWS has no update for selections).
//! Only what is missing or different is written.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_backup::types::{
    BackupPlanInput, BackupRuleInput, BackupSelection, CopyAction, Lifecycle,
};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::{
    caller_account, ensure_role, find_role, retry_role_propagation, Account, NOT_OWNED_CODE,
};
use crate::aws::kms::{ensure_key, RegionKey};
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx};

use super::destroy::delete_plan;
use super::find::{find_plans, find_selections, find_vault, PLAN, SELECTION, VAULT};
use super::observe::{adoptable, find_plan, observe_with};
use super::protect::{ensure_access_policy, ensure_lock};
use super::{part, BackupSpec, ObservedBackup, ObservedRule, ObservedVault};

/// Brings both regions to the spec and returns what exists afterwards. Objects of the same
/// names that are untagged are adopted only when `adopt_untagged` (after an import). On failure
/// the error comes with what exists at that point, so the caller can record it for destroy.
pub async fn ensure(
    ctx: &AwsContext,
    spec: &BackupSpec,
    adopt_untagged: bool,
    deadline: Deadline,
) -> Result<ObservedBackup, (AwsError, Option<ObservedBackup>)> {
    tracing::info!(
        "ensuring backup plan {} in {} and {}",
        spec.owner(),
        ctx.primary.region,
        ctx.dr.region
    );
    let started = Instant::now();
    let work = async {
        let account = caller_account(&ctx.primary).await?;
        if !adopt_untagged {
            preflight(ctx, spec).await?;
        }
        let (primary_vault, dr_vault) = tokio::try_join!(
            ensure_region(&ctx.primary, spec, &account, adopt_untagged),
            ensure_region(&ctx.dr, spec, &account, adopt_untagged),
        )?;
        // IAM is global: one role serves the plans of both regions.
        let role = ensure_role(&ctx.primary, &spec.role_spec(&account), adopt_untagged).await?;
        tokio::try_join!(
            ensure_region_plan(
                &ctx.primary,
                spec,
                &dr_vault.arn,
                &role.arn,
                adopt_untagged,
                deadline
            ),
            ensure_region_plan(
                &ctx.dr,
                spec,
                &primary_vault.arn,
                &role.arn,
                adopt_untagged,
                deadline
            ),
        )?;
        observe_with(ctx, spec, account).await
    };
    let result = match tokio::time::timeout(deadline.remaining(), work).await {
        Ok(result) => result,
        Err(_) => Err(AwsError::Timeout {
            what: "backup plan".into(),
            id: spec.plan_name.clone(),
            region: ctx.primary.region.clone(),
            waited_secs: started.elapsed().as_secs(),
            last_state: "vaults, role, plan and selection not all in place".into(),
        }),
    };
    match result {
        Ok(observed) => Ok(observed),
        Err(err) => {
            tracing::warn!("backup plan {} is incomplete: {err}", spec.owner());
            let partial = match caller_account(&ctx.primary).await {
                Ok(account) => observe_with(ctx, spec, account)
                    .await
                    .ok()
                    .filter(ObservedBackup::exists),
                Err(_) => None,
            };
            Err((err, partial))
        }
    }
}

fn not_owned(what: &str, id: &str, region: &str, tags: &Tags, owner: &str) -> AwsError {
    let detail = match tags.get(OWNER_TAG) {
        Some(o) => format!("it is owned by {o}, not {owner}"),
        None => format!("an object of this name exists and is not managed by drpair (no {OWNER_TAG} tag); bring it under this resource with `terraform import`, or delete it"),
    };
    AwsError::api(
        "adopting",
        what,
        id,
        region,
        Some(NOT_OWNED_CODE.to_owned()),
        detail,
    )
}

fn owned(tags: &Tags, owner: &str) -> bool {
    tags.get(OWNER_TAG).map(String::as_str) == Some(owner)
}

/// Refuses, before anything is made, when a vault, plan or role of the spec's names exists
/// without this resource's owner tag.
async fn preflight(ctx: &AwsContext, spec: &BackupSpec) -> Result<(), AwsError> {
    let owner = spec.owner();
    let (primary, dr, plans, dr_plans, role) = tokio::try_join!(
        find_vault(&ctx.primary, &spec.vault_name),
        find_vault(&ctx.dr, &spec.vault_name),
        find_plans(&ctx.primary, &spec.plan_name),
        find_plans(&ctx.dr, &spec.plan_name),
        find_role(&ctx.primary, &spec.role_name),
    )?;
    for (rc, vault) in [(&ctx.primary, primary), (&ctx.dr, dr)] {
        if let Some(v) = vault.filter(|v| !owned(&v.tags, &owner)) {
            return Err(not_owned(VAULT, &v.name, &rc.region, &v.tags, &owner));
        }
    }
    for (rc, plans) in [(&ctx.primary, plans), (&ctx.dr, dr_plans)] {
        if !spec.wants_plan(rc.role) {
            // Left alone (not made): someone else's plan of that name is no obstacle.
            continue;
        }
        if let Some(p) = plans.iter().find(|p| !owned(&p.tags, &owner)) {
            return Err(not_owned(
                PLAN,
                &spec.plan_name,
                &rc.region,
                &p.tags,
                &owner,
            ));
        }
    }
    if let Some(r) = role.filter(|r| !owned(&r.tags, &owner)) {
        return Err(not_owned("IAM role", &r.name, "global", &r.tags, &owner));
    }
    Ok(())
}

/// The region's key, vault, Vault Lock and vault access policy.
async fn ensure_region(
    rc: &RegionCtx,
    spec: &BackupSpec,
    account: &Account,
    adopt_untagged: bool,
) -> Result<ObservedVault, AwsError> {
    let key = ensure_key(
        rc,
        &spec.key_spec(rc.role, &rc.region, account),
        adopt_untagged,
    )
    .await?;
    let vault = ensure_vault(rc, spec, &key, adopt_untagged).await?;
    ensure_lock(rc, spec, &vault).await?;
    ensure_access_policy(rc, spec, account, &vault).await?;
    Ok(vault)
}

async fn ensure_vault(
    rc: &RegionCtx,
    spec: &BackupSpec,
    key: &RegionKey,
    adopt_untagged: bool,
) -> Result<ObservedVault, AwsError> {
    let name = spec.vault_name.as_str();
    let owner = spec.owner();
    let desired = spec.tags(rc.role.tag_value(), part::VAULT, name);
    let backup = rc.backup();
    if let Some(vault) = find_vault(rc, name).await? {
        if !(owned(&vault.tags, &owner) || (adopt_untagged && adoptable(&vault.tags, &owner))) {
            return Err(not_owned(VAULT, name, &rc.region, &vault.tags, &owner));
        }
        retag(rc, VAULT, &vault.arn, &vault.tags, &desired).await?;
        return Ok(vault);
    }
    let created = backup
        .create_backup_vault()
        .backup_vault_name(name)
        .encryption_key_arn(&key.arn)
        .set_backup_vault_tags(Some(desired.clone().into_iter().collect()))
        .send()
        .await;
    match created {
        Ok(out) => {
            tracing::info!("created {VAULT} {name} in {}", rc.region);
            Ok(ObservedVault {
                name: name.to_owned(),
                arn: out.backup_vault_arn().unwrap_or_default().to_owned(),
                kms_key_arn: key.arn.clone(),
                recovery_points: 0,
                tags: desired,
                lock: None,
                access_policy: None,
            })
        }
        // Created meanwhile (a concurrent or retried apply): take it from there.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_already_exists_exception()) =>
        {
            find_vault(rc, name)
                .await?
                .ok_or_else(|| AwsError::not_found(VAULT, name, &rc.region))
        }
        Err(e) => Err(api_error("creating", VAULT, name, &rc.region)(e)),
    }
}

/// Sets and removes tags of a vault or plan so it carries exactly `desired`.
async fn retag(
    rc: &RegionCtx,
    what: &str,
    arn: &str,
    actual: &Tags,
    desired: &Tags,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(actual, desired);
    if !set.is_empty() {
        rc.backup()
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(set.into_iter().collect::<HashMap<_, _>>()))
            .send()
            .await
            .map_err(api_error("tagging", what, arn, &rc.region))?;
    }
    if !remove.is_empty() {
        rc.backup()
            .untag_resource()
            .resource_arn(arn)
            .set_tag_key_list(Some(remove))
            .send()
            .await
            .map_err(api_error("untagging", what, arn, &rc.region))?;
    }
    Ok(())
}

fn build_error(
    what: &str,
    id: &str,
    region: &str,
) -> impl FnOnce(aws_smithy_types::error::operation::BuildError) -> AwsError {
    let (what, id, region) = (what.to_owned(), id.to_owned(), region.to_owned());
    move |e| AwsError::api("building", &what, &id, &region, None, e.to_string())
}

fn plan_input(
    spec: &BackupSpec,
    rule: &ObservedRule,
    region: &str,
) -> Result<BackupPlanInput, AwsError> {
    let lifecycle = |days: Option<i64>| Lifecycle::builder().set_delete_after_days(days).build();
    let mut copies = Vec::new();
    for (arn, days) in &rule.copies {
        copies.push(
            CopyAction::builder()
                .destination_backup_vault_arn(arn)
                .lifecycle(lifecycle(*days))
                .build()
                .map_err(build_error(PLAN, &spec.plan_name, region))?,
        );
    }
    let rule = BackupRuleInput::builder()
        .rule_name(&rule.name)
        .target_backup_vault_name(&rule.target_vault)
        .schedule_expression(&rule.schedule)
        .lifecycle(lifecycle(rule.delete_after_days))
        .set_copy_actions(Some(copies))
        .enable_continuous_backup(rule.continuous_backup)
        .build()
        .map_err(build_error(PLAN, &spec.plan_name, region))?;
    BackupPlanInput::builder()
        .backup_plan_name(&spec.plan_name)
        .rules(rule)
        .build()
        .map_err(build_error(PLAN, &spec.plan_name, region))
}

/// The region's plan and selection when the spec has resources for that region; otherwise no
/// plan of this resource there (one left from earlier, `dr_resource_arns` since removed, is
/// deleted with its selections).
async fn ensure_region_plan(
    rc: &RegionCtx,
    spec: &BackupSpec,
    other_vault_arn: &str,
    role_arn: &str,
    adopt_untagged: bool,
    deadline: Deadline,
) -> Result<(), AwsError> {
    if !spec.wants_plan(rc.role) {
        return retire_plans(rc, spec).await;
    }
    let plan_id = ensure_plan(rc, spec, other_vault_arn, adopt_untagged).await?;
    ensure_selection(rc, spec, &plan_id, role_arn, deadline).await
}

/// Deletes this resource's plans of the region (selections first); others' are left alone.
async fn retire_plans(rc: &RegionCtx, spec: &BackupSpec) -> Result<(), AwsError> {
    for plan in find_plans(rc, &spec.plan_name).await? {
        if owned(&plan.tags, &spec.owner()) {
            delete_plan(rc, &plan.id).await?;
            tracing::info!(
                "deleted {PLAN} {} ({}) in {}: nothing for it to back up",
                spec.plan_name,
                plan.id,
                rc.region
            );
        }
    }
    Ok(())
}

/// Creates the region's plan, or updates it (a new version) when its rule differs; returns its
/// id. The rule backs up into the region's vault and copies to `other_vault_arn`.
async fn ensure_plan(
    rc: &RegionCtx,
    spec: &BackupSpec,
    other_vault_arn: &str,
    adopt_untagged: bool,
) -> Result<String, AwsError> {
    let owner = spec.owner();
    let rule = spec.desired_rule(rc.role, other_vault_arn);
    let input = plan_input(spec, &rule, &rc.region)?;
    let desired_tags = spec.tags(rc.role.tag_value(), part::PLAN, &spec.plan_name);
    let backup = rc.backup();
    match find_plan(rc, spec).await? {
        Some(plan) => {
            if !(owned(&plan.tags, &owner) || adopt_untagged) {
                return Err(not_owned(
                    PLAN,
                    &spec.plan_name,
                    &rc.region,
                    &plan.tags,
                    &owner,
                ));
            }
            if plan.rules != vec![rule] {
                backup
                    .update_backup_plan()
                    .backup_plan_id(&plan.id)
                    .backup_plan(input)
                    .send()
                    .await
                    .map_err(api_error("updating", PLAN, &plan.id, &rc.region))?;
                tracing::info!("updated {PLAN} {} ({})", spec.plan_name, plan.id);
            }
            retag(rc, PLAN, &plan.arn, &plan.tags, &desired_tags).await?;
            Ok(plan.id)
        }
        None => {
            let out = backup
                .create_backup_plan()
                .backup_plan(input)
                .set_backup_plan_tags(Some(desired_tags.into_iter().collect()))
                .send()
                .await
                .map_err(api_error("creating", PLAN, &spec.plan_name, &rc.region))?;
            let id = out.backup_plan_id().unwrap_or_default().to_owned();
            tracing::info!("created {PLAN} {} ({id}) in {}", spec.plan_name, rc.region);
            Ok(id)
        }
    }
}

/// Makes sure the plan has exactly one selection of the spec's name, covering the spec's
/// resources with the role; a differing one is replaced.
async fn ensure_selection(
    rc: &RegionCtx,
    spec: &BackupSpec,
    plan_id: &str,
    role_arn: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let backup = rc.backup();
    let resources = spec.resources(rc.role);
    let mut matching = false;
    for s in find_selections(rc, plan_id, &spec.selection_name).await? {
        if !matching && s.resources == resources && s.role_arn == role_arn {
            matching = true;
            continue;
        }
        let out = backup
            .delete_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(&s.id)
            .send()
            .await
            .map_err(api_error("deleting", SELECTION, &s.id, &rc.region));
        ok_if_not_found(out)?;
        tracing::info!("deleted outdated {SELECTION} {} of {plan_id}", s.id);
    }
    if matching {
        return Ok(());
    }
    let selection = BackupSelection::builder()
        .selection_name(&spec.selection_name)
        .iam_role_arn(role_arn)
        .set_resources(Some(resources.to_vec()))
        .build()
        .map_err(build_error(SELECTION, &spec.selection_name, &rc.region))?;
    // A role created a moment ago may not be assumable by AWS Backup yet.
    retry_role_propagation(deadline, || async {
        backup
            .create_backup_selection()
            .backup_plan_id(plan_id)
            .backup_selection(selection.clone())
            .send()
            .await
            .map_err(api_error(
                "creating",
                SELECTION,
                &spec.selection_name,
                &rc.region,
            ))
    })
    .await?;
    tracing::info!("created {SELECTION} {} of {plan_id}", spec.selection_name);
    Ok(())
}
