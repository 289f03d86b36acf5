"""/_drpair/ controls (call counts, latency, injected faults), AWS-style errors for malformed
requests, and the launcher's moto version check."""

import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from conftest import ROOT, error_code, http_status


def test_call_counts(emulator, unique):
    emulator.control("DELETE", "/_drpair/calls", expect=200)
    sts = emulator.client("sts", "eu-west-1")
    sts.get_caller_identity()
    sts.get_caller_identity()
    emulator.client("route53").list_hosted_zones()
    emulator.client("lambda", "eu-west-1").list_functions()
    counts = emulator.control("GET", "/_drpair/calls", expect=200)[1]
    rows = {(c["service"], c["operation"], c["region"]): c["count"] for c in counts["calls"]}
    assert rows[("sts", "GetCallerIdentity", "eu-west-1")] == 2
    assert rows[("route53", "ListHostedZones", "us-east-1")] == 1
    assert rows[("lambda", "ListFunctions", "eu-west-1")] == 1
    only_sts = emulator.control("GET", "/_drpair/calls?service=sts", expect=200)[1]
    assert only_sts["total"] == 2 and {c["service"] for c in only_sts["calls"]} == {"sts"}
    assert emulator.control("DELETE", "/_drpair/calls", expect=200)[1] == {"calls": [], "total": 0}
    assert emulator.control("GET", "/_drpair/calls", expect=200)[1]["total"] == 0


def test_call_log_times_each_call(emulator):
    emulator.control("DELETE", "/_drpair/calls", expect=200)
    sts = emulator.client("sts", "eu-west-1")
    sts.get_caller_identity()
    emulator.control("POST", "/_drpair/latency", {"ms": 300, "service": "sts", "region": "eu-west-1"}, expect=201)
    started = time.monotonic()
    sts.get_caller_identity()
    waited_ms = (time.monotonic() - started) * 1000
    emulator.control("POST", "/_drpair/faults", {"service": "route53", "error": "internal", "times": 1}, expect=201)
    with pytest.raises(ClientError):
        emulator.client("route53").list_hosted_zones()
    emulator.client("route53").list_hosted_zones()
    emulator.client("route53").list_hosted_zones(MaxItems="1")
    log = emulator.control("GET", "/_drpair/calls/log", expect=200)[1]
    calls = log["calls"]
    assert [(c["service"], c["operation"], c["region"]) for c in calls] == [
        ("sts", "GetCallerIdentity", "eu-west-1"),
        ("sts", "GetCallerIdentity", "eu-west-1"),
        ("route53", "ListHostedZones", "us-east-1"),
        ("route53", "ListHostedZones", "us-east-1"),
        ("route53", "ListHostedZones", "us-east-1"),
    ]
    assert log["dropped"] == 0 and log["limit"] >= 10_000
    assert [c["seq"] for c in calls] == [1, 2, 3, 4, 5]
    for earlier, later in zip(calls, calls[1:]):
        assert 0 <= earlier["start_ms"] <= earlier["end_ms"] <= later["start_ms"] <= later["end_ms"]
    # The added latency is part of the call's time: what the client waited, give or take.
    delayed = calls[1]["end_ms"] - calls[1]["start_ms"]
    assert 300 <= delayed <= waited_ms + 1
    assert calls[0]["end_ms"] - calls[0]["start_ms"] < 300
    assert [c["status"] for c in calls] == [200, 200, 500, 200, 200]
    assert calls[2]["fault"].startswith("fault-") and calls[3]["fault"] is None
    # The same request has the same digest (one object read twice), other parameters another.
    assert calls[0]["request"] == calls[1]["request"] and calls[2]["request"] == calls[3]["request"]
    assert len({calls[0]["request"], calls[3]["request"], calls[4]["request"]}) == 3
    only_route53 = emulator.control("GET", "/_drpair/calls/log?service=route53", expect=200)[1]["calls"]
    assert [c["seq"] for c in only_route53] == [3, 4, 5]
    # One reset for both the counts and the log; the clock starts over.
    emulator.control("DELETE", "/_drpair/latency", expect=200)
    emulator.control("DELETE", "/_drpair/calls", expect=200)
    assert emulator.control("GET", "/_drpair/calls/log", expect=200)[1]["calls"] == []
    sts.get_caller_identity()
    (after,) = emulator.control("GET", "/_drpair/calls/log", expect=200)[1]["calls"]
    assert after["seq"] == 1 and after["start_ms"] < calls[4]["end_ms"] + 1000


