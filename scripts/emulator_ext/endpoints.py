"""The load balancers' endpoints as clients on the internet see them.

``probe(host, port=80, path="/", scheme="http")`` answers what a request to the endpoint gets:
``Probe(status, reason)`` with ``.ok`` (2xx/3xx), ``status`` None when nothing answers:

- a host that is no load balancer's DNS name does not resolve: None;
- the load balancer's region is down (``outage.py``): None — nothing answers;
- an ``internal`` load balancer: None — its DNS name resolves to private addresses that clients on
  the internet (Route 53's health checkers, another region) cannot reach ("Internal Application
  Load Balancers", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#load-balancer-scheme);
- no listener on the port: None (connection refused); ``https`` to an HTTP listener: None (no TLS
  handshake); plain HTTP to an HTTPS listener: 400;
- the override below, when set: 200 (``true``) or 503 (``false``);
- the listener's default action: ``fixed-response`` answers its StatusCode, ``redirect`` its
  HTTP_301/HTTP_302, ``forward`` 200 when a target of its target groups is ``healthy``
  (DescribeTargetHealth, ``app_timing.py``), else 503 ("HTTP 503: Service unavailable — the
  target groups for the load balancer have no registered targets", "Troubleshoot your Application
  Load Balancers", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
  AWS routes to every target when all of them are *unhealthy* (fail open); the emulator's targets
  are never unhealthy, only ``initial`` before their first health checks pass, which get no
  traffic. Listener rules other than the default action are not evaluated.

Controls:

- ``POST /_drpair/endpoints/{dns_name}`` ``{"healthy": false}`` makes the endpoint answer 503 (a
  brownout: the load balancer answers, the application does not), ``true`` 200, ``null`` the
  automatic answer again. A region that is down answers nothing whatever the override.
- ``GET /_drpair/endpoints/{dns_name}``: ``{"DNSName", "Region", "Override", "Status", "Reason"}``
  (Status null: no answer); ``GET /_drpair/endpoints`` lists every load balancer.

The emulator is also a plain-HTTP forward proxy for the endpoints (``register`` returns the WSGI
wrapper): a request whose request line is an absolute URI (``GET http://NAME/path``, what a client
with ``HTTP_PROXY`` pointing at the emulator sends) or whose Host header names a load balancer is
answered as that endpoint: its status and a tiny body, or the connection closed without an answer
when the endpoint does not answer. Absolute URIs naming hosts that are neither a load balancer nor
the emulator itself do not resolve: the connection is closed too. HTTPS through the proxy
(``CONNECT``) is not supported: 501.
"""

import threading
from dataclasses import dataclass
from typing import Optional

from . import outage
from .common import ControlError, control, moto_account

_lock = threading.Lock()
_overrides = {}  # lowercased DNS name -> True/False

REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 400: "Bad Request", 404: "Not Found", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable"}
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0")


@dataclass(frozen=True)
class Probe:
    status: Optional[int]
    reason: str

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 400


def _name(host):
    return (host or "").strip().rstrip(".").lower()


def find_load_balancer(host):
    """(region, load balancer) whose DNS name is `host`, or (None, None)."""
    from moto.elbv2.models import elbv2_backends

    wanted = _name(host)
    if not wanted:
        return None, None
    for region, backend in list(elbv2_backends[moto_account()].items()):
        for lb in list(backend.load_balancers.values()):
            if (lb.dns_name or "").lower() == wanted:
                return region, lb
    return None, None


def _listener(lb, port):
    for listener in list(lb.listeners.values()):
        try:
            if int(listener.port) == int(port):
                return listener
        except (TypeError, ValueError):
            continue
    return None


def _forward_groups(action):
    data = getattr(action, "data", None) or {}
    arns = []
    if data.get("TargetGroupArn"):
        arns.append(data["TargetGroupArn"])
    for group in (data.get("ForwardConfig") or {}).get("TargetGroups") or []:
        if group.get("TargetGroupArn") and group["TargetGroupArn"] not in arns:
            arns.append(group["TargetGroupArn"])
    return arns


def _healthy_targets(region, arns):
    from moto.elbv2.models import elbv2_backends

    backend = elbv2_backends[moto_account()][region]
    healthy = 0
    for arn in arns:
        if arn not in backend.target_groups:
            continue
        for status in backend.describe_target_health(arn, []):
            if status.status == "healthy":
                healthy += 1
    return healthy


def _answer(region, lb, listener):
    """Status code of the listener's default action."""
    actions = sorted(listener.default_actions or [], key=lambda a: int((getattr(a, "data", {}) or {}).get("Order") or 0))
    for action in actions:
        data = getattr(action, "data", None) or {}
        kind = data.get("Type") or getattr(action, "type", None)
        if kind == "fixed-response":
            config = data.get("FixedResponseConfig") or {}
            return int(config.get("StatusCode") or 200), "fixed response"
        if kind == "redirect":
            config = data.get("RedirectConfig") or {}
            return (302 if config.get("StatusCode") == "HTTP_302" else 301), "redirect"
        if kind == "forward":
            healthy = _healthy_targets(region, _forward_groups(action))
            if healthy:
                return 200, f"{healthy} healthy target(s)"
            return 503, "no healthy target"
    return 503, "no action"


