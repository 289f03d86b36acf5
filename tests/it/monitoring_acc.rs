//! drpair_monitoring through the real Terraform CLI against the emulator, as numbered steps:
//! create and check both regions (topics encrypted with their region's key, topic policies,
//! subscriptions, every alarm in its region notifying its own region's topic), an alarm set to
//! ALARM delivering to its region's topic (seen by an SQS queue subscribed in the test), empty
//! plan, import, in-place update not recreating anything, out-of-band deletions repaired,
//! destroy leaving nothing; and the plan-time errors of bad input.

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const ADDR: &str = "drpair_monitoring.alerts";
const TOPIC: &str = "drpair-alerts-v2-test";
const ALIAS: &str = "alias/drpair-alerts-v2-test";
const OWNER: &str = "drpair_monitoring/drpair-alerts-v2-test";
const FANOUT: &str = "arn:aws:sqs:us-east-2:123456789012:fanout";
const HEALTH_CHECK: &str = "2d2b2a3c-1f5e-4a7b-9c1d-0e2f3a4b5c6d";
const LAG: &str = "drpair-replication-lag-v2-test";
const RPO: &str = "drpair-rpo-lag-v2-test";
const AVAILABILITY: &str = "drpair-dr-cluster-availability-v2-test";
const HC_ALARM: &str = "drpair-health-check-2d2b2a3c-1f5e-4a7b-9c1d-0e2f3a4b5c6d-v2-test";
const TO_DR: &str = "drpair-session-replication-to-dr-v2-test";
const TO_PRIMARY: &str = "drpair-session-replication-to-primary-v2-test";
/// (region, DR-Role, state side, alarms expected there).
const REGIONS: [(&str, &str, &str, &[&str]); 2] = [
    ("us-east-1", "primary", "primary", &[HC_ALARM, TO_DR]),
    (
        "us-east-2",
        "dr",
        "dr",
        &[LAG, RPO, AVAILABILITY, TO_PRIMARY],
    ),
];

fn config(endpoint: &str, body: &str) -> String {
    format!(
        r#"{}
resource "drpair_monitoring" "alerts" {{
{body}
}}

output "dr_topic" {{ value = drpair_monitoring.alerts.dr.topic_arn }}
"#,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }")
    )
}

fn base(threshold: u32, emails: &str, extra: &str) -> String {
    format!(
        r#"  email_addresses              = [{emails}]
  global_cluster_identifier    = "global-db-cluster-v2-test"
  health_check_ids             = ["{HEALTH_CHECK}"]
  session_table_name           = "session-table-v2-test"
  replication_lag_threshold_ms = {threshold}
{extra}"#
    )
}

fn topic_arn(region: &str) -> String {
    format!("arn:aws:sns:{region}:123456789012:{TOPIC}")
}

fn alarms(emulator: &Emulator, region: &str) -> Vec<Value> {
    let out = emulator.aws_ok(
        "cloudwatch",
        region,
        "DescribeAlarms",
        &json!({ "AlarmNamePrefix": "drpair-" }),
    );
    out["MetricAlarms"].as_array().cloned().unwrap_or_default()
}

fn alarm(emulator: &Emulator, region: &str, name: &str) -> Option<Value> {
    alarms(emulator, region)
        .into_iter()
        .find(|a| a["AlarmName"] == name)
}

fn tags_of(list: &Value) -> Value {
    let mut tags = serde_json::Map::new();
    for t in list.as_array().cloned().unwrap_or_default() {
        tags.insert(t["Key"].as_str().unwrap().to_owned(), t["Value"].clone());
    }
    Value::Object(tags)
}

fn topic(emulator: &Emulator, region: &str) -> Option<Value> {
    match emulator.aws(
        "sns",
        region,
        "GetTopicAttributes",
        &json!({ "TopicArn": topic_arn(region) }),
    ) {
        Ok(out) => Some(out["Attributes"].clone()),
        Err(e) if e.code.contains("NotFound") => None,
        Err(e) => panic!("GetTopicAttributes in {region}: {e}"),
    }
}

