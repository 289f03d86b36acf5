//! What the app tier's acceptance steps check in AWS, through the emulator's boto3 (independent
//! of the provider's own client).

use super::{AMI_PARAMETER, ID, OWNER};
use crate::harness::Emulator;
use serde_json::{json, Value};

pub fn tag<'a>(tags: &'a Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["Key"] == key)
        .and_then(|t| t["Value"].as_str())
}

pub fn group(emulator: &Emulator, region: &str) -> Option<Value> {
    let out = emulator.aws_ok(
        "autoscaling",
        region,
        "DescribeAutoScalingGroups",
        &json!({ "AutoScalingGroupNames": [ID] }),
    );
    out["AutoScalingGroups"].as_array()?.first().cloned()
}

pub fn balancer(emulator: &Emulator, region: &str) -> Option<Value> {
    emulator
        .aws(
            "elbv2",
            region,
            "DescribeLoadBalancers",
            &json!({ "Names": [ID] }),
        )
        .ok()
        .and_then(|o| o["LoadBalancers"].as_array()?.first().cloned())
}

pub fn elb_tags(emulator: &Emulator, region: &str, arn: &str) -> Value {
    let out = emulator.aws_ok(
        "elbv2",
        region,
        "DescribeTags",
        &json!({ "ResourceArns": [arn] }),
    );
    out["TagDescriptions"][0]["Tags"].clone()
}

pub fn default_template(emulator: &Emulator, region: &str, id: &str) -> Value {
    let out = emulator.aws_ok(
        "ec2",
        region,
        "DescribeLaunchTemplateVersions",
        &json!({ "LaunchTemplateId": id, "Versions": ["$Default"] }),
    );
    out["LaunchTemplateVersions"][0].clone()
}

/// The template data without what must differ per region: the AMI, the regional instance
/// profile and security group, the DR-Role tag (and the emulator's echo of the template's own
/// tags into its data).
pub fn region_neutral(mut data: Value) -> Value {
    let obj = data.as_object_mut().unwrap();
    obj.remove("ImageId");
    obj.remove("IamInstanceProfile");
    obj.remove("SecurityGroupIds");
    if let Some(specs) = obj
        .get_mut("TagSpecifications")
        .and_then(Value::as_array_mut)
    {
        specs.retain(|s| s["ResourceType"] != "launch-template");
        for s in specs.iter_mut() {
            if let Some(tags) = s["Tags"].as_array_mut() {
                tags.retain(|t| t["Key"] != "DR-Role");
            }
        }
    }
    data
}