def probe(host, port=80, path="/", scheme="http"):
    """What a client on the internet gets from `scheme://host:port/path` (see the docstring)."""
    scheme = (scheme or "http").lower()
    if scheme.startswith("https"):
        scheme = "https"
    elif scheme.startswith("tcp"):
        scheme = "tcp"
    else:
        scheme = "http"
    region, lb = find_load_balancer(host)
    if lb is None:
        return Probe(None, f"{host} does not resolve")
    if outage.is_down(region):
        return Probe(None, f"{host} ({region}) does not answer: the region is down")
    if (lb.scheme or "internet-facing") == "internal":
        return Probe(None, f"{host} ({region}) is internal: not reachable from the internet")
    if getattr(lb, "state", "active") == "failed":
        return Probe(None, f"{host} ({region}) does not answer: the load balancer failed")
    listener = _listener(lb, port)
    if listener is None:
        return Probe(None, f"{host}:{port} ({region}) refused the connection: no listener on port {port}")
    if scheme == "tcp":
        return Probe(200, f"{host}:{port} ({region}) accepted the TCP connection")
    protocol = (listener.protocol or "HTTP").upper()
    if scheme == "https" and protocol != "HTTPS":
        return Probe(None, f"{host}:{port} ({region}) failed the TLS handshake: the listener is {protocol}")
    if scheme == "http" and protocol == "HTTPS":
        return Probe(400, f"{host}:{port} ({region}) answered 400: plain HTTP sent to an HTTPS listener")
    with _lock:
        override = _overrides.get(_name(host))
    if override is not None:
        status = 200 if override else 503
        return Probe(status, f"{host} ({region}) answered {status} (override)")
    status, why = _answer(region, lb, listener)
    return Probe(status, f"{host} ({region}) answered {status}: {why}")


# --- controls ---------------------------------------------------------------------------------


def _view(region, lb):
    name = _name(lb.dns_name)
    answer = probe(lb.dns_name)
    with _lock:
        override = _overrides.get(name)
    return {"DNSName": lb.dns_name, "Region": region, "Override": override, "Status": answer.status, "Reason": answer.reason}


def _control_lb(match):
    region, lb = find_load_balancer(match.group("name"))
    if lb is None:
        raise ControlError(404, f"no load balancer with DNS name {match.group('name')}")
    return region, lb


@control("GET", "/endpoints")
def list_endpoints(match, body, query):
    from moto.elbv2.models import elbv2_backends

    found = []
    for region, backend in list(elbv2_backends[moto_account()].items()):
        for lb in list(backend.load_balancers.values()):
            found.append(_view(region, lb))
    return 200, {"endpoints": found}


@control("GET", r"/endpoints/(?P<name>[^/]+)")
def get_endpoint(match, body, query):
    return 200, _view(*_control_lb(match))


@control("POST", r"/endpoints/(?P<name>[^/]+)")
def set_endpoint(match, body, query):
    if not isinstance(body, dict) or "healthy" not in body or body["healthy"] not in (True, False, None) or set(body) - {"healthy"}:
        raise ControlError(400, 'body must be {"healthy": true|false|null}')
    region, lb = _control_lb(match)
    with _lock:
        if body["healthy"] is None:
            _overrides.pop(_name(lb.dns_name), None)
        else:
            _overrides[_name(lb.dns_name)] = body["healthy"]
    return 200, _view(region, lb)


# --- the proxy --------------------------------------------------------------------------------


def _split_host(value, default_port):
    value = (value or "").strip()
    if value.startswith("["):  # [v6]:port
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    try:
        return host, int(port) if port else default_port
    except ValueError:
        return host, default_port


def _drop(environ, why):
    from .controls import drop_connection

    drop_connection(environ, why)


class Proxy:
    """Answers plain-HTTP proxy requests for load balancer endpoints (see the module docstring)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        uri = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
        lowered = uri[:8].lower()
        absolute = lowered.startswith("http://") or lowered.startswith("https://")
        method = environ.get("REQUEST_METHOD", "GET")
        host, port = _split_host(environ.get("HTTP_HOST", ""), 443 if lowered.startswith("https://") else 80)
        if method == "CONNECT":
            return self._reply(environ, start_response, 501, b"HTTPS through the emulator's proxy is not supported\n")
        region, lb = find_load_balancer(host) if host and _name(host) not in LOOPBACK else (None, None)
        if lb is None:
            if absolute and _name(host) not in LOOPBACK and _name(host) != _name(environ.get("SERVER_NAME")):
                _drop(environ, f"proxy: {host} does not resolve")
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "/") or "/"
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        scheme = "https" if lowered.startswith("https://") else "http"
        answer = probe(host, port, path, scheme)
        if answer.status is None:
            _drop(environ, f"proxy: {answer.reason}")
        return self._reply(environ, start_response, answer.status, self._body(answer), generated=answer.status != 200)

    @staticmethod
    def _body(answer):
        if answer.status == 200:
            return b"ok\n"
        text = f"{answer.status} {REASONS.get(answer.status, '')}".strip()
        return f"<html><body><center><h1>{text}</h1></center></body></html>\n".encode()

    def _reply(self, environ, start_response, status, body, generated=True):
        headers = [
            ("Content-Type", "text/html" if body.startswith(b"<html>") else "text/plain"),
            ("Content-Length", str(len(body))),
        ]
        if generated:
            headers.append(("Server", "awselb/2.0"))
        start_response(f"{status} {REASONS.get(status, 'Status')}", headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [body]


def register(app):
    return Proxy(app)
