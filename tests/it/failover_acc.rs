//! The `drpair_failover` action and the `drpair_replication_status` data
//! source through the real CLI against the emulator: a drill (switchover and
//! back, timed), an unplanned failover and a failback, with `terraform plan`
//! empty after each; and the refusals that change nothing. Then on AWS's
//! timing, in an outage of the primary region: the failover is done when the
//! DR cluster writes (the global cluster stays `failing-over`), and failback
//! waits until the old primary is rebuilt.

use crate::harness::{provider_block, Emulator, Workspace};
use crate::orchestrator_acc::stack::control;
use serde_json::json;
use std::time::{Duration, Instant};

const GLOBAL: &str = "global-db-cluster-v2-test";

fn config(endpoint: &str) -> String {
    format!(
        r#"{}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "10.10.0.0/16" }}
  dr      = {{ cidr_block = "10.20.0.0/16" }}
}}

resource "drpair_global_database" "main" {{
  engine_version      = "14.9"
  database_name       = "payments"
  master_username     = "payments_admin"
  instance_class      = "db.r6g.large"
  primary             = {{ subnet_ids = drpair_network.main.primary.private_subnet_ids, instance_count = 1 }}
  dr                  = {{ subnet_ids = drpair_network.main.dr.private_subnet_ids, instance_count = 1 }}
  deletion_protection = false
  skip_final_snapshot = true
}}

data "drpair_replication_status" "now" {{
  global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
}}

output "writer_region" {{ value = data.drpair_replication_status.now.writer_region }}
output "primary_endpoint" {{ value = data.drpair_replication_status.now.primary.endpoint }}
output "global_writer_endpoint" {{ value = drpair_global_database.main.global_writer_endpoint }}
output "status_global_writer_endpoint" {{ value = data.drpair_replication_status.now.global_writer_endpoint }}
output "replication_lag" {{ value = data.drpair_replication_status.now.replication_lag }}
output "replication_lag_ms" {{ value = data.drpair_replication_status.now.replication_lag_ms }}
output "rpo_lag_ms" {{ value = data.drpair_replication_status.now.rpo_lag_ms }}
output "lag_measured_at" {{ value = data.drpair_replication_status.now.lag_measured_at }}

action "drpair_failover" "drill" {{
  config {{
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "drill"
  }}
}}

action "drpair_failover" "failover" {{
  config {{
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "failover"
    allow_data_loss           = true
  }}
}}

action "drpair_failover" "switchover" {{
  config {{
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "switchover"
  }}
}}

action "drpair_failover" "failback" {{
  config {{
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "failback"
  }}
}}
"#,
        provider_block(endpoint, "")
    )
}

/// Actions whose configuration is wrong: Terraform refuses the whole
/// configuration at validate time, before anything runs.
const BAD_ACTIONS: [(&str, &str, &str); 2] = [
    (
        "reckless",
        "mode = \"failover\"",
        "Failover needs allow_data_loss = true",
    ),
    ("unknown", "mode = \"teleport\"", "Unknown failover mode"),
];

fn bad_action(name: &str, body: &str) -> String {
    format!(
        r#"
action "drpair_failover" "{name}" {{
  config {{
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    {body}
  }}
}}
"#
    )
}

fn writer(emulator: &Emulator) -> String {
    let g = emulator.aws_ok(
        "rds",
        "us-east-2",
        "DescribeGlobalClusters",
        &json!({ "GlobalClusterIdentifier": GLOBAL }),
    );
    let members = g["GlobalClusters"][0]["GlobalClusterMembers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let arn = members
        .iter()
        .find(|m| m["IsWriter"] == true)
        .and_then(|m| m["DBClusterArn"].as_str())
        .unwrap_or_default()
        .to_string();
    arn.split(':').nth(3).unwrap_or_default().to_string()
}

/// The role change may change outputs built on the data source, but never
/// plans a change to a resource.
fn assert_resources_unchanged(ws: &Workspace) {
    let (code, out) = ws.plan_exit_code();
    assert_ne!(code, 1, "{out}");
    assert!(
        !out.stdout.contains("Plan:"),
        "a role change must not plan resource changes: {out}"
    );
}

/// Terraform wraps diagnostics at 80 columns; compare on single spaces.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn output(ws: &Workspace, name: &str) -> serde_json::Value {
    let out = ws.tf(&["output", "-json", name]);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("output {name}: {e}: {out}"))
}

