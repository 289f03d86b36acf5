//! drpair_global_database through the real Terraform CLI against the emulator, as numbered
//! steps: create on the network's subnets and check both regions, empty plan, import, in-place
//! updates (not recreated), protected destroy refused, the DR half deleted out of band and
//! repaired, an emulated failover (plan empty, writer_region moves), destroy in one run; the
//! secret's value nowhere in state, plans or the provider's log; final snapshots keep their
//! keys; the managed RPO follows the writer, and is never set on a writer without a
//! synchronized secondary (after a failover in an outage); and the plan-time errors of bad
//! input.

mod backups;
mod checks;
mod security;

use crate::harness::{provider_block, Emulator, Workspace};
use crate::orchestrator_acc::stack::control;
use checks::*;
use serde_json::json;
use std::time::{Duration, Instant};

pub const ADDR: &str = "drpair_global_database.main";
pub const GLOBAL: &str = "global-db-cluster-v2-test";
pub const PRIMARY: &str = "primary-db-cluster-v2-test";
pub const DR: &str = "dr-db-cluster-v2-test";
pub const SECRET: &str = "db-password-v2-test";
pub const OWNER: &str = "drpair_global_database/global-db-cluster-v2-test";
pub const REGIONS: [(&str, &str, &str); 2] =
    [("us-east-1", "primary", PRIMARY), ("us-east-2", "dr", DR)];

/// The database's inputs that the steps change.
struct Db {
    engine_version: &'static str,
    instance_class: &'static str,
    primary_count: u32,
    dr_count: u32,
    deletion_protection: bool,
    skip_final_snapshot: bool,
    rpo: u32,
    extra: &'static str,
}

impl Default for Db {
    fn default() -> Self {
        Db {
            engine_version: "14.9",
            instance_class: "db.r6g.large",
            primary_count: 2,
            dr_count: 1,
            deletion_protection: false,
            skip_final_snapshot: true,
            rpo: 60,
            extra: "",
        }
    }
}

fn database(db: &Db, primary_subnets: &str, dr_subnets: &str) -> String {
    format!(
        r#"
resource "drpair_global_database" "main" {{
  engine_version      = "{}"
  database_name       = "payments"
  master_username     = "payments_admin"
  instance_class      = "{}"
  primary             = {{ subnet_ids = {primary_subnets}, instance_count = {} }}
  dr                  = {{ subnet_ids = {dr_subnets}, instance_count = {} }}
  rpo_target_seconds  = {}
  deletion_protection = {}
  skip_final_snapshot = {}
  {}
}}
"#,
        db.engine_version,
        db.instance_class,
        db.primary_count,
        db.dr_count,
        db.rpo,
        db.deletion_protection,
        db.skip_final_snapshot,
        db.extra
    )
}

/// The database on the subnets of a drpair_network in the same configuration.
fn config_with_network(endpoint: &str, db: &Db) -> String {
    format!(
        r#"{}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "10.10.0.0/16" }}
  dr      = {{ cidr_block = "10.20.0.0/16" }}
}}
{}"#,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }"),
        database(
            db,
            "drpair_network.main.primary.private_subnet_ids",
            "drpair_network.main.dr.private_subnet_ids"
        )
    )
}

