//! drpair_metric_stream through the real Terraform CLI against the emulator, as numbered
//! steps: create and check (the metric stream running in the primary region, Firehose next to
//! it delivering to a bucket in the DR region, the bucket encrypted with the DR key, versioned,
//! closed and expiring, both roles naming exactly their resources and actions), empty plan,
//! import, in-place update not recreating anything, the stream stopped and other parts
//! broken out of band and repaired, destroy emptying the bucket of every version and leaving
//! nothing; and the plan-time errors of bad input.

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const ADDR: &str = "drpair_metric_stream.metrics";
const NAME: &str = "drpair-metrics-v2-test";
const BUCKET: &str = "drpair-metrics-123456789012-v2-test";
const STREAM_ROLE: &str = "drpair-metric-stream-v2-test";
const DELIVERY_ROLE: &str = "drpair-metric-delivery-v2-test";
const ALIAS: &str = "alias/drpair-metrics-v2-test";
const OWNER: &str = "drpair_metric_stream/drpair-metrics-v2-test";

fn config(endpoint: &str, body: &str) -> String {
    format!(
        r#"{}
resource "drpair_metric_stream" "metrics" {{
{body}
}}

output "bucket" {{ value = drpair_metric_stream.metrics.dr_bucket_name }}
"#,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }")
    )
}

const BASE: &str = r#"  namespaces    = ["AWS/RDS", "AWS/ApplicationELB"]
  output_format = "json""#;

const UPDATED: &str = r#"  namespaces     = ["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB"]
  output_format  = "opentelemetry1.0"
  retention_days = 30
  tags           = { Team = "sre" }"#;

fn metric_stream(emulator: &Emulator) -> Option<Value> {
    match emulator.aws(
        "cloudwatch",
        "us-east-1",
        "GetMetricStream",
        &json!({ "Name": NAME }),
    ) {
        Ok(v) => Some(v),
        Err(e) if e.code == "ResourceNotFoundException" => None,
        Err(e) => panic!("GetMetricStream: {e}"),
    }
}

fn firehose(emulator: &Emulator) -> Option<Value> {
    match emulator.aws(
        "firehose",
        "us-east-1",
        "DescribeDeliveryStream",
        &json!({ "DeliveryStreamName": NAME }),
    ) {
        Ok(v) => Some(v["DeliveryStreamDescription"].clone()),
        Err(e) if e.code == "ResourceNotFoundException" => None,
        Err(e) => panic!("DescribeDeliveryStream: {e}"),
    }
}

fn bucket_exists(emulator: &Emulator) -> bool {
    match emulator.aws(
        "s3",
        "us-east-2",
        "GetBucketLocation",
        &json!({ "Bucket": BUCKET }),
    ) {
        Ok(_) => true,
        Err(e) if e.code == "NoSuchBucket" => false,
        Err(e) => panic!("GetBucketLocation: {e}"),
    }
}

