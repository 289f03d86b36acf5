//! drpair_session_table through the real Terraform CLI against the emulator, as numbered
//! steps: create and check both regions, empty plan, import, in-place update, a replacement
//! planned for a key change, point-in-time recovery switched off and the replica deleted out of
//! band (each planned as a repair and repaired), destroy leaves nothing; and the plan-time
//! errors of bad input.

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const ADDR: &str = "drpair_session_table.sessions";
const TABLE: &str = "session-table-v2-test";
const ALIAS: &str = "alias/session-table-v2-test";
const OWNER: &str = "drpair_session_table/session-table-v2-test";
const REGIONS: [(&str, &str, &str); 2] = [
    ("us-east-1", "primary", "primary"),
    ("us-east-2", "dr", "dr"),
];

fn config(endpoint: &str, body: &str) -> String {
    format!(
        r#"{}
resource "drpair_session_table" "sessions" {{
{body}
}}

output "table_name" {{ value = drpair_session_table.sessions.name }}
"#,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }")
    )
}

const BASE: &str = r#"  hash_key      = "session_id"
  ttl_attribute = "expires_at""#;

const UPDATED: &str = r#"  hash_key      = "session_id"
  ttl_attribute = "expiry"
  tags          = { Team = "sre" }"#;

fn describe(emulator: &Emulator, region: &str) -> Option<Value> {
    match emulator.aws(
        "dynamodb",
        region,
        "DescribeTable",
        &json!({ "TableName": TABLE }),
    ) {
        Ok(out) => Some(out["Table"].clone()),
        Err(e) if e.code == "ResourceNotFoundException" => None,
        Err(e) => panic!("DescribeTable in {region}: {e}"),
    }
}

fn table_tags(emulator: &Emulator, region: &str, arn: &str) -> Value {
    let out = emulator.aws_ok(
        "dynamodb",
        region,
        "ListTagsOfResource",
        &json!({ "ResourceArn": arn }),
    );
    let mut tags = serde_json::Map::new();
    for t in out["Tags"].as_array().cloned().unwrap_or_default() {
        tags.insert(t["Key"].as_str().unwrap().to_owned(), t["Value"].clone());
    }
    Value::Object(tags)
}

fn ttl(emulator: &Emulator, region: &str) -> Value {
    emulator.aws_ok(
        "dynamodb",
        region,
        "DescribeTimeToLive",
        &json!({ "TableName": TABLE }),
    )["TimeToLiveDescription"]
        .clone()
}

fn pitr(emulator: &Emulator, region: &str) -> String {
    let out = emulator.aws_ok(
        "dynamodb",
        region,
        "DescribeContinuousBackups",
        &json!({ "TableName": TABLE }),
    );
    out["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        ["PointInTimeRecoveryStatus"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn alias_target(emulator: &Emulator, region: &str) -> Option<String> {
    let out = emulator.aws_ok("kms", region, "ListAliases", &json!({}));
    out["Aliases"]
        .as_array()?
        .iter()
        .find(|a| a["AliasName"] == ALIAS)
        .and_then(|a| a["TargetKeyId"].as_str().map(String::from))
}

/// Every KMS key of the region tagged as ours, with its state.
fn owned_keys(emulator: &Emulator, region: &str) -> Vec<(String, String)> {
    let keys = emulator.aws_ok("kms", region, "ListKeys", &json!({}));
    let mut owned = Vec::new();
    for k in keys["Keys"].as_array().cloned().unwrap_or_default() {
        let id = k["KeyId"].as_str().unwrap();
        let tags = emulator.aws_ok("kms", region, "ListResourceTags", &json!({ "KeyId": id }));
        let ours = tags["Tags"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["TagKey"] == "drpair:owner" && t["TagValue"] == OWNER)
        });
        if ours {
            let meta = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": id }));
            owned.push((
                meta["KeyMetadata"]["Arn"].as_str().unwrap().to_owned(),
                meta["KeyMetadata"]["KeyState"].as_str().unwrap().to_owned(),
            ));
        }
    }
    owned
}