#[test]
fn global_database_lifecycle() {
    let emulator = Emulator::start();
    let mut ws = Workspace::new(&emulator);
    // The most verbose provider log: the SDK's own wire logs included.
    ws.set_env("TF_LOG_PROVIDER", "TRACE");
    let write = |db: &Db| ws.write_config(&config_with_network(&emulator.endpoint, db));
    write(&Db::default());
    ws.init();
    let mut seen: Vec<(&str, String)> = Vec::new();

    // 1. Create, then check both regions.
    seen.push(("apply output", ws.apply().combined()));
    let state = ws.state_resource(ADDR);
    assert_eq!(state["id"], GLOBAL);
    assert_eq!(state["global_cluster_identifier"], GLOBAL);
    assert_eq!(state["writer_region"], "us-east-1");
    assert_eq!(state["drift"], json!([]));
    let global_endpoint = emulator.aws_ok(
        "rds",
        "us-east-1",
        "DescribeGlobalClusters",
        &json!({ "GlobalClusterIdentifier": GLOBAL }),
    )["GlobalClusters"][0]["Endpoint"]
        .clone();
    assert!(global_endpoint.is_string(), "{global_endpoint}");
    assert_eq!(state["global_writer_endpoint"], global_endpoint);
    assert!(
        state["secret_arn"].as_str().unwrap().contains(SECRET),
        "{state:#}"
    );
    assert!(state.get("password").is_none() && !state.to_string().contains("\"password\""));
    for (region, role, id) in REGIONS {
        check_region(
            &emulator,
            &state,
            region,
            role,
            id,
            if role == "primary" { 2 } else { 1 },
        );
    }
    let g = global(&emulator).unwrap();
    assert_eq!(g["StorageEncrypted"], true);
    assert_eq!(g["Engine"], "aurora-postgresql");
    let members = g["GlobalClusterMembers"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{g:#}");
    let writer = members.iter().find(|m| m["IsWriter"] == true).unwrap();
    assert_eq!(writer["DBClusterArn"], state["primary"]["cluster_arn"]);
    assert!(members
        .iter()
        .any(|m| m["DBClusterArn"] == state["dr"]["cluster_arn"]));
    let global_tags = emulator.aws_ok(
        "rds",
        "us-east-1",
        "ListTagsForResource",
        &json!({ "ResourceName": g["GlobalClusterArn"] }),
    );
    assert_eq!(tag(&global_tags["TagList"], "DR-Role"), Some("global"));
    assert_eq!(tag(&global_tags["TagList"], "Environment"), Some("test"));
    let secret = emulator.aws_ok(
        "secretsmanager",
        "us-east-1",
        "DescribeSecret",
        &json!({ "SecretId": SECRET }),
    );
    assert_eq!(secret["KmsKeyId"], state["primary"]["kms_key_arn"]);
    assert!(
        secret["ReplicationStatus"]
            .to_string()
            .contains("us-east-2"),
        "{secret:#}"
    );
    assert_eq!(tag(&secret["Tags"], "Environment"), Some("test"));
    let replica = emulator.aws_ok(
        "secretsmanager",
        "us-east-2",
        "DescribeSecret",
        &json!({ "SecretId": SECRET }),
    );
    assert_eq!(replica["PrimaryRegion"], "us-east-1");
    assert_eq!(
        rpo(&emulator, "us-east-1", "primary").as_deref(),
        Some("60")
    );
    assert_eq!(
        rpo(&emulator, "us-east-2", "dr"),
        None,
        "the secondary keeps its own group"
    );
    let password = the_password(&emulator);

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();
    seen.push(("plan output", ws.plan_exit_code().1.combined()));

    // 3. Import by id: the same values; skip_final_snapshot (not in AWS) comes back false.
    ws.state_rm(ADDR);
    seen.push(("import output", ws.import(ADDR, GLOBAL).combined()));
    let imported = ws.state_resource(ADDR);
    for key in [
        "id",
        "engine_version",
        "database_name",
        "master_username",
        "instance_class",
        "primary",
        "dr",
        "rpo_target_seconds",
        "deletion_protection",
        "secret_arn",
        "writer_region",
        "global_writer_endpoint",
        "tags_all",
        "drift",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    assert_eq!(imported["skip_final_snapshot"], false);
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.stdout.contains("~ skip_final_snapshot")
            && plan.stdout.contains("= false -> true")
            && plan.stdout.matches(" -> ").count() == 1
            && plan.stdout.contains("0 to add, 1 to change, 0 to destroy"),
        "{plan}"
    );
    ws.apply();
    ws.assert_no_changes();

    // 4. In place: more instances, deletion protection on, a tag. Nothing recreated.
    let created = cluster(&emulator, "us-east-1", PRIMARY).unwrap()["ClusterCreateTime"].clone();
    write(&Db {
        primary_count: 3,
        dr_count: 2,
        deletion_protection: true,
        extra: "tags = { Team = \"sre\" }",
        ..Db::default()
    });
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.stdout.contains("update in-place") && !plan.stdout.contains("must be replaced"),
        "{plan}"
    );
    ws.apply();
    let updated = ws.state_resource(ADDR);
    for side in ["primary", "dr"] {
        assert_eq!(updated[side]["cluster_arn"], state[side]["cluster_arn"]);
    }
    assert_eq!(
        cluster(&emulator, "us-east-1", PRIMARY).unwrap()["ClusterCreateTime"],
        created,
        "not recreated"
    );
    assert_eq!(instances(&emulator, "us-east-1", PRIMARY).len(), 3);
    assert_eq!(instances(&emulator, "us-east-2", DR).len(), 2);
    for (region, _, id) in REGIONS {
        let c = cluster(&emulator, region, id).unwrap();
        assert_eq!(c["DeletionProtection"], true, "{region}");
        assert_eq!(tag(&c["TagList"], "Team"), Some("sre"), "{region}");
    }
    assert_eq!(global(&emulator).unwrap()["DeletionProtection"], true);
    ws.assert_no_changes();

    // 5. Destroy while protected is refused, naming the way out; nothing is deleted.
    let refused = ws.tf(&["destroy", "-auto-approve", "-input=false"]);
    assert!(!refused.success(), "{refused}");
    let text = refused.combined();
    assert!(
        text.contains("Deletion protection is on") && text.contains("deletion_protection = false"),
        "{text}"
    );
    assert!(cluster(&emulator, "us-east-2", DR).is_some() && global(&emulator).is_some());
    write(&Db::default());
    ws.apply();
    assert_eq!(
        instances(&emulator, "us-east-1", PRIMARY).len(),
        2,
        "scaled back in"
    );
    ws.assert_no_changes();

    // 6. The DR half deleted out of band: detached, instances, cluster, subnet group, replica.
    let dr_arn = state["dr"]["cluster_arn"].clone();
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "RemoveFromGlobalCluster",
        &json!({ "GlobalClusterIdentifier": GLOBAL, "DbClusterIdentifier": dr_arn }),
    );
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "DescribeDBClusters",
        &json!({ "DBClusterIdentifier": DR }),
    );
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "DeleteDBInstance",
        &json!({ "DBInstanceIdentifier": format!("{DR}-1") }),
    );
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "DeleteDBCluster",
        &json!({ "DBClusterIdentifier": DR, "SkipFinalSnapshot": true }),
    );
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "DeleteDBSubnetGroup",
        &json!({ "DBSubnetGroupName": "dr-db-subnet-group-v2-test" }),
    );
    forget_automated_snapshots(&emulator, "us-east-2", DR);
    emulator.aws_ok(
        "secretsmanager",
        "us-east-1",
        "RemoveRegionsFromReplication",
        &json!({ "SecretId": SECRET, "RemoveReplicaRegions": ["us-east-2"] }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "the missing DR half must plan a repair: {plan}");
    assert!(
        plan.stdout.contains("dr-db-cluster-v2-test is missing")
            && plan.stdout.contains("no replica in us-east-2"),
        "{plan}"
    );
    seen.push(("repair plan output", plan.combined()));
    ws.apply();
    let repaired = ws.state_resource(ADDR);
    assert_eq!(repaired["drift"], json!([]));
    check_region(&emulator, &repaired, "us-east-2", "dr", DR, 1);
    assert!(global(&emulator).unwrap()["GlobalClusterMembers"]
        .to_string()
        .contains(dr_arn.as_str().unwrap()));
    emulator.aws_ok(
        "secretsmanager",
        "us-east-2",
        "DescribeSecret",
        &json!({ "SecretId": SECRET }),
    );
    ws.assert_no_changes();

    // 7. Failover to the DR region: not drift. The plan stays empty and writer_region follows.
    emulator.aws_ok("rds", "us-east-2", "FailoverGlobalCluster", &json!({ "GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": dr_arn, "AllowDataLoss": true }));
    ws.assert_no_changes();
    ws.tf(&["apply", "-refresh-only", "-auto-approve", "-input=false"]);
    let failed_over = ws.state_resource(ADDR);
    assert_eq!(failed_over["writer_region"], "us-east-2");
    assert_eq!(
        failed_over["global_writer_endpoint"], state["global_writer_endpoint"],
        "the global writer endpoint follows the writer under the same name"
    );
    assert_eq!(
        failed_over["primary"]["cluster_identifier"], PRIMARY,
        "primary keeps meaning us-east-1"
    );
    assert_eq!(
        failed_over["primary"]["cluster_arn"],
        state["primary"]["cluster_arn"]
    );
    ws.assert_no_changes();
    // 8. The secret's value is nowhere in state, plans or the provider's log.
    seen.push(("terraform show -json", ws.show_json().to_string()));
    seen.push((
        "the provider log (TF_LOG_PATH)",
        ws.terraform_log(usize::MAX),
    ));
    assert!(
        seen.last().unwrap().1.contains("creating Aurora cluster"),
        "the log holds the provider's lines"
    );
    assert_secret_absent(&password, &seen);

    // 9. Destroy after the failover, in one run, with parts already gone (the DR key's alias:
    //    the key is found by its owner tag; the secret's replica): nothing left in either
    //    region, both keys scheduled for deletion.
    emulator.aws_ok(
        "kms",
        "us-east-2",
        "DeleteAlias",
        &json!({ "AliasName": "alias/dr-db-key-v2-test" }),
    );
    emulator.aws_ok(
        "secretsmanager",
        "us-east-1",
        "RemoveRegionsFromReplication",
        &json!({ "SecretId": SECRET, "RemoveReplicaRegions": ["us-east-2"] }),
    );
    ws.destroy();
    check_nothing_left(&emulator);
    for (region, side) in [("us-east-1", "primary"), ("us-east-2", "dr")] {
        let key = emulator.aws_ok(
            "kms",
            region,
            "DescribeKey",
            &json!({ "KeyId": failed_over[side]["kms_key_arn"] }),
        );
        assert_eq!(
            key["KeyMetadata"]["KeyState"], "PendingDeletion",
            "{region}"
        );
    }
    ws.destroy();
    assert_secret_absent(
        &password,
        &[(
            "the provider log after destroy",
            ws.terraform_log(usize::MAX),
        )],
    );
}

