//! Issue 14 item 4: access logs of both load balancers to a bucket of each region, when asked.
//! A bucket whose default encryption is SSE-KMS (AWS accepts it and delivers nothing) is refused
//! before anything is made, naming the attribute; logging turned off or pointed elsewhere out of
//! band is drift and set back; import reads it; a bucket whose policy does not let Elastic Load
//! Balancing write surfaces AWS's own refusal; removing the buckets turns logging off.

use std::collections::BTreeMap;

use super::{config, ID, SIZES};
use crate::harness::{Emulator, Workspace};
use serde_json::json;

const ACCOUNT: &str = "123456789012";
const PREFIX: &str = "payments/alb";
const PRIMARY_OK: &str = "payments-alb-logs-use1";
const PRIMARY_NO_POLICY: &str = "payments-alb-logs-nopolicy";
const DR_OK: &str = "payments-alb-logs-use2";
const DR_KMS: &str = "payments-alb-logs-kms";

fn with_logs(endpoint: &str, primary: Option<&str>, dr: Option<&str>) -> String {
    let mut hcl = config(endpoint, SIZES);
    for (side, bucket) in [("primary", primary), ("dr", dr)] {
        if let Some(bucket) = bucket {
            let line =
                format!("private_subnet_ids = drpair_network.main.{side}.private_subnet_ids");
            hcl = hcl.replace(
                &line,
                &format!("{line}\n    access_logs_bucket = \"{bucket}\""),
            );
        }
    }
    if primary.is_some() || dr.is_some() {
        hcl = hcl.replace(
            "app_port          = 8080",
            &format!("app_port          = 8080\n  access_logs_prefix = \"{PREFIX}\""),
        );
    }
    hcl
}

/// A bucket of `region`; with `principal`, a policy letting it put objects anywhere in it.
fn bucket(emulator: &Emulator, region: &str, name: &str, principal: Option<serde_json::Value>) {
    let mut params = json!({ "Bucket": name });
    if region != "us-east-1" {
        params["CreateBucketConfiguration"] = json!({ "LocationConstraint": region });
    }
    emulator.aws_ok("s3", region, "CreateBucket", &params);
    if let Some(principal) = principal {
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": principal,
                "Action": "s3:PutObject",
                "Resource": format!("arn:aws:s3:::{name}/*")
            }]
        });
        emulator.aws_ok(
            "s3",
            region,
            "PutBucketPolicy",
            &json!({ "Bucket": name, "Policy": policy.to_string() }),
        );
    }
}