/// The confused-deputy condition of the statements for CloudWatch alarms in `region`.
fn alarms_of(region: &str) -> Value {
    json!({
        "StringEquals": { "aws:SourceAccount": "123456789012" },
        "ArnLike": { "aws:SourceArn": format!("arn:aws:cloudwatch:{region}:123456789012:alarm:*") }
    })
}

/// The one statement of `policy` for the service principal `service` (alone).
fn service_statement<'a>(policy: &'a Value, service: &str) -> &'a Value {
    let found: Vec<&Value> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Principal"]["Service"] == service)
        .collect();
    assert_eq!(found.len(), 1, "one statement for {service}: {policy}");
    found[0]
}

/// The policy of the region's topic key (GetKeyPolicy takes no alias).
fn key_policy(emulator: &Emulator, region: &str) -> Value {
    let key_id = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": ALIAS }))
        ["KeyMetadata"]["KeyId"]
        .clone();
    let out = emulator.aws_ok(
        "kms",
        region,
        "GetKeyPolicy",
        &json!({ "KeyId": key_id, "PolicyName": "default" }),
    );
    serde_json::from_str(out["Policy"].as_str().unwrap()).unwrap()
}

/// `policy` with the conditions of its service statements removed: AWS's unguarded examples.
fn without_service_conditions(policy: &Value) -> Value {
    let mut policy = policy.clone();
    for st in policy["Statement"].as_array_mut().unwrap() {
        if st["Principal"].get("Service").is_some() {
            st.as_object_mut().unwrap().remove("Condition");
        }
    }
    policy
}

fn subscriptions(emulator: &Emulator, region: &str) -> Vec<(String, String, String)> {
    let out = emulator.aws_ok(
        "sns",
        region,
        "ListSubscriptionsByTopic",
        &json!({ "TopicArn": topic_arn(region) }),
    );
    out["Subscriptions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_owned();
            (f("Protocol"), f("Endpoint"), f("SubscriptionArn"))
        })
        .collect()
}

