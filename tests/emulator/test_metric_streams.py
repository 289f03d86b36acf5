"""CloudWatch metric streams over awsJson1.0 (boto3), the query protocol and rpc-v2-cbor."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status

FIREHOSE = "arn:aws:firehose:us-east-1:123456789012:deliverystream/metrics"
ROLE = "arn:aws:iam::123456789012:role/metric-stream"


def stream(name, **extra):
    params = {"Name": name, "FirehoseArn": FIREHOSE, "RoleArn": ROLE, "OutputFormat": "opentelemetry1.0"}
    params.update(extra)
    return params


def test_stream_lifecycle_json(emulator, unique):
    cw = emulator.client("cloudwatch", "us-east-2")
    arn = cw.put_metric_stream(
        **stream(unique, IncludeFilters=[{"Namespace": "AWS/RDS", "MetricNames": ["AuroraGlobalDBReplicationLag"]}], Tags=[{"Key": "k", "Value": "v"}])
    )["Arn"]
    assert arn == f"arn:aws:cloudwatch:us-east-2:123456789012:metric-stream/{unique}"

    got = cw.get_metric_stream(Name=unique)
    assert got["State"] == "running"
    assert got["IncludeFilters"] == [{"Namespace": "AWS/RDS", "MetricNames": ["AuroraGlobalDBReplicationLag"]}]
    assert got["OutputFormat"] == "opentelemetry1.0" and got["FirehoseArn"] == FIREHOSE and got["RoleArn"] == ROLE
    created = got["CreationDate"]
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]

    cw.stop_metric_streams(Names=[unique])
    assert cw.get_metric_stream(Name=unique)["State"] == "stopped"
    cw.start_metric_streams(Names=[unique])
    assert cw.get_metric_stream(Name=unique)["State"] == "running"

    cw.put_metric_stream(**stream(unique, OutputFormat="json"))  # an update
    got = cw.get_metric_stream(Name=unique)
    assert got["OutputFormat"] == "json" and got["CreationDate"] == created and got["IncludeFilters"] == []
    assert got["LastUpdateDate"] >= created

    entries = cw.list_metric_streams()["Entries"]
    assert [e for e in entries if e["Name"] == unique][0]["State"] == "running"

    cw.delete_metric_stream(Name=unique)
    cw.delete_metric_stream(Name=unique)  # idempotent, as on AWS
    with pytest.raises(ClientError) as raised:
        cw.get_metric_stream(Name=unique)
    assert error_code(raised) == "ResourceNotFoundException" and http_status(raised) == 404


def test_stream_validation(emulator, unique):
    cw = emulator.client("cloudwatch")
    with pytest.raises(ClientError) as raised:
        cw.put_metric_stream(**stream(unique, OutputFormat="csv"))
    assert error_code(raised) == "InvalidParameterValue"
    with pytest.raises(ClientError) as raised:
        cw.put_metric_stream(**stream(unique, IncludeFilters=[{"Namespace": "A"}], ExcludeFilters=[{"Namespace": "B"}]))
    assert error_code(raised) == "InvalidParameterCombination"


def test_missing_parameter_and_pagination_over_query(query, unique):
    status, parsed, _ = query.call("PutMetricStream", {"Name": unique, "RoleArn": ROLE, "OutputFormat": "json"}, region="eu-west-1")
    assert status == 400 and parsed["Error"]["Code"] == "MissingParameter"

    for index in range(3):
        status, parsed, _ = query.call("PutMetricStream", stream(f"{unique}-{index}"), region="eu-west-1")
        assert status == 200 and parsed["Arn"].endswith(f"{unique}-{index}")
    status, page, _ = query.call("ListMetricStreams", {"MaxResults": 2}, region="eu-west-1")
    assert status == 200 and len(page["Entries"]) == 2 and page["NextToken"]
    status, rest, _ = query.call("ListMetricStreams", {"NextToken": page["NextToken"]}, region="eu-west-1")
    names = [e["Name"] for e in page["Entries"] + rest["Entries"]]
    assert names == [f"{unique}-{i}" for i in range(3)]
    status, parsed, _ = query.call("ListMetricStreams", {"NextToken": "bogus"}, region="eu-west-1")
    assert status == 400 and parsed["Error"]["Code"] == "InvalidNextToken"


def test_streams_over_cbor(cbor, unique):
    status, parsed, _ = cbor.call("PutMetricStream", stream(unique, ExcludeFilters=[{"Namespace": "AWS/EC2"}]), region="ap-southeast-2")
    assert status == 200 and parsed["Arn"].endswith(unique)
    status, got, _ = cbor.call("GetMetricStream", {"Name": unique}, region="ap-southeast-2")
    assert status == 200 and got["ExcludeFilters"] == [{"Namespace": "AWS/EC2"}]
    assert got["CreationDate"].year >= 2024
    assert cbor.call("StopMetricStreams", {"Names": [unique]}, region="ap-southeast-2")[0] == 200
    _, listed, _ = cbor.call("ListMetricStreams", {}, region="ap-southeast-2")
    assert [(e["Name"], e["State"]) for e in listed["Entries"]] == [(unique, "stopped")]
    assert cbor.call("DeleteMetricStream", {"Name": unique}, region="ap-southeast-2")[0] == 200
    status, parsed, _ = cbor.call("GetMetricStream", {"Name": unique}, region="ap-southeast-2")
    assert status == 404 and parsed["Error"]["Code"] == "ResourceNotFoundException"


# --- streaming through Firehose into S3 (metric_streams.py + firehose_delivery.py) ------------

import datetime  # noqa: E402
import json  # noqa: E402

from test_firehose_delivery import advance, destination, propagated, trust  # noqa: E402,F401

STREAM_TRUST = trust(service="streams.metrics.cloudwatch.amazonaws.com", external_id=None)


def stream_role(emulator, unique, firehose_arn, actions=("firehose:PutRecord", "firehose:PutRecordBatch"), wait=True, condition=None):
    """The stream's role (its trust statement with `condition`, if given); with `wait`, once IAM
    has propagated it (CloudWatch cannot put before)."""
    iam = emulator.client("iam")
    document = STREAM_TRUST
    if condition is not None:
        parsed = json.loads(STREAM_TRUST)
        parsed["Statement"][0]["Condition"] = condition
        document = json.dumps(parsed)
    arn = iam.create_role(RoleName=f"{unique}-stream", AssumeRolePolicyDocument=document)["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": [firehose_arn]}]}
    iam.put_role_policy(RoleName=f"{unique}-stream", PolicyName="put", PolicyDocument=json.dumps(policy))
    if wait:
        propagated(emulator)
    return arn


def modeled_now(emulator):
    return emulator.control("GET", "/_drpair/clock")[1]["epoch"]


def put_points(emulator, namespace, values, name="Lag"):
    at = datetime.datetime.fromtimestamp(modeled_now(emulator), tz=datetime.timezone.utc)
    emulator.client("cloudwatch", "us-east-1").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": name, "Dimensions": [{"Name": "Cluster", "Value": "dr"}], "Value": v, "Unit": "Milliseconds", "Timestamp": at}
            for v in values
        ],
    )


def streamed_lines(dest):
    lines = []
    for key in dest.objects():
        lines += [json.loads(line) for line in dest.read(key)[1].splitlines()]
    return lines


def publishes(emulator, name):
    return emulator.control("GET", f"/_drpair/metric-streams/us-east-1/{name}", expect=200)[1]["Publishes"]


def test_metric_updates_reach_the_bucket_through_firehose(emulator, unique, destination):
    dest = destination(interval=60)
    role = stream_role(emulator, unique, dest.arn)
    namespace = f"Drpair/{unique}"
    cw = emulator.client("cloudwatch", "us-east-1")
    cw.put_metric_stream(Name=unique, FirehoseArn=dest.arn, RoleArn=role, OutputFormat="json", IncludeFilters=[{"Namespace": namespace}])
    put_points(emulator, namespace, [5, 7])
    put_points(emulator, f"Drpair/{unique}-other", [1])
    advance(emulator, 60)
    assert publishes(emulator, unique)[-1]["outcome"] == "published"
    assert dest.objects() == [], "Firehose buffers for its interval"
    advance(emulator, 70)
    lines = streamed_lines(dest)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["metric_stream_name"] == unique and line["account_id"] == "123456789012" and line["region"] == "us-east-1"
    assert line["namespace"] == namespace and line["metric_name"] == "Lag" and line["dimensions"] == {"Cluster": "dr"}
    assert line["value"] == {"count": 2.0, "sum": 12.0, "max": 7.0, "min": 5.0} and line["unit"] == "Milliseconds"
    assert line["timestamp"] % 60000 == 0
    cw.delete_metric_stream(Name=unique)


def test_a_stream_role_that_may_not_put_records_streams_nothing(emulator, unique, destination):
    dest = destination(interval=60)
    role = stream_role(emulator, unique, dest.arn, actions=("firehose:PutRecord",))
    namespace = f"Drpair/{unique}"
    emulator.client("cloudwatch", "us-east-1").put_metric_stream(
        Name=unique, FirehoseArn=dest.arn, RoleArn=role, OutputFormat="json", IncludeFilters=[{"Namespace": namespace}]
    )
    put_points(emulator, namespace, [1])
    advance(emulator, 60)
    last = publishes(emulator, unique)[-1]
    assert last["outcome"] == "failed" and "firehose:PutRecordBatch" in last["error"], last
    assert dest.state()["Buffered"]["Records"] == 0
    failed = [e for e in emulator.control("GET", "/_drpair/events?kind=metricstream.failed")[1]["events"] if e["stream"] == unique]
    assert failed
    now = modeled_now(emulator)
    errors = emulator.client("cloudwatch", "us-east-1").get_metric_statistics(
        Namespace="AWS/CloudWatch/MetricStreams",
        MetricName="PublishErrorRate",
        Dimensions=[{"Name": "MetricStreamName", "Value": unique}],
        StartTime=datetime.datetime.fromtimestamp(now - 600, tz=datetime.timezone.utc),
        EndTime=datetime.datetime.fromtimestamp(now + 600, tz=datetime.timezone.utc),
        Period=1200,
        Statistics=["Sum"],
    )["Datapoints"]
    assert errors and errors[0]["Sum"] >= 1
    emulator.client("cloudwatch", "us-east-1").delete_metric_stream(Name=unique)


def test_a_stream_role_iam_has_not_propagated_fails_the_first_puts(emulator, unique, destination):
    """PutMetricStream accepts a just-created role (AWS does not assume it there); CloudWatch's
    puts fail until IAM has propagated it, then the stream delivers."""
    dest = destination(interval=60)
    window = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["seconds"]
    emulator.control("POST", "/_drpair/iam-propagation", {"seconds": 90}, expect=200)
    try:
        role = stream_role(emulator, unique, dest.arn, wait=False)
        namespace = f"Drpair/{unique}"
        cw = emulator.client("cloudwatch", "us-east-1")
        cw.put_metric_stream(Name=unique, FirehoseArn=dest.arn, RoleArn=role, OutputFormat="json", IncludeFilters=[{"Namespace": namespace}])
        put_points(emulator, namespace, [1])
        advance(emulator, 60)
        last = publishes(emulator, unique)[-1]
        assert last["outcome"] == "failed" and "has not propagated" in last["error"], last
        advance(emulator, 31)
        put_points(emulator, namespace, [2])
        advance(emulator, 60)
        assert publishes(emulator, unique)[-1]["outcome"] == "published"
        cw.delete_metric_stream(Name=unique)
    finally:
        emulator.control("POST", "/_drpair/iam-propagation", {"seconds": window}, expect=200)


def test_a_stopped_stream_sends_nothing_and_does_not_backfill(emulator, unique, destination):
    dest = destination(interval=60)
    role = stream_role(emulator, unique, dest.arn)
    namespace = f"Drpair/{unique}"
    cw = emulator.client("cloudwatch", "us-east-1")
    cw.put_metric_stream(Name=unique, FirehoseArn=dest.arn, RoleArn=role, OutputFormat="json", IncludeFilters=[{"Namespace": namespace}])
    cw.stop_metric_streams(Names=[unique])
    put_points(emulator, namespace, [1])
    advance(emulator, 60)
    cw.start_metric_streams(Names=[unique])
    advance(emulator, 130)
    assert publishes(emulator, unique) == [] and dest.objects() == []
    put_points(emulator, namespace, [3])
    advance(emulator, 130)
    assert [line["value"]["sum"] for line in streamed_lines(dest)] == [3.0]
    cw.delete_metric_stream(Name=unique)


def _streams_once(emulator, unique, dest, condition):
    role = stream_role(emulator, unique, dest.arn, condition=condition)
    namespace = f"Drpair/{unique}"
    cw = emulator.client("cloudwatch", "us-east-1")
    cw.put_metric_stream(Name=unique, FirehoseArn=dest.arn, RoleArn=role, OutputFormat="json", IncludeFilters=[{"Namespace": namespace}])
    put_points(emulator, namespace, [1])
    advance(emulator, 60)
    last = publishes(emulator, unique)[-1]
    cw.delete_metric_stream(Name=unique)
    return last


def test_cloudwatch_assumes_the_stream_role_on_behalf_of_the_stream_account(emulator, unique, destination):
    """The confused-deputy guard drpair puts on its stream roles: CloudWatch's request carries
    aws:SourceAccount = the stream's account, so the role works for this account's streams."""
    dest = destination(interval=60)
    last = _streams_once(emulator, unique, dest, {"StringEquals": {"aws:SourceAccount": "123456789012"}})
    assert last["outcome"] == "published", last


def test_a_stream_role_guarded_for_another_account_is_not_assumed(emulator, unique, destination):
    dest = destination(interval=60)
    last = _streams_once(emulator, unique, dest, {"StringEquals": {"aws:SourceAccount": "111122223333"}})
    assert last["outcome"] == "failed" and "cannot assume role" in last["error"], last


def test_a_stream_role_conditioned_on_a_source_arn_is_not_assumed(emulator, unique, destination):
    """CloudWatch documents no aws:SourceArn for this call: the emulator does not invent one."""
    dest = destination(interval=60)
    condition = {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:123456789012:metric-stream/{unique}"}}
    last = _streams_once(emulator, unique, dest, condition)
    assert last["outcome"] == "failed" and "cannot assume role" in last["error"], last
