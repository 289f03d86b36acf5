//! drpair_failover_dns through the real Terraform CLI against the emulator, wired to a
//! drpair_app_tier on a drpair_network, as numbered steps: create and check the zone, health
//! checks and failover records; empty plan; the DNS answer follows the primary's health (the
//! emulator's health control and TestDNSAnswer); import; in-place updates (a check updated, a
//! check replaced for a new interval); out-of-band deletions repaired and an out-of-band record
//! change shown as a change; destroy leaves nothing. The RTO check: slow health checks fail at
//! plan time naming the attributes. And an existing zone: looked up at plan, a record renamed in
//! place, the zone kept on destroy.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::{provider_block, Emulator, Workspace};
use serde_json::{json, Value};

const FQDN: &str = "api.payments.example.com";

fn config(endpoint: &str, dns: &str) -> String {
    format!(
        r#"{}
resource "drpair_network" "main" {{
  name    = "payments"
  primary = {{ cidr_block = "10.10.0.0/16" }}
  dr      = {{ cidr_block = "10.20.0.0/16" }}
}}

resource "drpair_app_tier" "web" {{
  name              = "payments-web"
  min_size          = 1
  max_size          = 2
  desired_capacity  = 1
  app_port          = 8080
  health_check_path = "/health"
  # Plain HTTP, for a test of DNS: the steps check HTTP health checks on port 80 (and the
  # http:// endpoint_url they give), which with certificates would reach only the redirect to
  # HTTPS. The HTTPS tier is tested in app_tier_acc and complete_acc.
  allow_plain_http  = true
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

resource "drpair_failover_dns" "api" {{
  zone_name   = "payments.example.com"
  record_name = "api"
  primary = {{ alb_dns_name = drpair_app_tier.web.primary.alb_dns_name, alb_zone_id = drpair_app_tier.web.primary.alb_zone_id }}
  dr      = {{ alb_dns_name = drpair_app_tier.web.dr.alb_dns_name, alb_zone_id = drpair_app_tier.web.dr.alb_zone_id }}
  {dns}
}}

output "primary_endpoint_url" {{ value = drpair_failover_dns.api.primary.endpoint_url }}
output "dr_endpoint_url" {{ value = drpair_failover_dns.api.dr.endpoint_url }}
"#,
        provider_block(endpoint, "default_tags = { CostCenter = \"payments\" }")
    )
}

fn check(interval: u32, threshold: u32, path: &str) -> String {
    format!("health_check = {{ protocol = \"HTTP\", port = 80, path = \"{path}\", request_interval = {interval}, failure_threshold = {threshold} }}")
}

fn tag<'a>(tags: &'a Value, key: &str) -> Option<&'a str> {
    tags.as_array()?
        .iter()
        .find(|t| t["Key"] == key)
        .and_then(|t| t["Value"].as_str())
}

fn health_checks(emulator: &Emulator) -> Vec<Value> {
    emulator.aws_ok("route53", "us-east-1", "ListHealthChecks", &json!({}))["HealthChecks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn health_check_tags(emulator: &Emulator, id: &str) -> Value {
    emulator.aws_ok(
        "route53",
        "us-east-1",
        "ListTagsForResource",
        &json!({ "ResourceType": "healthcheck", "ResourceId": id }),
    )["ResourceTagSet"]["Tags"]
        .clone()
}

fn records(emulator: &Emulator, zone_id: &str) -> Vec<Value> {
    emulator.aws_ok(
        "route53",
        "us-east-1",
        "ListResourceRecordSets",
        &json!({ "HostedZoneId": zone_id }),
    )["ResourceRecordSets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            r["Name"]
                .as_str()
                .is_some_and(|n| n.trim_end_matches('.') == FQDN)
        })
        .cloned()
        .collect()
}

fn record<'a>(records: &'a [Value], failover: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["Failover"] == failover)
        .unwrap_or_else(|| panic!("no {failover} record in {records:#?}"))
}

fn dns_answer(emulator: &Emulator, zone_id: &str) -> Vec<String> {
    let out = emulator.aws_ok(
        "route53",
        "us-east-1",
        "TestDNSAnswer",
        &json!({ "HostedZoneId": zone_id, "RecordName": FQDN, "RecordType": "A" }),
    );
    out["RecordData"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(|s| s.trim_end_matches('.').to_owned()))
        .collect()
}

