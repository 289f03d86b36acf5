"""Route 53 health checkers on the modeled clock and the DNS data plane
(emulator_ext/route53_health.py): FailureThreshold consecutive results, route53.health events,
GetHealthCheckStatus, failover answers with TTL, answers during an outage of us-east-1."""

import pytest
from botocore.exceptions import ClientError

from conftest import http_status


def advance(emulator, seconds):
    emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)


def now(emulator):
    return emulator.control("GET", "/_drpair/clock", expect=200)[1]["epoch"]


def load_balancer(emulator, region, name, cidr, status="200"):
    """An internet-facing ALB whose HTTP listener answers `status` (a fixed response)."""
    ec2, elbv2 = emulator.client("ec2", region), emulator.client("elbv2", region)
    vpc = ec2.create_vpc(CidrBlock=f"{cidr}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr}.{i}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    lb = elbv2.create_load_balancer(Name=name, Subnets=subnets, Scheme="internet-facing")["LoadBalancers"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": status, "ContentType": "text/plain"}}],
    )
    return lb


def check(route53, ref, host, **extra):
    config = {"Type": "HTTP", "FullyQualifiedDomainName": host, "Port": 80, "ResourcePath": "/health", "RequestInterval": 10, "FailureThreshold": 3}
    config.update(extra)
    return route53.create_health_check(CallerReference=ref, HealthCheckConfig=config)["HealthCheck"]["Id"]


def healthy(emulator, check_id):
    return emulator.control("GET", f"/_drpair/health-checks/{check_id}", expect=200)[1]["Healthy"]


def flips(emulator, check_id, since):
    events = emulator.control("GET", f"/_drpair/events?kind=route53.health&since={since}", expect=200)[1]["events"]
    return [e["healthy"] for e in events if e["health_check"] == check_id]


def test_checker_flips_after_failure_threshold(emulator, unique):
    route53 = emulator.client("route53")
    lb = load_balancer(emulator, "us-east-1", unique, "10.61")
    check_id = check(route53, unique, lb["DNSName"])
    since = now(emulator)
    advance(emulator, 25)
    assert healthy(emulator, check_id) is True
    # A brownout: the endpoint answers 503. Two failed checks are not enough; the third is.
    emulator.control("POST", f"/_drpair/endpoints/{lb['DNSName']}", {"healthy": False}, expect=200)
    try:
        advance(emulator, 20)
        assert healthy(emulator, check_id) is True
        advance(emulator, 10)
        assert healthy(emulator, check_id) is False
        observations = route53.get_health_check_status(HealthCheckId=check_id)["HealthCheckObservations"]
        assert {o["StatusReport"]["Status"] for o in observations} == {"Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: " + lb["DNSName"]}
    finally:
        emulator.control("POST", f"/_drpair/endpoints/{lb['DNSName']}", {"healthy": None}, expect=200)
    # Back: FailureThreshold consecutive successes.
    advance(emulator, 20)
    assert healthy(emulator, check_id) is False
    advance(emulator, 10)
    assert healthy(emulator, check_id) is True
    assert flips(emulator, check_id, since) == [False, True]
    event = emulator.control("GET", f"/_drpair/events?kind=route53.health&since={since}", expect=200)[1]["events"]
    mine = [e for e in event if e["health_check"] == check_id]
    assert mine[0]["target"] == lb["DNSName"] and mine[0]["type"] == "HTTP" and "503" in mine[0]["reason"]
    assert mine[1]["epoch"] - mine[0]["epoch"] >= 30


def test_unresolvable_and_tcp_and_disabled_checks(emulator, unique):
    route53 = emulator.client("route53")
    nowhere = check(route53, unique + "n", f"{unique}.invalid", RequestInterval=30, FailureThreshold=1)
    lb = load_balancer(emulator, "us-west-2", unique, "10.62")

    def tcp_check(ref, port):
        config = {"Type": "TCP", "FullyQualifiedDomainName": lb["DNSName"], "Port": port, "RequestInterval": 10, "FailureThreshold": 1}
        return route53.create_health_check(CallerReference=ref, HealthCheckConfig=config)["HealthCheck"]["Id"]

    tcp, closed = tcp_check(unique + "t", 80), tcp_check(unique + "c", 8443)
    disabled = check(route53, unique + "d", f"{unique}.invalid", Disabled=True, FailureThreshold=1)
    assert healthy(emulator, nowhere) is True  # a new check is healthy until checked
    advance(emulator, 31)
    assert healthy(emulator, nowhere) is False
    assert healthy(emulator, tcp) is True and healthy(emulator, closed) is False
    assert healthy(emulator, disabled) is True
    status = route53.get_health_check_status(HealthCheckId=nowhere)["HealthCheckObservations"][0]["StatusReport"]["Status"]
    assert status.startswith("Failure: Connection timed out")
    status = route53.get_health_check_status(HealthCheckId=tcp)["HealthCheckObservations"][0]["StatusReport"]["Status"]
    assert status.startswith("Success")


