//! drpair_app_tier through the real Terraform CLI against the emulator, as numbered steps:
//! create on a drpair_network and check both regions (identical launch templates, equal group
//! sizes, each group on its region's target group), empty plan, import, in-place update (new
//! template version rolled into both groups, nothing recreated), warm DR capacity kept after a
//! failover scale-up, out-of-band deletions repaired, HTTPS added in place (and the opt-out
//! from it dropped), the HTTPS listener's security policy changed out of band repaired, HTTPS
//! imported, back to plain HTTP in place, destroy leaves nothing; and the plan-time errors of
//! bad input.

mod access_logs;
mod additions;
mod checks;

use crate::harness::{provider_block, Emulator, Workspace};
use checks::{
    balancer, check_region, default_template, elb_tags, group, owned_security_groups,
    propagation_refusals, region_neutral, running_instances, tag,
};
use serde_json::json;

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
  # Until step 7 adds certificates: plain HTTP, said explicitly.
  allow_plain_http  = true
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
const PLAIN_HTTP: &str = "  # Until step 7 adds certificates: plain HTTP, said explicitly.\n  allow_plain_http  = true\n";

/// The listeners of a region's load balancer, by port, as the emulator holds them.
fn listeners_by_port(
    emulator: &Emulator,
    region: &str,
    alb_arn: &serde_json::Value,
) -> std::collections::BTreeMap<i64, serde_json::Value> {
    let out = emulator.aws_ok(
        "elbv2",
        region,
        "DescribeListeners",
        &json!({ "LoadBalancerArn": alb_arn }),
    );
    out["Listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["Port"].as_i64().unwrap(), l.clone()))
        .collect()
}

/// Plain HTTP, read back: one listener on 80 forwarding to the target group, nothing on 443.
fn assert_plain_http(emulator: &Emulator, state: &serde_json::Value) {
    for (region, _, side) in REGIONS {
        let listeners = listeners_by_port(emulator, region, &state[side]["alb_arn"]);
        assert_eq!(
            listeners.keys().copied().collect::<Vec<_>>(),
            vec![80],
            "{region}: {listeners:#?}"
        );
        let plain = &listeners[&80];
        assert_eq!(plain["Protocol"], "HTTP", "{region}");
        assert_eq!(plain["DefaultActions"][0]["Type"], "forward", "{region}");
        assert_eq!(
            plain["DefaultActions"][0]["TargetGroupArn"], state[side]["target_group_arn"],
            "{region}"
        );
    }
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
    // The groups were created with instance profiles IAM had just made: Auto Scaling refused
    // them until they had propagated, and the apply waited.
    let refusals = propagation_refusals(&emulator);
    assert!(
        refusals
            .iter()
            .any(|r| r["service"] == "autoscaling" && r["operation"] == "CreateAutoScalingGroup"),
        "{refusals:?}"
    );

    // Without certificates, and only because the configuration says allow_plain_http, the
    // load balancers serve plain HTTP on 80.
    assert_eq!(state["allow_plain_http"], true);
    assert_plain_http(&emulator, &state);

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
        "allow_plain_http",
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

    // 6. Out-of-band changes: the primary listener, the DR launch template and the DR group's
    //    target group attachment deleted, the DR target group's health check slowed back to
    //    AWS's defaults. The plan repairs them in place; the templates match again.
    emulator.aws_ok("elbv2", "us-east-1", "DeleteListener", &json!({ "ListenerArn": emulator.aws_ok("elbv2", "us-east-1", "DescribeListeners", &json!({ "LoadBalancerArn": warm_state["primary"]["alb_arn"] }))["Listeners"][0]["ListenerArn"] }));
    emulator.aws_ok(
        "ec2",
        "us-east-2",
        "DeleteLaunchTemplate",
        &json!({ "LaunchTemplateId": warm_state["dr"]["launch_template_id"] }),
    );
    emulator.aws_ok("autoscaling", "us-east-2", "DetachLoadBalancerTargetGroups", &json!({ "AutoScalingGroupName": ID, "TargetGroupARNs": [warm_state["dr"]["target_group_arn"]] }));
    emulator.aws_ok(
        "elbv2",
        "us-east-2",
        "ModifyTargetGroup",
        &json!({
            "TargetGroupArn": warm_state["dr"]["target_group_arn"],
            "HealthCheckIntervalSeconds": 30,
            "HealthyThresholdCount": 5,
            "UnhealthyThresholdCount": 2,
        }),
    );
    let refreshed = ws.tf(&["apply", "-refresh-only", "-auto-approve", "-input=false"]);
    if refreshed.code != 0 {
        ws.fail("refresh", &refreshed);
    }
    let drifted = ws.state_resource("drpair_app_tier.web");
    assert!(
        drifted["drift"].as_array().unwrap().iter().any(|d| d
            == "us-east-2: target group health check runs every 30 s, healthy after 5 and unhealthy after 2 checks instead of every 10 s, healthy after 3 and unhealthy after 3 checks"),
        "{:#}",
        drifted["drift"]
    );
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
    let tg = emulator.aws_ok(
        "elbv2",
        "us-east-2",
        "DescribeTargetGroups",
        &json!({ "TargetGroupArns": [repaired["dr"]["target_group_arn"]] }),
    )["TargetGroups"][0]
        .clone();
    assert_eq!(
        repaired["dr"]["target_group_arn"], warm_state["dr"]["target_group_arn"],
        "the target group is repaired in place"
    );
    assert_eq!(
        (
            &tg["HealthCheckIntervalSeconds"],
            &tg["HealthyThresholdCount"],
            &tg["UnhealthyThresholdCount"]
        ),
        (&json!(10), &json!(3), &json!(3))
    );
    ws.assert_no_changes();

    // 7. HTTPS in place: with a certificate per region (and the opt-out from HTTPS dropped,
    //    which the two would contradict), 443 forwards and 80 redirects to it.
    let mut with_certs = config(&emulator.endpoint, warm).replace(PLAIN_HTTP, "");
    assert!(!with_certs.contains("allow_plain_http"));
    for (region, _, side) in REGIONS {
        let cert = emulator.aws_ok(
            "acm",
            region,
            "RequestCertificate",
            &json!({ "DomainName": "api.payments.example.com", "ValidationMethod": "DNS" }),
        )["CertificateArn"]
            .as_str()
            .unwrap()
            .to_owned();
        let line = format!("private_subnet_ids = drpair_network.main.{side}.private_subnet_ids");
        with_certs = with_certs.replace(
            &line,
            &format!("{line}\n    certificate_arn    = \"{cert}\""),
        );
    }
    ws.write_config(&with_certs);
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    ws.apply();
    let https = ws.state_resource("drpair_app_tier.web");
    assert_eq!(https["allow_plain_http"], false);
    for (region, _, side) in REGIONS {
        assert_eq!(
            https[side]["alb_arn"], repaired[side]["alb_arn"],
            "{region}"
        );
        let listeners = emulator.aws_ok(
            "elbv2",
            region,
            "DescribeListeners",
            &json!({ "LoadBalancerArn": https[side]["alb_arn"] }),
        )["Listeners"]
            .clone();
        let by_port = |port: i64| {
            listeners
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["Port"] == port)
                .cloned()
                .unwrap_or_else(|| panic!("{region}: no listener on {port}: {listeners:#}"))
        };
        let secure = by_port(443);
        assert_eq!(secure["Protocol"], "HTTPS");
        assert_eq!(secure["SslPolicy"], "ELBSecurityPolicy-TLS13-1-2-2021-06");
        assert_eq!(
            secure["Certificates"][0]["CertificateArn"],
            https[side]["certificate_arn"]
        );
        assert_eq!(
            secure["DefaultActions"][0]["TargetGroupArn"],
            https[side]["target_group_arn"]
        );
        let plain = by_port(80);
        assert_eq!(plain["DefaultActions"][0]["Type"], "redirect");
        assert_eq!(
            plain["DefaultActions"][0]["RedirectConfig"]["Protocol"],
            "HTTPS"
        );
    }
    ws.assert_no_changes();

    // 8. The DR HTTPS listener's security policy weakened out of band (TLS 1.0 again) is drift,
    //    named, and set back by the next apply; the listener is kept.
    let dr_secure =
        listeners_by_port(&emulator, "us-east-2", &https["dr"]["alb_arn"])[&443].clone();
    emulator.aws_ok(
        "elbv2",
        "us-east-2",
        "ModifyListener",
        &json!({ "ListenerArn": dr_secure["ListenerArn"], "SslPolicy": "ELBSecurityPolicy-2016-08" }),
    );
    let refreshed = ws.tf(&["apply", "-refresh-only", "-auto-approve", "-input=false"]);
    if refreshed.code != 0 {
        ws.fail("refresh", &refreshed);
    }
    let weakened = ws.state_resource("drpair_app_tier.web");
    assert_eq!(
        weakened["drift"],
        json!(["us-east-2: HTTPS listener on port 443 uses security policy ELBSecurityPolicy-2016-08 instead of ELBSecurityPolicy-TLS13-1-2-2021-06"]),
    );
    ws.apply();
    assert_eq!(ws.state_resource("drpair_app_tier.web")["drift"], json!([]));
    let restored = listeners_by_port(&emulator, "us-east-2", &https["dr"]["alb_arn"])[&443].clone();
    assert_eq!(restored["ListenerArn"], dr_secure["ListenerArn"]);
    assert_eq!(restored["SslPolicy"], "ELBSecurityPolicy-TLS13-1-2-2021-06");
    ws.assert_no_changes();

    // 9. Import of the HTTPS tier: the certificates come from the listeners, and the opt-out
    //    is false. (The DR group is back at its warm capacity first, as after a failback: the
    //    import reads dr_desired_capacity from it.)
    emulator.aws_ok(
        "autoscaling",
        "us-east-2",
        "SetDesiredCapacity",
        &json!({ "AutoScalingGroupName": ID, "DesiredCapacity": 1 }),
    );
    ws.state_rm("drpair_app_tier.web");
    ws.import("drpair_app_tier.web", ID);
    let imported = ws.state_resource("drpair_app_tier.web");
    assert_eq!(imported["allow_plain_http"], false);
    for (_, _, side) in REGIONS {
        assert_eq!(
            imported[side]["certificate_arn"],
            https[side]["certificate_arn"]
        );
    }
    ws.assert_no_changes();

    // 10. Back to plain HTTP, in place: the opt-out said again and the certificates removed;
    //     the HTTPS listeners go and 80 forwards again.
    ws.write_config(&config(&emulator.endpoint, warm));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    ws.apply();
    let plain = ws.state_resource("drpair_app_tier.web");
    assert_eq!(plain["allow_plain_http"], true);
    for (region, _, side) in REGIONS {
        assert_eq!(plain[side]["alb_arn"], https[side]["alb_arn"], "{region}");
    }
    assert_plain_http(&emulator, &plain);
    ws.assert_no_changes();

    // 11. Destroy removes everything in one run and leaves nothing tagged in either region.
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
