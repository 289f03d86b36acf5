//! Security review item 6: drift is watched in both directions. What someone adds out of band
//! to the tier's security-relevant parts (an AdministratorAccess attachment, another inline
//! policy, a wider trust policy or instance policy on the instance role; port 22 from anywhere
//! on the instances, another port on the load balancer) is drift, named in the plan, and
//! removed by the next apply.

use super::{config, ID, OWNER, SIZES};
use crate::harness::{Emulator, Workspace};
use serde_json::{json, Value};

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn role_name(region: &str) -> String {
    format!("{ID}-{region}")
}

fn group_id(emulator: &Emulator, region: &str, part: &str) -> String {
    let out = emulator.aws_ok(
        "ec2",
        region,
        "DescribeSecurityGroups",
        &json!({ "Filters": [
            { "Name": "tag:drpair:owner", "Values": [OWNER] },
            { "Name": "tag:drpair:part", "Values": [part] }
        ] }),
    );
    out["SecurityGroups"][0]["GroupId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The group's ingress as (protocol, from, to, source) tuples.
fn ingress(emulator: &Emulator, region: &str, id: &str) -> Vec<(String, i64, i64, String)> {
    let out = emulator.aws_ok(
        "ec2",
        region,
        "DescribeSecurityGroups",
        &json!({ "GroupIds": [id] }),
    );
    let mut rules = Vec::new();
    for p in out["SecurityGroups"][0]["IpPermissions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let base = |source: &Value| {
            (
                p["IpProtocol"].as_str().unwrap_or_default().to_owned(),
                p["FromPort"].as_i64().unwrap_or(-1),
                p["ToPort"].as_i64().unwrap_or(-1),
                source.as_str().unwrap_or_default().to_owned(),
            )
        };
        for r in p["IpRanges"].as_array().cloned().unwrap_or_default() {
            rules.push(base(&r["CidrIp"]));
        }
        for r in p["Ipv6Ranges"].as_array().cloned().unwrap_or_default() {
            rules.push(base(&r["CidrIpv6"]));
        }
        for g in p["UserIdGroupPairs"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            rules.push(base(&g["GroupId"]));
        }
    }
    rules.sort();
    rules
}

#[test]
fn app_tier_additions_are_drift_and_removed() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, SIZES));
    ws.init();
    ws.apply();
    assert_eq!(ws.state_resource("drpair_app_tier.web")["drift"], json!([]));

    let primary_role = role_name("us-east-1");
    let dr_role = role_name("us-east-2");
    let alb = group_id(&emulator, "us-east-1", "alb");
    let app = group_id(&emulator, "us-east-2", "app");
    let dr_alb = group_id(&emulator, "us-east-2", "alb");
    let app_before = ingress(&emulator, "us-east-2", &app);
    let alb_before = ingress(&emulator, "us-east-1", &alb);
    assert_eq!(
        alb_before,
        vec![
            ("tcp".into(), 80, 80, "0.0.0.0/0".into()),
            ("tcp".into(), 443, 443, "0.0.0.0/0".into()),
        ]
    );
    assert_eq!(app_before, vec![("tcp".into(), 8080, 8080, dr_alb.clone())]);

    // 1. Out of band: AdministratorAccess attached and an inline policy added to the primary's
    //    role; the DR role trusts any AWS principal and its own policy allows everything; port
    //    22 from anywhere on the DR instances (with a description: revoked without it), port
    //    8443 and an IPv6 range on the primary's load balancer.
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "AttachRolePolicy",
        &json!({ "RoleName": primary_role, "PolicyArn": ADMIN }),
    );
    let everything = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }]
    })
    .to_string();
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "PutRolePolicy",
        &json!({ "RoleName": primary_role, "PolicyName": "break-glass", "PolicyDocument": everything }),
    );
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "PutRolePolicy",
        &json!({ "RoleName": dr_role, "PolicyName": "drpair-instance", "PolicyDocument": everything }),
    );
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "UpdateAssumeRolePolicy",
        &json!({ "RoleName": dr_role, "PolicyDocument": json!({
            "Version": "2012-10-17",
            "Statement": [{ "Effect": "Allow", "Principal": { "AWS": "*" }, "Action": "sts:AssumeRole" }]
        }).to_string() }),
    );
    emulator.aws_ok(
        "ec2",
        "us-east-2",
        "AuthorizeSecurityGroupIngress",
        &json!({ "GroupId": app, "IpPermissions": [
            { "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{ "CidrIp": "0.0.0.0/0", "Description": "ssh for debugging" }] }
        ] }),
    );
    emulator.aws_ok(
        "ec2",
        "us-east-1",
        "AuthorizeSecurityGroupIngress",
        &json!({ "GroupId": alb, "IpPermissions": [
            { "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "IpRanges": [{ "CidrIp": "0.0.0.0/0" }] },
            { "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{ "CidrIpv6": "::/0" }] }
        ] }),
    );

    // The DR load balancer stops dropping invalid header fields.
    let dr_lb = emulator.aws_ok(
        "elbv2",
        "us-east-2",
        "DescribeLoadBalancers",
        &json!({ "Names": [ID] }),
    )["LoadBalancers"][0]["LoadBalancerArn"]
        .as_str()
        .unwrap()
        .to_owned();
    emulator.aws_ok(
        "elbv2",
        "us-east-2",
        "ModifyLoadBalancerAttributes",
        &json!({ "LoadBalancerArn": dr_lb, "Attributes": [
            { "Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "false" }
        ] }),
    );

    // 2. The plan names every addition.
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    let flat = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        format!("us-east-1: IAM role {primary_role}: unexpected policy {ADMIN} is attached"),
        format!("us-east-1: IAM role {primary_role}: unexpected inline policy break-glass"),
        format!("us-east-2: IAM role {dr_role}: trust policy differs"),
        format!("us-east-2: IAM role {dr_role}: inline policy drpair-instance differs"),
        "us-east-2: instance security group allows unexpected tcp port 22 from 0.0.0.0/0".into(),
        "us-east-1: load balancer security group allows unexpected tcp port 8443 from 0.0.0.0/0"
            .into(),
        "us-east-1: load balancer security group allows unexpected tcp port 443 from ::/0".into(),
        "us-east-2: load balancer attribute routing.http.drop_invalid_header_fields.enabled is false instead of true".into(),
    ] {
        assert!(flat.contains(&expected), "expected {expected:?}: {plan}");
    }

    // 3. Apply removes them; the plan is empty.
    ws.apply();
    assert_eq!(ws.state_resource("drpair_app_tier.web")["drift"], json!([]));
    ws.assert_no_changes();

    // 4. Read back from the emulator: the roles are as drpair made them, the groups hold only
    //    drpair's rules.
    let attached = emulator.aws_ok(
        "iam",
        "us-east-1",
        "ListAttachedRolePolicies",
        &json!({ "RoleName": primary_role }),
    );
    assert_eq!(attached["AttachedPolicies"], json!([]), "{attached}");
    for role in [&primary_role, &dr_role] {
        let inline = emulator.aws_ok(
            "iam",
            "us-east-1",
            "ListRolePolicies",
            &json!({ "RoleName": role }),
        );
        assert_eq!(inline["PolicyNames"], json!(["drpair-instance"]), "{role}");
        let policy = emulator.aws_ok(
            "iam",
            "us-east-1",
            "GetRolePolicy",
            &json!({ "RoleName": role, "PolicyName": "drpair-instance" }),
        );
        let text = policy["PolicyDocument"].to_string().replace('\\', "");
        assert!(text.contains("ssmmessages"), "{role}: {text}");
        assert!(!text.contains(r#""Action":"*""#), "{role}: {text}");
    }
    let trust = emulator.aws_ok(
        "iam",
        "us-east-1",
        "GetRole",
        &json!({ "RoleName": dr_role }),
    )["Role"]["AssumeRolePolicyDocument"]
        .to_string()
        .replace('\\', "");
    assert!(trust.contains("ec2.amazonaws.com"), "{trust}");
    assert!(!trust.contains(r#""AWS""#), "{trust}");
    assert_eq!(ingress(&emulator, "us-east-2", &app), app_before);
    assert_eq!(ingress(&emulator, "us-east-1", &alb), alb_before);
    let attributes = emulator.aws_ok(
        "elbv2",
        "us-east-2",
        "DescribeLoadBalancerAttributes",
        &json!({ "LoadBalancerArn": dr_lb }),
    )["Attributes"]
        .to_string();
    assert!(
        attributes.contains(
            r#"{"Key":"routing.http.drop_invalid_header_fields.enabled","Value":"true"}"#
        ),
        "{attributes}"
    );

    // 5. A policy attached out of band does not stop destroy (DeleteRole refuses a role with
    //    attached policies).
    emulator.aws_ok(
        "iam",
        "us-east-1",
        "AttachRolePolicy",
        &json!({ "RoleName": dr_role, "PolicyArn": ADMIN }),
    );
    ws.destroy();
    for role in [&primary_role, &dr_role] {
        let got = emulator.aws("iam", "us-east-1", "GetRole", &json!({ "RoleName": role }));
        assert!(got.is_err(), "{role} is left: {got:?}");
    }
}
