//! drpair_backup_plan through the real Terraform CLI against the emulator, as numbered steps:
//! create and check both regions (vaults encrypted with their region's key, a plan in each
//! region whose rule copies to the other region's vault, each plan's selection of its region's
//! resources, the one role with exactly the AWS-managed backup and restore policies), empty
//! plan, import, in-place update not recreating the plans or the vaults, the DR plan removed and
//! restored with `dr_resource_arns`, the continuous-backup warning, out-of-band deletions
//! repaired, backups and copies in both directions, a destroy refused before anything is
//! deleted while the vaults hold them, `force_destroy` emptying them, destroy leaving nothing
//! (keys pending deletion for 30 days); and the plan-time errors of bad input.

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const ADDR: &str = "drpair_backup_plan.db";
const PLAN: &str = "drpair-backup-plan-v2-test";
const VAULT: &str = "drpair-backup-vault-v2-test";
const ROLE: &str = "drpair-backup-v2-test";
const ALIAS: &str = "alias/drpair-backup-vault-v2-test";
const OWNER: &str = "drpair_backup_plan/drpair-backup-plan-v2-test";
const CLUSTER: &str = "arn:aws:rds:us-east-1:123456789012:cluster:primary-db-cluster-v2-test";
const DR_CLUSTER: &str = "arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-test";
const OTHER: &str = "arn:aws:rds:us-east-1:123456789012:cluster:reports-v2-test";
const REGIONS: [(&str, &str, &str); 2] = [
    ("us-east-1", "primary", "primary"),
    ("us-east-2", "dr", "dr"),
];
const DAY: f64 = 86400.0;

fn config(endpoint: &str, body: &str) -> String {
    format!(
        r#"{}
resource "drpair_backup_plan" "db" {{
{body}
}}

output "plan_id" {{ value = drpair_backup_plan.db.plan_id }}
"#,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }")
    )
}

/// The emulator's identity of the tests' `testing` credentials (moto's default user), as
/// `aws:PrincipalArn` names it.
const TEST_CALLER: &str = "arn:aws:iam::123456789012:user/moto";

fn body(arns: &str, schedule: &str, retention: u32, copy: u32, extra: &str) -> String {
    // The tests' own caller administers the recovery points, so force_destroy may delete them
    // through the vault access policy protect_recovery_points puts on by default.
    format!(
        r#"  resource_arns       = [{arns}]
  schedule            = "{schedule}"
  retention_days      = {retention}
  copy_retention_days = {copy}
  recovery_point_admin_arns = ["{TEST_CALLER}"]
{extra}"#
    )
}

fn dr_arns() -> String {
    format!("  dr_resource_arns    = [\"{DR_CLUSTER}\"]\n")
}

fn base() -> String {
    body(
        &format!("\"{CLUSTER}\""),
        "cron(0 * * * ? *)",
        35,
        35,
        &dr_arns(),
    )
}

fn vault(emulator: &Emulator, region: &str) -> Option<Value> {
    match emulator.aws(
        "backup",
        region,
        "DescribeBackupVault",
        &json!({ "BackupVaultName": VAULT }),
    ) {
        Ok(v) => Some(v),
        Err(e) if e.code == "ResourceNotFoundException" => None,
        Err(e) => panic!("DescribeBackupVault in {region}: {e}"),
    }
}

fn backup_tags(emulator: &Emulator, region: &str, arn: &Value) -> Value {
    emulator.aws_ok("backup", region, "ListTags", &json!({ "ResourceArn": arn }))["Tags"].clone()
}

fn live_plans(emulator: &Emulator, region: &str) -> Vec<Value> {
    let out = emulator.aws_ok("backup", region, "ListBackupPlans", &json!({}));
    out["BackupPlansList"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["BackupPlanName"] == PLAN)
        .collect()
}

fn rule(emulator: &Emulator, region: &str, plan_id: &Value) -> Value {
    let plan = emulator.aws_ok(
        "backup",
        region,
        "GetBackupPlan",
        &json!({ "BackupPlanId": plan_id }),
    );
    let rules = plan["BackupPlan"]["Rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{plan:#}");
    rules[0].clone()
}

fn selection(emulator: &Emulator, region: &str, plan_id: &Value) -> Value {
    let list = emulator.aws_ok(
        "backup",
        region,
        "ListBackupSelections",
        &json!({ "BackupPlanId": plan_id }),
    );
    let selections = list["BackupSelectionsList"].as_array().unwrap();
    assert_eq!(selections.len(), 1, "{list:#}");
    emulator.aws_ok(
        "backup",
        region,
        "GetBackupSelection",
        &json!({ "BackupPlanId": plan_id, "SelectionId": selections[0]["SelectionId"] }),
    )
}

fn role(emulator: &Emulator) -> Option<Value> {
    match emulator.aws("iam", "us-east-1", "GetRole", &json!({ "RoleName": ROLE })) {
        Ok(out) => Some(out["Role"].clone()),
        Err(e) if e.code == "NoSuchEntity" => None,
        Err(e) => panic!("GetRole: {e}"),
    }
}

