"""Lambda without Docker (the deployed Python code runs by default; results can be overridden),
AWS-managed IAM policies, execution roles that IAM has not propagated yet, the log groups Lambda
creates, and CloudWatch Logs' checks of KMS keys and retention values."""

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


TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def propagated(emulator):
    """Lets IAM's changes so far propagate: the modeled clock jumps past the window."""
    seconds = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["seconds"]
    emulator.control("POST", "/_drpair/clock", {"advance": seconds + 1}, expect=200)


@pytest.fixture
def function(emulator, unique):
    iam = emulator.client("iam")
    role = iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    propagated(emulator)
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


# --- execution roles IAM has not propagated yet --------------------------------------------------


def test_a_new_role_cannot_be_assumed_until_it_has_propagated(emulator, unique):
    iam, client = emulator.client("iam"), emulator.client("lambda", "us-east-2")
    emulator.control("DELETE", "/_drpair/iam-propagation/refusals", expect=200)
    role = iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    create = lambda: client.create_function(  # noqa: E731
        FunctionName=unique, Runtime="python3.12", Role=role, Handler="check.handler", Code={"ZipFile": package()}
    )
    with pytest.raises(ClientError) as raised:
        create()
    assert error_code(raised) == "InvalidParameterValueException"
    assert raised.value.response["Error"]["Message"] == "The role defined for the function cannot be assumed by Lambda."
    refusals = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["refusals"]
    assert [(r["service"], r["operation"], r["ref"]) for r in refusals] == [("lambda", "CreateFunction", role)]

    propagated(emulator)
    create()
    # A new trust policy propagates too; changed permissions do not stop Lambda assuming it.
    iam.put_role_policy(RoleName=unique, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}))
    client.update_function_configuration(FunctionName=unique, Role=role, Timeout=9)
    iam.update_assume_role_policy(RoleName=unique, PolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as raised:
        client.update_function_configuration(FunctionName=unique, Role=role, Timeout=10)
    assert error_code(raised) == "InvalidParameterValueException"
    # Without a Role the configuration does not hand the role over again.
    client.update_function_configuration(FunctionName=unique, Timeout=11)
    propagated(emulator)
    client.update_function_configuration(FunctionName=unique, Role=role, Timeout=12)


# --- the log groups Lambda creates ---------------------------------------------------------------


def role_with(emulator, name, managed=(), inline=None):
    iam = emulator.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    for policy in managed:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy)
    if inline:
        iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(inline))
    propagated(emulator)
    return arn


def deploy(emulator, name, role):
    client = emulator.client("lambda", "us-east-2")
    client.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="check.handler", Code={"ZipFile": package()})
    return client


def group(emulator, name, region="us-east-2"):
    found = emulator.client("logs", region).describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return next((g for g in found if g["logGroupName"] == name), None)


def dropped(emulator, name):
    events = emulator.control("GET", "/_drpair/events?kind=lambda.logs.dropped", expect=200)[1]["events"]
    return [e["reason"] for e in events if e["function"] == name]


def test_the_first_invocation_creates_the_log_group_as_lambda_does(emulator, unique):
    client = deploy(emulator, unique, role_with(emulator, unique, [BASIC_EXECUTION]))
    name = f"/aws/lambda/{unique}"
    assert group(emulator, name) is None, "Lambda makes the group when the function first runs"
    assert invoke(client, unique, {"a": 1})[0] is None
    made = group(emulator, name)
    assert made is not None
    assert "retentionInDays" not in made and "kmsKeyId" not in made
    logs = emulator.client("logs", "us-east-2")
    assert logs.list_tags_for_resource(resourceArn=made["logGroupArn"])["tags"] == {}
    streams = logs.describe_log_streams(logGroupName=name)["logStreams"]
    assert len(streams) == 1 and "/[$LATEST]" in streams[0]["logStreamName"]
    lines = [e["message"] for e in logs.get_log_events(logGroupName=name, logStreamName=streams[0]["logStreamName"])["events"]]
    assert lines[0].startswith("START RequestId:") and lines[-1].startswith("REPORT RequestId:")
    # The next invocation uses the group that is there.
    invoke(client, unique, {"a": 2})
    assert len(logs.describe_log_streams(logGroupName=name)["logStreams"]) == 2
    assert emulator.client("logs", "us-east-1").describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []


def test_no_log_group_without_the_roles_permission(emulator, unique):
    # Allowed to write to its group, not to create it (a group its deployer creates first).
    writes = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                                       "Resource": f"arn:aws:logs:us-east-2:123456789012:log-group:/aws/lambda/{unique}:*"}]}
    client = deploy(emulator, unique, role_with(emulator, unique, inline=writes))
    name = f"/aws/lambda/{unique}"
    invoke(client, unique, {})
    assert group(emulator, name) is None
    assert any("logs:CreateLogGroup" in reason for reason in dropped(emulator, unique))
    emulator.client("logs", "us-east-2").create_log_group(logGroupName=name)
    invoke(client, unique, {})
    assert len(emulator.client("logs", "us-east-2").describe_log_streams(logGroupName=name)["logStreams"]) == 1


# --- CloudWatch Logs and KMS keys ----------------------------------------------------------------


