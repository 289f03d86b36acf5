//! drpair_metric_stream through the real Terraform CLI against the emulator, as numbered
//! steps: create and check both directions (in each region a metric stream running, Firehose
//! next to it delivering to a bucket in the other region, each bucket encrypted with its
//! region's key through an S3 Bucket Key, versioned, closed and expiring, all four roles naming
//! exactly their resources and actions), metric updates of each region delivered as objects
//! into the other region's bucket, empty plan, import, in-place update not recreating anything,
//! streams stopped and other parts broken out of band in both directions and repaired, a
//! Firehose stream deleted and re-created with metrics flowing again, destroy emptying both
//! buckets and leaving nothing in either region; and the plan-time errors of bad input.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::harness::{provider_block, repo_root, Emulator, Workspace};
use serde_json::{json, Value};

const ADDR: &str = "drpair_metric_stream.metrics";
const NAME: &str = "drpair-metrics-v2-test";
const ALIAS: &str = "alias/drpair-metrics-v2-test";
const OWNER: &str = "drpair_metric_stream/drpair-metrics-v2-test";
const ACCOUNT: &str = "123456789012";
/// The modeled seconds after which metrics published now are in the buckets: the streams send
/// every minute, Firehose buffers for up to 300 s.
const DELIVERY_SECONDS: u64 = 420;

/// One direction: `source`'s metrics streamed there, kept in a bucket in `dest`.
struct Direction {
    side: &'static str,
    peer: &'static str,
    source: &'static str,
    dest: &'static str,
    bucket: &'static str,
    stream_role: &'static str,
    delivery_role: &'static str,
}

const PRIMARY_METRICS: Direction = Direction {
    side: "primary",
    peer: "dr",
    source: "us-east-1",
    dest: "us-east-2",
    bucket: "drpair-metrics-123456789012-v2-test",
    stream_role: "drpair-metric-stream-v2-test",
    delivery_role: "drpair-metric-delivery-v2-test",
};

const DR_METRICS: Direction = Direction {
    side: "dr",
    peer: "primary",
    source: "us-east-2",
    dest: "us-east-1",
    bucket: "drpair-dr-metrics-123456789012-v2-test",
    stream_role: "drpair-dr-metric-stream-v2-test",
    delivery_role: "drpair-dr-metric-delivery-v2-test",
};

const DIRECTIONS: [&Direction; 2] = [&PRIMARY_METRICS, &DR_METRICS];