/// Both regions and the role hold what the state describes.
fn check_everything(
    emulator: &Emulator,
    state: &Value,
    schedule: &str,
    retention: u32,
    copy: u32,
    arns: &[&str],
    dr: &[&str],
) {
    for (region, role_tag, side) in REGIONS {
        let v = vault(emulator, region).unwrap_or_else(|| panic!("no vault in {region}"));
        assert_eq!(v["BackupVaultArn"], state[side]["vault_arn"], "{region}");
        assert!(v["BackupVaultArn"]
            .as_str()
            .unwrap()
            .contains(&format!(":backup:{region}:")));
        let key_arn = state[side]["kms_key_arn"].as_str().unwrap();
        assert!(key_arn.contains(&format!(":kms:{region}:")), "{key_arn}");
        assert_eq!(
            v["EncryptionKeyArn"], key_arn,
            "{region}: vault encrypted with its region's key"
        );
        let key = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": ALIAS }));
        assert_eq!(key["KeyMetadata"]["Arn"], key_arn);
        let tags = backup_tags(emulator, region, &v["BackupVaultArn"]);
        assert_eq!(tags["Environment"], "test", "{region}: {tags}");
        assert_eq!(tags["DR-Role"], role_tag, "{region}: {tags}");
        assert_eq!(tags["CostCenter"], "payments", "{region}: {tags}");
        assert_eq!(tags["drpair:owner"], OWNER, "{region}: {tags}");
    }
    // A plan in each region, backing up that region's resources into its vault and copying
    // them to the other region's vault.
    for (region, role_tag, side) in REGIONS {
        let other = if side == "primary" { "dr" } else { "primary" };
        let wanted: &[&str] = if side == "primary" { arns } else { dr };
        let plans = live_plans(emulator, region);
        if wanted.is_empty() {
            assert!(
                plans.is_empty(),
                "{region}: no plan without resources: {plans:#?}"
            );
            assert_eq!(state[side]["plan_id"], "", "{region}");
            assert_eq!(state[side]["selection_id"], "", "{region}");
            continue;
        }
        assert_eq!(plans.len(), 1, "{region}: {plans:#?}");
        assert_eq!(plans[0]["BackupPlanId"], state[side]["plan_id"], "{region}");
        assert_eq!(
            plans[0]["BackupPlanArn"], state[side]["plan_arn"],
            "{region}"
        );
        assert_eq!(plans[0]["VersionId"], state[side]["version_id"], "{region}");
        let tags = backup_tags(emulator, region, &plans[0]["BackupPlanArn"]);
        assert_eq!(tags["DR-Role"], role_tag, "{region}: {tags}");
        assert_eq!(tags["Environment"], "test", "{region}: {tags}");
        assert_eq!(tags["CostCenter"], "payments", "{region}: {tags}");
        assert_eq!(tags["drpair:owner"], OWNER, "{region}: {tags}");
        let r = rule(emulator, region, &state[side]["plan_id"]);
        assert_eq!(r["TargetBackupVaultName"], VAULT, "{region}");
        assert_eq!(r["ScheduleExpression"], schedule, "{region}");
        assert_eq!(r["Lifecycle"]["DeleteAfterDays"], retention, "{region}");
        let copies = r["CopyActions"].as_array().unwrap();
        assert_eq!(copies.len(), 1, "{region}: {r:#}");
        assert_eq!(
            copies[0]["DestinationBackupVaultArn"], state[other]["vault_arn"],
            "{region}: the copy action targets the other region's vault"
        );
        assert_eq!(copies[0]["Lifecycle"]["DeleteAfterDays"], copy, "{region}");

        let sel = selection(emulator, region, &state[side]["plan_id"]);
        assert_eq!(sel["SelectionId"], state[side]["selection_id"], "{region}");
        let mut resources: Vec<&str> = sel["BackupSelection"]["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        resources.sort();
        assert_eq!(resources, wanted, "{region}");
        assert_eq!(
            sel["BackupSelection"]["IamRoleArn"], state["role_arn"],
            "{region}: one role serves both regions"
        );
    }
    // The top-level ids are the primary region's plan's.
    for key in ["plan_id", "plan_arn", "version_id", "selection_id"] {
        assert_eq!(state[key], state["primary"][key], "{key}");
    }

    let role = role(emulator).expect("the backup role");
    assert_eq!(role["Arn"], state["role_arn"]);
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "backup.amazonaws.com"
    );
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"],
        json!({ "StringEquals": { "aws:SourceAccount": "123456789012" } }),
        "AWS Backup may assume the role only on behalf of this account"
    );
    let attached = emulator.aws_ok(
        "iam",
        "us-east-1",
        "ListAttachedRolePolicies",
        &json!({ "RoleName": ROLE }),
    );
    let mut policies: Vec<&str> = attached["AttachedPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["PolicyArn"].as_str())
        .collect();
    policies.sort();
    assert_eq!(
        policies,
        vec![
            "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
            "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
        ]
    );
    // No policy of its own: nothing with a wildcard action can hide there.
    let inline = emulator.aws_ok(
        "iam",
        "us-east-1",
        "ListRolePolicies",
        &json!({ "RoleName": ROLE }),
    );
    assert_eq!(inline["PolicyNames"], json!([]));
    let tags = emulator.aws_ok(
        "iam",
        "us-east-1",
        "ListRoleTags",
        &json!({ "RoleName": ROLE }),
    );
    assert!(
        tags["Tags"]
            .as_array()
            .unwrap()
            .contains(&json!({ "Key": "drpair:owner", "Value": OWNER })),
        "{tags}"
    );
}