/// Both regions hold the table as the state describes it, with `ttl_attr` and `team` (a tag).
fn check_both_regions(emulator: &Emulator, state: &Value, ttl_attr: &str, team: Option<&str>) {
    for (region, role, side) in REGIONS {
        let t = describe(emulator, region).unwrap_or_else(|| panic!("no table in {region}"));
        assert_eq!(t["TableName"], TABLE);
        assert_eq!(t["TableStatus"], "ACTIVE", "{region}");
        assert_eq!(t["TableArn"], state[side]["arn"], "{region}");
        assert_eq!(t["LatestStreamArn"], state[side]["stream_arn"], "{region}");
        assert_eq!(
            t["StreamSpecification"],
            json!({ "StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES" }),
            "{region}"
        );
        assert_eq!(t["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST");
        assert_eq!(t["SSEDescription"]["SSEType"], "KMS", "{region}");
        assert_eq!(t["SSEDescription"]["Status"], "ENABLED", "{region}");
        let key_arn = state[side]["kms_key_arn"].as_str().unwrap();
        assert!(key_arn.contains(&format!(":kms:{region}:")), "{key_arn}");
        assert_eq!(t["SSEDescription"]["KMSMasterKeyArn"], key_arn, "{region}");
        assert_eq!(t["GlobalTableVersion"], "2019.11.21", "{region}");
        let other = if region == "us-east-1" {
            "us-east-2"
        } else {
            "us-east-1"
        };
        assert!(
            t["Replicas"].as_array().is_some_and(|r| r
                .iter()
                .any(|r| r["RegionName"] == other && r["ReplicaStatus"] == "ACTIVE")),
            "{region}: replicas {}",
            t["Replicas"]
        );

        let tags = table_tags(emulator, region, t["TableArn"].as_str().unwrap());
        assert_eq!(tags["Environment"], "test", "{region}: {tags}");
        assert_eq!(tags["DR-Role"], role, "{region}: {tags}");
        assert_eq!(tags["CostCenter"], "payments", "{region}: {tags}");
        assert_eq!(tags["drpair:owner"], OWNER, "{region}: {tags}");
        assert_eq!(
            tags.get("Team").and_then(Value::as_str),
            team,
            "{region}: {tags}"
        );

        assert_eq!(
            ttl(emulator, region),
            json!({ "TimeToLiveStatus": "ENABLED", "AttributeName": ttl_attr }),
            "{region}"
        );
        assert_eq!(pitr(emulator, region), "ENABLED", "{region}");

        let key = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": ALIAS }));
        assert_eq!(key["KeyMetadata"]["Arn"], key_arn, "{region}");
        assert_eq!(key["KeyMetadata"]["KeyState"], "Enabled", "{region}");
        assert_eq!(key["KeyMetadata"]["KeyManager"], "CUSTOMER", "{region}");
        check_key_security(emulator, region);
    }
}

/// The region's key rotates and has drpair's policy: the account administers it without
/// `kms:*` and uses it only through DynamoDB of the region, from this account.
fn check_key_security(emulator: &Emulator, region: &str) {
    let key = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": ALIAS }));
    let id = &key["KeyMetadata"]["KeyId"];
    let rotation = emulator.aws_ok(
        "kms",
        region,
        "GetKeyRotationStatus",
        &json!({ "KeyId": id }),
    );
    assert_eq!(rotation["KeyRotationEnabled"], true, "{region}");
    let policy = emulator.aws_ok(
        "kms",
        region,
        "GetKeyPolicy",
        &json!({ "KeyId": id, "PolicyName": "default" }),
    );
    let policy: Value = serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap();
    assert!(
        !policy.to_string().contains("\"kms:*\""),
        "{region}: {policy:#}"
    );
    let usage = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == "AccountUsesTheKeyOnlyThroughItsServices")
        .unwrap_or_else(|| panic!("{region}: {policy:#}"));
    assert_eq!(
        usage["Condition"]["StringEquals"],
        json!({
            "kms:ViaService": [format!("dynamodb.{region}.amazonaws.com")],
            "kms:CallerAccount": "123456789012"
        }),
        "{region}"
    );
}

