//! [`observe()`]: what exists of the backup plan in both regions; [`drift`]: how that differs
//! from the spec, one phrase per difference.

use crate::aws::iam::{caller_account, find_role, role_drift, Account};
use crate::aws::kms::{account_of, find_key, key_drift_with_policy, RegionKey};
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::{AwsContext, AwsError, RegionCtx, Role};

use super::find::{find_plans, find_selections, find_vault};
use super::{BackupSpec, ObservedBackup, ObservedPlan, ObservedRule};

/// Whether an object carrying `tags` may be read as this resource's: tagged as its own, or not
/// tagged by any drpair resource (an object being imported).
pub(super) fn adoptable(tags: &Tags, owner: &str) -> bool {
    tags.get(OWNER_TAG).is_none_or(|o| o == owner)
}

async fn owned_key(rc: &RegionCtx, spec: &BackupSpec) -> Result<Option<RegionKey>, AwsError> {
    let owner = spec.owner();
    Ok(find_key(rc, &spec.key_alias())
        .await?
        .filter(|k| k.tags.get(OWNER_TAG) == Some(&owner)))
}

/// The plan of the spec's name this resource may read: its own, else an untagged one.
pub(super) async fn find_plan(
    rc: &RegionCtx,
    spec: &BackupSpec,
) -> Result<Option<ObservedPlan>, AwsError> {
    let owner = spec.owner();
    let mut plans = find_plans(rc, &spec.plan_name).await?;
    plans.sort_by_key(|p| p.tags.get(OWNER_TAG) != Some(&owner));
    Ok(plans.into_iter().find(|p| adoptable(&p.tags, &owner)))
}

/// The plan's selection of the spec's name, if the plan exists.
async fn find_selection(
    rc: &RegionCtx,
    spec: &BackupSpec,
    plan: Option<&ObservedPlan>,
) -> Result<Option<super::ObservedSelection>, AwsError> {
    match plan {
        Some(p) => Ok(find_selections(rc, &p.id, &spec.selection_name)
            .await?
            .into_iter()
            .next()),
        None => Ok(None),
    }
}

/// Reads the keys, vaults, both regions' plans and selections, and the role.
pub async fn observe(ctx: &AwsContext, spec: &BackupSpec) -> Result<ObservedBackup, AwsError> {
    let account = caller_account(&ctx.primary).await?;
    observe_with(ctx, spec, account).await
}

pub(super) async fn observe_with(
    ctx: &AwsContext,
    spec: &BackupSpec,
    account: Account,
) -> Result<ObservedBackup, AwsError> {
    let owner = spec.owner();
    let (primary_key, dr_key, primary_vault, dr_vault, plan, dr_plan, role) = tokio::try_join!(
        owned_key(&ctx.primary, spec),
        owned_key(&ctx.dr, spec),
        find_vault(&ctx.primary, &spec.vault_name),
        find_vault(&ctx.dr, &spec.vault_name),
        find_plan(&ctx.primary, spec),
        find_plan(&ctx.dr, spec),
        find_role(&ctx.primary, &spec.role_name),
    )?;
    let (selection, dr_selection) = tokio::try_join!(
        find_selection(&ctx.primary, spec, plan.as_ref()),
        find_selection(&ctx.dr, spec, dr_plan.as_ref()),
    )?;
    Ok(ObservedBackup {
        account,
        primary_region: ctx.primary.region.clone(),
        dr_region: ctx.dr.region.clone(),
        primary_vault: primary_vault.filter(|v| adoptable(&v.tags, &owner)),
        dr_vault: dr_vault.filter(|v| adoptable(&v.tags, &owner)),
        primary_key,
        dr_key,
        plan,
        selection,
        dr_plan,
        dr_selection,
        role: role.filter(|r| adoptable(&r.tags, &owner)),
    })
}