#[test]
fn backup_plan_lifecycle() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, &base()));
    ws.init();

    // 1. Create, then check both regions and the role. With dr_resource_arns the plan does not
    //    warn that the DR region is unprotected.
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        !plan.combined().contains("The DR region is not backed up"),
        "{plan}"
    );
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert_eq!(state["id"], PLAN);
    assert_eq!(state["drift"], json!([]));
    assert_eq!(state["primary"]["vault_name"], VAULT);
    assert_eq!(state["dr"]["vault_name"], VAULT);
    assert_ne!(state["dr"]["plan_id"], "", "a plan in the DR region");
    check_everything(
        &emulator,
        &state,
        "cron(0 * * * ? *)",
        35,
        35,
        &[CLUSTER],
        &[DR_CLUSTER],
    );
    // The selections name roles IAM had just made: AWS Backup refused them until they had
    // propagated, and the apply waited.
    assert_refused(&emulator, "backup", "CreateBackupSelection");

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();

    // 3. Import by plan name into a fresh state gives the same values and an empty plan.
    ws.state_rm(ADDR);
    ws.import(ADDR, PLAN);
    let imported = ws.state_resource(ADDR);
    for key in [
        "id",
        "name_prefix",
        "resource_arns",
        "dr_resource_arns",
        "schedule",
        "retention_days",
        "copy_retention_days",
        "continuous_backup",
        "force_destroy",
        "plan_id",
        "plan_arn",
        "version_id",
        "role_arn",
        "selection_id",
        "tags_all",
        "primary",
        "dr",
        "drift",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    ws.assert_no_changes();

    // 4. Schedule, retentions, resources and tags change in place: the same plans and vaults, a
    //    new version of both plans, the primary selection replaced.
    let updated_body = body(
        &format!("\"{CLUSTER}\", \"{OTHER}\""),
        "cron(30 */6 * * ? *)",
        40,
        60,
        &format!("{}  tags = {{ Team = \"sre\" }}", dr_arns()),
    );
    ws.write_config(&config(&emulator.endpoint, &updated_body));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    ws.apply();
    let updated = ws.state_resource(ADDR);
    for side in ["primary", "dr"] {
        for key in ["vault_arn", "kms_key_arn", "plan_id", "plan_arn"] {
            assert_eq!(
                updated[side][key], state[side][key],
                "{side}.{key} must not be recreated"
            );
        }
        assert_ne!(
            updated[side]["version_id"], state[side]["version_id"],
            "{side}: a new plan version"
        );
    }
    assert_eq!(
        updated["dr"]["selection_id"], state["dr"]["selection_id"],
        "the DR selection did not change"
    );
    let mut both = [CLUSTER, OTHER];
    both.sort();
    check_everything(
        &emulator,
        &updated,
        "cron(30 */6 * * ? *)",
        40,
        60,
        &both,
        &[DR_CLUSTER],
    );
    let tags = backup_tags(&emulator, "us-east-2", &updated["dr"]["vault_arn"]);
    assert_eq!(tags["Team"], "sre", "{tags}");
    ws.assert_no_changes();

    // 5. Without dr_resource_arns the plan warns that the DR region is not backed up, and the
    //    DR plan goes (in place); given again, it comes back.
    let primary_only = body(
        &format!("\"{CLUSTER}\", \"{OTHER}\""),
        "cron(30 */6 * * ? *)",
        40,
        60,
        "  tags = { Team = \"sre\" }",
    );
    ws.write_config(&config(&emulator.endpoint, &primary_only));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.combined().contains("The DR region is not backed up"),
        "{plan}"
    );
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    ws.apply();
    let no_dr = ws.state_resource(ADDR);
    assert_eq!(no_dr["plan_id"], updated["plan_id"]);
    check_everything(
        &emulator,
        &no_dr,
        "cron(30 */6 * * ? *)",
        40,
        60,
        &both,
        &[],
    );
    ws.assert_no_changes();
    ws.write_config(&config(&emulator.endpoint, &updated_body));
    ws.apply();
    let updated = ws.state_resource(ADDR);
    check_everything(
        &emulator,
        &updated,
        "cron(30 */6 * * ? *)",
        40,
        60,
        &both,
        &[DR_CLUSTER],
    );
    ws.assert_no_changes();

    // 6. Continuous backup is planned with a warning that cross-region copies are snapshots.
    ws.write_config(&config(
        &emulator.endpoint,
        &body(
            &format!("\"{CLUSTER}\", \"{OTHER}\""),
            "cron(30 */6 * * ? *)",
            35,
            60,
            &format!(
                "{}  continuous_backup = true\n  tags = {{ Team = \"sre\" }}",
                dr_arns()
            ),
        ),
    ));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.combined()
            .contains("Cross-region copies of continuous backups are snapshots"),
        "{plan}"
    );
    ws.write_config(&config(&emulator.endpoint, &updated_body));

    // 7. Out of band: both selections deleted, the DR vault deleted, a policy detached from the
    //    role, the role's trust policy replaced by one without the aws:SourceAccount guard.
    //    Planned as a repair, naming the regions, repaired.
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "UpdateAssumeRolePolicy",
        &json!({
            "RoleName": ROLE,
            "PolicyDocument": json!({ "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "backup.amazonaws.com" },
                "Action": "sts:AssumeRole",
            }]}).to_string(),
        }),
    );
    for (region, side) in [("us-east-1", "primary"), ("us-east-2", "dr")] {
        emulator.aws_ok(
            "backup",
            region,
            "DeleteBackupSelection",
            &json!({ "BackupPlanId": updated[side]["plan_id"], "SelectionId": updated[side]["selection_id"] }),
        );
    }
    emulator.aws_ok(
        "backup",
        "us-east-2",
        "DeleteBackupVault",
        &json!({ "BackupVaultName": VAULT }),
    );
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "DetachRolePolicy",
        &json!({ "RoleName": ROLE, "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores" }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "out-of-band deletions must plan a repair: {plan}");
    for expected in [
        format!("us-east-2: backup vault {VAULT} is missing"),
        format!("us-east-1: backup plan {PLAN}: selection drpair-selection is missing"),
        format!("us-east-2: backup plan {PLAN}: selection drpair-selection is missing"),
        format!("IAM role {ROLE}: policy arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores is not attached"),
        format!("IAM role {ROLE}: trust policy differs"),
    ] {
        assert!(plan.stdout.contains(&expected), "expected {expected:?}: {plan}");
    }
    ws.apply();
    let repaired = ws.state_resource(ADDR);
    assert_eq!(repaired["drift"], json!([]));
    assert_eq!(repaired["plan_id"], updated["plan_id"]);
    assert_eq!(repaired["dr"]["plan_id"], updated["dr"]["plan_id"]);
    assert_eq!(
        repaired["dr"]["vault_arn"], updated["dr"]["vault_arn"],
        "the same deterministic ARN"
    );
    check_everything(
        &emulator,
        &repaired,
        "cron(30 */6 * * ? *)",
        40,
        60,
        &both,
        &[DR_CLUSTER],
    );
    ws.assert_no_changes();

    // 8. Backups in both regions, each copied where its plan's copy action points: a cluster's
    //    backup keeps the cluster's key, the copy is encrypted with the destination vault's key.
    for (region, side, arn) in [
        ("us-east-1", "primary", CLUSTER),
        ("us-east-2", "dr", DR_CLUSTER),
    ] {
        let other = if side == "primary" { "dr" } else { "primary" };
        let cluster_key = aurora_cluster(&emulator, region, arn);
        let job = emulator.aws_ok(
            "backup",
            region,
            "StartBackupJob",
            &json!({ "BackupVaultName": VAULT, "ResourceArn": arn, "IamRoleArn": repaired["role_arn"] }),
        );
        let point = emulator.aws_ok(
            "backup",
            region,
            "DescribeRecoveryPoint",
            &json!({ "BackupVaultName": VAULT, "RecoveryPointArn": job["RecoveryPointArn"] }),
        );
        assert_eq!(point["EncryptionKeyArn"], cluster_key, "{region}");
        let destination = rule(&emulator, region, &repaired[side]["plan_id"])["CopyActions"][0]
            ["DestinationBackupVaultArn"]
            .clone();
        emulator.aws_ok(
            "backup",
            region,
            "StartCopyJob",
            &json!({
                "RecoveryPointArn": job["RecoveryPointArn"],
                "SourceBackupVaultName": VAULT,
                "DestinationBackupVaultArn": destination,
                "IamRoleArn": repaired["role_arn"],
            }),
        );
        let other_region = repaired[other]["region"].as_str().unwrap();
        let copies = emulator.aws_ok(
            "backup",
            other_region,
            "ListRecoveryPointsByBackupVault",
            &json!({ "BackupVaultName": VAULT, "ByResourceArn": arn }),
        );
        let copies = copies["RecoveryPoints"].as_array().unwrap();
        assert_eq!(copies.len(), 1, "{region} -> {other_region}: {copies:#?}");
        assert_eq!(
            copies[0]["EncryptionKeyArn"], repaired[other]["kms_key_arn"],
            "{region} -> {other_region}: the copy is encrypted with the destination vault's key"
        );
    }
    ws.assert_no_changes();

    // 9. Destroy while the vaults hold backups is refused before anything is deleted: both
    //    plans, both vaults and both keys stay as they were.
    let refused = ws.tf(&["destroy", "-auto-approve", "-input=false"]);
    assert!(!refused.success(), "{refused}");
    let text = refused
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        "us-east-1: 2 recovery points",
        "us-east-2: 2 recovery points",
        "Nothing was deleted",
        "force_destroy = true",
    ] {
        assert!(text.contains(expected), "expected {expected:?}: {text}");
    }
    assert_eq!(ws.state_addresses(), vec![ADDR.to_string()]);
    for (region, side) in [("us-east-1", "primary"), ("us-east-2", "dr")] {
        assert_eq!(
            live_plans(&emulator, region).len(),
            1,
            "{region}: plan kept"
        );
        assert_eq!(
            vault(&emulator, region).expect("vault kept")["NumberOfRecoveryPoints"],
            2,
            "{region}"
        );
        let key = emulator.aws_ok(
            "kms",
            region,
            "DescribeKey",
            &json!({ "KeyId": repaired[side]["kms_key_arn"] }),
        );
        assert_eq!(key["KeyMetadata"]["KeyState"], "Enabled", "{region}");
    }
    // Terraform drops the outputs of a failed destroy; the resource itself needs nothing.
    let again = ws.apply();
    assert!(
        again.stdout.contains("0 added, 0 changed, 0 destroyed"),
        "{again}"
    );
    ws.assert_no_changes();

    // 10. With force_destroy (changed in place, nothing in AWS), destroy empties the vaults and
    //     leaves no plan, vault, role or alias; the keys only pending deletion, for 30 days.
    //     Twice is fine.
    ws.write_config(&config(
        &emulator.endpoint,
        &body(
            &format!("\"{CLUSTER}\", \"{OTHER}\""),
            "cron(30 */6 * * ? *)",
            40,
            60,
            &format!(
                "{}  force_destroy = true\n  tags = {{ Team = \"sre\" }}",
                dr_arns()
            ),
        ),
    ));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    ws.apply();
    ws.destroy();
    assert!(role(&emulator).is_none(), "role left");
    for (region, _, _) in REGIONS {
        assert!(
            live_plans(&emulator, region).is_empty(),
            "{region}: plan left"
        );
        assert!(vault(&emulator, region).is_none(), "{region}: vault left");
        let aliases = emulator.aws_ok("kms", region, "ListAliases", &json!({}));
        assert!(
            !aliases["Aliases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["AliasName"] == ALIAS),
            "{region}: alias left"
        );
        let key = state_key(&repaired, region);
        let meta = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": key }));
        assert_eq!(
            meta["KeyMetadata"]["KeyState"], "PendingDeletion",
            "{region}"
        );
        let days = days_until_deletion(&emulator, &meta);
        assert!(
            (29.9..=30.1).contains(&days),
            "{region}: deletion in {days} days, expected 30"
        );
    }
    ws.destroy();
}

