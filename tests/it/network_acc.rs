//! drpair_network through the real Terraform CLI against the emulator, as
//! numbered steps: create and check both regions, empty plan, import, in-place
//! update, out-of-band deletion repaired, destroy leaves nothing; and the
//! plan-time errors of bad input.

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const OWNER: &str = "drpair_network/payments-test";

fn network_config(endpoint: &str, tags: &str) -> String {
    format!(
        r#"{}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "10.10.0.0/16" }}
  dr      = {{ cidr_block = "10.20.0.0/16" }}
  {tags}
}}

output "primary_vpc" {{ value = drpair_network.main.primary.vpc_id }}
"#,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }")
    )
}

fn owned(emulator: &Emulator, region: &str, operation: &str, key: &str) -> Vec<Value> {
    let out = emulator.aws_ok(
        "ec2",
        region,
        operation,
        &json!({ "Filters": [{ "Name": "tag:drpair:owner", "Values": [OWNER] }] }),
    );
    out[key].as_array().cloned().unwrap_or_default()
}

fn tag<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["Tags"]
        .as_array()?
        .iter()
        .find(|t| t["Key"] == key)
        .and_then(|t| t["Value"].as_str())
}

fn live_nats(emulator: &Emulator, region: &str) -> Vec<Value> {
    owned(emulator, region, "DescribeNatGateways", "NatGateways")
        .into_iter()
        .filter(|n| !matches!(n["State"].as_str(), Some("deleted" | "deleting")))
        .collect()
}

fn live_peerings(emulator: &Emulator, region: &str) -> Vec<Value> {
    owned(
        emulator,
        region,
        "DescribeVpcPeeringConnections",
        "VpcPeeringConnections",
    )
    .into_iter()
    .filter(|p| {
        !matches!(
            p["Status"]["Code"].as_str(),
            Some("deleted" | "rejected" | "failed")
        )
    })
    .collect()
}