fn config(endpoint: &str, body: &str) -> String {
    format!(
        r#"{}
resource "drpair_metric_stream" "metrics" {{
{body}
}}

output "bucket" {{ value = drpair_metric_stream.metrics.dr_bucket_name }}
output "primary_bucket" {{ value = drpair_metric_stream.metrics.primary.bucket_name }}
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

const UPDATED_JSON: &str = r#"  namespaces     = ["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB"]
  output_format  = "json"
  retention_days = 30
  tags           = { Team = "sre" }"#;

fn metric_stream(emulator: &Emulator, region: &str) -> Option<Value> {
    match emulator.aws(
        "cloudwatch",
        region,
        "GetMetricStream",
        &json!({ "Name": NAME }),
    ) {
        Ok(v) => Some(v),
        Err(e) if e.code == "ResourceNotFoundException" => None,
        Err(e) => panic!("GetMetricStream in {region}: {e}"),
    }
}

fn firehose(emulator: &Emulator, region: &str) -> Option<Value> {
    match emulator.aws(
        "firehose",
        region,
        "DescribeDeliveryStream",
        &json!({ "DeliveryStreamName": NAME }),
    ) {
        Ok(v) => Some(v["DeliveryStreamDescription"].clone()),
        Err(e) if e.code == "ResourceNotFoundException" => None,
        Err(e) => panic!("DescribeDeliveryStream in {region}: {e}"),
    }
}

fn bucket_exists(emulator: &Emulator, region: &str, bucket: &str) -> bool {
    match emulator.aws(
        "s3",
        region,
        "GetBucketLocation",
        &json!({ "Bucket": bucket }),
    ) {
        Ok(_) => true,
        Err(e) if e.code == "NoSuchBucket" => false,
        Err(e) => panic!("GetBucketLocation {bucket}: {e}"),
    }
}

fn role(emulator: &Emulator, name: &str) -> Option<Value> {
    match emulator.aws("iam", "us-east-1", "GetRole", &json!({ "RoleName": name })) {
        Ok(out) => Some(out["Role"].clone()),
        Err(e) if e.code == "NoSuchEntity" => None,
        Err(e) => panic!("GetRole {name}: {e}"),
    }
}

/// The bucket's policy, parsed; None when it has none.
fn bucket_policy(emulator: &Emulator, d: &Direction) -> Option<Value> {
    match emulator.aws(
        "s3",
        d.dest,
        "GetBucketPolicy",
        &json!({ "Bucket": d.bucket }),
    ) {
        Ok(out) => Some(serde_json::from_str(out["Policy"].as_str().unwrap()).unwrap()),
        Err(e) if e.code == "NoSuchBucketPolicy" => None,
        Err(e) => panic!("GetBucketPolicy {}: {e}", d.bucket),
    }
}

/// The bucket policy's TLS-only statement (drpair's `Sid`), which must be there.
fn tls_statement(emulator: &Emulator, d: &Direction) -> Value {
    let policy =
        bucket_policy(emulator, d).unwrap_or_else(|| panic!("{} has no bucket policy", d.bucket));
    as_list(&policy["Statement"])
        .into_iter()
        .find(|st| st["Sid"] == "DenyRequestsWithoutTLS")
        .unwrap_or_else(|| panic!("{}: no TLS-only statement in {policy}", d.bucket))
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
            trust["Condition"]["StringEquals"]["sts:ExternalId"], ACCOUNT,
            "{name}: only this account's Firehose"
        );
    } else {
        assert_eq!(
            trust["Condition"],
            json!({ "StringEquals": { "aws:SourceAccount": ACCOUNT } }),
            "{name}: CloudWatch only on behalf of this account's metric streams"
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

/// One direction exists as the state describes it.
fn check_direction(
    emulator: &Emulator,
    state: &Value,
    d: &Direction,
    namespaces: &[&str],
    format: &str,
    retention: i64,
) {
    let side = &state[d.side];
    let source_key = side["kms_key_arn"].as_str().unwrap();
    let dest_key = state[d.peer]["kms_key_arn"].as_str().unwrap();

    let stream = metric_stream(emulator, d.source)
        .unwrap_or_else(|| panic!("the metric stream in {}", d.source));
    assert_eq!(stream["Arn"], side["stream_arn"], "{}", d.source);
    assert!(stream["Arn"]
        .as_str()
        .unwrap()
        .contains(&format!(":cloudwatch:{}:", d.source)));
    assert_eq!(stream["State"], "running", "{}", d.source);
    assert_eq!(stream["OutputFormat"], format, "{}", d.source);
    assert_eq!(stream["FirehoseArn"], side["firehose_arn"], "{}", d.source);
    assert_eq!(stream["RoleArn"], side["stream_role_arn"], "{}", d.source);
    let mut got: Vec<&str> = stream["IncludeFilters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["Namespace"].as_str())
        .collect();
    got.sort();
    let mut want = namespaces.to_vec();
    want.sort();
    assert_eq!(got, want, "{}", d.source);
    let tags = tags_of(
        &emulator.aws_ok(
            "cloudwatch",
            d.source,
            "ListTagsForResource",
            &json!({ "ResourceARN": stream["Arn"] }),
        )["Tags"],
    );
    assert_eq!(tags["Environment"], "test", "{tags}");
    assert_eq!(tags["DR-Role"], d.side, "{tags}");
    assert_eq!(tags["drpair:owner"], OWNER, "{tags}");
    assert_eq!(tags["CostCenter"], "payments", "{tags}");

    let fh = firehose(emulator, d.source)
        .unwrap_or_else(|| panic!("the Firehose stream in {}", d.source));
    assert_eq!(fh["DeliveryStreamARN"], side["firehose_arn"]);
    assert!(fh["DeliveryStreamARN"]
        .as_str()
        .unwrap()
        .contains(&format!(":firehose:{}:", d.source)));
    assert_eq!(fh["DeliveryStreamStatus"], "ACTIVE");
    assert_eq!(
        fh["DeliveryStreamEncryptionConfiguration"]["KeyType"],
        "CUSTOMER_MANAGED_CMK"
    );
    assert_eq!(
        fh["DeliveryStreamEncryptionConfiguration"]["KeyARN"],
        source_key
    );
    let dest = &fh["Destinations"][0]["ExtendedS3DestinationDescription"];
    assert_eq!(dest["BucketARN"], format!("arn:aws:s3:::{}", d.bucket));
    assert_eq!(dest["RoleARN"], side["firehose_role_arn"]);
    assert_eq!(
        dest["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"], dest_key,
        "objects are encrypted with the bucket region's key"
    );
    let tags = tags_of(
        &emulator.aws_ok(
            "firehose",
            d.source,
            "ListTagsForDeliveryStream",
            &json!({ "DeliveryStreamName": NAME }),
        )["Tags"],
    );
    assert_eq!(tags["drpair:owner"], OWNER, "{tags}");
    assert_eq!(tags["DR-Role"], d.side, "{tags}");

    // The bucket is in the other region, encrypted with that region's key through an S3
    // Bucket Key, versioned, closed, expiring.
    assert_eq!(state[d.peer]["bucket_name"], d.bucket);
    assert_eq!(
        state[d.peer]["bucket_arn"],
        format!("arn:aws:s3:::{}", d.bucket)
    );
    let location = emulator.aws_ok(
        "s3",
        d.dest,
        "GetBucketLocation",
        &json!({ "Bucket": d.bucket }),
    );
    // S3 answers no constraint for us-east-1.
    let constraint = location["LocationConstraint"]
        .as_str()
        .unwrap_or("us-east-1");
    assert_eq!(constraint, d.dest, "{} is in the other region", d.bucket);
    let versioning = emulator.aws_ok(
        "s3",
        d.dest,
        "GetBucketVersioning",
        &json!({ "Bucket": d.bucket }),
    );
    assert_eq!(versioning["Status"], "Enabled");
    let sse = emulator.aws_ok(
        "s3",
        d.dest,
        "GetBucketEncryption",
        &json!({ "Bucket": d.bucket }),
    );
    let rule = &sse["ServerSideEncryptionConfiguration"]["Rules"][0];
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
        "aws:kms"
    );
    assert_eq!(
        rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"],
        dest_key
    );
    assert_eq!(rule["BucketKeyEnabled"], true);
    let block = emulator.aws_ok(
        "s3",
        d.dest,
        "GetPublicAccessBlock",
        &json!({ "Bucket": d.bucket }),
    );
    assert_eq!(
        block["PublicAccessBlockConfiguration"],
        json!({ "BlockPublicAcls": true, "IgnorePublicAcls": true, "BlockPublicPolicy": true, "RestrictPublicBuckets": true })
    );
    let tls = tls_statement(emulator, d);
    assert_eq!(tls["Effect"], "Deny", "{}: {tls}", d.bucket);
    assert_eq!(tls["Principal"], "*", "{}: {tls}", d.bucket);
    assert_eq!(as_list(&tls["Action"]), vec![json!("s3:*")], "{}", d.bucket);
    let mut resources = as_list(&tls["Resource"]);
    resources.sort_by_key(|r| r.to_string());
    assert_eq!(
        resources,
        vec![
            json!(format!("arn:aws:s3:::{}", d.bucket)),
            json!(format!("arn:aws:s3:::{}/*", d.bucket)),
        ]
    );
    assert_eq!(
        tls["Condition"],
        json!({ "Bool": { "aws:SecureTransport": "false" } }),
        "{}: requests without TLS are denied",
        d.bucket
    );
    let lifecycle = emulator.aws_ok(
        "s3",
        d.dest,
        "GetBucketLifecycleConfiguration",
        &json!({ "Bucket": d.bucket }),
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
            d.dest,
            "GetBucketTagging",
            &json!({ "Bucket": d.bucket }),
        )["TagSet"],
    );
    assert_eq!(tags["Environment"], "test", "{tags}");
    assert_eq!(tags["DR-Role"], d.peer, "{tags}");
    assert_eq!(tags["CostCenter"], "payments", "{tags}");
    assert_eq!(tags["drpair:owner"], OWNER, "{tags}");

    // Each role is trusted by one service and names exactly its resources and actions.
    let firehose_arn = side["firehose_arn"].as_str().unwrap().to_owned();
    check_role(
        emulator,
        d.stream_role,
        "streams.metrics.cloudwatch.amazonaws.com",
        "put-records-to-firehose",
        &[firehose_arn],
    );
    check_role(
        emulator,
        d.delivery_role,
        "firehose.amazonaws.com",
        "deliver-to-bucket",
        &[
            format!("arn:aws:s3:::{}", d.bucket),
            format!("arn:aws:s3:::{}/metrics/*", d.bucket),
            format!("arn:aws:s3:::{}/errors/*", d.bucket),
            dest_key.to_owned(),
        ],
    );
    assert_eq!(
        role(emulator, d.stream_role).unwrap()["Arn"],
        side["stream_role_arn"]
    );
    assert_eq!(
        role(emulator, d.delivery_role).unwrap()["Arn"],
        side["firehose_role_arn"]
    );
}

/// The region's key policy as KMS has it (GetKeyPolicy takes no alias).
fn key_policy(emulator: &Emulator, region: &str, key_arn: &str) -> Value {
    let policy = emulator.aws_ok(
        "kms",
        region,
        "GetKeyPolicy",
        &json!({ "KeyId": key_arn, "PolicyName": "default" }),
    );
    serde_json::from_str(policy["Policy"].as_str().unwrap()).unwrap()
}

/// The key is administered by the account and used only through Firehose and S3 of its region
/// by principals of the account: no `kms:*` for the account root.
fn check_key_policy(emulator: &Emulator, region: &str, key_arn: &str) {
    let policy = key_policy(emulator, region, key_arn);
    assert!(
        !policy.to_string().contains("\"kms:*\""),
        "{region}: {policy:#}"
    );
    let usage = as_list(&policy["Statement"])
        .into_iter()
        .find(|s| s["Sid"] == "AccountUsesTheKeyOnlyThroughItsServices")
        .unwrap_or_else(|| panic!("{region}: {policy:#}"));
    assert_eq!(
        usage["Condition"]["StringEquals"],
        json!({
            "kms:ViaService": [
                format!("firehose.{region}.amazonaws.com"),
                format!("s3.{region}.amazonaws.com")
            ],
            "kms:CallerAccount": ACCOUNT
        }),
        "{region}"
    );
}

/// Everything the state describes exists as it should, in both directions.
fn check_everything(
    emulator: &Emulator,
    state: &Value,
    namespaces: &[&str],
    format: &str,
    retention: i64,
) {
    for (region, side) in [("us-east-1", "primary"), ("us-east-2", "dr")] {
        assert_eq!(state[side]["region"], region);
        let key = state[side]["kms_key_arn"].as_str().unwrap();
        assert!(key.contains(&format!(":kms:{region}:")), "{key}");
        let meta = emulator.aws_ok("kms", region, "DescribeKey", &json!({ "KeyId": ALIAS }));
        assert_eq!(meta["KeyMetadata"]["Arn"], key, "{region}");
        check_key_policy(emulator, region, key);
    }
    for d in DIRECTIONS {
        check_direction(emulator, state, d, namespaces, format, retention);
    }
    // The top-level attributes are the primary region's stream and the DR bucket.
    for (top, side, field) in [
        ("stream_arn", "primary", "stream_arn"),
        ("firehose_arn", "primary", "firehose_arn"),
        ("stream_role_arn", "primary", "stream_role_arn"),
        ("firehose_role_arn", "primary", "firehose_role_arn"),
        ("dr_bucket_name", "dr", "bucket_name"),
        ("dr_bucket_arn", "dr", "bucket_arn"),
    ] {
        assert_eq!(state[top], state[side][field], "{top}");
    }
    assert_eq!(state["dr_bucket_name"], PRIMARY_METRICS.bucket);
}

/// A request to one of the emulator's control endpoints (`/_drpair/...`); the JSON answer.
fn control(emulator: &Emulator, method: &str, path: &str, body: &Value) -> Value {
    let mut stream =
        TcpStream::connect(("127.0.0.1", emulator.port)).expect("connecting to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    let body = body.to_string();
    let request = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap_or_default();
    assert!(
        status.starts_with('2'),
        "{method} {path}: {answer}\n{}",
        emulator.log()
    );
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or("null");
    serde_json::from_str(json).unwrap_or(Value::Null)
}

/// A metric update as an AWS service publishes it, in `region`'s CloudWatch, now (modeled).
fn publish_metric(emulator: &Emulator, region: &str, cluster: &str, value: f64) {
    control(
        emulator,
        "POST",
        &format!("/_drpair/metrics/{region}"),
        &json!({
            "namespace": "AWS/RDS",
            "name": "AuroraGlobalDBReplicationLag",
            "dimensions": { "DBClusterIdentifier": cluster },
            "value": value,
            "unit": "Milliseconds",
        }),
    );
}

fn advance_clock(emulator: &Emulator, seconds: u64) {
    control(
        emulator,
        "POST",
        "/_drpair/clock",
        &json!({ "advance": seconds }),
    );
}

/// What Firehose delivered under `metrics/` in a bucket: every object's encryption, and the
/// metric updates (JSON lines) of all of them, read and gunzipped through boto3.
fn delivered(emulator: &Emulator, region: &str, bucket: &str) -> (Vec<Value>, Vec<Value>) {
    const READ: &str = r#"
import gzip, json, sys
import boto3

endpoint, region, bucket = sys.argv[1:4]
s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint,
                  aws_access_key_id="testing", aws_secret_access_key="testing")
objects, lines = [], []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="metrics/"):
    for item in page.get("Contents", []):
        got = s3.get_object(Bucket=bucket, Key=item["Key"])
        body = got["Body"].read()
        if item["Key"].endswith(".gz"):
            body = gzip.decompress(body)
        objects.append({"Key": item["Key"], "ServerSideEncryption": got.get("ServerSideEncryption"),
                        "SSEKMSKeyId": got.get("SSEKMSKeyId"), "BucketKeyEnabled": got.get("BucketKeyEnabled")})
        lines += [json.loads(line) for line in body.decode().splitlines() if line]
print(json.dumps({"objects": objects, "lines": lines}))
"#;
    let python = repo_root().join(".venv/bin/python");
    let out = Command::new(&python)
        .args(["-c", READ, &emulator.endpoint, region, bucket])
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "reading {bucket}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        emulator.log()
    );
    let answer: Value = serde_json::from_slice(&out.stdout).expect("the reader's JSON");
    (as_list(&answer["objects"]), as_list(&answer["lines"]))
}

