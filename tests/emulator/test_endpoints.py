"""Load balancer endpoints as the internet sees them: probes, overrides (brownouts), and the
emulator as a plain-HTTP proxy answering for them."""

import itertools
import json
import os
import subprocess
import sys

import pytest
import requests

AMI = "ami-0d27e0fb3bac4d724"
_cidr = itertools.count(90)

FETCH = r"""
import json, sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=10) as answer:
        print(json.dumps({"status": answer.status, "body": answer.read().decode()}))
except urllib.error.HTTPError as exc:
    print(json.dumps({"status": exc.code, "body": exc.read().decode(), "server": exc.headers.get_all("Server")}))
except Exception as exc:
    print(json.dumps({"error": type(exc).__name__, "detail": str(exc)}))
"""


def fetch(emulator, url):
    """An HTTP GET by Python's urllib in a process whose HTTP_PROXY is the emulator."""
    env = dict(os.environ)
    for key in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(key, None)
    env.update(HTTP_PROXY=emulator.endpoint, http_proxy=emulator.endpoint, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    done = subprocess.run([sys.executable, "-c", FETCH, url], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def site(emulator, unique):
    """An internet-facing ALB in us-east-1 forwarding port 80 to one healthy instance."""
    ec2, elb = emulator.client("ec2"), emulator.client("elbv2")
    octet = next(_cidr)
    vpc = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{octet}.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))
    ]
    lb = elb.create_load_balancer(Name=unique, Subnets=subnets, Scheme="internet-facing")["LoadBalancers"][0]
    group = elb.create_target_group(Name=unique, Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    instance = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, SubnetId=subnets[0])["Instances"][0]["InstanceId"]
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": instance}])
    yield {"dns": lb["DNSName"], "elb": elb, "ec2": ec2, "group": group, "instance": instance, "subnets": subnets, "name": unique, "lb": lb}
    requests.post(emulator.endpoint + f"/_drpair/endpoints/{lb['DNSName']}", json={"healthy": None}, timeout=30)


def answer(emulator, dns):
    return emulator.control("GET", f"/_drpair/endpoints/{dns}", expect=200)[1]


def test_probe_follows_targets_overrides_and_outages(emulator, site):
    seen = answer(emulator, site["dns"])
    assert (seen["Region"], seen["Status"], seen["Override"]) == ("us-east-1", 200, None)
    emulator.control("POST", f"/_drpair/endpoints/{site['dns']}", {"healthy": False}, expect=200)
    assert answer(emulator, site["dns"])["Status"] == 503
    emulator.control("POST", f"/_drpair/endpoints/{site['dns']}", {"healthy": None}, expect=200)
    assert answer(emulator, site["dns"])["Status"] == 200
    # No healthy target: the load balancer answers 503.
    site["elb"].deregister_targets(TargetGroupArn=site["group"], Targets=[{"Id": site["instance"]}])
    assert answer(emulator, site["dns"])["Status"] == 503
    emulator.control("POST", f"/_drpair/endpoints/{site['dns']}", {"healthy": True}, expect=200)
    assert answer(emulator, site["dns"])["Status"] == 200
    # A region that is down answers nothing, override or not.
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    seen = answer(emulator, site["dns"])
    assert seen["Status"] is None and "down" in seen["Reason"]
    listed = emulator.control("GET", "/_drpair/endpoints", expect=200)[1]["endpoints"]
    assert any(e["DNSName"] == site["dns"] for e in listed)
    assert emulator.control("POST", f"/_drpair/endpoints/{site['dns']}", {"healthy": "no"})[0] == 400
    assert emulator.control("GET", "/_drpair/endpoints/nothing.example.com")[0] == 404


def test_urllib_through_the_proxy_gets_the_endpoints_answer(emulator, site):
    url = f"http://{site['dns']}/health?deep=1"
    assert fetch(emulator, url) == {"status": 200, "body": "ok\n"}
    emulator.control("POST", f"/_drpair/endpoints/{site['dns']}", {"healthy": False}, expect=200)
    got = fetch(emulator, url)
    assert got["status"] == 503 and "awselb/2.0" in got["server"] and "503 Service Unavailable" in got["body"]
    emulator.control("POST", f"/_drpair/endpoints/{site['dns']}", {"healthy": None}, expect=200)
    # The region down: the connection is closed without an answer.
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    got = fetch(emulator, url)
    assert "error" in got and got["error"] in ("RemoteDisconnected", "URLError", "ConnectionResetError", "IncompleteRead", "BadStatusLine"), got
    emulator.control("DELETE", "/_drpair/outage/us-east-1", expect=200)
    assert fetch(emulator, url)["status"] == 200
    # Nothing listens on 8080, and a name that is no load balancer does not resolve.
    assert "error" in fetch(emulator, f"http://{site['dns']}:8080/")
    assert "error" in fetch(emulator, f"http://{site['name']}.example.com/")
    # The emulator's own API is not proxied (NO_PROXY), and still answers.
    assert emulator.control("GET", "/_drpair/clock")[0] == 200


def test_host_header_names_the_endpoint(emulator, site):
    got = requests.get(emulator.endpoint + "/", headers={"Host": site["dns"]}, timeout=30)
    assert (got.status_code, got.text) == (200, "ok\n")


def test_internal_and_listenerless_load_balancers(emulator, site, unique):
    internal = site["elb"].create_load_balancer(Name=unique + "i", Subnets=site["subnets"], Scheme="internal")["LoadBalancers"][0]
    listener = site["elb"].create_listener(
        LoadBalancerArn=internal["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": site["group"]}]
    )
    assert listener["Listeners"]
    seen = answer(emulator, internal["DNSName"])
    assert seen["Status"] is None and "internal" in seen["Reason"]
    bare = site["elb"].create_load_balancer(Name=unique + "b", Subnets=site["subnets"])["LoadBalancers"][0]
    seen = answer(emulator, bare["DNSName"])
    assert seen["Status"] is None and "refused" in seen["Reason"]
    fixed = site["elb"].create_load_balancer(Name=unique + "f", Subnets=site["subnets"])["LoadBalancers"][0]
    site["elb"].create_listener(
        LoadBalancerArn=fixed["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}],
    )
    assert answer(emulator, fixed["DNSName"])["Status"] == 404