/// POSTs JSON to one of the emulator's control endpoints (`/_drpair/...`); returns the body.
fn control(emulator: &Emulator, path: &str, body: &Value) -> String {
    let mut stream =
        TcpStream::connect(("127.0.0.1", emulator.port)).expect("connecting to the emulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "POST {path}: {answer}"
    );
    answer
}

fn set_health(emulator: &Emulator, check_id: &str, healthy: Option<bool>) {
    control(
        emulator,
        &format!("/_drpair/health-checks/{check_id}"),
        &json!({ "healthy": healthy }),
    );
}

#[test]
fn failover_dns_lifecycle() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(&emulator.endpoint, &check(10, 3, "/health")));
    ws.init();

    // 1. Create, then check the zone, a health check per region on its load balancer, and the
    //    PRIMARY/SECONDARY alias records tied to them.
    ws.apply();
    let tier = ws.state_resource("drpair_app_tier.web");
    let state = ws.state_resource("drpair_failover_dns.api");
    assert_eq!(state["id"], FQDN);
    assert_eq!(state["fqdn"], FQDN);
    assert_eq!(state["zone_managed"], true);
    assert_eq!(state["detection_seconds"], 30);
    assert_eq!(state["rto_budget_seconds"], 210);
    assert_eq!(state["dns_failover_seconds"], 90);
    assert_eq!(state["drift"], json!([]));
    let zone_id = state["zone_id"].as_str().unwrap().to_owned();
    let zone = emulator.aws_ok(
        "route53",
        "us-east-1",
        "GetHostedZone",
        &json!({ "Id": zone_id }),
    );
    assert_eq!(zone["HostedZone"]["Name"], "payments.example.com.");
    assert_eq!(state["name_servers"], zone["DelegationSet"]["NameServers"]);
    let zone_tags = emulator.aws_ok(
        "route53",
        "us-east-1",
        "ListTagsForResource",
        &json!({ "ResourceType": "hostedzone", "ResourceId": zone_id }),
    )["ResourceTagSet"]["Tags"]
        .clone();
    assert_eq!(tag(&zone_tags, "Environment"), Some("test"));
    assert_eq!(tag(&zone_tags, "DR-Role"), Some("global"));
    assert_eq!(tag(&zone_tags, "CostCenter"), Some("payments"));
    let checks = health_checks(&emulator);
    assert_eq!(checks.len(), 2, "{checks:#?}");
    let found = records(&emulator, &zone_id);
    assert_eq!(found.len(), 2, "{found:#?}");
    for (side, role, failover) in [("primary", "primary", "PRIMARY"), ("dr", "dr", "SECONDARY")] {
        let id = state[side]["health_check_id"].as_str().unwrap();
        let c = checks
            .iter()
            .find(|c| c["Id"] == id)
            .unwrap_or_else(|| panic!("no {side} check {id}"));
        let config = &c["HealthCheckConfig"];
        assert_eq!(config["Type"], "HTTP");
        assert_eq!(
            config["FullyQualifiedDomainName"],
            tier[side]["alb_dns_name"]
        );
        assert_eq!(config["ResourcePath"], "/health");
        assert_eq!(
            (
                config["RequestInterval"].as_i64(),
                config["FailureThreshold"].as_i64()
            ),
            (Some(10), Some(3))
        );
        let tags = health_check_tags(&emulator, id);
        assert_eq!(tag(&tags, "Environment"), Some("test"), "{side}");
        assert_eq!(tag(&tags, "DR-Role"), Some(role), "{side}");
        let r = record(&found, failover);
        assert_eq!(r["Type"], "A");
        assert_eq!(r["HealthCheckId"], id);
        assert_eq!(
            r["AliasTarget"]["DNSName"]
                .as_str()
                .unwrap()
                .trim_end_matches('.'),
            tier[side]["alb_dns_name"].as_str().unwrap()
        );
        assert_eq!(r["AliasTarget"]["HostedZoneId"], tier[side]["alb_zone_id"]);
        assert_eq!(r["AliasTarget"]["EvaluateTargetHealth"], true);
        assert_eq!(
            state[side]["endpoint_url"],
            format!("http://{}", tier[side]["alb_dns_name"].as_str().unwrap())
        );
    }

    // 2. Plan right after apply is empty.
    ws.assert_no_changes();

    // 3. Failover by health alone: the primary marked unhealthy, the name answers with the DR
    //    load balancer; healthy again, with the primary. No record changes.
    let primary_alb = tier["primary"]["alb_dns_name"].as_str().unwrap().to_owned();
    let dr_alb = tier["dr"]["alb_dns_name"].as_str().unwrap().to_owned();
    let primary_check = state["primary"]["health_check_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(dns_answer(&emulator, &zone_id), vec![primary_alb.clone()]);
    set_health(&emulator, &primary_check, Some(false));
    assert_eq!(dns_answer(&emulator, &zone_id), vec![dr_alb.clone()]);
    assert_eq!(
        records(&emulator, &zone_id),
        found,
        "failover must not edit records"
    );
    set_health(&emulator, &primary_check, Some(true));
    assert_eq!(dns_answer(&emulator, &zone_id), vec![primary_alb.clone()]);
    set_health(&emulator, &primary_check, None);

    // 4. Import by name into a fresh state gives the same values and an empty plan.
    ws.state_rm("drpair_failover_dns.api");
    ws.import("drpair_failover_dns.api", FQDN);
    let imported = ws.state_resource("drpair_failover_dns.api");
    for key in [
        "id",
        "zone_id",
        "zone_name",
        "zone_managed",
        "fqdn",
        "name_servers",
        "primary",
        "dr",
        "health_check",
        "detection_seconds",
        "rto_budget_seconds",
        "dns_failover_seconds",
        "tags_all",
    ] {
        assert_eq!(imported[key], state[key], "imported {key}");
    }
    ws.assert_no_changes();

    // 5. In place: a new threshold and path update the same checks; a new interval (which Route
    //    53 cannot change) replaces them, and the records follow. The zone stays.
    ws.write_config(&config(
        &emulator.endpoint,
        &format!("{}\n  tags = {{ Team = \"sre\" }}", check(10, 5, "/ready")),
    ));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    ws.apply();
    let updated = ws.state_resource("drpair_failover_dns.api");
    assert_eq!(
        updated["primary"]["health_check_id"],
        state["primary"]["health_check_id"]
    );
    assert_eq!(updated["detection_seconds"], 50);
    assert_eq!(updated["dns_failover_seconds"], 110);
    let c = health_checks(&emulator)
        .into_iter()
        .find(|c| c["Id"] == updated["dr"]["health_check_id"])
        .unwrap();
    assert_eq!(
        (
            c["HealthCheckConfig"]["FailureThreshold"].as_i64(),
            c["HealthCheckConfig"]["ResourcePath"].as_str()
        ),
        (Some(5), Some("/ready"))
    );
    assert_eq!(
        tag(
            &health_check_tags(
                &emulator,
                updated["dr"]["health_check_id"].as_str().unwrap()
            ),
            "Team"
        ),
        Some("sre")
    );
    ws.assert_no_changes();

    ws.write_config(&config(
        &emulator.endpoint,
        &format!("{}\n  tags = {{ Team = \"sre\" }}", check(30, 3, "/ready")),
    ));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    assert!(!plan.stdout.contains("must be replaced"), "{plan}");
    ws.apply();
    let slower = ws.state_resource("drpair_failover_dns.api");
    assert_eq!(slower["zone_id"], zone_id);
    assert_eq!(slower["rto_budget_seconds"], 270);
    assert_ne!(
        slower["primary"]["health_check_id"],
        updated["primary"]["health_check_id"]
    );
    let checks = health_checks(&emulator);
    assert_eq!(
        checks.len(),
        2,
        "the replaced checks are deleted: {checks:#?}"
    );
    assert!(checks
        .iter()
        .all(|c| c["HealthCheckConfig"]["RequestInterval"] == 30));
    let found = records(&emulator, &zone_id);
    assert_eq!(
        record(&found, "PRIMARY")["HealthCheckId"],
        slower["primary"]["health_check_id"]
    );
    assert_eq!(
        record(&found, "SECONDARY")["HealthCheckId"],
        slower["dr"]["health_check_id"]
    );
    ws.assert_no_changes();

    // 6. Out of band: the DR health check and the PRIMARY record deleted are repaired; the
    //    SECONDARY record pointed elsewhere shows as a change and is put back.
    emulator.aws_ok(
        "route53",
        "us-east-1",
        "DeleteHealthCheck",
        &json!({ "HealthCheckId": slower["dr"]["health_check_id"] }),
    );
    emulator.aws_ok("route53", "us-east-1", "ChangeResourceRecordSets", &json!({
        "HostedZoneId": zone_id,
        "ChangeBatch": { "Changes": [{ "Action": "DELETE", "ResourceRecordSet": record(&found, "PRIMARY") }] }
    }));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "missing parts must plan a repair: {plan}");
    assert!(plan.stdout.contains("drift"), "{plan}");
    ws.apply();
    let repaired = ws.state_resource("drpair_failover_dns.api");
    assert_eq!(repaired["drift"], json!([]));
    assert_ne!(
        repaired["dr"]["health_check_id"],
        slower["dr"]["health_check_id"]
    );
    let found = records(&emulator, &zone_id);
    assert_eq!(found.len(), 2);
    assert_eq!(
        record(&found, "PRIMARY")["HealthCheckId"],
        repaired["primary"]["health_check_id"]
    );
    assert_eq!(
        record(&found, "SECONDARY")["HealthCheckId"],
        repaired["dr"]["health_check_id"]
    );
    ws.assert_no_changes();

    let mut moved = record(&found, "SECONDARY").clone();
    moved["AliasTarget"]["DNSName"] = json!("elsewhere.us-east-2.elb.amazonaws.com");
    emulator.aws_ok(
        "route53",
        "us-east-1",
        "ChangeResourceRecordSets",
        &json!({
            "HostedZoneId": zone_id,
            "ChangeBatch": { "Changes": [{ "Action": "UPSERT", "ResourceRecordSet": moved }] }
        }),
    );
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "a changed record must show as a change: {plan}");
    assert!(
        plan.stdout
            .contains("elsewhere.us-east-2.elb.amazonaws.com"),
        "{plan}"
    );
    ws.apply();
    let found = records(&emulator, &zone_id);
    assert_eq!(
        record(&found, "SECONDARY")["AliasTarget"]["DNSName"]
            .as_str()
            .unwrap()
            .trim_end_matches('.'),
        dr_alb
    );
    ws.assert_no_changes();

    // 7. Destroy removes the records, the checks and the zone it created.
    ws.destroy();
    assert!(health_checks(&emulator).is_empty(), "health checks left");
    let zone = emulator.aws(
        "route53",
        "us-east-1",
        "GetHostedZone",
        &json!({ "Id": zone_id }),
    );
    assert_eq!(
        zone.map_err(|e| e.code),
        Err("NoSuchHostedZone".to_string())
    );
    ws.destroy();
}

