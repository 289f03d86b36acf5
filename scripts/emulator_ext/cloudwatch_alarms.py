"""CloudWatch alarms as AWS runs them, patched into moto 5.2.5's CloudWatch backend (which stores
alarms and datapoints but evaluates nothing).

- Evaluation ("Evaluating an alarm" and "Configuring how CloudWatch alarms treat missing data",
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html and
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html):
  every modeled minute each metric alarm on a single metric (Namespace, MetricName, exactly its
  Dimensions, Unit if given; Statistic or a pNN ExtendedStatistic; Period; EvaluationPeriods N;
  DatapointsToAlarm M, default N; Threshold; the four threshold ComparisonOperators) is evaluated
  from the datapoints stored in its region, by their (modeled) timestamps. Periods are aligned to
  the clock and only complete periods count. CloudWatch retrieves more periods than N, the
  *evaluation range* (here N + 2, as in AWS's worked example: 3 evaluation periods, 5 datapoints):
  with at least N real datapoints in the range the N most recent decide; with fewer, the real ones
  are completed with as few filled-in datapoints as needed, per TreatMissingData: ``breaching``
  (breaching), ``notBreaching`` (not breaching), ``missing`` (the real ones decide when they can:
  M breaching → ALARM, a non-breaching one → OK, otherwise INSUFFICIENT_DATA), ``ignore`` (as
  ``missing``, but the state is kept where ``missing`` would say INSUFFICIENT_DATA). With no real
  datapoint in the range: ``missing`` → INSUFFICIENT_DATA, ``ignore`` → unchanged, ``breaching`` →
  ALARM, ``notBreaching`` → OK. ALARM when at least M of the N evaluated datapoints breach, else
  OK. Alarms on ``AWS/DynamoDB`` always ignore missing data, as AWS documents. Reasons and
  reasonData follow AWS's wording ("Threshold Crossed: 3 out of the last 3 datapoints [...] were
  greater than the threshold (1000.0) (minimum 3 datapoints for OK -> ALARM transition).").
  SetAlarmState's state lasts until the next evaluation, as on AWS ("Using Amazon CloudWatch
  alarms": "This temporary state change lasts only until the next alarm comparison occurs").
  Alarms of a region that is down are not evaluated. Metric math, composite and anomaly-detection
  alarms keep the state they are given.
- A state change (evaluation or SetAlarmState) goes one way: the state, reason and modeled
  timestamp are stored (history kept); when actions are enabled CloudWatch publishes the AWS alarm
  notification (JSON: AlarmName, NewStateValue, OldStateValue, NewStateReason, StateChangeTime,
  Region, AlarmArn, Trigger, ...; subject ``ALARM: "name" in US East (N. Virginia)``) to every SNS
  topic among the new state's actions (AlarmActions / OKActions / InsufficientDataActions), which
  moto's SNS delivers to subscribers (other action ARNs are accepted and ignored); the "CloudWatch
  Alarm State Change" event goes to EventBridge whatever the actions ("Alarm events and
  EventBridge"); ``cloudwatch.alarm`` is recorded on the event log (alarm, region, old, new,
  reason).
- New alarms start in INSUFFICIENT_DATA, as on AWS (moto: OK); PutMetricAlarm on an existing alarm
  replaces its configuration but keeps its state (AWS: "its state is left unchanged").
- DeleteAlarms with any unknown name deletes nothing and fails with ResourceNotFound; deleted
  alarms lose their tags.
- PutMetricData into a namespace that begins with ``AWS/`` is refused with
  ``InvalidParameterValue`` ("The value AWS/RDS for parameter Namespace is invalid."): those
  namespaces are reserved for AWS services (PutMetricData API reference: "You cannot specify a
  namespace that begins with "AWS/". Namespaces that begin with "AWS/" are reserved for use by
  Amazon Web Services products"). The emulator's own services publish with
  ``publish(region, namespace, name, dimensions, value, unit=None, epoch=None)`` (modeled
  timestamps), and tests that play an AWS service use ``POST /_drpair/metrics/{region}``
  ``{"namespace", "name", "dimensions": {"Name": "value"}, "value", "unit", "epoch"}`` (epoch:
  modeled seconds, default now).
"""

import datetime
import json
import math
import threading
import uuid

