"""IAM's eventual consistency (emulator_ext/iam_propagation.py): what is recorded, for how long,
the control, and the services that refuse what has not propagated (Lambda, Auto Scaling)."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]}


def settings(emulator):
    return emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]


def pending(emulator, name):
    return next((p for p in settings(emulator)["pending"] if p["name"] == name.lower()), None)


def advance(emulator, seconds):
    emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)


@pytest.fixture
def window(emulator):
    """The window in force (restored after the test)."""
    seconds = settings(emulator)["seconds"]
    yield seconds
    emulator.control("POST", "/_drpair/iam-propagation", {"seconds": seconds}, expect=200)


def test_changes_are_pending_for_the_window_on_the_modeled_clock(emulator, unique, window):
    assert window == 5.0  # the default
    iam = emulator.client("iam")
    iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))
    role = pending(emulator, unique)
    assert role["kind"] == "role" and role["changes"] == ["created"]
    assert 0 < role["seconds_left"] <= window
    advance(emulator, window / 2)
    iam.put_role_policy(RoleName=unique, PolicyName="p", PolicyDocument=json.dumps(POLICY))
    assert pending(emulator, unique)["changes"] == ["created", "permissions"]
    advance(emulator, window + 0.5)
    assert pending(emulator, unique) is None

    iam.create_instance_profile(InstanceProfileName=unique)
    iam.add_role_to_instance_profile(InstanceProfileName=unique, RoleName=unique)
    profile = next(p for p in settings(emulator)["pending"] if p["kind"] == "instance-profile" and p["name"] == unique.lower())
    assert profile["changes"] == ["created", "role_added"]


def test_a_role_deleted_and_created_again_starts_over(emulator, unique, window):
    iam, client = emulator.client("iam"), emulator.client("lambda", "us-east-2")
    arn = iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    advance(emulator, window + 1)
    iam.delete_role(RoleName=unique)
    assert pending(emulator, unique) is None
    iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as raised:
        client.create_function(FunctionName=unique, Runtime="python3.12", Role=arn, Handler="m.handler", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    assert error_code(raised) == "InvalidParameterValueException"


def test_the_window_is_configurable(emulator, unique, window):
    for bad in ({}, {"seconds": -1}, {"seconds": 601}, {"seconds": "5"}, {"seconds": True}, {"seconds": 5, "x": 1}):
        assert emulator.control("POST", "/_drpair/iam-propagation", bad)[0] == 400, bad
    assert emulator.control("POST", "/_drpair/iam-propagation", {"seconds": 0}, expect=200)[1]["seconds"] == 0
    iam, client = emulator.client("iam"), emulator.client("lambda", "us-east-2")
    arn = iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    client.create_function(FunctionName=unique, Runtime="python3.12", Role=arn, Handler="m.handler", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})

    emulator.control("POST", "/_drpair/iam-propagation", {"seconds": 30}, expect=200)
    iam.update_assume_role_policy(RoleName=unique, PolicyDocument=json.dumps(TRUST))
    advance(emulator, 10)
    with pytest.raises(ClientError):
        client.update_function_configuration(FunctionName=unique, Role=arn)
    advance(emulator, 21)
    client.update_function_configuration(FunctionName=unique, Role=arn)


def test_refusals_are_listed_and_logged(emulator, unique):
    emulator.control("DELETE", "/_drpair/iam-propagation/refusals", expect=200)
    iam, client = emulator.client("iam"), emulator.client("lambda", "us-east-2")
    arn = iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    for _ in range(2):
        with pytest.raises(ClientError):
            client.create_function(FunctionName=unique, Runtime="python3.12", Role=arn, Handler="m.handler", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    refusals = settings(emulator)["refusals"]
    assert [(r["service"], r["operation"], r["ref"], r["region"]) for r in refusals] == [("lambda", "CreateFunction", arn, "us-east-2")] * 2
    events = emulator.control("GET", "/_drpair/events?kind=iam.propagation.refused", expect=200)[1]["events"]
    assert [e["ref"] for e in events if e["ref"] == arn] == [arn, arn]
    emulator.control("DELETE", "/_drpair/iam-propagation/refusals", expect=200)
    assert settings(emulator)["refusals"] == []
