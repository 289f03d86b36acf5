"""CloudWatch metric streams, added to moto's CloudWatch backend and responses.

Operations (query, awsJson1.0 and, through cloudwatch_cbor, rpc-v2-cbor):

- PutMetricStream: creates (State ``running``) or updates a stream; returns its ARN
  ``arn:aws:cloudwatch:REGION:ACCOUNT:metric-stream/NAME``. FirehoseArn, RoleArn and OutputFormat
  are required (``MissingParameter``); OutputFormat is ``json``, ``opentelemetry0.7`` or
  ``opentelemetry1.0`` (else ``InvalidParameterValue``); IncludeFilters and ExcludeFilters
  together are ``InvalidParameterCombination``. An update keeps CreationDate and tags (Tags are
  only applied on creation, as on AWS) and moves LastUpdateDate.
- GetMetricStream: the whole configuration; an unknown name is ``ResourceNotFoundException``
  (HTTP 404).
- ListMetricStreams: Entries (Arn, Name, FirehoseArn, State, OutputFormat, CreationDate,
  LastUpdateDate), paginated with MaxResults (1-500) / NextToken (bad token:
  ``InvalidNextToken``).
- DeleteMetricStream: idempotent, as on AWS (no not-found error is modelled).
- StartMetricStreams / StopMetricStreams: set State ``running`` / ``stopped``; names that are not
  streams are ignored.
- TagResource / UntagResource / ListTagsForResource accept metric stream ARNs.

Streaming ("Set up a metric stream",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-metric-streams-setup.html:
"In a CloudWatch metric stream, data is sent every minute ... All specified metrics in the
specified namespaces are sent in the metric stream, except metrics with a timestamp that is more
than two days old"): every modeled minute each ``running`` stream of a region that is up sends
the metric updates its region's CloudWatch received since the last minute (PutMetricData and
what the emulator's services publish; the metrics moto computes, such as Route 53's, by their
timestamps) that its filters select (IncludeFilters: only those namespaces, or those metric
names of them; ExcludeFilters: all but those; neither: all), one-minute aggregates per metric,
dimensions and minute. A stream sends nothing while stopped, and what arrived meanwhile is not
backfilled ("Metric stream operation and maintenance"); a new stream starts with what arrives
after its creation.

- Output format ``json`` ("CloudWatch metric stream output in JSON format",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-metric-streams-formats-json.html):
  each Firehose record holds JSON objects separated by a newline, one data point each:
  ``metric_stream_name``, ``account_id``, ``region``, ``namespace``, ``metric_name``,
  ``dimensions``, ``timestamp`` (epoch milliseconds, the minute), ``value``
  (``count``, ``sum``, ``max``, ``min``), ``unit``. Streams with an OpenTelemetry format send
  nothing (their protobuf records are not modelled).
- The records go to the stream's Firehose stream as CloudWatch would put them ("Trust between
  CloudWatch and Firehose",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-metric-streams-trustpolicy.html):
  with the stream's ``RoleArn``, whose trust policy must let
  ``streams.metrics.cloudwatch.amazonaws.com`` assume it (the request context carries
  ``aws:SourceAccount`` = the stream's account: "Metric data is streamed by CloudWatch to the
  destination Firehose delivery stream on behalf of the source that owns the metric stream
  resource", and the IAM User Guide's ``aws:SourceAccount`` is "included in the request context
  only if accessing a resource triggers an AWS service to call another service on behalf of the
  resource owner",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourceaccount;
  CloudWatch documents no ``aws:SourceArn`` for this call, so a trust policy conditioned on one
  is refused) and whose policies must allow
  ``firehose:PutRecord`` and ``firehose:PutRecordBatch`` on the Firehose stream's ARN
  (``iam_policy.py``), and IAM must have propagated the role's creation and trust policy
  (``iam_propagation.py``); the Firehose stream must exist in the stream's account and region.
  PutMetricStream itself does not assume the role (AWS documents only that it "must already
  exist", PutMetricStream API reference, and terraform-provider-aws does not retry it), so a
  role IAM has not propagated yet only makes the first puts fail.
  Firehose then buffers and delivers them (``firehose_delivery.py``).
- Each minute with updates publishes ``MetricUpdate`` and ``TotalMetricUpdate`` (no additional
  statistics are modelled, so both are the number of updates), and each failed put
  ``PublishErrorRate`` 1, in ``AWS/CloudWatch/MetricStreams`` with the ``MetricStreamName``
  dimension and without dimensions ("Monitoring your metric streams with CloudWatch metrics",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch-metric-streams-monitoring.html);
  events ``metricstream.published`` and ``metricstream.failed`` (``error``).
- ``GET /_drpair/metric-streams/{region}/{name}``: ``State``, ``FirehoseArn`` and the last 100
  ``Publishes`` (``at``, ``updates``, ``records``, ``outcome`` ``published``/``failed``,
  ``error``).
"""