/// A key already under the table's alias with no owner tag is adopted (the table's key from
/// before tagging) only when its policy names no principal outside the account: a key another
/// account may use is refused before any table is created, and adopted once its policy is the
/// account's alone (then drpair's policy and rotation replace what it had).
#[test]
fn session_table_refuses_a_key_another_account_may_use() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, BASE));
    ws.init();
    let root = "arn:aws:iam::123456789012:root";
    let stranger = "arn:aws:iam::444455556666:root";
    let policy = |principals: Value| {
        json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Principal": { "AWS": principals }, "Action": "kms:*", "Resource": "*" }]
        })
        .to_string()
    };
    let key = emulator.aws_ok(
        "kms",
        "us-east-1",
        "CreateKey",
        &json!({ "Description": "pre-existing", "Policy": policy(json!([root, stranger])) }),
    );
    let key_id = key["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    emulator.aws_ok(
        "kms",
        "us-east-1",
        "CreateAlias",
        &json!({ "AliasName": ALIAS, "TargetKeyId": key_id }),
    );
    let refused = ws.apply_expect_error().combined();
    let flat = refused.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("444455556666") && flat.contains("drpair does not adopt it"),
        "{refused}"
    );
    assert!(
        describe(&emulator, "us-east-1").is_none(),
        "no table created"
    );

    emulator.aws_ok(
        "kms",
        "us-east-1",
        "PutKeyPolicy",
        &json!({ "KeyId": key_id, "PolicyName": "default", "Policy": policy(json!(root)) }),
    );
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert!(
        state["primary"]["kms_key_arn"]
            .as_str()
            .unwrap()
            .ends_with(&key_id),
        "the key was adopted: {state:#}"
    );
    check_both_regions(&emulator, &state, "expires_at", None);
    ws.assert_no_changes();
    ws.destroy();
}

#[test]
fn session_table_lifecycle() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, BASE));
    ws.init();

    // 1. Create, then check both regions.
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert_eq!(state["id"], TABLE);
    assert_eq!(state["name"], TABLE);
    assert_eq!(state["drift"], json!([]));
    assert_eq!(state["primary"]["region"], "us-east-1");
    assert_eq!(state["dr"]["region"], "us-east-2");
    assert_eq!(state["point_in_time_recovery"], true);
    check_both_regions(&emulator, &state, "expires_at", None);

    // An item written in the primary is read in the DR region.
    emulator.aws_ok(
        "dynamodb",
        "us-east-1",
        "PutItem",
        &json!({ "TableName": TABLE, "Item": { "session_id": { "S": "s-1" }, "expires_at": { "N": "4102444800" } } }),
    );
    let item = emulator.aws_ok(
        "dynamodb",
        "us-east-2",
        "GetItem",
        &json!({ "TableName": TABLE, "Key": { "session_id": { "S": "s-1" } } }),
    );
    assert_eq!(item["Item"]["session_id"]["S"], "s-1", "{item}");

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();

    // 3. Import by name into a fresh state gives the same values and an empty plan.
    ws.state_rm(ADDR);
    ws.import(ADDR, TABLE);
    let imported = ws.state_resource(ADDR);
    for key in [
        "id",
        "name",
        "hash_key",
        "hash_key_type",
        "range_key",
        "ttl_attribute",
        "point_in_time_recovery",
        "tags_all",
        "primary",
        "dr",
        "drift",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    ws.assert_no_changes();

    // 4. TTL attribute and tags change in place: same tables, same streams.
    ws.write_config(&config(&emulator.endpoint, UPDATED));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    ws.apply();
    let updated = ws.state_resource(ADDR);
    for side in ["primary", "dr"] {
        assert_eq!(updated[side], state[side], "{side} must not be recreated");
    }
    check_both_regions(&emulator, &updated, "expiry", Some("sre"));
    ws.assert_no_changes();

    // 5. A key schema change is planned as a replacement (not applied).
    ws.write_config(&config(
        &emulator.endpoint,
        &UPDATED.replace("\"session_id\"", "\"sid\""),
    ));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("forces replacement"), "{plan}");
    ws.write_config(&config(&emulator.endpoint, UPDATED));

    // 6. Point-in-time recovery switched off in the DR region: planned as a repair, repaired.
    emulator.aws_ok(
        "dynamodb",
        "us-east-2",
        "UpdateContinuousBackups",
        &json!({ "TableName": TABLE, "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": false } }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "PITR off in DR must plan a repair: {plan}");
    assert!(
        plan.stdout
            .contains("us-east-2: point-in-time recovery is off, expected on"),
        "{plan}"
    );
    ws.apply();
    assert_eq!(pitr(&emulator, "us-east-2"), "ENABLED");
    assert_eq!(ws.state_resource(ADDR)["drift"], json!([]));
    ws.assert_no_changes();

    // 7. The DR replica deleted out of band: planned as a repair, re-created with everything.
    emulator.aws_ok(
        "dynamodb",
        "us-east-2",
        "DeleteTable",
        &json!({ "TableName": TABLE }),
    );
    assert!(describe(&emulator, "us-east-2").is_none());
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "a deleted replica must plan a repair: {plan}");
    assert!(
        plan.stdout.contains("us-east-2: replica is missing"),
        "{plan}"
    );
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    ws.apply();
    let repaired = ws.state_resource(ADDR);
    assert_eq!(repaired["drift"], json!([]));
    assert_eq!(repaired["primary"]["arn"], updated["primary"]["arn"]);
    check_both_regions(&emulator, &repaired, "expiry", Some("sre"));
    ws.assert_no_changes();

    // 7b. Both tables deleted out of band, the keys left: the resource stays in state (its
    // destroy would still remove the keys), planned as a repair that makes the tables again.
    for region in ["us-east-2", "us-east-1"] {
        emulator.aws_ok(
            "dynamodb",
            region,
            "DeleteTable",
            &json!({ "TableName": TABLE }),
        );
    }
    assert!(describe(&emulator, "us-east-1").is_none());
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "deleted tables must plan a repair: {plan}");
    assert!(
        plan.stdout.contains("us-east-1: table is missing"),
        "{plan}"
    );
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    ws.apply();
    let remade = ws.state_resource(ADDR);
    assert_eq!(remade["drift"], json!([]));
    assert_eq!(
        remade["primary"]["kms_key_arn"],
        repaired["primary"]["kms_key_arn"]
    );
    check_both_regions(&emulator, &remade, "expiry", Some("sre"));
    ws.assert_no_changes();

    // 8. Destroy leaves no table, alias or live key in either region; twice is fine.
    ws.destroy();
    for (region, _, _) in REGIONS {
        assert!(
            describe(&emulator, region).is_none(),
            "{region}: table left"
        );
        assert_eq!(
            alias_target(&emulator, region),
            None,
            "{region}: alias left"
        );
        let keys = owned_keys(&emulator, region);
        assert!(!keys.is_empty(), "{region}: the key should still be listed");
        for (arn, key_state) in keys {
            assert_eq!(key_state, "PendingDeletion", "{region}: {arn}");
        }
    }
    ws.destroy();
}

