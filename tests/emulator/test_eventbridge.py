"""EventBridge delivery (emulator_ext/eventbridge.py): event patterns, scheduled rules on the
modeled clock, CloudWatch alarm state change events, Lambda targets and their permissions,
PutEvents, paused delivery, disabled rules and regions that are down."""

import io
import json
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, wait_for
from emulator_ext.eventbridge import matches

REGION = "us-east-2"

ALARM_EVENT = {
    "version": "0",
    "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
    "detail-type": "CloudWatch Alarm State Change",
    "source": "aws.cloudwatch",
    "account": "123456789012",
    "time": "2019-10-02T17:04:40Z",
    "region": "us-east-2",
    "resources": ["arn:aws:cloudwatch:us-east-2:123456789012:alarm:lag-v2-prod"],
    "detail": {
        "alarmName": "drpair-lag-v2-prod",
        "state": {"value": "ALARM", "reason": "Threshold Crossed"},
        "previousState": {"value": "OK"},
        "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/RDS", "name": "AuroraGlobalDBReplicationLag"}, "period": 60}}]},
        "count": 5,
        "ip": "10.0.0.7",
        "tags": ["a", "b"],
        "empty": "",
        "nothing": None,
    },
}


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ({"source": ["aws.cloudwatch"]}, True),
        ({"source": ["aws.events", "aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}, True),
        ({"source": ["aws.ec2"]}, False),
        ({"detail": {"state": {"value": ["ALARM"]}}}, True),
        ({"detail": {"state": {"value": ["OK"]}}}, False),
        ({"detail": {"alarmName": [{"prefix": "drpair-"}]}}, True),
        ({"detail": {"alarmName": [{"prefix": "other-"}]}}, False),
        ({"detail": {"alarmName": [{"prefix": {"equals-ignore-case": "DRPAIR-"}}]}}, True),
        ({"detail": {"alarmName": [{"suffix": "-v2-prod"}]}}, True),
        ({"detail": {"alarmName": [{"wildcard": "drpair*-v2-prod"}]}}, True),
        ({"detail": {"alarmName": [{"wildcard": "drpair*-v2-dev"}]}}, False),
        ({"detail": {"alarmName": [{"wildcard": "*lag*"}]}}, True),
        ({"detail": {"alarmName": [{"equals-ignore-case": "DRPAIR-LAG-V2-PROD"}]}}, True),
        ({"detail": {"state": {"value": [{"anything-but": "OK"}]}}}, True),
        ({"detail": {"state": {"value": [{"anything-but": ["OK", "ALARM"]}]}}}, False),
        ({"detail": {"alarmName": [{"anything-but": {"prefix": "drpair-"}}]}}, False),
        ({"detail": {"alarmName": [{"anything-but": {"wildcard": "*-dev"}}]}}, True),
        ({"detail": {"missing": [{"anything-but": "x"}]}}, False),  # anything-but needs the field
        ({"detail": {"missing": [{"exists": False}]}}, True),
        ({"detail": {"alarmName": [{"exists": True}]}}, True),
        ({"detail": {"alarmName": [{"exists": False}]}}, False),
        ({"detail": {"count": [{"numeric": [">", 0, "<=", 5]}]}}, True),
        ({"detail": {"count": [{"numeric": [">", 5]}]}}, False),
        ({"detail": {"count": [5.0]}}, True),  # numbers compare as numbers
        ({"detail": {"count": ["5"]}}, False),
        ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, True),
        ({"detail": {"tags": ["b"]}}, True),  # an array matches when an element does
        ({"detail": {"tags": ["c"]}}, False),
        ({"detail": {"empty": [""]}}, True),
        ({"detail": {"nothing": [None]}}, True),
        ({"detail": {"configuration": {"metrics": {"metricStat": {"metric": {"namespace": ["AWS/RDS"]}}}}}}, True),
        ({"detail": {"state": {"value": ["ALARM"]}}, "source": ["aws.ec2"]}, False),  # every field must match
        ({"$or": [{"source": ["aws.ec2"]}, {"detail": {"state": {"value": ["ALARM"]}}}]}, True),
        ({"$or": [{"source": ["aws.ec2"]}, {"detail-type": ["x"]}]}, False),
    ],
)
def test_event_patterns(pattern, expected):
    assert matches(pattern, ALARM_EVENT) is expected


def test_test_event_pattern_api_and_invalid_patterns(emulator, unique):
    events = emulator.client("events", REGION)
    pattern = {"detail": {"alarmName": [{"wildcard": "drpair*-v2-prod"}]}}
    assert events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(ALARM_EVENT))["Result"] is True
    with pytest.raises(ClientError) as bad:
        events.put_rule(Name=unique, EventPattern=json.dumps({"source": [{"startswith": "aws."}]}))
    assert error_code(bad) == "InvalidEventPatternException"
    for expression in ("rate(1 minutes)", "rate(5 minute)", "rate(0 minutes)", "rate(1 week)"):
        with pytest.raises(ClientError) as bad:
            events.put_rule(Name=unique, ScheduleExpression=expression)
        assert error_code(bad) == "ValidationException", expression