from . import clock, outage, timeline
from .common import ControlError, control, moto_account

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
}
EVALUATION_INTERVAL = 60
# Extra periods CloudWatch retrieves beyond EvaluationPeriods (AWS's worked example: 3 -> 5).
EXTRA_RANGE = 2
OPERATORS = {
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}
# Namespaces whose datapoints moto computes on the fly (CloudWatchMetricProvider).
PROVIDED_NAMESPACES = ("AWS/Route53", "AWS/S3")

_lock = threading.RLock()
_evaluator = {"timer": None}


def modeled_datetime(epoch=None):
    """A naive UTC datetime (moto's convention) of the modeled time."""
    epoch = clock.now() if epoch is None else epoch
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).replace(tzinfo=None)


def _epoch(value):
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp()


def _timestamp(value):
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def notification(alarm, old_state, account_id):
    """The message CloudWatch publishes to SNS for a state change."""
    trigger = {
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
        "Statistic": (alarm.statistic or "").upper() if not alarm.extended_statistic else None,
        "ExtendedStatistic": alarm.extended_statistic,
        "Unit": alarm.unit,
        "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
        "Period": int(alarm.period) if alarm.period is not None else None,
        "EvaluationPeriods": int(alarm.evaluation_periods) if alarm.evaluation_periods is not None else None,
        "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods or 1),
        "ComparisonOperator": alarm.comparison_operator,
        "Threshold": float(alarm.threshold) if alarm.threshold is not None else None,
        "TreatMissingData": alarm.treat_missing_data or "missing",
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
    }
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _timestamp(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _timestamp(alarm.state_updated_timestamp),
        "Region": REGION_NAMES.get(alarm.region_name, alarm.region_name),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {k: v for k, v in trigger.items() if v is not None or k == "Unit"},
    }


def fire_actions(alarm, old_state, account_id=None):
    """Publishes the state-change notification to the SNS topics of the alarm's new state."""
    if not alarm.actions_enabled or alarm.state_value == old_state:
        return
    from moto.sns.models import sns_backends

    actions = {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }.get(alarm.state_value, [])
    account_id = account_id or moto_account()
    message = notification(alarm, old_state, account_id)
    region_name = REGION_NAMES.get(alarm.region_name, alarm.region_name)
    subject = f'{alarm.state_value}: "{alarm.name}" in {region_name}'[:100]
    for arn in actions or []:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            continue
        backend = sns_backends[parts[4]][parts[3]]
        if arn not in backend.topics:
            continue
        backend.publish(json.dumps(message), arn=arn, subject=subject)


# --- the state change event ------------------------------------------------------------------


def _stat_of(alarm):
    return alarm.extended_statistic or alarm.statistic


def _metrics_configuration(alarm):
    if alarm.metric_data_queries:
        metrics = []
        for query in alarm.metric_data_queries:
            entry = {"id": query.id}
            if query.expression:
                entry["expression"] = query.expression
            if query.label:
                entry["label"] = query.label
            stat = query.metric_stat
            if stat is not None:
                entry["metricStat"] = {
                    "metric": {
                        "dimensions": {d.name: d.value for d in stat.metric.dimensions or []},
                        "name": stat.metric.metric_name,
                        "namespace": stat.metric.namespace,
                    },
                    "period": int(stat.period) if stat.period else None,
                    "stat": stat.stat,
                }
            entry["returnData"] = str(query.return_data).lower() != "false"
            metrics.append(entry)
        return metrics
    metric_id = alarm.__dict__.setdefault("drpair_metric_id", str(uuid.uuid4()))
    return [
        {
            "id": metric_id,
            "metricStat": {
                "metric": {
                    "dimensions": {d.name: d.value for d in alarm.dimensions},
                    "name": alarm.metric_name,
                    "namespace": alarm.namespace,
                },
                "period": int(alarm.period) if alarm.period is not None else None,
                "stat": _stat_of(alarm),
            },
            "returnData": True,
        }
    ]


def _state_detail(value, reason, reason_data, timestamp):
    detail = {"reason": reason, "timestamp": _timestamp(timestamp), "value": value}
    if reason_data and reason_data != "{}":
        detail["reasonData"] = reason_data
    return detail


def state_change_event(alarm, previous, account_id=None):
    """The "CloudWatch Alarm State Change" event (AWS's shape) for the alarm's latest change."""
    from . import eventbridge

    configuration = {"metrics": _metrics_configuration(alarm)}
    if alarm.description:
        configuration = {"description": alarm.description, **configuration}
    detail = {
        "alarmName": alarm.name,
        "configuration": configuration,
        "previousState": _state_detail(*previous),
        "state": _state_detail(alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp),
    }
    return eventbridge.aws_event(alarm.region_name, "aws.cloudwatch", "CloudWatch Alarm State Change", [alarm.alarm_arn], detail, account_id)


