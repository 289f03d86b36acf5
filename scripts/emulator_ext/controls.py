"""Run-time controls under /_drpair/ for reliability and performance work.

- ``GET /_drpair/calls``: how many AWS calls the emulator answered, per service (boto3 client
  name, e.g. ``cloudwatch``), operation and region; ``?service=&operation=&region=`` filter.
  ``GET /_drpair/calls/log``: the calls one by one, in the order they arrived, with when each
  started and ended (milliseconds on a monotonic clock since the last reset; the end includes
  the added latency and the sending of the answer, so it is what the client waited), the HTTP
  status, the fault that answered it, if any, and ``request``, a digest of the request (method,
  path, query, body: two calls with the same digest asked for the same thing); the last
  ``LOG_LIMIT`` calls are kept.
  ``DELETE /_drpair/calls`` resets the counts and the log.
- ``POST /_drpair/latency`` ``{"ms": 250, "jitter_ms": 50, "service": .., "operation": ..,
  "region": ..}``: added delay for matching calls (the largest matching rule wins);
  ``GET``/``DELETE /_drpair/latency[/ID]``.
- ``POST /_drpair/faults`` ``{"error": "internal"|"throttle"|"drop", "service": .., "operation":
  .., "region": .., "nth": N, "times": K, "rate": 0.25, "seed": 7, "code": .., "status": ..,
  "message": ..}``: fail the Nth matching call (and the K-1 after it), or a share of them, or
  (neither given) every one (at most ``times``). ``internal`` is an HTTP 500 ``InternalFailure``;
  ``throttle`` the service's throttling error (``Throttling``, ``ThrottlingException``,
  ``RequestLimitExceeded`` for EC2, ``TooManyRequestsException``/429 for Lambda); ``drop`` closes
  the connection without answering; ``hold`` (``"when": "before"|"after"``, ``"hold_seconds"``)
  keeps the call without an answer until the rule is deleted, then closes its connection: the
  fault campaign kills the client while one of its calls is held, so the kill lands at a known
  call (``before``: the call never happened; ``after``: it did, and its answer was lost). Errors
  are shaped for the call's protocol (XML, JSON, CBOR).
  ``GET``/``DELETE /_drpair/faults[/ID]``.

A region declared down (``outage.py``) fails every call signed for it, after faults rules had
their turn: HTTP 503 ``ServiceUnavailable`` or a dropped connection.

Every control endpoint answers JSON; bad input gets ``400 {"error": ...}``.
"""

import collections
import hashlib
import json
import random
import re
import socket
import threading
import time
from urllib.parse import parse_qs

from . import outage
from .common import (
    CONTROL_ROUTES,
    ControlError,
    aws_error,
    classify,
    client_name,
    control,
    is_aws_request,
    read_body,
    throttling_error,
)

_lock = threading.Lock()
_calls = {}
#: How many calls GET /_drpair/calls/log keeps (the oldest go first).
LOG_LIMIT = 20_000
#: The timed call log: records in arrival order; ``_log_state`` holds the clock's origin, the
#: generation (a call that started before a reset is not logged after it) and the calls dropped.
_log = collections.deque(maxlen=LOG_LIMIT)
_log_state = {"origin": time.monotonic(), "generation": 0, "logged": 0}
_faults = []
_latency = []
_ids = {"fault": 0, "latency": 0}
_LABEL = re.compile(r"[(][?]P<([a-z]+)>[^)]*[)]")
_ERRORS = {"internal": "internal", "500": "internal", "throttle": "throttle", "throttling": "throttle", "drop": "drop", "hold": "hold"}
_HOLD_WHEN = ("before", "after")
#: How long a held call waits at most for its rule to go (real seconds) when none is given.
_HOLD_SECONDS = 600.0


def _matches(rule, service, operation, region):
    for key, actual in (("service", service), ("operation", operation), ("region", region)):
        wanted = rule.get(key)
        if wanted not in (None, "", "*") and str(wanted).lower() != str(actual).lower():
            return False
    return True