def failover_zone(emulator, unique):
    """A zone with PRIMARY (us-east-1) and SECONDARY (us-east-2) alias records to load balancers,
    each with its health check; plain and weighted records too."""
    route53 = emulator.client("route53")
    primary = load_balancer(emulator, "us-east-1", unique + "p", "10.63")
    secondary = load_balancer(emulator, "us-east-2", unique + "s", "10.64")
    zone = route53.create_hosted_zone(Name=f"{unique}.example.com", CallerReference=unique)["HostedZone"]["Id"]
    primary_check = check(route53, unique + "p", primary["DNSName"])
    secondary_check = check(route53, unique + "s", secondary["DNSName"])
    name = f"api.{unique}.example.com"

    def alias(lb, role, check_id):
        return {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": name, "Type": "A", "SetIdentifier": role.lower(), "Failover": role, "HealthCheckId": check_id,
                "AliasTarget": {"HostedZoneId": lb["CanonicalHostedZoneId"], "DNSName": "dualstack." + lb["DNSName"], "EvaluateTargetHealth": True},
            },
        }

    plain = {"Action": "CREATE", "ResourceRecordSet": {"Name": f"www.{unique}.example.com", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.1"}]}}
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [alias(primary, "PRIMARY", primary_check), alias(secondary, "SECONDARY", secondary_check), plain]},
    )
    return {"name": name, "zone": zone, "primary": primary, "secondary": secondary, "primary_check": primary_check}


def dns(emulator, name, record_type="A"):
    return emulator.control("GET", f"/_drpair/dns?name={name}&type={record_type}", expect=200)[1]


def test_dns_answers_and_ttls(emulator, unique):
    stack = failover_zone(emulator, unique)
    answer = dns(emulator, stack["name"])
    assert answer["rcode"] == "NOERROR" and answer["ttl"] == 60 and answer["type"] == "A"
    assert answer["answer"] == ["dualstack." + stack["primary"]["DNSName"]]
    plain = dns(emulator, f"www.{unique}.example.com")
    assert plain["answer"] == ["192.0.2.1"] and plain["ttl"] == 300
    missing = dns(emulator, f"nothing.{unique}.example.com")
    assert missing["rcode"] == "NXDOMAIN" and missing["answer"] == [] and missing["ttl"] > 0
    assert dns(emulator, f"www.{unique}.example.com", "AAAA")["answer"] == []
    assert emulator.control("GET", f"/_drpair/dns?name=www.{unique}.elsewhere.test")[0] == 404
    assert emulator.control("GET", "/_drpair/dns")[0] == 400


def test_dns_fails_over_while_us_east_1_is_down(emulator, unique):
    stack = failover_zone(emulator, unique)
    route53 = emulator.client("route53")
    assert stack["primary"]["DNSName"] in dns(emulator, stack["name"])["answer"][0]
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    try:
        # Route 53's API is down with us-east-1 ...
        with pytest.raises(ClientError) as failed:
            route53.get_health_check_status(HealthCheckId=stack["primary_check"])
        assert http_status(failed) == 503
        # ... its checkers and name servers are not: after RequestInterval x FailureThreshold the
        # answer is the secondary.
        assert stack["primary"]["DNSName"] in dns(emulator, stack["name"])["answer"][0]
        advance(emulator, 31)
        answer = dns(emulator, stack["name"])
        assert answer["answer"] == ["dualstack." + stack["secondary"]["DNSName"]] and answer["ttl"] == 60
        assert healthy(emulator, stack["primary_check"]) is False
    finally:
        emulator.control("DELETE", "/_drpair/outage/us-east-1", expect=200)
    advance(emulator, 31)
    assert stack["primary"]["DNSName"] in dns(emulator, stack["name"])["answer"][0]


def test_evaluate_target_health_needs_a_healthy_target(emulator, unique):
    """An alias to a load balancer with EvaluateTargetHealth is unhealthy while one of its target
    groups has no healthy target (a group without targets included)."""
    stack = failover_zone(emulator, unique)
    elbv2 = emulator.client("elbv2", "us-east-1")
    vpc = emulator.client("ec2", "us-east-1").describe_subnets(SubnetIds=[stack["primary"]["AvailabilityZones"][0]["SubnetId"]])["Subnets"][0]["VpcId"]
    group = elbv2.create_target_group(Name=unique, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    listener = elbv2.describe_listeners(LoadBalancerArn=stack["primary"]["LoadBalancerArn"])["Listeners"][0]["ListenerArn"]
    elbv2.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    # The primary's target group has no target: the primary record is unhealthy at once.
    assert stack["secondary"]["DNSName"] in dns(emulator, stack["name"])["answer"][0]
