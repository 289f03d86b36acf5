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
