"""The package deployed as Lambda functions that the emulator runs (each invocation a process of
its own, as Lambda's sandboxes are): concurrent invocations fail over exactly once."""

import json
import threading

import pytest

from conftest import DR, PRIMARY, alarm_event, build_stack, package, scheduled_event

ORCHESTRATOR = "drpair_failover.orchestrator.handler"
NOTIFIER = "drpair_failover.notifier.handler"


@pytest.fixture
def deployed(emulator, unique):
    stack = build_stack(emulator, unique)
    role = emulator.client("iam").create_role(
        RoleName=f"{unique}-orchestrator",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        ),
    )["Role"]["Arn"]
    client = emulator.client("lambda", DR)
    code = package()
    for name, handler in ((f"{unique}-orchestrator", ORCHESTRATOR), (f"{unique}-notifier", NOTIFIER)):
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": code},
            Timeout=60,
            Environment={"Variables": stack.env},
        )
        emulator.control("POST", f"/lambda/{DR}/{name}", {"execute": True}, expect=200)
    return stack, client, f"{unique}-orchestrator", f"{unique}-notifier"


def invoke(client, name, event):
    out = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, payload
    return payload


def test_concurrent_invocations_fail_over_once(deployed, emulator):
    stack, client, orchestrator, _ = deployed
    failovers_before = emulator.calls("rds", "FailoverGlobalCluster")
    stack.health(False)
    stack.lag_alarm_state("ALARM")
    assert invoke(client, orchestrator, scheduled_event())["action"] == "none"

    results = []
    events = [scheduled_event() for _ in range(3)] + [alarm_event(stack.lag_alarm) for _ in range(3)]

    def run(event):
        results.append(invoke(emulator.client("lambda", DR), orchestrator, event))

    threads = [threading.Thread(target=run, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    actions = [r["action"] for r in results]
    assert actions.count("failed_over") == 1, results
    assert stack.writer() == DR
    assert stack.asg() == (2, 4, 4)
    assert emulator.calls("rds", "FailoverGlobalCluster") - failovers_before == 1
    for region in (PRIMARY, DR):
        got = stack.messages(region)
        assert len(got) == 1, got
        assert json.loads(got[0][1])["what"] == "failover"


def test_the_notifier_function_publishes_alarm_messages(deployed):
    stack, client, _, notifier = deployed
    result = invoke(client, notifier, alarm_event(stack.lag_alarm))
    assert sorted(result["published"]) == sorted(stack.topics.values())
    assert stack.messages(PRIMARY)[0][0] == f"ALARM [test]: {stack.lag_alarm} in us-east-2"