/// The modeled time of the first emulator event of `kind` whose `field` is `value`.
fn event_at(emulator: &Emulator, kind: &str, field: &str, value: &str) -> f64 {
    let found = control(
        emulator,
        "GET",
        &format!("/_drpair/events?kind={kind}"),
        &json!({}),
    );
    found["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind && e[field] == value)
        .and_then(|e| e["epoch"].as_f64())
        .unwrap_or_else(|| panic!("no {kind} event for {value}: {found:#}"))
}

/// Modifications take effect some time after the call (the emulator keeps the old values for a
/// few modeled seconds, then upgrades or resizes): the apply waits until the change is done,
/// upgrades the secondary before the writer, resizes readers before the writer; and a DR
/// cluster rebuilt after AWS raised the primary's minor version joins at that version.
#[test]
fn global_database_waits_for_upgrades_and_resizes_and_joins_at_the_running_version() {
    let emulator = Emulator::start();
    let mut ws = Workspace::new(&emulator);
    ws.write_config(&config_with_network(&emulator.endpoint, &Db::default()));
    ws.init();
    ws.apply();

    // 1. A minor upgrade and a class change in one apply, followed at INFO as a user would
    //    (TF_LOG_PROVIDER=info): each wait names the AWS object and its state as it changes.
    let upgraded = Db {
        engine_version: "14.10",
        instance_class: "db.r6g.xlarge",
        ..Db::default()
    };
    ws.set_env("TF_LOG_PROVIDER", "info");
    ws.write_config(&config_with_network(&emulator.endpoint, &upgraded));
    ws.apply();
    let log = ws.terraform_log(100_000);
    for wanted in [
        format!("waiting for Aurora cluster (us-east-2/{DR})"),
        format!("Aurora cluster (us-east-2/{DR}) is ready after"),
    ] {
        assert!(log.contains(&wanted), "the INFO log lacks {wanted:?}");
    }
    ws.set_env("TF_LOG_PROVIDER", "DEBUG");
    for (region, _, id) in REGIONS {
        let c = cluster(&emulator, region, id).unwrap();
        assert_eq!(c["EngineVersion"], "14.10", "{region}: {c:#}");
        assert_eq!(c["Status"], "available", "{region}");
        for instance in instances(&emulator, region, id) {
            let i = emulator.aws_ok(
                "rds",
                region,
                "DescribeDBInstances",
                &json!({ "DBInstanceIdentifier": instance }),
            )["DBInstances"][0]
                .clone();
            assert_eq!(i["DBInstanceClass"], "db.r6g.xlarge", "{instance}: {i:#}");
        }
    }
    assert_eq!(global(&emulator).unwrap()["EngineVersion"], "14.10");
    let dr_done = event_at(&emulator, "rds.cluster.upgrade.completed", "cluster", DR);
    let primary_asked = event_at(
        &emulator,
        "rds.cluster.upgrade.requested",
        "cluster",
        PRIMARY,
    );
    assert!(
        dr_done <= primary_asked,
        "the writer was upgraded before its secondary finished ({primary_asked} < {dr_done})"
    );
    let writer = cluster(&emulator, "us-east-1", PRIMARY).unwrap()["DBClusterMembers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["IsClusterWriter"] == true)
        .map(|m| m["DBInstanceIdentifier"].as_str().unwrap().to_owned())
        .unwrap();
    let reader = instances(&emulator, "us-east-1", PRIMARY)
        .into_iter()
        .find(|i| *i != writer)
        .unwrap();
    let reader_done = event_at(
        &emulator,
        "rds.instance.resize.completed",
        "instance",
        &reader,
    );
    let writer_asked = event_at(
        &emulator,
        "rds.instance.resize.requested",
        "instance",
        &writer,
    );
    assert!(
        reader_done <= writer_asked,
        "the writer was resized before its reader finished ({writer_asked} < {reader_done})"
    );
    ws.assert_no_changes();

    // 2. The DR half deleted out of band, and AWS upgrades the lone primary's minor version.
    let dr_arn = cluster(&emulator, "us-east-2", DR).unwrap()["DBClusterArn"].clone();
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "RemoveFromGlobalCluster",
        &json!({ "GlobalClusterIdentifier": GLOBAL, "DbClusterIdentifier": dr_arn }),
    );
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "DeleteDBInstance",
        &json!({ "DBInstanceIdentifier": format!("{DR}-1") }),
    );
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "DeleteDBCluster",
        &json!({ "DBClusterIdentifier": DR, "SkipFinalSnapshot": true }),
    );
    forget_automated_snapshots(&emulator, "us-east-2", DR);
    emulator.aws_ok(
        "rds",
        "us-east-1",
        "ModifyDBCluster",
        &json!({ "DBClusterIdentifier": PRIMARY, "EngineVersion": "14.11", "ApplyImmediately": true }),
    );
    let started = Instant::now();
    while global(&emulator).unwrap()["EngineVersion"] != "14.11" {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the emulator never upgraded the primary"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // 3. Apply rebuilds the DR cluster at the version the global database runs; configured
    //    14.10 is covered by 14.11, so nothing is downgraded and the plan stays empty.
    ws.apply();
    let rebuilt = cluster(&emulator, "us-east-2", DR).unwrap();
    assert_eq!(rebuilt["EngineVersion"], "14.11", "{rebuilt:#}");
    assert_eq!(rebuilt["GlobalClusterIdentifier"], GLOBAL);
    ws.assert_no_changes();
    ws.destroy();
    check_nothing_left(&emulator);
}