def logs_key(emulator, group_arns, region="us-east-2", principal_region=None):
    """A key whose policy lets CloudWatch Logs use it for `group_arns` (AWS's documented policy)."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Logs", "Effect": "Allow", "Principal": {"Service": f"logs.{principal_region or region}.amazonaws.com"},
         "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"], "Resource": "*",
         "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": group_arns}}},
    ]}
    return emulator.client("kms", region).create_key(Policy=json.dumps(policy))["KeyMetadata"]["Arn"]


def arn(name, region="us-east-2"):
    return f"arn:aws:logs:{region}:123456789012:log-group:{name}"


def test_log_groups_take_only_keys_that_let_cloudwatch_logs_encrypt(emulator, unique):
    logs, kms = emulator.client("logs", "us-east-2"), emulator.client("kms", "us-east-2")
    name = f"/drpair/{unique}"
    denied = f"The specified KMS key does not exist or is not allowed to be used with Arn '{arn(name)}'"
    cases = [
        ("the default key policy", kms.create_key()["KeyMetadata"]["Arn"]),
        ("another group's context", logs_key(emulator, [arn(name + "-other")])),
        ("another region's principal", logs_key(emulator, [arn(name)], principal_region="us-east-1")),
    ]
    for what, key in cases:
        with pytest.raises(ClientError) as raised:
            logs.create_log_group(logGroupName=name, kmsKeyId=key)
        assert error_code(raised) == "AccessDeniedException", what
        assert raised.value.response["Error"]["Message"] == denied, what
    assert group(emulator, name) is None

    with pytest.raises(ClientError) as raised:
        logs.create_log_group(logGroupName=name, kmsKeyId="arn:aws:kms:us-east-2:123456789012:key/00000000-0000-0000-0000-000000000000")
    assert error_code(raised) == "InvalidParameterException"
    # A key of another region is not found in this one.
    with pytest.raises(ClientError) as raised:
        logs.create_log_group(logGroupName=name, kmsKeyId=logs_key(emulator, [arn(name)], region="us-east-1"))
    assert error_code(raised) == "InvalidParameterException"

    good = logs_key(emulator, [arn(name)])
    logs.create_log_group(logGroupName=name, kmsKeyId=good, tags={"Team": "sre"})
    assert group(emulator, name)["kmsKeyId"] == good


def test_associate_kms_key_checks_the_key_too(emulator, unique):
    logs, kms = emulator.client("logs", "us-east-2"), emulator.client("kms", "us-east-2")
    name = f"/aws/lambda/{unique}"
    with pytest.raises(ClientError) as raised:
        logs.associate_kms_key(logGroupName=name, kmsKeyId=logs_key(emulator, [arn(name)]))
    assert error_code(raised) == "ResourceNotFoundException"
    logs.create_log_group(logGroupName=name)
    with pytest.raises(ClientError) as raised:
        logs.associate_kms_key(logGroupName=name, kmsKeyId=kms.create_key()["KeyMetadata"]["Arn"])
    assert error_code(raised) == "AccessDeniedException"
    assert "kmsKeyId" not in group(emulator, name)
    key = logs_key(emulator, [arn(name)])
    kms.disable_key(KeyId=key.split("/")[-1])  # moto's DisableKey takes no ARN
    with pytest.raises(ClientError) as raised:
        logs.associate_kms_key(logGroupName=name, kmsKeyId=key)
    assert error_code(raised) == "InvalidParameterException"
    kms.enable_key(KeyId=key.split("/")[-1])
    logs.associate_kms_key(logGroupName=name, kmsKeyId=key)
    assert group(emulator, name)["kmsKeyId"] == key
    logs.disassociate_kms_key(logGroupName=name)
    assert "kmsKeyId" not in group(emulator, name)
    logs.associate_kms_key(resourceIdentifier=arn(name), kmsKeyId=key)
    assert group(emulator, name)["kmsKeyId"] == key


def test_logs_are_dropped_when_the_groups_key_is_unusable(emulator, unique):
    client = deploy(emulator, unique, role_with(emulator, unique, [BASIC_EXECUTION]))
    name = f"/aws/lambda/{unique}"
    key = logs_key(emulator, [arn(name)])
    emulator.client("logs", "us-east-2").create_log_group(logGroupName=name, kmsKeyId=key)
    emulator.client("kms", "us-east-2").disable_key(KeyId=key.split("/")[-1])
    invoke(client, unique, {})
    assert emulator.client("logs", "us-east-2").describe_log_streams(logGroupName=name)["logStreams"] == []
    assert any("KMS key" in reason for reason in dropped(emulator, unique))


def test_retention_values_and_tags_of_deleted_groups(emulator, unique):
    logs = emulator.client("logs", "us-east-2")
    name = f"/drpair/{unique}"
    logs.create_log_group(logGroupName=name, tags={"drpair:owner": "x"})
    for days in (10, 0, 4000):
        with pytest.raises(ClientError) as raised:
            logs.put_retention_policy(logGroupName=name, retentionInDays=days)
        assert error_code(raised) == "InvalidParameterException"
        assert "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545" in raised.value.response["Error"]["Message"]
    logs.put_retention_policy(logGroupName=name, retentionInDays=365)
    assert group(emulator, name)["retentionInDays"] == 365
    # Tags go with the group: a new group of the same name starts without them.
    logs.delete_log_group(logGroupName=name)
    logs.create_log_group(logGroupName=name)
    assert logs.list_tags_for_resource(resourceArn=arn(name))["tags"] == {}
