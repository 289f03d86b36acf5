"""Route 53 health checkers, health-check status, DNS answers and TestDNSAnswer, on moto's Route 53
backend and the modeled clock.

- Health checkers ("How Amazon Route 53 determines whether a health check is healthy",
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html):
  every HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH and TCP health check is evaluated every
  ``RequestInterval`` modeled seconds (10 or 30; the first check one interval after creation)
  through ``endpoints.probe(FullyQualifiedDomainName or IPAddress, Port, ResourcePath, scheme)``:
  HTTP(S) succeeds on a 2xx/3xx status, TCP when the endpoint answers at all. The status changes
  after ``FailureThreshold`` consecutive results the other way ("The number of consecutive health
  checks that an endpoint must pass or fail for Route 53 to change the current status"); a new
  health check is healthy until then ("Route 53 considers a new health check to be healthy until
  there's enough data to determine the actual status"). Every checker location sees the same
  endpoint, so one evaluation stands for all of them (the >18% rule changes nothing). The
  ``*_STR_MATCH`` types are probed like HTTP(S): the search string is not checked. Checkers run
  outside every region: they go on while us-east-1 (Route 53's control plane) is down.
- A health check's status: ``POST /_drpair/health-checks/{HealthCheckId}`` ``{"healthy": false}``
  (or ``true``) overrides it; ``{"healthy": null}`` returns it to automatic: endpoint checks from
  their checkers, CALCULATED checks healthy when at least HealthThreshold children are,
  CLOUDWATCH_METRIC checks from their alarm (ALARM: unhealthy, OK: healthy, INSUFFICIENT_DATA: per
  InsufficientDataHealthStatus, ``LastKnownStatus`` keeping the last status). Inverted flips the
  automatic status; a Disabled check is healthy and not checked, as on AWS. ``GET`` on the same
  path reads it (with the checkers' last result). Each change of status is recorded on the event
  log as ``route53.health`` (``health_check``, ``healthy``, ``type``, ``target``, ``reason``).
- GetHealthCheckStatus reports one observation per checker region (the check's Regions, or
  Route 53's eight defaults) with ``Success: ...`` or ``Failure: ...`` from the last check.
- The ``AWS/Route53`` ``HealthCheckStatus`` metric (dimension HealthCheckId; 1 healthy, 0
  unhealthy) is published in us-east-1's CloudWatch: a point per modeled minute since the check
  was created (at most 3 hours back) following the status history, plus one for now.
- CreateHealthCheck / UpdateHealthCheck keep AlarmIdentifier and InsufficientDataHealthStatus;
  CLOUDWATCH_METRIC checks answer CloudWatchAlarmConfiguration (from the alarm) and no endpoint
  fields. DeleteHealthCheck of an unknown id is ``NoSuchHealthCheck``.
- DNS answers, from the zone's records: failover records answer PRIMARY unless it is unhealthy,
  then SECONDARY (both unhealthy: PRIMARY, as Route 53 does); weighted records the heaviest healthy
  one; alias records their target DNS name. A record is unhealthy when its health check is, or,
  for an alias to a load balancer with ``EvaluateTargetHealth``, when one of the load balancer's
  target groups has no healthy target (DescribeTargetHealth; a group without targets counts as
  unhealthy: AliasTarget in the Route 53 API reference,
  https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html). Target health is
  what the load balancer's own health checks last said: a region that is down changes it only
  through the health checkers.
  - TestDNSAnswer (``GET /2013-04-01/testdnsanswer``, which moto does not route; a Route 53 API
    call, so it fails while us-east-1 is down): ResponseCode NOERROR, or NXDOMAIN when the name has
    no records. Errors: ``NoSuchHostedZone`` (404), ``InvalidInput`` (400).
  - The data plane, which keeps answering while us-east-1 is down:
    ``GET /_drpair/dns?name=FQDN&type=A`` answers ``{"name", "type", "answer": [...], "ttl",
    "rcode", "zone"}`` from the most specific public hosted zone; alias records to AWS resources
    carry TTL 60 (Route 53 FAQ: DNS failover for ELB endpoints uses "alias records with a fixed
    TTL of 60 seconds"), others their own TTL; NXDOMAIN/no data carry the SOA's negative-caching
    TTL. 404 when no hosted zone serves the name.
"""

import datetime
import threading
import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.core.common_models import CloudWatchMetricProvider

from . import clock, endpoints, timeline
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
ENDPOINT_TYPES = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")
DEFAULT_PORTS = {"HTTP": 80, "HTTP_STR_MATCH": 80, "HTTPS": 443, "HTTPS_STR_MATCH": 443}
# CALCULATED and CLOUDWATCH_METRIC checks are recomputed this often (modeled seconds) so that
# their changes reach the event log even when no one asks.
REFRESH_SECONDS = 10
ALIAS_TTL = 60
TIMED_OUT = "Failure: Connection timed out. The endpoint or the internet connection is down, or requests are being blocked by your firewall."

