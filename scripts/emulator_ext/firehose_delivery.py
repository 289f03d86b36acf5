"""Firehose delivery to Amazon S3 as AWS runs it: buffered on the modeled clock, written with the
stream's IAM role, encrypted through KMS, and failing (and retrying) where AWS would fail.

moto 5.2.5 writes every PutRecord/PutRecordBatch straight into the bucket, unbuffered, without
assuming the role, checking a permission or calling KMS, so a stream whose role may not use the
bucket's key "delivers" here and never on AWS. This module replaces that for S3 and Extended S3
destinations (other destinations keep moto's behaviour):

- PutRecord / PutRecordBatch ("PutRecordBatch", Firehose API reference) buffer the records and
  answer ``RecordId``s, ``FailedPutCount`` 0 and ``Encrypted`` (true while server-side
  encryption is ``ENABLED``). A stream encrypted with a ``CUSTOMER_MANAGED_CMK`` whose key is
  missing, disabled or pending deletion answers ``InvalidKMSResourceException`` ("Firehose throws
  this exception when an attempt to put records ... fails. This happens when the KMS service
  throws ... AccessDeniedException, InvalidStateException, DisabledException, or
  NotFoundException"). Each call publishes ``IncomingRecords`` and ``IncomingBytes``
  (``AWS/Firehose``, dimension ``DeliveryStreamName``) in the stream's region.
- Buffering ("Configure buffering hints",
  https://docs.aws.amazon.com/firehose/latest/dev/buffering-hints.html, and "Understand data
  delivery in Amazon Data Firehose"): the buffer is delivered as one object when it holds
  ``BufferingHints.SizeInMBs`` (default 5) or its oldest record is
  ``BufferingHints.IntervalInSeconds`` (default 300) modeled seconds old, whichever comes first.
  Records are concatenated without delimiters.
- The object ("Configure Amazon S3 object name format",
  https://docs.aws.amazon.com/firehose/latest/dev/s3-object-name.html): key
  ``<Prefix>YYYY/MM/dd/HH/<stream>-<version>-YYYY-MM-dd-HH-MM-SS-<uuid>`` (UTC, from the oldest
  record's modeled arrival), ``.gz`` and gzip content with ``CompressionFormat`` ``GZIP``;
  ``UNCOMPRESSED`` as is (other formats are not modelled: the delivery fails, see below).
- Each delivery attempt acts as AWS does with the destination's ``RoleARN``
  ("Controlling access with Amazon Data Firehose",
  https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html): Firehose assumes the
  role (its trust policy must allow ``firehose.amazonaws.com`` ``sts:AssumeRole``, with
  ``sts:ExternalId`` = the account id in the request context, as the documented trust policy
  expects); ``s3:PutObject`` on the object's ARN must be allowed by the role's policies (and not
  denied by the bucket policy); the bucket must exist and its region be up. The object is
  encrypted with ``EncryptionConfiguration.KMSEncryptionConfig.AWSKMSKeyARN`` (else the bucket's
  default encryption): S3 calls ``kms:GenerateDataKey`` on that key, in the bucket's region, as
  the role, with ``kms:ViaService`` = ``s3.<bucket region>.amazonaws.com`` and the encryption
  context ``aws:s3:arn`` = the *bucket* ARN when the bucket uses an S3 Bucket Key
  (``BucketKeyEnabled`` of its default encryption), else the object ARN ("When an S3 Bucket Key
  is enabled for the source or destination bucket, the encryption context will be the bucket
  Amazon Resource Name (ARN) and not the object ARN",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key.html; a PUT that
  does not say otherwise uses the bucket's setting,
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/configuring-bucket-key-object.html).
  KMS allows it only when the key policy allows the role, or allows the account and the role's
  IAM policies allow it (with their ``Condition`` blocks), and nothing denies it
  (``iam_policy.py``); the key must exist in the bucket's region and be ``Enabled``.
- A delivery that fails writes nothing, keeps the records and is retried every
  ``RETRY_SECONDS`` modeled seconds for up to 24 hours, after which the records are lost
  ("Handle data delivery failures": "Amazon Data Firehose keeps retrying for up to 24 hours until
  the delivery succeeds ... If data delivery fails for more than 24 hours, your data is lost",
  https://docs.aws.amazon.com/firehose/latest/dev/retry.html). Every attempt publishes
  ``DeliveryToS3.Success`` (1 or 0) and, when it succeeds, ``DeliveryToS3.Records``,
  ``DeliveryToS3.Bytes`` and ``DeliveryToS3.DataFreshness`` ("Monitor Amazon Data Firehose with
  CloudWatch metrics"); events ``firehose.delivered``, ``firehose.failed`` (``error_code``:
  ``AccessDenied`` for a role that cannot be assumed, a denied ``s3:PutObject`` or a denied KMS
  call, as S3 answers; ``NoSuchBucket``; ``KMS.NotFoundException``, ``KMS.DisabledException``,
  ``KMS.KMSInvalidStateException``; ``ServiceUnavailable`` while the bucket's region is down) and
  ``firehose.records.lost``. Nothing is attempted while the stream's own region is down.
- Deleting the stream discards its buffer.
- CreateDeliveryStream and UpdateDestination assume every ``RoleARN`` they are given, as AWS does
  when the stream is created or changed: a role that does not exist, whose trust policy does not
  let Firehose assume it, or that IAM has not propagated yet (``iam_propagation.py``) is refused
  with ``InvalidArgumentException`` "Firehose is unable to assume role <arn>. Please check the
  role provided." (the message AWS answers for a just-created role, which terraform-provider-aws
  retries, internal/service/firehose/delivery_stream.go; "Grant Firehose access to an Amazon S3
  destination", https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html). A
  delivery attempt likewise fails (``AccessDenied``) while the role is propagating.

Control endpoints:

- ``GET /_drpair/firehose/{region}/{name}``: the buffer (``Records``, ``Bytes``,
  ``OldestArrival``), ``NextAttempt`` (modeled epoch) and the last 100 ``Attempts`` (``at``,
  ``outcome`` ``delivered``/``failed``, ``key``, ``records``, ``bytes``, ``error_code``,
  ``error``).
- ``POST /_drpair/firehose/{region}/{name}/flush``: deliver the buffer now, as if it were full
  (the attempt is checked as any other); answers that attempt.

Other extensions call ``accept(region, name, records)`` to put records as an AWS service does
(the CloudWatch metric stream, ``metric_streams.py``).
"""