import collections
import json
import math
import threading

from moto.core.exceptions import ServiceException

from . import clock, iam_policy, iam_propagation, outage, timeline
from .common import ControlError, control, moto_account

OUTPUT_FORMATS = ("json", "opentelemetry0.7", "opentelemetry1.0")
STREAM_INTERVAL = 60
MAX_AGE_SECONDS = 2 * 24 * 3600
# Data points per Firehose record (a record holds at most 1,000 KiB).
POINTS_PER_RECORD = 200
MAX_PUBLISHES_KEPT = 100
SERVICE_PRINCIPAL = "streams.metrics.cloudwatch.amazonaws.com"
HEALTH_NAMESPACE = "AWS/CloudWatch/MetricStreams"

_lock = threading.RLock()
_streamer = {"timer": None}


class MissingParameter(ServiceException):
    code = "MissingParameter"


class InvalidNextToken(ServiceException):
    code = "InvalidNextToken"


def streams(backend):
    """The region's metric streams (kept on moto's backend, so /moto-api/reset clears them)."""
    return backend.__dict__.setdefault("metric_streams", {})


def _stream_arn(backend, name):
    return f"arn:{backend.partition}:cloudwatch:{backend.region_name}:{backend.account_id}:metric-stream/{name}"


def put_metric_stream(backend, params):
    from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
    from moto.core.utils import utcnow

    name = params.get("Name")
    if not name:
        raise MissingParameter("The parameter Name is required.")
    if len(name) > 255:
        raise InvalidParameterValue("The parameter Name must be at most 255 characters long.")
    for key in ("FirehoseArn", "RoleArn", "OutputFormat"):
        if not params.get(key):
            raise MissingParameter(f"The parameter {key} is required.")
    if params["OutputFormat"] not in OUTPUT_FORMATS:
        raise InvalidParameterValue(
            f"The value {params['OutputFormat']} for parameter OutputFormat is not supported. "
            f"Supported values are: {', '.join(OUTPUT_FORMATS)}."
        )
    if params.get("IncludeFilters") and params.get("ExcludeFilters"):
        raise InvalidParameterCombination("IncludeFilters and ExcludeFilters cannot both be specified.")
    now = utcnow()
    existing = streams(backend).get(name)
    stream = {
        "Arn": _stream_arn(backend, name),
        "Name": name,
        "IncludeFilters": [dict(f) for f in params.get("IncludeFilters") or []],
        "ExcludeFilters": [dict(f) for f in params.get("ExcludeFilters") or []],
        "FirehoseArn": params["FirehoseArn"],
        "RoleArn": params["RoleArn"],
        "State": existing["State"] if existing else "running",
        "CreationDate": existing["CreationDate"] if existing else now,
        "LastUpdateDate": now,
        "OutputFormat": params["OutputFormat"],
        "StatisticsConfigurations": [dict(c) for c in params.get("StatisticsConfigurations") or []],
        "IncludeLinkedAccountsMetrics": bool(params.get("IncludeLinkedAccountsMetrics", False)),
    }
    with _lock:
        # Where streaming has got to carries over an update.
        stream["drpair"] = existing["drpair"] if existing else _new_cursor(backend)
        streams(backend)[name] = stream
    if existing is None and params.get("Tags"):
        backend.tagger.tag_resource(stream["Arn"], [dict(t) for t in params["Tags"]])
    return stream