def test_call_log_keeps_the_latest_calls(monkeypatch):
    # In this process (not the shared emulator's), with a log of 3 calls.
    import collections

    from emulator_ext import controls

    monkeypatch.setattr(controls, "_log", collections.deque(maxlen=3))
    monkeypatch.setattr(controls, "_log_state", {"origin": time.monotonic(), "generation": 0, "logged": 0})
    for n in range(5):
        controls._log_start("sts", "GetCallerIdentity", f"region-{n}")
    answer = controls.get_call_log(None, {}, {})[1]
    assert [c["region"] for c in answer["calls"]] == ["region-2", "region-3", "region-4"]
    assert answer["dropped"] == 2 and all(c["end_ms"] is None for c in answer["calls"])
    # A call that was in flight across a reset is not logged in the new log.
    record, generation = controls._log_start("sts", "GetCallerIdentity", "before-reset")
    controls.reset_calls(None, {}, {})
    controls._log_end(record, generation, {})
    assert record["end_ms"] is None and controls.get_call_log(None, {}, {})[1] == {"calls": [], "dropped": 0, "limit": controls.LOG_LIMIT}


def test_latency(emulator):
    sts = emulator.client("sts", "ap-northeast-1")
    rule = emulator.control("POST", "/_drpair/latency", {"ms": 400, "service": "sts", "region": "ap-northeast-1"}, expect=201)[1]
    started = time.monotonic()
    sts.get_caller_identity()
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    emulator.client("sts", "eu-west-1").get_caller_identity()
    assert time.monotonic() - started < 0.4
    assert emulator.control("GET", "/_drpair/latency", expect=200)[1]["latency"][0]["matched"] == 1
    emulator.control("DELETE", f"/_drpair/latency/{rule['id']}", expect=200)
    assert emulator.control("DELETE", f"/_drpair/latency/{rule['id']}")[0] == 404


def test_nth_call_fails(emulator):
    ec2 = emulator.client("ec2", "us-east-2")
    rule = emulator.control("POST", "/_drpair/faults", {"service": "ec2", "operation": "DescribeVpcs", "region": "us-east-2", "error": "throttle", "nth": 2, "times": 2}, expect=201)[1]
    ec2.describe_vpcs()
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            ec2.describe_vpcs()
        assert error_code(raised) == "RequestLimitExceeded" and http_status(raised) == 503
    ec2.describe_vpcs()
    emulator.client("ec2", "us-east-1").describe_vpcs()  # another region: not matched
    state = emulator.control("GET", "/_drpair/faults", expect=200)[1]["faults"][0]
    assert state["id"] == rule["id"] and state["matched"] == 4 and state["injected"] == 2


@pytest.mark.parametrize(
    "service,region,call,throttle,status",
    [
        ("rds", "us-east-1", lambda c: c.describe_db_clusters(), "Throttling", 400),
        ("dynamodb", "us-east-1", lambda c: c.list_tables(), "ThrottlingException", 400),
        ("lambda", "us-east-1", lambda c: c.list_functions(), "TooManyRequestsException", 429),
        ("route53", "us-east-1", lambda c: c.list_hosted_zones(), "Throttling", 400),
        ("backup", "us-east-1", lambda c: c.list_backup_plans(), "ThrottlingException", 400),
        ("cloudwatch", "us-east-1", lambda c: c.describe_alarms(), "ThrottlingException", 400),
    ],
)
def test_faults_are_shaped_for_each_protocol(emulator, service, region, call, throttle, status):
    client = emulator.client(service, region)
    emulator.control("POST", "/_drpair/faults", {"service": service, "error": "throttle"}, expect=201)
    with pytest.raises(ClientError) as raised:
        call(client)
    assert error_code(raised) == throttle and http_status(raised) == status
    emulator.control("DELETE", "/_drpair/faults", expect=200)
    emulator.control("POST", "/_drpair/faults", {"service": service, "error": "internal", "times": 1}, expect=201)
    with pytest.raises(ClientError) as raised:
        call(client)
    assert error_code(raised) == "InternalFailure" and http_status(raised) == 500
    call(client)  # times: 1