/// A standalone Aurora PostgreSQL cluster of that ARN, encrypted with a key of its own (the
/// backup plan's tests need a resource for AWS Backup to back up); returns the key's ARN.
/// That `service` refused `operation` at least once because IAM had not propagated a role yet.
pub fn assert_refused(emulator: &Emulator, service: &str, operation: &str) {
    let answer = crate::orchestrator_acc::stack::control(
        emulator,
        "GET",
        "/_drpair/iam-propagation",
        &json!({}),
    );
    let refused = answer["refusals"].as_array().is_some_and(|all| {
        all.iter()
            .any(|r| r["service"] == service && r["operation"] == operation)
    });
    assert!(refused, "no {service} {operation} refusal: {answer}");
}

fn aurora_cluster(emulator: &Emulator, region: &str, arn: &str) -> Value {
    let key = emulator.aws_ok(
        "kms",
        region,
        "CreateKey",
        &json!({ "Description": format!("cluster key for {arn}") }),
    )["KeyMetadata"]["Arn"]
        .clone();
    emulator.aws_ok(
        "rds",
        region,
        "CreateDBCluster",
        &json!({
            "DBClusterIdentifier": arn.rsplit(':').next().unwrap(),
            "Engine": "aurora-postgresql",
            "EngineVersion": "14.9",
            "MasterUsername": "payments_admin",
            "MasterUserPassword": "not-a-real-password-1",
            "StorageEncrypted": true,
            "KmsKeyId": key,
        }),
    );
    key
}

