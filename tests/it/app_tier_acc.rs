//! drpair_app_tier through the real Terraform CLI against the emulator, as numbered steps:
//! create on a drpair_network and check both regions (identical launch templates, equal group
//! sizes, each group on its region's target group), empty plan, import, in-place update (new
//! template version rolled into both groups, nothing recreated), warm DR capacity kept after a
//! failover scale-up, out-of-band deletions repaired, destroy leaves nothing; and the plan-time
//! errors of bad input.

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const ID: &str = "payments-web-test";
const OWNER: &str = "drpair_app_tier/payments-web-test";
const REGIONS: [(&str, &str, &str); 2] = [
    ("us-east-1", "primary", "primary"),
    ("us-east-2", "dr", "dr"),
];
const AMI_PARAMETER: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

fn config(endpoint: &str, tier: &str) -> String {
    format!(
        r##"{}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "10.10.0.0/16" }}
  dr      = {{ cidr_block = "10.20.0.0/16" }}
}}

resource "drpair_app_tier" "web" {{
  name              = "payments-web"
  app_port          = 8080
  health_check_path = "/health"
  user_data         = "#!/bin/bash\necho ok > /var/www/health\n"
  {tier}
  primary = {{
    vpc_id             = drpair_network.main.primary.vpc_id
    public_subnet_ids  = drpair_network.main.primary.public_subnet_ids
    private_subnet_ids = drpair_network.main.primary.private_subnet_ids
  }}
  dr = {{
    vpc_id             = drpair_network.main.dr.vpc_id
    public_subnet_ids  = drpair_network.main.dr.public_subnet_ids
    private_subnet_ids = drpair_network.main.dr.private_subnet_ids
  }}
}}
"##,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }")
    )
}

const SIZES: &str = "min_size = 2\n  max_size = 6\n  desired_capacity = 2";

fn tag<'a>(tags: &'a Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["Key"] == key)
        .and_then(|t| t["Value"].as_str())
}

fn group(emulator: &Emulator, region: &str) -> Option<Value> {
    let out = emulator.aws_ok(
        "autoscaling",
        region,
        "DescribeAutoScalingGroups",
        &json!({ "AutoScalingGroupNames": [ID] }),
    );
    out["AutoScalingGroups"].as_array()?.first().cloned()
}

