//! drpair_backup_plan through the real Terraform CLI against the emulator, as numbered steps:
//! create and check both regions (vaults encrypted with their region's key, the plan's rule
//! copying to the DR vault's ARN, the selection, the role with exactly the AWS-managed backup
//! and restore policies), empty plan, import, in-place update not recreating the plan or the
//! vaults, the continuous-backup warning, out-of-band deletions repaired, destroy leaving
//! nothing; and the plan-time errors of bad input.

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const ADDR: &str = "drpair_backup_plan.db";
const PLAN: &str = "drpair-backup-plan-v2-test";
const VAULT: &str = "drpair-backup-vault-v2-test";
const ROLE: &str = "drpair-backup-v2-test";
const ALIAS: &str = "alias/drpair-backup-vault-v2-test";
const OWNER: &str = "drpair_backup_plan/drpair-backup-plan-v2-test";
const CLUSTER: &str = "arn:aws:rds:us-east-1:123456789012:cluster:primary-db-cluster-v2-test";
const OTHER: &str = "arn:aws:rds:us-east-1:123456789012:cluster:reports-v2-test";
const REGIONS: [(&str, &str, &str); 2] = [
    ("us-east-1", "primary", "primary"),
    ("us-east-2", "dr", "dr"),
];

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

fn body(arns: &str, schedule: &str, retention: u32, copy: u32, extra: &str) -> String {
    format!(
        r#"  resource_arns       = [{arns}]
  schedule            = "{schedule}"
  retention_days      = {retention}
  copy_retention_days = {copy}
{extra}"#
    )
}

