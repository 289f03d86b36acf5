//! Destroy keeps every KMS key an AWS Backup recovery point still needs (issue 12, item 5):
//! Aurora is not fully managed by AWS Backup, so a backup of a cluster is encrypted with the
//! cluster's own key and outlives the cluster; scheduling that key's deletion would make the
//! backup unrestorable when the window ends. Keys nothing needs are scheduled for deletion with
//! the 30-day window.

use super::checks::{cluster, default_subnets, global, hcl_list};
use super::{database, Db, ADDR, REGIONS};
use crate::backup_plan_acc::days_until_deletion;
use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const VAULT: &str = "reports-vault-test";
const ROLE: &str = "reports-backup-test";

/// A backup vault of this test's own (not drpair's) in `region`, encrypted with a key of its
/// own; returns the vault's ARN and key ARN.
fn vault(emulator: &Emulator, region: &str) -> (Value, Value) {
    let key = emulator.aws_ok(
        "kms",
        region,
        "CreateKey",
        &json!({ "Description": "reports vault" }),
    )["KeyMetadata"]["Arn"]
        .clone();
    let vault = emulator.aws_ok(
        "backup",
        region,
        "CreateBackupVault",
        &json!({ "BackupVaultName": VAULT, "EncryptionKeyArn": key }),
    )["BackupVaultArn"]
        .clone();
    (vault, key)
}

fn backup_role(emulator: &Emulator) -> Value {
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Principal": { "Service": "backup.amazonaws.com" }, "Action": "sts:AssumeRole" }],
    });
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "CreateRole",
        &json!({ "RoleName": ROLE, "AssumeRolePolicyDocument": trust.to_string() }),
    )["Role"]["Arn"]
        .clone()
}

#[test]
fn global_database_destroy_keeps_keys_of_backup_recovery_points() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let (p, d) = (
        default_subnets(&emulator, "us-east-1", 2),
        default_subnets(&emulator, "us-east-2", 2),
    );
    let db = Db {
        primary_count: 1,
        skip_final_snapshot: true,
        ..Db::default()
    };
    ws.write_config(&format!(
        "{}{}",
        provider_block(&emulator.endpoint, ""),
        database(&db, &hcl_list(&p), &hcl_list(&d))
    ));
    ws.init();
    ws.apply();
    let state = ws.state_resource(ADDR);

    // 1. An AWS Backup job of the primary cluster: its recovery point is encrypted with the
    //    cluster's key (the database's us-east-1 key). Its copy in a us-east-2 vault is
    //    encrypted with that vault's key, not with the database's us-east-2 key.
    let role = backup_role(&emulator);
    vault(&emulator, "us-east-1");
    let (dr_vault, dr_vault_key) = vault(&emulator, "us-east-2");
    let job = emulator.aws_ok(
        "backup",
        "us-east-1",
        "StartBackupJob",
        &json!({
            "BackupVaultName": VAULT,
            "ResourceArn": state["primary"]["cluster_arn"],
            "IamRoleArn": role,
        }),
    );
    let point = emulator.aws_ok(
        "backup",
        "us-east-1",
        "DescribeRecoveryPoint",
        &json!({ "BackupVaultName": VAULT, "RecoveryPointArn": job["RecoveryPointArn"] }),
    );
    assert_eq!(point["EncryptionKeyArn"], state["primary"]["kms_key_arn"]);
    emulator.aws_ok(
        "backup",
        "us-east-1",
        "StartCopyJob",
        &json!({
            "RecoveryPointArn": job["RecoveryPointArn"],
            "SourceBackupVaultName": VAULT,
            "DestinationBackupVaultArn": dr_vault,
            "IamRoleArn": role,
        }),
    );
    let copies = emulator.aws_ok(
        "backup",
        "us-east-2",
        "ListRecoveryPointsByBackupVault",
        &json!({ "BackupVaultName": VAULT }),
    );
    assert_eq!(
        copies["RecoveryPoints"][0]["EncryptionKeyArn"],
        dr_vault_key
    );

    // 2. Destroy: everything goes but the us-east-1 key (and its alias), which the recovery
    //    point needs; the destroy says so. The us-east-2 key is scheduled for deletion in 30
    //    days.
    let out = ws.destroy();
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("us-east-1/alias/primary-db-key-v2-test")
            && text.contains(&format!(
                "AWS Backup recovery point {}",
                job["RecoveryPointArn"].as_str().unwrap()
            )),
        "the destroy names the kept key and what needs it: {text}"
    );
    assert!(
        text.contains("KMS keys kept for backups") && !text.contains("Final snapshots"),
        "no final snapshot was taken, so the warning is about the kept key: {text}"
    );
    assert!(
        !text.contains("us-east-2/alias/dr-db-key-v2-test"),
        "the DR key is not kept: {text}"
    );
    assert!(global(&emulator).is_none());
    for (region, _, id) in REGIONS {
        assert!(cluster(&emulator, region, id).is_none(), "{region}");
    }
    let kept = emulator.aws_ok(
        "kms",
        "us-east-1",
        "DescribeKey",
        &json!({ "KeyId": "alias/primary-db-key-v2-test" }),
    );
    assert_eq!(kept["KeyMetadata"]["Arn"], state["primary"]["kms_key_arn"]);
    assert_eq!(
        kept["KeyMetadata"]["KeyState"], "Enabled",
        "the recovery point's key is kept usable"
    );
    let scheduled = emulator.aws_ok(
        "kms",
        "us-east-2",
        "DescribeKey",
        &json!({ "KeyId": state["dr"]["kms_key_arn"] }),
    );
    assert_eq!(scheduled["KeyMetadata"]["KeyState"], "PendingDeletion");
    let days = days_until_deletion(&emulator, &scheduled);
    assert!(
        (29.9..=30.1).contains(&days),
        "deletion in {days} days, expected 30"
    );
}