import base64
import collections
import datetime
import gzip
import threading
import uuid

from . import clock, iam_policy, iam_propagation, outage, timeline
from .common import ControlError, control, moto_account

DEFAULT_SIZE_MB = 5
DEFAULT_INTERVAL_SECONDS = 300
# AWS documents the 24-hour limit, not the interval between retries: the emulator's choice.
RETRY_SECONDS = 60
RETENTION_SECONDS = 24 * 3600
MAX_ATTEMPTS_KEPT = 100
NAMESPACE = "AWS/Firehose"

_lock = threading.RLock()


class InvalidKMSResourceException(Exception):
    """Raised as moto's FirehoseException subclass (built in `_patch`)."""


def _state(stream):
    """The delivery state kept on moto's stream object (gone with it on delete or reset)."""
    state = stream.__dict__.get("drpair_delivery")
    if state is None:
        state = {"buffer": [], "bytes": 0, "timer": None, "due": None, "attempts": collections.deque(maxlen=MAX_ATTEMPTS_KEPT)}
        stream.__dict__["drpair_delivery"] = state
    return state


def _s3_destination(stream):
    for destination in stream.destinations:
        if "ExtendedS3" in destination:
            return destination["ExtendedS3"]
        if "S3" in destination:
            return destination["S3"]
    return None


def _backend(region):
    from moto.firehose.models import firehose_backends

    return firehose_backends[moto_account()][region]


def _publish(region, name, metric, value, unit):
    from .cloudwatch_alarms import publish

    publish(region, NAMESPACE, metric, {"DeliveryStreamName": name}, value, unit)


def _sse(stream):
    config = getattr(stream, "delivery_stream_encryption_configuration", None)
    return config if isinstance(config, dict) else {}


