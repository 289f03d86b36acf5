//! The database's KMS keys and master secret as a payment company's security review wants them
//! (issue 14, items 1 and 2), read back from the emulator: a secret of the database's name made
//! by someone else stops the apply before anything is created; the keys rotate and have
//! drpair's policy (administration apart from use, use only through RDS and Secrets Manager);
//! rotation turned off, the policy replaced and the secret re-encrypted out of band are drift,
//! repaired by apply; destroy keeps the secret recoverable for its window, the next create
//! restores it, and a window of 0 deletes it at once. The database network (item 3): PostgreSQL
//! only from the client groups and the other region's database subnets, TLS forced, every
//! other rule reported and removed.

use super::checks::*;
use super::{config_with_network, Db, ADDR, OWNER, SECRET};
use crate::harness::{AwsError, Emulator, Workspace};
use serde_json::{json, Value};

const ALIASES: [(&str, &str); 2] = [
    ("us-east-1", "alias/primary-db-key-v2-test"),
    ("us-east-2", "alias/dr-db-key-v2-test"),
];

/// The key id behind an alias (GetKeyPolicy, PutKeyPolicy and GetKeyRotationStatus take a key
/// id or ARN, not an alias).
fn key_id(emulator: &Emulator, region: &str, alias: &str) -> Value {
    emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": alias }))["KeyMetadata"]
        ["KeyId"]
        .clone()
}

fn key_policy(emulator: &Emulator, region: &str, alias: &str) -> Value {
    let out = emulator.aws_ok(
        "kms",
        region,
        "GetKeyPolicy",
        &json!({ "KeyId": key_id(emulator, region, alias), "PolicyName": "default" }),
    );
    serde_json::from_str(out["Policy"].as_str().unwrap()).unwrap()
}

fn rotation(emulator: &Emulator, region: &str, alias: &str) -> bool {
    let out = emulator.aws_ok(
        "kms",
        region,
        "GetKeyRotationStatus",
        &json!({ "KeyId": key_id(emulator, region, alias) }),
    );
    out["KeyRotationEnabled"] == json!(true)
}