def test_fault_over_cbor_and_custom_error(cbor, emulator):
    emulator.control("POST", "/_drpair/faults", {"service": "monitoring", "operation": "ListMetrics", "error": "throttle", "nth": 1}, expect=201)
    status, parsed, headers = cbor.call("ListMetrics", {})
    assert status == 400 and parsed["Error"]["Code"] == "ThrottlingException"
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert cbor.call("ListMetrics", {})[0] == 200
    emulator.control("POST", "/_drpair/faults", {"service": "sts", "error": "internal", "status": 503, "code": "ServiceUnavailable", "message": "regional outage"}, expect=201)
    with pytest.raises(ClientError) as raised:
        emulator.client("sts").get_caller_identity()
    assert error_code(raised) == "ServiceUnavailable" and http_status(raised) == 503
    assert raised.value.response["Error"]["Message"] == "regional outage"


def test_share_of_calls_fails(emulator):
    sts = emulator.client("sts", "sa-east-1")
    emulator.control("POST", "/_drpair/faults", {"service": "sts", "region": "sa-east-1", "error": "internal", "rate": 0.5, "seed": 42}, expect=201)
    failures = 0
    for _ in range(40):
        try:
            sts.get_caller_identity()
        except ClientError:
            failures += 1
    assert 10 <= failures <= 30
    assert emulator.control("GET", "/_drpair/faults", expect=200)[1]["faults"][0]["injected"] == failures


def test_dropped_connection(emulator):
    emulator.control("POST", "/_drpair/faults", {"service": "dynamodb", "region": "eu-west-2", "error": "drop", "times": 1}, expect=201)
    client = emulator.client("dynamodb", "eu-west-2")
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        client.list_tables()
    assert client.list_tables()["TableNames"] == []
    # With retries on, the SDK recovers by itself.
    emulator.control("POST", "/_drpair/faults", {"service": "dynamodb", "region": "eu-west-2", "error": "drop", "times": 1}, expect=201)
    assert emulator.client("dynamodb", "eu-west-2", retries=True).list_tables()["TableNames"] == []


def _held(emulator, rule_id, deadline=10.0):
    stop = time.monotonic() + deadline
    while time.monotonic() < stop:
        rule = next(r for r in emulator.control("GET", "/_drpair/faults", expect=200)[1]["faults"] if r["id"] == rule_id)
        if rule["held"]:
            return rule
        time.sleep(0.02)
    raise AssertionError(f"{rule_id} held no call within {deadline} s")


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_held_call_waits_for_its_rule_then_loses_its_connection(emulator, unique, when):
    """The fault campaign's kill point: the 2nd matching call is held, the rule's `held` counter
    says so, and deleting the rule closes the connection. `before`: the call never happened;
    `after`: it did (the queue exists) and only its answer was lost."""
    import threading

    sqs = emulator.client("sqs", "eu-north-1")
    rule = emulator.control("POST", "/_drpair/faults", {"service": "sqs", "region": "eu-north-1", "error": "hold", "when": when, "nth": 2}, expect=201)[1]
    assert rule["when"] == when and rule["held"] == 0
    sqs.create_queue(QueueName=f"{unique}-first")
    outcome = {}

    def call():
        try:
            sqs.create_queue(QueueName=f"{unique}-held")
            outcome["answer"] = True
        except (ConnectionClosedError, EndpointConnectionError) as error:
            outcome["error"] = error

    thread = threading.Thread(target=call)
    thread.start()
    held = _held(emulator, rule["id"])
    assert held["injected"] == 1 and thread.is_alive()
    time.sleep(0.3)
    assert thread.is_alive(), "the held call was answered while its rule stands"
    emulator.control("DELETE", f"/_drpair/faults/{rule['id']}", expect=200)
    thread.join(10)
    assert not thread.is_alive() and "error" in outcome, outcome
    names = [url.rsplit("/", 1)[-1] for url in sqs.list_queues(QueueNamePrefix=unique).get("QueueUrls", [])]
    assert sorted(names) == sorted([f"{unique}-first"] + ([f"{unique}-held"] if when == "after" else []))