# --- state changes ---------------------------------------------------------------------------


def _previous(alarm):
    return (alarm.state_value, alarm.state_reason, alarm.state_reason_data, alarm.state_updated_timestamp)


def _after_change(alarm, previous, account_id):
    """What follows a state change: SNS actions, the EventBridge event, the event log."""
    if alarm.state_value == previous[0]:
        return
    fire_actions(alarm, previous[0], account_id)
    try:
        from . import eventbridge

        eventbridge.put_aws_event(alarm.region_name, state_change_event(alarm, previous, account_id), account_id)
    except Exception as exc:  # the alarm changed state whatever happens to the event
        print(f"emulator cloudwatch: alarm event for {alarm.name} failed: {exc!r}", flush=True)
    timeline.record("cloudwatch.alarm", alarm=alarm.name, region=alarm.region_name, old=previous[0], new=alarm.state_value, reason=alarm.state_reason)


def change_state(alarm, state, reason, reason_data="{}", account_id=None):
    """Moves `alarm` to `state` (no-op when already there) the way an evaluation does."""
    with _lock:
        if alarm.state_value == state:
            return False
        previous = _previous(alarm)
        alarm.update_state(reason, reason_data, state)
        alarm.state_updated_timestamp = modeled_datetime()
    _after_change(alarm, previous, account_id or moto_account())
    return True


# --- evaluation ------------------------------------------------------------------------------


def _aggregate(stat, datums):
    values, total, count, low, high = [], 0.0, 0.0, math.inf, -math.inf
    for d in datums:
        if hasattr(d, "value"):
            v = float(d.value)
            values.append(v)
            total, count, low, high = total + v, count + 1, min(low, v), max(high, v)
        else:
            total, count = total + float(d.sum), count + float(d.sample_count)
            low, high = min(low, float(d.min)), max(high, float(d.max))
    if count == 0:
        return None
    if stat == "SampleCount":
        return count
    if stat == "Sum":
        return total
    if stat == "Average":
        return total / count
    if stat == "Minimum":
        return low
    if stat == "Maximum":
        return high
    if stat and stat.startswith("p") and values:
        try:
            rank = float(stat[1:]) / 100.0
        except ValueError:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(rank * len(ordered)) - 1))]
    return None