/// Both regions hold what the state describes, with `threshold` on the lag alarm and `emails`.
fn check_both_regions(
    emulator: &Emulator,
    state: &Value,
    threshold: f64,
    emails: &[&str],
    team: Option<&str>,
) {
    for (region, role, side, expected_alarms) in REGIONS {
        let arn = topic_arn(region);
        assert_eq!(state[side]["topic_arn"], arn, "{region}");
        assert_eq!(state[side]["region"], region);
        let attrs = topic(emulator, region).unwrap_or_else(|| panic!("no topic in {region}"));
        let key_arn = state[side]["kms_key_arn"].as_str().unwrap();
        assert!(key_arn.contains(&format!(":kms:{region}:")), "{key_arn}");
        assert_eq!(
            attrs["KmsMasterKeyId"], key_arn,
            "{region}: topic encrypted with its region's key"
        );
        // Confused deputy: CloudWatch may publish only for this account's alarms of this
        // region, EventBridge only for this account's rules.
        let policy: Value = serde_json::from_str(attrs["Policy"].as_str().unwrap()).unwrap();
        let alarms_here = alarms_of(region);
        let publish = service_statement(&policy, "cloudwatch.amazonaws.com");
        assert_eq!(publish["Action"], "sns:Publish");
        assert_eq!(publish["Resource"], arn);
        assert_eq!(publish["Condition"], alarms_here, "{region}: {policy}");
        let rules = service_statement(&policy, "events.amazonaws.com");
        assert_eq!(rules["Action"], "sns:Publish");
        assert_eq!(
            rules["Condition"],
            json!({ "StringEquals": { "aws:SourceAccount": "123456789012" } }),
            "{region}: {policy}"
        );
        let key = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": ALIAS }));
        assert_eq!(key["KeyMetadata"]["Arn"], key_arn, "{region}");
        assert_eq!(key["KeyMetadata"]["KeyState"], "Enabled");
        let key_policy = key_policy(emulator, region);
        let encrypt = service_statement(&key_policy, "cloudwatch.amazonaws.com");
        assert_eq!(
            encrypt["Action"],
            json!(["kms:Decrypt", "kms:GenerateDataKey"])
        );
        assert_eq!(encrypt["Condition"], alarms_here, "{region}: {key_policy}");

        let tags = tags_of(
            &emulator.aws_ok(
                "sns",
                region,
                "ListTagsForResource",
                &json!({ "ResourceArn": arn }),
            )["Tags"],
        );
        assert_eq!(tags["Environment"], "test", "{region}: {tags}");
        assert_eq!(tags["DR-Role"], role, "{region}: {tags}");
        assert_eq!(tags["CostCenter"], "payments", "{region}: {tags}");
        assert_eq!(tags["drpair:owner"], OWNER, "{region}: {tags}");
        assert_eq!(
            tags.get("Team").and_then(Value::as_str),
            team,
            "{region}: {tags}"
        );

        let subs = subscriptions(emulator, region);
        for email in emails {
            assert!(
                subs.iter().any(|(p, e, _)| p == "email" && e == email),
                "{region}: {email} not subscribed: {subs:?}"
            );
        }

        let here = alarms(emulator, region);
        let mut names: Vec<&str> = here
            .iter()
            .filter_map(|a| a["AlarmName"].as_str())
            .collect();
        names.sort();
        let mut want = expected_alarms.to_vec();
        want.sort();
        assert_eq!(names, want, "{region}: alarms");
        assert_eq!(
            state[side]["alarm_names"].as_array().unwrap().len(),
            expected_alarms.len()
        );
        for a in &here {
            let name = a["AlarmName"].as_str().unwrap();
            assert_eq!(
                a["AlarmActions"],
                json!([arn]),
                "{region} {name}: ALARM action is its own region's topic"
            );
            assert_eq!(
                a["OKActions"],
                json!([arn]),
                "{region} {name}: OK action is its own region's topic"
            );
            let tags = tags_of(
                &emulator.aws_ok(
                    "cloudwatch",
                    region,
                    "ListTagsForResource",
                    &json!({ "ResourceARN": a["AlarmArn"] }),
                )["Tags"],
            );
            assert_eq!(tags["Environment"], "test", "{name}");
            assert_eq!(tags["DR-Role"], role, "{name}");
            assert_eq!(tags["drpair:owner"], OWNER, "{name}");
        }
    }
    let lag = alarm(emulator, "us-east-2", LAG).unwrap();
    assert_eq!(lag["MetricName"], "AuroraGlobalDBReplicationLag");
    assert_eq!(lag["Namespace"], "AWS/RDS");
    assert_eq!(
        lag["Dimensions"],
        json!([{ "Name": "DBClusterIdentifier", "Value": "dr-db-cluster-v2-test" }])
    );
    assert_eq!(lag["Threshold"], threshold);
    assert_eq!(lag["ComparisonOperator"], "GreaterThanThreshold");
    // No datapoint in an outage of the primary region: that must alarm, not stay quiet.
    assert_eq!(lag["TreatMissingData"], "breaching");
    let hc = alarm(emulator, "us-east-1", HC_ALARM).unwrap();
    assert_eq!(hc["MetricName"], "HealthCheckStatus");
    assert_eq!(
        hc["Dimensions"],
        json!([{ "Name": "HealthCheckId", "Value": HEALTH_CHECK }])
    );
    assert_eq!(hc["ComparisonOperator"], "LessThanThreshold");
    let to_dr = alarm(emulator, "us-east-1", TO_DR).unwrap();
    assert!(
        to_dr["Dimensions"]
            .as_array()
            .unwrap()
            .contains(&json!({ "Name": "ReceivingRegion", "Value": "us-east-2" })),
        "{to_dr}"
    );
}