/// The key's policy is drpair's: no `kms:*`, the account administers without cryptographic
/// use, and uses the key only through RDS and Secrets Manager of the key's region.
fn check_key_policy(policy: &Value, region: &str) {
    let text = policy.to_string();
    assert!(!text.contains("\"kms:*\""), "{region}: kms:* in {policy:#}");
    let statements = policy["Statement"].as_array().unwrap();
    let admin = statements
        .iter()
        .find(|s| s["Sid"] == "AccountAdministersTheKeyThroughIAM")
        .unwrap_or_else(|| panic!("{region}: no administration statement: {policy:#}"));
    for use_action in [
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:CreateGrant",
        "kms:Create*",
    ] {
        assert!(
            !admin["Action"]
                .to_string()
                .contains(&format!("\"{use_action}\"")),
            "{region}: administration includes {use_action}: {policy:#}"
        );
    }
    let usage = statements
        .iter()
        .find(|s| s["Sid"] == "AccountUsesTheKeyOnlyThroughItsServices")
        .unwrap_or_else(|| panic!("{region}: no use statement: {policy:#}"));
    let condition = &usage["Condition"]["StringEquals"];
    let mut via: Vec<&str> = condition["kms:ViaService"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    via.sort();
    assert_eq!(
        via,
        [
            format!("rds.{region}.amazonaws.com"),
            format!("secretsmanager.{region}.amazonaws.com")
        ],
        "{policy:#}"
    );
    assert_eq!(condition["kms:CallerAccount"], "123456789012", "{policy:#}");
}

/// The ingress rules of the region's database security group as (protocol, from, to, source).
fn ingress(emulator: &Emulator, region: &str, role: &str) -> Vec<(String, i64, i64, String)> {
    let sgs = emulator.aws_ok(
        "ec2",
        region,
        "DescribeSecurityGroups",
        &json!({ "Filters": [{ "Name": "group-name", "Values": [format!("{role}-db-sg-v2-test")] }] }),
    );
    let mut rules = Vec::new();
    for p in sgs["SecurityGroups"][0]["IpPermissions"]
        .as_array()
        .unwrap()
    {
        let proto = p["IpProtocol"].as_str().unwrap().to_owned();
        let (from, to) = (
            p["FromPort"].as_i64().unwrap_or(-1),
            p["ToPort"].as_i64().unwrap_or(-1),
        );
        for r in p["IpRanges"].as_array().into_iter().flatten() {
            rules.push((
                proto.clone(),
                from,
                to,
                r["CidrIp"].as_str().unwrap().to_owned(),
            ));
        }
        for g in p["UserIdGroupPairs"].as_array().into_iter().flatten() {
            rules.push((
                proto.clone(),
                from,
                to,
                g["GroupId"].as_str().unwrap().to_owned(),
            ));
        }
    }
    rules.sort();
    rules
}

fn subnet_cidrs(emulator: &Emulator, region: &str, ids: &Value) -> Vec<String> {
    let out = emulator.aws_ok(
        "ec2",
        region,
        "DescribeSubnets",
        &json!({ "SubnetIds": ids }),
    );
    let mut cidrs: Vec<String> = out["Subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["CidrBlock"].as_str().unwrap().to_owned())
        .collect();
    cidrs.sort();
    cidrs
}

fn force_ssl(emulator: &Emulator, region: &str, role: &str) -> Option<String> {
    let out = emulator.aws_ok(
        "rds",
        region,
        "DescribeDBClusterParameters",
        &json!({ "DBClusterParameterGroupName": format!("{role}-db-cluster-params-v2-test"), "Source": "user" }),
    );
    out["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ParameterName"] == "rds.force_ssl")
        .and_then(|p| p["ParameterValue"].as_str().map(str::to_owned))
}

fn describe_secret(emulator: &Emulator, region: &str) -> Result<Value, AwsError> {
    emulator.aws(
        "secretsmanager",
        region,
        "DescribeSecret",
        &json!({ "SecretId": SECRET }),
    )
}

#[test]
fn global_database_keys_and_secret_are_its_own() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let write = |extra: &'static str| {
        ws.write_config(&config_with_network(
            &emulator.endpoint,
            &Db {
                extra,
                ..Db::default()
            },
        ))
    };
    write("");
    ws.init();

    // 1. A secret of the database's name that someone else made: its password would become
    //    the master password. The apply stops before any key, group or cluster is created.
    emulator.aws_ok(
        "secretsmanager",
        "us-east-1",
        "CreateSecret",
        &json!({
            "Name": SECRET,
            "SecretString": "{\"username\":\"payments_admin\",\"password\":\"chosen-by-a-stranger\"}"
        }),
    );
    let refused = ws.apply_expect_error().combined();
    let flat = refused.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(SECRET) && flat.contains("drpair does not adopt it"),
        "{refused}"
    );
    assert!(global(&emulator).is_none(), "no global cluster");
    for (region, alias) in ALIASES {
        assert!(
            emulator
                .aws("kms", region, "DescribeKey", &json!({ "KeyId": alias }))
                .is_err(),
            "{region}: no key created"
        );
    }
    emulator.aws_ok(
        "secretsmanager",
        "us-east-1",
        "DeleteSecret",
        &json!({ "SecretId": SECRET, "ForceDeleteWithoutRecovery": true }),
    );

    // 2. Created: both keys rotate and carry drpair's policy; the secret and its replica are
    //    encrypted with the database's keys and tagged as its own.
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert_eq!(state["drift"], json!([]));
    assert_eq!(state["secret_recovery_window_days"], 30);
    for (region, alias) in ALIASES {
        assert!(rotation(&emulator, region, alias), "{region}: rotation off");
        check_key_policy(&key_policy(&emulator, region, alias), region);
    }
    let secret = describe_secret(&emulator, "us-east-1").unwrap();
    assert_eq!(secret["KmsKeyId"], state["primary"]["kms_key_arn"]);
    assert_eq!(
        secret["ReplicationStatus"][0]["KmsKeyId"], state["dr"]["kms_key_arn"],
        "{secret:#}"
    );
    assert_eq!(tag(&secret["Tags"], "drpair:owner"), Some(OWNER));
    let password = the_password(&emulator);
    let arn = secret["ARN"].clone();
    // Item 3: each region's group lets PostgreSQL in from the other region's database subnets
    // only (not the VPCs' whole CIDR blocks, public subnets included); TLS is forced.
    let primary_subnets = subnet_cidrs(&emulator, "us-east-1", &state["primary"]["subnet_ids"]);
    let dr_subnets = subnet_cidrs(&emulator, "us-east-2", &state["dr"]["subnet_ids"]);
    let postgres_from = |cidrs: &[String]| -> Vec<(String, i64, i64, String)> {
        cidrs
            .iter()
            .map(|c| ("tcp".to_owned(), 5432, 5432, c.clone()))
            .collect()
    };
    assert_eq!(
        ingress(&emulator, "us-east-1", "primary"),
        postgres_from(&dr_subnets)
    );
    assert_eq!(
        ingress(&emulator, "us-east-2", "dr"),
        postgres_from(&primary_subnets)
    );
    for (region, role) in [("us-east-1", "primary"), ("us-east-2", "dr")] {
        assert_eq!(
            force_ssl(&emulator, region, role).as_deref(),
            Some("1"),
            "{region}"
        );
    }
    assert!(state["primary"]["client_security_group_ids"].is_null());

    // 3. Out of band: the DR key's rotation off, the primary key's policy back to AWS's default
    //    (the account may do anything), the secret re-encrypted with another key. All drift;
    //    apply repairs all three.
    let dr_key = emulator.aws_ok(
        "kms",
        "us-east-2",
        "DescribeKey",
        &json!({ "KeyId": ALIASES[1].1 }),
    );
    emulator.aws_ok(
        "kms",
        "us-east-2",
        "DisableKeyRotation",
        &json!({ "KeyId": dr_key["KeyMetadata"]["KeyId"] }),
    );
    let default_policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::123456789012:root" },
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    emulator.aws_ok(
        "kms",
        "us-east-1",
        "PutKeyPolicy",
        &json!({ "KeyId": key_id(&emulator, "us-east-1", ALIASES[0].1), "PolicyName": "default", "Policy": default_policy.to_string() }),
    );
    let other = emulator.aws_ok(
        "kms",
        "us-east-1",
        "CreateKey",
        &json!({ "Description": "someone else's key" }),
    );
    let other_arn = other["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    emulator.aws_ok(
        "secretsmanager",
        "us-east-1",
        "UpdateSecret",
        &json!({ "SecretId": SECRET, "KmsKeyId": other_arn }),
    );
    // ... and PostgreSQL opened to the world, SSH, a group added by hand, TLS no longer forced.
    let primary_sg = state["primary"]["security_group_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let vpc = emulator.aws_ok(
        "ec2",
        "us-east-1",
        "DescribeSecurityGroups",
        &json!({ "GroupIds": [primary_sg] }),
    )["SecurityGroups"][0]["VpcId"]
        .clone();
    let rogue = emulator.aws_ok(
        "ec2",
        "us-east-1",
        "CreateSecurityGroup",
        &json!({ "GroupName": "rogue", "Description": "added by hand", "VpcId": vpc }),
    )["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    emulator.aws_ok(
        "ec2",
        "us-east-1",
        "AuthorizeSecurityGroupIngress",
        &json!({ "GroupId": primary_sg, "IpPermissions": [
            { "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{ "CidrIp": "0.0.0.0/0" }] },
            { "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{ "CidrIp": "10.10.0.0/16" }] },
            { "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{ "GroupId": rogue }] }
        ] }),
    );
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "ResetDBClusterParameterGroup",
        &json!({ "DBClusterParameterGroupName": "dr-db-cluster-params-v2-test", "Parameters": [{ "ParameterName": "rds.force_ssl", "ApplyMethod": "immediate" }] }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    let flat = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&rogue) && flat.contains("client_security_group_ids"),
        "the hand-added group shows as a change: {plan}"
    );
    for expected in [
        "us-east-1: security group primary-db-sg-v2-test allows PostgreSQL from 0.0.0.0/0, which drpair does not manage",
        "us-east-1: security group primary-db-sg-v2-test allows tcp 22 from 10.10.0.0/16, which drpair does not manage",
        "us-east-2: DB cluster parameter group dr-db-cluster-params-v2-test does not force TLS (rds.force_ssl is not 1)",
        "us-east-2: KMS key alias/dr-db-key-v2-test has automatic rotation off",
        "us-east-1: KMS key alias/primary-db-key-v2-test has a key policy other than drpair's",
        &format!("us-east-1: secret {SECRET} is encrypted with {other_arn}, not alias/primary-db-key-v2-test"),
    ] {
        assert!(flat.contains(expected), "expected {expected:?}: {plan}");
    }
    assert!(
        flat.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    ws.apply();
    assert_eq!(ws.state_resource(ADDR)["drift"], json!([]));
    for (region, alias) in ALIASES {
        assert!(rotation(&emulator, region, alias), "{region}: rotation off");
        check_key_policy(&key_policy(&emulator, region, alias), region);
    }
    assert_eq!(
        describe_secret(&emulator, "us-east-1").unwrap()["KmsKeyId"],
        state["primary"]["kms_key_arn"]
    );
    assert_eq!(
        ingress(&emulator, "us-east-1", "primary"),
        postgres_from(&dr_subnets)
    );
    assert_eq!(
        force_ssl(&emulator, "us-east-2", "dr").as_deref(),
        Some("1")
    );
    ws.assert_no_changes();

    // 3b. The app tier's group as a client: let in, and only it besides the peer subnets.
    let app = emulator.aws_ok(
        "ec2",
        "us-east-1",
        "CreateSecurityGroup",
        &json!({ "GroupName": "app", "Description": "app tier", "VpcId": vpc }),
    )["GroupId"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_client = config_with_network(&emulator.endpoint, &Db::default()).replacen(
        "instance_count = 2 }",
        &format!("instance_count = 2, client_security_group_ids = [\"{app}\"] }}"),
        1,
    );
    assert!(with_client.contains(&app));
    ws.write_config(&with_client);
    ws.apply();
    let mut wanted = postgres_from(&dr_subnets);
    wanted.push(("tcp".to_owned(), 5432, 5432, app.clone()));
    wanted.sort();
    assert_eq!(ingress(&emulator, "us-east-1", "primary"), wanted);
    assert_eq!(
        ws.state_resource(ADDR)["primary"]["client_security_group_ids"],
        json!([app])
    );
    ws.assert_no_changes();
    write("");
    ws.apply();
    assert_eq!(
        ingress(&emulator, "us-east-1", "primary"),
        postgres_from(&dr_subnets)
    );

    // 4. Destroy: the secret stays recoverable for 30 days (its replica is removed); the next
    //    create restores it, password and all.
    ws.destroy();
    let deleted = describe_secret(&emulator, "us-east-1").unwrap();
    assert!(!deleted["DeletedDate"].is_null(), "{deleted:#}");
    assert!(
        describe_secret(&emulator, "us-east-2").is_err(),
        "replica left"
    );
    ws.apply();
    let restored = describe_secret(&emulator, "us-east-1").unwrap();
    assert!(restored["DeletedDate"].is_null(), "{restored:#}");
    assert_eq!(restored["ARN"], arn, "the same secret, restored");
    assert_eq!(the_password(&emulator), password);
    ws.assert_no_changes();

    // 5. With a window of 0 the secret is deleted at once.
    write("secret_recovery_window_days = 0");
    ws.apply();
    assert_eq!(ws.state_resource(ADDR)["secret_recovery_window_days"], 0);
    ws.destroy();
    for region in ["us-east-1", "us-east-2"] {
        assert!(
            describe_secret(&emulator, region).is_err(),
            "{region}: secret left"
        );
    }
    assert!(global(&emulator).is_none());
}