/// The global writer endpoint is AWS's (`GlobalCluster.Endpoint`), the same on the resource and
/// the data source, and routes writes to `writer_cluster` (the emulator resolves it as Aurora's
/// DNS does). Returns it.
fn check_global_writer_endpoint(
    emulator: &Emulator,
    ws: &Workspace,
    writer_cluster: &str,
) -> String {
    let aws = emulator.aws_ok(
        "rds",
        "us-east-2",
        "DescribeGlobalClusters",
        &json!({ "GlobalClusterIdentifier": GLOBAL }),
    )["GlobalClusters"][0]["Endpoint"]
        .clone();
    let endpoint = output(ws, "global_writer_endpoint");
    assert_eq!(endpoint, aws);
    assert_eq!(output(ws, "status_global_writer_endpoint"), aws);
    let endpoint = endpoint.as_str().unwrap_or_default().to_string();
    assert!(
        endpoint.starts_with(&format!("{GLOBAL}.global-"))
            && endpoint.ends_with(".global.rds.amazonaws.com"),
        "{endpoint}"
    );
    let routed = control(
        emulator,
        "GET",
        &format!("/_drpair/aurora/endpoints/{endpoint}"),
        &json!({}),
    );
    assert_eq!(routed["cluster"], writer_cluster, "{routed}");
    endpoint
}

/// The lag outputs say "no datapoint yet" until the new secondary has published its first lag
/// datapoint (every modeled minute), then show the value, the RPO lag and when they were
/// measured.
fn check_lag_outputs(ws: &Workspace) {
    let deadline = Instant::now() + Duration::from_secs(150);
    // Terraform leaves out outputs whose value is null: read them all, a missing one is null.
    let output = |ws: &Workspace, name: &str| {
        let out = ws.tf(&["output", "-json"]);
        let all: serde_json::Value =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("outputs: {e}: {out}"));
        all[name]["value"].clone()
    };
    loop {
        let text = output(ws, "replication_lag");
        let text = text.as_str().unwrap_or_default().to_string();
        if output(ws, "replication_lag_ms").is_null() {
            assert!(text.starts_with("no datapoint yet"), "{text}");
            assert!(output(ws, "lag_measured_at").is_null());
            assert!(
                Instant::now() < deadline,
                "no lag datapoint within 150 s: {text}"
            );
            std::thread::sleep(Duration::from_secs(5));
            ws.tf(&["apply", "-auto-approve", "-refresh-only"]);
            continue;
        }
        let lag = output(ws, "replication_lag_ms").as_f64().unwrap_or(-1.0);
        assert!((0.0..1000.0).contains(&lag), "lag under a second: {lag}");
        assert!(output(ws, "rpo_lag_ms").as_f64().is_some());
        let at = output(ws, "lag_measured_at");
        let at = at.as_str().unwrap_or_default();
        assert!(at.ends_with('Z') && at.len() == 20, "{at}");
        assert!(
            text.contains(&format!("{lag:.0} ms (RPO lag"))
                && text.ends_with(&format!("measured at {at}")),
            "{text}"
        );
        return;
    }
}