#[test]
fn slow_health_checks_fail_the_rto_target_at_plan() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    ws.write_config(&config(
        &emulator.endpoint,
        &format!("{}\n  rto_target_seconds = 300", check(30, 10, "/health")),
    ));
    ws.init();
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 1, "{out}");
    // Terraform wraps long messages: compare with whitespace collapsed.
    let text = out
        .combined()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for needle in [
        "Health check timing exceeds the RTO target",
        "health_check.request_interval",
        "health_check.failure_threshold",
        "rto_target_seconds (300 s)",
        "480 s",
        "lower health_check.failure_threshold to 4 or less",
        "request_interval = 10",
    ] {
        assert!(text.contains(needle), "expected {needle:?}: {text}");
    }
    assert!(
        text.contains("health_check = {"),
        "expected the attribute's line: {text}"
    );
    // The defaults (10 s × 3) fit the default target: the same configuration plans.
    ws.write_config(&config(&emulator.endpoint, ""));
    let (code, out) = ws.plan_exit_code();
    assert_eq!(code, 2, "{out}");
    let planned = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(planned.contains("+ rto_budget_seconds = 210"), "{out}");
    assert!(planned.contains("+ detection_seconds = 30"), "{out}");
    assert!(planned.contains("+ dns_failover_seconds = 90"), "{out}");
}

