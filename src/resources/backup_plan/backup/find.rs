//! Lookups: the vault of a region by name, the plan by name (among live plans), the plan's
//! selection by name, each with tags where AWS keeps them; a vault with its lock and access
//! policy. Not-found maps to None here.

use std::collections::HashMap;

use aws_sdk_backup::types::BackupRule;

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::tags::Tags;
use crate::aws::{AwsError, RegionCtx};

use super::protect::{find_access_policy, ObservedLock};
use super::{ObservedPlan, ObservedRule, ObservedSelection, ObservedVault};

pub(super) const VAULT: &str = "backup vault";
pub(super) const PLAN: &str = "backup plan";
pub(super) const SELECTION: &str = "backup selection";

fn tags_from(map: Option<&HashMap<String, String>>) -> Tags {
    map.map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// The tags of a vault or plan ARN; None when the object is gone.
pub(super) async fn list_tags(
    rc: &RegionCtx,
    what: &str,
    arn: &str,
) -> Result<Option<Tags>, AwsError> {
    let mut tags = Tags::new();
    let mut token: Option<String> = None;
    loop {
        let out = rc
            .backup()
            .list_tags()
            .resource_arn(arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error("listing tags of", what, arn, &rc.region));
        let Some(out) = ok_if_not_found(out)? else {
            return Ok(None);
        };
        tags.extend(tags_from(out.tags()));
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(Some(tags)),
        }
    }
}

/// The region's vault of this name with its tags; None when it does not exist.
pub(super) async fn find_vault(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<ObservedVault>, AwsError> {
    let out = rc
        .backup()
        .describe_backup_vault()
        .backup_vault_name(name)
        .send()
        .await
        .map_err(api_error("describing", VAULT, name, &rc.region));
    let out = match out {
        Ok(out) => out,
        // AWS Backup answers AccessDenied for a vault that does not exist (as
        // terraform-provider-aws also treats it).
        Err(e) if e.is_not_found() || e.code() == Some("AccessDeniedException") => return Ok(None),
        Err(e) => return Err(e),
    };
    let arn = out.backup_vault_arn().unwrap_or_default().to_owned();
    let Some(tags) = list_tags(rc, VAULT, &arn).await? else {
        return Ok(None);
    };
    let lock = out.locked().unwrap_or(false).then(|| ObservedLock {
        min_retention_days: out.min_retention_days(),
        max_retention_days: out.max_retention_days(),
        lock_date: out.lock_date().map(|d| d.secs()),
    });
    let access_policy = find_access_policy(rc, name).await?;
    Ok(Some(ObservedVault {
        name: name.to_owned(),
        kms_key_arn: out.encryption_key_arn().unwrap_or_default().to_owned(),
        recovery_points: out.number_of_recovery_points(),
        arn,
        tags,
        lock,
        access_policy,
    }))
}

fn rule_from(r: &BackupRule) -> ObservedRule {
    ObservedRule {
        name: r.rule_name().to_owned(),
        target_vault: r.target_backup_vault_name().to_owned(),
        schedule: r.schedule_expression().unwrap_or_default().to_owned(),
        delete_after_days: r.lifecycle().and_then(|l| l.delete_after_days()),
        copies: r
            .copy_actions()
            .iter()
            .map(|c| {
                (
                    c.destination_backup_vault_arn().to_owned(),
                    c.lifecycle().and_then(|l| l.delete_after_days()),
                )
            })
            .collect(),
        continuous_backup: r.enable_continuous_backup().unwrap_or(false),
    }
}

/// The live plans named `name`, each with its tags, newest version.
pub(super) async fn find_plans(rc: &RegionCtx, name: &str) -> Result<Vec<ObservedPlan>, AwsError> {
    let backup = rc.backup();
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = backup
            .list_backup_plans()
            .include_deleted(false)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error("listing", "backup plans", name, &rc.region))?;
        ids.extend(
            out.backup_plans_list()
                .iter()
                .filter(|p| p.backup_plan_name() == Some(name) && p.deletion_date().is_none())
                .filter_map(|p| p.backup_plan_id().map(str::to_owned)),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    let mut plans = Vec::new();
    for id in ids {
        if let Some(plan) = get_plan(rc, &id).await? {
            plans.push(plan);
        }
    }
    Ok(plans)
}

/// The plan with this id at its latest version, with tags; None when it is gone.
pub(super) async fn get_plan(rc: &RegionCtx, id: &str) -> Result<Option<ObservedPlan>, AwsError> {
    let out = rc
        .backup()
        .get_backup_plan()
        .backup_plan_id(id)
        .send()
        .await
        .map_err(api_error("reading", PLAN, id, &rc.region));
    let Some(out) = ok_if_not_found(out)? else {
        return Ok(None);
    };
    if out.deletion_date().is_some() {
        return Ok(None);
    }
    let arn = out.backup_plan_arn().unwrap_or_default().to_owned();
    let Some(tags) = list_tags(rc, PLAN, &arn).await? else {
        return Ok(None);
    };
    Ok(Some(ObservedPlan {
        id: id.to_owned(),
        version_id: out.version_id().unwrap_or_default().to_owned(),
        rules: out
            .backup_plan()
            .map(|p| p.rules().iter().map(rule_from).collect())
            .unwrap_or_default(),
        arn,
        tags,
    }))
}

/// The plan's selections named `name`, with their resources.
pub(super) async fn find_selections(
    rc: &RegionCtx,
    plan_id: &str,
    name: &str,
) -> Result<Vec<ObservedSelection>, AwsError> {
    let backup = rc.backup();
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = backup
            .list_backup_selections()
            .backup_plan_id(plan_id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error(
                "listing selections of",
                PLAN,
                plan_id,
                &rc.region,
            ));
        let Some(out) = ok_if_not_found(out)? else {
            return Ok(Vec::new());
        };
        ids.extend(
            out.backup_selections_list()
                .iter()
                .filter(|s| s.selection_name() == Some(name))
                .filter_map(|s| s.selection_id().map(str::to_owned)),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    let mut found = Vec::new();
    for id in ids {
        let out = backup
            .get_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(&id)
            .send()
            .await
            .map_err(api_error("reading", SELECTION, &id, &rc.region));
        if let Some(out) = ok_if_not_found(out)? {
            let selection = out.backup_selection();
            let mut resources: Vec<String> = selection
                .map(|s| s.resources().to_vec())
                .unwrap_or_default();
            resources.sort();
            found.push(ObservedSelection {
                id,
                role_arn: selection
                    .map(|s| s.iam_role_arn().to_owned())
                    .unwrap_or_default(),
                resources,
            });
        }
    }
    Ok(found)
}

/// Every selection id of a plan (whoever made them): a plan is deleted only without any.
pub(super) async fn all_selection_ids(
    rc: &RegionCtx,
    plan_id: &str,
) -> Result<Vec<String>, AwsError> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = rc
            .backup()
            .list_backup_selections()
            .backup_plan_id(plan_id)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error(
                "listing selections of",
                PLAN,
                plan_id,
                &rc.region,
            ));
        let Some(out) = ok_if_not_found(out)? else {
            return Ok(ids);
        };
        ids.extend(
            out.backup_selections_list()
                .iter()
                .filter_map(|s| s.selection_id().map(str::to_owned)),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(ids),
        }
    }
}