#[test]
fn failover_action_and_replication_status() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint));
    ws.init();
    ws.apply();
    assert_eq!(output(&ws, "writer_region"), "us-east-1");
    assert_ne!(output(&ws, "primary_endpoint"), "");
    let endpoint = check_global_writer_endpoint(&emulator, &ws, "primary-db-cluster-v2-test");
    check_lag_outputs(&ws);

    // 1. Refusals change nothing: no allow_data_loss, an unknown mode.
    for (action, body, expect) in BAD_ACTIONS {
        ws.write_config(&(config(&emulator.endpoint) + &bad_action(action, body)));
        let out = ws.tf(&[
            "apply",
            "-auto-approve",
            &format!("-invoke=action.drpair_failover.{action}"),
        ]);
        assert!(!out.success(), "{action} must be refused: {out}");
        assert!(flat(&out.combined()).contains(expect), "{action}: {out}");
        assert_eq!(
            writer(&emulator),
            "us-east-1",
            "{action} changed the writer"
        );
    }
    ws.write_config(&config(&emulator.endpoint));

    // 2. A drill switches over and back and prints the timeline.
    let out = ws.tf(&[
        "apply",
        "-auto-approve",
        "-invoke=action.drpair_failover.drill",
    ]);
    assert!(out.success(), "{out}");
    let text = out.combined();
    assert!(text.contains("drill timeline"), "{out}");
    assert!(
        text.contains("switching over to us-east-2")
            && text.contains("switching over to us-east-1"),
        "{out}"
    );
    assert_eq!(writer(&emulator), "us-east-1");
    // Only the outputs on the live status may differ (the lag's measurement time moves on).
    assert_resources_unchanged(&ws);

    // 3. Unplanned failover: the DR region writes, and the plan stays empty.
    let out = ws.tf(&[
        "apply",
        "-auto-approve",
        "-invoke=action.drpair_failover.failover",
    ]);
    assert!(out.success(), "{out}");
    assert_eq!(writer(&emulator), "us-east-2");
    assert_resources_unchanged(&ws);
    ws.tf(&["apply", "-auto-approve", "-refresh-only"]);
    assert_eq!(output(&ws, "writer_region"), "us-east-2");
    // Applications keep their connection string: the global writer endpoint is the same name
    // and now routes to the DR cluster.
    assert_eq!(
        check_global_writer_endpoint(&emulator, &ws, "dr-db-cluster-v2-test"),
        endpoint
    );

    // 4. A switchover to the region that already writes is refused.
    let out = ws.tf(&[
        "apply",
        "-auto-approve",
        "-invoke=action.drpair_failover.switchover",
    ]);
    assert!(!out.success(), "{out}");
    assert!(
        flat(&out.combined()).contains("already the writer"),
        "{out}"
    );

    // 5. Failback restores us-east-1 as the writer.
    let out = ws.tf(&[
        "apply",
        "-auto-approve",
        "-invoke=action.drpair_failover.failback",
    ]);
    assert!(out.success(), "{out}");
    assert_eq!(writer(&emulator), "us-east-1");
    assert_resources_unchanged(&ws);

    // 6. With the DR member gone, a switchover is refused and nothing moves.
    let dr_arn = emulator.aws_ok(
        "rds",
        "us-east-2",
        "DescribeDBClusters",
        &json!({ "DBClusterIdentifier": "dr-db-cluster-v2-test" }),
    )["DBClusters"][0]["DBClusterArn"]
        .as_str()
        .unwrap()
        .to_string();
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "RemoveFromGlobalCluster",
        &json!({ "GlobalClusterIdentifier": GLOBAL, "DbClusterIdentifier": dr_arn }),
    );
    let out = ws.tf(&[
        "apply",
        "-auto-approve",
        "-invoke=action.drpair_failover.switchover",
    ]);
    assert!(!out.success(), "{out}");
    assert!(flat(&out.combined()).contains("member is missing"), "{out}");
    assert_eq!(writer(&emulator), "us-east-1");

    ws.destroy();
}