def test_clearing_the_rules_releases_held_calls(emulator):
    import threading

    rule = emulator.control("POST", "/_drpair/faults", {"service": "sts", "region": "eu-north-1", "error": "hold", "hold_seconds": 60}, expect=201)[1]
    outcome = []

    def call():
        try:
            emulator.client("sts", "eu-north-1").get_caller_identity()
        except (ConnectionClosedError, EndpointConnectionError) as error:
            outcome.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    _held(emulator, rule["id"])
    emulator.control("DELETE", "/_drpair/faults", expect=200)
    thread.join(10)
    assert not thread.is_alive() and len(outcome) == 1


def test_control_input_is_validated(emulator):
    assert emulator.control("POST", "/_drpair/faults", {"error": "explode"})[0] == 400
    assert emulator.control("POST", "/_drpair/faults", {"error": "drop", "nth": 0})[0] == 400
    assert emulator.control("POST", "/_drpair/faults", {"error": "drop", "nth": 1, "rate": 0.5})[0] == 400
    assert emulator.control("POST", "/_drpair/faults", {"error": "drop", "rate": 2})[0] == 400
    assert emulator.control("POST", "/_drpair/faults", {"error": "drop", "when": "after"})[0] == 400
    assert emulator.control("POST", "/_drpair/faults", {"error": "hold", "when": "during"})[0] == 400
    assert emulator.control("POST", "/_drpair/faults", {"error": "hold", "hold_seconds": 0})[0] == 400
    assert emulator.control("POST", "/_drpair/latency", {"ms": -1})[0] == 400
    assert emulator.control("POST", "/_drpair/latency", {"ms": 1, "service": 3})[0] == 400
    assert emulator.control("GET", "/_drpair/nothing-here")[0] == 404
    assert emulator.control("PUT", "/_drpair/calls")[0] == 405
    import requests

    bad = requests.post(emulator.endpoint + "/_drpair/faults", data="{not json", timeout=30)
    assert bad.status_code == 400 and "error" in bad.json()
    endpoints = emulator.control("GET", "/_drpair/", expect=200)[1]["endpoints"]
    assert "POST /_drpair/health-checks/{id}" in endpoints and "GET /_drpair/calls" in endpoints


def test_malformed_requests_get_aws_errors(emulator):
    dynamo_headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"}
    response = emulator.signed("POST", "/", "dynamodb", body=b"{not json", headers=dynamo_headers)
    assert response.status_code == 400 and response.json()["__type"] == "SerializationException"

    put_item = dict(dynamo_headers, **{"X-Amz-Target": "DynamoDB_20120810.PutItem"})
    response = emulator.signed("POST", "/", "dynamodb", body=b"{}", headers=put_item)
    assert response.status_code == 400 and response.json()["__type"] == "ValidationException"
    assert "Member must not be null" in response.json()["message"]

    unknown = dict(dynamo_headers, **{"X-Amz-Target": "DynamoDB_20120810.FrobnicateTable"})
    response = emulator.signed("POST", "/", "dynamodb", body=b"{}", headers=unknown)
    assert response.status_code == 400 and response.json()["__type"] == "UnknownOperationException"

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = emulator.signed("POST", "/", "rds", body=b"Action=DeleteDBCluster&Version=2014-10-31", headers=form)
    assert response.status_code == 400 and b"<Code>ValidationError</Code>" in response.content
    response = emulator.signed("POST", "/", "rds", body=b"Action=FrobnicateDBCluster&Version=2014-10-31", headers=form)
    assert response.status_code == 400 and b"<Code>InvalidAction</Code>" in response.content

    response = emulator.signed("POST", "/2015-03-31/functions", "lambda", body=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.headers["x-amzn-ErrorType"] == "SerializationException"

    # moto bugs surface as AWS-style errors, never as an HTML traceback.
    response = emulator.signed("POST", "/", "ec2", body=b"Action=DeleteNatGateway&Version=2016-11-15&NatGatewayId=nat-0", headers=form)
    assert response.status_code == 500 and b"<Response><Errors><Error><Code>InternalFailure</Code>" in response.content
    assert b"<html" not in response.content.lower()


def test_launcher_refuses_other_moto_versions(tmp_path):
    fake = tmp_path / "sitecustomize.py"
    fake.write_text(
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "m.version = lambda name: '5.0.0' if name == 'moto' else real(name)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "emulator.py"), "--port", "0"],
        env=env, capture_output=True, timeout=60, text=True,
    )
    assert done.returncode == 2
    assert "written for moto 5.2.5, but moto 5.0.0 is installed" in done.stderr