#[test]
fn global_database_final_snapshots_keep_their_keys() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let (p, d) = (
        default_subnets(&emulator, "us-east-1", 2),
        default_subnets(&emulator, "us-east-2", 2),
    );
    let db = Db {
        primary_count: 1,
        skip_final_snapshot: false,
        ..Db::default()
    };
    ws.write_config(&format!(
        "{}{}",
        provider_block(&emulator.endpoint, ""),
        database(&db, &hcl_list(&p), &hcl_list(&d))
    ));
    ws.init();
    ws.apply();
    ws.assert_no_changes();
    let out = ws.destroy();
    assert!(out.combined().contains("Final snapshots kept"), "{out}");
    for (region, role, id) in REGIONS {
        let snaps = emulator.aws_ok(
            "rds",
            region,
            "DescribeDBClusterSnapshots",
            &json!({ "DBClusterIdentifier": id, "SnapshotType": "manual" }),
        );
        let names = snaps["DBClusterSnapshots"].to_string();
        assert!(names.contains(&format!("{id}-final-")), "{region}: {names}");
        let key = emulator.aws_ok(
            "kms",
            region,
            "DescribeKey",
            &json!({ "KeyId": format!("alias/{role}-db-key-v2-test") }),
        );
        assert_eq!(
            key["KeyMetadata"]["KeyState"], "Enabled",
            "{region}: the snapshot's key is kept"
        );
        assert!(cluster(&emulator, region, id).is_none());
    }
    assert!(global(&emulator).is_none());
}