# --- delivery to Lambda ----------------------------------------------------------------------


def package():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fn.py", "def handler(event, context):\n    return {'got': event}\n")
    return buffer.getvalue()


@pytest.fixture
def target(emulator, unique):
    """A Lambda function in us-east-2 and the rules created for it (removed afterwards)."""
    iam = emulator.client("iam")
    role = iam.create_role(RoleName=unique, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    # Lambda refuses the role until IAM has propagated it (emulator_ext/iam_propagation.py).
    seconds = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["seconds"]
    emulator.control("POST", "/_drpair/clock", {"advance": seconds + 1}, expect=200)
    lam, events = emulator.client("lambda", REGION), emulator.client("events", REGION)
    arn = lam.create_function(FunctionName=unique, Runtime="python3.12", Role=role, Handler="fn.handler", Code={"ZipFile": package()})["FunctionArn"]
    rules = []

    def rule(name, permitted=True, target=None, **settings):
        rule_arn = events.put_rule(Name=name, **settings)["RuleArn"]
        events.put_targets(Rule=name, Targets=[{"Id": "fn", "Arn": arn, **(target or {})}])
        rules.append(name)
        if permitted:
            lam.add_permission(FunctionName=unique, StatementId=name, Action="lambda:InvokeFunction", Principal="events.amazonaws.com", SourceArn=rule_arn)
        return rule_arn

    yield {"name": unique, "arn": arn, "rule": rule, "events": events, "lambda": lam}
    for name in rules:
        try:
            events.remove_targets(Rule=name, Ids=["fn"])
            events.delete_rule(Name=name)
        except ClientError:
            pass
    emulator.control("POST", "/_drpair/eventbridge", {"deliver": True}, expect=200)


def received(emulator, name):
    return emulator.control("GET", f"/_drpair/lambda/{REGION}/{name}", expect=200)[1]["Invocations"]


def finished(emulator, name):
    return emulator.control("GET", f"/_drpair/lambda/{REGION}/{name}", expect=200)[1]["Runs"]


def advance(emulator, seconds):
    emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)


def test_scheduled_rule_invokes_its_target_on_the_modeled_clock(emulator, target, unique):
    rule_arn = target["rule"](unique, ScheduleExpression="rate(1 minute)")
    assert any(s["rule"] == unique and s["expression"] == "rate(1 minute)" for s in emulator.control("GET", "/_drpair/eventbridge", expect=200)[1]["schedules"])
    advance(emulator, 30)
    time.sleep(0.3)
    assert received(emulator, target["name"]) == []
    advance(emulator, 31)
    got = wait_for(lambda: received(emulator, target["name"]), timeout=20)
    assert len(got) == 1
    event = got[0]
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [rule_arn] and event["detail"] == {} and event["region"] == REGION
    assert event["time"].endswith("Z") and event["account"] == "123456789012" and event["version"] == "0"
    # Let the invocation finish before jumping the clock (a jump past its Timeout would time it out).
    assert wait_for(lambda: len(finished(emulator, target["name"])) == 1, timeout=20)
    advance(emulator, 120)
    assert wait_for(lambda: len(received(emulator, target["name"])) == 3, timeout=20)
    runs = wait_for(lambda: len(finished(emulator, target["name"])) == 3 and finished(emulator, target["name"]), timeout=20)
    assert {r["trigger"] for r in runs} == {"schedule"} and {r["rule"] for r in runs} == {unique}
    assert runs[0]["summary"].startswith('{"got": {')

    # Disabled: nothing. Paused delivery: nothing. The region down: nothing.
    target["events"].disable_rule(Name=unique)
    advance(emulator, 60)
    target["events"].enable_rule(Name=unique)
    emulator.control("POST", "/_drpair/eventbridge", {"deliver": False}, expect=200)
    advance(emulator, 60)
    emulator.control("POST", "/_drpair/eventbridge", {"deliver": True}, expect=200)
    emulator.control("POST", "/_drpair/outage", {"region": REGION}, expect=201)
    advance(emulator, 60)
    emulator.control("DELETE", "/_drpair/outage", expect=200)
    time.sleep(0.5)
    assert len(received(emulator, target["name"])) == 3
    advance(emulator, 60)
    assert wait_for(lambda: len(received(emulator, target["name"])) == 4, timeout=20)