def _format_point(value, start):
    return f"{value} ({datetime.datetime.fromtimestamp(start, tz=datetime.timezone.utc):%d/%m/%y %H:%M:%S})"


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def evaluate(alarm, datums, now=None):
    """(new state, reason, reasonData) of a single-metric alarm from `datums` (its metric's
    datapoints); None when the alarm is not evaluated this way."""
    if alarm.metric_data_queries or getattr(alarm, "rule", None) or not alarm.metric_name:
        return None
    if alarm.comparison_operator not in OPERATORS or alarm.threshold is None or not alarm.period:
        return None
    now = clock.now() if now is None else now
    period = int(alarm.period)
    n = int(alarm.evaluation_periods or 1)
    m = int(alarm.datapoints_to_alarm or n)
    threshold = float(alarm.threshold)
    words, breaches = OPERATORS[alarm.comparison_operator]
    stat = _stat_of(alarm)
    treatment = alarm.treat_missing_data or "missing"
    if alarm.namespace == "AWS/DynamoDB":
        treatment = "ignore"
    end = math.floor(now / period) * period
    span = n + EXTRA_RANGE
    buckets = {}
    for d in datums:
        at = _epoch(d.timestamp)
        k = math.floor((end - at) / period)  # 0: the newest complete period
        if at < end and 0 <= k < span:
            buckets.setdefault(k, []).append(d)
    existing = []  # newest first: (period start, value)
    for k in range(span):
        if k in buckets:
            value = _aggregate(stat, buckets[k])
            if value is not None:
                existing.append((end - (k + 1) * period, value))
    reason_data = {
        "version": "1.0",
        "queryDate": _timestamp(modeled_datetime(now)),
        "startDate": _timestamp(modeled_datetime(end - span * period)),
        "statistic": stat,
        "period": period,
        "recentDatapoints": [v for _, v in reversed(existing[:n])],
        "threshold": threshold,
    }
    old = alarm.state_value
    if not existing:
        unknown = f"Insufficient Data: {_plural(span, 'datapoint')} {'was' if span == 1 else 'were'} unknown."
        if treatment == "missing":
            return "INSUFFICIENT_DATA", unknown, json.dumps(reason_data)
        if treatment == "ignore":
            return None
        state = "ALARM" if treatment == "breaching" else "OK"
        label = "Breaching" if treatment == "breaching" else "NonBreaching"
        reason = f"Threshold Crossed: no datapoints were received for {_plural(span, 'period')} and {_plural(span, 'missing datapoint')} {'was' if span == 1 else 'were'} treated as [{label}]."
        return state, reason, json.dumps(reason_data)
    evaluated = existing[:n]
    breaching = [(s, v) for s, v in evaluated if breaches(v, threshold)]
    fill = n - len(evaluated)
    if fill and treatment in ("missing", "ignore"):
        non_breaching = len(evaluated) - len(breaching)
        if len(breaching) < m and non_breaching == 0:
            if treatment == "ignore":
                return None
            return "INSUFFICIENT_DATA", f"Insufficient Data: {_plural(fill, 'datapoint')} {'was' if fill == 1 else 'were'} unknown.", json.dumps(reason_data)
        fill_breaching = 0
    else:
        fill_breaching = fill if treatment == "breaching" else 0
    count = len(breaching) + fill_breaching
    state = "ALARM" if count >= m else "OK"
    points = ", ".join(_format_point(v, s) for s, v in reversed(evaluated))
    if state == "ALARM":
        shown, verb, minimum = len(breaching), words, m
    else:
        shown, verb, minimum = len(evaluated) - len(breaching), f"not {words}", n - m + 1
    reason = (
        f"Threshold Crossed: {shown} out of the last {_plural(len(evaluated), 'datapoint')} [{points}] "
        f"{'was' if shown == 1 else 'were'} {verb} the threshold ({threshold})"
    )
    if fill and treatment in ("breaching", "notBreaching"):
        label = "Breaching" if treatment == "breaching" else "NonBreaching"
        reason += f" and {_plural(fill, 'missing datapoint')} {'was' if fill == 1 else 'were'} treated as [{label}]"
    reason += f" (minimum {_plural(minimum, 'datapoint')} for {old} -> {state} transition)."
    return state, reason, json.dumps(reason_data)


def _matching(alarm, index):
    wanted = {(d.name, d.value) for d in alarm.dimensions}
    found = []
    for d in index.get((alarm.namespace, alarm.metric_name), []):
        if {(x.name, x.value) for x in d.dimensions} != wanted:
            continue
        if alarm.unit and (d.unit or "None") != alarm.unit:
            continue
        found.append(d)
    return found


def evaluate_region(backend, now=None):
    """Evaluates every alarm of a CloudWatch backend (one region)."""
    alarms = list(backend.alarms.values())
    if not alarms:
        return
    data = list(backend.metric_data)
    if any(a.namespace in PROVIDED_NAMESPACES for a in alarms):
        data += backend.aws_metric_data
    index = {}
    for d in data:
        index.setdefault((d.namespace, d.name), []).append(d)
    for alarm in alarms:
        try:
            result = evaluate(alarm, _matching(alarm, index), now)
        except Exception as exc:
            print(f"emulator cloudwatch: evaluating {alarm.name} failed: {exc!r}", flush=True)
            continue
        if result is not None and result[0] != alarm.state_value:
            change_state(alarm, result[0], result[1], result[2], backend.account_id)


def evaluate_all():
    """One evaluation round: every alarm of every region that is up."""
    from moto.cloudwatch.models import cloudwatch_backends

    now = clock.now()
    for region, backend in list(cloudwatch_backends[moto_account()].items()):
        if outage.is_down(region):
            continue
        evaluate_region(backend, now)


def _start_evaluator():
    if _evaluator["timer"] is None:
        first = math.floor(clock.now() / EVALUATION_INTERVAL) * EVALUATION_INTERVAL + EVALUATION_INTERVAL
        _evaluator["timer"] = clock.every(EVALUATION_INTERVAL, evaluate_all, "cloudwatch-alarm-evaluation", first=first)


# --- datapoints ------------------------------------------------------------------------------