#[test]
fn global_database_rpo_follows_the_writer() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let (p, d) = (
        default_subnets(&emulator, "us-east-1", 2),
        default_subnets(&emulator, "us-east-2", 2),
    );
    let write = |db: &Db| {
        ws.write_config(&format!(
            "{}{}",
            provider_block(&emulator.endpoint, ""),
            database(db, &hcl_list(&p), &hcl_list(&d))
        ))
    };
    write(&Db {
        primary_count: 1,
        ..Db::default()
    });
    ws.init();
    ws.apply();
    assert_eq!(
        rpo(&emulator, "us-east-1", "primary").as_deref(),
        Some("60")
    );
    assert_eq!(rpo(&emulator, "us-east-2", "dr"), None);
    let dr_arn = ws.state_resource(ADDR)["dr"]["cluster_arn"].clone();
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "SwitchoverGlobalCluster",
        &json!({ "GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": dr_arn }),
    );
    // The switchover alone changes no group (and plans nothing); the next change moves the
    // managed RPO to the new writer's group and takes it off the new secondary's.
    ws.assert_no_changes();
    assert_eq!(
        rpo(&emulator, "us-east-1", "primary").as_deref(),
        Some("60")
    );
    write(&Db {
        primary_count: 1,
        rpo: 45,
        ..Db::default()
    });
    ws.apply();
    assert_eq!(rpo(&emulator, "us-east-2", "dr").as_deref(), Some("45"));
    assert_eq!(rpo(&emulator, "us-east-1", "primary"), None);
    assert_eq!(ws.state_resource(ADDR)["rpo_target_seconds"], 45);
    ws.assert_no_changes();
    ws.destroy();
    check_nothing_left(&emulator);
}

