//! What the global database's acceptance tests ask the emulator (through boto3, independent of
//! the provider's own client) and the checks built on it.

use crate::harness::Emulator;
use serde_json::{json, Value};

use super::{GLOBAL, OWNER, REGIONS, SECRET};

pub fn tag<'a>(tags: &'a Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["Key"] == key || t["TagKey"] == key)
        .and_then(|t| t["Value"].as_str().or(t["TagValue"].as_str()))
}

pub fn cluster(emulator: &Emulator, region: &str, id: &str) -> Option<Value> {
    let out = emulator.aws(
        "rds",
        region,
        "DescribeDBClusters",
        &json!({ "DBClusterIdentifier": id }),
    );
    out.ok().map(|o| o["DBClusters"][0].clone())
}

pub fn instances(emulator: &Emulator, region: &str, cluster_id: &str) -> Vec<String> {
    let out = emulator.aws_ok(
        "rds",
        region,
        "DescribeDBInstances",
        &json!({ "Filters": [{ "Name": "db-cluster-id", "Values": [cluster_id] }] }),
    );
    let mut ids: Vec<String> = out["DBInstances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["DBInstanceStatus"] != "deleting")
        .map(|i| i["DBInstanceIdentifier"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

pub fn global(emulator: &Emulator) -> Option<Value> {
    emulator
        .aws(
            "rds",
            "us-east-1",
            "DescribeGlobalClusters",
            &json!({ "GlobalClusterIdentifier": GLOBAL }),
        )
        .ok()
        .map(|o| o["GlobalClusters"][0].clone())
}

/// `rds.global_db_rpo` of a cluster parameter group, when set.
pub fn rpo(emulator: &Emulator, region: &str, role: &str) -> Option<String> {
    let group = format!("{role}-db-cluster-params-v2-test");
    let out = emulator.aws_ok(
        "rds",
        region,
        "DescribeDBClusterParameters",
        &json!({ "DBClusterParameterGroupName": group, "Source": "user" }),
    );
    out["Parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ParameterName"] == "rds.global_db_rpo")
        .and_then(|p| p["ParameterValue"].as_str().map(String::from))
}

pub fn the_password(emulator: &Emulator) -> String {
    let out = emulator.aws_ok(
        "secretsmanager",
        "us-east-1",
        "GetSecretValue",
        &json!({ "SecretId": SECRET }),
    );
    let value: Value = serde_json::from_str(out["SecretString"].as_str().unwrap()).unwrap();
    let password = value["password"].as_str().unwrap().to_string();
    assert!(password.len() >= 32, "a generated password: {value}");
    for c in ['/', '@', '"', ' '] {
        assert!(!password.contains(c), "RDS rejects {c:?} in passwords");
    }
    password
}

/// Checks one region's objects after apply: names, tags, encryption, membership.
pub fn check_region(
    emulator: &Emulator,
    state: &Value,
    region: &str,
    role: &str,
    id: &str,
    count: usize,
) {
    let side = &state[role];
    let c = cluster(emulator, region, id).unwrap_or_else(|| panic!("{region}: no cluster {id}"));
    assert_eq!(side["cluster_identifier"], id);
    assert_eq!(c["DBClusterArn"], side["cluster_arn"]);
    assert_eq!(c["Endpoint"], side["endpoint"]);
    assert_eq!(c["StorageEncrypted"], true, "{region}");
    assert_eq!(
        c["KmsKeyId"], side["kms_key_arn"],
        "{region}: encrypted with its own key"
    );
    assert_eq!(c["GlobalClusterIdentifier"], GLOBAL);
    assert_eq!(
        c["DBSubnetGroup"],
        format!("{role}-db-subnet-group-v2-test")
    );
    assert_eq!(
        c["DBClusterParameterGroup"],
        format!("{role}-db-cluster-params-v2-test")
    );
    assert_eq!(
        c["VpcSecurityGroups"][0]["VpcSecurityGroupId"],
        side["security_group_id"]
    );
    assert_eq!(tag(&c["TagList"], "Environment"), Some("test"));
    assert_eq!(tag(&c["TagList"], "DR-Role"), Some(role));
    assert_eq!(tag(&c["TagList"], "CostCenter"), Some("payments"));
    assert_eq!(tag(&c["TagList"], "drpair:owner"), Some(OWNER));
    let want: Vec<String> = (1..=count).map(|n| format!("{id}-{n}")).collect();
    assert_eq!(instances(emulator, region, id), want, "{region} instances");
    let alias = format!("alias/{role}-db-key-v2-test");
    let key = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": alias }));
    assert_eq!(key["KeyMetadata"]["Arn"], side["kms_key_arn"]);
    let key_tags = emulator.aws_ok(
        "kms",
        region,
        "ListResourceTags",
        &json!({ "KeyId": side["kms_key_arn"] }),
    );
    assert_eq!(
        tag(&key_tags["Tags"], "DR-Role"),
        Some(role),
        "{region} key"
    );
    let sg = emulator.aws_ok(
        "ec2",
        region,
        "DescribeSecurityGroups",
        &json!({ "GroupIds": [side["security_group_id"]] }),
    );
    // PostgreSQL from the other region's database subnets (the network's private subnets),
    // not from the VPCs' whole blocks.
    let rules = sg["SecurityGroups"][0]["IpPermissions"].to_string();
    let peer = if role == "primary" {
        "\"10.20."
    } else {
        "\"10.10."
    };
    assert!(
        rules.contains(peer) && rules.contains("5432"),
        "{region}: PostgreSQL from the peer's subnets: {rules}"
    );
    for vpc in ["10.10.0.0/16", "10.20.0.0/16"] {
        assert!(
            !rules.contains(vpc),
            "{region}: PostgreSQL from all of {vpc}: {rules}"
        );
    }
}

/// Nothing the database owned is left in either region (keys only pending deletion).
pub fn check_nothing_left(emulator: &Emulator) {
    assert!(global(emulator).is_none(), "global cluster left");
    for (region, role, id) in REGIONS {
        assert!(
            cluster(emulator, region, id).is_none(),
            "{region}: cluster left"
        );
        assert!(
            instances(emulator, region, id).is_empty(),
            "{region}: instances left"
        );
        for (op, param, name) in [
            (
                "DescribeDBSubnetGroups",
                "DBSubnetGroupName",
                format!("{role}-db-subnet-group-v2-test"),
            ),
            (
                "DescribeDBClusterParameterGroups",
                "DBClusterParameterGroupName",
                format!("{role}-db-cluster-params-v2-test"),
            ),
        ] {
            assert!(
                emulator
                    .aws("rds", region, op, &json!({ param: name }))
                    .is_err(),
                "{region}: {name} left"
            );
        }
        let sgs = emulator.aws_ok(
            "ec2",
            region,
            "DescribeSecurityGroups",
            &json!({ "Filters": [{ "Name": "tag:drpair:owner", "Values": [OWNER] }] }),
        );
        assert_eq!(
            sgs["SecurityGroups"],
            json!([]),
            "{region}: security group left"
        );
        // The secret is deleted with its recovery window (secret_recovery_window_days,
        // default 30): scheduled for deletion in the primary region, its replica removed.
        let secret = emulator.aws(
            "secretsmanager",
            region,
            "DescribeSecret",
            &json!({ "SecretId": SECRET }),
        );
        match secret {
            Err(_) => {}
            Ok(s) => assert!(
                region == "us-east-1" && !s["DeletedDate"].is_null(),
                "{region}: secret left: {s:#}"
            ),
        }
        let alias = format!("alias/{role}-db-key-v2-test");
        assert!(
            emulator
                .aws("kms", region, "DescribeKey", &json!({ "KeyId": alias }))
                .is_err(),
            "{region}: alias left"
        );
    }
}

/// The secret's value must appear in none of these texts.
pub fn assert_secret_absent(password: &str, texts: &[(&str, String)]) {
    for (what, text) in texts {
        assert!(!text.is_empty(), "{what} is empty: nothing was checked");
        assert!(
            !text.contains(password),
            "the master password appears in {what}"
        );
    }
}

/// Default subnets of a region's default VPC (one per availability zone).
pub fn default_subnets(emulator: &Emulator, region: &str, n: usize) -> Vec<String> {
    let out = emulator.aws_ok(
        "ec2",
        region,
        "DescribeSubnets",
        &json!({ "Filters": [{ "Name": "default-for-az", "Values": ["true"] }] }),
    );
    let mut ids: Vec<String> = out["Subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["SubnetId"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.truncate(n);
    ids
}

pub fn hcl_list(ids: &[String]) -> String {
    format!(
        "[{}]",
        ids.iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Emulator gap: moto keeps a deleted cluster's automated snapshot `rds:{cluster}-{minute}`, and
/// re-creating a cluster of the same name within that minute then fails
/// (DBClusterSnapshotAlreadyExistsFault). AWS removes automated backups with the cluster.
pub fn forget_automated_snapshots(emulator: &Emulator, region: &str, cluster_id: &str) {
    let out = emulator.aws_ok(
        "rds",
        region,
        "DescribeDBClusterSnapshots",
        &json!({ "DBClusterIdentifier": cluster_id, "SnapshotType": "automated" }),
    );
    for snapshot in out["DBClusterSnapshots"].as_array().unwrap() {
        emulator.aws_ok(
            "rds",
            region,
            "DeleteDBClusterSnapshot",
            &json!({ "DBClusterSnapshotIdentifier": snapshot["DBClusterSnapshotIdentifier"] }),
        );
    }
}