/// Days from the emulator's modeled now to a key's DeletionDate (DescribeKey's KeyMetadata).
pub fn days_until_deletion(emulator: &Emulator, describe_key: &Value) -> f64 {
    let date = describe_key["KeyMetadata"]["DeletionDate"]
        .as_str()
        .unwrap_or_else(|| panic!("no DeletionDate: {describe_key}"));
    let now =
        crate::orchestrator_acc::stack::control(emulator, "GET", "/_drpair/clock", &json!({}))
            ["epoch"]
            .as_f64()
            .unwrap();
    (epoch_of(date) - now) / DAY
}

/// Seconds since the epoch of boto3's rendering of a UTC timestamp,
/// `YYYY-MM-DD HH:MM:SS[.ffffff]+00:00`.
fn epoch_of(text: &str) -> f64 {
    let field = |range: std::ops::Range<usize>| -> i64 {
        text.get(range)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("not a timestamp: {text:?}"))
    };
    let (y, m, d) = (field(0..4), field(5..7), field(8..10));
    let (hh, mm, ss) = (field(11..13), field(14..16), field(17..19));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86400 + hh * 3600 + mm * 60 + ss) as f64
}

fn state_key(state: &Value, region: &str) -> String {
    let side = if region == "us-east-1" {
        "primary"
    } else {
        "dr"
    };
    state[side]["kms_key_arn"].as_str().unwrap().to_owned()
}