def _check_stream_key(backend, stream):
    """Firehose's own server-side encryption with a customer managed key needs a usable key."""
    from moto.kms.models import kms_backends

    sse = _sse(stream)
    if sse.get("KeyType") != "CUSTOMER_MANAGED_CMK" or sse.get("Status") not in ("ENABLED", "ENABLING"):
        return
    key_arn = sse.get("KeyARN") or ""
    try:
        key = kms_backends[backend.account_id][backend.region_name].describe_key(key_arn)
    except Exception:
        raise InvalidKMSResourceException(f"KMS key {key_arn} was not found (NotFoundException).")
    if key.key_state == "Disabled":
        raise InvalidKMSResourceException(f"KMS key {key.arn} is disabled (DisabledException).")
    if key.key_state != "Enabled":
        raise InvalidKMSResourceException(f"KMS key {key.arn} is {key.key_state} (InvalidStateException).")


def _data(record):
    data = record.get("Data", b"") if isinstance(record, dict) else b""
    if isinstance(data, str):
        return base64.b64decode(data)
    return bytes(data)


def accept(region, name, records, backend=None):
    """Buffers `records` (``[{"Data": bytes}]``) in stream `name` of `region`; the PutRecordBatch
    answer. Raises moto's ResourceNotFoundException / InvalidKMSResourceException."""
    from moto.firehose.exceptions import ResourceNotFoundException

    backend = backend or _backend(region)
    with _lock:
        stream = backend.delivery_streams.get(name)
        if stream is None:
            raise ResourceNotFoundException(f"Firehose {name} under account {backend.account_id} not found.")
        _check_stream_key(backend, stream)
        state = _state(stream)
        now = clock.now()
        total = 0
        for record in records:
            data = _data(record)
            state["buffer"].append((now, data))
            state["bytes"] += len(data)
            total += len(data)
        _publish(backend.region_name, name, "IncomingRecords", len(records), "Count")
        _publish(backend.region_name, name, "IncomingBytes", total, "Bytes")
        hints = (_s3_destination(stream) or {}).get("BufferingHints") or {}
        size_limit = int(hints.get("SizeInMBs") or DEFAULT_SIZE_MB) * 1024 * 1024
        if state["bytes"] >= size_limit:
            _attempt(backend, stream, "size")
        else:
            _schedule(backend, stream)
        encrypted = _sse(stream).get("Status") == "ENABLED"
    return {
        "FailedPutCount": 0,
        "Encrypted": encrypted,
        "RequestResponses": [{"RecordId": uuid.uuid4().hex + uuid.uuid4().hex} for _ in records],
    }


def _schedule(backend, stream, delay=None):
    """Makes sure an attempt is due: at the oldest record's arrival + the interval, or after
    `delay` (a retry)."""
    state = _state(stream)
    if not state["buffer"]:
        return
    if delay is not None:
        due = clock.now() + delay
    else:
        hints = (_s3_destination(stream) or {}).get("BufferingHints") or {}
        interval = hints.get("IntervalInSeconds")
        interval = DEFAULT_INTERVAL_SECONDS if interval is None else int(interval)
        due = state["buffer"][0][0] + interval
        if state["due"] is not None and state["due"] <= due:
            return
    if state["timer"] is not None:
        state["timer"].cancel()
    name, region = stream.delivery_stream_name, backend.region_name

    def fire():
        with _lock:
            if backend.delivery_streams.get(name) is not stream:
                return  # deleted (or replaced) since
            state["timer"], state["due"] = None, None
            _attempt(backend, stream, "interval" if delay is None else "retry")

    state["due"] = due
    state["timer"] = clock.at(due, fire, f"firehose-delivery {region}/{name}")