/// Each member's `SynchronizationStatus` (the writer's: `writer`), by region.
fn synchronization(emulator: &Emulator) -> Vec<(String, String)> {
    // From the DR region: the primary's may be down.
    let g = emulator.aws_ok(
        "rds",
        "us-east-2",
        "DescribeGlobalClusters",
        &json!({ "GlobalClusterIdentifier": GLOBAL }),
    )["GlobalClusters"][0]
        .clone();
    let mut out: Vec<(String, String)> = g["GlobalClusterMembers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let region = m["DBClusterArn"]
                .as_str()
                .unwrap()
                .split(':')
                .nth(3)
                .unwrap();
            let status = if m["IsWriter"] == true {
                "writer"
            } else {
                m["SynchronizationStatus"].as_str().unwrap_or("?")
            };
            (region.to_owned(), status.to_owned())
        })
        .collect();
    out.sort();
    out
}

fn wait_for_synchronization(emulator: &Emulator, wanted: &[(&str, &str)], within: Duration) {
    let wanted: Vec<(String, String)> = wanted
        .iter()
        .map(|(r, s)| (r.to_string(), s.to_string()))
        .collect();
    let deadline = Instant::now() + within;
    loop {
        let now = synchronization(emulator);
        if now == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "members {now:?}, wanted {wanted:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn global_database_rpo_never_pauses_a_lone_writer() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let (p, d) = (
        default_subnets(&emulator, "us-east-1", 2),
        default_subnets(&emulator, "us-east-2", 2),
    );
    let write = |db: &Db| {
        ws.write_config(&format!(
            "{}{}",
            provider_block(&emulator.endpoint, ""),
            database(db, &hcl_list(&p), &hcl_list(&d))
        ))
    };
    write(&Db {
        primary_count: 1,
        ..Db::default()
    });
    ws.init();
    ws.apply();
    assert_eq!(
        rpo(&emulator, "us-east-1", "primary").as_deref(),
        Some("60")
    );
    let dr_arn = ws.state_resource(ADDR)["dr"]["cluster_arn"].clone();

    // 1. us-east-1 goes down on AWS's timing (5 modeled seconds per real one); the DR cluster
    //    is failed over to with AllowDataLoss and writes alone.
    control(
        &emulator,
        "POST",
        "/_drpair/clock",
        &json!({ "timing": "aws", "speed": 5 }),
    );
    control(
        &emulator,
        "POST",
        "/_drpair/outage",
        &json!({ "region": "us-east-1" }),
    );
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "FailoverGlobalCluster",
        &json!({ "GlobalClusterIdentifier": GLOBAL, "TargetDbClusterIdentifier": dr_arn, "AllowDataLoss": true }),
    );
    wait_for_synchronization(
        &emulator,
        &[("us-east-1", "pending-resync"), ("us-east-2", "writer")],
        Duration::from_secs(60),
    );

    // 2. us-east-1 is back; Aurora rebuilds the old primary (300 modeled seconds). The first
    //    apply meanwhile (a new RPO target) sets the managed RPO on no group: not on the lone
    //    writer, whose commits it would pause, and no longer on the old primary's. It says why.
    control(&emulator, "DELETE", "/_drpair/outage/us-east-1", &json!({}));
    write(&Db {
        primary_count: 1,
        rpo: 45,
        ..Db::default()
    });
    let out = ws.apply();
    assert_eq!(
        synchronization(&emulator),
        vec![
            ("us-east-1".to_string(), "pending-resync".to_string()),
            ("us-east-2".to_string(), "writer".to_string())
        ],
        "the apply must run while the old primary is rebuilt"
    );
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("Managed RPO not enforced"), "{out}");
    assert_eq!(rpo(&emulator, "us-east-2", "dr"), None);
    assert_eq!(rpo(&emulator, "us-east-1", "primary"), None);
    assert_eq!(ws.state_resource(ADDR)["rpo_target_seconds"], 45);
    ws.assert_no_changes();

    // 3. Once the old primary is a synchronized secondary, the next apply sets it on the
    //    writer's group.
    wait_for_synchronization(
        &emulator,
        &[("us-east-1", "connected"), ("us-east-2", "writer")],
        Duration::from_secs(120),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    ws.apply();
    assert_eq!(rpo(&emulator, "us-east-2", "dr").as_deref(), Some("45"));
    assert_eq!(rpo(&emulator, "us-east-1", "primary"), None);
    ws.assert_no_changes();

    control(
        &emulator,
        "POST",
        "/_drpair/clock",
        &json!({ "timing": "instant", "speed": 1 }),
    );
    ws.destroy();
    check_nothing_left(&emulator);
}