#[test]
fn network_lifecycle() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&network_config(&emulator.endpoint, ""));
    ws.init();

    // 1. Create, then check what exists in both regions.
    ws.apply();
    let state = ws.state_resource("drpair_network.main");
    assert_eq!(state["id"], "payments-test");
    assert_eq!(state["drift"], json!([]));
    for (region, role, side) in [
        ("us-east-1", "primary", "primary"),
        ("us-east-2", "dr", "dr"),
    ] {
        let vpcs = owned(&emulator, region, "DescribeVpcs", "Vpcs");
        assert_eq!(vpcs.len(), 1, "{region}: {vpcs:#?}");
        let vpc = &vpcs[0];
        assert_eq!(vpc["VpcId"], state[side]["vpc_id"]);
        assert_eq!(tag(vpc, "Environment"), Some("test"));
        assert_eq!(tag(vpc, "DR-Role"), Some(role));
        assert_eq!(tag(vpc, "CostCenter"), Some("payments"));
        assert_eq!(
            owned(&emulator, region, "DescribeSubnets", "Subnets").len(),
            6
        );
        assert_eq!(
            state[side]["availability_zones"].as_array().unwrap().len(),
            3
        );
        assert_eq!(live_nats(&emulator, region).len(), 3, "{region}");
        assert_eq!(
            owned(
                &emulator,
                region,
                "DescribeInternetGateways",
                "InternetGateways"
            )
            .len(),
            1
        );
        let peer_cidr = if side == "primary" {
            "10.20.0.0/16"
        } else {
            "10.10.0.0/16"
        };
        let tables = owned(&emulator, region, "DescribeRouteTables", "RouteTables");
        assert_eq!(
            tables.len(),
            4,
            "{region}: 1 public + 3 private route tables"
        );
        for t in &tables {
            let routes = t["Routes"].as_array().unwrap();
            assert!(
                routes.iter().any(|r| r["DestinationCidrBlock"] == peer_cidr
                    && r["VpcPeeringConnectionId"] == state["peering_connection_id"]),
                "{region}: no peering route in {t:#}"
            );
            assert!(routes
                .iter()
                .any(|r| r["DestinationCidrBlock"] == "0.0.0.0/0"));
        }
    }
    let peering = &live_peerings(&emulator, "us-east-1")[0];
    assert_eq!(peering["Status"]["Code"], "active");

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();

    // 3. Import by id into a fresh state gives the same values and an empty plan.
    ws.state_rm("drpair_network.main");
    ws.import("drpair_network.main", "payments-test");
    let imported = ws.state_resource("drpair_network.main");
    for key in [
        "id",
        "name",
        "az_count",
        "primary",
        "dr",
        "peering_connection_id",
        "tags_all",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    ws.assert_no_changes();

    // 4. A tag change is applied in place: same VPCs, new tag in both regions.
    ws.write_config(&network_config(
        &emulator.endpoint,
        "tags = { Team = \"sre\" }",
    ));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    ws.apply();
    let updated = ws.state_resource("drpair_network.main");
    assert_eq!(updated["primary"]["vpc_id"], state["primary"]["vpc_id"]);
    assert_eq!(updated["dr"]["vpc_id"], state["dr"]["vpc_id"]);
    for region in ["us-east-1", "us-east-2"] {
        let vpc = &owned(&emulator, region, "DescribeVpcs", "Vpcs")[0];
        assert_eq!(tag(vpc, "Team"), Some("sre"), "{region}");
        for subnet in owned(&emulator, region, "DescribeSubnets", "Subnets") {
            assert_eq!(tag(&subnet, "Team"), Some("sre"), "{region} subnet");
        }
    }
    ws.assert_no_changes();

    // 5. Out-of-band deletion: a DR route to the primary and a primary subnet.
    let dr_table = updated["dr"]["private_route_table_ids"][0]
        .as_str()
        .unwrap();
    emulator.aws_ok(
        "ec2",
        "us-east-2",
        "DeleteRoute",
        &json!({ "RouteTableId": dr_table, "DestinationCidrBlock": "10.10.0.0/16" }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "a missing route must plan a repair: {plan}");
    assert!(plan.stdout.contains("drift"), "{plan}");
    ws.apply();
    let repaired = ws.state_resource("drpair_network.main");
    assert_eq!(repaired["drift"], json!([]));
    let table = emulator.aws_ok(
        "ec2",
        "us-east-2",
        "DescribeRouteTables",
        &json!({ "RouteTableIds": [dr_table] }),
    );
    assert!(
        table["RouteTables"][0]["Routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["DestinationCidrBlock"] == "10.10.0.0/16"),
        "route not repaired: {table:#}"
    );
    ws.assert_no_changes();

    // 6. Destroy leaves nothing tagged in either region, and twice is fine.
    ws.destroy();
    for region in ["us-east-1", "us-east-2"] {
        for (op, key) in [
            ("DescribeVpcs", "Vpcs"),
            ("DescribeSubnets", "Subnets"),
            ("DescribeInternetGateways", "InternetGateways"),
            ("DescribeRouteTables", "RouteTables"),
            ("DescribeAddresses", "Addresses"),
        ] {
            let left = owned(&emulator, region, op, key);
            assert!(left.is_empty(), "{region} {op} left {left:#?}");
        }
        assert!(
            live_nats(&emulator, region).is_empty(),
            "{region} NAT gateways left"
        );
        assert!(
            live_peerings(&emulator, region).is_empty(),
            "{region} peering left"
        );
    }
    ws.destroy();
}

#[test]
fn bad_network_input_fails_at_plan_naming_the_attribute() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&network_config(&emulator.endpoint, ""));
    ws.init();
    let cases = [
        (
            ("10.10.0.0/16", "10.10.128.0/17", ""),
            "Overlapping CIDR blocks",
            "dr      = { cidr_block = \"10.10.128.0/17\" }",
        ),
        (
            ("10.10.0.0/16", "10.20.0.0/16", "dr_region = \"us-east-1\""),
            "DR region must differ",
            "dr_region = \"us-east-1\"",
        ),
        (
            ("10.10.0/16", "10.20.0.0/16", ""),
            "Invalid CIDR block",
            "primary = { cidr_block = \"10.10.0/16\" }",
        ),
    ];
    for ((primary, dr, provider_extra), summary, source_line) in cases {
        ws.write_config(&format!(
            r#"{}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "{primary}" }}
  dr      = {{ cidr_block = "{dr}" }}
}}
"#,
            provider_block(&emulator.endpoint, provider_extra)
        ));
        let (code, out) = ws.plan_exit_code();
        assert_eq!(code, 1, "{summary}: {out}");
        let text = out.combined();
        assert!(text.contains(summary), "expected {summary:?}: {text}");
        assert!(
            text.contains(source_line),
            "expected the attribute's line {source_line:?}: {text}"
        );
    }
    // Nothing was created by any of them.
    for region in ["us-east-1", "us-east-2"] {
        assert!(owned(&emulator, region, "DescribeVpcs", "Vpcs").is_empty());
    }
}
