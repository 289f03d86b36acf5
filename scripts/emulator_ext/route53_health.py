"""Route 53 health-check status and TestDNSAnswer, on moto's Route 53 backend.

- A health check's status: ``POST /_drpair/health-checks/{HealthCheckId}`` ``{"healthy": false}``
  (or ``true``) sets it; ``{"healthy": null}`` returns it to automatic: endpoint checks healthy,
  CALCULATED checks healthy when at least HealthThreshold children are, CLOUDWATCH_METRIC checks
  from their alarm (ALARM: unhealthy, OK: healthy, INSUFFICIENT_DATA: per
  InsufficientDataHealthStatus, ``LastKnownStatus`` keeping the last status). Inverted flips the
  automatic status; a Disabled check is healthy, as on AWS. ``GET`` on the same path reads it.
- GetHealthCheckStatus reports one observation per checker region (the check's Regions, or
  Route 53's eight defaults) with ``Success: ...`` or ``Failure: ...``.
- The ``AWS/Route53`` ``HealthCheckStatus`` metric (dimension HealthCheckId; 1 healthy, 0
  unhealthy) is published in us-east-1's CloudWatch: a point per minute since the check was created
  (at most 3 hours back) following the status history, plus one for now.
- CreateHealthCheck / UpdateHealthCheck keep AlarmIdentifier and InsufficientDataHealthStatus;
  CLOUDWATCH_METRIC checks answer CloudWatchAlarmConfiguration (from the alarm) and no endpoint
  fields. DeleteHealthCheck of an unknown id is ``NoSuchHealthCheck``.
- TestDNSAnswer (``GET /2013-04-01/testdnsanswer``, which moto does not route) answers from the
  zone's records: failover records answer PRIMARY unless its health check is unhealthy, then
  SECONDARY (both unhealthy: PRIMARY, as Route 53 does); weighted records the heaviest healthy
  one; alias records their target DNS name. ResponseCode NOERROR, or NXDOMAIN when the name has no
  records. Errors: ``NoSuchHostedZone`` (404), ``InvalidInput`` (400) for missing parameters.
"""

import datetime
import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.core.common_models import CloudWatchMetricProvider

from .common import ControlError, control, moto_account

CHECKER_REGIONS = (
    "us-east-1",
    "us-west-1",
    "us-west-2",
    "eu-west-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
)
HISTORY_WINDOW = datetime.timedelta(hours=3)
XMLNS = "https://route53.amazonaws.com/doc/2013-04-01/"


def backend():
    from moto.route53.models import route53_backends

    return route53_backends[moto_account()]["aws"]


def _now():
    from moto.core.utils import utcnow

    return utcnow()


def _alarm(check):
    ident = getattr(check, "alarm_identifier", None) or {}
    if not ident.get("Region") or not ident.get("Name"):
        return None
    from moto.cloudwatch.models import cloudwatch_backends

    return cloudwatch_backends[moto_account()][ident["Region"]].alarms.get(ident["Name"])


def _automatic(check, seen):
    kind = check.type_
    if kind == "CALCULATED":
        children = [backend().health_checks.get(c) for c in check.children or []]
        healthy = sum(1 for c in children if c is not None and is_healthy(c, seen))
        return healthy >= int(check.health_threshold or 0)
    if kind == "CLOUDWATCH_METRIC":
        alarm = _alarm(check)
        state = alarm.state_value if alarm is not None else "INSUFFICIENT_DATA"
        if state in ("OK", "ALARM"):
            return state == "OK"
        fallback = getattr(check, "insufficient_data_health_status", None) or "LastKnownStatus"
        if fallback == "LastKnownStatus":
            return check.__dict__.get("drpair_history", [(None, True)])[-1][1]
        return fallback == "Healthy"
    return True


def is_healthy(check, seen=None):
    """The status Route 53 would report for a health check now."""
    seen = set() if seen is None else seen
    if check.id in seen:  # a cycle of CALCULATED checks
        return True
    seen = seen | {check.id}
    if check.disabled:
        return True
    override = check.__dict__.get("drpair_healthy")
    if override is not None:
        healthy = override
    else:
        healthy = _automatic(check, seen)
        if check.inverted:
            healthy = not healthy
    history = check.__dict__.setdefault("drpair_history", [(_now(), True)])
    if history[-1][1] != healthy:
        history.append((_now(), healthy))
    return healthy