fn balancer(emulator: &Emulator, region: &str) -> Option<Value> {
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

fn elb_tags(emulator: &Emulator, region: &str, arn: &str) -> Value {
    let out = emulator.aws_ok(
        "elbv2",
        region,
        "DescribeTags",
        &json!({ "ResourceArns": [arn] }),
    );
    out["TagDescriptions"][0]["Tags"].clone()
}

fn default_template(emulator: &Emulator, region: &str, id: &str) -> Value {
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
fn region_neutral(mut data: Value) -> Value {
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

fn owned_security_groups(emulator: &Emulator, region: &str) -> Vec<Value> {
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

fn running_instances(emulator: &Emulator, region: &str) -> Vec<Value> {
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
fn check_region(emulator: &Emulator, state: &Value, region: &str, role: &str, side: &str) -> Value {
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

#[test]
fn app_tier_lifecycle() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, SIZES));
    ws.init();

    // 1. Create, then check both regions; the templates are identical but for regional ids.
    ws.apply();
    let state = ws.state_resource("drpair_app_tier.web");
    assert_eq!(state["id"], ID);
    assert_eq!(state["drift"], json!([]));
    let fingerprint = state["launch_template_fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(fingerprint.starts_with("lt-"), "{fingerprint}");
    let mut templates = Vec::new();
    for (region, role, side) in REGIONS {
        templates.push(check_region(&emulator, &state, region, role, side));
    }
    assert_ne!(
        templates[0]["ImageId"], templates[1]["ImageId"],
        "regional AMIs"
    );
    assert_eq!(
        region_neutral(templates[0].clone()),
        region_neutral(templates[1].clone()),
        "the templates differ beyond ids"
    );

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();

    // 3. Import by id into a fresh state gives the same values and an empty plan.
    ws.state_rm("drpair_app_tier.web");
    ws.import("drpair_app_tier.web", ID);
    let imported = ws.state_resource("drpair_app_tier.web");
    for key in [
        "id",
        "name",
        "instance_type",
        "user_data",
        "min_size",
        "max_size",
        "desired_capacity",
        "app_port",
        "health_check_path",
        "launch_template_fingerprint",
        "primary",
        "dr",
        "tags_all",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    ws.assert_no_changes();

    // 4. Instance type, capacity and tags change in place: a new template version in both
    //    regions, rolled into both groups; nothing recreated.
    ws.write_config(&config(
        &emulator.endpoint,
        "instance_type = \"t3.large\"\n  min_size = 2\n  max_size = 6\n  desired_capacity = 3\n  tags = { Team = \"sre\" }",
    ));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    ws.apply();
    let updated = ws.state_resource("drpair_app_tier.web");
    let new_fingerprint = updated["launch_template_fingerprint"].as_str().unwrap();
    assert_ne!(new_fingerprint, fingerprint);
    let mut templates = Vec::new();
    for (region, _, side) in REGIONS {
        for key in [
            "alb_arn",
            "target_group_arn",
            "launch_template_id",
            "alb_security_group_id",
            "instance_profile_arn",
        ] {
            assert_eq!(
                updated[side][key], state[side][key],
                "{region}: {key} changed"
            );
        }
        assert_eq!(updated[side]["launch_template_version"], 2, "{region}");
        let g = group(&emulator, region).unwrap();
        assert_eq!(g["DesiredCapacity"], 3, "{region}");
        assert_eq!(g["LaunchTemplate"]["Version"], "2", "{region}");
        let data = default_template(
            &emulator,
            region,
            updated[side]["launch_template_id"].as_str().unwrap(),
        )["LaunchTemplateData"]
            .clone();
        assert_eq!(data["InstanceType"], "t3.large", "{region}");
        let instances = running_instances(&emulator, region);
        assert_eq!(instances.len(), 3, "{region}");
        assert!(
            instances.iter().all(|i| i["InstanceType"] == "t3.large"),
            "{region}: the refresh did not roll the new type: {instances:#?}"
        );
        let tags = elb_tags(
            &emulator,
            region,
            updated[side]["alb_arn"].as_str().unwrap(),
        );
        assert_eq!(tag(&tags, "Team"), Some("sre"), "{region}");
        templates.push(data);
    }
    assert_eq!(
        region_neutral(templates[0].clone()),
        region_neutral(templates[1].clone())
    );
    ws.assert_no_changes();

    // 5. Warm DR capacity: the DR group runs 1; a failover scales it up to 3 out of band, and
    //    that is not planned back down.
    let warm = "instance_type = \"t3.large\"\n  min_size = 2\n  max_size = 6\n  desired_capacity = 3\n  dr_desired_capacity = 1\n  tags = { Team = \"sre\" }";
    ws.write_config(&config(&emulator.endpoint, warm));
    ws.apply();
    let warm_state = ws.state_resource("drpair_app_tier.web");
    assert_eq!(warm_state["dr"]["desired_capacity"], 1);
    assert_eq!(warm_state["dr"]["min_size"], 1);
    let dr = group(&emulator, "us-east-2").unwrap();
    assert_eq!(
        (dr["MinSize"].as_i64(), dr["DesiredCapacity"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(group(&emulator, "us-east-1").unwrap()["DesiredCapacity"], 3);
    emulator.aws_ok(
        "autoscaling",
        "us-east-2",
        "SetDesiredCapacity",
        &json!({ "AutoScalingGroupName": ID, "DesiredCapacity": 3 }),
    );
    ws.assert_no_changes();

    // 6. Out-of-band deletions: the primary listener, the DR launch template, the DR group's
    //    target group attachment. The plan repairs them; the templates match again.
    emulator.aws_ok("elbv2", "us-east-1", "DeleteListener", &json!({ "ListenerArn": emulator.aws_ok("elbv2", "us-east-1", "DescribeListeners", &json!({ "LoadBalancerArn": warm_state["primary"]["alb_arn"] }))["Listeners"][0]["ListenerArn"] }));
    emulator.aws_ok(
        "ec2",
        "us-east-2",
        "DeleteLaunchTemplate",
        &json!({ "LaunchTemplateId": warm_state["dr"]["launch_template_id"] }),
    );
    emulator.aws_ok("autoscaling", "us-east-2", "DetachLoadBalancerTargetGroups", &json!({ "AutoScalingGroupName": ID, "TargetGroupARNs": [warm_state["dr"]["target_group_arn"]] }));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "missing parts must plan a repair: {plan}");
    assert!(plan.stdout.contains("drift"), "{plan}");
    ws.apply();
    let repaired = ws.state_resource("drpair_app_tier.web");
    assert_eq!(repaired["drift"], json!([]));
    assert_eq!(
        repaired["launch_template_fingerprint"],
        updated["launch_template_fingerprint"]
    );
    assert_ne!(
        repaired["dr"]["launch_template_id"],
        warm_state["dr"]["launch_template_id"]
    );
    let listeners = emulator.aws_ok(
        "elbv2",
        "us-east-1",
        "DescribeListeners",
        &json!({ "LoadBalancerArn": repaired["primary"]["alb_arn"] }),
    )["Listeners"]
        .clone();
    assert_eq!(listeners.as_array().unwrap().len(), 1);
    let dr = group(&emulator, "us-east-2").unwrap();
    assert_eq!(
        dr["TargetGroupARNs"],
        json!([repaired["dr"]["target_group_arn"]])
    );
    assert_eq!(
        dr["LaunchTemplate"]["LaunchTemplateId"],
        repaired["dr"]["launch_template_id"]
    );
    assert_eq!(
        dr["DesiredCapacity"], 3,
        "the failed-over DR capacity is kept"
    );
    ws.assert_no_changes();

    // 7. Destroy removes everything in one run and leaves nothing tagged in either region.
    ws.destroy();
    for (region, _, _) in REGIONS {
        assert!(group(&emulator, region).is_none(), "{region}: group left");
        assert!(
            balancer(&emulator, region).is_none(),
            "{region}: load balancer left"
        );
        let tg = emulator.aws(
            "elbv2",
            region,
            "DescribeTargetGroups",
            &json!({ "Names": [ID] }),
        );
        assert!(tg.is_err(), "{region}: target group left: {tg:?}");
        let lts = emulator.aws_ok(
            "ec2",
            region,
            "DescribeLaunchTemplates",
            &json!({ "Filters": [{ "Name": "tag:drpair:owner", "Values": [OWNER] }] }),
        );
        assert_eq!(lts["LaunchTemplates"], json!([]), "{region}");
        assert!(
            owned_security_groups(&emulator, region).is_empty(),
            "{region}: security groups left"
        );
        assert!(
            running_instances(&emulator, region).is_empty(),
            "{region}: instances left"
        );
        let role = emulator.aws(
            "iam",
            region,
            "GetRole",
            &json!({ "RoleName": format!("{ID}-{region}") }),
        );
        assert_eq!(
            role.map_err(|e| e.code),
            Err("NoSuchEntity".to_string()),
            "{region}: role left"
        );
        let profile = emulator.aws(
            "iam",
            region,
            "GetInstanceProfile",
            &json!({ "InstanceProfileName": format!("{ID}-{region}") }),
        );
        assert!(profile.is_err(), "{region}: instance profile left");
    }
    ws.destroy();
}

#[test]
fn bad_app_tier_input_fails_at_plan_naming_the_attribute() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, SIZES));
    ws.init();
    let cases = [
        (
            "min_size = 2\n  max_size = 6\n  desired_capacity = 7",
            "Desired capacity out of range",
            "desired_capacity = 7",
        ),
        (
            "min_size = 2\n  max_size = 6\n  desired_capacity = 2\n  dr_desired_capacity = 4",
            "DR capacity above the primary's",
            "dr_desired_capacity = 4",
        ),
        (
            "min_size = 2\n  max_size = 6\n  desired_capacity = 2\n  instance_type = \"large\"",
            "Invalid instance type",
            "instance_type = \"large\"",
        ),
    ];
    for (tier, summary, source_line) in cases {
        ws.write_config(&config(&emulator.endpoint, tier));
        let (code, out) = ws.plan_exit_code();
        assert_eq!(code, 1, "{summary}: {out}");
        let text = out.combined();
        assert!(text.contains(summary), "expected {summary:?}: {text}");
        assert!(
            text.contains(source_line),
            "expected the attribute's line {source_line:?}: {text}"
        );
    }
    // A name whose load balancer name would pass 32 characters fails at plan too.
    ws.write_config(
        &config(&emulator.endpoint, SIZES)
            .replace("\"payments-web\"", "\"payments-web-frontend-eastside\""),
    );
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 1, "{out}");
    assert!(out.combined().contains("Name too long"), "{out}");
}
