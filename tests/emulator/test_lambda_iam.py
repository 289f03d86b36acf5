"""Lambda without Docker (the deployed Python code runs by default; results can be overridden) and
AWS-managed IAM policies."""

import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

HANDLER = """
import os

def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("replication check failed")
    return {"event": event, "region": os.environ["AWS_REGION"], "stage": os.environ.get("STAGE"),
            "remaining": context.get_remaining_time_in_millis() > 0}
"""


def package(source=HANDLER):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("check.py", source)
    return buffer.getvalue()


@pytest.fixture
def function(emulator, unique):
    iam = emulator.client("iam")
    role = iam.create_role(
        RoleName=unique,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    client = emulator.client("lambda", "us-east-2")
    client.create_function(
        FunctionName=unique, Runtime="python3.12", Role=role, Handler="check.handler",
        Code={"ZipFile": package()}, Timeout=10, Environment={"Variables": {"STAGE": "dr"}},
    )
    return client, unique


def invoke(client, name, event):
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response.get("FunctionError"), json.loads(response["Payload"].read())


def test_default_runs_the_code_and_overrides(emulator, function):
    client, name = function
    assert client.get_function(FunctionName=name)["Configuration"]["State"] == "Active"
    ran = {"event": {"a": 1}, "region": "us-east-2", "stage": "dr", "remaining": True}
    assert invoke(client, name, {"a": 1}) == (None, ran)

    path = f"/_drpair/lambda/us-east-2/{name}"
    emulator.control("POST", path, {"payload": {"status": "promoted"}}, expect=200)
    assert invoke(client, name, {"a": 2}) == (None, {"status": "promoted"})

    emulator.control("POST", path, {"error": {"errorType": "Timeout", "errorMessage": "database unreachable"}}, expect=200)
    assert invoke(client, name, {"a": 3}) == ("Unhandled", {"errorType": "Timeout", "errorMessage": "database unreachable"})

    emulator.control("POST", path, {}, expect=200)
    assert invoke(client, name, {"a": 4}) == (None, {**ran, "event": {"a": 4}})
    seen = emulator.control("GET", path, expect=200)[1]
    assert seen["Invocations"] == [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}] and seen["Result"] == {}


def test_executes_python_handlers(emulator, function):
    client, name = function
    emulator.control("POST", f"/_drpair/lambda/us-east-2/{name}", {"execute": True}, expect=200)
    error, payload = invoke(client, name, {"table": "sessions"})
    assert error is None
    assert payload == {"event": {"table": "sessions"}, "region": "us-east-2", "stage": "dr", "remaining": True}
    error, payload = invoke(client, name, {"fail": True})
    assert error == "Unhandled"
    assert payload["errorType"] == "RuntimeError" and payload["errorMessage"] == "replication check failed"


def test_lambda_errors(emulator, function):
    client, name = function
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=name + "-missing", Payload=b"{}")
    assert error_code(raised) == "ResourceNotFoundException"
    assert emulator.control("POST", f"/_drpair/lambda/us-east-2/{name}-missing", {"payload": 1})[0] == 404
    assert emulator.control("POST", f"/_drpair/lambda/us-east-2/{name}", {"nonsense": 1})[0] == 400
    assert emulator.control("POST", f"/_drpair/lambda/us-east-2/{name}", {"error": "text"})[0] == 400


def test_aws_managed_policies_are_loaded(emulator, unique):
    iam = emulator.client("iam")
    policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")["Policy"]
    assert policy["PolicyName"] == "AWSBackupServiceRolePolicyForBackup"
    iam.create_role(RoleName=unique, AssumeRolePolicyDocument="{}")
    iam.attach_role_policy(RoleName=unique, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
    attached = iam.list_attached_role_policies(RoleName=unique)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AWSLambdaBasicExecutionRole"]