class DeliveryFailure(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _object_key(stream, prefix, oldest, compression):
    moment = datetime.datetime.fromtimestamp(oldest, tz=datetime.timezone.utc)
    extension = ".gz" if compression == "GZIP" else ""
    return (
        f"{prefix or ''}{moment:%Y/%m/%d/%H}/{stream.delivery_stream_name}-{stream.version_id}-"
        f"{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}{extension}"
    )


def _bucket_default_encryption(bucket):
    rule = (bucket.encryption or {}).get("Rule") or {}
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    bucket_key = str(rule.get("BucketKeyEnabled", False)).lower() == "true"
    return default.get("SSEAlgorithm"), default.get("KMSMasterKeyID"), bucket_key


def _assumable(role, account):
    """Whether Firehose can assume `role` now: its trust policy allows it and IAM has propagated
    the role's creation and trust policy (``iam_propagation.py``)."""
    if iam_propagation.propagating(role.arn, account_id=account):
        return False
    return iam_policy.can_assume(role, "firehose.amazonaws.com", {"sts:ExternalId": account})


def _role_arns(value):
    """Every ``RoleARN`` in a CreateDeliveryStream / UpdateDestination parameter (the source's,
    the destination's and its backup's)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "RoleARN" and isinstance(item, str) and item:
                yield item
            else:
                yield from _role_arns(item)
    elif isinstance(value, list):
        for item in value:
            yield from _role_arns(item)


def _check_roles(backend, operation, params):
    """CreateDeliveryStream and UpdateDestination assume each role they are given and refuse one
    Firehose cannot assume (yet) with ``InvalidArgumentException`` "Firehose is unable to assume
    role <arn>. Please check the role provided." (the answer terraform-provider-aws retries while
    IAM propagates a new role, internal/service/firehose/delivery_stream.go)."""
    from moto.firehose.exceptions import InvalidArgumentException
    from moto.iam.models import iam_backends

    iam = iam_backends[backend.account_id]["global"]
    for arn in _role_arns(list(params)):
        try:
            role = iam.get_role_by_arn(arn)
        except Exception:
            role = None
        if role is None or not _assumable(role, backend.account_id):
            if role is not None and iam_propagation.propagating(arn, account_id=backend.account_id):
                iam_propagation.refused("firehose", operation, arn, backend.region_name)
            raise InvalidArgumentException(f"Firehose is unable to assume role {arn}. Please check the role provided.")


def _assumed(role):
    return f"arn:aws:sts::{role.arn.split(':')[4]}:assumed-role/{role.name}/AWSFirehoseToS3"


def _denied(role, action, resource, decision):
    why = "with an explicit deny" if decision == iam_policy.DENY else "because no identity-based policy allows the " + action + " action"
    return DeliveryFailure("AccessDenied", f"User: {_assumed(role)} is not authorized to perform: {action} on resource: {resource} {why}")


def _write(backend, stream, destination, batch):
    """One delivery: returns (object key, stored bytes) or raises DeliveryFailure."""
    from moto.iam.models import iam_backends
    from moto.kms.models import kms_backends
    from moto.s3.models import s3_backends

    account = backend.account_id
    role_arn = destination.get("RoleARN", "")
    try:
        role = iam_backends[account]["global"].get_role_by_arn(role_arn)
    except Exception:
        role = None
    if role is None or not _assumable(role, account):
        raise DeliveryFailure("AccessDenied", f"Firehose is unable to assume role {role_arn}. Please check the role provided.")
    bucket_arn = destination.get("BucketARN", "")
    bucket_name = bucket_arn.split(":::", 1)[-1]
    s3 = s3_backends[account]["aws"]
    bucket = s3.buckets.get(bucket_name)
    if bucket is None:
        raise DeliveryFailure("NoSuchBucket", f"The specified bucket does not exist: {bucket_name}")
    bucket_region = bucket.region_name
    if outage.is_down(bucket_region):
        raise DeliveryFailure("ServiceUnavailable", f"Amazon S3 in {bucket_region} is unavailable.")
    compression = destination.get("CompressionFormat") or "UNCOMPRESSED"
    if compression not in ("UNCOMPRESSED", "GZIP"):
        raise DeliveryFailure("NotModelled", f"The emulator does not model {compression} compression.")
    key = _object_key(stream, destination.get("Prefix"), batch[0][0], compression)
    object_arn = f"arn:aws:s3:::{bucket_name}/{key}"

    algorithm, bucket_key_id, bucket_key = _bucket_default_encryption(bucket)
    kms_config = (destination.get("EncryptionConfiguration") or {}).get("KMSEncryptionConfig") or {}
    key_id = kms_config.get("AWSKMSKeyARN") or (bucket_key_id if algorithm == "aws:kms" else None)
    sse = "aws:kms" if key_id or algorithm == "aws:kms" else algorithm
    s3_context = {"aws:SecureTransport": "true"}
    if sse:
        s3_context["s3:x-amz-server-side-encryption"] = sse
    if key_id:
        s3_context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = key_id
    identity = iam_policy.role_decision(role, "s3:PutObject", object_arn, s3_context)
    bucket_policy = (
        iam_policy.decide([bucket.policy.decode()], "s3:PutObject", object_arn, s3_context, {"AWS": [role.arn]})
        if bucket.policy
        else iam_policy.IMPLICIT_DENY
    )
    if identity == iam_policy.DENY or bucket_policy == iam_policy.DENY or iam_policy.ALLOW not in (identity, bucket_policy):
        decision = iam_policy.DENY if iam_policy.DENY in (identity, bucket_policy) else identity
        raise _denied(role, "s3:PutObject", object_arn, decision)

    kms_arn = None
    if key_id:
        try:
            kms_key = kms_backends[account][bucket_region].describe_key(key_id)
        except Exception:
            raise DeliveryFailure("KMS.NotFoundException", f"Invalid keyId '{key_id}' in {bucket_region}")
        if kms_key.key_state == "Disabled":
            raise DeliveryFailure("KMS.DisabledException", f"{kms_key.arn} is disabled.")
        if kms_key.key_state != "Enabled":
            raise DeliveryFailure("KMS.KMSInvalidStateException", f"{kms_key.arn} is {kms_key.key_state}.")
        context = {
            "kms:ViaService": f"s3.{bucket_region}.amazonaws.com",
            "kms:CallerAccount": account,
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket_name}" if bucket_key else object_arn,
            "kms:EncryptionContextKeys": ["aws:s3:arn"],
        }
        decision = iam_policy.kms_decision(iam_policy.parse(kms_key.policy), role, account, "kms:GenerateDataKey", kms_key.arn, context)
        if decision != iam_policy.ALLOW:
            raise _denied(role, "kms:GenerateDataKey", kms_key.arn, decision)
        kms_arn = kms_key.arn

    data = b"".join(d for _, d in batch)
    body = gzip.compress(data, mtime=0) if compression == "GZIP" else data
    s3.put_object(
        bucket_name,
        key,
        body,
        encryption=sse,
        kms_key_id=kms_arn,
        bucket_key_enabled=(str(bucket_key).lower() if sse == "aws:kms" else None),
    )
    return key, len(body)


def _attempt(backend, stream, trigger):
    """Tries to deliver the whole buffer once; returns the attempt's record. Caller holds _lock."""
    state = _state(stream)
    name, region = stream.delivery_stream_name, backend.region_name
    if not state["buffer"]:
        return None
    if outage.is_down(region):
        _schedule(backend, stream, RETRY_SECONDS)
        return None
    destination = _s3_destination(stream) or {}
    batch = list(state["buffer"])
    now = clock.now()
    attempt = {"at": clock.iso(now), "epoch": round(now, 3), "trigger": trigger, "records": len(batch), "bytes": sum(len(d) for _, d in batch)}
    try:
        key, stored = _write(backend, stream, destination, batch)
    except DeliveryFailure as failure:
        attempt.update(outcome="failed", error_code=failure.code, error=failure.message)
        state["attempts"].append(attempt)
        _publish(region, name, "DeliveryToS3.Success", 0, "None")
        timeline.record("firehose.failed", region=region, stream=name, error_code=failure.code, error=failure.message, records=len(batch))
        expired = [entry for entry in state["buffer"] if now - entry[0] >= RETENTION_SECONDS]
        if expired:
            state["buffer"] = [entry for entry in state["buffer"] if now - entry[0] < RETENTION_SECONDS]
            state["bytes"] = sum(len(d) for _, d in state["buffer"])
            timeline.record("firehose.records.lost", region=region, stream=name, records=len(expired))
        _schedule(backend, stream, RETRY_SECONDS)
        return attempt
    del state["buffer"][: len(batch)]
    state["bytes"] = sum(len(d) for _, d in state["buffer"])
    attempt.update(outcome="delivered", key=key, stored_bytes=stored)
    state["attempts"].append(attempt)
    _publish(region, name, "DeliveryToS3.Success", 1, "None")
    _publish(region, name, "DeliveryToS3.Records", len(batch), "Count")
    _publish(region, name, "DeliveryToS3.Bytes", attempt["bytes"], "Bytes")
    _publish(region, name, "DeliveryToS3.DataFreshness", max(0.0, now - batch[0][0]), "Seconds")
    timeline.record("firehose.delivered", region=region, stream=name, bucket=destination.get("BucketARN"), key=key, records=len(batch))
    if state["buffer"]:
        _schedule(backend, stream)
    return attempt