/// An SQS queue in `region` subscribed (by the test, outside Terraform) to that region's topic.
fn listening_queue(emulator: &Emulator, region: &str, name: &str) -> String {
    let url = emulator.aws_ok("sqs", region, "CreateQueue", &json!({ "QueueName": name }))
        ["QueueUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let queue_arn = emulator.aws_ok(
        "sqs",
        region,
        "GetQueueAttributes",
        &json!({ "QueueUrl": url, "AttributeNames": ["QueueArn"] }),
    )["Attributes"]["QueueArn"]
        .clone();
    emulator.aws_ok(
        "sns",
        region,
        "Subscribe",
        &json!({ "TopicArn": topic_arn(region), "Protocol": "sqs", "Endpoint": queue_arn }),
    );
    url
}

/// The SNS notifications waiting in a queue, parsed; they are removed from the queue.
fn notifications(emulator: &Emulator, region: &str, url: &str) -> Vec<Value> {
    let out = emulator.aws_ok(
        "sqs",
        region,
        "ReceiveMessage",
        &json!({ "QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1 }),
    );
    let messages = out["Messages"].as_array().cloned().unwrap_or_default();
    for m in &messages {
        emulator.aws_ok(
            "sqs",
            region,
            "DeleteMessage",
            &json!({ "QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"] }),
        );
    }
    messages
        .iter()
        .map(|m| serde_json::from_str(m["Body"].as_str().unwrap()).unwrap())
        .collect()
}

/// The notifications of the test's own SetAlarmState calls: the emulator also evaluates the
/// alarms every modeled minute, as CloudWatch does, and what that sends depends on where in the
/// minute the test runs.
fn sent_by_the_test(messages: Vec<Value>) -> Vec<Value> {
    messages
        .into_iter()
        .filter(|m| {
            m["Message"]
                .as_str()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .is_some_and(|alarm| alarm["NewStateReason"] == "acceptance test")
        })
        .collect()
}

fn set_alarm(emulator: &Emulator, region: &str, name: &str, state: &str) {
    emulator.aws_ok(
        "cloudwatch",
        region,
        "SetAlarmState",
        &json!({ "AlarmName": name, "StateValue": state, "StateReason": "acceptance test" }),
    );
}

#[test]
fn monitoring_lifecycle() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(
        &emulator.endpoint,
        &base(1000, "\"oncall@example.com\"", ""),
    ));
    ws.init();

    // 1. Create, then check both regions.
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert_eq!(state["id"], TOPIC);
    assert_eq!(state["drift"], json!([]));
    assert_eq!(state["dr_cluster_identifier"], "dr-db-cluster-v2-test");
    assert_eq!(state["alarm_names"].as_array().unwrap().len(), 6);
    check_both_regions(&emulator, &state, 1000.0, &["oncall@example.com"], None);

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();

    // 3. An alarm set to ALARM notifies its own region's topic, and only that one.
    let primary_queue = listening_queue(&emulator, "us-east-1", "listener");
    let dr_queue = listening_queue(&emulator, "us-east-2", "listener");
    // The emulator evaluates alarms every modeled minute (these treat missing data as
    // breaching, so an evaluation puts them back in ALARM and a later SetAlarmState to ALARM
    // is no change and notifies nothing, as on AWS). Slow the clock to a modeled second per
    // 100 real seconds for this step, start both from OK and forget what that sent.
    emulator.control("POST", "/_drpair/clock", &json!({ "speed": 0.01 }));
    set_alarm(&emulator, "us-east-2", LAG, "OK");
    set_alarm(&emulator, "us-east-1", HC_ALARM, "OK");
    notifications(&emulator, "us-east-2", &dr_queue);
    notifications(&emulator, "us-east-1", &primary_queue);
    set_alarm(&emulator, "us-east-2", LAG, "ALARM");
    let got = sent_by_the_test(notifications(&emulator, "us-east-2", &dr_queue));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["TopicArn"], topic_arn("us-east-2"));
    let message: Value = serde_json::from_str(got[0]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["AlarmName"], LAG);
    assert_eq!(message["NewStateValue"], "ALARM");
    assert!(sent_by_the_test(notifications(&emulator, "us-east-1", &primary_queue)).is_empty());
    set_alarm(&emulator, "us-east-1", HC_ALARM, "ALARM");
    let got = sent_by_the_test(notifications(&emulator, "us-east-1", &primary_queue));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["TopicArn"], topic_arn("us-east-1"));
    // The OK transition goes to the same topic.
    set_alarm(&emulator, "us-east-2", LAG, "OK");
    let got = sent_by_the_test(notifications(&emulator, "us-east-2", &dr_queue));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(
        got[0]["Subject"].as_str().unwrap().starts_with("OK:"),
        "{got:#?}"
    );
    emulator.control("POST", "/_drpair/clock", &json!({ "speed": 1 }));
    // Subscriptions made outside Terraform are not drift.
    ws.assert_no_changes();

    // 4. Import by topic name into a fresh state gives the same values and an empty plan.
    ws.state_rm(ADDR);
    ws.import(ADDR, TOPIC);
    let imported = ws.state_resource(ADDR);
    for key in [
        "id",
        "name_prefix",
        "email_addresses",
        "global_cluster_identifier",
        "dr_cluster_identifier",
        "health_check_ids",
        "session_table_name",
        "replication_lag_threshold_ms",
        "rpo_lag_threshold_ms",
        "session_replication_latency_threshold_ms",
        "alarm_names",
        "tags_all",
        "primary",
        "dr",
        "drift",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    ws.assert_no_changes();

    // 5. Threshold, emails and tags change in place: same topics, keys and alarms.
    let arns_before: Vec<Value> = [("us-east-2", LAG), ("us-east-1", HC_ALARM)]
        .iter()
        .map(|(r, n)| alarm(&emulator, r, n).unwrap()["AlarmArn"].clone())
        .collect();
    //    A queue (made here) is subscribed to both topics through `subscriptions`.
    emulator.aws_ok(
        "sqs",
        "us-east-2",
        "CreateQueue",
        &json!({ "QueueName": "fanout" }),
    );
    ws.write_config(&config(
        &emulator.endpoint,
        &base(
            2000,
            "\"oncall@example.com\", \"dba@example.com\"",
            &format!("  tags = {{ Team = \"sre\" }}\n  subscriptions = [{{ protocol = \"sqs\", endpoint = \"{FANOUT}\" }}]"),
        ),
    ));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    //    The subscription endpoints are sensitive: the plan shows neither the new address nor
    //    the queue, and says so.
    assert!(plan.stdout.contains("(sensitive value)"), "{plan}");
    assert!(!plan.stdout.contains("dba@example.com"), "{plan}");
    assert!(!plan.stdout.contains(FANOUT), "{plan}");
    ws.apply();
    let updated = ws.state_resource(ADDR);
    for side in ["primary", "dr"] {
        assert_eq!(updated[side], state[side], "{side} must not be recreated");
    }
    check_both_regions(
        &emulator,
        &updated,
        2000.0,
        &["oncall@example.com", "dba@example.com"],
        Some("sre"),
    );
    for region in ["us-east-1", "us-east-2"] {
        let subs = subscriptions(&emulator, region);
        assert!(
            subs.iter().any(|(p, e, _)| p == "sqs" && e == FANOUT),
            "{region}: the queue is not subscribed: {subs:?}"
        );
    }
    let arns_after: Vec<Value> = [("us-east-2", LAG), ("us-east-1", HC_ALARM)]
        .iter()
        .map(|(r, n)| alarm(&emulator, r, n).unwrap()["AlarmArn"].clone())
        .collect();
    assert_eq!(arns_before, arns_after);
    ws.assert_no_changes();

    // 6. Out of band: the DR lag alarm deleted, the primary's email subscription removed, the
    //    primary topic's policy and the DR key's policy replaced by versions whose service
    //    statements have no source conditions (any account's alarms and rules could publish).
    //    Planned as a repair, repaired.
    let topic_attrs = topic(&emulator, "us-east-1").unwrap();
    let unguarded = without_service_conditions(
        &serde_json::from_str(topic_attrs["Policy"].as_str().unwrap()).unwrap(),
    );
    emulator.aws_ok(
        "sns",
        "us-east-1",
        "SetTopicAttributes",
        &json!({ "TopicArn": topic_arn("us-east-1"), "AttributeName": "Policy", "AttributeValue": unguarded.to_string() }),
    );
    let unguarded_key = without_service_conditions(&key_policy(&emulator, "us-east-2"));
    let dr_key_id = emulator.aws_ok(
        "kms",
        "us-east-2",
        "DescribeKey",
        &json!({ "KeyId": ALIAS }),
    )["KeyMetadata"]["KeyId"]
        .clone();
    emulator.aws_ok(
        "kms",
        "us-east-2",
        "PutKeyPolicy",
        &json!({ "KeyId": dr_key_id, "PolicyName": "default", "Policy": unguarded_key.to_string() }),
    );
    emulator.aws_ok(
        "cloudwatch",
        "us-east-2",
        "DeleteAlarms",
        &json!({ "AlarmNames": [LAG] }),
    );
    let email_sub = subscriptions(&emulator, "us-east-1")
        .into_iter()
        .find(|(p, e, _)| p == "email" && e == "dba@example.com")
        .unwrap();
    emulator.aws_ok(
        "sns",
        "us-east-1",
        "Unsubscribe",
        &json!({ "SubscriptionArn": email_sub.2 }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "out-of-band deletions must plan a repair: {plan}");
    assert!(
        plan.stdout
            .contains(&format!("us-east-2: alarm {LAG} is missing")),
        "{plan}"
    );
    assert!(
        plan.stdout
            .contains("us-east-1: email subscription (endpoint not shown: sensitive) is missing"),
        "{plan}"
    );
    assert!(
        !plan.stdout.contains("dba@example.com"),
        "drift does not show the sensitive endpoint: {plan}"
    );
    assert!(
        plan.stdout.contains("us-east-1: topic policy differs"),
        "{plan}"
    );
    assert!(
        plan.stdout.contains(&format!(
            "us-east-2: KMS key {ALIAS} has a key policy other than drpair's"
        )),
        "{plan}"
    );
    ws.apply();
    assert_eq!(ws.state_resource(ADDR)["drift"], json!([]));
    check_both_regions(
        &emulator,
        &updated,
        2000.0,
        &["oncall@example.com", "dba@example.com"],
        Some("sre"),
    );
    ws.assert_no_changes();

    // 7. The whole DR topic deleted out of band: re-created under the same ARN, encrypted, and
    //    the DR alarms notify it again.
    emulator.aws_ok(
        "sns",
        "us-east-2",
        "DeleteTopic",
        &json!({ "TopicArn": topic_arn("us-east-2") }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.stdout
            .contains(&format!("us-east-2: topic {TOPIC} is missing")),
        "{plan}"
    );
    ws.apply();
    check_both_regions(
        &emulator,
        &updated,
        2000.0,
        &["oncall@example.com", "dba@example.com"],
        Some("sre"),
    );
    let dr_queue = listening_queue(&emulator, "us-east-2", "listener-after-repair");
    set_alarm(&emulator, "us-east-2", RPO, "ALARM");
    let got = sent_by_the_test(notifications(&emulator, "us-east-2", &dr_queue));
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["TopicArn"], topic_arn("us-east-2"));
    ws.assert_no_changes();

    // 8. Destroy leaves no topic, alarm or alias in either region, and keys only as
    //    PendingDeletion; twice is fine.
    ws.destroy();
    for (region, _, _, _) in REGIONS {
        assert!(topic(&emulator, region).is_none(), "{region}: topic left");
        assert!(
            alarms(&emulator, region).is_empty(),
            "{region}: alarms left"
        );
        let aliases = emulator.aws_ok("kms", region, "ListAliases", &json!({}));
        assert!(
            !aliases["Aliases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["AliasName"] == ALIAS),
            "{region}: alias left"
        );
        let keys = emulator.aws_ok("kms", region, "ListKeys", &json!({}));
        for k in keys["Keys"].as_array().unwrap() {
            let id = k["KeyId"].as_str().unwrap();
            let tags = emulator.aws_ok("kms", region, "ListResourceTags", &json!({ "KeyId": id }));
            let ours = tags["Tags"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|t| t["TagKey"] == "drpair:owner" && t["TagValue"] == OWNER)
            });
            if ours {
                let meta = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": id }));
                assert_eq!(
                    meta["KeyMetadata"]["KeyState"], "PendingDeletion",
                    "{region}: {id}"
                );
            }
        }
    }
    ws.destroy();
}