/// `plan` names the plan and its region in messages: `us-east-2: backup plan NAME`.
fn rule_drift(plan: &str, actual: &[ObservedRule], wanted: &ObservedRule) -> Vec<String> {
    let [rule] = actual else {
        return vec![format!("{plan} has {} rules, expected 1", actual.len())];
    };
    let mut out = Vec::new();
    let mut check = |what: &str, a: String, w: String| {
        if a != w {
            out.push(format!("{plan}: {what} is {a}, expected {w}"));
        }
    };
    check("rule name", rule.name.clone(), wanted.name.clone());
    check(
        "target vault",
        rule.target_vault.clone(),
        wanted.target_vault.clone(),
    );
    check("schedule", rule.schedule.clone(), wanted.schedule.clone());
    let days = |d: Option<i64>| d.map_or("none".to_owned(), |d| format!("{d} days"));
    check(
        "retention",
        days(rule.delete_after_days),
        days(wanted.delete_after_days),
    );
    let copies = |c: &[(String, Option<i64>)]| {
        c.iter()
            .map(|(arn, d)| format!("{arn} ({})", days(*d)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    check("copy action", copies(&rule.copies), copies(&wanted.copies));
    check(
        "continuous backup",
        rule.continuous_backup.to_string(),
        wanted.continuous_backup.to_string(),
    );
    out
}

/// Differences from the spec: missing or unusable keys, missing vaults, each region's plan, its
/// rule and its selection (or a DR plan that should not be there), and the role. Empty when
/// nothing needs repair.
pub fn drift(spec: &BackupSpec, o: &ObservedBackup) -> Vec<String> {
    let mut out = Vec::new();
    for role in Role::BOTH {
        let region = o.region(role);
        let key = o.key(role);
        let policy = key
            .and_then(|k| account_of(&k.arn))
            .map(|account| super::protect::key_policy(&account, region));
        out.extend(key_drift_with_policy(
            region,
            &spec.key_alias(),
            key,
            policy.as_ref(),
        ));
        match o.vault(role) {
            None => out.push(format!(
                "{region}: backup vault {} is missing",
                spec.vault_name
            )),
            Some(v) => out.extend(super::protect::protection_drift(
                spec, &o.account, region, v,
            )),
        }
    }
    for role in Role::BOTH {
        out.extend(plan_drift(spec, o, role));
    }
    out.extend(role_drift(&spec.role_spec(&o.account), o.role.as_ref()));
    out
}

/// The vault ARN of the other region, where `role`'s plan copies to.
pub(super) fn other_vault_arn(spec: &BackupSpec, o: &ObservedBackup, role: Role) -> String {
    let other = match role {
        Role::Primary => Role::Dr,
        Role::Dr => Role::Primary,
    };
    o.vault(other)
        .map(|v| v.arn.clone())
        .unwrap_or_else(|| spec.vault_arn(&o.account, o.region(other)))
}

fn plan_drift(spec: &BackupSpec, o: &ObservedBackup, role: Role) -> Vec<String> {
    let region = o.region(role);
    let label = format!("{region}: backup plan {}", spec.plan_name);
    let mut out = Vec::new();
    let plan = match (o.plan(role), spec.wants_plan(role)) {
        (None, false) => return out,
        (Some(_), false) => {
            out.push(format!(
                "{label} exists, but dr_resource_arns is not set (nothing for it to back up)"
            ));
            return out;
        }
        (None, true) => {
            out.push(format!("{label} is missing"));
            return out;
        }
        (Some(plan), true) => plan,
    };
    out.extend(rule_drift(
        &label,
        &plan.rules,
        &spec.desired_rule(role, &other_vault_arn(spec, o, role)),
    ));
    let wanted = spec.resources(role);
    match o.selection(role) {
        None => out.push(format!(
            "{label}: selection {} is missing",
            spec.selection_name
        )),
        Some(s) => {
            if s.resources != wanted {
                out.push(format!(
                    "{label}: selection covers {:?}, expected {wanted:?}",
                    s.resources
                ));
            }
            let role_arn = o.account.role_arn(&spec.role_name);
            if s.role_arn != role_arn {
                out.push(format!(
                    "{label}: selection uses role {}, expected {role_arn}",
                    s.role_arn
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec;
    use super::super::{BackupSpec, ObservedSelection, ObservedVault};
    use super::*;
    use crate::aws::iam::ObservedRole;

    fn account() -> Account {
        Account {
            id: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    fn complete() -> ObservedBackup {
        let s = spec();
        let vault = |region: &str| {
            Some(ObservedVault {
                name: s.vault_name.clone(),
                arn: s.vault_arn(&account(), region),
                ..ObservedVault::default()
            })
        };
        let key = Some(RegionKey {
            state: "Enabled".into(),
            ..RegionKey::default()
        });
        let role = s.role_spec(&account());
        let selection = |resources: &[String]| {
            Some(ObservedSelection {
                id: "sel".into(),
                role_arn: account().role_arn(&s.role_name),
                resources: resources.to_vec(),
            })
        };
        ObservedBackup {
            account: account(),
            primary_region: "us-east-1".into(),
            dr_region: "us-east-2".into(),
            primary_vault: vault("us-east-1"),
            dr_vault: vault("us-east-2"),
            primary_key: key.clone(),
            dr_key: key,
            plan: Some(ObservedPlan {
                rules: vec![s.desired_rule(Role::Primary, &s.vault_arn(&account(), "us-east-2"))],
                ..ObservedPlan::default()
            }),
            selection: selection(&s.resource_arns),
            dr_plan: Some(ObservedPlan {
                rules: vec![s.desired_rule(Role::Dr, &s.vault_arn(&account(), "us-east-1"))],
                ..ObservedPlan::default()
            }),
            dr_selection: selection(&s.dr_resource_arns),
            role: Some(ObservedRole {
                name: role.name.clone(),
                trust_policy: role.trust_policy.clone(),
                managed_policy_arns: role.managed_policy_arns.clone(),
                ..ObservedRole::default()
            }),
        }
    }

    #[test]
    fn nothing_to_repair_when_complete() {
        assert_eq!(drift(&spec(), &complete()), Vec::<String>::new());
    }

    #[test]
    fn reports_each_difference() {
        let mut o = complete();
        o.dr_vault = None;
        o.plan.as_mut().unwrap().rules[0].delete_after_days = Some(7);
        o.plan.as_mut().unwrap().rules[0].copies.clear();
        o.selection.as_mut().unwrap().resources.clear();
        assert_eq!(
            drift(&spec(), &o),
            vec![
                "us-east-2: backup vault drpair-backup-vault-v2-dev is missing",
                "us-east-1: backup plan drpair-backup-plan-v2-dev: retention is 7 days, expected 35 days",
                "us-east-1: backup plan drpair-backup-plan-v2-dev: copy action is , expected arn:aws:backup:us-east-2:123456789012:backup-vault:drpair-backup-vault-v2-dev (35 days)",
                "us-east-1: backup plan drpair-backup-plan-v2-dev: selection covers [], expected [\"arn:aws:rds:us-east-1:123456789012:cluster:primary-db-cluster-v2-dev\"]",
            ]
        );
        let mut o = complete();
        o.plan = None;
        o.role = None;
        assert_eq!(
            drift(&spec(), &o),
            vec![
                "us-east-1: backup plan drpair-backup-plan-v2-dev is missing",
                "IAM role drpair-backup-v2-dev is missing",
            ]
        );
    }

    #[test]
    fn the_dr_plan_copies_to_the_primary_vault_and_exists_only_with_dr_resources() {
        let mut o = complete();
        o.dr_plan.as_mut().unwrap().rules[0].copies[0].0 = "arn:elsewhere".into();
        o.dr_selection = None;
        assert_eq!(
            drift(&spec(), &o),
            vec![
                "us-east-2: backup plan drpair-backup-plan-v2-dev: copy action is arn:elsewhere (35 days), expected arn:aws:backup:us-east-1:123456789012:backup-vault:drpair-backup-vault-v2-dev (35 days)",
                "us-east-2: backup plan drpair-backup-plan-v2-dev: selection drpair-selection is missing",
            ]
        );
        let primary_only = BackupSpec {
            dr_resource_arns: Vec::new(),
            ..spec()
        };
        assert_eq!(
            drift(&primary_only, &complete()),
            vec!["us-east-2: backup plan drpair-backup-plan-v2-dev exists, but dr_resource_arns is not set (nothing for it to back up)"]
        );
        let mut o = complete();
        o.dr_plan = None;
        o.dr_selection = None;
        assert!(drift(&primary_only, &o).is_empty());
        assert_eq!(
            drift(&spec(), &o),
            vec!["us-east-2: backup plan drpair-backup-plan-v2-dev is missing"]
        );
    }
}
