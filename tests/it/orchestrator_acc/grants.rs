//! Security review item 6 for the orchestrator: its functions' resource policies hold only the
//! statements that let drpair's EventBridge rules invoke them. An invoke grant added out of band
//! (to another account, to `*`) is drift, named in the plan, and removed by the next apply.

use super::stack;
use super::{config, ADDR, ID, NOTIFIER};
use crate::harness::{Emulator, Workspace};
use serde_json::{json, Value};

const DR: &str = "us-east-2";

/// The statement ids of the function's resource policy, sorted.
fn statement_ids(emulator: &Emulator, function: &str) -> Vec<String> {
    let out = emulator.aws_ok(
        "lambda",
        DR,
        "GetPolicy",
        &json!({ "FunctionName": function }),
    );
    let policy: Value = serde_json::from_str(out["Policy"].as_str().unwrap()).unwrap();
    let mut ids: Vec<String> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn orchestrator_extra_invoke_grants_are_drift_and_removed() {
    let emulator = Emulator::start();
    let s = stack::build(&emulator);
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, &s, "automatic", ""));
    ws.init();
    ws.apply();
    assert_eq!(ws.state_resource(ADDR)["drift"], json!([]));
    let orchestrator_before = statement_ids(&emulator, ID);
    let notifier_before = statement_ids(&emulator, NOTIFIER);
    assert_eq!(orchestrator_before.len(), 2, "{orchestrator_before:?}");
    assert_eq!(notifier_before.len(), 1, "{notifier_before:?}");

    // 1. Out of band: another account may invoke the orchestrator, anyone the notifier.
    emulator.aws_ok(
        "lambda",
        DR,
        "AddPermission",
        &json!({
            "FunctionName": ID,
            "StatementId": "other-account",
            "Action": "lambda:InvokeFunction",
            "Principal": "arn:aws:iam::999999999999:root",
        }),
    );
    emulator.aws_ok(
        "lambda",
        DR,
        "AddPermission",
        &json!({
            "FunctionName": NOTIFIER,
            "StatementId": "anyone",
            "Action": "lambda:InvokeFunction",
            "Principal": "*",
        }),
    );

    // 2. The plan names both.
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    let flat = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        format!("Lambda function {ID}: unexpected permission other-account allows arn:aws:iam::999999999999:root to lambda:InvokeFunction"),
        format!("Lambda function {NOTIFIER}: unexpected permission anyone allows * to lambda:InvokeFunction"),
    ] {
        assert!(flat.contains(&expected), "expected {expected:?}: {plan}");
    }

    // 3. Apply removes them; the plan is empty; the policies hold drpair's statements only.
    ws.apply();
    assert_eq!(ws.state_resource(ADDR)["drift"], json!([]));
    ws.assert_no_changes();
    assert_eq!(statement_ids(&emulator, ID), orchestrator_before);
    assert_eq!(statement_ids(&emulator, NOTIFIER), notifier_before);
    ws.destroy();
}