class HealthCheckMetrics(CloudWatchMetricProvider):
    """Feeds AWS/Route53 HealthCheckStatus into moto's CloudWatch (us-east-1)."""

    @staticmethod
    def get_cloudwatch_metrics(account_id, region):
        from moto.cloudwatch.models import MetricDatum

        if region != "us-east-1" or account_id != moto_account():
            return []
        now = _now()
        data = []
        for check in list(backend().health_checks.values()):
            current = is_healthy(check)
            history = check.__dict__["drpair_history"]
            start = max(history[0][0], now - HISTORY_WINDOW).replace(second=0, microsecond=0)
            minute = start
            while minute < now:
                status = next((h for t, h in reversed(history) if t <= minute), history[0][1])
                data.append(_datum(MetricDatum, check.id, status, minute))
                minute += datetime.timedelta(minutes=1)
            data.append(_datum(MetricDatum, check.id, current, now))
        return data


def _datum(cls, check_id, healthy, when):
    dims = [{"Name": "HealthCheckId", "Value": check_id}]
    return cls("AWS/Route53", "HealthCheckStatus", 1.0 if healthy else 0.0, dims, when, None)


def _patch():
    from moto.core.responses import ActionResult
    from moto.route53.exceptions import NoSuchHealthCheck
    from moto.route53.models import HealthCheck, Route53Backend
    from moto.route53.responses import Route53

    if getattr(HealthCheck, "drpair_health", False):
        return
    HealthCheck.drpair_health = True
    HealthCheck.alarm_identifier = None
    HealthCheck.insufficient_data_health_status = None
    original_config = HealthCheck.health_check_config

    def health_check_config(self):
        config = dict(original_config.fget(self))
        if self.type_ == "CLOUDWATCH_METRIC":
            for key in ("IPAddress", "Port", "ResourcePath", "FullyQualifiedDomainName", "SearchString", "RequestInterval", "FailureThreshold", "MeasureLatency", "EnableSNI", "Regions"):
                config.pop(key, None)
        config["AlarmIdentifier"] = self.alarm_identifier
        config["InsufficientDataHealthStatus"] = self.insufficient_data_health_status
        return {k: v for k, v in config.items() if v is not None}

    def cloud_watch_alarm_configuration(self):
        alarm = _alarm(self) if self.type_ == "CLOUDWATCH_METRIC" else None
        if alarm is None:
            return None
        return {
            "EvaluationPeriods": int(alarm.evaluation_periods),
            "Threshold": float(alarm.threshold),
            "ComparisonOperator": alarm.comparison_operator,
            "Period": int(alarm.period),
            "MetricName": alarm.metric_name,
            "Namespace": alarm.namespace,
            "Statistic": alarm.statistic,
            "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        }

    HealthCheck.health_check_config = property(health_check_config)
    HealthCheck.cloud_watch_alarm_configuration = property(cloud_watch_alarm_configuration)

    original_create = Route53.create_health_check
    original_update = Route53.update_health_check

    def _keep(self, check, config):
        if config.get("AlarmIdentifier"):
            check.alarm_identifier = {"Region": config["AlarmIdentifier"].get("Region"), "Name": config["AlarmIdentifier"].get("Name")}
        if config.get("InsufficientDataHealthStatus"):
            check.insufficient_data_health_status = config["InsufficientDataHealthStatus"]
        check.__dict__.setdefault("drpair_history", [(_now(), True)])

    def create_health_check(self):
        result = original_create(self)
        _keep(self, result.result["HealthCheck"], self._get_param("HealthCheckConfig") or {})
        return result

    def update_health_check(self):
        result = original_update(self)
        check = result.result["HealthCheck"]
        _keep(self, check, {k: self._get_param(k) for k in ("AlarmIdentifier", "InsufficientDataHealthStatus")})
        check.health_check_version += 1
        return result

    def get_health_check_status(self):
        check = self.backend.get_health_check(self._get_param("HealthCheckId"))
        healthy = is_healthy(check)
        if check.type_ == "CLOUDWATCH_METRIC":
            text = "Success: the alarm state is healthy" if healthy else "Failure: the alarm state is unhealthy"
        else:
            text = "Success: HTTP Status Code 200, OK" if healthy else "Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall."
        observations = [
            {"Region": region, "IPAddress": f"15.177.{index * 8}.1", "StatusReport": {"Status": text, "CheckedTime": _now()}}
            for index, region in enumerate(check.regions or CHECKER_REGIONS)
        ]
        return ActionResult({"HealthCheckObservations": observations})

    def delete_health_check(self, health_check_id):
        if health_check_id not in self.health_checks:
            raise NoSuchHealthCheck(health_check_id)
        del self.health_checks[health_check_id]

    Route53.create_health_check = create_health_check
    Route53.update_health_check = update_health_check
    Route53.get_health_check_status = get_health_check_status
    Route53Backend.delete_health_check = delete_health_check


@control("POST", r"/health-checks/(?P<id>[^/]+)")
def set_health(match, body, query):
    if not isinstance(body, dict) or "healthy" not in body or body["healthy"] not in (True, False, None):
        raise ControlError(400, 'body must be {"healthy": true}, {"healthy": false} or {"healthy": null}')
    check = _control_check(match)
    check.__dict__["drpair_healthy"] = body["healthy"]
    return 200, _health_view(check)


@control("GET", r"/health-checks/(?P<id>[^/]+)")
def get_health(match, body, query):
    return 200, _health_view(_control_check(match))


def _control_check(match):
    check = backend().health_checks.get(match.group("id"))
    if check is None:
        raise ControlError(404, f"no health check {match.group('id')}")
    return check


def _health_view(check):
    return {"HealthCheckId": check.id, "Healthy": is_healthy(check), "Override": check.__dict__.get("drpair_healthy")}


# --- TestDNSAnswer -----------------------------------------------------------------------------


def _norm(name):
    return (name or "").rstrip(".").lower()


def _record_healthy(record):
    check = backend().health_checks.get(record.health_check_id) if record.health_check_id else None
    return True if check is None else is_healthy(check)


def answer(zone, name, record_type):
    """(response code, values) Route 53 would answer for name/type in the zone."""
    named = [r for r in zone.rrsets if _norm(r.name) == _norm(name)]
    matching = [r for r in named if r.type == record_type]
    if not named:
        return "NXDOMAIN", []
    if not matching:
        return "NOERROR", []
    primary = [r for r in matching if r.failover == "PRIMARY"]
    secondary = [r for r in matching if r.failover == "SECONDARY"]
    if primary or secondary:
        if primary and _record_healthy(primary[0]):
            chosen = primary[0]
        elif secondary and _record_healthy(secondary[0]):
            chosen = secondary[0]
        else:
            chosen = (primary or secondary)[0]
    elif any(r.set_identifier for r in matching):
        healthy = [r for r in matching if _record_healthy(r)] or matching
        chosen = max(healthy, key=lambda r: int(r.weight or 0))
    else:
        return "NOERROR", [v for r in matching for v in _values(r)]
    return "NOERROR", _values(chosen)


def _values(record):
    if record.alias_target:
        return [record.alias_target.get("DNSName", "")]
    return list(record.records or [])


class TestDNSAnswer:
    """WSGI middleware answering Route 53 TestDNSAnswer."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "").rstrip("/")
        if not (path.endswith("/testdnsanswer") and environ.get("REQUEST_METHOD") == "GET"):
            return self.app(environ, start_response)
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        missing = [k for k in ("hostedzoneid", "recordname", "recordtype") if not query.get(k)]
        if missing:
            return self._error(start_response, 400, "InvalidInput", f"Missing required parameter(s): {', '.join(missing)}")
        zone_id = query["hostedzoneid"].split("/")[-1]
        zone = backend().zones.get(zone_id)
        if zone is None:
            return self._error(start_response, 404, "NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}")
        code, values = answer(zone, query["recordname"], query["recordtype"].upper())
        servers = zone.delegation_set.name_servers if zone.delegation_set else ["ns-2048.awsdns-64.com"]
        entries = "".join(f"<RecordDataEntry>{escape(v)}</RecordDataEntry>" for v in values)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<TestDNSAnswerResponse xmlns="{XMLNS}">'
            f"<Nameserver>{escape(servers[0])}</Nameserver><RecordName>{escape(query['recordname'])}</RecordName>"
            f"<RecordType>{escape(query['recordtype'].upper())}</RecordType><RecordData>{entries}</RecordData>"
            f"<ResponseCode>{code}</ResponseCode><Protocol>UDP</Protocol></TestDNSAnswerResponse>"
        ).encode()
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(body))), ("x-amzn-RequestId", str(uuid.uuid4()))])
        return [body]

    @staticmethod
    def _error(start_response, status, code, message):
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="{XMLNS}"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{escape(message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()
        reason = "Bad Request" if status == 400 else "Not Found"
        start_response(f"{status} {reason}", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]


def register(app):
    _patch()
    return TestDNSAnswer(app)