def _dimension_list(dimensions):
    if isinstance(dimensions, dict):
        return [{"Name": str(k), "Value": str(v)} for k, v in dimensions.items()]
    return [{"Name": d["Name"], "Value": d["Value"]} for d in dimensions or []]


def publish(region, namespace, name, dimensions, value, unit=None, epoch=None):
    """Stores a datapoint in the region's CloudWatch as an AWS service does (any namespace,
    ``AWS/`` included) with a modeled timestamp (default: now). `dimensions`: a dict or
    ``[{"Name", "Value"}]``."""
    from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

    datum = MetricDatum(namespace, name, float(value), _dimension_list(dimensions), modeled_datetime(epoch), unit)
    cloudwatch_backends[moto_account()][region].metric_data.append(datum)
    return datum


@control("POST", r"/metrics/(?P<region>[a-z0-9-]+)")
def post_metric(match, body, query):
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    for key in ("namespace", "name"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise ControlError(400, f"{key!r} must be a non-empty string")
    value = body.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value):
        raise ControlError(400, "'value' must be a number")
    dimensions = body.get("dimensions", {})
    if not isinstance(dimensions, dict) or not all(isinstance(v, str) for v in dimensions.values()):
        raise ControlError(400, "'dimensions' must be an object of strings")
    epoch = body.get("epoch")
    if epoch is not None and (not isinstance(epoch, (int, float)) or isinstance(epoch, bool)):
        raise ControlError(400, "'epoch' must be modeled epoch seconds")
    unit = body.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise ControlError(400, "'unit' must be a string")
    datum = publish(match.group("region"), body["namespace"], body["name"], dimensions, value, unit, epoch)
    return 201, {"region": match.group("region"), "namespace": datum.namespace, "name": datum.name, "value": datum.value, "timestamp": clock.iso(_epoch(datum.timestamp))}


# --- moto patches ----------------------------------------------------------------------------


def _patch():
    from moto.cloudwatch.exceptions import InvalidParameterValue, ResourceNotFound
    from moto.cloudwatch.models import CloudWatchBackend

    if getattr(CloudWatchBackend, "drpair_alarms", False):
        return
    CloudWatchBackend.drpair_alarms = True
    original_set_state = CloudWatchBackend.set_alarm_state
    original_put = CloudWatchBackend.put_metric_alarm
    original_put_data = CloudWatchBackend.put_metric_data

    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        with _lock:
            alarm = self.alarms.get(alarm_name)
            previous = _previous(alarm) if alarm is not None else None
            original_set_state(self, alarm_name, reason, reason_data, state_value)
            alarm = self.alarms[alarm_name]
            alarm.state_updated_timestamp = modeled_datetime()
        if previous is not None:
            _after_change(alarm, previous, self.account_id)

    def put_metric_alarm(self, name, *args, **kwargs):
        with _lock:
            previous = self.alarms.get(name)
            alarm = original_put(self, name, *args, **kwargs)
            alarm.configuration_updated_timestamp = modeled_datetime()
            if previous is not None:
                alarm.state_value = previous.state_value
                alarm.state_reason = previous.state_reason
                alarm.state_reason_data = previous.state_reason_data
                alarm.state_updated_timestamp = previous.state_updated_timestamp
                alarm.history = previous.history
                if "drpair_metric_id" in previous.__dict__:
                    alarm.__dict__["drpair_metric_id"] = previous.__dict__["drpair_metric_id"]
            else:
                alarm.state_value = "INSUFFICIENT_DATA"
                alarm.state_updated_timestamp = alarm.configuration_updated_timestamp
        return alarm

    def delete_alarms(self, alarm_names):
        unknown = [name for name in alarm_names if name not in self.alarms]
        if unknown:
            raise ResourceNotFound(f"The alarm(s) {', '.join(unknown)} do not exist.")
        for name in alarm_names:
            alarm = self.alarms.pop(name)
            self.tagger.delete_all_tags_for_resource(alarm.alarm_arn)

    def put_metric_data(self, namespace, metric_data):
        if str(namespace or "").startswith("AWS/"):
            raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is invalid.")
        return original_put_data(self, namespace, metric_data)

    CloudWatchBackend.set_alarm_state = set_alarm_state
    CloudWatchBackend.put_metric_alarm = put_metric_alarm
    CloudWatchBackend.delete_alarms = delete_alarms
    CloudWatchBackend.put_metric_data = put_metric_data


def register(app):
    _patch()
    _start_evaluator()
    return app