_lock = threading.RLock()
_refresher = {"timer": None}


def backend():
    from moto.route53.models import route53_backends

    return route53_backends[moto_account()]["aws"]


def _now():
    """The modeled time as a naive UTC datetime (moto's convention)."""
    return datetime.datetime.fromtimestamp(clock.now(), tz=datetime.timezone.utc).replace(tzinfo=None)


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
    if kind in ENDPOINT_TYPES:
        return _checker(check)["healthy"]
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
    with _lock:
        history = check.__dict__.setdefault("drpair_history", [(_now(), True)])
        changed = history[-1][1] != healthy
        if changed:
            history.append((_now(), healthy))
    if changed:
        last = _checker(check).get("last") or {}
        reason = "override" if override is not None else last.get("reason") if check.type_ in ENDPOINT_TYPES else f"{check.type_} status"
        timeline.record("route53.health", health_check=check.id, healthy=healthy, type=check.type_, target=_target(check), reason=reason)
    return healthy


# --- health checkers -----------------------------------------------------------------------


def _target(check):
    if check.type_ in ENDPOINT_TYPES:
        return check.fqdn or check.ip_address
    return None


def _checker(check):
    return check.__dict__.setdefault("drpair_checker", {"healthy": True, "streak": 0, "last": None})


def probe_once(check):
    """One round of the health checkers against the check's endpoint (updates its status)."""
    if check.disabled or check.type_ not in ENDPOINT_TYPES:
        return None
    scheme = "tcp" if check.type_ == "TCP" else "https" if check.type_.startswith("HTTPS") else "http"
    port = int(check.port or DEFAULT_PORTS.get(check.type_, 80))
    path = check.resource_path or "/"
    try:
        answer = endpoints.probe(check.fqdn or check.ip_address, port, path, scheme)
        ok = answer.status is not None if scheme == "tcp" else answer.ok
        status, reason = answer.status, answer.reason
    except Exception as exc:  # the endpoint model failed: the checker sees no answer
        ok, status, reason = False, None, f"probe failed: {exc!r}"
    with _lock:
        state = _checker(check)
        state["last"] = {"ok": ok, "status": status, "reason": reason, "at": clock.iso()}
        if ok == state["healthy"]:
            state["streak"] = 0
        else:
            state["streak"] += 1
            if state["streak"] >= int(check.failure_threshold or 3):
                state["healthy"], state["streak"] = ok, 0
    is_healthy(check)
    return ok


def start_checker(check):
    """Runs the check's health checkers every RequestInterval modeled seconds."""
    if check.type_ not in ENDPOINT_TYPES or check.__dict__.get("drpair_timer") is not None:
        return
    interval = int(check.request_interval or 30)
    holder = {}

    def tick():
        current = backend().health_checks.get(check.id)
        if current is not check:  # deleted (or moto was reset)
            holder["timer"].cancel()
            return
        probe_once(check)

    holder["timer"] = clock.every(interval, tick, f"route53-check-{check.id}")
    check.__dict__["drpair_timer"] = holder["timer"]


def _refresh():
    for check in list(backend().health_checks.values()):
        if check.type_ not in ENDPOINT_TYPES:
            is_healthy(check)


def _start_refresher():
    if _refresher["timer"] is None:
        _refresher["timer"] = clock.every(REFRESH_SECONDS, _refresh, "route53-refresh")


def _observation_text(check, healthy):
    if check.type_ == "CLOUDWATCH_METRIC":
        return "Success: the alarm state is healthy" if healthy else "Failure: the alarm state is unhealthy"
    last = _checker(check).get("last")
    if check.__dict__.get("drpair_healthy") is not None or last is None or check.disabled:
        if healthy:
            return "Success: TCP connection established." if check.type_ == "TCP" else "Success: HTTP Status Code 200, OK"
        return TIMED_OUT
    if last["ok"]:
        if check.type_ == "TCP":
            return "Success: TCP connection established."
        return f"Success: HTTP Status Code {last['status']}, {endpoints.REASONS.get(last['status'], 'OK')}"
    if last["status"] is None:
        return TIMED_OUT
    return f"Failure: HTTP Status Code {last['status']}, {endpoints.REASONS.get(last['status'], 'Error')}. Resolved IP: {_target(check)}"


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
        check = result.result["HealthCheck"]
        _keep(self, check, self._get_param("HealthCheckConfig") or {})
        start_checker(check)
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
        text = _observation_text(check, healthy)
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
    is_healthy(check)
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
    view = {"HealthCheckId": check.id, "Healthy": is_healthy(check), "Override": check.__dict__.get("drpair_healthy")}
    if check.type_ in ENDPOINT_TYPES:
        state = _checker(check)
        view["Checker"] = {"Healthy": state["healthy"], "Streak": state["streak"], "Last": state["last"]}
    return view