def _selector(body):
    selector = {}
    for key in ("service", "operation", "region"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise ControlError(400, f"{key!r} must be a string")
        if value:
            selector[key] = client_name(value.lower()) if key == "service" else value
    return selector


def _positive_int(body, key, default=None):
    value = body.get(key, default)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ControlError(400, f"{key!r} must be a positive integer")
    return value


def _object(body):
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    return body


# --- call counts -----------------------------------------------------------------------------


@control("GET", "/calls")
def get_calls(match, body, query):
    with _lock:
        rows = [
            {"service": s, "operation": o, "region": r, "count": n}
            for (s, o, r), n in sorted(_calls.items())
            if _matches({k: query.get(k) for k in ("service", "operation", "region")}, s, o, r)
        ]
    return 200, {"calls": rows, "total": sum(row["count"] for row in rows)}


@control("GET", "/calls/log")
def get_call_log(match, body, query):
    with _lock:
        wanted = {k: query.get(k) for k in ("service", "operation", "region")}
        rows = [dict(record) for record in _log if _matches(wanted, record["service"], record["operation"], record["region"])]
        dropped = _log_state["logged"] - len(_log)
    return 200, {"calls": rows, "dropped": dropped, "limit": LOG_LIMIT}


@control("DELETE", "/calls")
def reset_calls(match, body, query):
    with _lock:
        _calls.clear()
        _log.clear()
        _log_state.update(origin=time.monotonic(), generation=_log_state["generation"] + 1, logged=0)
    return 200, {"calls": [], "total": 0}


def _ms_since_reset(now):
    return round((now - _log_state["origin"]) * 1000.0, 3)


def _request_digest(environ, body):
    """Identical requests (same method, path, query and body) have the same digest."""
    digest = hashlib.sha256()
    for part in (environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")):
        digest.update(part.encode("utf-8", "replace") + b"\0")
    digest.update(body or b"")
    return digest.hexdigest()[:16]


def _log_start(service, operation, region, request=None):
    """Logs a call as it arrives (``end`` null while it is in flight); returns its record."""
    now = time.monotonic()
    with _lock:
        _log_state["logged"] += 1
        record = {
            "seq": _log_state["logged"],
            "service": service,
            "operation": operation,
            "region": region,
            "start_ms": _ms_since_reset(now),
            "end_ms": None,
            "status": None,
            "fault": None,
            "request": request,
        }
        _log.append(record)
        return record, _log_state["generation"]


def _log_end(record, generation, environ):
    now = time.monotonic()
    with _lock:
        if generation == _log_state["generation"]:
            record["end_ms"] = _ms_since_reset(now)
            record["fault"] = environ.get("drpair.fault")


class _Timed:
    """The answer's body, passed through; the call's log record ends when the server closes it
    (the body was sent, or the connection went)."""

    def __init__(self, answer, record, generation, environ):
        self.answer, self.record, self.generation, self.environ = answer, record, generation, environ

    def __iter__(self):
        return iter(self.answer)

    def close(self):
        try:
            close = getattr(self.answer, "close", None)
            if close is not None:
                close()
        finally:
            _log_end(self.record, self.generation, self.environ)


# --- latency ---------------------------------------------------------------------------------


@control("POST", "/latency")
def add_latency(match, body, query):
    body = _object(body)
    ms, jitter = body.get("ms"), body.get("jitter_ms", 0)
    for key, value in (("ms", ms), ("jitter_ms", jitter)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ControlError(400, f"{key!r} must be a number of milliseconds >= 0")
    with _lock:
        _ids["latency"] += 1
        rule = {"id": f"latency-{_ids['latency']}", "ms": ms, "jitter_ms": jitter, **_selector(body), "matched": 0}
        _latency.append(rule)
    return 201, rule


@control("GET", "/latency")
def list_latency(match, body, query):
    with _lock:
        return 200, {"latency": [dict(rule) for rule in _latency]}


@control("DELETE", "/latency")
def clear_latency(match, body, query):
    with _lock:
        _latency.clear()
    return 200, {"latency": []}


@control("DELETE", r"/latency/(?P<id>[^/]+)")
def delete_latency(match, body, query):
    return _delete(_latency, match.group("id"))


# --- faults ----------------------------------------------------------------------------------


@control("POST", "/faults")
def add_fault(match, body, query):
    body = _object(body)
    error = _ERRORS.get(str(body.get("error", "")).lower())
    if error is None:
        raise ControlError(400, "'error' must be one of internal (or 500), throttle, drop, hold")
    when = body.get("when")
    if when is not None and (error != "hold" or when not in _HOLD_WHEN):
        raise ControlError(400, "'when' is for 'hold' rules only and must be 'before' or 'after'")
    hold_seconds = body.get("hold_seconds")
    if hold_seconds is not None and (
        error != "hold" or not isinstance(hold_seconds, (int, float)) or isinstance(hold_seconds, bool) or not 0 < hold_seconds <= 3600
    ):
        raise ControlError(400, "'hold_seconds' is for 'hold' rules only and must be a number of seconds in (0, 3600]")
    nth, times = _positive_int(body, "nth"), _positive_int(body, "times")
    rate = body.get("rate")
    if rate is not None and (not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate <= 1):
        raise ControlError(400, "'rate' must be a number between 0 and 1")
    if nth is not None and rate is not None:
        raise ControlError(400, "give 'nth' or 'rate', not both")
    status = body.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise ControlError(400, "'status' must be an HTTP error status (400-599)")
    for key in ("code", "message"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ControlError(400, f"{key!r} must be a string")
    with _lock:
        _ids["fault"] += 1
        rule = {
            "id": f"fault-{_ids['fault']}",
            "error": error,
            **_selector(body),
            "nth": nth,
            "times": times if times is not None else (1 if nth is not None else None),
            "rate": rate,
            "code": body.get("code"),
            "status": status,
            "message": body.get("message"),
            "when": (when or "before") if error == "hold" else None,
            "hold_seconds": (hold_seconds or _HOLD_SECONDS) if error == "hold" else None,
            "matched": 0,
            "injected": 0,
            "held": 0 if error == "hold" else None,
        }
        rule = {k: v for k, v in rule.items() if v is not None or k in ("matched", "injected")}
        rule["_random"] = random.Random(body.get("seed"))
        rule["_release"] = threading.Event()
        _faults.append(rule)
    return 201, _public(rule)


def _public(rule):
    return {k: v for k, v in rule.items() if not k.startswith("_")}


@control("GET", "/faults")
def list_faults(match, body, query):
    with _lock:
        return 200, {"faults": [_public(rule) for rule in _faults]}


@control("DELETE", "/faults")
def clear_faults(match, body, query):
    with _lock:
        for rule in _faults:
            rule["_release"].set()
        _faults.clear()
    return 200, {"faults": []}


@control("DELETE", r"/faults/(?P<id>[^/]+)")
def delete_fault(match, body, query):
    return _delete(_faults, match.group("id"))


def _delete(rules, rule_id):
    with _lock:
        for rule in rules:
            if rule["id"] == rule_id:
                rules.remove(rule)
                if "_release" in rule:
                    rule["_release"].set()
                return 200, _public(rule)
    raise ControlError(404, f"no rule {rule_id}")


@control("GET", "")
@control("GET", "/")
def index(match, body, query):
    readable = {m + " " + _LABEL.sub(r"{\1}", p.pattern[1:-1]) for m, p, _ in CONTROL_ROUTES}
    return 200, {"endpoints": sorted(readable - {"GET /_drpair"})}


def _fault_for(service, operation, region):
    """The fault rule that fires for this call, if any (counters updated)."""
    with _lock:
        for rule in _faults:
            if not _matches(rule, service, operation, region):
                continue
            rule["matched"] += 1
            n = rule["matched"]
            if "nth" in rule:
                fire = rule["nth"] <= n < rule["nth"] + rule["times"]
            elif "rate" in rule:
                fire = rule["_random"].random() < rule["rate"] and ("times" not in rule or rule["injected"] < rule["times"])
            else:
                fire = "times" not in rule or rule["injected"] < rule["times"]
            if fire:
                rule["injected"] += 1
                return {**rule, "_rule": rule}
    return None


def _hold(fault, environ, start_response, app):
    """A ``hold`` rule fired: the call gets no answer until the rule is deleted (or its
    ``hold_seconds`` pass), then its connection is closed. ``when: before``: the call is held
    before the service sees it (it never happens); ``after``: the service carries it out and the
    answer is what is withheld, as when a client dies after AWS acted on its request. ``held``
    counts the calls being held (for ``after``, once the service has answered)."""
    rule = fault["_rule"]
    if fault.get("when") == "after":
        answer = app(environ, lambda status, headers, exc_info=None: None)
        try:
            for _ in answer:
                pass
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()
    with _lock:
        rule["held"] = rule.get("held", 0) + 1
    rule["_release"].wait(fault.get("hold_seconds", _HOLD_SECONDS))
    drop_connection(environ, f"{fault['id']} held the call, then closed the connection")


def _delay_for(service, operation, region):
    with _lock:
        delays = []
        for rule in _latency:
            if _matches(rule, service, operation, region):
                rule["matched"] += 1
                delays.append(rule["ms"] + random.uniform(0, rule["jitter_ms"]))
    return max(delays, default=0) / 1000.0


class ConnectionDropped(ConnectionAbortedError):
    """Raised to make werkzeug abandon the request quietly after the socket was shut."""


def drop_connection(environ, why):
    """Closes the request's connection without an answer (the client sees a reset)."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionDropped(why)


class Controls:
    """Serves /_drpair/ and applies counts, latency and faults to AWS calls."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_drpair" or path.startswith("/_drpair/"):
            return self.control(environ, start_response, path)
        if not is_aws_request(environ):
            return self.app(environ, start_response)
        body = read_body(environ)
        service, operation, region, protocol = classify(environ)
        with _lock:
            key = (service, operation, region)
            _calls[key] = _calls.get(key, 0) + 1
        record, generation = _log_start(service, operation, region, _request_digest(environ, body))

        def timed_start_response(status, headers, exc_info=None):
            record["status"] = int(status.split(None, 1)[0])
            return start_response(status, headers, exc_info)

        try:
            answer = self.aws_call(environ, timed_start_response, service, operation, region, protocol)
        except BaseException:
            _log_end(record, generation, environ)
            raise
        return _Timed(answer, record, generation, environ)

    def aws_call(self, environ, start_response, service, operation, region, protocol):
        delay = _delay_for(service, operation, region)
        if delay:
            time.sleep(delay)
        fault = _fault_for(service, operation, region)
        if fault is None and outage.is_down(region):
            fault = {"id": f"outage-{region}", "error": outage.error_of(region)}
            if fault["error"] == "unavailable":
                fault.update(error="internal", status=503, code="ServiceUnavailable", message=f"{region} is unavailable (regional outage)")
        if fault is None:
            return self.app(environ, start_response)
        environ["drpair.fault"] = fault["id"]
        if fault["error"] == "hold":
            _hold(fault, environ, start_response, self.app)
        if fault["error"] == "drop":
            drop_connection(environ, f"{fault['id']} dropped the connection")
        if fault["error"] == "throttle":
            code, status = throttling_error(service, protocol)
            message = "Rate exceeded"
        else:
            code, status, message = "InternalFailure", 500, "We encountered an internal error. Please try again."
        status = fault.get("status", status)
        status_line, headers, body = aws_error(environ, status, fault.get("code", code), fault.get("message", message))
        start_response(status_line, headers)
        return [body]

    def control(self, environ, start_response, path):
        method = environ.get("REQUEST_METHOD", "GET")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        raw = read_body(environ)
        try:
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as exc:
                raise ControlError(400, f"the body is not valid JSON: {exc}") from exc
            allowed = []
            for route_method, pattern, handler in CONTROL_ROUTES:
                found = pattern.match(path)
                if not found:
                    continue
                if route_method != method:
                    allowed.append(route_method)
                    continue
                status, payload = handler(found, body, query)
                break
            else:
                if allowed:
                    raise ControlError(405, f"{method} is not allowed on {path} (allowed: {', '.join(sorted(set(allowed)))})")
                raise ControlError(404, f"no control endpoint {path}; GET /_drpair/ lists them")
        except ControlError as exc:
            status, payload = exc.status, {"error": exc.message}
        data = json.dumps(payload, default=str).encode()
        reason = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}.get(status, "")
        start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def register(app):
    return Controls(app)
