"""EventBridge delivery on the modeled clock: scheduled rules, AWS service events, event patterns,
Lambda targets (moto stores rules and targets but delivers nothing to Lambda and runs no
schedule).

- Scheduled rules: an ``ENABLED`` rule of the default bus with ``rate(N minute|minutes|hour|hours|
  day|days)`` runs every N units from the moment it is created ("Rate expressions reference": "A
  rate expression starts when you create the scheduled event rule";
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rate-expressions.html), on the
  modeled clock. Each run sends its targets the "Scheduled Event" (``source`` ``aws.events``,
  ``detail-type`` ``Scheduled Event``, ``resources`` [rule ARN], ``detail`` {}), or the target's
  ``Input``/``InputPath``/``InputTransformer``. As on AWS the value 1 takes the singular unit and
  larger values the plural (``rate(1 minutes)`` is ``ValidationException``). Cron schedules are
  accepted and stored but not run.
- AWS service events: a CloudWatch alarm that changes state (``cloudwatch_alarms.py``) puts the
  "CloudWatch Alarm State Change" event on its region's default bus ("Alarm events and
  EventBridge": https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html);
  other extensions call ``put_aws_event(region, event)``.
- Event patterns ("Creating event patterns" and "Content filtering in Amazon EventBridge event
  patterns": https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html):
  exact values (strings, numbers compared as numbers, booleans, null), ``prefix``, ``suffix``,
  ``equals-ignore-case`` (also inside ``prefix``/``suffix``), ``wildcard`` (``*``; ``\\*`` is a
  literal star), ``anything-but`` (a value, a list, or ``prefix``/``suffix``/``wildcard``/
  ``equals-ignore-case``; the field must exist), ``numeric``, ``exists``, ``cidr``, ``$or``; nested
  objects (``detail``); an array in the event matches when one of its elements does. A rule
  without an event pattern (a scheduled rule) receives no events. Unknown operators are
  ``InvalidEventPatternException`` at PutRule. TestEventPattern (moto has none) answers
  ``{"Result"}`` with the same matcher.
- Targets: Lambda functions are invoked asynchronously (``lambda_iam.invoke_async``: 202, retries
  on function errors), but only when the function's resource-based policy lets
  ``events.amazonaws.com`` call ``lambda:InvokeFunction`` for this rule (``AWS:SourceArn``/
  ``AWS:SourceAccount`` conditions) or the target names an execution role (``RoleArn``; IAM
  policies are not evaluated by the emulator) ("Using resource-based policies for Amazon
  EventBridge": https://docs.aws.amazon.com/eventbridge/latest/userguide/resource-based-policies-eventbridge.html)
  — otherwise the delivery fails (``events.failed``). Other targets (SQS, CloudWatch Logs, buses)
  go through moto.
- PutEvents refuses entries whose ``Source`` starts with ``aws.`` (``NotAuthorizedForSourceException``
  "Not authorized for the source.": only AWS services emit those; "Amazon EventBridge events":
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html) and delivers
  the others to matching rules, Lambda targets included.
- Disabled rules deliver nothing; nothing is delivered from a region that is down (``outage.py``).
  Delivery can be paused for deterministic tests: ``POST /_drpair/eventbridge {"deliver": false}``
  (``true`` resumes; schedules keep their cadence, runs while paused are skipped);
  ``GET /_drpair/eventbridge`` answers ``{"deliver", "schedules": [{"region", "rule", "expression",
  "state", "next"}]}``.
- Event log: ``events.delivered`` (region, rule, target, trigger ``schedule``/``event``, source,
  detail-type, event_id) and ``events.failed`` (the same and ``reason``).
"""

import copy
import fnmatch
import ipaddress
import json
import re
import threading
import uuid

from . import clock, lambda_iam, outage, timeline
from .common import ControlError, control, moto_account

RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
OPERATORS = ("prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr")
ENABLED_STATES = ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")

_lock = threading.Lock()
_state = {"deliver": True}
_schedules = {}  # (account, region, bus, rule name) -> {"expression", "period", "timer", "next"}
_MISSING = object()