# --- TestDNSAnswer -----------------------------------------------------------------------------


def _norm(name):
    return (name or "").rstrip(".").lower()


def _record_healthy(record):
    check = backend().health_checks.get(record.health_check_id) if record.health_check_id else None
    if check is not None and not is_healthy(check):
        return False
    alias = record.alias_target or {}
    if str(alias.get("EvaluateTargetHealth", "")).lower() == "true":
        return _alias_target_healthy(alias.get("DNSName", ""))
    return True


def _alias_target_healthy(dns_name):
    """Evaluate target health of an alias to a load balancer (AliasTarget API reference, "ELB
    load balancers"): every target group of the load balancer that contains targets must have a
    healthy one; a target group with no registered targets is unhealthy."""
    from moto.elbv2.models import elbv2_backends

    name = _norm(dns_name)
    if name.startswith("dualstack."):
        name = name[len("dualstack."):]
    region, lb = endpoints.find_load_balancer(name)
    if lb is None:
        return True  # not a load balancer this emulator models: nothing to evaluate
    backend = elbv2_backends[moto_account()][region]
    arns = {g.arn for g in list(backend.target_groups.values()) if lb.arn in (g.load_balancer_arns or [])}
    for listener in list(lb.listeners.values()):
        for action in listener.default_actions or []:
            data = getattr(action, "data", None) or {}
            if data.get("TargetGroupArn"):
                arns.add(data["TargetGroupArn"])
            for group in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
                if group.get("TargetGroupArn"):
                    arns.add(group["TargetGroupArn"])
    for arn in arns:
        if arn not in backend.target_groups:
            continue
        states = [status.status for status in backend.describe_target_health(arn, [])]
        if "healthy" not in states:
            return False
    return True


def _values(record):
    if record.alias_target:
        return [record.alias_target.get("DNSName", "")]
    return list(record.records or [])


def _chosen(zone, name, record_type):
    """(response code, records chosen) for name/type in the zone, as answer() decides."""
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
            return "NOERROR", [primary[0]]
        if secondary and _record_healthy(secondary[0]):
            return "NOERROR", [secondary[0]]
        return "NOERROR", [(primary or secondary)[0]]
    if any(r.set_identifier for r in matching):
        healthy = [r for r in matching if _record_healthy(r)] or matching
        return "NOERROR", [max(healthy, key=lambda r: int(r.weight or 0))]
    return "NOERROR", matching


def answer(zone, name, record_type):
    """(response code, values) Route 53 would answer for name/type in the zone."""
    code, records = _chosen(zone, name, record_type)
    return code, [v for r in records for v in _values(r)]


def _ttl(zone, record):
    if record.alias_target:
        target = _norm(record.alias_target.get("DNSName", ""))
        same_zone = [r for r in zone.rrsets if _norm(r.name) == target and not r.alias_target and r.ttl is not None]
        return int(same_zone[0].ttl) if same_zone else ALIAS_TTL
    return int(record.ttl) if record.ttl is not None else None


def _negative_ttl(zone):
    for record in zone.rrsets:
        if record.type == "SOA" and record.records:
            fields = str(record.records[0]).split()
            try:
                return min(int(record.ttl), int(fields[-1]))
            except (TypeError, ValueError, IndexError):
                return int(record.ttl or 900)
    return 900


def _zone_for(name):
    wanted = _norm(name)
    best = None
    for zone in list(backend().zones.values()):
        if getattr(zone, "private_zone", False):
            continue
        zone_name = _norm(zone.name)
        if wanted == zone_name or wanted.endswith("." + zone_name):
            if best is None or len(zone_name) > len(_norm(best.name)):
                best = zone
    return best


@control("GET", "/dns")
def dns(match, body, query):
    name, record_type = query.get("name"), (query.get("type") or "A").upper()
    if not name:
        raise ControlError(400, "give ?name=FQDN (and &type=A, the default)")
    zone = _zone_for(name)
    if zone is None:
        raise ControlError(404, f"no public hosted zone serves {name}")
    code, records = _chosen(zone, name, record_type)
    values = [v for r in records for v in _values(r)]
    ttls = [t for t in (_ttl(zone, r) for r in records) if t is not None]
    ttl = min(ttls) if ttls else _negative_ttl(zone)
    return 200, {"name": _norm(name) + ".", "type": record_type, "answer": values, "ttl": ttl, "rcode": code, "zone": zone.id}


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
    _start_refresher()
    return TestDNSAnswer(app)
