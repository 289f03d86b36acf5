"""Lambda runs the deployed code on the modeled clock (emulator_ext/lambda_iam.py): time shim,
modeled Timeout, environment and proxy, warm reuse, asynchronous invocations and their retries,
runtime errors, the lambda.invoke event log."""

import base64
import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status, wait_for

CLOCKED = """
import datetime, os, time

COUNT = {"n": 0}

def handler(event, context):
    COUNT["n"] += 1
    before, mono = time.time(), time.monotonic()
    time.sleep(event.get("sleep", 0))
    if event.get("print"):
        print(event["print"])
    if event.get("fail"):
        raise ValueError("asked to fail")
    if event.get("unjsonable"):
        return {"when": datetime.datetime.now()}
    return {
        "before": before,
        "slept": time.time() - before,
        "slept_monotonic": time.monotonic() - mono,
        "now": datetime.datetime.now(datetime.timezone.utc).timestamp(),
        "utcnow": datetime.datetime.utcnow().replace(tzinfo=datetime.timezone.utc).timestamp(),
        "is_datetime": isinstance(datetime.datetime(2020, 1, 1), datetime.datetime),
        "remaining": context.get_remaining_time_in_millis(),
        "request_id": context.aws_request_id,
        "count": COUNT["n"],
        "env": {k: os.environ.get(k) for k in ("AWS_REGION", "AWS_ENDPOINT_URL", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "STAGE", "AWS_LAMBDA_FUNCTION_NAME")},
    }
"""

CALLS_BACK = """
import boto3, urllib.request, urllib.error

def handler(event, context):
    functions = boto3.client("lambda").list_functions()["Functions"]
    answer = {"functions": len(functions)}
    if event.get("url"):
        try:
            with urllib.request.urlopen(event["url"], timeout=10) as response:
                answer["status"] = response.status
        except urllib.error.HTTPError as exc:
            answer["status"] = exc.code
        except OSError as exc:
            answer["error"] = str(exc)
    return answer
"""


def package(source, name="check.py"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def role(emulator, name):
    """A new execution role, once IAM has propagated it (Lambda refuses it until then)."""
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    arn = emulator.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
    seconds = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["seconds"]
    emulator.control("POST", "/_drpair/clock", {"advance": seconds + 1}, expect=200)
    return arn


def create(emulator, name, source=CLOCKED, handler="check.handler", region="us-east-2", timeout=30, env=None):
    client = emulator.client("lambda", region)
    client.create_function(
        FunctionName=name, Runtime="python3.12", Role=role(emulator, name), Handler=handler,
        Code={"ZipFile": package(source)}, Timeout=timeout, Environment={"Variables": env or {"STAGE": "dr"}},
    )
    return client


def invoke(client, name, event, **extra):
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    return response.get("FunctionError"), json.loads(response["Payload"].read() or b"null"), response


def clock(emulator, **settings):
    if settings:
        return emulator.control("POST", "/_drpair/clock", settings, expect=200)[1]
    return emulator.control("GET", "/_drpair/clock", expect=200)[1]


def runs(emulator, name, region="us-east-2"):
    return emulator.control("GET", f"/_drpair/lambda/{region}/{name}", expect=200)[1]["Runs"]


def test_code_sees_the_modeled_clock(emulator, unique):
    client = create(emulator, unique, timeout=300)
    clock(emulator, speed=60)
    start = time.time()
    error, payload, _ = invoke(client, unique, {"sleep": 30})
    elapsed = time.time() - start
    assert error is None, payload
    # 30 modeled seconds at speed 60 are half a real second (plus the worker's start).
    assert elapsed < 5, elapsed
    assert 29 <= payload["slept"] <= 40 and 29 <= payload["slept_monotonic"] <= 40, payload
    modeled = clock(emulator)["epoch"]
    assert abs(payload["now"] - modeled) < 60 and abs(payload["utcnow"] - modeled) < 60
    assert payload["is_datetime"] is True
    # A jump of the clock reaches the code: what it reads is the emulator's modeled time.
    clock(emulator, speed=1, advance=7200)
    _, payload, _ = invoke(client, unique, {})
    assert abs(payload["before"] - clock(emulator)["epoch"]) < 30


def test_timeout_is_modeled(emulator, unique):
    client = create(emulator, unique, timeout=60)
    clock(emulator, speed=60)
    _, payload, _ = invoke(client, unique, {})
    assert 30_000 < payload["remaining"] <= 60_000
    start = time.time()
    error, payload, _ = invoke(client, unique, {"sleep": 120})
    assert time.time() - start < 10
    assert error == "Unhandled" and payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 60.00 seconds" in payload["errorMessage"]
    # The environment was reset: the next invocation starts a fresh one.
    error, payload, _ = invoke(client, unique, {})
    assert error is None and payload["count"] == 1


def test_environment_proxy_and_warm_reuse(emulator, unique):
    client = create(emulator, unique)
    _, first, _ = invoke(client, unique, {})
    _, second, _ = invoke(client, unique, {})
    endpoint = emulator.endpoint
    assert first["env"] == {
        "AWS_REGION": "us-east-2", "AWS_ENDPOINT_URL": endpoint, "HTTP_PROXY": endpoint, "http_proxy": endpoint,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost", "STAGE": "dr", "AWS_LAMBDA_FUNCTION_NAME": unique,
    }
    assert (first["count"], second["count"]) == (1, 2)  # the execution environment was reused
    assert first["request_id"] != second["request_id"]
    client.update_function_configuration(FunctionName=unique, Environment={"Variables": {"STAGE": "blue"}})
    _, third, _ = invoke(client, unique, {})
    assert third["env"]["STAGE"] == "blue" and third["count"] == 1  # a new configuration, a new environment


def test_code_calls_the_emulator_and_reaches_load_balancers_through_the_proxy(emulator, unique):
    ec2, elbv2 = emulator.client("ec2", "us-east-2"), emulator.client("elbv2", "us-east-2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.77.{i}.0/24", AvailabilityZone=f"us-east-2{z}")["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
    lb = elbv2.create_load_balancer(Name=unique, Subnets=subnets, Scheme="internet-facing")["LoadBalancers"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "ok"}}],
    )
    client = create(emulator, unique, source=CALLS_BACK)
    error, payload, _ = invoke(client, unique, {"url": f"http://{lb['DNSName']}/health"})
    assert error is None, payload
    assert payload["functions"] >= 1 and payload["status"] == 200, payload
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-2"}, expect=201)
    try:
        # The function's own region is down: it cannot even be invoked.
        with pytest.raises(ClientError) as failed:
            client.invoke(FunctionName=unique, Payload=b"{}")
        assert http_status(failed) == 503
    finally:
        emulator.control("DELETE", "/_drpair/outage/us-east-2", expect=200)