#[test]
fn bad_backup_plan_input_fails_at_plan_naming_the_attribute() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, &base()));
    ws.init();
    let arn = format!("\"{CLUSTER}\"");
    let cases = [
        (
            body(&arn, "rate(1 hour)", 35, 35, ""),
            "Invalid schedule expression",
            "use cron(0 * * * ? *)",
        ),
        (
            body(&arn, "cron(0 5 * * *)", 35, 35, ""),
            "Invalid schedule expression",
            "schedule            = \"cron(0 5 * * *)\"",
        ),
        (
            body(&arn, "cron(*/5 * * * ? *)", 35, 35, ""),
            "at most once an hour",
            "schedule",
        ),
        (
            body(&arn, "cron(0 5 * * ? *)", 0, 35, ""),
            "Invalid retention",
            "retention_days      = 0",
        ),
        (
            body(&arn, "cron(0 5 * * ? *)", 35, 0, ""),
            "Invalid retention",
            "copy_retention_days = 0",
        ),
        (
            body(
                &arn,
                "cron(0 5 * * ? *)",
                40,
                35,
                "  continuous_backup = true",
            ),
            "Retention too long for continuous backup",
            "retention_days      = 40",
        ),
        (
            body(
                "\"arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-test\"",
                "cron(0 5 * * ? *)",
                35,
                35,
                "",
            ),
            "Resource outside the primary region",
            "resource_arns",
        ),
        (
            body(
                &arn,
                "cron(0 5 * * ? *)",
                35,
                35,
                &format!("  dr_resource_arns    = [\"{CLUSTER}\"]"),
            ),
            "Resource outside the DR region",
            "dr_resource_arns",
        ),
        (
            body(
                &arn,
                "cron(0 5 * * ? *)",
                35,
                35,
                "  dr_resource_arns    = []",
            ),
            "No DR resources to back up",
            "dr_resource_arns    = []",
        ),
        (
            body(&arn, "cron(0 5 * * ? *)", 35, 35, "  vault_lock = { mode = \"strict\" }"),
            "Invalid vault lock mode",
            "vault_lock",
        ),
        (
            body(
                &arn,
                "cron(0 5 * * ? *)",
                35,
                35,
                "  vault_lock = { mode = \"compliance\", changeable_for_days = 2 }",
            ),
            "Grace time too short",
            "vault_lock",
        ),
        (
            body(&arn, "cron(0 5 * * ? *)", 35, 35, "  vault_lock = { mode = \"compliance\" }"),
            "Compliance lock without a grace time",
            "vault_lock",
        ),
        (
            body(
                &arn,
                "cron(0 5 * * ? *)",
                35,
                35,
                "  vault_lock = { mode = \"governance\", changeable_for_days = 3 }",
            ),
            "Grace time on a governance lock",
            "vault_lock",
        ),
        (
            body(
                &arn,
                "cron(0 5 * * ? *)",
                35,
                35,
                "  vault_lock = { mode = \"governance\", min_retention_days = 0, max_retention_days = 40000 }",
            ),
            "Invalid vault lock retention",
            "vault_lock",
        ),
        (
            body(
                &arn,
                "cron(0 5 * * ? *)",
                35,
                100,
                "  vault_lock = { mode = \"governance\", min_retention_days = 7, max_retention_days = 90 }",
            ),
            "Retention outside the vault lock",
            "copy_retention_days = 100",
        ),
        (
            body(
                &arn,
                "cron(0 5 * * ? *)",
                5,
                35,
                "  vault_lock = { mode = \"governance\", min_retention_days = 7 }",
            ),
            "shorter than the lock's min_retention_days (7)",
            "retention_days      = 5",
        ),
        (
            body(&arn, "cron(0 5 * * ? *)", 35, 35, "  protect_recovery_points = false"),
            "Administrators without the vault access policy",
            "recovery_point_admin_arns",
        ),
    ];
    for (b, summary, source_line) in cases {
        ws.write_config(&config(&emulator.endpoint, &b));
        let (code, out) = ws.plan_exit_code();
        assert_eq!(code, 1, "{summary}: {out}");
        let text = out.combined();
        // Terraform wraps details at 80 columns.
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(summary), "expected {summary:?}: {text}");
        assert!(
            text.contains(source_line),
            "expected {source_line:?}: {text}"
        );
    }

    // A DR vault of that name that drpair does not own is refused before anything is made.
    emulator.aws_ok(
        "backup",
        "us-east-2",
        "CreateBackupVault",
        &json!({ "BackupVaultName": VAULT }),
    );
    ws.write_config(&config(&emulator.endpoint, &base()));
    let out = ws.apply_expect_error();
    assert!(
        out.combined().contains("terraform import"),
        "expected advice to import: {out}"
    );
    assert!(ws.state_addresses().is_empty(), "nothing may be in state");
    assert!(
        vault(&emulator, "us-east-1").is_none(),
        "no primary vault was made"
    );
    assert!(
        live_plans(&emulator, "us-east-1").is_empty()
            && live_plans(&emulator, "us-east-2").is_empty(),
        "no plan was made"
    );
    assert!(role(&emulator).is_none(), "no role was made");
    assert!(
        vault(&emulator, "us-east-2").is_some(),
        "the foreign vault stays"
    );
}

/// Credentials of a session of a new role `name` that the account may assume (an
/// administrator or an operator, in the tests below): (role ARN, access key, secret, token).
fn assume_new_role(emulator: &Emulator, name: &str) -> (String, String, String, String) {
    let trust = json!({ "Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": { "AWS": "arn:aws:iam::123456789012:root" },
        "Action": "sts:AssumeRole",
    }]});
    let arn = emulator.aws_ok(
        "iam",
        "us-east-1",
        "CreateRole",
        &json!({ "RoleName": name, "AssumeRolePolicyDocument": trust.to_string() }),
    )["Role"]["Arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let creds = emulator.aws_ok(
        "sts",
        "us-east-1",
        "AssumeRole",
        &json!({ "RoleArn": arn, "RoleSessionName": "acceptance" }),
    )["Credentials"]
        .clone();
    let field = |k: &str| creds[k].as_str().unwrap().to_owned();
    (
        arn,
        field("AccessKeyId"),
        field("SecretAccessKey"),
        field("SessionToken"),
    )
}

