"""Firehose delivery to S3 through the stream's role and the bucket's KMS key
(emulator_ext/firehose_delivery.py), and the IAM evaluation behind it (emulator_ext/iam_policy.py):
buffered on the modeled clock, refused where AWS refuses (the encryption context of a bucket
with an S3 Bucket Key is the bucket ARN), retried, and delivered once allowed."""

import gzip
import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_code
from emulator_ext import iam_policy

ACCOUNT = "123456789012"
SOURCE, DEST = "us-east-1", "us-east-2"


def trust(service="firehose.amazonaws.com", external_id=ACCOUNT):
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if external_id is not None:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def delivery_policy(bucket, key_arn, context, region=DEST, operator="StringLike"):
    """What drpair's delivery role allowed (object ARNs, `context` = "objects") or allows now
    (the bucket ARN, `context` = "bucket")."""
    arn = f"arn:aws:s3:::{bucket}"
    wanted = f"{arn}/metrics/*" if context == "objects" else arn
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"], "Resource": [f"{arn}/metrics/*"]},
                {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": [arn]},
                {
                    "Effect": "Allow",
                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                    "Resource": [key_arn],
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                        operator: {"kms:EncryptionContext:aws:s3:arn": wanted},
                    },
                },
            ],
        }
    )


def propagated(emulator):
    """Moves the modeled clock past IAM's propagation window (emulator_ext/iam_propagation.py)."""
    seconds = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["seconds"]
    advance(emulator, seconds + 1)


def stream_config(role_arn, bucket, key_arn, interval=300):
    return {
        "RoleARN": role_arn,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "Prefix": "metrics/",
        "ErrorOutputPrefix": "errors/",
        "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": interval},
        "CompressionFormat": "GZIP",
        "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": key_arn}},
    }


class Destination:
    """A KMS key and a bucket in us-east-2, a delivery role, a Firehose stream in us-east-1 (created
    once IAM has propagated the role, as Firehose refuses it before)."""

    def __init__(self, emulator, unique, bucket_key=True, context="bucket", interval=300, key_policy=None, trust_policy=None):
        self.emulator, self.name = emulator, f"{unique}-fh"
        self.bucket = f"{unique}-metrics"
        self.kms = emulator.client("kms", DEST)
        create = {"Policy": key_policy} if key_policy else {}
        self.key_arn = self.kms.create_key(**create)["KeyMetadata"]["Arn"]
        self.s3 = emulator.client("s3", DEST)
        self.s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": DEST})
        self.s3.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.key_arn}, "BucketKeyEnabled": bucket_key}]
            },
        )
        self.iam = emulator.client("iam")
        self.role = f"{unique}-delivery"
        self.role_arn = self.iam.create_role(RoleName=self.role, AssumeRolePolicyDocument=trust_policy or trust())["Role"]["Arn"]
        self.set_policy(context)
        propagated(emulator)
        self.firehose = emulator.client("firehose", SOURCE)
        self.arn = self.firehose.create_delivery_stream(
            DeliveryStreamName=self.name,
            DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration=stream_config(self.role_arn, self.bucket, self.key_arn, interval),
        )["DeliveryStreamARN"]

    def set_policy(self, context, operator="StringLike"):
        self.iam.put_role_policy(RoleName=self.role, PolicyName="deliver", PolicyDocument=delivery_policy(self.bucket, self.key_arn, context, operator=operator))

    def put(self, *lines):
        return self.firehose.put_record_batch(DeliveryStreamName=self.name, Records=[{"Data": line.encode()} for line in lines])

    def flush(self):
        return self.emulator.control("POST", f"/_drpair/firehose/{SOURCE}/{self.name}/flush", expect=200)[1]

    def state(self):
        return self.emulator.control("GET", f"/_drpair/firehose/{SOURCE}/{self.name}", expect=200)[1]

    def objects(self):
        listed = self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return [o["Key"] for o in listed]

    def read(self, key):
        got = self.s3.get_object(Bucket=self.bucket, Key=key)
        return got, gzip.decompress(got["Body"].read()).decode()


@pytest.fixture
def destination(emulator, unique):
    """Makes Destinations; deletes their Firehose streams afterwards, so that no stream left
    failing keeps retrying (and publishing) on the shared emulator."""
    made = []

    def make(**kwargs):
        made.append(Destination(emulator, unique, **kwargs))
        return made[-1]

    yield make
    for dest in made:
        try:
            dest.firehose.delete_delivery_stream(DeliveryStreamName=dest.name)
        except ClientError:
            pass


def advance(emulator, seconds):
    emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)


def test_a_bucket_key_makes_the_bucket_arn_the_encryption_context(emulator, unique, destination):
    # The policy drpair wrote: the key only for object ARNs. With a Bucket Key, S3 asks KMS with
    # the bucket ARN, so every delivery is refused and nothing lands in the bucket.
    dest = destination(bucket_key=True, context="objects")
    answer = dest.put('{"a":1}\n', '{"b":2}\n')
    assert answer["FailedPutCount"] == 0 and len(answer["RequestResponses"]) == 2
    attempt = dest.flush()["Attempt"]
    assert attempt["outcome"] == "failed" and attempt["error_code"] == "AccessDenied", attempt
    assert "kms:GenerateDataKey" in attempt["error"] and dest.key_arn in attempt["error"]
    assert dest.objects() == []
    state = dest.state()
    assert state["Buffered"]["Records"] == 2, "a failed delivery keeps the records"
    assert state["NextAttempt"] is not None, "and retries"

    # The right condition (the bucket ARN): the retry delivers one object, encrypted with the
    # key through the Bucket Key, holding both records.
    dest.set_policy("bucket", operator="StringEquals")
    advance(emulator, 61)
    keys = dest.objects()
    assert len(keys) == 1, dest.state()
    key = keys[0]
    assert key.startswith("metrics/") and key.endswith(".gz") and f"/{dest.name}-1-" in key
    got, body = dest.read(key)
    assert body == '{"a":1}\n{"b":2}\n'
    assert got["ServerSideEncryption"] == "aws:kms" and got["SSEKMSKeyId"] == dest.key_arn
    assert got["BucketKeyEnabled"] is True
    assert dest.state()["Buffered"]["Records"] == 0
    outcomes = [a["outcome"] for a in dest.state()["Attempts"]]
    assert outcomes[0] == "failed" and outcomes[-1] == "delivered" and outcomes.count("delivered") == 1, outcomes


def test_without_a_bucket_key_the_object_arn_is_the_context(emulator, unique, destination):
    dest = destination(bucket_key=False, context="bucket")
    dest.put("x")
    attempt = dest.flush()["Attempt"]
    assert attempt["outcome"] == "failed" and attempt["error_code"] == "AccessDenied"
    dest.set_policy("objects")
    assert dest.flush()["Attempt"]["outcome"] == "delivered"
    got, body = dest.read(dest.objects()[0])
    assert body == "x" and got.get("BucketKeyEnabled") in (None, False)


def test_records_wait_for_the_buffering_interval(emulator, unique, destination):
    dest = destination(interval=120)
    dest.put("early")
    advance(emulator, 60)
    dest.put("later")
    assert dest.objects() == [], "nothing before the interval"
    advance(emulator, 61)
    keys = dest.objects()
    assert len(keys) == 1, dest.state()
    assert dest.read(keys[0])[1] == "earlylater"


def test_delivery_metrics_and_events(emulator, unique, destination):
    dest = destination(context="objects")
    dest.put("x")
    dest.flush()
    dest.set_policy("bucket")
    dest.flush()
    cw = emulator.client("cloudwatch", SOURCE)
    now = emulator.control("GET", "/_drpair/clock")[1]["epoch"]
    import datetime

    window = dict(
        Namespace="AWS/Firehose",
        Dimensions=[{"Name": "DeliveryStreamName", "Value": dest.name}],
        StartTime=datetime.datetime.fromtimestamp(now - 600, tz=datetime.timezone.utc),
        EndTime=datetime.datetime.fromtimestamp(now + 600, tz=datetime.timezone.utc),
        Period=1200,
    )
    success = cw.get_metric_statistics(MetricName="DeliveryToS3.Success", Statistics=["Sum", "SampleCount"], **window)["Datapoints"]
    assert success and success[0]["SampleCount"] == 2 and success[0]["Sum"] == 1
    incoming = cw.get_metric_statistics(MetricName="IncomingRecords", Statistics=["Sum"], **window)["Datapoints"]
    assert incoming[0]["Sum"] == 1
    events = emulator.control("GET", "/_drpair/events?kind=firehose.")[1]["events"]
    mine = [e["kind"] for e in events if e.get("stream") == dest.name]
    assert mine == ["firehose.failed", "firehose.delivered"]


@pytest.mark.parametrize(
    "case",
    ["key policy without the account", "explicit deny in the key policy", "unknown condition operator", "no s3:PutObject"],
)
def test_what_refuses_a_delivery(emulator, unique, case, destination):
    root = f"arn:aws:iam::{ACCOUNT}:root"
    key_policy = None
    if case == "key policy without the account":
        other = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"}, "Action": "kms:*", "Resource": "*"}
        key_policy = json.dumps({"Version": "2012-10-17", "Statement": [other]})
    elif case == "explicit deny in the key policy":
        key_policy = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"},
                    {"Effect": "Deny", "Principal": "*", "Action": "kms:GenerateDataKey", "Resource": "*", "Condition": {"StringNotEquals": {"kms:CallerAccount": "999999999999"}}},
                ],
            }
        )
    dest = destination(key_policy=key_policy)
    if case == "unknown condition operator":
        dest.iam.put_role_policy(
            RoleName=dest.role,
            PolicyName="deliver",
            PolicyDocument=delivery_policy(dest.bucket, dest.key_arn, "bucket", operator="ForAnyValue:StringLike"),
        )
    if case == "no s3:PutObject":
        doc = json.loads(delivery_policy(dest.bucket, dest.key_arn, "bucket"))
        doc["Statement"][0]["Action"] = ["s3:GetObject"]
        dest.iam.put_role_policy(RoleName=dest.role, PolicyName="deliver", PolicyDocument=json.dumps(doc))
    dest.put("x")
    attempt = dest.flush()["Attempt"]
    assert attempt["outcome"] == "failed" and attempt["error_code"] == "AccessDenied", attempt
    assert dest.objects() == []


def test_creating_or_updating_a_stream_assumes_its_role(emulator, unique, destination):
    """Firehose assumes the role when the stream is created or its destination changed: a role IAM
    has not propagated yet is refused with AWS's message (recorded as a refusal), then accepted;
    a trust policy Firehose cannot satisfy is refused for good; a role re-trusted while the stream
    runs fails its deliveries until IAM has propagated the change."""
    dest = destination()
    iam, firehose = emulator.client("iam"), emulator.client("firehose", SOURCE)
    fresh = iam.create_role(RoleName=f"{unique}-fresh", AssumeRolePolicyDocument=trust())["Role"]["Arn"]
    iam.put_role_policy(RoleName=f"{unique}-fresh", PolicyName="deliver", PolicyDocument=delivery_policy(dest.bucket, dest.key_arn, "bucket"))
    emulator.control("DELETE", "/_drpair/iam-propagation/refusals", expect=200)
    config = stream_config(fresh, dest.bucket, dest.key_arn)
    with pytest.raises(ClientError) as refused:
        firehose.create_delivery_stream(DeliveryStreamName=f"{unique}-new", DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration=config)
    assert error_code(refused) == "InvalidArgumentException"
    assert refused.value.response["Error"]["Message"] == f"Firehose is unable to assume role {fresh}. Please check the role provided."
    described = firehose.describe_delivery_stream(DeliveryStreamName=dest.name)["DeliveryStreamDescription"]
    update = dict(
        DeliveryStreamName=dest.name,
        CurrentDeliveryStreamVersionId=described["VersionId"],
        DestinationId=described["Destinations"][0]["DestinationId"],
        ExtendedS3DestinationUpdate={"RoleARN": fresh},
    )
    with pytest.raises(ClientError) as refused:
        firehose.update_destination(**update)
    assert error_code(refused) == "InvalidArgumentException"
    refusals = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["refusals"]
    assert [(r["service"], r["operation"], r["ref"]) for r in refusals] == [
        ("firehose", "CreateDeliveryStream", fresh),
        ("firehose", "UpdateDestination", fresh),
    ]
    propagated(emulator)
    firehose.create_delivery_stream(DeliveryStreamName=f"{unique}-new", DeliveryStreamType="DirectPut", ExtendedS3DestinationConfiguration=config)
    try:
        firehose.update_destination(**update)
        untrusted = iam.create_role(RoleName=f"{unique}-untrusted", AssumeRolePolicyDocument=trust(external_id="999999999999"))["Role"]["Arn"]
        propagated(emulator)
        with pytest.raises(ClientError) as refused:
            firehose.create_delivery_stream(
                DeliveryStreamName=f"{unique}-untrusted",
                DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration=stream_config(untrusted, dest.bucket, dest.key_arn),
            )
        assert error_code(refused) == "InvalidArgumentException"
        # The stream's (now the fresh) role gets a new trust policy: deliveries fail until it has propagated.
        iam.update_assume_role_policy(RoleName=f"{unique}-fresh", PolicyDocument=trust())
        dest.put("x")
        attempt = dest.flush()["Attempt"]
        assert attempt["outcome"] == "failed" and attempt["error_code"] == "AccessDenied", attempt
        propagated(emulator)
        dest.put("y")
        assert dest.flush()["Attempt"]["outcome"] == "delivered"
    finally:
        firehose.delete_delivery_stream(DeliveryStreamName=f"{unique}-new")


def test_a_bucket_region_that_is_down_delays_delivery(emulator, unique, destination):
    dest = destination()
    dest.put("x")
    emulator.control("POST", "/_drpair/outage", {"region": DEST}, expect=201)
    attempt = dest.flush()["Attempt"]
    assert attempt["error_code"] == "ServiceUnavailable"
    emulator.control("DELETE", f"/_drpair/outage/{DEST}", expect=200)
    advance(emulator, 61)
    assert len(dest.objects()) == 1


def test_records_are_lost_after_24_hours_of_failures():
    # In this process (a day of modeled timers would be slow on the shared emulator): a stream
    # whose role does not exist keeps failing; records older than 24 hours are dropped.
    from emulator_ext import clock, firehose_delivery, timeline

    class Stream:
        delivery_stream_name, version_id = "lost-records", "1"
        destinations = [{"destination_id": "d-1", "ExtendedS3": {"RoleARN": "arn:aws:iam::123456789012:role/none", "BucketARN": "arn:aws:s3:::none"}}]

    class Backend:
        account_id, region_name = ACCOUNT, "eu-west-3"

    stream, backend = Stream(), Backend()
    backend.delivery_streams = {stream.delivery_stream_name: stream}
    state = firehose_delivery._state(stream)
    now = clock.now()
    state["buffer"] = [(now - 24 * 3600 - 1, b"old"), (now - 10, b"new")]
    state["bytes"] = 6
    with firehose_delivery._lock:
        attempt = firehose_delivery._attempt(backend, stream, "test")
    assert attempt["outcome"] == "failed" and attempt["error_code"] == "AccessDenied"
    assert [data for _, data in state["buffer"]] == [b"new"] and state["bytes"] == 3
    lost = [e for e in timeline.events("firehose.records.lost") if e["stream"] == "lost-records"]
    assert lost and lost[-1]["records"] == 1
    state["timer"].cancel()


def test_put_record_with_a_disabled_stream_key_is_refused(emulator, unique, destination):
    kms = emulator.client("kms", SOURCE)
    meta = kms.create_key()["KeyMetadata"]
    key = meta["Arn"]
    dest = destination()
    dest.firehose.delete_delivery_stream(DeliveryStreamName=dest.name)
    dest.firehose.create_delivery_stream(
        DeliveryStreamName=dest.name,
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "CUSTOMER_MANAGED_CMK", "KeyARN": key},
        ExtendedS3DestinationConfiguration={"RoleARN": dest.role_arn, "BucketARN": f"arn:aws:s3:::{dest.bucket}"},
    )
    assert dest.firehose.put_record(DeliveryStreamName=dest.name, Record={"Data": b"x"})["Encrypted"] is True
    kms.disable_key(KeyId=meta["KeyId"])
    with pytest.raises(ClientError) as raised:
        dest.put("y")
    assert error_code(raised) == "InvalidKMSResourceException"


def test_deleting_the_stream_discards_its_buffer(emulator, unique, destination):
    dest = destination()
    dest.put("x")
    dest.firehose.delete_delivery_stream(DeliveryStreamName=dest.name)
    advance(emulator, 400)
    assert dest.objects() == []
    status, _ = emulator.control("GET", f"/_drpair/firehose/{SOURCE}/{dest.name}")
    assert status == 404


# --- the evaluator on its own ----------------------------------------------------------------


def statement(effect="Allow", condition=None, action="kms:GenerateDataKey", resource="arn:aws:kms:us-east-2:1:key/k"):
    s = {"Effect": effect, "Action": action, "Resource": resource}
    if condition is not None:
        s["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [s]}


@pytest.mark.parametrize(
    "condition, context, expected",
    [
        ({"StringEquals": {"kms:ViaService": "s3.us-east-2.amazonaws.com"}}, {"kms:ViaService": "s3.us-east-2.amazonaws.com"}, iam_policy.ALLOW),
        ({"StringEquals": {"kms:ViaService": "s3.us-east-2.amazonaws.com"}}, {"kms:viaservice": "s3.us-east-2.amazonaws.com"}, iam_policy.ALLOW),
        ({"StringEquals": {"kms:ViaService": "S3.us-east-2.amazonaws.com"}}, {"kms:ViaService": "s3.us-east-2.amazonaws.com"}, iam_policy.IMPLICIT_DENY),
        ({"StringEquals": {"kms:ViaService": "s3.us-east-2.amazonaws.com"}}, {}, iam_policy.IMPLICIT_DENY),
        ({"StringNotEquals": {"kms:ViaService": "s3.us-east-2.amazonaws.com"}}, {}, iam_policy.ALLOW),
        ({"StringEqualsIfExists": {"kms:ViaService": "x"}}, {}, iam_policy.ALLOW),
        ({"StringLike": {"k": "arn:aws:s3:::b/metrics/*"}}, {"k": "arn:aws:s3:::b"}, iam_policy.IMPLICIT_DENY),
        ({"StringLike": {"k": ["arn:aws:s3:::b/*", "arn:aws:s3:::b"]}}, {"k": "arn:aws:s3:::b"}, iam_policy.ALLOW),
        ({"StringLike": {"k": "arn:aws:s3:::b?"}}, {"k": "arn:aws:s3:::bc"}, iam_policy.ALLOW),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:firehose:*:1:deliverystream/*"}}, {"aws:SourceArn": "arn:aws:firehose:us-east-1:1:deliverystream/x"}, iam_policy.ALLOW),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:firehose:*:1:deliverystream/*"}}, {"aws:SourceArn": "arn:aws:firehose:us-east-1:2:deliverystream/x"}, iam_policy.IMPLICIT_DENY),
        ({"StringEquals": {"a": "1"}, "StringLike": {"b": "2*"}}, {"a": "1", "b": "3"}, iam_policy.IMPLICIT_DENY),
        ({"NumericLessThan": {"a": "5"}}, {"a": "1"}, iam_policy.IMPLICIT_DENY),
        ({"ForAnyValue:StringEquals": {"a": "1"}}, {"a": "1"}, iam_policy.IMPLICIT_DENY),
        ({"StringEquals": {"a": "${aws:username}"}}, {"a": "${aws:username}"}, iam_policy.IMPLICIT_DENY),
    ],
)
def test_conditions_in_an_allow(condition, context, expected):
    assert iam_policy.decide([statement(condition=condition)], "kms:GenerateDataKey", "arn:aws:kms:us-east-2:1:key/k", context) == expected


def test_what_cannot_be_evaluated_denies_in_a_deny():
    policies = [statement(), statement("Deny", {"NumericLessThan": {"a": "5"}})]
    assert iam_policy.decide(policies, "kms:GenerateDataKey", "arn:aws:kms:us-east-2:1:key/k", {"a": "9"}) == iam_policy.DENY


def test_actions_and_resources():
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "S3:Put*", "Resource": "arn:aws:s3:::b/metrics/*"}]}
    assert iam_policy.decide([doc], "s3:PutObject", "arn:aws:s3:::b/metrics/2024/x.gz") == iam_policy.ALLOW
    assert iam_policy.decide([doc], "s3:PutObject", "arn:aws:s3:::b/errors/x") == iam_policy.IMPLICIT_DENY
    assert iam_policy.decide([doc], "s3:GetObject", "arn:aws:s3:::b/metrics/x") == iam_policy.IMPLICIT_DENY
    not_action = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotAction": "s3:Get*", "Resource": "*"}]}
    assert iam_policy.decide([doc, not_action], "s3:PutObject", "arn:aws:s3:::b/metrics/x") == iam_policy.DENY
