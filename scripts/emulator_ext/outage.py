"""Regional outages: a whole AWS region down, its control planes and its data planes.

- ``POST /_drpair/outage`` ``{"region": "us-east-1"}`` declares the region down from now on;
  ``"error": "unavailable"`` (default: HTTP 503 ``ServiceUnavailable`` in the call's protocol)
  or ``"drop"`` (connections closed without an answer, as when a region is unreachable).
- ``DELETE /_drpair/outage/{region}`` ends it (``DELETE /_drpair/outage``: every outage);
  ``GET /_drpair/outage`` lists the regions down, since when (modeled time).

While a region is down (see ``controls.py``, which answers for it):
- every API call signed for the region fails. That includes the global services whose control
  plane lives in us-east-1 and whose SDK clients sign for it: Route 53's API
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/disaster-recovery-resiliency.html:
  "the control plane ... is located in us-east-1"; the data plane - DNS answers and health
  checks - is global and keeps working), IAM and the global STS endpoint;
- the region's load balancers stop answering (``endpoints.py``), so Route 53's health checkers
  (which run outside the region) see them fail;
- the region's Aurora clusters stop replicating and stop taking writes (``rds_global.py``, ``aurora_data.py``).

Other extensions ask ``is_down(region)`` and may ``on_change(callback)`` to act when a region
goes down or comes back (``callback(region, down)``).
"""

import threading

from . import clock, timeline
from .common import ControlError, control

ERRORS = ("unavailable", "drop")

_lock = threading.Lock()
_down = {}  # region -> {"since": modeled epoch, "error": ...}
_listeners = []


def is_down(region):
    with _lock:
        return region in _down


def down_since(region):
    with _lock:
        entry = _down.get(region)
        return entry["since"] if entry else None


def error_of(region):
    with _lock:
        entry = _down.get(region)
        return entry["error"] if entry else None


def regions_down():
    with _lock:
        return sorted(_down)


def on_change(callback):
    with _lock:
        _listeners.append(callback)


def _notify(region, down):
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(region, down)
        except Exception as exc:
            print(f"emulator outage: listener failed for {region}: {exc!r}", flush=True)


def declare(region, error="unavailable"):
    with _lock:
        if region in _down:
            return dict(_down[region], region=region)
        _down[region] = {"since": clock.now(), "error": error}
        entry = dict(_down[region], region=region)
    timeline.record("outage.declared", region=region, error=error)
    _notify(region, True)
    return entry


def recover(region):
    with _lock:
        entry = _down.pop(region, None)
    if entry is None:
        return False
    timeline.record("outage.recovered", region=region)
    _notify(region, False)
    return True


def _view():
    with _lock:
        return {"outages": [{"region": r, "since": clock.iso(e["since"]), "epoch": round(e["since"], 3), "error": e["error"]} for r, e in sorted(_down.items())]}


@control("GET", "/outage")
def get_outages(match, body, query):
    return 200, _view()


@control("POST", "/outage")
def post_outage(match, body, query):
    if not isinstance(body, dict) or not isinstance(body.get("region"), str) or not body["region"]:
        raise ControlError(400, 'body must be {"region": "us-east-1"} (and optionally "error": "unavailable" or "drop")')
    error = body.get("error", "unavailable")
    if error not in ERRORS:
        raise ControlError(400, f"'error' must be one of {', '.join(ERRORS)}")
    declare(body["region"], error)
    return 201, _view()


@control("DELETE", "/outage")
def delete_outages(match, body, query):
    for region in regions_down():
        recover(region)
    return 200, _view()


@control("DELETE", r"/outage/(?P<region>[a-z0-9-]+)")
def delete_outage(match, body, query):
    if not recover(match.group("region")):
        raise ControlError(404, f"{match.group('region')} is not down")
    return 200, _view()


def register(app):
    return app