#[test]
fn bad_global_database_input_fails_at_plan_naming_the_attribute() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let (p, d) = (
        default_subnets(&emulator, "us-east-1", 2),
        default_subnets(&emulator, "us-east-2", 2),
    );
    let good = database(&Db::default(), &hcl_list(&p), &hcl_list(&d));
    ws.write_config(&format!("{}{good}", provider_block(&emulator.endpoint, "")));
    ws.init();
    let one_subnet = format!("subnet_ids = {}", hcl_list(&p[..1]));
    let cases = [
        (
            "engine_version      = \"14.9\"",
            "engine_version      = \"15.4\"",
            "Unsupported engine version",
        ),
        (
            "instance_count = 1 }",
            "instance_count = 0 }",
            "Invalid instance count",
        ),
        (
            &format!("subnet_ids = {}", hcl_list(&p)) as &str,
            one_subnet.as_str(),
            "Not enough subnets",
        ),
        (
            "rpo_target_seconds  = 60",
            "rpo_target_seconds  = 5",
            "RPO target out of range",
        ),
        ("db.r6g.large", "r6g.large", "Invalid instance class"),
        (
            "instance_count = 1 }",
            "instance_count = 1, client_security_group_ids = [\"app-tier\"] }",
            "Invalid security group id",
        ),
        // Burstable classes pass AWS's own checks until the instances are created in the
        // global cluster (InvalidParameterCombination half-way through an apply).
        ("db.r6g.large", "db.t4g.medium", "Invalid instance class"),
    ];
    for (from, to, summary) in cases {
        assert!(good.contains(from), "{from}");
        ws.write_config(&format!(
            "{}{}",
            provider_block(&emulator.endpoint, ""),
            good.replacen(from, to, 1)
        ));
        let (code, out) = ws.plan_exit_code();
        assert_eq!(code, 1, "{summary}: {out}");
        let text = out.combined();
        assert!(text.contains(summary), "expected {summary:?}: {text}");
        assert!(
            text.contains(to),
            "expected the attribute's source {to:?}: {text}"
        );
        if to == "db.t4g.medium" {
            // Terraform wraps a diagnostic's detail: compare with the line breaks folded.
            let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                flat.contains("instance_class is \"db.t4g.medium\"")
                    && flat.contains("memory-optimized"),
                "expected instance_class named with the reason: {text}"
            );
        }
    }
    // The secret's recovery window: 0 or Secrets Manager's 7 to 30 days.
    ws.write_config(&format!(
        "{}{}",
        provider_block(&emulator.endpoint, ""),
        good.replacen(
            "skip_final_snapshot = true",
            "skip_final_snapshot = true\n  secret_recovery_window_days = 3",
            1
        )
    ));
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 1, "{out}");
    let text = out.combined();
    assert!(
        text.contains("Invalid secret recovery window")
            && text.contains("secret_recovery_window_days = 3"),
        "{text}"
    );
    assert!(global(&emulator).is_none(), "nothing was created");
}
