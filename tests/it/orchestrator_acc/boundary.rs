//! The provider's `permissions_boundary_arn` on the roles drpair creates (issue 14, item 8):
//! both functions' roles carry it; a boundary removed out of band is drift, set back by apply.

use super::stack;
use super::{config, ADDR, ROLES};
use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

fn boundary(emulator: &Emulator, role: &str) -> Value {
    emulator.aws_ok("iam", "us-east-1", "GetRole", &json!({ "RoleName": role }))["Role"]
        ["PermissionsBoundary"]["PermissionsBoundaryArn"]
        .clone()
}

#[test]
fn orchestrator_roles_carry_the_permissions_boundary() {
    let emulator = Emulator::start();
    let s = stack::build(&emulator);
    let policy = emulator.aws_ok(
        "iam",
        "us-east-1",
        "CreatePolicy",
        &json!({
            "PolicyName": "drpair-boundary",
            "PolicyDocument": json!({
                "Version": "2012-10-17",
                "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }]
            }).to_string()
        }),
    );
    let arn = policy["Policy"]["Arn"].as_str().unwrap().to_owned();
    let ws = Workspace::new(&emulator);
    let plain = provider_block(
        &emulator.endpoint,
        "default_tags = { CostCenter = \"payments\" }",
    );
    let bounded = provider_block(
        &emulator.endpoint,
        &format!("default_tags = {{ CostCenter = \"payments\" }}\n  permissions_boundary_arn = \"{arn}\""),
    );
    let with_boundary =
        config(&emulator.endpoint, &s, "automatic", "").replacen(&plain, &bounded, 1);
    assert!(with_boundary.contains(&arn), "{with_boundary}");
    ws.write_config(&with_boundary);
    ws.init();
    ws.apply();
    for role in ROLES {
        assert_eq!(boundary(&emulator, role), arn, "{role}");
    }
    assert_eq!(ws.state_resource(ADDR)["drift"], json!([]));

    // Removed out of band: drift, set back by apply.
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "DeleteRolePermissionsBoundary",
        &json!({ "RoleName": ROLES[0] }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    let flat = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "IAM role {}: permissions boundary {arn} is missing",
            ROLES[0]
        )),
        "{plan}"
    );
    ws.apply();
    assert_eq!(boundary(&emulator, ROLES[0]), arn);
    ws.assert_no_changes();

    // Without the setting the roles lose their boundary on the next apply.
    ws.write_config(&config(&emulator.endpoint, &s, "automatic", ""));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    ws.apply();
    for role in ROLES {
        assert_eq!(boundary(&emulator, role), Value::Null, "{role}");
    }
    ws.assert_no_changes();
    ws.destroy();
}
