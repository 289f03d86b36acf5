"""CloudWatch alarm evaluation on the modeled clock (emulator_ext/cloudwatch_alarms.py): AWS's
missing-data tables, evaluation from datapoints, SNS actions, SetAlarmState until the next
evaluation, regions that are down, AWS/ namespaces reserved to AWS."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, wait_for
from emulator_ext.cloudwatch_alarms import evaluate

PERIOD = 300
NOW = 6_000_000.0  # a multiple of PERIOD: every period before it is complete


class Dim:
    def __init__(self, name, value):
        self.name, self.value = name, value


class Alarm:
    def __init__(self, m, n, treatment, state="OK", namespace="Drpair/Test"):
        self.metric_data_queries = []
        self.rule = None
        self.metric_name, self.namespace = "Lag", namespace
        self.dimensions = [Dim("Cluster", "dr")]
        self.comparison_operator = "GreaterThanThreshold"
        self.threshold, self.period = 5.0, PERIOD
        self.evaluation_periods, self.datapoints_to_alarm = n, m
        self.statistic, self.extended_statistic, self.unit = "Maximum", None, None
        self.treat_missing_data = treatment
        self.state_value = state


class Datum:
    def __init__(self, value, epoch):
        self.value = value
        self.timestamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).replace(tzinfo=None)
        self.dimensions, self.unit = [Dim("Cluster", "dr")], None


def datapoints(row):
    """AWS's notation, oldest first: 0 not breaching, X breaching, - missing (5 periods)."""
    points = row.split()
    out = []
    for i, point in enumerate(points):
        start = NOW - (len(points) - i) * PERIOD
        if point != "-":
            out.append(Datum(10.0 if point == "X" else 1.0, start + 30))
    return out