def _patch():
    from moto.cloudwatch.exceptions import InvalidParameterValue, ResourceNotFoundException
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult, EmptyResult

    if hasattr(CloudWatchResponse, "put_metric_stream"):
        return

    def put(self):
        return ActionResult({"Arn": put_metric_stream(self.cloudwatch_backend, self._get_params())["Arn"]})

    def get(self):
        name = self._get_param("Name")
        if not name:
            raise MissingParameter("The parameter Name is required.")
        stream = streams(self.cloudwatch_backend).get(name)
        if stream is None:
            raise ResourceNotFoundException(f"The metric stream {name} does not exist.")
        return ActionResult({k: v for k, v in stream.items() if k != "drpair"})

    def list_streams(self):
        entries = sorted(streams(self.cloudwatch_backend).values(), key=lambda s: s["Name"])
        limit = self._get_param("MaxResults") or 100
        if not 1 <= int(limit) <= 500:
            raise InvalidParameterValue("The parameter MaxResults must be between 1 and 500.")
        token = self._get_param("NextToken")
        start = 0
        if token:
            names = [s["Name"] for s in entries]
            if token not in names:
                raise InvalidNextToken("The service couldn't process the NextToken.")
            start = names.index(token)
        page = entries[start : start + int(limit)]
        keys = ("Arn", "CreationDate", "LastUpdateDate", "Name", "FirehoseArn", "State", "OutputFormat")
        result = {"Entries": [{k: s[k] for k in keys} for s in page]}
        if start + int(limit) < len(entries):
            result["NextToken"] = entries[start + int(limit)]["Name"]
        return ActionResult(result)

    def delete(self):
        name = self._get_param("Name")
        if not name:
            raise MissingParameter("The parameter Name is required.")
        stream = streams(self.cloudwatch_backend).pop(name, None)
        if stream is not None:
            self.cloudwatch_backend.tagger.delete_all_tags_for_resource(stream["Arn"])
        return EmptyResult()

    def set_state(state):
        def handler(self):
            names = self._get_param("Names") or []
            if not names:
                raise MissingParameter("The parameter Names is required.")
            with _lock:
                for name in names:
                    stream = streams(self.cloudwatch_backend).get(name)
                    if stream is not None:
                        if state == "running" and stream["State"] != "running":
                            # What arrived while it was stopped is not backfilled.
                            stream["drpair"].update(_new_cursor(self.cloudwatch_backend))
                        stream["State"] = state
            return EmptyResult()

        return handler

    CloudWatchResponse.put_metric_stream = put
    CloudWatchResponse.get_metric_stream = get
    CloudWatchResponse.list_metric_streams = list_streams
    CloudWatchResponse.delete_metric_stream = delete
    CloudWatchResponse.start_metric_streams = set_state("running")
    CloudWatchResponse.stop_metric_streams = set_state("stopped")

    original_tag = CloudWatchBackend.tag_resource
    original_untag = CloudWatchBackend.untag_resource

    def is_stream(backend, arn):
        return any(s["Arn"] == arn for s in streams(backend).values())

    def tag_resource(self, arn, tags):
        if is_stream(self, arn):
            self.tagger.tag_resource(arn, self.tagger.convert_dict_to_tags_input(tags))
            return
        original_tag(self, arn, tags)

    def untag_resource(self, arn, tag_keys):
        if is_stream(self, arn):
            self.tagger.untag_resource_using_names(arn, tag_keys)
            return
        original_untag(self, arn, tag_keys)

    CloudWatchBackend.tag_resource = tag_resource
    CloudWatchBackend.untag_resource = untag_resource


# --- streaming ---------------------------------------------------------------------------------


def _new_cursor(backend):
    """Where a stream starts: what arrives from now on."""
    return {
        "index": len(backend.metric_data),
        "since": clock.now(),
        "publishes": collections.deque(maxlen=MAX_PUBLISHES_KEPT),
    }