/// Metric updates published now in each region are delivered, by that region's stream and
/// Firehose stream, as objects in the other region's bucket, encrypted with that region's key
/// through the Bucket Key (the emulator refuses the delivery when the Firehose role may not
/// use the key for the Bucket Key's encryption context).
fn check_metrics_flow(emulator: &Emulator, state: &Value, marker: &str) {
    for d in DIRECTIONS {
        publish_metric(emulator, d.source, &format!("{marker}-{}", d.source), 250.0);
    }
    advance_clock(emulator, DELIVERY_SECONDS);
    for d in DIRECTIONS {
        let (objects, lines) = delivered(emulator, d.dest, d.bucket);
        let cluster = format!("{marker}-{}", d.source);
        let update = lines
            .iter()
            .find(|l| l["dimensions"]["DBClusterIdentifier"] == cluster.as_str())
            .unwrap_or_else(|| {
                panic!(
                    "no update of {cluster} in {} ({} objects): {lines:?}\nFirehose: {}\nstream: {}",
                    d.bucket,
                    objects.len(),
                    control(emulator, "GET", &format!("/_drpair/firehose/{}/{NAME}", d.source), &json!({})),
                    control(emulator, "GET", &format!("/_drpair/metric-streams/{}/{NAME}", d.source), &json!({})),
                )
            });
        assert_eq!(update["metric_stream_name"], NAME);
        assert_eq!(update["region"], d.source, "{update}");
        assert_eq!(update["account_id"], ACCOUNT);
        assert_eq!(update["namespace"], "AWS/RDS");
        assert_eq!(update["metric_name"], "AuroraGlobalDBReplicationLag");
        assert_eq!(update["value"]["max"], 250.0);
        assert_eq!(update["unit"], "Milliseconds");
        assert!(
            !lines.iter().any(|l| l["region"] != d.source),
            "{} holds only {}'s metrics",
            d.bucket,
            d.source
        );
        let dest_key = &state[d.peer]["kms_key_arn"];
        for object in &objects {
            assert!(object["Key"].as_str().unwrap().ends_with(".gz"), "{object}");
            assert_eq!(object["ServerSideEncryption"], "aws:kms", "{object}");
            assert_eq!(&object["SSEKMSKeyId"], dest_key, "{object}");
            assert_eq!(object["BucketKeyEnabled"], true, "{object}");
        }
    }
}