fn balancer_arn(emulator: &Emulator, region: &str) -> Option<String> {
    let out = emulator
        .aws(
            "elbv2",
            region,
            "DescribeLoadBalancers",
            &json!({ "Names": [ID] }),
        )
        .ok()?;
    out["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .map(str::to_owned)
}

/// The access_logs.s3.* attributes of the region's load balancer, as the emulator holds them.
fn logs(emulator: &Emulator, region: &str) -> BTreeMap<String, String> {
    let arn = balancer_arn(emulator, region).expect("a load balancer");
    let out = emulator.aws_ok(
        "elbv2",
        region,
        "DescribeLoadBalancerAttributes",
        &json!({ "LoadBalancerArn": arn }),
    );
    out["Attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["Key"].as_str().unwrap().starts_with("access_logs.s3."))
        .map(|a| {
            (
                a["Key"].as_str().unwrap().to_owned(),
                a["Value"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn logging_to(emulator: &Emulator, region: &str, bucket: &str) {
    let attrs = logs(emulator, region);
    assert_eq!(
        attrs["access_logs.s3.enabled"], "true",
        "{region}: {attrs:?}"
    );
    assert_eq!(
        attrs["access_logs.s3.bucket"], bucket,
        "{region}: {attrs:?}"
    );
    assert_eq!(
        attrs["access_logs.s3.prefix"], PREFIX,
        "{region}: {attrs:?}"
    );
}

fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn app_tier_access_logs() {
    let emulator = Emulator::start();
    let elb_use1 = json!({ "AWS": "arn:aws:iam::127311923021:root" });
    let log_delivery = json!({ "Service": "logdelivery.elasticloadbalancing.amazonaws.com" });
    bucket(&emulator, "us-east-1", PRIMARY_OK, Some(elb_use1));
    bucket(&emulator, "us-east-1", PRIMARY_NO_POLICY, None);
    bucket(&emulator, "us-east-2", DR_OK, Some(log_delivery.clone()));
    bucket(&emulator, "us-east-2", DR_KMS, Some(log_delivery));
    emulator.aws_ok(
        "s3",
        "us-east-2",
        "PutBucketEncryption",
        &json!({ "Bucket": DR_KMS, "ServerSideEncryptionConfiguration": { "Rules": [
            { "ApplyServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms" } }
        ] } }),
    );

    // 1. A DR bucket encrypted with SSE-KMS: refused before anything of the tier is made,
    //    naming the attribute.
    let ws = Workspace::new(&emulator);
    ws.write_config(&with_logs(
        &emulator.endpoint,
        Some(PRIMARY_OK),
        Some(DR_KMS),
    ));
    ws.init();
    let out = ws.apply_expect_error();
    let text = flat(&out.combined());
    for expected in [
        format!("dr.access_logs_bucket = \"{DR_KMS}\""),
        "aws:kms (SSE-KMS)".to_string(),
        "only to buckets encrypted with SSE-S3".to_string(),
    ] {
        assert!(text.contains(&expected), "expected {expected:?}: {text}");
    }
    for region in ["us-east-1", "us-east-2"] {
        assert_eq!(
            balancer_arn(&emulator, region),
            None,
            "{region}: a load balancer leaked"
        );
    }

    // 2. SSE-S3 buckets of each region with ELB's policy: logging on in both regions, read
    //    back; the plan is empty.
    ws.write_config(&with_logs(
        &emulator.endpoint,
        Some(PRIMARY_OK),
        Some(DR_OK),
    ));
    ws.apply();
    let state = ws.state_resource("drpair_app_tier.web");
    assert_eq!(state["drift"], json!([]));
    assert_eq!(state["primary"]["access_logs_bucket"], PRIMARY_OK);
    assert_eq!(state["dr"]["access_logs_bucket"], DR_OK);
    logging_to(&emulator, "us-east-1", PRIMARY_OK);
    logging_to(&emulator, "us-east-2", DR_OK);
    // Elastic Load Balancing's test object, written when logging was enabled.
    emulator.aws_ok(
        "s3",
        "us-east-2",
        "HeadObject",
        &json!({ "Bucket": DR_OK, "Key": format!("{PREFIX}/AWSLogs/{ACCOUNT}/ELBAccessLogTestFile") }),
    );
    ws.assert_no_changes();

    // 3. Out of band: the DR load balancer stops logging, the primary's logs go to another
    //    prefix. Drift, named in the plan; apply sets both back.
    let dr_arn = balancer_arn(&emulator, "us-east-2").unwrap();
    emulator.aws_ok(
        "elbv2",
        "us-east-2",
        "ModifyLoadBalancerAttributes",
        &json!({ "LoadBalancerArn": dr_arn, "Attributes": [
            { "Key": "access_logs.s3.enabled", "Value": "false" }
        ] }),
    );
    let primary_arn = balancer_arn(&emulator, "us-east-1").unwrap();
    emulator.aws_ok(
        "elbv2",
        "us-east-1",
        "ModifyLoadBalancerAttributes",
        &json!({ "LoadBalancerArn": primary_arn, "Attributes": [
            { "Key": "access_logs.s3.prefix", "Value": "elsewhere" }
        ] }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    let text = flat(&plan.stdout);
    for expected in [
        "us-east-2: load balancer attribute access_logs.s3.enabled is false instead of true",
        "us-east-1: load balancer attribute access_logs.s3.prefix is elsewhere instead of payments/alb",
    ] {
        assert!(text.contains(expected), "expected {expected:?}: {plan}");
    }
    ws.apply();
    assert_eq!(ws.state_resource("drpair_app_tier.web")["drift"], json!([]));
    logging_to(&emulator, "us-east-1", PRIMARY_OK);
    logging_to(&emulator, "us-east-2", DR_OK);
    ws.assert_no_changes();

    // 4. Import reads the buckets and the prefix back.
    ws.state_rm("drpair_app_tier.web");
    ws.import("drpair_app_tier.web", ID);
    let state = ws.state_resource("drpair_app_tier.web");
    assert_eq!(state["primary"]["access_logs_bucket"], PRIMARY_OK);
    assert_eq!(state["dr"]["access_logs_bucket"], DR_OK);
    assert_eq!(state["access_logs_prefix"], PREFIX);
    assert_eq!(state["drift"], json!([]));

    // 5. A bucket whose policy does not let Elastic Load Balancing write: AWS's refusal,
    //    surfaced with the load balancer; the primary still logs where it did.
    ws.write_config(&with_logs(
        &emulator.endpoint,
        Some(PRIMARY_NO_POLICY),
        Some(DR_OK),
    ));
    let out = ws.apply_expect_error();
    let text = flat(&out.combined());
    let expected =
        format!("Access Denied for bucket: {PRIMARY_NO_POLICY}. Please check S3bucket permission");
    assert!(text.contains(&expected), "expected {expected:?}: {text}");
    assert!(text.contains("InvalidConfigurationRequest"), "{text}");
    logging_to(&emulator, "us-east-1", PRIMARY_OK);

    // 6. No buckets: logging off in both regions, read back; the plan is empty.
    ws.write_config(&with_logs(&emulator.endpoint, None, None));
    ws.apply();
    for region in ["us-east-1", "us-east-2"] {
        assert_eq!(
            logs(&emulator, region)["access_logs.s3.enabled"],
            "false",
            "{region}"
        );
    }
    assert_eq!(ws.state_resource("drpair_app_tier.web")["drift"], json!([]));
    ws.assert_no_changes();
    ws.destroy();
    for region in ["us-east-1", "us-east-2"] {
        assert_eq!(balancer_arn(&emulator, region), None, "{region}");
    }
}