def test_target_input_and_permissions(emulator, target, unique):
    target["rule"](unique + "-in", ScheduleExpression="rate(2 minutes)", target={"Input": json.dumps({"probe": "scheduled"})})
    target["rule"](unique + "-no", permitted=False, ScheduleExpression="rate(1 minute)")
    since = emulator.control("GET", "/_drpair/clock", expect=200)[1]["epoch"]
    advance(emulator, 121)
    got = wait_for(lambda: received(emulator, target["name"]), timeout=20)
    time.sleep(0.3)
    assert received(emulator, target["name"]) == [{"probe": "scheduled"}]
    failed = emulator.control("GET", f"/_drpair/events?kind=events.failed&since={since}", expect=200)[1]["events"]
    assert any(e["rule"] == unique + "-no" and "policy" in e["reason"] for e in failed)
    assert got


def test_alarm_state_changes_reach_matching_rules(emulator, target, unique):
    cw = emulator.client("cloudwatch", REGION)
    alarm = f"drpair-lag-{unique}"
    pattern = {
        "source": ["aws.cloudwatch"],
        "detail-type": ["CloudWatch Alarm State Change"],
        "detail": {"alarmName": [{"wildcard": f"drpair-*-{unique}"}], "state": {"value": [{"anything-but": "INSUFFICIENT_DATA"}]}},
    }
    target["rule"](unique, EventPattern=json.dumps(pattern))
    cw.put_metric_alarm(
        AlarmName=alarm, AlarmDescription="replication lag", Namespace="AWS/RDS", MetricName="AuroraGlobalDBReplicationLag",
        Dimensions=[{"Name": "DBClusterIdentifier", "Value": "ledger"}], Statistic="Maximum", Period=60,
        EvaluationPeriods=3, Threshold=1000.0, ComparisonOperator="GreaterThanThreshold",
    )
    cw.put_metric_alarm(
        AlarmName=f"other-{unique}", Namespace="AWS/RDS", MetricName="CPUUtilization", Statistic="Maximum", Period=60,
        EvaluationPeriods=1, Threshold=90.0, ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName=f"other-{unique}", StateValue="ALARM", StateReason="not ours")
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="lag is high")
    got = wait_for(lambda: received(emulator, target["name"]), timeout=20)
    assert len(got) == 1
    event = got[0]
    assert event["source"] == "aws.cloudwatch" and event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["resources"] == [f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{alarm}"] and event["region"] == REGION
    detail = event["detail"]
    assert detail["alarmName"] == alarm
    assert detail["state"]["value"] == "ALARM" and detail["state"]["reason"] == "lag is high" and detail["state"]["timestamp"].endswith("+0000")
    assert detail["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert detail["configuration"]["description"] == "replication lag"
    metric = detail["configuration"]["metrics"][0]
    assert metric["metricStat"] == {"metric": {"dimensions": {"DBClusterIdentifier": "ledger"}, "name": "AuroraGlobalDBReplicationLag", "namespace": "AWS/RDS"}, "period": 60, "stat": "Maximum"}
    assert metric["returnData"] is True
    # Same state again: no change, no event. To INSUFFICIENT_DATA: filtered out by the pattern.
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="still high")
    cw.set_alarm_state(AlarmName=alarm, StateValue="INSUFFICIENT_DATA", StateReason="no data")
    cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="fine")
    assert wait_for(lambda: len(received(emulator, target["name"])) == 2, timeout=20)
    time.sleep(0.3)
    states = [e["detail"]["state"]["value"] for e in received(emulator, target["name"])]
    assert states == ["ALARM", "OK"]


def test_put_events(emulator, target, unique):
    target["rule"](unique, EventPattern=json.dumps({"source": [f"drpair.{unique}"], "detail": {"kind": ["probe"]}}))
    target["rule"](unique + "-s", ScheduleExpression="rate(1 day)")  # a scheduled rule receives no events
    events = target["events"]
    out = events.put_events(
        Entries=[
            {"Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change", "Detail": json.dumps({"alarmName": "forged"})},
            {"Source": f"drpair.{unique}", "DetailType": "test", "Detail": json.dumps({"kind": "probe"})},
            {"Source": f"drpair.{unique}", "DetailType": "test", "Detail": json.dumps({"kind": "other"})},
        ]
    )
    assert out["FailedEntryCount"] == 1
    assert out["Entries"][0] == {"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."}
    assert "EventId" in out["Entries"][1] and "EventId" in out["Entries"][2]
    got = wait_for(lambda: received(emulator, target["name"]), timeout=20)
    time.sleep(0.3)
    got = received(emulator, target["name"])
    assert len(got) == 1 and got[0]["detail"] == {"kind": "probe"} and got[0]["source"] == f"drpair.{unique}"
    assert isinstance(got[0]["time"], str) and "ingestion-time" not in got[0]


def test_eventbridge_control_refuses_bad_input(emulator):
    assert emulator.control("POST", "/_drpair/eventbridge", {"deliver": "no"})[0] == 400
    assert emulator.control("POST", "/_drpair/eventbridge", {})[0] == 400
    assert emulator.control("GET", "/_drpair/eventbridge", expect=200)[1]["deliver"] is True