fn base() -> String {
    body(&format!("\"{CLUSTER}\""), "cron(0 * * * ? *)", 35, 35, "")
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

fn live_plans(emulator: &Emulator) -> Vec<Value> {
    let out = emulator.aws_ok("backup", "us-east-1", "ListBackupPlans", &json!({}));
    out["BackupPlansList"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p["BackupPlanName"] == PLAN)
        .collect()
}

fn rule(emulator: &Emulator, plan_id: &Value) -> Value {
    let plan = emulator.aws_ok(
        "backup",
        "us-east-1",
        "GetBackupPlan",
        &json!({ "BackupPlanId": plan_id }),
    );
    let rules = plan["BackupPlan"]["Rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{plan:#}");
    rules[0].clone()
}

fn selection(emulator: &Emulator, plan_id: &Value) -> Value {
    let list = emulator.aws_ok(
        "backup",
        "us-east-1",
        "ListBackupSelections",
        &json!({ "BackupPlanId": plan_id }),
    );
    let selections = list["BackupSelectionsList"].as_array().unwrap();
    assert_eq!(selections.len(), 1, "{list:#}");
    emulator.aws_ok(
        "backup",
        "us-east-1",
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
    let plans = live_plans(emulator);
    assert_eq!(plans.len(), 1, "{plans:#?}");
    assert_eq!(plans[0]["BackupPlanId"], state["plan_id"]);
    let tags = backup_tags(emulator, "us-east-1", &plans[0]["BackupPlanArn"]);
    assert_eq!(tags["DR-Role"], "primary", "{tags}");
    assert_eq!(tags["Environment"], "test", "{tags}");
    let r = rule(emulator, &state["plan_id"]);
    assert_eq!(r["TargetBackupVaultName"], VAULT);
    assert_eq!(r["ScheduleExpression"], schedule);
    assert_eq!(r["Lifecycle"]["DeleteAfterDays"], retention);
    let copies = r["CopyActions"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "{r:#}");
    assert_eq!(
        copies[0]["DestinationBackupVaultArn"], state["dr"]["vault_arn"],
        "the copy action targets the DR vault's ARN"
    );
    assert!(copies[0]["DestinationBackupVaultArn"]
        .as_str()
        .unwrap()
        .contains(":backup:us-east-2:"));
    assert_eq!(copies[0]["Lifecycle"]["DeleteAfterDays"], copy);

    let sel = selection(emulator, &state["plan_id"]);
    assert_eq!(sel["SelectionId"], state["selection_id"]);
    let mut resources: Vec<&str> = sel["BackupSelection"]["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    resources.sort();
    assert_eq!(resources, arns);
    assert_eq!(sel["BackupSelection"]["IamRoleArn"], state["role_arn"]);

    let role = role(emulator).expect("the backup role");
    assert_eq!(role["Arn"], state["role_arn"]);
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "backup.amazonaws.com"
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

    // 1. Create, then check both regions and the role.
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert_eq!(state["id"], PLAN);
    assert_eq!(state["drift"], json!([]));
    assert_eq!(state["primary"]["vault_name"], VAULT);
    assert_eq!(state["dr"]["vault_name"], VAULT);
    check_everything(&emulator, &state, "cron(0 * * * ? *)", 35, 35, &[CLUSTER]);

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

    // 4. Schedule, retentions, resources and tags change in place: same plan and vaults, a new
    //    plan version, the selection replaced.
    let updated_body = body(
        &format!("\"{CLUSTER}\", \"{OTHER}\""),
        "cron(30 */6 * * ? *)",
        40,
        60,
        "  tags = { Team = \"sre\" }",
    );
    ws.write_config(&config(&emulator.endpoint, &updated_body));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    ws.apply();
    let updated = ws.state_resource(ADDR);
    assert_eq!(
        updated["plan_id"], state["plan_id"],
        "the plan must not be recreated"
    );
    assert_ne!(
        updated["version_id"], state["version_id"],
        "a new plan version"
    );
    for side in ["primary", "dr"] {
        assert_eq!(updated[side], state[side], "{side} must not be recreated");
    }
    let mut both = [CLUSTER, OTHER];
    both.sort();
    check_everything(&emulator, &updated, "cron(30 */6 * * ? *)", 40, 60, &both);
    let tags = backup_tags(&emulator, "us-east-2", &updated["dr"]["vault_arn"]);
    assert_eq!(tags["Team"], "sre", "{tags}");
    ws.assert_no_changes();

    // 5. Continuous backup is planned with a warning that DR copies are snapshots.
    ws.write_config(&config(
        &emulator.endpoint,
        &body(
            &format!("\"{CLUSTER}\", \"{OTHER}\""),
            "cron(30 */6 * * ? *)",
            35,
            60,
            "  continuous_backup = true\n  tags = { Team = \"sre\" }",
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

    // 6. Out of band: the selection deleted, the DR vault deleted, a policy detached from the
    //    role. Planned as a repair, repaired.
    emulator.aws_ok(
        "backup",
        "us-east-1",
        "DeleteBackupSelection",
        &json!({ "BackupPlanId": updated["plan_id"], "SelectionId": updated["selection_id"] }),
    );
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
        format!("backup plan {PLAN}: selection drpair-selection is missing"),
        format!("IAM role {ROLE}: policy arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores is not attached"),
    ] {
        assert!(plan.stdout.contains(&expected), "expected {expected:?}: {plan}");
    }
    ws.apply();
    let repaired = ws.state_resource(ADDR);
    assert_eq!(repaired["drift"], json!([]));
    assert_eq!(repaired["plan_id"], updated["plan_id"]);
    assert_eq!(
        repaired["dr"]["vault_arn"], updated["dr"]["vault_arn"],
        "the same deterministic ARN"
    );
    check_everything(&emulator, &repaired, "cron(30 */6 * * ? *)", 40, 60, &both);
    ws.assert_no_changes();

    // 7. Destroy leaves no vault, plan, role or alias, and keys only as PendingDeletion;
    //    twice is fine.
    ws.destroy();
    assert!(live_plans(&emulator).is_empty(), "plan left");
    assert!(role(&emulator).is_none(), "role left");
    for (region, _, _) in REGIONS {
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
    }
    ws.destroy();
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
    assert!(live_plans(&emulator).is_empty(), "no plan was made");
    assert!(role(&emulator).is_none(), "no role was made");
    assert!(
        vault(&emulator, "us-east-2").is_some(),
        "the foreign vault stays"
    );
}