def _find(match):
    region, name = match.group("region"), match.group("name")
    try:
        backend = _backend(region)
    except Exception:
        raise ControlError(404, f"no Firehose region {region}")
    stream = backend.delivery_streams.get(name)
    if stream is None:
        raise ControlError(404, f"no Firehose stream {name} in {region}")
    return backend, stream


def _view(backend, stream):
    state = _state(stream)
    return {
        "DeliveryStreamName": stream.delivery_stream_name,
        "Region": backend.region_name,
        "Buffered": {
            "Records": len(state["buffer"]),
            "Bytes": state["bytes"],
            "OldestArrival": round(state["buffer"][0][0], 3) if state["buffer"] else None,
        },
        "NextAttempt": round(state["due"], 3) if state["due"] is not None else None,
        "Attempts": list(state["attempts"]),
    }


@control("GET", r"/firehose/(?P<region>[a-z0-9-]+)/(?P<name>[A-Za-z0-9_.-]+)")
def get_stream(match, body, query):
    with _lock:
        backend, stream = _find(match)
        return 200, _view(backend, stream)


@control("POST", r"/firehose/(?P<region>[a-z0-9-]+)/(?P<name>[A-Za-z0-9_.-]+)/flush")
def flush_stream(match, body, query):
    with _lock:
        backend, stream = _find(match)
        attempt = _attempt(backend, stream, "flush")
        return 200, {"Attempt": attempt, **_view(backend, stream)}


