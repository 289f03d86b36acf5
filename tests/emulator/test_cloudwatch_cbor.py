"""CloudWatch over Smithy rpc-v2-cbor (what aws-sdk-cloudwatch for Rust speaks), encoded and
decoded by botocore's own rpc-v2-cbor serializer and parser; alarm behaviour fixed in moto."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"


def alarm_params(name, topic=None, **extra):
    params = {
        "AlarmName": name,
        "Namespace": "Drpair/Test",
        "MetricName": "Errors",
        "Dimensions": [{"Name": "Stack", "Value": "dr"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 2,
        "Threshold": 5.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    if topic:
        params["AlarmActions"] = [topic]
        params["OKActions"] = [topic]
    params.update(extra)
    return params


def test_alarm_lifecycle_over_cbor(cbor, unique):
    status, _, headers = cbor.call("PutMetricAlarm", alarm_params(unique, Tags=[{"Key": "k", "Value": "v"}]))
    assert status == 200
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["Content-Type"] == "application/cbor"

    status, described, _ = cbor.call("DescribeAlarms", {"AlarmNames": [unique]})
    assert status == 200
    alarm = described["MetricAlarms"][0]
    assert alarm["AlarmName"] == unique
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["Threshold"] == 5.0 and isinstance(alarm["Threshold"], float)
    assert alarm["Period"] == 60 and alarm["EvaluationPeriods"] == 2
    assert alarm["Dimensions"] == [{"Name": "Stack", "Value": "dr"}]
    assert isinstance(alarm["StateUpdatedTimestamp"], datetime.datetime)

    status, _, _ = cbor.call("SetAlarmState", {"AlarmName": unique, "StateValue": "ALARM", "StateReason": "drill"})
    assert status == 200
    _, described, _ = cbor.call("DescribeAlarms", {"AlarmNames": [unique]})
    assert described["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert described["MetricAlarms"][0]["StateReason"] == "drill"

    _, for_metric, _ = cbor.call(
        "DescribeAlarmsForMetric", {"Namespace": "Drpair/Test", "MetricName": "Errors"}
    )
    assert unique in [a["AlarmName"] for a in for_metric["MetricAlarms"]]

    arn = alarm["AlarmArn"]
    _, tags, _ = cbor.call("ListTagsForResource", {"ResourceARN": arn})
    assert tags["Tags"] == [{"Key": "k", "Value": "v"}]
    assert cbor.call("TagResource", {"ResourceARN": arn, "Tags": [{"Key": "k2", "Value": "v2"}]})[0] == 200
    _, tags, _ = cbor.call("ListTagsForResource", {"ResourceARN": arn})
    assert {t["Key"] for t in tags["Tags"]} == {"k", "k2"}

    assert cbor.call("DeleteAlarms", {"AlarmNames": [unique]})[0] == 200
    _, described, _ = cbor.call("DescribeAlarms", {"AlarmNames": [unique]})
    assert described["MetricAlarms"] == []


def test_metric_data_over_cbor(cbor, unique):
    now = datetime.datetime.now(datetime.timezone.utc)
    data = [
        {"MetricName": "Lag", "Dimensions": [{"Name": "T", "Value": unique}], "Value": v, "Timestamp": now - datetime.timedelta(seconds=s)}
        for v, s in ((2.0, 100), (7.0, 40))
    ]
    assert cbor.call("PutMetricData", {"Namespace": "Drpair/CBOR", "MetricData": data})[0] == 200
    query = {
        "Id": "lag",
        "MetricStat": {
            "Metric": {"Namespace": "Drpair/CBOR", "MetricName": "Lag", "Dimensions": [{"Name": "T", "Value": unique}]},
            "Period": 300,
            "Stat": "Sum",
        },
    }
    status, result, _ = cbor.call(
        "GetMetricData",
        {"StartTime": now - datetime.timedelta(seconds=280), "EndTime": now + datetime.timedelta(seconds=10), "MetricDataQueries": [query]},
    )
    assert status == 200
    series = result["MetricDataResults"][0]
    assert series["Id"] == "lag" and series["Values"] == [9.0]
    assert isinstance(series["Timestamps"][0], datetime.datetime)


def test_cbor_errors_are_modelled(cbor, emulator, unique):
    status, parsed, headers = cbor.call("SetAlarmState", {"AlarmName": unique, "StateValue": "OK", "StateReason": "x"})
    assert status == 404
    assert parsed["Error"]["Code"] == "ResourceNotFound"
    assert headers["x-amzn-query-error"].startswith("ResourceNotFound;")
    assert headers["smithy-protocol"] == "rpc-v2-cbor"

    status, parsed, _ = cbor.call("PutMetricStream", {"Name": unique, "FirehoseArn": "arn:f", "RoleArn": "arn:r", "OutputFormat": "xml"})
    assert status == 400 and parsed["Error"]["Code"] == "InvalidParameterValue"


def test_malformed_cbor_requests(emulator):
    cbor_headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor"}
    from emulator_ext import cbor as codec  # noqa: E402  (scripts/ is on sys.path via conftest)

    response = emulator.signed("POST", CBOR_PATH + "DescribeAlarms", "monitoring", body=b"\xbf\x61", headers=cbor_headers)
    assert response.status_code == 400
    assert codec.loads(response.content)["__type"] == "SerializationException"

    response = emulator.signed("POST", CBOR_PATH + "DescribeAlarms", "monitoring", body=codec.dumps([1, 2]), headers=cbor_headers)
    assert response.status_code == 400

    response = emulator.signed("POST", CBOR_PATH + "NoSuchOperation", "monitoring", body=codec.dumps({}), headers=cbor_headers)
    assert response.status_code == 400
    assert codec.loads(response.content)["__type"] == "UnknownOperationException"

    response = emulator.signed("GET", CBOR_PATH + "DescribeAlarms", "monitoring", headers=cbor_headers)
    assert response.status_code == 405
    assert response.headers["smithy-protocol"] == "rpc-v2-cbor"

    # An empty body is an empty input structure, as Smithy allows.
    response = emulator.signed("POST", CBOR_PATH + "DescribeAlarms", "monitoring", headers=cbor_headers)
    assert response.status_code == 200 and "MetricAlarms" in codec.loads(response.content)


def test_alarm_actions_publish_to_sns(emulator, unique):
    sns, sqs, cw = emulator.client("sns"), emulator.client("sqs"), emulator.client("cloudwatch")
    topic = sns.create_topic(Name=unique)["TopicArn"]
    queue = sqs.create_queue(QueueName=unique)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    cw.put_metric_alarm(**alarm_params(unique, topic, AlarmDescription="primary down"))

    cw.set_alarm_state(AlarmName=unique, StateValue="ALARM", StateReason="threshold crossed")
    cw.set_alarm_state(AlarmName=unique, StateValue="ALARM", StateReason="still down")  # no change: no action
    cw.set_alarm_state(AlarmName=unique, StateValue="OK", StateReason="recovered")
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    envelopes = [json.loads(m["Body"]) for m in messages]
    notes = [json.loads(e["Message"]) for e in envelopes]
    assert [(n["OldStateValue"], n["NewStateValue"]) for n in notes] == [("INSUFFICIENT_DATA", "ALARM"), ("ALARM", "OK")]
    assert envelopes[0]["Subject"] == f'ALARM: "{unique}" in US East (N. Virginia)'
    first = notes[0]
    assert first["AlarmName"] == unique and first["AlarmDescription"] == "primary down"
    assert first["Region"] == "US East (N. Virginia)" and first["AWSAccountId"] == "123456789012"
    assert first["Trigger"]["MetricName"] == "Errors" and first["Trigger"]["Threshold"] == 5.0
    assert first["Trigger"]["Dimensions"] == [{"value": "dr", "name": "Stack"}]

    cw.disable_alarm_actions(AlarmNames=[unique])
    cw.set_alarm_state(AlarmName=unique, StateValue="ALARM", StateReason="muted")
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0)


def test_put_metric_alarm_update_keeps_state(emulator, unique):
    cw = emulator.client("cloudwatch")
    cw.put_metric_alarm(**alarm_params(unique))
    cw.set_alarm_state(AlarmName=unique, StateValue="ALARM", StateReason="r")
    cw.put_metric_alarm(**alarm_params(unique, Threshold=9.0))
    alarm = cw.describe_alarms(AlarmNames=[unique])["MetricAlarms"][0]
    assert alarm["StateValue"] == "ALARM" and alarm["Threshold"] == 9.0


def test_delete_alarms_with_unknown_name_deletes_nothing(emulator, unique):
    cw = emulator.client("cloudwatch")
    cw.put_metric_alarm(**alarm_params(unique))
    with pytest.raises(ClientError) as raised:
        cw.delete_alarms(AlarmNames=[unique, unique + "-missing"])
    assert error_code(raised) == "ResourceNotFound"
    assert len(cw.describe_alarms(AlarmNames=[unique])["MetricAlarms"]) == 1


def test_gzipped_request_bodies(emulator, unique):
    """SDKs gzip large PutMetricData bodies (requestCompression); the emulator inflates them."""
    import gzip

    from emulator_ext import cbor as codec

    data = [{"MetricName": "Big", "Dimensions": [{"Name": "Id", "Value": unique}], "Value": float(i)} for i in range(200)]
    body = gzip.compress(codec.dumps({"Namespace": "Drpair/Gzip", "MetricData": data}))
    headers = {"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor", "Content-Encoding": "gzip"}
    response = emulator.signed("POST", CBOR_PATH + "PutMetricData", "monitoring", body=body, headers=headers)
    assert response.status_code == 200, response.content
    metrics = emulator.client("cloudwatch").list_metrics(Namespace="Drpair/Gzip", Dimensions=[{"Name": "Id", "Value": unique}])
    assert len(metrics["Metrics"]) == 1
