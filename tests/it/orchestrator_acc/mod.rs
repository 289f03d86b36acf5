//! drpair_failover_orchestrator through the real Terraform CLI against the emulator, as numbered
//! steps: create and check the functions, roles, rules, permissions and table in the DR region
//! with their tags and the RTO budget known at plan; empty plan; import; mode, probes and lag
//! threshold changed in place; parts deleted out of band planned as a repair and repaired;
//! destroy leaves nothing. The functions' log groups are checked throughout: made before the
//! functions (encrypted with the orchestrator's key, kept `log_retention_days`, tagged), the
//! functions' logs written there, a group Lambda made adopted, none left after destroy. Apart: the deployed package runs and fails over once; the plan-time
//! errors of bad input and of a budget over the RTO target.

mod boundary;
mod grants;
pub(crate) mod stack;

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};
use stack::{Stack, DR, DR_CLUSTER, GLOBAL, PRIMARY};

const ADDR: &str = "drpair_failover_orchestrator.auto";
const ID: &str = "failover-orchestrator-v2-test";
const NOTIFIER: &str = "failover-notifier-v2-test";
const ROLES: [&str; 2] = [
    "failover-orchestrator-v2-test-us-east-2",
    "failover-notifier-v2-test-us-east-2",
];
const RULES: [&str; 2] = ["failover-alarms-v2-test", "failover-probe-v2-test"];
const TABLE: &str = "failover-state-v2-test";
const OWNER: &str = "drpair_failover_orchestrator/failover-orchestrator-v2-test";
const LOG_GROUPS: [&str; 2] = [
    "/aws/lambda/failover-orchestrator-v2-test",
    "/aws/lambda/failover-notifier-v2-test",
];
const LOGS_KEY_ALIAS: &str = "alias/failover-logs-v2-test";

/// The orchestrator of `s` in `mode`, with `extra` attribute lines.
fn config(endpoint: &str, s: &Stack, mode: &str, extra: &str) -> String {
    format!(
        r#"{}
resource "drpair_failover_orchestrator" "auto" {{
  global_cluster_identifier = "{GLOBAL}"
  dr_cluster_identifier     = "{DR_CLUSTER}"
  primary_health_check_id   = "{}"
  dr_asg_name               = "{}"
  topic_arns                = ["{}", "{}"]
  mode                      = "{mode}"
  scale_to                  = {{ min_size = 2, desired_capacity = 4 }}
  tags                      = {{ Team = "sre" }}
{extra}
}}

output "orchestrator" {{ value = drpair_failover_orchestrator.auto.orchestrator_function_arn }}
"#,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }"),
        s.health_check_id,
        stack::ASG,
        s.topic_arns[0],
        s.topic_arns[1],
    )
}

fn tags_map(list: &Value, key: &str, value: &str) -> Value {
    let mut tags = serde_json::Map::new();
    for t in list.as_array().cloned().unwrap_or_default() {
        tags.insert(t[key].as_str().unwrap().to_owned(), t[value].clone());
    }
    Value::Object(tags)
}

fn assert_standard_tags(tags: &Value, what: &str) {
    assert_eq!(tags["Environment"], "test", "{what}: {tags}");
    assert_eq!(tags["DR-Role"], "dr", "{what}: {tags}");
    assert_eq!(tags["CostCenter"], "payments", "{what}: {tags}");
    assert_eq!(tags["Team"], "sre", "{what}: {tags}");
    assert_eq!(tags["drpair:owner"], OWNER, "{what}: {tags}");
}

fn function(emulator: &Emulator, region: &str, name: &str) -> Option<Value> {
    match emulator.aws(
        "lambda",
        region,
        "GetFunction",
        &json!({ "FunctionName": name }),
    ) {
        Ok(out) => Some(out),
        Err(e) if e.code == "ResourceNotFoundException" => None,
        Err(e) => panic!("GetFunction {name} in {region}: {e}"),
    }
}