# --- event patterns --------------------------------------------------------------------------


def validate_pattern(pattern, path="pattern"):
    """Raises ValueError for what EventBridge refuses (beyond moto's checks)."""
    if not isinstance(pattern, dict):
        raise ValueError(f"{path} must be an object")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise ValueError("$or must be an array of at least two patterns")
            for alternative in value:
                validate_pattern(alternative, path)
        elif isinstance(value, dict):
            validate_pattern(value, f"{path}.{key}")
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    if len(item) != 1 or next(iter(item)) not in OPERATORS:
                        raise ValueError(f"Unrecognized match type {', '.join(item) or '(none)'}")
                    _validate_operator(*next(iter(item.items())))
        else:
            raise ValueError(f"'{key}' must be an object or an array")


def _validate_operator(name, value):
    if name == "wildcard" and "**" in str(value):
        raise ValueError("Consecutive wildcard characters at pos 0")
    if name == "exists" and not isinstance(value, bool):
        raise ValueError("exists match pattern must be either true or false.")
    if name == "numeric" and (not isinstance(value, list) or len(value) not in (2, 4)):
        raise ValueError("Value of numeric must be an array.")
    if name == "anything-but" and isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise ValueError("Unsupported anything-but pattern: " + ", ".join(value))


def matches(pattern, event):
    """Whether `event` (a dict) matches the EventBridge `pattern` (a dict)."""
    for key, wanted in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in wanted):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(wanted, dict):
            if isinstance(value, list):
                if not any(isinstance(v, dict) and matches(wanted, v) for v in value):
                    return False
            elif not matches(wanted, value if isinstance(value, dict) else {}):
                return False
        elif not _field_matches(value, wanted):
            return False
    return True


def _field_matches(value, filters):
    if value is _MISSING:
        return any(isinstance(f, dict) and f.get("exists") is False for f in filters)
    if isinstance(value, dict):
        return any(isinstance(f, dict) and f.get("exists") is True for f in filters)
    values = value if isinstance(value, list) else [value]
    for f in filters:
        if isinstance(f, dict) and "exists" in f:
            if f["exists"] is True:
                return True
            continue
        if any(_filter_matches(v, f) for v in values):
            return True
    return False