fn role(emulator: &Emulator, name: &str) -> Option<Value> {
    match emulator.aws("iam", "us-east-1", "GetRole", &json!({ "RoleName": name })) {
        Ok(out) => Some(out["Role"].clone()),
        Err(e) if e.code == "NoSuchEntity" => None,
        Err(e) => panic!("GetRole {name}: {e}"),
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

fn tags_of(list: &Value) -> Value {
    let mut tags = serde_json::Map::new();
    for t in as_list(list) {
        tags.insert(t["Key"].as_str().unwrap().to_owned(), t["Value"].clone());
    }
    Value::Object(tags)
}

/// A role's one inline policy: no wildcard action, and every resource named in `allowed`.
fn check_role(emulator: &Emulator, name: &str, service: &str, policy: &str, allowed: &[String]) {
    let r = role(emulator, name).unwrap_or_else(|| panic!("no role {name}"));
    let trust = &r["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"], service, "{name}");
    if service == "firehose.amazonaws.com" {
        assert_eq!(
            trust["Condition"]["StringEquals"]["sts:ExternalId"], "123456789012",
            "{name}: only this account's Firehose"
        );
    }
    let names = emulator.aws_ok(
        "iam",
        "us-east-1",
        "ListRolePolicies",
        &json!({ "RoleName": name }),
    );
    assert_eq!(names["PolicyNames"], json!([policy]), "{name}");
    let attached = emulator.aws_ok(
        "iam",
        "us-east-1",
        "ListAttachedRolePolicies",
        &json!({ "RoleName": name }),
    );
    assert_eq!(
        attached["AttachedPolicies"],
        json!([]),
        "{name}: no managed policies"
    );
    let doc = emulator.aws_ok(
        "iam",
        "us-east-1",
        "GetRolePolicy",
        &json!({ "RoleName": name, "PolicyName": policy }),
    )["PolicyDocument"]
        .clone();
    for statement in as_list(&doc["Statement"]) {
        assert_eq!(statement["Effect"], "Allow");
        for action in as_list(&statement["Action"]) {
            let action = action.as_str().unwrap();
            assert!(!action.contains('*'), "{name}: wildcard action {action}");
        }
        for resource in as_list(&statement["Resource"]) {
            let resource = resource.as_str().unwrap();
            assert!(
                allowed.iter().any(|a| a == resource),
                "{name}: resource {resource} is not one of {allowed:?}"
            );
        }
    }
    let tags = tags_of(
        &emulator.aws_ok(
            "iam",
            "us-east-1",
            "ListRoleTags",
            &json!({ "RoleName": name }),
        )["Tags"],
    );
    assert_eq!(tags["drpair:owner"], OWNER, "{name}: {tags}");
    assert_eq!(tags["DR-Role"], "global", "{name}: {tags}");
}

/// Everything the state describes exists as it should.
fn check_everything(
    emulator: &Emulator,
    state: &Value,
    namespaces: &[&str],
    format: &str,
    retention: i64,
) {
    let primary_key = state["primary"]["kms_key_arn"].as_str().unwrap();
    let dr_key = state["dr"]["kms_key_arn"].as_str().unwrap();
    assert!(primary_key.contains(":kms:us-east-1:"), "{primary_key}");
    assert!(dr_key.contains(":kms:us-east-2:"), "{dr_key}");
    for (region, key) in [("us-east-1", primary_key), ("us-east-2", dr_key)] {
        let meta = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": ALIAS }));
        assert_eq!(meta["KeyMetadata"]["Arn"], key, "{region}");
    }

    let stream = metric_stream(emulator).expect("the metric stream");
    assert_eq!(stream["Arn"], state["stream_arn"]);
    assert_eq!(stream["State"], "running");
    assert_eq!(stream["OutputFormat"], format);
    assert_eq!(stream["FirehoseArn"], state["firehose_arn"]);
    assert_eq!(stream["RoleArn"], state["stream_role_arn"]);
    let mut got: Vec<&str> = stream["IncludeFilters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["Namespace"].as_str())
        .collect();
    got.sort();
    let mut want = namespaces.to_vec();
    want.sort();
    assert_eq!(got, want);
    let tags = tags_of(
        &emulator.aws_ok(
            "cloudwatch",
            "us-east-1",
            "ListTagsForResource",
            &json!({ "ResourceARN": stream["Arn"] }),
        )["Tags"],
    );
    assert_eq!(tags["Environment"], "test", "{tags}");
    assert_eq!(tags["DR-Role"], "primary", "{tags}");
    assert_eq!(tags["drpair:owner"], OWNER, "{tags}");

    let fh = firehose(emulator).expect("the Firehose stream");
    assert_eq!(fh["DeliveryStreamARN"], state["firehose_arn"]);
    assert!(fh["DeliveryStreamARN"]
        .as_str()
        .unwrap()
        .contains(":firehose:us-east-1:"));
    assert_eq!(fh["DeliveryStreamStatus"], "ACTIVE");
    assert_eq!(
        fh["DeliveryStreamEncryptionConfiguration"]["KeyType"],
        "CUSTOMER_MANAGED_CMK"
    );
    assert_eq!(
        fh["DeliveryStreamEncryptionConfiguration"]["KeyARN"],
        primary_key
    );
    let dest = &fh["Destinations"][0]["ExtendedS3DestinationDescription"];
    assert_eq!(dest["BucketARN"], format!("arn:aws:s3:::{BUCKET}"));
    assert_eq!(dest["RoleARN"], state["firehose_role_arn"]);
    assert_eq!(
        dest["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"],
        dr_key
    );
    let tags = tags_of(
        &emulator.aws_ok(
            "firehose",
            "us-east-1",
            "ListTagsForDeliveryStream",
            &json!({ "DeliveryStreamName": NAME }),
        )["Tags"],
    );
    assert_eq!(tags["drpair:owner"], OWNER, "{tags}");

    // The bucket is in the DR region, encrypted with the DR key, versioned, closed, expiring.
    assert_eq!(state["dr_bucket_name"], BUCKET);
    let location = emulator.aws_ok(
        "s3",
        "us-east-2",
        "GetBucketLocation",
        &json!({ "Bucket": BUCKET }),
    );
    assert_eq!(
        location["LocationConstraint"], "us-east-2",
        "the Firehose bucket is in the DR region"
    );
    let versioning = emulator.aws_ok(
        "s3",
        "us-east-2",
        "GetBucketVersioning",
        &json!({ "Bucket": BUCKET }),
    );
    assert_eq!(versioning["Status"], "Enabled");
    let sse = emulator.aws_ok(
        "s3",
        "us-east-2",
        "GetBucketEncryption",
        &json!({ "Bucket": BUCKET }),
    );
    let default =
        &sse["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"];
    assert_eq!(default["SSEAlgorithm"], "aws:kms");
    assert_eq!(default["KMSMasterKeyID"], dr_key);
    let block = emulator.aws_ok(
        "s3",
        "us-east-2",
        "GetPublicAccessBlock",
        &json!({ "Bucket": BUCKET }),
    );
    assert_eq!(
        block["PublicAccessBlockConfiguration"],
        json!({ "BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true })
    );
    let lifecycle = emulator.aws_ok(
        "s3",
        "us-east-2",
        "GetBucketLifecycleConfiguration",
        &json!({ "Bucket": BUCKET }),
    );
    let rule = &lifecycle["Rules"][0];
    assert_eq!(rule["Expiration"]["Days"], retention);
    assert_eq!(
        rule["NoncurrentVersionExpiration"]["NoncurrentDays"],
        retention
    );
    let tags = tags_of(
        &emulator.aws_ok(
            "s3",
            "us-east-2",
            "GetBucketTagging",
            &json!({ "Bucket": BUCKET }),
        )["TagSet"],
    );
    assert_eq!(tags["Environment"], "test", "{tags}");
    assert_eq!(tags["DR-Role"], "dr", "{tags}");
    assert_eq!(tags["CostCenter"], "payments", "{tags}");

    // Each role is trusted by one service and names exactly its resources and actions.
    let firehose_arn = state["firehose_arn"].as_str().unwrap().to_owned();
    check_role(
        emulator,
        STREAM_ROLE,
        "streams.metrics.cloudwatch.amazonaws.com",
        "put-records-to-firehose",
        &[firehose_arn],
    );
    check_role(
        emulator,
        DELIVERY_ROLE,
        "firehose.amazonaws.com",
        "deliver-to-bucket",
        &[
            format!("arn:aws:s3:::{BUCKET}"),
            format!("arn:aws:s3:::{BUCKET}/metrics/*"),
            format!("arn:aws:s3:::{BUCKET}/errors/*"),
            dr_key.to_owned(),
        ],
    );
}

#[test]
fn metric_stream_lifecycle() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, BASE));
    ws.init();

    // 1. Create, then check everything.
    let (_, plan) = ws.plan_exit_code();
    assert!(
        plan.stdout.contains(BUCKET),
        "the bucket name is known at plan time: {plan}"
    );
    ws.apply();
    let state = ws.state_resource(ADDR);
    assert_eq!(state["id"], NAME);
    assert_eq!(state["drift"], json!([]));
    check_everything(
        &emulator,
        &state,
        &["AWS/RDS", "AWS/ApplicationELB"],
        "json",
        90,
    );

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();

    // 3. Import by name into a fresh state gives the same values and an empty plan.
    ws.state_rm(ADDR);
    ws.import(ADDR, NAME);
    let imported = ws.state_resource(ADDR);
    for key in [
        "id",
        "name_prefix",
        "namespaces",
        "output_format",
        "retention_days",
        "stream_arn",
        "firehose_arn",
        "dr_bucket_name",
        "dr_bucket_arn",
        "stream_role_arn",
        "firehose_role_arn",
        "tags_all",
        "primary",
        "dr",
        "drift",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    ws.assert_no_changes();

    // 4. Namespaces, format, retention and tags change in place: nothing is recreated.
    ws.write_config(&config(&emulator.endpoint, UPDATED));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    let created = metric_stream(&emulator).unwrap()["CreationDate"].clone();
    ws.apply();
    let updated = ws.state_resource(ADDR);
    for key in [
        "stream_arn",
        "firehose_arn",
        "dr_bucket_name",
        "stream_role_arn",
        "firehose_role_arn",
        "primary",
        "dr",
    ] {
        assert_eq!(updated[key], state[key], "{key} must not change");
    }
    assert_eq!(
        metric_stream(&emulator).unwrap()["CreationDate"],
        created,
        "the stream was updated, not recreated"
    );
    check_everything(
        &emulator,
        &updated,
        &["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB"],
        "opentelemetry1.0",
        30,
    );
    ws.assert_no_changes();

    // 5. Out of band: the stream stopped, the bucket's lifecycle removed, the delivery role's
    //    policy deleted. Planned as a repair, repaired.
    emulator.aws_ok(
        "cloudwatch",
        "us-east-1",
        "StopMetricStreams",
        &json!({ "Names": [NAME] }),
    );
    emulator.aws_ok(
        "s3",
        "us-east-2",
        "DeleteBucketLifecycle",
        &json!({ "Bucket": BUCKET }),
    );
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "DeleteRolePolicy",
        &json!({ "RoleName": DELIVERY_ROLE, "PolicyName": "deliver-to-bucket" }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "out-of-band changes must plan a repair: {plan}");
    for expected in [
        format!("us-east-1: metric stream {NAME} is stopped, expected running"),
        format!("us-east-2: bucket {BUCKET} lifecycle rule expire-metrics does not expire objects after 30 days"),
        format!("IAM role {DELIVERY_ROLE}: inline policy deliver-to-bucket is missing"),
    ] {
        assert!(plan.stdout.contains(&expected), "expected {expected:?}: {plan}");
    }
    ws.apply();
    assert_eq!(ws.state_resource(ADDR)["drift"], json!([]));
    check_everything(
        &emulator,
        &updated,
        &["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB"],
        "opentelemetry1.0",
        30,
    );
    ws.assert_no_changes();

    // 6. The Firehose stream deleted out of band: re-created under the same ARN.
    emulator.aws_ok(
        "firehose",
        "us-east-1",
        "DeleteDeliveryStream",
        &json!({ "DeliveryStreamName": NAME }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.stdout
            .contains(&format!("us-east-1: Firehose stream {NAME} is missing")),
        "{plan}"
    );
    ws.apply();
    check_everything(
        &emulator,
        &updated,
        &["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB"],
        "opentelemetry1.0",
        30,
    );
    ws.assert_no_changes();

    // 7. Destroy empties the bucket of every version and delete marker and leaves nothing;
    //    twice is fine.
    for body in ["one", "two"] {
        emulator.aws_ok(
            "s3",
            "us-east-2",
            "PutObject",
            &json!({ "Bucket": BUCKET, "Key": "metrics/a.json", "Body": body }),
        );
    }
    emulator.aws_ok(
        "s3",
        "us-east-2",
        "DeleteObject",
        &json!({ "Bucket": BUCKET, "Key": "metrics/a.json" }),
    );
    emulator.aws_ok(
        "s3",
        "us-east-2",
        "PutObject",
        &json!({ "Bucket": BUCKET, "Key": "errors/b.json", "Body": "x" }),
    );
    let versions = emulator.aws_ok(
        "s3",
        "us-east-2",
        "ListObjectVersions",
        &json!({ "Bucket": BUCKET }),
    );
    assert_eq!(
        versions["Versions"].as_array().unwrap().len(),
        3,
        "{versions:#}"
    );
    ws.destroy();
    assert!(metric_stream(&emulator).is_none(), "metric stream left");
    assert!(firehose(&emulator).is_none(), "Firehose stream left");
    assert!(!bucket_exists(&emulator), "bucket left");
    assert!(role(&emulator, STREAM_ROLE).is_none(), "stream role left");
    assert!(
        role(&emulator, DELIVERY_ROLE).is_none(),
        "delivery role left"
    );
    for (region, side) in [("us-east-1", "primary"), ("us-east-2", "dr")] {
        let aliases = emulator.aws_ok("kms", region, "ListAliases", &json!({}));
        assert!(
            !aliases["Aliases"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["AliasName"] == ALIAS),
            "{region}: alias left"
        );
        let meta = emulator.aws_ok(
            "kms",
            region,
            "DescribeKey",
            &json!({ "KeyId": updated[side]["kms_key_arn"] }),
        );
        assert_eq!(
            meta["KeyMetadata"]["KeyState"], "PendingDeletion",
            "{region}"
        );
    }
    ws.destroy();
}

#[test]
fn bad_metric_stream_input_fails_at_plan_naming_the_attribute() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, BASE));
    ws.init();
    let cases = [
        (
            "  namespaces = []",
            "No namespaces to stream",
            "namespaces = []",
        ),
        (
            "  namespaces = [\" AWS/RDS\"]",
            "Invalid namespace",
            "namespaces = [\" AWS/RDS\"]",
        ),
        (
            "  namespaces    = [\"AWS/RDS\"]\n  output_format = \"csv\"",
            "Invalid output format",
            "output_format = \"csv\"",
        ),
        (
            "  namespaces     = [\"AWS/RDS\"]\n  retention_days = 0",
            "Invalid retention",
            "retention_days = 0",
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

    // A bucket of that name that drpair does not own is refused before anything is made.
    emulator.aws_ok(
        "s3",
        "us-east-2",
        "CreateBucket",
        &json!({ "Bucket": BUCKET, "CreateBucketConfiguration": { "LocationConstraint": "us-east-2" } }),
    );
    ws.write_config(&config(&emulator.endpoint, BASE));
    let out = ws.apply_expect_error();
    assert!(
        out.combined().contains("terraform import"),
        "expected advice to import: {out}"
    );
    assert!(ws.state_addresses().is_empty(), "nothing may be in state");
    assert!(metric_stream(&emulator).is_none());
    assert!(firehose(&emulator).is_none());
    assert!(role(&emulator, DELIVERY_ROLE).is_none());
    assert!(bucket_exists(&emulator), "the foreign bucket stays");
}