pub fn owned_security_groups(emulator: &Emulator, region: &str) -> Vec<Value> {
    let out = emulator.aws_ok(
        "ec2",
        region,
        "DescribeSecurityGroups",
        &json!({ "Filters": [{ "Name": "tag:drpair:owner", "Values": [OWNER] }] }),
    );
    out["SecurityGroups"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn running_instances(emulator: &Emulator, region: &str) -> Vec<Value> {
    let out = emulator.aws_ok(
        "ec2",
        region,
        "DescribeInstances",
        &json!({ "Filters": [
            { "Name": "tag:aws:autoscaling:groupName", "Values": [ID] },
            { "Name": "instance-state-name", "Values": ["pending", "running"] }
        ] }),
    );
    out["Reservations"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["Instances"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Step 1's checks of one region; returns the region's default template data.
pub fn check_region(
    emulator: &Emulator,
    state: &Value,
    region: &str,
    role: &str,
    side: &str,
) -> Value {
    let s = &state[side];
    assert_eq!(s["region"], region);
    assert_eq!(s["asg_name"], ID);
    // Load balancer: internet-facing across the network's public subnets, tagged.
    let lb = balancer(emulator, region).unwrap_or_else(|| panic!("{region}: no load balancer"));
    assert_eq!(lb["LoadBalancerArn"], s["alb_arn"]);
    assert_eq!(lb["DNSName"], s["alb_dns_name"]);
    assert_eq!(lb["Scheme"], "internet-facing");
    assert_eq!(lb["SecurityGroups"], json!([s["alb_security_group_id"]]));
    let mut lb_subnets: Vec<&str> = lb["AvailabilityZones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["SubnetId"].as_str().unwrap())
        .collect();
    lb_subnets.sort();
    let mut public: Vec<&str> = s["public_subnet_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    public.sort();
    assert_eq!(lb_subnets, public, "{region}");
    let tags = elb_tags(emulator, region, s["alb_arn"].as_str().unwrap());
    assert_eq!(tag(&tags, "Environment"), Some("test"), "{region}");
    assert_eq!(tag(&tags, "DR-Role"), Some(role), "{region}");
    assert_eq!(tag(&tags, "CostCenter"), Some("payments"), "{region}");
    assert_eq!(tag(&tags, "drpair:owner"), Some(OWNER), "{region}");
    // Target group on the app port with the health check; HTTP listener forwarding to it.
    let tg = emulator.aws_ok(
        "elbv2",
        region,
        "DescribeTargetGroups",
        &json!({ "Names": [ID] }),
    )["TargetGroups"][0]
        .clone();
    assert_eq!(tg["TargetGroupArn"], s["target_group_arn"]);
    assert_eq!(tg["Port"], 8080);
    assert_eq!(tg["HealthCheckPath"], "/health");
    // Faster than AWS's 30 s × 5: new DR capacity is healthy 30 s after it is in service.
    assert_eq!(tg["HealthCheckIntervalSeconds"], 10, "{region}");
    assert_eq!(tg["HealthyThresholdCount"], 3, "{region}");
    assert_eq!(tg["UnhealthyThresholdCount"], 3, "{region}");
    assert_eq!(tg["VpcId"], s["vpc_id"]);
    let listeners = emulator.aws_ok(
        "elbv2",
        region,
        "DescribeListeners",
        &json!({ "LoadBalancerArn": s["alb_arn"] }),
    )["Listeners"]
        .clone();
    assert_eq!(
        listeners.as_array().unwrap().len(),
        1,
        "{region}: {listeners:#}"
    );
    assert_eq!(listeners[0]["Port"], 80);
    assert_eq!(
        listeners[0]["DefaultActions"][0]["TargetGroupArn"],
        s["target_group_arn"]
    );
    // Security groups: 80/443 from anywhere to the ALB; 8080 only from the ALB's group.
    let groups = owned_security_groups(emulator, region);
    assert_eq!(groups.len(), 2, "{region}: {groups:#?}");
    let alb_sg = groups
        .iter()
        .find(|g| g["GroupId"] == s["alb_security_group_id"])
        .unwrap();
    for port in [80, 443] {
        assert!(
            alb_sg["IpPermissions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["FromPort"] == port && p["IpRanges"][0]["CidrIp"] == "0.0.0.0/0"),
            "{region}: {alb_sg:#}"
        );
    }
    let app_sg = groups
        .iter()
        .find(|g| g["GroupId"] == s["instance_security_group_id"])
        .unwrap();
    let app_rules = app_sg["IpPermissions"].as_array().unwrap();
    assert_eq!(app_rules.len(), 1, "{region}: {app_sg:#}");
    assert_eq!(app_rules[0]["FromPort"], 8080);
    assert_eq!(
        app_rules[0]["UserIdGroupPairs"][0]["GroupId"],
        s["alb_security_group_id"]
    );
    assert!(app_rules[0]["IpRanges"].as_array().unwrap().is_empty());
    assert_eq!(tag(&alb_sg["Tags"], "DR-Role"), Some(role));
    // Group: the configured sizes, the private subnets, ELB checks, attached to this region's
    // target group, on the template's default version.
    let g = group(emulator, region).unwrap_or_else(|| panic!("{region}: no group"));
    assert_eq!(
        (
            g["MinSize"].as_i64(),
            g["MaxSize"].as_i64(),
            g["DesiredCapacity"].as_i64()
        ),
        (Some(2), Some(6), Some(2)),
        "{region}"
    );
    assert_eq!(
        g["TargetGroupARNs"],
        json!([s["target_group_arn"]]),
        "{region}"
    );
    assert_eq!(g["HealthCheckType"], "ELB");
    let private: Vec<&str> = s["private_subnet_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(g["VPCZoneIdentifier"], private.join(","), "{region}");
    assert_eq!(
        g["LaunchTemplate"]["LaunchTemplateId"],
        s["launch_template_id"]
    );
    assert_eq!(
        g["LaunchTemplate"]["Version"],
        s["launch_template_version"].to_string()
    );
    assert_eq!(tag(&g["Tags"], "DR-Role"), Some(role));
    assert_eq!(tag(&g["Tags"], "Environment"), Some("test"));
    assert_eq!(running_instances(emulator, region).len(), 2, "{region}");
    // Template: AMI from the region's public parameter, IMDSv2, encrypted root volume, the
    // region's instance profile.
    let version = default_template(emulator, region, s["launch_template_id"].as_str().unwrap());
    let data = version["LaunchTemplateData"].clone();
    let ami = emulator.aws_ok(
        "ssm",
        region,
        "GetParameter",
        &json!({ "Name": AMI_PARAMETER }),
    )["Parameter"]["Value"]
        .clone();
    assert_eq!(data["ImageId"], ami, "{region}");
    assert_eq!(s["ami_id"], ami);
    assert_eq!(data["InstanceType"], "t3.medium");
    assert_eq!(data["MetadataOptions"]["HttpTokens"], "required");
    assert_eq!(data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"], true);
    assert_eq!(data["IamInstanceProfile"]["Name"], format!("{ID}-{region}"));
    let profile = emulator.aws_ok(
        "iam",
        region,
        "GetInstanceProfile",
        &json!({ "InstanceProfileName": format!("{ID}-{region}") }),
    );
    assert_eq!(profile["InstanceProfile"]["Arn"], s["instance_profile_arn"]);
    assert_eq!(
        profile["InstanceProfile"]["Roles"][0]["RoleName"],
        format!("{ID}-{region}")
    );
    let role_tags = emulator.aws_ok(
        "iam",
        region,
        "GetRole",
        &json!({ "RoleName": format!("{ID}-{region}") }),
    )["Role"]["Tags"]
        .clone();
    assert_eq!(tag(&role_tags, "DR-Role"), Some(role));
    data
}

/// The requests the emulator refused because IAM had not propagated a role or an instance
/// profile yet (`GET /_drpair/iam-propagation`).
pub fn propagation_refusals(emulator: &Emulator) -> Vec<Value> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", emulator.port))
        .unwrap_or_else(|e| panic!("connecting to the emulator: {e}"));
    stream
        .write_all(b"GET /_drpair/iam-propagation HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("asking the emulator");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("reading the answer");
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let parsed: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    parsed["refusals"].as_array().cloned().unwrap_or_default()
}