#[test]
fn metric_stream_lifecycle() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, BASE));
    ws.init();

    // 1. Create, then check everything in both regions.
    let (_, plan) = ws.plan_exit_code();
    for d in DIRECTIONS {
        assert!(
            plan.stdout.contains(d.bucket),
            "the bucket names are known at plan time: {plan}"
        );
    }
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
    // The delivery streams name roles IAM had just made: Firehose refused them until they had
    // propagated, and the apply waited.
    crate::backup_plan_acc::assert_refused(&emulator, "firehose", "CreateDeliveryStream");

    // 2. Each region's metrics reach the other region's bucket.
    check_metrics_flow(&emulator, &state, "created");

    // 3. Plan right after apply is empty.
    ws.assert_no_changes();

    // 4. Import by name into a fresh state gives the same values and an empty plan.
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

    // 5. Namespaces, format, retention and tags change in place: nothing is recreated.
    ws.write_config(&config(&emulator.endpoint, UPDATED));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    let created: Vec<Value> = DIRECTIONS
        .iter()
        .map(|d| metric_stream(&emulator, d.source).unwrap()["CreationDate"].clone())
        .collect();
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
    for (d, created) in DIRECTIONS.iter().zip(&created) {
        assert_eq!(
            &metric_stream(&emulator, d.source).unwrap()["CreationDate"],
            created,
            "the stream in {} was updated, not recreated",
            d.source
        );
    }
    check_everything(
        &emulator,
        &updated,
        &["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB"],
        "opentelemetry1.0",
        30,
    );
    ws.assert_no_changes();

    // 6. Out of band, in both directions: the streams stopped, a bucket's lifecycle removed,
    //    the other bucket's Bucket Key turned off, both delivery roles' policies deleted.
    //    Planned as a repair, repaired.
    for d in DIRECTIONS {
        emulator.aws_ok(
            "cloudwatch",
            d.source,
            "StopMetricStreams",
            &json!({ "Names": [NAME] }),
        );
        emulator.aws_ok(
            "iam",
            "us-east-1",
            "DeleteRolePolicy",
            &json!({ "RoleName": d.delivery_role, "PolicyName": "deliver-to-bucket" }),
        );
    }
    emulator.aws_ok(
        "s3",
        "us-east-2",
        "DeleteBucketLifecycle",
        &json!({ "Bucket": PRIMARY_METRICS.bucket }),
    );
    emulator.aws_ok(
        "s3",
        "us-east-1",
        "PutBucketEncryption",
        &json!({
            "Bucket": DR_METRICS.bucket,
            "ServerSideEncryptionConfiguration": { "Rules": [{
                "ApplyServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": updated["primary"]["kms_key_arn"] },
                "BucketKeyEnabled": false,
            }]},
        }),
    );
    //    Also the primary stream role's trust policy replaced by AWS's unconditioned example,
    //    the primary metrics bucket's policy deleted, and the DR metrics bucket's policy
    //    replaced by one holding only someone else's statement (which the repair keeps).
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "UpdateAssumeRolePolicy",
        &json!({
            "RoleName": PRIMARY_METRICS.stream_role,
            "PolicyDocument": json!({ "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "streams.metrics.cloudwatch.amazonaws.com" },
                "Action": "sts:AssumeRole",
            }]}).to_string(),
        }),
    );
    emulator.aws_ok(
        "s3",
        PRIMARY_METRICS.dest,
        "DeleteBucketPolicy",
        &json!({ "Bucket": PRIMARY_METRICS.bucket }),
    );
    let auditors = json!({
        "Sid": "AuditorsList",
        "Effect": "Allow",
        "Principal": { "AWS": format!("arn:aws:iam::{ACCOUNT}:root") },
        "Action": "s3:ListBucket",
        "Resource": format!("arn:aws:s3:::{}", DR_METRICS.bucket),
    });
    emulator.aws_ok(
        "s3",
        DR_METRICS.dest,
        "PutBucketPolicy",
        &json!({
            "Bucket": DR_METRICS.bucket,
            "Policy": json!({ "Version": "2012-10-17", "Statement": [auditors] }).to_string(),
        }),
    );
    //    And the DR region's key given AWS's default policy (the account may do anything).
    let dr_key = updated["dr"]["kms_key_arn"].as_str().unwrap();
    emulator.aws_ok(
        "kms",
        "us-east-2",
        "PutKeyPolicy",
        &json!({
            "KeyId": dr_key,
            "PolicyName": "default",
            "Policy": json!({ "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Principal": { "AWS": format!("arn:aws:iam::{ACCOUNT}:root") },
                "Action": "kms:*",
                "Resource": "*",
            }]}).to_string(),
        }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "out-of-band changes must plan a repair: {plan}");
    for expected in [
        format!("us-east-2: KMS key {ALIAS} has a key policy other than drpair's"),
        format!(
            "IAM role {}: trust policy differs",
            PRIMARY_METRICS.stream_role
        ),
        format!(
            "us-east-2: bucket {} policy does not deny requests without TLS (aws:SecureTransport)",
            PRIMARY_METRICS.bucket
        ),
        format!(
            "us-east-1: bucket {} policy does not deny requests without TLS (aws:SecureTransport)",
            DR_METRICS.bucket
        ),
        format!("us-east-1: metric stream {NAME} is stopped, expected running"),
        format!("us-east-2: metric stream {NAME} is stopped, expected running"),
        format!(
            "us-east-2: bucket {} lifecycle rule expire-metrics does not expire objects after 30 days",
            PRIMARY_METRICS.bucket
        ),
        format!(
            "us-east-1: bucket {} does not use an S3 Bucket Key",
            DR_METRICS.bucket
        ),
        format!(
            "IAM role {}: inline policy deliver-to-bucket is missing",
            PRIMARY_METRICS.delivery_role
        ),
        format!(
            "IAM role {}: inline policy deliver-to-bucket is missing",
            DR_METRICS.delivery_role
        ),
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
    let kept = bucket_policy(&emulator, &DR_METRICS).unwrap();
    assert!(
        as_list(&kept["Statement"]).contains(&auditors),
        "the repair owns only its statement: {kept}"
    );
    ws.assert_no_changes();

    // 7. The DR region's Firehose stream deleted out of band, and the format back to json: the
    //    stream is re-created under the same ARN, and metrics flow again in both directions
    //    through the repaired roles and buckets.
    emulator.aws_ok(
        "firehose",
        "us-east-2",
        "DeleteDeliveryStream",
        &json!({ "DeliveryStreamName": NAME }),
    );
    ws.write_config(&config(&emulator.endpoint, UPDATED_JSON));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(
        plan.stdout
            .contains(&format!("us-east-2: Firehose stream {NAME} is missing")),
        "{plan}"
    );
    ws.apply();
    let repaired = ws.state_resource(ADDR);
    assert_eq!(repaired["dr"], updated["dr"], "same names, same ARNs");
    check_everything(
        &emulator,
        &repaired,
        &["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB"],
        "json",
        30,
    );
    check_metrics_flow(&emulator, &repaired, "repaired");
    ws.assert_no_changes();

    // 8. Destroy empties both buckets of every version and delete marker and leaves nothing
    //    in either region; twice is fine.
    for body in ["one", "two"] {
        emulator.aws_ok(
            "s3",
            "us-east-2",
            "PutObject",
            &json!({ "Bucket": PRIMARY_METRICS.bucket, "Key": "metrics/a.json", "Body": body }),
        );
    }
    emulator.aws_ok(
        "s3",
        "us-east-2",
        "DeleteObject",
        &json!({ "Bucket": PRIMARY_METRICS.bucket, "Key": "metrics/a.json" }),
    );
    emulator.aws_ok(
        "s3",
        "us-east-1",
        "PutObject",
        &json!({ "Bucket": DR_METRICS.bucket, "Key": "errors/b.json", "Body": "x" }),
    );
    for d in DIRECTIONS {
        let versions = emulator.aws_ok(
            "s3",
            d.dest,
            "ListObjectVersions",
            &json!({ "Bucket": d.bucket }),
        );
        assert!(
            !as_list(&versions["Versions"]).is_empty(),
            "{}: {versions:#}",
            d.bucket
        );
    }
    ws.destroy();
    for d in DIRECTIONS {
        assert!(
            metric_stream(&emulator, d.source).is_none(),
            "metric stream left in {}",
            d.source
        );
        assert!(
            firehose(&emulator, d.source).is_none(),
            "Firehose stream left in {}",
            d.source
        );
        assert!(
            !bucket_exists(&emulator, d.dest, d.bucket),
            "bucket {} left",
            d.bucket
        );
        for name in [d.stream_role, d.delivery_role] {
            assert!(role(&emulator, name).is_none(), "role {name} left");
        }
    }
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
            &json!({ "KeyId": repaired[side]["kms_key_arn"] }),
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

    // A bucket of a wanted name that drpair does not own (the primary region's, for the DR
    // region's metrics) is refused before anything is made, in either region.
    emulator.aws_ok(
        "s3",
        "us-east-1",
        "CreateBucket",
        &json!({ "Bucket": DR_METRICS.bucket }),
    );
    ws.write_config(&config(&emulator.endpoint, BASE));
    let out = ws.apply_expect_error();
    assert!(
        out.combined().contains("terraform import"),
        "expected advice to import: {out}"
    );
    assert!(ws.state_addresses().is_empty(), "nothing may be in state");
    for d in DIRECTIONS {
        assert!(metric_stream(&emulator, d.source).is_none());
        assert!(firehose(&emulator, d.source).is_none());
        assert!(role(&emulator, d.delivery_role).is_none());
    }
    assert!(!bucket_exists(
        &emulator,
        "us-east-2",
        PRIMARY_METRICS.bucket
    ));
    assert!(
        bucket_exists(&emulator, "us-east-1", DR_METRICS.bucket),
        "the foreign bucket stays"
    );
}