def _same(a, b):
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b or (a == b and type(a) is type(b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return isinstance(a, str) and isinstance(b, str) and a == b


def _wildcard(value, pattern):
    if not isinstance(value, str):
        return False
    regex, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if c == "*" else re.escape(c)
        i += 1
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _string_op(name, value, operand):
    if not isinstance(value, str):
        return False
    if isinstance(operand, dict) and "equals-ignore-case" in operand:
        operand, value, fold = operand["equals-ignore-case"], value.lower(), True
    else:
        fold = False
    operands = operand if isinstance(operand, list) else [operand]
    for o in operands:
        if not isinstance(o, str):
            continue
        o = o.lower() if fold else o
        if (name == "prefix" and value.startswith(o)) or (name == "suffix" and value.endswith(o)):
            return True
    return False


def _numeric(value, spec):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    ops = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "=": lambda a, b: a == b, ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}
    for op, bound in zip(spec[::2], spec[1::2]):
        if op not in ops or not ops[op](float(value), float(bound)):
            return False
    return True


def _filter_matches(value, f):
    if not isinstance(f, dict):
        return _same(value, f)
    name, operand = next(iter(f.items()))
    if name in ("prefix", "suffix"):
        return _string_op(name, value, operand)
    if name == "equals-ignore-case":
        operands = operand if isinstance(operand, list) else [operand]
        return isinstance(value, str) and any(isinstance(o, str) and value.lower() == o.lower() for o in operands)
    if name == "wildcard":
        operands = operand if isinstance(operand, list) else [operand]
        return any(_wildcard(value, o) for o in operands)
    if name == "numeric":
        return _numeric(value, operand)
    if name == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            return False
    if name == "anything-but":
        if isinstance(operand, dict):
            return not _filter_matches(value, operand)
        operands = operand if isinstance(operand, list) else [operand]
        return not any(_same(value, o) for o in operands)
    return False


# --- delivery --------------------------------------------------------------------------------


def deliver_enabled():
    with _lock:
        return _state["deliver"]


def _events_backend(region, account=None):
    from moto.events.models import events_backends

    return events_backends[account or moto_account()][region]


def _iso_seconds(epoch):
    return clock.iso(epoch)[:19] + "Z"


def _epoch(iso):
    import datetime

    try:
        return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return clock.now()


def _target_input(target, event):
    if target.get("Input") is not None:
        try:
            return json.loads(target["Input"])
        except ValueError:
            return target["Input"]
    if target.get("InputPath"):
        from jsonpath_ng.ext import parse

        found = parse(target["InputPath"]).find(event)
        return found[0].value if found else None
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        result = EventTemplateParser.parse(transformer.get("InputTemplate"), transformer.get("InputPathsMap", {}), event)
        if isinstance(result, str):
            try:
                return json.loads(result)
            except ValueError:
                return result
        return result
    return event


def _arn_like(pattern, arn):
    return fnmatch.fnmatchcase(arn, pattern.replace("?", "[?]")) if "*" in pattern else pattern == arn


def permits(fn, rule):
    """Whether the function's resource-based policy lets EventBridge invoke it for `rule`."""
    policy = getattr(fn, "policy", None)
    for statement in getattr(policy, "statements", None) or []:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        principal = statement.get("Principal")
        services = principal.get("Service") if isinstance(principal, dict) else principal
        services = services if isinstance(services, list) else [services]
        if "events.amazonaws.com" not in services and "*" not in services:
            continue
        actions = statement.get("Action")
        actions = actions if isinstance(actions, list) else [actions]
        if not any(a in ("lambda:InvokeFunction", "lambda:*", "*") for a in actions):
            continue
        allowed = True
        for operator, conditions in (statement.get("Condition") or {}).items():
            for key, expected in (conditions or {}).items():
                expected = expected if isinstance(expected, list) else [expected]
                if key.lower() == "aws:sourcearn":
                    allowed = allowed and any(_arn_like(e, rule.arn) for e in expected)
                elif key.lower() == "aws:sourceaccount":
                    allowed = allowed and rule.account_id in expected
        if allowed:
            return True
    return False


def _lambda_payload(event):
    payload = {k: v for k, v in event.items() if k != "ingestion-time"}
    if not isinstance(payload.get("time"), str):
        payload["time"] = _iso_seconds(clock.now())
    return payload


def _deliver(rule, event, trigger, transform_input=True, original=None):
    """Sends `event` to every target of `rule`."""
    base = {
        "region": rule.region_name,
        "rule": rule.name,
        "trigger": trigger,
        "source": event.get("source"),
        "detail_type": event.get("detail-type"),
        "event_id": event.get("id"),
    }
    for target in list(rule.targets):
        arn = target.get("Arn", "")
        if ":lambda:" in arn and ":function:" in arn:
            payload = _target_input(target, _lambda_payload(event)) if transform_input else _lambda_payload(event)
            parts = arn.split(":")
            fn = lambda_iam.function(parts[3], parts[6], parts[7] if len(parts) > 7 else None)
            if fn is None:
                timeline.record("events.failed", **base, target=arn, reason="no such function")
                continue
            if not target.get("RoleArn") and not permits(fn, rule):
                timeline.record("events.failed", **base, target=arn, reason="the function's resource-based policy does not allow events.amazonaws.com for this rule")
                continue
            if outage.is_down(parts[3]):
                timeline.record("events.failed", **base, target=arn, reason=f"{parts[3]} is down")
                continue
            lambda_iam.invoke_async(parts[3], arn, payload, trigger, rule=rule.name, event_id=event.get("id"))
            timeline.record("events.delivered", **base, target=arn)
        elif original is not None:
            proxy = copy.copy(rule)
            proxy.targets = [target]
            from moto.events.models import EventPattern

            proxy.event_pattern = EventPattern(None, {})
            moto_event = copy.deepcopy(event)
            if isinstance(moto_event.get("time"), str):  # moto's targets want epoch seconds
                moto_event["time"] = _epoch(moto_event["time"])
            try:
                original(proxy, moto_event, transform_input)
                timeline.record("events.delivered", **base, target=arn)
            except Exception as exc:
                timeline.record("events.failed", **base, target=arn, reason=f"{type(exc).__name__}: {exc}")


def put_aws_event(region, event, account=None):
    """Puts an AWS service event (dict in EventBridge's shape) on the region's default bus;
    returns how many rules matched."""
    if not deliver_enabled() or outage.is_down(region):
        return 0
    bus = _events_backend(region, account).event_buses.get("default")
    if bus is None:
        return 0
    count = 0
    for rule in list(bus.rules.values()):
        if rule.state not in ENABLED_STATES:
            continue
        pattern = rule.event_pattern.get_pattern()
        if not pattern or not matches(pattern, event):
            continue
        count += 1
        _deliver(rule, event, "event", original=_originals.get("send_to_targets"))
    return count


def aws_event(region, source, detail_type, resources, detail, account=None):
    """An event in EventBridge's shape, stamped with the modeled time."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account or moto_account(),
        "time": _iso_seconds(clock.now()),
        "region": region,
        "resources": list(resources),
        "detail": detail,
    }


# --- schedules -------------------------------------------------------------------------------


def parse_rate(expression):
    """Seconds between runs of `rate(...)`, None for other expressions; ValueError if invalid."""
    if not expression or not expression.startswith("rate("):
        return None
    found = RATE.match(expression)
    if not found:
        raise ValueError(expression)
    value, unit = int(found.group(1)), found.group(2)
    if value < 1 or (value == 1) != (not unit.endswith("s")):
        raise ValueError(expression)
    return value * UNIT_SECONDS[unit.rstrip("s")]


def _schedule(rule):
    """(Re)arms the timer of a scheduled rule after PutRule."""
    try:
        period = parse_rate(rule.scheduled_expression)
    except ValueError:
        period = None
    key = (rule.account_id, rule.region_name, rule.event_bus_name, rule.name)
    with _lock:
        entry = _schedules.get(key)
        if entry is not None and entry["expression"] == rule.scheduled_expression:
            return
        if entry is not None:
            entry["timer"].cancel()
            _schedules.pop(key, None)
        if period is None:
            return
        entry = {"expression": rule.scheduled_expression, "period": period, "next": clock.now() + period}
        _schedules[key] = entry
    entry["timer"] = clock.every(period, lambda: _run_schedule(key, entry), f"events-{rule.name}", first=entry["next"])


def _unschedule(key):
    with _lock:
        entry = _schedules.pop(key, None)
    if entry is not None and entry.get("timer") is not None:
        entry["timer"].cancel()


def _run_schedule(key, entry):
    account, region, bus_name, name = key
    entry["next"] += entry["period"]
    try:
        bus = _events_backend(region, account).event_buses.get(bus_name)
    except KeyError:
        bus = None
    rule = bus.rules.get(name) if bus is not None else None
    with _lock:
        current = _schedules.get(key)
    if rule is None or current is not entry or rule.scheduled_expression != entry["expression"]:
        if current is entry:
            _unschedule(key)
        else:
            entry["timer"].cancel()
        return
    if rule.state not in ENABLED_STATES or not deliver_enabled() or outage.is_down(region):
        return
    event = aws_event(region, "aws.events", "Scheduled Event", [rule.arn], {}, account)
    _deliver(rule, event, "schedule", original=_originals.get("send_to_targets"))


# --- moto patches ----------------------------------------------------------------------------

_originals = {}


def _patch():
    from moto.events.exceptions import InvalidEventPatternException, ValidationException
    from moto.events.models import EventPattern, EventPatternParser, EventsBackend, Rule
    from moto.events.responses import EventsHandler

    if getattr(EventsBackend, "drpair_delivery", False):
        return
    EventsBackend.drpair_delivery = True
    _originals["send_to_targets"] = Rule.send_to_targets
    original_put_rule = EventsBackend.put_rule
    original_delete_rule = EventsBackend.delete_rule
    original_put_events = EventsBackend.put_events
    original_parse = EventPatternParser.parse

    def parse(self):
        pattern = original_parse(self)
        try:
            validate_pattern(pattern)
        except ValueError as exc:
            raise InvalidEventPatternException(reason=str(exc)) from None
        return pattern

    def matches_event(self, event):
        pattern = self.get_pattern()
        if not pattern:
            return True
        return matches(pattern, json.loads(json.dumps(event, default=str)))

    def send_to_targets(self, original_event, transform_input=True):
        if self.state not in ENABLED_STATES:
            return
        pattern = self.event_pattern.get_pattern()
        if not pattern or not matches(pattern, json.loads(json.dumps(original_event, default=str))):
            return
        if outage.is_down(self.region_name):
            return
        _deliver(self, original_event, "event", transform_input, original=_originals["send_to_targets"])

    def put_rule(self, name, description=None, event_bus_arn=None, event_pattern=None, role_arn=None, scheduled_expression=None, state=None, managed_by=None, tags=None):
        if scheduled_expression:
            try:
                parse_rate(scheduled_expression)
            except ValueError:
                raise ValidationException("Parameter ScheduleExpression is not valid.") from None
        rule = original_put_rule(self, name, description, event_bus_arn, event_pattern, role_arn, scheduled_expression, state, managed_by, tags)
        key = (rule.account_id, rule.region_name, rule.event_bus_name, rule.name)
        if rule.scheduled_expression:
            _schedule(rule)
        else:
            _unschedule(key)
        return rule

    def delete_rule(self, name, event_bus_arn):
        original_delete_rule(self, name, event_bus_arn)
        bus = self._normalize_event_bus_arn(event_bus_arn)
        if name not in getattr(self.event_buses.get(bus), "rules", {}):
            _unschedule((self.account_id, self.region_name, bus, name))

    def put_events(self, events):
        entries, passed, order = [], [], []
        for event in events:
            if str(event.get("Source") or "").startswith("aws."):
                order.append({"ErrorCode": "NotAuthorizedForSourceException", "ErrorMessage": "Not authorized for the source."})
            else:
                order.append(None)
                passed.append(event)
        results = iter(original_put_events(self, passed) if passed else [])
        for slot in order:
            entries.append(slot if slot is not None else next(results))
        return entries

    def test_event_pattern(self):
        pattern = EventPatternParser(self._get_param("EventPattern")).parse()
        try:
            event = json.loads(self._get_param("Event") or "")
        except ValueError:
            return self.error("ValidationException", "Parameter Event is not valid.")
        if not isinstance(event, dict):
            return self.error("ValidationException", "Parameter Event is not valid.")
        return self._create_response({"Result": matches(pattern, event) if pattern else True})

    EventsHandler.test_event_pattern = test_event_pattern
    EventPatternParser.parse = parse
    EventPattern.matches_event = matches_event
    Rule.send_to_targets = send_to_targets
    EventsBackend.put_rule = put_rule
    EventsBackend.delete_rule = delete_rule
    EventsBackend.put_events = put_events


# --- controls --------------------------------------------------------------------------------


def _view():
    with _lock:
        entries = sorted(_schedules.items())
        deliver = _state["deliver"]
    schedules = []
    for (account, region, bus, name), entry in entries:
        rule = _events_backend(region, account).event_buses.get(bus)
        rule = rule.rules.get(name) if rule is not None else None
        schedules.append(
            {
                "region": region,
                "rule": name,
                "expression": entry["expression"],
                "state": rule.state if rule is not None else None,
                "next": clock.iso(entry["next"]),
            }
        )
    return {"deliver": deliver, "schedules": schedules}


@control("GET", "/eventbridge")
def get_eventbridge(match, body, query):
    return 200, _view()


@control("POST", "/eventbridge")
def set_eventbridge(match, body, query):
    if not isinstance(body, dict) or set(body) != {"deliver"} or not isinstance(body["deliver"], bool):
        raise ControlError(400, 'body must be {"deliver": true} or {"deliver": false}')
    with _lock:
        _state["deliver"] = body["deliver"]
    return 200, _view()


def register(app):
    _patch()
    return app