/// One AWS call signed with other credentials than the tests' own: Ok(answer) or Err(code).
fn aws_as(
    emulator: &Emulator,
    creds: &(String, String, String, String),
    service: &str,
    region: &str,
    method: &str,
    params: &Value,
) -> Result<Value, String> {
    const CALL: &str = r#"
import json, sys
import boto3
from botocore.exceptions import ClientError
endpoint, service, region, method, key, secret, token = sys.argv[1:8]
client = boto3.client(service, region_name=region, endpoint_url=endpoint, aws_access_key_id=key,
                      aws_secret_access_key=secret, aws_session_token=token)
try:
    out = getattr(client, method)(**json.loads(sys.stdin.read()))
    out.pop("ResponseMetadata", None)
    print(json.dumps({"ok": out}, default=str))
except ClientError as e:
    print(json.dumps({"error": e.response["Error"]["Code"]}))
"#;
    use std::io::Write;
    let mut child =
        std::process::Command::new(crate::harness::repo_root().join(".venv/bin/python"))
            .args([
                "-c",
                CALL,
                &emulator.endpoint,
                service,
                region,
                method,
                &creds.1,
                &creds.2,
                &creds.3,
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(params.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let answer: Value = serde_json::from_slice(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("{}")
            .as_bytes(),
    )
    .unwrap_or_else(|_| panic!("{method}: {}", String::from_utf8_lossy(&out.stdout)));
    match answer.get("ok") {
        Some(ok) => Ok(ok.clone()),
        None => Err(answer["error"].as_str().unwrap_or_default().to_owned()),
    }
}

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn backup_plan_vault_lock_and_access_policy() {
    let emulator = Emulator::start();
    let mut ws = Workspace::new(&emulator);
    let admin = assume_new_role(&emulator, "backup-admin");
    let lock = "  vault_lock = { mode = \"governance\", min_retention_days = 7, max_retention_days = 90 }\n";
    let protected = |extra: &str| {
        format!(
            "  resource_arns       = [\"{CLUSTER}\"]\n  schedule            = \"cron(0 * * * ? *)\"\n  retention_days      = 35\n  copy_retention_days = 35\n{}  recovery_point_admin_arns = [\"{}\"]\n{extra}",
            dr_arns(),
            admin.0
        )
    };
    ws.write_config(&config(&emulator.endpoint, &protected(lock)));
    ws.init();

    // 1. Both vaults are locked (governance: no lock date), carry the access policy denying
    //    recovery point deletion to all but the root and the administrator, and their keys are
    //    used only through AWS Backup and RDS of their region from this account.
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert_eq!(state["drift"], json!([]));
    assert_eq!(state["protect_recovery_points"], true);
    for (region, side, _) in REGIONS {
        assert_eq!(
            state[side]["lock_date"], "",
            "{region}: governance has no lock date"
        );
        let v = vault(&emulator, region).expect("vault");
        assert_eq!(v["Locked"], true, "{region}: {v}");
        assert_eq!(v["MinRetentionDays"], 7, "{region}");
        assert_eq!(v["MaxRetentionDays"], 90, "{region}");
        let policy = emulator.aws_ok(
            "backup",
            region,
            "GetBackupVaultAccessPolicy",
            &json!({ "BackupVaultName": VAULT }),
        );
        let policy: Value = serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Effect"], "Deny", "{policy}");
        assert!(statement["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("backup:DeleteRecoveryPoint")));
        assert_eq!(
            statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"],
            json!([admin.0, "arn:aws:iam::123456789012:root"]),
            "{region}"
        );
        let key_policy = emulator.aws_ok(
            "kms",
            region,
            "GetKeyPolicy",
            &json!({ "KeyId": state[side]["kms_key_arn"], "PolicyName": "default" }),
        );
        let key_policy: Value =
            serde_json::from_str(key_policy["Policy"].as_str().unwrap()).unwrap();
        let text = key_policy.to_string();
        assert!(
            text.contains(&format!("backup.{region}.amazonaws.com"))
                && text.contains(&format!("rds.{region}.amazonaws.com"))
                && text.contains("kms:CallerAccount"),
            "{region}: {key_policy:#}"
        );
        assert!(!text.contains("\"kms:*\""), "{region}: {key_policy:#}");
    }
    ws.assert_no_changes();

    // 2. A backup in the primary vault: nobody but the administrator may delete it, and while
    //    the vault is locked not even the administrator.
    aurora_cluster(&emulator, "us-east-1", CLUSTER);
    let job = emulator.aws_ok(
        "backup",
        "us-east-1",
        "StartBackupJob",
        &json!({ "BackupVaultName": VAULT, "ResourceArn": CLUSTER, "IamRoleArn": state["role_arn"], "Lifecycle": { "DeleteAfterDays": 35 } }),
    );
    let point = json!({ "BackupVaultName": VAULT, "RecoveryPointArn": job["RecoveryPointArn"] });
    let refused = emulator
        .aws("backup", "us-east-1", "DeleteRecoveryPoint", &point)
        .unwrap_err();
    assert_eq!(refused.code, "AccessDeniedException", "{refused:?}");
    let operator = assume_new_role(&emulator, "operator");
    assert_eq!(
        aws_as(
            &emulator,
            &operator,
            "backup",
            "us-east-1",
            "delete_recovery_point",
            &point
        ),
        Err("AccessDeniedException".into())
    );
    assert_eq!(
        aws_as(
            &emulator,
            &admin,
            "backup",
            "us-east-1",
            "delete_recovery_point",
            &point
        ),
        Err("InvalidRequestException".into()),
        "a locked vault keeps its recovery points even from the administrator"
    );
    // A backup kept longer than the lock allows fails.
    let too_long = emulator.aws_ok(
        "backup",
        "us-east-1",
        "StartBackupJob",
        &json!({ "BackupVaultName": VAULT, "ResourceArn": CLUSTER, "IamRoleArn": state["role_arn"], "Lifecycle": { "DeleteAfterDays": 365 } }),
    );
    let described = emulator.aws_ok(
        "backup",
        "us-east-1",
        "DescribeBackupJob",
        &json!({ "BackupJobId": too_long["BackupJobId"] }),
    );
    assert_eq!(described["State"], "FAILED", "{described}");

    // 3. Out of band: the administrator removes the DR vault's access policy, someone removes
    //    the primary vault's (governance) lock. Planned as a repair naming both, repaired.
    aws_as(
        &emulator,
        &admin,
        "backup",
        "us-east-2",
        "delete_backup_vault_access_policy",
        &json!({ "BackupVaultName": VAULT }),
    )
    .unwrap();
    emulator.aws_ok(
        "backup",
        "us-east-1",
        "DeleteBackupVaultLockConfiguration",
        &json!({ "BackupVaultName": VAULT }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    for expected in [
        format!("us-east-2: backup vault {VAULT} has no access policy protecting its recovery points"),
        format!("us-east-1: backup vault {VAULT} has no vault lock, expected governance (min 7, max 90 days)"),
    ] {
        assert!(plan.stdout.contains(&expected), "expected {expected:?}: {plan}");
    }
    ws.apply();
    assert_eq!(ws.state_resource(ADDR)["drift"], json!([]));
    assert_eq!(vault(&emulator, "us-east-1").unwrap()["Locked"], true);
    emulator.aws_ok(
        "backup",
        "us-east-2",
        "GetBackupVaultAccessPolicy",
        &json!({ "BackupVaultName": VAULT }),
    );
    ws.assert_no_changes();

    // 4. force_destroy of a locked vault holding a recovery point is refused before anything
    //    is deleted, saying how to proceed.
    ws.write_config(&config(
        &emulator.endpoint,
        &protected(&format!("{lock}  force_destroy = true\n")),
    ));
    ws.apply();
    let refused = ws.tf(&["destroy", "-auto-approve", "-input=false"]);
    assert!(!refused.success(), "{refused}");
    let text = flat(&refused.combined());
    for expected in [
        "locked in governance mode",
        "Remove vault_lock",
        "Nothing was deleted",
    ] {
        assert!(text.contains(expected), "expected {expected:?}: {text}");
    }
    assert_eq!(
        vault(&emulator, "us-east-1").unwrap()["NumberOfRecoveryPoints"],
        1
    );
    assert_eq!(live_plans(&emulator, "us-east-1").len(), 1, "plan kept");

    // 5. Without the lock, force_destroy as a principal the access policy does not exempt (the
    //    tests' own caller) is refused too, naming the caller and the administrators.
    ws.write_config(&config(
        &emulator.endpoint,
        &protected("  force_destroy = true\n"),
    ));
    ws.apply();
    assert_eq!(vault(&emulator, "us-east-1").unwrap()["Locked"], false);
    let refused = ws.tf(&["destroy", "-auto-approve", "-input=false"]);
    assert!(!refused.success(), "{refused}");
    let text = flat(&refused.combined());
    for expected in [
        "denies backup:DeleteRecoveryPoint to arn:aws:sts::123456789012:user/moto",
        admin.0.as_str(),
        "Nothing was deleted",
    ] {
        assert!(text.contains(expected), "expected {expected:?}: {text}");
    }
    assert_eq!(
        vault(&emulator, "us-east-1").unwrap()["NumberOfRecoveryPoints"],
        1
    );

    // 6. Run as the administrator, destroy deletes the recovery point and everything else.
    ws.set_env("AWS_ACCESS_KEY_ID", &admin.1);
    ws.set_env("AWS_SECRET_ACCESS_KEY", &admin.2);
    ws.set_env("AWS_SESSION_TOKEN", &admin.3);
    ws.destroy();
    for (region, _, _) in REGIONS {
        assert!(vault(&emulator, region).is_none(), "{region}: vault left");
        assert!(
            live_plans(&emulator, region).is_empty(),
            "{region}: plan left"
        );
    }
}

#[test]
fn backup_plan_compliance_lock_cannot_be_removed_after_its_lock_date() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let compliance = "  vault_lock = { mode = \"compliance\", min_retention_days = 7, changeable_for_days = 3 }\n";
    ws.write_config(&config(
        &emulator.endpoint,
        &format!("{}{compliance}", base()),
    ));
    ws.init();
    ws.apply();
    let state = ws.state_resource(ADDR);
    for (region, side, _) in REGIONS {
        let v = vault(&emulator, region).unwrap();
        assert_eq!(v["Locked"], true, "{region}");
        assert!(
            v["LockDate"].is_string(),
            "{region}: compliance has a lock date: {v}"
        );
        assert_ne!(state[side]["lock_date"], "", "{region}");
    }
    ws.assert_no_changes();
    // Past the lock date (the emulator's clock; drpair reads the date AWS reports), removing
    // the lock is refused by AWS with a clear error, and the vaults stay locked.
    crate::orchestrator_acc::stack::control(
        &emulator,
        "POST",
        "/_drpair/clock",
        &json!({ "advance": 3 * 86400 + 60 }),
    );
    ws.write_config(&config(&emulator.endpoint, &base()));
    let out = ws.apply_expect_error();
    let text = flat(&out.combined());
    assert!(
        text.contains("compliance mode") && text.contains("immutable"),
        "expected the immutable-lock error: {text}"
    );
    for (region, _, _) in REGIONS {
        assert_eq!(
            vault(&emulator, region).unwrap()["Locked"],
            true,
            "{region}"
        );
    }
    // Back to the lock: nothing to change; an empty locked vault can be destroyed.
    ws.write_config(&config(
        &emulator.endpoint,
        &format!("{}{compliance}", base()),
    ));
    ws.apply();
    ws.destroy();
    for (region, _, _) in REGIONS {
        assert!(vault(&emulator, region).is_none(), "{region}: vault left");
    }
}
