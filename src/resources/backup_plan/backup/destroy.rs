//! Ordered, idempotent teardown: the selection and the plan first (nothing new is backed up or
//! copied), then the vaults in both regions (emptied first with `force_destroy`), then the role
//! and the keys (scheduled for deletion). What is already gone is skipped.

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::delete_role;
use crate::aws::kms::destroy_key;
use crate::aws::{wait_for, AwsContext, AwsError, Deadline, Poll, RegionCtx};

use super::find::{all_selection_ids, find_plans, find_vault, PLAN, SELECTION, VAULT};
use super::observe::adoptable;
use super::BackupSpec;

/// Removes everything of the backup plan in both regions. `known_keys` are the key ARNs state
/// recorded (primary, DR), used when an alias is gone.
pub async fn destroy(
    ctx: &AwsContext,
    spec: &BackupSpec,
    known_keys: [Option<&str>; 2],
    deadline: Deadline,
) -> Result<(), AwsError> {
    let owner = spec.owner();
    let primary = &ctx.primary;
    for plan in find_plans(primary, &spec.plan_name).await? {
        if !adoptable(&plan.tags, &owner) {
            tracing::warn!("leaving {PLAN} {}: owned by another resource", plan.id);
            continue;
        }
        for id in all_selection_ids(primary, &plan.id).await? {
            let out = primary
                .backup()
                .delete_backup_selection()
                .backup_plan_id(&plan.id)
                .selection_id(&id)
                .send()
                .await
                .map_err(api_error("deleting", SELECTION, &id, &primary.region));
            ok_if_not_found(out)?;
        }
        let out = primary
            .backup()
            .delete_backup_plan()
            .backup_plan_id(&plan.id)
            .send()
            .await
            .map_err(api_error("deleting", PLAN, &plan.id, &primary.region));
        ok_if_not_found(out)?;
        tracing::info!("deleted {PLAN} {} ({})", spec.plan_name, plan.id);
    }
    tokio::try_join!(
        destroy_vault(&ctx.primary, spec, deadline),
        destroy_vault(&ctx.dr, spec, deadline),
    )?;
    delete_role(primary, &spec.role_name, &owner).await?;
    let alias = spec.key_alias();
    tokio::try_join!(
        destroy_key(&ctx.primary, &alias, &owner, known_keys[0]),
        destroy_key(&ctx.dr, &alias, &owner, known_keys[1]),
    )?;
    tracing::info!("backup plan {} is gone", spec.owner());
    Ok(())
}

async fn destroy_vault(
    rc: &RegionCtx,
    spec: &BackupSpec,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let name = spec.vault_name.as_str();
    let Some(vault) = find_vault(rc, name).await? else {
        return Ok(());
    };
    if !adoptable(&vault.tags, &spec.owner()) {
        tracing::warn!(
            "leaving {VAULT} {name} ({}): owned by another resource",
            rc.region
        );
        return Ok(());
    }
    if vault.recovery_points > 0 {
        if !spec.force_destroy {
            return Err(AwsError::api(
                "deleting",
                VAULT,
                name,
                &rc.region,
                None,
                format!(
                    "the vault holds {} recovery points; delete them (or set force_destroy = true to have them deleted, which cannot be undone) and destroy again",
                    vault.recovery_points
                ),
            ));
        }
        empty_vault(rc, name, deadline).await?;
    }
    let out = rc
        .backup()
        .delete_backup_vault()
        .backup_vault_name(name)
        .send()
        .await
        .map_err(api_error("deleting", VAULT, name, &rc.region));
    match out {
        Err(e) if !e.is_not_found() && e.code() != Some("AccessDeniedException") => return Err(e),
        _ => {}
    }
    tracing::info!("deleted {VAULT} {name} in {}", rc.region);
    Ok(())
}

/// Deletes every recovery point of the vault and waits until AWS reports it empty.
async fn empty_vault(rc: &RegionCtx, name: &str, deadline: Deadline) -> Result<(), AwsError> {
    let backup = rc.backup();
    let mut token: Option<String> = None;
    loop {
        let out = backup
            .list_recovery_points_by_backup_vault()
            .backup_vault_name(name)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error(
                "listing recovery points of",
                VAULT,
                name,
                &rc.region,
            ))?;
        for point in out.recovery_points() {
            let Some(arn) = point.recovery_point_arn() else {
                continue;
            };
            let deleted = backup
                .delete_recovery_point()
                .backup_vault_name(name)
                .recovery_point_arn(arn)
                .send()
                .await
                .map_err(api_error("deleting recovery point", arn, name, &rc.region));
            match deleted {
                // Already being deleted.
                Err(e) if e.code() == Some("InvalidRequestException") => {}
                other => {
                    ok_if_not_found(other)?;
                }
            }
        }
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    wait_for(deadline, VAULT, name, &rc.region, || async {
        Ok(match find_vault(rc, name).await? {
            Some(v) if v.recovery_points > 0 => {
                Poll::Pending(format!("{} recovery points left", v.recovery_points))
            }
            _ => Poll::Ready(()),
        })
    })
    .await
}