def test_asynchronous_invocations_and_retries(emulator, unique):
    client = create(emulator, unique)
    response = client.invoke(FunctionName=unique, InvocationType="Event", Payload=b'{"sleep": 1}')
    assert response["StatusCode"] == 202 and response["Payload"].read() == b""
    done = wait_for(lambda: runs(emulator, unique), timeout=20)
    assert done and done[0]["invocation_type"] == "Event" and done[0]["outcome"] == "ok" and done[0]["trigger"] == "invoke"

    # A failing asynchronous invocation is retried a minute and then two minutes later.
    since = clock(emulator)["epoch"]
    client.invoke(FunctionName=unique, InvocationType="Event", Payload=b'{"fail": true}')
    assert wait_for(lambda: len(runs(emulator, unique)) == 2, timeout=20)
    clock(emulator, advance=61)
    assert wait_for(lambda: len(runs(emulator, unique)) == 3, timeout=20)
    clock(emulator, advance=121)
    assert wait_for(lambda: len(runs(emulator, unique)) == 4, timeout=20)
    clock(emulator, advance=300)
    time.sleep(0.5)
    failed = [r for r in runs(emulator, unique) if r["outcome"] == "error"]
    assert [r["attempt"] for r in failed] == [1, 2, 3]
    assert failed[0]["error_type"] == "ValueError"
    events = emulator.control("GET", f"/_drpair/events?kind=lambda.invoke&since={since}", expect=200)[1]["events"]
    mine = [e for e in events if e["function"] == unique]
    assert [e["attempt"] for e in mine] == [1, 2, 3] and all(e["outcome"] == "error" for e in mine)
    assert mine[1]["started"] - mine[0]["started"] >= 60 and mine[2]["started"] - mine[1]["started"] >= 120

    # MaximumRetryAttempts 0: no retry.
    client.put_function_event_invoke_config(FunctionName=unique, MaximumRetryAttempts=0)
    client.invoke(FunctionName=unique, InvocationType="Event", Payload=b'{"fail": true}')
    assert wait_for(lambda: len(runs(emulator, unique)) == 5, timeout=20)
    clock(emulator, advance=200)
    time.sleep(0.5)
    assert len(runs(emulator, unique)) == 5


def test_invocation_types_logs_and_limits(emulator, unique):
    client = create(emulator, unique)
    dry = client.invoke(FunctionName=unique, InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204 and runs(emulator, unique) == []
    error, payload, response = invoke(client, unique, {"print": "hello from the function"}, LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    assert error is None and "hello from the function" in log and log.startswith("START RequestId:") and "REPORT RequestId:" in log
    with pytest.raises(ClientError) as too_big:
        client.invoke(FunctionName=unique, InvocationType="Event", Payload=json.dumps({"x": "y" * 300_000}).encode())
    assert error_code(too_big) == "RequestEntityTooLargeException" and http_status(too_big) == 413


def test_runtime_errors(emulator, unique):
    client = create(emulator, unique)
    error, payload, _ = invoke(client, unique, {"fail": True})
    assert error == "Unhandled" and payload["errorType"] == "ValueError" and payload["errorMessage"] == "asked to fail"
    assert payload["requestId"] and payload["stackTrace"] and all("<string>" not in line for line in payload["stackTrace"])
    error, payload, _ = invoke(client, unique, {"unjsonable": True})
    assert error == "Unhandled" and payload["errorType"] == "Runtime.MarshalError"

    broken = create(emulator, unique + "i", source="import not_a_module\n")
    error, payload, _ = invoke(broken, unique + "i", {})
    assert error == "Unhandled" and payload["errorType"] == "Runtime.ImportModuleError"
    missing = create(emulator, unique + "h", handler="check.nowhere")
    error, payload, _ = invoke(missing, unique + "h", {})
    assert error == "Unhandled" and payload["errorType"] == "Runtime.HandlerNotFound"


def test_overrides_skip_the_code_and_execute_true_is_the_default(emulator, unique):
    client = create(emulator, unique)
    path = f"/_drpair/lambda/us-east-2/{unique}"
    emulator.control("POST", path, {"payload": {"forced": True}}, expect=200)
    assert invoke(client, unique, {"sleep": 1000})[:2] == (None, {"forced": True})
    assert emulator.control("POST", path, {"execute": True}, expect=200)[1]["Result"] == {}
    error, payload, _ = invoke(client, unique, {})
    assert error is None and payload["count"] == 1
    assert emulator.control("POST", path, {"execute": False})[0] == 400