def _selected(stream, namespace, name):
    def matches(f):
        return f.get("Namespace") == namespace and (not f.get("MetricNames") or name in f["MetricNames"])

    if stream["IncludeFilters"]:
        return any(matches(f) for f in stream["IncludeFilters"])
    return not any(matches(f) for f in stream["ExcludeFilters"])


def _wants_provided(stream):
    """Whether the stream selects a namespace of the metrics moto computes (costly to compute)."""
    from .cloudwatch_alarms import PROVIDED_NAMESPACES

    return any(_selected(stream, namespace, None) or any(f.get("Namespace") == namespace for f in stream["IncludeFilters"]) for namespace in PROVIDED_NAMESPACES)


def _epoch(value):
    from .cloudwatch_alarms import _epoch as epoch_of

    return epoch_of(value)


def _aggregate(stream, datums, now):
    """One-minute aggregates of the selected datums: {(namespace, name, dims, unit, minute): stats}."""
    points = {}
    for d in datums:
        if not _selected(stream, d.namespace, d.name):
            continue
        at = _epoch(d.timestamp)
        if at < now - MAX_AGE_SECONDS:
            continue
        dims = tuple(sorted((dim.name, dim.value) for dim in d.dimensions))
        key = (d.namespace, d.name, dims, d.unit or "None", math.floor(at / 60) * 60)
        if hasattr(d, "value"):
            low = high = total = float(d.value)
            count = 1.0
        else:
            low, high, total, count = float(d.min), float(d.max), float(d.sum), float(d.sample_count)
        point = points.get(key)
        if point is None:
            points[key] = {"min": low, "max": high, "sum": total, "count": count}
        else:
            point["min"], point["max"] = min(point["min"], low), max(point["max"], high)
            point["sum"] += total
            point["count"] += count
    return points


def _json_lines(stream, backend, points):
    lines = []
    for (namespace, name, dims, unit, minute), stats in sorted(points.items(), key=lambda item: (item[0][4], item[0][0], item[0][1], item[0][2])):
        lines.append(
            json.dumps(
                {
                    "metric_stream_name": stream["Name"],
                    "account_id": backend.account_id,
                    "region": backend.region_name,
                    "namespace": namespace,
                    "metric_name": name,
                    "dimensions": dict(dims),
                    "timestamp": int(minute * 1000),
                    "value": {"count": stats["count"], "sum": stats["sum"], "max": stats["max"], "min": stats["min"]},
                    "unit": unit,
                },
                separators=(",", ":"),
            )
            + "\n"
        )
    return lines


class PublishFailure(Exception):
    pass


def _put(backend, stream, records):
    """Puts records into the stream's Firehose as CloudWatch does, with the stream's role."""
    from moto.iam.models import iam_backends

    from . import firehose_delivery

    account = backend.account_id
    try:
        role = iam_backends[account]["global"].get_role_by_arn(stream["RoleArn"])
    except Exception:
        role = None
    if role is None or not iam_policy.can_assume(role, SERVICE_PRINCIPAL, {"aws:SourceAccount": account}):
        raise PublishFailure(f"CloudWatch cannot assume role {stream['RoleArn']} ({SERVICE_PRINCIPAL} is not trusted, or the role does not exist)")
    if iam_propagation.propagating(role.arn, account_id=account):
        raise PublishFailure(f"CloudWatch cannot assume role {role.arn} yet (IAM has not propagated it)")
    firehose_arn = stream["FirehoseArn"]
    for action in ("firehose:PutRecord", "firehose:PutRecordBatch"):
        decision = iam_policy.role_decision(role, action, firehose_arn)
        if decision != iam_policy.ALLOW:
            why = "an explicit deny" if decision == iam_policy.DENY else "no identity-based policy allows it"
            raise PublishFailure(f"role {role.arn} may not perform {action} on {firehose_arn}: {why}")
    parts = firehose_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "firehose" or parts[3] != backend.region_name or parts[4] != account or not parts[5].startswith("deliverystream/"):
        raise PublishFailure(f"{firehose_arn} is not a Firehose stream of account {account} in {backend.region_name}")
    name = parts[5].split("/", 1)[1]
    try:
        # PutRecordBatch takes at most 500 records (the Firehose API model's limit).
        for start in range(0, len(records), 500):
            firehose_delivery.accept(backend.region_name, name, [{"Data": r} for r in records[start : start + 500]])
    except Exception as exc:  # ResourceNotFoundException, InvalidKMSResourceException
        raise PublishFailure(f"{type(exc).__name__}: {exc}")