#[test]
fn bad_session_table_input_fails_at_plan_naming_the_attribute() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, BASE));
    ws.init();
    let cases = [
        (
            "  hash_key = \"\"",
            "Invalid attribute name",
            "hash_key = \"\"",
        ),
        (
            "  hash_key = \"session id\"",
            "Invalid attribute name",
            "hash_key = \"session id\"",
        ),
        (
            "  hash_key      = \"session_id\"\n  ttl_attribute = \"expires#at\"",
            "Invalid attribute name",
            "ttl_attribute = \"expires#at\"",
        ),
        (
            "  hash_key  = \"session_id\"\n  range_key = \"session_id\"",
            "Sort key repeats the partition key",
            "range_key = \"session_id\"",
        ),
        (
            "  hash_key      = \"session_id\"\n  hash_key_type = \"X\"",
            "Invalid key attribute type",
            "hash_key_type = \"X\"",
        ),
    ];
    for (body, summary, source_line) in cases {
        ws.write_config(&config(&emulator.endpoint, body));
        let (code, out) = ws.plan_exit_code();
        assert_eq!(code, 1, "{summary}: {out}");
        let text = out.combined();
        assert!(text.contains(summary), "expected {summary:?}: {text}");
        assert!(
            text.contains(source_line),
            "expected the attribute's line {source_line:?}: {text}"
        );
    }
    for region in ["us-east-1", "us-east-2"] {
        assert!(describe(&emulator, region).is_none(), "{region}");
    }

    // A table of that name that drpair does not own is refused, and nothing is recorded or made.
    emulator.aws_ok(
        "dynamodb",
        "us-east-1",
        "CreateTable",
        &json!({
            "TableName": TABLE,
            "AttributeDefinitions": [{ "AttributeName": "session_id", "AttributeType": "S" }],
            "KeySchema": [{ "AttributeName": "session_id", "KeyType": "HASH" }],
            "BillingMode": "PAY_PER_REQUEST",
        }),
    );
    ws.write_config(&config(&emulator.endpoint, BASE));
    let out = ws.apply_expect_error();
    assert!(
        out.combined().contains("terraform import"),
        "expected advice to import: {out}"
    );
    assert!(ws.state_addresses().is_empty(), "nothing may be in state");
    for region in ["us-east-1", "us-east-2"] {
        assert_eq!(
            alias_target(&emulator, region),
            None,
            "{region}: a key was made"
        );
    }
    assert!(
        describe(&emulator, "us-east-1").is_some(),
        "the table stays"
    );
    assert!(
        describe(&emulator, "us-east-2").is_none(),
        "no replica was added"
    );
}