def _patch():
    from moto.firehose import exceptions as firehose_exceptions
    from moto.firehose.models import FirehoseBackend

    if getattr(FirehoseBackend, "drpair_delivery", False):
        return
    FirehoseBackend.drpair_delivery = True

    class _InvalidKMSResource(firehose_exceptions.FirehoseException):
        def __init__(self, message):
            super().__init__("InvalidKMSResourceException", message)

    original_batch = FirehoseBackend.put_record_batch
    original_delete = FirehoseBackend.delete_delivery_stream
    original_create = FirehoseBackend.create_delivery_stream
    original_update = FirehoseBackend.update_destination

    def create_delivery_stream(self, *args, **kwargs):
        # moto's response handler passes every parameter positionally, the stream's name second.
        name = args[1] if len(args) > 1 else kwargs.get("delivery_stream_name")
        if name not in self.delivery_streams:  # a name in use keeps moto's ResourceInUseException
            _check_roles(self, "CreateDeliveryStream", list(args) + list(kwargs.values()))
        return original_create(self, *args, **kwargs)

    def update_destination(self, delivery_stream_name, *args, **kwargs):
        if delivery_stream_name in self.delivery_streams:  # an unknown one keeps moto's not found
            _check_roles(self, "UpdateDestination", list(args) + list(kwargs.values()))
        return original_update(self, delivery_stream_name, *args, **kwargs)

    def put_record_batch(self, delivery_stream_name, records):
        stream = self.delivery_streams.get(delivery_stream_name)
        if stream is None or _s3_destination(stream) is None:
            return original_batch(self, delivery_stream_name, records)
        try:
            return accept(self.region_name, delivery_stream_name, records, backend=self)
        except InvalidKMSResourceException as exc:
            raise _InvalidKMSResource(str(exc))

    def put_record(self, delivery_stream_name, record):
        result = self.put_record_batch(delivery_stream_name, [record])
        return {"RecordId": result["RequestResponses"][0]["RecordId"], "Encrypted": result.get("Encrypted", False)}

    def delete_delivery_stream(self, delivery_stream_name, *args, **kwargs):
        with _lock:
            stream = self.delivery_streams.get(delivery_stream_name)
            if stream is not None:
                state = _state(stream)
                if state["timer"] is not None:
                    state["timer"].cancel()
                state["buffer"], state["bytes"], state["timer"], state["due"] = [], 0, None, None
            return original_delete(self, delivery_stream_name, *args, **kwargs)

    FirehoseBackend.create_delivery_stream = create_delivery_stream
    FirehoseBackend.update_destination = update_destination
    FirehoseBackend.put_record_batch = put_record_batch
    FirehoseBackend.put_record = put_record
    FirehoseBackend.delete_delivery_stream = delete_delivery_stream


def register(app):
    _patch()
    return app
