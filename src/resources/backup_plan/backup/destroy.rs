//! Ordered, idempotent teardown: first a check that nothing would be lost (a vault holding
//! recovery points is only emptied with `force_destroy`; without it nothing at all is deleted)
//! and, with `force_destroy`, that AWS would let the recovery points be deleted (not in a locked
//! vault, not denied to the caller by drpair's vault access policy: otherwise nothing at all is
//! deleted either),
//! then the selections and plans of both regions (nothing new is backed up or copied), the
//! vaults in both regions (emptied first with `force_destroy`), the role, and the keys
//! (scheduled for deletion). What is already gone is skipped.
//!
//! Recovery points and keys: AWS deletes a vault only when it is empty ("A vault can be deleted
//! only if it is empty", API_DeleteBackupVault), and the vault's key encrypts the copies the
//! other region's plan sends there ("AWS Backup will re-encrypt your copy using the customer
//! managed key of your destination vault"). Like terraform-provider-aws's `aws_backup_vault`,
//! whose delete fails on a vault with recovery points unless `force_destroy` deletes them
//! first, this resource refuses, but before deleting anything, so a refused destroy leaves the
//! plans, the vaults and the keys working; the keys are scheduled for deletion only once both
//! vaults are gone, so no recovery point is left without its key.

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::delete_role;
use crate::aws::kms::destroy_key;
use crate::aws::{wait_for, AwsContext, AwsError, Deadline, Poll, RegionCtx};

use super::find::{all_selection_ids, find_plans, find_vault, PLAN, SELECTION, VAULT};
use super::observe::adoptable;
use super::protect::{caller_arn, refuse_locked_or_protected};
use super::{BackupSpec, ObservedVault};

/// Removes everything of the backup plan in both regions. `known_keys` are the key ARNs state
/// recorded (primary, DR), used when an alias is gone.
pub async fn destroy(
    ctx: &AwsContext,
    spec: &BackupSpec,
    known_keys: [Option<&str>; 2],
    deadline: Deadline,
) -> Result<(), AwsError> {
    let owner = spec.owner();
    let (primary_vault, dr_vault) =
        tokio::try_join!(owned_vault(&ctx.primary, spec), owned_vault(&ctx.dr, spec),)?;
    let vaults = [
        (ctx.primary.region.as_str(), primary_vault.as_ref()),
        (ctx.dr.region.as_str(), dr_vault.as_ref()),
    ];
    if !spec.force_destroy {
        refuse_if_holding(spec, &vaults)?;
    } else if vaults
        .iter()
        .any(|(_, v)| v.is_some_and(|v| v.recovery_points > 0))
    {
        // force_destroy would delete recovery points: refused up front where AWS would refuse
        // them (a locked vault; drpair's access policy and a caller it does not exempt).
        let caller = caller_arn(&ctx.primary).await?;
        refuse_locked_or_protected(spec, &caller, &vaults)?;
    }
    for rc in [&ctx.primary, &ctx.dr] {
        for plan in find_plans(rc, &spec.plan_name).await? {
            if !adoptable(&plan.tags, &owner) {
                tracing::warn!(
                    "leaving {PLAN} {} in {}: owned by another resource",
                    plan.id,
                    rc.region
                );
                continue;
            }
            delete_plan(rc, &plan.id).await?;
            tracing::info!(
                "deleted {PLAN} {} ({}) in {}",
                spec.plan_name,
                plan.id,
                rc.region
            );
        }
    }
    tokio::try_join!(
        destroy_vault(&ctx.primary, spec, primary_vault, deadline),
        destroy_vault(&ctx.dr, spec, dr_vault, deadline),
    )?;
    delete_role(&ctx.primary, &spec.role_name, &owner).await?;
    let alias = spec.key_alias();
    tokio::try_join!(
        destroy_key(&ctx.primary, &alias, &owner, known_keys[0]),
        destroy_key(&ctx.dr, &alias, &owner, known_keys[1]),
    )?;
    tracing::info!("backup plan {} is gone", spec.owner());
    Ok(())
}