#[test]
fn bad_monitoring_input_fails_at_plan_naming_the_attribute() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(
        &emulator.endpoint,
        &base(1000, "\"oncall@example.com\"", ""),
    ));
    ws.init();
    let cases = [
        (
            "  email_addresses = [\"oncall\"]".to_string(),
            "",
            "Invalid email address",
            "email_addresses = [\"oncall\"]",
        ),
        (
            "  replication_lag_threshold_ms = 0".to_string(),
            "",
            "Invalid replication_lag_threshold_ms",
            "replication_lag_threshold_ms = 0",
        ),
        (
            "  subscriptions = [{ protocol = \"email\", endpoint = \"a@example.com\" }]"
                .to_string(),
            "",
            "Invalid subscription",
            "subscriptions = [{ protocol = \"email\"",
        ),
        (
            "  subscriptions = [{ protocol = \"http\", endpoint = \"http://hooks.example.com/T0/token\" }]"
                .to_string(),
            "",
            "plain-HTTP",
            "subscriptions = [{ protocol = \"http\"",
        ),
        (
            "  name_prefix = \"Bad_Prefix\"".to_string(),
            "",
            "Invalid name prefix",
            "name_prefix = \"Bad_Prefix\"",
        ),
        (
            format!("  health_check_ids = [\"{HEALTH_CHECK}\"]"),
            "primary_region = \"us-west-2\"",
            "Health-check alarms need us-east-1",
            "health_check_ids = [",
        ),
    ];
    for (body, provider_extra, summary, source_line) in cases {
        ws.write_config(&format!(
            "{}\nresource \"drpair_monitoring\" \"alerts\" {{\n{body}\n}}\n",
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
    for region in ["us-east-1", "us-east-2"] {
        assert!(topic(&emulator, region).is_none(), "{region}");
    }

    // A topic of that name that drpair does not own is refused, and nothing is recorded.
    emulator.aws_ok("sns", "us-east-1", "CreateTopic", &json!({ "Name": TOPIC }));
    ws.write_config(&config(
        &emulator.endpoint,
        &base(1000, "\"oncall@example.com\"", ""),
    ));
    let out = ws.apply_expect_error();
    assert!(
        out.combined().contains("terraform import"),
        "expected advice to import: {out}"
    );
    assert!(ws.state_addresses().is_empty(), "nothing may be in state");
    assert!(alarms(&emulator, "us-east-1").is_empty());
    assert!(
        topic(&emulator, "us-east-1").is_some(),
        "the foreign topic stays"
    );
}