RETAIN = "retain"
# "How alarm state is evaluated when data is missing": Datapoints to Alarm = Evaluation Periods = 3.
TABLE_3_OF_3 = [
    ("0 - X - X", "OK", "OK", "OK", "OK"),
    ("0 - - - -", "OK", "OK", "OK", "OK"),
    ("- - - - -", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
    ("0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("- - - - X", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
]
# The same page, 2 out of 3.
TABLE_2_OF_3 = [
    ("0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"),
    ("0 - X - -", "OK", "OK", "ALARM", "OK"),
    ("- - - - 0", "OK", "OK", "ALARM", "OK"),
    ("- - - - X", "INSUFFICIENT_DATA", RETAIN, "ALARM", "OK"),
]


@pytest.mark.parametrize("m, row", [(3, r) for r in TABLE_3_OF_3] + [(2, r) for r in TABLE_2_OF_3])
def test_missing_data_tables(m, row):
    points, *expected = row
    for treatment, wanted in zip(("missing", "ignore", "breaching", "notBreaching"), expected):
        result = evaluate(Alarm(m, 3, treatment, state="OK"), datapoints(points), NOW)
        got = RETAIN if result is None else result[0]
        assert got == wanted, (points, treatment, result)


def test_reasons_follow_aws_wording():
    state, reason, data = evaluate(Alarm(3, 3, "missing"), datapoints("- - X X X"), NOW)
    assert state == "ALARM"
    assert reason.startswith("Threshold Crossed: 3 out of the last 3 datapoints [10.0 (")
    assert reason.endswith("were greater than the threshold (5.0) (minimum 3 datapoints for OK -> ALARM transition).")
    data = json.loads(data)
    assert data["recentDatapoints"] == [10.0, 10.0, 10.0] and data["period"] == PERIOD and data["threshold"] == 5.0
    state, reason, _ = evaluate(Alarm(3, 3, "breaching", state="ALARM"), datapoints("- - - - -"), NOW)
    assert state == "ALARM" and "no datapoints were received for 5 periods" in reason
    # Alarms on AWS/DynamoDB always ignore missing data.
    assert evaluate(Alarm(3, 3, "breaching", namespace="AWS/DynamoDB"), datapoints("- - - - -"), NOW) is None
    # An incomplete period does not count yet.
    assert evaluate(Alarm(1, 1, "missing"), [Datum(10.0, NOW + 1)], NOW)[0] == "INSUFFICIENT_DATA"


# --- through the emulator ----------------------------------------------------------------------


def modeled_now(emulator):
    return emulator.control("GET", "/_drpair/clock", expect=200)[1]["epoch"]


def at(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)


def advance(emulator, seconds):
    emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)


def state(cw, name):
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def alarm(cw, name, namespace, **extra):
    params = {
        "AlarmName": name, "Namespace": namespace, "MetricName": "Lag", "Dimensions": [{"Name": "Cluster", "Value": "dr"}],
        "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 3, "Threshold": 100.0, "ComparisonOperator": "GreaterThanThreshold",
    }
    params.update(extra)
    cw.put_metric_alarm(**params)


def test_aws_namespaces_are_reserved(emulator, unique, cbor):
    cw = emulator.client("cloudwatch", "us-east-2")
    datum = {"MetricName": "AuroraGlobalDBReplicationLag", "Dimensions": [{"Name": "DBClusterIdentifier", "Value": unique}], "Value": 5.0}
    with pytest.raises(ClientError) as refused:
        cw.put_metric_data(Namespace="AWS/RDS", MetricData=[datum])
    assert error_code(refused) == "InvalidParameterValue"
    assert refused.value.response["Error"]["Message"] == "The value AWS/RDS for parameter Namespace is invalid."
    status, parsed, _ = cbor.call("PutMetricData", {"Namespace": "AWS/RDS", "MetricData": [datum]}, region="us-east-2")
    assert status == 400 and parsed["Error"]["Code"] == "InvalidParameterValue"

    # The test harness plays Aurora: the control endpoint publishes as AWS would.
    now = modeled_now(emulator)
    answer = emulator.control("POST", "/_drpair/metrics/us-east-2", {
        "namespace": "AWS/RDS", "name": "AuroraGlobalDBReplicationLag", "dimensions": {"DBClusterIdentifier": unique},
        "value": 250, "unit": "Milliseconds", "epoch": now - 30,
    }, expect=201)[1]
    assert answer["namespace"] == "AWS/RDS" and answer["value"] == 250.0
    stats = cw.get_metric_statistics(
        Namespace="AWS/RDS", MetricName="AuroraGlobalDBReplicationLag", Dimensions=[{"Name": "DBClusterIdentifier", "Value": unique}],
        StartTime=at(now - 300), EndTime=at(now + 60), Period=60, Statistics=["Maximum"],
    )["Datapoints"]
    assert [d["Maximum"] for d in stats] == [250.0]
    assert emulator.control("POST", "/_drpair/metrics/us-east-2", {"namespace": "AWS/RDS", "name": "x", "value": "high"})[0] == 400


def test_alarm_follows_its_datapoints_and_notifies(emulator, unique):
    region = "us-east-2"
    cw, sns, sqs = (emulator.client(s, region) for s in ("cloudwatch", "sns", "sqs"))
    topic = sns.create_topic(Name=unique)["TopicArn"]
    queue = sqs.create_queue(QueueName=unique)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    namespace = f"Drpair/{unique}"
    alarm(cw, unique, namespace, TreatMissingData="breaching", AlarmActions=[topic], OKActions=[topic])
    assert state(cw, unique)["StateValue"] == "INSUFFICIENT_DATA"
    since = modeled_now(emulator)

    def put(value, epoch):
        cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "Lag", "Dimensions": [{"Name": "Cluster", "Value": "dr"}], "Value": value, "Timestamp": at(epoch)}])

    now = modeled_now(emulator)
    for ago in (150, 90, 30):
        put(500.0, now - ago)
    advance(emulator, 60)
    found = state(cw, unique)
    assert found["StateValue"] == "ALARM", found["StateReason"]
    assert found["StateReason"].startswith("Threshold Crossed: 3 out of the last 3 datapoints")
    for _ in range(3):
        put(1.0, modeled_now(emulator) - 1)
        advance(emulator, 60)
    assert state(cw, unique)["StateValue"] == "OK"
    # The metric stops (the writer's region is down): missing data is breaching; CloudWatch
    # looks at 5 periods, so it takes until the last real datapoint is out of the range.
    advance(emulator, 120)
    assert state(cw, unique)["StateValue"] == "OK"
    advance(emulator, 180)
    found = state(cw, unique)
    assert found["StateValue"] == "ALARM" and "no datapoints were received" in found["StateReason"]

    messages = wait_for(lambda: sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"), timeout=10)
    notes = [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
    assert [(n["OldStateValue"], n["NewStateValue"]) for n in notes][:2] == [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]
    events = emulator.control("GET", f"/_drpair/events?kind=cloudwatch.alarm&since={since}", expect=200)[1]["events"]
    mine = [(e["old"], e["new"]) for e in events if e["alarm"] == unique]
    assert mine == [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK"), ("OK", "ALARM")]


def test_missing_data_treatments_and_set_alarm_state(emulator, unique):
    cw = emulator.client("cloudwatch", "us-west-2")
    namespace = f"Drpair/{unique}"
    for treatment in ("missing", "ignore", "breaching", "notBreaching"):
        alarm(cw, f"{unique}-{treatment}", namespace, TreatMissingData=treatment)
    alarm(cw, f"{unique}-dynamo", "AWS/DynamoDB", TreatMissingData="breaching")
    advance(emulator, 60)
    states = {t: state(cw, f"{unique}-{t}")["StateValue"] for t in ("missing", "ignore", "breaching", "notBreaching", "dynamo")}
    assert states == {"missing": "INSUFFICIENT_DATA", "ignore": "INSUFFICIENT_DATA", "breaching": "ALARM", "notBreaching": "OK", "dynamo": "INSUFFICIENT_DATA"}
    # SetAlarmState lasts until the next evaluation.
    cw.set_alarm_state(AlarmName=f"{unique}-notBreaching", StateValue="ALARM", StateReason="forged")
    assert state(cw, f"{unique}-notBreaching")["StateValue"] == "ALARM"
    advance(emulator, 60)
    assert state(cw, f"{unique}-notBreaching")["StateValue"] == "OK"
    # ... and "ignore" keeps whatever it was given while no data comes.
    cw.set_alarm_state(AlarmName=f"{unique}-ignore", StateValue="ALARM", StateReason="set")
    advance(emulator, 60)
    assert state(cw, f"{unique}-ignore")["StateValue"] == "ALARM"


def test_alarms_of_a_region_that_is_down_are_not_evaluated(emulator, unique):
    cw = emulator.client("cloudwatch", "eu-west-1")
    alarm(cw, unique, f"Drpair/{unique}", TreatMissingData="breaching")
    since = modeled_now(emulator)
    emulator.control("POST", "/_drpair/outage", {"region": "eu-west-1"}, expect=201)
    try:
        advance(emulator, 180)
        events = emulator.control("GET", f"/_drpair/events?kind=cloudwatch.alarm&since={since}", expect=200)[1]["events"]
        assert not [e for e in events if e["alarm"] == unique]
    finally:
        emulator.control("DELETE", "/_drpair/outage/eu-west-1", expect=200)
    advance(emulator, 60)
    assert state(cw, unique)["StateValue"] == "ALARM"