fn log_group(emulator: &Emulator, region: &str, name: &str) -> Option<Value> {
    let found = emulator.aws_ok(
        "logs",
        region,
        "DescribeLogGroups",
        &json!({ "logGroupNamePrefix": name }),
    );
    found["logGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["logGroupName"] == name)
        .cloned()
}

/// Both functions run once (an event they ignore), so Lambda has written their logs.
fn invoke_both(emulator: &Emulator) {
    for name in [ID, NOTIFIER] {
        let out = emulator.aws_ok(
            "lambda",
            DR,
            "Invoke",
            &json!({ "FunctionName": name, "Payload": "{}" }),
        );
        assert!(out.get("FunctionError").is_none(), "{name}: {out}");
    }
}

/// The functions' log groups in the DR region: drpair's KMS key (usable by CloudWatch Logs for
/// these groups), the configured retention, the standard tags, the functions' logs; none in the
/// primary region.
fn check_log_groups(emulator: &Emulator, state: &Value) {
    let key_arn = state["kms_key_arn"].as_str().expect("kms_key_arn");
    let key = emulator.aws_ok(
        "kms",
        DR,
        "DescribeKey",
        &json!({ "KeyId": LOGS_KEY_ALIAS }),
    );
    assert_eq!(key["KeyMetadata"]["Arn"], key_arn);
    assert_eq!(key["KeyMetadata"]["KeyState"], "Enabled");
    let key_tags = emulator.aws_ok(
        "kms",
        DR,
        "ListResourceTags",
        &json!({ "KeyId": key["KeyMetadata"]["KeyId"] }),
    );
    assert_standard_tags(
        &tags_map(&key_tags["Tags"], "TagKey", "TagValue"),
        LOGS_KEY_ALIAS,
    );
    for name in LOG_GROUPS {
        let group = log_group(emulator, DR, name).unwrap_or_else(|| panic!("no log group {name}"));
        assert_eq!(group["kmsKeyId"], key_arn, "{name}: {group}");
        assert_eq!(
            group["retentionInDays"], state["log_retention_days"],
            "{name}: {group}"
        );
        let tags = emulator.aws_ok(
            "logs",
            DR,
            "ListTagsForResource",
            &json!({ "resourceArn": group["logGroupArn"] }),
        );
        assert_standard_tags(&tags["tags"], name);
        let streams = emulator.aws_ok(
            "logs",
            DR,
            "DescribeLogStreams",
            &json!({ "logGroupName": name }),
        );
        assert!(
            !streams["logStreams"].as_array().unwrap().is_empty(),
            "{name} holds no logs of its function: {}",
            emulator.log()
        );
        assert!(
            log_group(emulator, PRIMARY, name).is_none(),
            "{name} must be in the DR region only"
        );
    }
}

fn rule(emulator: &Emulator, name: &str) -> Option<Value> {
    match emulator.aws("events", DR, "DescribeRule", &json!({ "Name": name })) {
        Ok(out) => Some(out),
        Err(e) if e.code == "ResourceNotFoundException" => None,
        Err(e) => panic!("DescribeRule {name}: {e}"),
    }
}

/// Everything of step 1, checked in AWS against the state.
fn check_deployment(emulator: &Emulator, state: &Value, s: &Stack, mode: &str) {
    for (name, arn_key, handler) in [
        (
            ID,
            "orchestrator_function_arn",
            "drpair_failover.orchestrator.handler",
        ),
        (
            NOTIFIER,
            "notifier_function_arn",
            "drpair_failover.notifier.handler",
        ),
    ] {
        let f =
            function(emulator, DR, name).unwrap_or_else(|| panic!("no function {name} in {DR}"));
        let c = &f["Configuration"];
        assert_eq!(c["FunctionArn"], state[arn_key], "{name}");
        assert_eq!(c["Runtime"], "python3.12", "{name}");
        assert_eq!(c["Handler"], handler, "{name}");
        assert_eq!(c["CodeSha256"], state["code_sha256"], "{name}");
        let env = &c["Environment"]["Variables"];
        assert_eq!(env["MODE"], mode, "{name}: {env}");
        assert_eq!(env["GLOBAL_CLUSTER_IDENTIFIER"], GLOBAL);
        assert_eq!(env["DR_CLUSTER_IDENTIFIER"], DR_CLUSTER);
        assert_eq!(env["HEALTH_CHECK_ID"], s.health_check_id.as_str());
        assert_eq!(env["TOPIC_ARNS"], s.topic_arns.join(","));
        assert_eq!(env["STATE_TABLE"], TABLE);
        assert_eq!(
            env["LAG_THRESHOLD_MS"],
            state["replication_lag_threshold_ms"].to_string(),
            "{name}: {env}"
        );
        assert_eq!(
            env["CONSECUTIVE_FAILURES"],
            state["consecutive_failures"].to_string(),
            "{name}: {env}"
        );
        assert_eq!(
            env["PRIMARY_ENDPOINT_URL"],
            "https://primary.payments.example.com/health"
        );
        assert_standard_tags(&f["Tags"], name);
        assert!(
            function(emulator, PRIMARY, name).is_none(),
            "{name} must run in the DR region only"
        );
    }
    let orchestrator_role =
        emulator.aws_ok("iam", PRIMARY, "GetRole", &json!({ "RoleName": ROLES[0] }));
    assert_eq!(
        orchestrator_role["Role"]["Arn"],
        state["orchestrator_role_arn"]
    );
    for role in ROLES {
        let got = emulator.aws_ok("iam", PRIMARY, "GetRole", &json!({ "RoleName": role }));
        assert_standard_tags(&tags_map(&got["Role"]["Tags"], "Key", "Value"), role);
        let policy = emulator.aws_ok(
            "iam",
            PRIMARY,
            "GetRolePolicy",
            &json!({ "RoleName": role, "PolicyName": "drpair-failover" }),
        );
        let text = policy["PolicyDocument"].to_string();
        for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
            let actions = match &statement["Action"] {
                Value::Array(a) => a.clone(),
                one => vec![one.clone()],
            };
            for action in actions {
                assert!(
                    !action.as_str().unwrap().contains('*'),
                    "{role}: wildcard action {action}"
                );
            }
        }
        for topic in &s.topic_arns {
            assert!(
                text.contains(topic.as_str()),
                "{role} must name {topic}: {text}"
            );
        }
    }
    let orchestrator_policy = emulator.aws_ok(
        "iam",
        PRIMARY,
        "GetRolePolicy",
        &json!({ "RoleName": ROLES[0], "PolicyName": "drpair-failover" }),
    )["PolicyDocument"]
        .to_string();
    for needle in [
        format!("global-cluster:{GLOBAL}"),
        format!("cluster:{DR_CLUSTER}"),
        format!("autoScalingGroupName/{}", stack::ASG),
        format!("table/{TABLE}"),
    ] {
        assert!(
            orchestrator_policy.contains(&needle),
            "{needle} in {orchestrator_policy}"
        );
    }
    // It decides from the DR region and data planes: no Route 53 API, no alarm states.
    for absent in ["route53:", "cloudwatch:DescribeAlarms"] {
        assert!(
            !orchestrator_policy.contains(absent),
            "{absent} in {orchestrator_policy}"
        );
    }

    let rule_arns = state["rule_arns"].as_array().unwrap();
    assert_eq!(rule_arns.len(), 2);
    for (name, arn) in RULES.iter().zip(rule_arns) {
        let r = rule(emulator, name).unwrap_or_else(|| panic!("no rule {name}"));
        assert_eq!(&r["Arn"], arn);
        assert_eq!(r["State"], "ENABLED");
        let tags = emulator.aws_ok(
            "events",
            DR,
            "ListTagsForResource",
            &json!({ "ResourceARN": arn }),
        );
        assert_standard_tags(&tags_map(&tags["Tags"], "Key", "Value"), name);
    }
    let alarms = rule(emulator, RULES[0]).unwrap();
    let pattern: Value = serde_json::from_str(alarms["EventPattern"].as_str().unwrap()).unwrap();
    assert_eq!(
        pattern["detail-type"],
        json!(["CloudWatch Alarm State Change"])
    );
    assert_eq!(
        pattern["detail"]["alarmName"],
        json!([{ "wildcard": "drpair-*-v2-test" }])
    );
    assert_eq!(
        rule(emulator, RULES[1]).unwrap()["ScheduleExpression"],
        "rate(1 minute)"
    );
    let targets = |name: &str| {
        let out = emulator.aws_ok("events", DR, "ListTargetsByRule", &json!({ "Rule": name }));
        let mut arns: Vec<String> = out["Targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["Arn"].as_str().unwrap().to_owned())
            .collect();
        arns.sort();
        arns
    };
    let orchestrator_arn = state["orchestrator_function_arn"]
        .as_str()
        .unwrap()
        .to_owned();
    let notifier_arn = state["notifier_function_arn"].as_str().unwrap().to_owned();
    assert_eq!(
        targets(RULES[0]),
        vec![notifier_arn, orchestrator_arn.clone()]
    );
    assert_eq!(targets(RULES[1]), vec![orchestrator_arn]);
    let policy = emulator.aws_ok("lambda", DR, "GetPolicy", &json!({ "FunctionName": ID }));
    let policy = policy["Policy"].as_str().unwrap();
    for arn in rule_arns {
        assert!(
            policy.contains(arn.as_str().unwrap()),
            "{arn} may invoke the orchestrator: {policy}"
        );
    }

    let table = emulator.aws_ok(
        "dynamodb",
        DR,
        "DescribeTable",
        &json!({ "TableName": TABLE }),
    )["Table"]
        .clone();
    assert_eq!(table["SSEDescription"]["SSEType"], "KMS");
    let tags = emulator.aws_ok(
        "dynamodb",
        DR,
        "ListTagsOfResource",
        &json!({ "ResourceArn": table["TableArn"] }),
    );
    assert_standard_tags(&tags_map(&tags["Tags"], "Key", "Value"), TABLE);
}

fn assert_nothing_left(emulator: &Emulator) {
    for region in [PRIMARY, DR] {
        let groups = emulator.aws_ok(
            "logs",
            region,
            "DescribeLogGroups",
            &json!({ "logGroupNamePrefix": "/aws/lambda/failover-" }),
        );
        assert_eq!(
            groups["logGroups"],
            json!([]),
            "log groups left in {region}"
        );
        let aliases = emulator.aws_ok("kms", region, "ListAliases", &json!({}));
        assert!(
            !aliases["Aliases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["AliasName"] == LOGS_KEY_ALIAS),
            "{LOGS_KEY_ALIAS} left in {region}"
        );
        for name in [ID, NOTIFIER] {
            assert!(
                function(emulator, region, name).is_none(),
                "{name} left in {region}"
            );
        }
        let rules = emulator.aws_ok(
            "events",
            region,
            "ListRules",
            &json!({ "NamePrefix": "failover-" }),
        );
        assert_eq!(rules["Rules"], json!([]), "rules left in {region}");
        let tables = emulator.aws_ok("dynamodb", region, "ListTables", &json!({}));
        assert!(
            !tables["TableNames"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == TABLE),
            "{TABLE} left in {region}"
        );
    }
    for role in ROLES {
        let got = emulator.aws("iam", PRIMARY, "GetRole", &json!({ "RoleName": role }));
        assert_eq!(
            got.map_err(|e| e.code),
            Err("NoSuchEntity".to_owned()),
            "{role} left"
        );
    }
    let tagged = emulator.aws_ok(
        "resourcegroupstaggingapi",
        DR,
        "GetResources",
        &json!({ "TagFilters": [{ "Key": "drpair:owner", "Values": [OWNER] }] }),
    );
    // KMS keys cannot be deleted at once: the log groups' key waits out its deletion window.
    let mut left = Vec::new();
    for mapping in tagged["ResourceTagMappingList"].as_array().unwrap() {
        let arn = mapping["ResourceARN"].as_str().unwrap();
        if arn.contains(":kms:") {
            let meta = emulator.aws_ok("kms", DR, "DescribeKey", &json!({ "KeyId": arn }));
            assert_eq!(meta["KeyMetadata"]["KeyState"], "PendingDeletion", "{arn}");
        } else {
            left.push(arn.to_owned());
        }
    }
    assert_eq!(left, Vec::<String>::new(), "tagged objects left in {DR}");
}

#[test]
fn orchestrator_lifecycle() {
    let emulator = Emulator::start();
    let s = stack::build(&emulator);
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, &s, "automatic", ""));
    ws.init();

    // 1. Create, then check the DR region: functions, roles, rules, permissions, table, tags.
    //    The RTO budget is known at plan time.
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    let planned = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(planned.contains("+ total_seconds = 220"), "{plan}");
    assert!(planned.contains("+ scale_up_seconds = 90"), "{plan}");
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert_eq!(state["id"], ID);
    assert_eq!(state["region"], DR);
    assert_eq!(state["state_table_name"], TABLE);
    assert_eq!(state["drift"], json!([]));
    assert_eq!(state["mode"], "automatic");
    assert_eq!(state["consecutive_failures"], 2);
    assert_eq!(state["replication_lag_threshold_ms"], 1000);
    assert_eq!(state["rto_target_seconds"], 300);
    assert_eq!(state["dns_failover_seconds"], Value::Null);
    assert_eq!(
        state["rto_budget"],
        json!({
            "detection_seconds": 120,
            "confirmation_seconds": 10,
            "promotion_seconds": 60,
            "scale_up_seconds": 90,
            "dns_seconds": 90,
            "total_seconds": 220,
        })
    );
    assert_eq!(state["code_sha256"].as_str().map(str::len), Some(44));
    assert_eq!(state["log_retention_days"], 365);
    check_deployment(&emulator, &state, &s, "automatic");
    // The functions ran with roles IAM had just made: Lambda refused them until they had
    // propagated, and the apply waited.
    let refusals = stack::control(&emulator, "GET", "/_drpair/iam-propagation", &json!({}));
    assert!(
        refusals["refusals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["service"] == "lambda" && r["operation"] == "CreateFunction"),
        "{refusals}"
    );
    invoke_both(&emulator);
    check_log_groups(&emulator, &state);

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();

    // 3. Import by id into a fresh state gives the same values and an empty plan.
    ws.state_rm(ADDR);
    ws.import(ADDR, ID);
    let imported = ws.state_resource(ADDR);
    for key in [
        "id",
        "global_cluster_identifier",
        "dr_cluster_identifier",
        "primary_health_check_id",
        "dr_asg_name",
        "topic_arns",
        "mode",
        "consecutive_failures",
        "replication_lag_threshold_ms",
        "rto_target_seconds",
        "dns_failover_seconds",
        "rto_budget",
        "alarm_name_prefix",
        "scale_to",
        "tags",
        "tags_all",
        "region",
        "orchestrator_function_arn",
        "notifier_function_arn",
        "orchestrator_role_arn",
        "notifier_role_arn",
        "rule_arns",
        "state_table_name",
        "log_retention_days",
        "kms_key_arn",
        "code_sha256",
        "drift",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    ws.assert_no_changes();

    // 4. The mode, the probes and the lag threshold change in place: same functions, same
    //    roles, new environment; the budget follows at plan time (3 probes: 280 s; a slower
    //    DNS path of 150 s stays below it).
    let tuned = "  consecutive_failures = 3\n  replication_lag_threshold_ms = 2500\n  dns_failover_seconds = 150\n  log_retention_days = 731";
    ws.write_config(&config(&emulator.endpoint, &s, "notify_only", tuned));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    let planned = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(planned.contains("~ total_seconds = 220 -> 280"), "{plan}");
    ws.apply();
    let updated = ws.state_resource(ADDR);
    for key in [
        "orchestrator_function_arn",
        "notifier_function_arn",
        "orchestrator_role_arn",
        "rule_arns",
        "kms_key_arn",
        "code_sha256",
    ] {
        assert_eq!(updated[key], state[key], "{key} must not change");
    }
    assert_eq!(updated["log_retention_days"], 731);
    check_log_groups(&emulator, &updated);
    assert_eq!(updated["mode"], "notify_only");
    assert_eq!(updated["replication_lag_threshold_ms"], 2500);
    assert_eq!(updated["rto_budget"]["detection_seconds"], 180);
    assert_eq!(updated["rto_budget"]["dns_seconds"], 150);
    assert_eq!(updated["rto_budget"]["total_seconds"], 280);
    check_deployment(&emulator, &updated, &s, "notify_only");
    ws.assert_no_changes();

    // 5. Parts deleted or changed out of band are planned as a repair, and repaired.
    emulator.aws_ok(
        "events",
        DR,
        "RemoveTargets",
        &json!({ "Rule": RULES[1], "Ids": ["orchestrator"] }),
    );
    emulator.aws_ok("events", DR, "DeleteRule", &json!({ "Name": RULES[1] }));
    emulator.aws_ok(
        "lambda",
        DR,
        "RemovePermission",
        &json!({ "FunctionName": NOTIFIER, "StatementId": "drpair-alarm-rule" }),
    );
    emulator.aws_ok(
        "iam",
        PRIMARY,
        "DeleteRolePolicy",
        &json!({ "RoleName": ROLES[1], "PolicyName": "drpair-failover" }),
    );
    emulator.aws_ok(
        "logs",
        DR,
        "DeleteLogGroup",
        &json!({ "logGroupName": LOG_GROUPS[1] }),
    );
    emulator.aws_ok(
        "logs",
        DR,
        "PutRetentionPolicy",
        &json!({ "logGroupName": LOG_GROUPS[0], "retentionInDays": 7 }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    for drifted in [
        "/aws/lambda/failover-notifier-v2-test is missing",
        "/aws/lambda/failover-orchestrator-v2-test: keeps 7 days, expected 731 days",
    ] {
        assert!(plan.stdout.contains(drifted), "{drifted}: {plan}");
    }
    assert!(
        plan.stdout.contains("failover-probe-v2-test is missing"),
        "{plan}"
    );
    assert!(
        plan.stdout.contains("permission drpair-alarm-rule"),
        "{plan}"
    );
    assert!(
        plan.stdout
            .contains("inline policy drpair-failover is missing"),
        "{plan}"
    );
    ws.apply();
    let repaired = ws.state_resource(ADDR);
    assert_eq!(repaired["drift"], json!([]));
    assert_eq!(repaired["rule_arns"], state["rule_arns"]);
    check_deployment(&emulator, &repaired, &s, "notify_only");
    invoke_both(&emulator);
    check_log_groups(&emulator, &repaired);
    ws.assert_no_changes();

    // A log group Lambda made by itself (what deployments of older providers have: no tags, no
    // retention, no customer-managed key) is adopted and brought to the spec.
    emulator.aws_ok(
        "logs",
        DR,
        "DeleteLogGroup",
        &json!({ "logGroupName": LOG_GROUPS[0] }),
    );
    emulator.aws_ok(
        "logs",
        DR,
        "CreateLogGroup",
        &json!({ "logGroupName": LOG_GROUPS[0] }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.stdout.contains(
            "/aws/lambda/failover-orchestrator-v2-test: not encrypted with KMS, expected"
        ),
        "{plan}"
    );
    ws.apply();
    invoke_both(&emulator);
    check_log_groups(&emulator, &ws.state_resource(ADDR));
    ws.assert_no_changes();

    // 6. Destroy leaves nothing, in either region.
    ws.destroy();
    assert_nothing_left(&emulator);
}

/// The package the provider zipped runs, on its own schedule: an outage of us-east-1 fails
/// over once, scales DR, notifies the DR topic at once and us-east-1's once it is back; the plan
/// stays empty afterwards.
#[test]
fn orchestrator_fails_over_once_in_an_outage() {
    // The deployed orchestrator acts by itself, on its EventBridge schedule, on the emulator's
    // modeled clock (60 modeled seconds per real second): nothing invokes it by hand.
    let emulator = Emulator::start();
    let s = stack::build(&emulator);
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, &s, "automatic", ""));
    ws.init();
    ws.apply();
    stack::control(&emulator, "POST", "/_drpair/clock", &json!({ "speed": 60 }));
    // Steady state: the DR cluster reports its replication lag, the schedule probes.
    stack::wait_until(
        &emulator,
        "a replication-lag datapoint in the DR region",
        || stack::lag_datapoints(&emulator) > 0,
    );
    assert_eq!(stack::failovers(&emulator), 0);

    stack::control(
        &emulator,
        "POST",
        "/_drpair/outage",
        &json!({ "region": PRIMARY }),
    );
    stack::wait_until(&emulator, "the DR cluster to become the writer", || {
        stack::writer_region(&emulator) == DR && stack::dr_capacity(&emulator) == (2, 4, 4)
    });
    // The topics also carry the notifier's alarm messages: only the orchestrator's events count.
    let failover_events = |events: Vec<Value>| -> Vec<Value> {
        events
            .into_iter()
            .filter(|e| e["source"] == "drpair.failover-orchestrator")
            .collect()
    };
    let dr_events = failover_events(stack::queued_events(&emulator, DR, &s.queue_urls[1]));
    assert_eq!(dr_events.len(), 1, "{dr_events:?}");
    assert_eq!(dr_events[0]["what"], "failover");
    assert_eq!(dr_events[0]["to_region"], DR);

    // us-east-1 back: the orchestrator tells its topic once, late; it never fails over again.
    stack::control(&emulator, "DELETE", "/_drpair/outage", &json!({}));
    let mut primary_events = Vec::new();
    stack::wait_until(&emulator, "the failover event in us-east-1's topic", || {
        primary_events.extend(failover_events(stack::queued_events(
            &emulator,
            PRIMARY,
            &s.queue_urls[0],
        )));
        !primary_events.is_empty()
    });
    assert_eq!(primary_events.len(), 1, "{primary_events:?}");
    assert_eq!(primary_events[0]["what"], "failover");
    assert_eq!(stack::failovers(&emulator), 1);
    stack::control(&emulator, "POST", "/_drpair/clock", &json!({ "speed": 1 }));
    ws.assert_no_changes();
}

#[test]
fn orchestrator_bad_input_is_refused_at_plan() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&format!(
        r#"{}
resource "drpair_failover_orchestrator" "auto" {{
  global_cluster_identifier = "global--db"
  dr_cluster_identifier     = "dr-db-cluster-v2-test"
  primary_health_check_id   = "not a check"
  dr_asg_name               = "web"
  topic_arns                = ["arn:aws:sqs:us-east-2:123456789012:q"]
  mode                      = "sometimes"
  consecutive_failures      = 0
  scale_to                  = {{ min_size = 4, desired_capacity = 2 }}
  replication_lag_threshold_ms = 0
  rto_target_seconds        = 0
  dns_failover_seconds      = -5
}}
"#,
        provider_block(&emulator.endpoint, "")
    ));
    ws.init();
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 1, "{out}");
    let text = out.combined();
    for expected in [
        "Invalid global cluster identifier",
        "Invalid health check id",
        "Invalid topic ARN",
        "Invalid mode",
        "Invalid number of failed probes",
        "Desired capacity below the minimum",
        "Invalid replication lag threshold",
        "Invalid RTO target",
        "Invalid DNS failover time",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    // Nothing was made.
    assert!(function(&emulator, DR, ID).is_none());
}

#[test]
fn orchestrator_rto_budget_over_the_target_fails_the_plan() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let orchestrator = |extra: &str| {
        format!(
            r#"{}
resource "drpair_failover_orchestrator" "auto" {{
  global_cluster_identifier = "{GLOBAL}"
  dr_cluster_identifier     = "{DR_CLUSTER}"
  primary_health_check_id   = "abcdef11-2222-3333-4444-555555fedcba"
  dr_asg_name               = "{}"
  topic_arns                = ["arn:aws:sns:us-east-2:123456789012:drpair-alerts-v2-test"]
{extra}
}}
"#,
            provider_block(&emulator.endpoint, ""),
            stack::ASG,
        )
    };
    // 4 probes: 240 + 10 + 90 = 340 s > 300 s. The diagnostic names the target and the knob.
    ws.write_config(&orchestrator("  consecutive_failures = 4"));
    ws.init();
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 1, "{out}");
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for expected in [
        "Failover timing exceeds the RTO target",
        "rto_target_seconds",
        "The worst-case recovery time is 340 s",
        "lower consecutive_failures to 3",
        "raise rto_target_seconds to 340",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    // A DNS path slower than the target: the DNS settings are named instead.
    ws.write_config(&orchestrator("  dns_failover_seconds = 330"));
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 1, "{out}");
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("drpair_failover_dns's health_check"),
        "{text}"
    );
    // A business that accepts it raises the target: the plan goes through.
    ws.write_config(&orchestrator(
        "  consecutive_failures = 4\n  rto_target_seconds = 340",
    ));
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 2, "{out}");
    // Nothing was made.
    assert!(function(&emulator, DR, ID).is_none());
    // A wildcard in the DR group's name would widen the orchestrator's IAM policy.
    ws.write_config(&orchestrator("").replace(
        &format!("dr_asg_name               = \"{}\"", stack::ASG),
        "dr_asg_name               = \"payments-web-*\"",
    ));
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 1, "{out}");
    let text = out.combined();
    assert!(
        text.contains("Wildcard in Auto Scaling group name") && text.contains("payments-web-*"),
        "{text}"
    );
}