def _health(backend, stream, metric, value):
    from .cloudwatch_alarms import publish

    for dims in ({"MetricStreamName": stream["Name"]}, {}):
        publish(backend.region_name, HEALTH_NAMESPACE, metric, dims, value, "None")


def _stream_once(backend, stream, now, provided):
    """`provided`: the metrics moto computes for the region (by their timestamps), computed
    once per round by the caller."""
    cursor = stream["drpair"]
    data = backend.metric_data
    fresh = data[cursor["index"] :] if cursor["index"] <= len(data) else []
    cursor["index"] = len(data)
    since, cursor["since"] = cursor["since"], now
    if stream["State"] != "running" or stream["OutputFormat"] != "json":
        return
    recent = [d for d in provided() if since <= _epoch(d.timestamp) < now] if _wants_provided(stream) else []
    points = _aggregate(stream, fresh + recent, now)
    if not points:
        return
    lines = _json_lines(stream, backend, points)
    records = ["".join(lines[i : i + POINTS_PER_RECORD]).encode() for i in range(0, len(lines), POINTS_PER_RECORD)]
    publish = {"at": clock.iso(now), "epoch": round(now, 3), "updates": len(lines), "records": len(records)}
    try:
        _put(backend, stream, records)
    except PublishFailure as failure:
        publish.update(outcome="failed", error=str(failure))
        cursor["publishes"].append(publish)
        _health(backend, stream, "PublishErrorRate", 1)
        timeline.record("metricstream.failed", region=backend.region_name, stream=stream["Name"], error=str(failure), updates=len(lines))
        return
    publish.update(outcome="published")
    cursor["publishes"].append(publish)
    _health(backend, stream, "MetricUpdate", len(lines))
    _health(backend, stream, "TotalMetricUpdate", len(lines))
    timeline.record("metricstream.published", region=backend.region_name, stream=stream["Name"], updates=len(lines), records=len(records))


def stream_all():
    """One streaming round: every running stream of every region that is up."""
    from moto.cloudwatch.models import cloudwatch_backends

    now = clock.now()
    with _lock:
        for region, backend in list(cloudwatch_backends[moto_account()].items()):
            if outage.is_down(region):
                continue
            region_streams = list(streams(backend).values())
            if not region_streams:
                continue
            computed = []

            def provided(backend=backend, computed=computed):
                if not computed:
                    computed.append(list(backend.aws_metric_data))
                return computed[0]

            for stream in region_streams:
                try:
                    _stream_once(backend, stream, now, provided)
                except Exception as exc:
                    print(f"emulator metric streams: {region}/{stream.get('Name')} failed: {exc!r}", flush=True)


def _start_streamer():
    if _streamer["timer"] is None:
        first = math.floor(clock.now() / STREAM_INTERVAL) * STREAM_INTERVAL + STREAM_INTERVAL
        _streamer["timer"] = clock.every(STREAM_INTERVAL, stream_all, "metric-streams", first=first)


@control("GET", r"/metric-streams/(?P<region>[a-z0-9-]+)/(?P<name>[^/]+)")
def get_stream(match, body, query):
    from moto.cloudwatch.models import cloudwatch_backends

    region, name = match.group("region"), match.group("name")
    with _lock:
        backend = cloudwatch_backends[moto_account()].get(region)
        stream = streams(backend).get(name) if backend is not None else None
        if stream is None:
            raise ControlError(404, f"no metric stream {name} in {region}")
        return 200, {"Name": name, "Region": region, "State": stream["State"], "FirehoseArn": stream["FirehoseArn"], "Publishes": list(stream["drpair"]["publishes"])}


def register(app):
    _patch()
    _start_streamer()
    return app