/// The database and two actions that name it literally: in an outage of the primary region,
/// nothing but the action may need the DR region (run with `-refresh=false`: refreshing the
/// database would read the region that is down).
fn outage_config(endpoint: &str) -> String {
    format!(
        r#"{}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "10.10.0.0/16" }}
  dr      = {{ cidr_block = "10.20.0.0/16" }}
}}

resource "drpair_global_database" "main" {{
  engine_version      = "14.9"
  database_name       = "payments"
  master_username     = "payments_admin"
  instance_class      = "db.r6g.large"
  primary             = {{ subnet_ids = drpair_network.main.primary.private_subnet_ids, instance_count = 1 }}
  dr                  = {{ subnet_ids = drpair_network.main.dr.private_subnet_ids, instance_count = 1 }}
  deletion_protection = false
  skip_final_snapshot = true
}}

action "drpair_failover" "failover" {{
  config {{
    global_cluster_identifier = "{GLOBAL}"
    mode                      = "failover"
    allow_data_loss           = true
  }}
}}

action "drpair_failover" "failback" {{
  config {{
    global_cluster_identifier = "{GLOBAL}"
    mode                      = "failback"
  }}
}}
"#,
        provider_block(endpoint, "")
    )
}

fn global_status(emulator: &Emulator) -> String {
    emulator.aws_ok(
        "rds",
        "us-east-2",
        "DescribeGlobalClusters",
        &json!({ "GlobalClusterIdentifier": GLOBAL }),
    )["GlobalClusters"][0]["Status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn invoke(ws: &Workspace, action: &str) -> crate::harness::TfOutput {
    ws.tf(&[
        "apply",
        "-auto-approve",
        "-refresh=false",
        &format!("-invoke=action.drpair_failover.{action}"),
    ])
}

#[test]
fn failover_in_an_outage_is_done_when_the_dr_cluster_writes() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&outage_config(&emulator.endpoint));
    ws.init();
    ws.apply();

    // 1. us-east-1 goes down, on AWS's timing (a modeled minute per real second): Aurora takes
    //    its 60 s to promote the DR cluster, and cannot rebuild the old primary meanwhile.
    control(
        &emulator,
        "POST",
        "/_drpair/clock",
        &json!({ "timing": "aws", "speed": 60 }),
    );
    control(
        &emulator,
        "POST",
        "/_drpair/outage",
        &json!({ "region": "us-east-1" }),
    );

    // 2. The failover is done once the DR cluster is the writer and available, although the
    //    global cluster stays failing-over for as long as the outage lasts.
    let out = invoke(&ws, "failover");
    assert!(out.success(), "{out}");
    let text = flat(&out.combined());
    assert!(
        text.contains("dr-db-cluster-v2-test (us-east-2) is the writer and available"),
        "{out}"
    );
    assert_eq!(writer(&emulator), "us-east-2");
    assert_eq!(global_status(&emulator), "failing-over");

    // 3. Failing back needs every member healthy: refused while the old primary is out.
    let out = invoke(&ws, "failback");
    assert!(!out.success(), "{out}");
    assert!(
        flat(&out.combined()).contains("rebuilt as a secondary"),
        "{out}"
    );
    assert_eq!(writer(&emulator), "us-east-2");

    // 4. us-east-1 is back: Aurora rebuilds the old primary as a secondary (300 modeled
    //    seconds), then the global cluster is available and failback switches back.
    control(&emulator, "DELETE", "/_drpair/outage/us-east-1", &json!({}));
    let deadline = Instant::now() + Duration::from_secs(60);
    while global_status(&emulator) != "available" {
        assert!(
            Instant::now() < deadline,
            "the global cluster stays {}",
            global_status(&emulator)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = invoke(&ws, "failback");
    assert!(out.success(), "{out}");
    assert_eq!(writer(&emulator), "us-east-1");
    assert_eq!(global_status(&emulator), "available");

    control(
        &emulator,
        "POST",
        "/_drpair/clock",
        &json!({ "timing": "instant", "speed": 1 }),
    );
    ws.destroy();
}