/// Deletes a plan's selections (whoever made them: a plan is deleted only without any), then
/// the plan. Gone is fine.
pub(super) async fn delete_plan(rc: &RegionCtx, plan_id: &str) -> Result<(), AwsError> {
    for id in all_selection_ids(rc, plan_id).await? {
        let out = rc
            .backup()
            .delete_backup_selection()
            .backup_plan_id(plan_id)
            .selection_id(&id)
            .send()
            .await
            .map_err(api_error("deleting", SELECTION, &id, &rc.region));
        ok_if_not_found(out)?;
    }
    let out = rc
        .backup()
        .delete_backup_plan()
        .backup_plan_id(plan_id)
        .send()
        .await
        .map_err(api_error("deleting", PLAN, plan_id, &rc.region));
    ok_if_not_found(out)?;
    Ok(())
}

/// The region's vault of the spec's name when it is this resource's to delete.
async fn owned_vault(rc: &RegionCtx, spec: &BackupSpec) -> Result<Option<ObservedVault>, AwsError> {
    let Some(vault) = find_vault(rc, &spec.vault_name).await? else {
        return Ok(None);
    };
    if !adoptable(&vault.tags, &spec.owner()) {
        tracing::warn!(
            "leaving {VAULT} {} ({}): owned by another resource",
            vault.name,
            rc.region
        );
        return Ok(None);
    }
    Ok(Some(vault))
}

/// The refusal of a destroy that would have to delete recovery points without `force_destroy`:
/// which vaults hold how many, and what to do.
fn refuse_if_holding(
    spec: &BackupSpec,
    vaults: &[(&str, Option<&ObservedVault>)],
) -> Result<(), AwsError> {
    let holding: Vec<(&str, i64)> = vaults
        .iter()
        .filter_map(|(region, v)| {
            v.filter(|v| v.recovery_points > 0)
                .map(|v| (*region, v.recovery_points))
        })
        .collect();
    let Some((first_region, _)) = holding.first() else {
        return Ok(());
    };
    let holding: Vec<String> = holding
        .iter()
        .map(|(region, n)| format!("{region}: {n} recovery points"))
        .collect();
    Err(AwsError::api(
        "deleting",
        VAULT,
        &spec.vault_name,
        first_region,
        None,
        format!(
            "the vaults still hold backups ({}); AWS deletes only an empty vault. Nothing was deleted: the plans, vaults and KMS keys are as they were, so every backup stays restorable. To destroy, either delete those recovery points (or let their retention expire) and destroy again, or set force_destroy = true, apply, and destroy again to have them deleted, which cannot be undone.",
            holding.join(", ")
        ),
    ))
}

async fn destroy_vault(
    rc: &RegionCtx,
    spec: &BackupSpec,
    vault: Option<ObservedVault>,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let Some(vault) = vault else {
        return Ok(());
    };
    let name = vault.name.as_str();
    if vault.recovery_points > 0 && spec.force_destroy {
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
        // A backup finished between the check and the delete (a plan's last scheduled run).
        Err(e) if e.code() == Some("InvalidRequestException") => {
            return Err(AwsError::api(
                "deleting",
                VAULT,
                name,
                &rc.region,
                e.code().map(str::to_owned),
                format!("{e}. The vault received recovery points while it was being destroyed; its KMS key was kept. Destroy again (with force_destroy = true to delete them)."),
            ))
        }
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
    tracing::info!("emptying {VAULT} {name} in {} (force_destroy)", rc.region);
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

#[cfg(test)]
mod tests {
    use super::super::tests::spec;
    use super::*;

    #[test]
    fn refuses_before_deleting_anything_when_vaults_hold_backups() {
        let holding = ObservedVault {
            recovery_points: 3,
            ..ObservedVault::default()
        };
        let empty = ObservedVault::default();
        assert!(
            refuse_if_holding(&spec(), &[("us-east-1", Some(&empty)), ("us-east-2", None)]).is_ok()
        );
        let err = refuse_if_holding(
            &spec(),
            &[("us-east-1", Some(&empty)), ("us-east-2", Some(&holding))],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("us-east-2: 3 recovery points"), "{err}");
        assert!(err.contains("Nothing was deleted"), "{err}");
        assert!(err.contains("force_destroy = true"), "{err}");
    }
}