#[test]
fn an_existing_zone_is_used_and_kept() {
    let emulator = Emulator::start();
    let zone = emulator.aws_ok(
        "route53",
        "us-east-1",
        "CreateHostedZone",
        &json!({ "Name": "payments.example.com", "CallerReference": "created-elsewhere" }),
    );
    let zone_id = zone["HostedZone"]["Id"]
        .as_str()
        .unwrap()
        .trim_start_matches("/hostedzone/")
        .to_owned();
    let ws = Workspace::new(&emulator);
    ws.write_config(&format!(
        r#"{}
resource "drpair_failover_dns" "api" {{
  zone_id     = "{zone_id}"
  record_name = "api"
  primary     = {{ alb_dns_name = "web-1.us-east-1.elb.amazonaws.com", alb_zone_id = "Z35SXDOTRQ7X7K" }}
  dr          = {{ alb_dns_name = "web-1.us-east-2.elb.amazonaws.com", alb_zone_id = "Z3AADJGX6KTTL2" }}
}}
"#,
        provider_block(&emulator.endpoint, "")
    ));
    ws.init();

    // 1. The zone is looked up at plan time: its name and the record's name are known before apply.
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    let planned = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(planned.contains(&format!("+ fqdn = \"{FQDN}\"")), "{plan}");
    assert!(planned.contains("+ zone_managed = false"), "{plan}");
    assert!(
        planned.contains("+ endpoint_url = \"http://web-1.us-east-2.elb.amazonaws.com\""),
        "{plan}"
    );

    // 2. Apply puts the records and checks in that zone, with the defaults (10 s × 3).
    ws.apply();
    let state = ws.state_resource("drpair_failover_dns.api");
    assert_eq!(state["zone_name"], "payments.example.com");
    assert_eq!(state["health_check"]["request_interval"], 10);
    assert_eq!(state["rto_budget_seconds"], 210);
    assert_eq!(records(&emulator, &zone_id).len(), 2);
    assert_eq!(
        dns_answer(&emulator, &zone_id),
        vec!["web-1.us-east-1.elb.amazonaws.com".to_string()]
    );
    ws.assert_no_changes();

    // 3. A new record name is applied in place: the new name's records and checks replace the
    //    old name's.
    let config = std::fs::read_to_string(ws.path().join("main.tf")).unwrap();
    ws.write_config(&config.replace("record_name = \"api\"", "record_name = \"www\""));
    let (code, plan) = ws.plan_exit_code();
    assert_eq!(code, 2, "{plan}");
    assert!(plan.stdout.contains("update in-place"), "{plan}");
    ws.apply();
    let renamed = ws.state_resource("drpair_failover_dns.api");
    assert_eq!(renamed["fqdn"], "www.payments.example.com");
    assert!(
        records(&emulator, &zone_id).is_empty(),
        "the old name's records are gone"
    );
    let checks = health_checks(&emulator);
    assert_eq!(checks.len(), 2, "{checks:#?}");
    assert!(checks
        .iter()
        .all(|c| c["Id"] != state["primary"]["health_check_id"]
            && c["Id"] != state["dr"]["health_check_id"]));
    let answer = emulator.aws_ok(
        "route53",
        "us-east-1",
        "TestDNSAnswer",
        &json!({ "HostedZoneId": zone_id, "RecordName": "www.payments.example.com", "RecordType": "A" }),
    );
    assert_eq!(
        answer["RecordData"],
        json!(["web-1.us-east-1.elb.amazonaws.com"]),
        "{answer:#}"
    );
    ws.assert_no_changes();

    // 4. Destroy removes the records and checks but leaves the zone it did not create.
    ws.destroy();
    assert!(records(&emulator, &zone_id).is_empty());
    assert!(health_checks(&emulator).is_empty());
    emulator.aws_ok(
        "route53",
        "us-east-1",
        "GetHostedZone",
        &json!({ "Id": zone_id }),
    );
}
