"""What happened, when, on the modeled clock: the emulator's event log.

Extensions record the events a DR drill is measured by (an outage declared or ended, a Route 53
health checker changing its mind, a failover started and completed, an instance in service, a
target healthy, a Lambda invocation, a message published, a write acknowledged or lost), each
with its modeled time. ``scripts/gameday`` reads them to compute RTO and RPO.

- ``GET /_drpair/events?kind=PREFIX&since=EPOCH``: ``{"events": [{"at": ISO, "epoch": s,
  "kind": "...", ...fields}]}``, oldest first (at most the last 20000 are kept).
- ``DELETE /_drpair/events`` forgets them.
"""

import threading

from . import clock
from .common import ControlError, control

MAX_EVENTS = 20000

_lock = threading.Lock()
_events = []
_listeners = []


def record(kind, **fields):
    """Appends an event at the modeled time now; returns it."""
    epoch = clock.now()
    event = {"at": clock.iso(epoch), "epoch": round(epoch, 3), "kind": kind, **fields}
    with _lock:
        _events.append(event)
        del _events[:-MAX_EVENTS]
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception as exc:  # a listener must not break the recorder
            print(f"emulator timeline: listener failed on {kind}: {exc!r}", flush=True)
    return event


def listen(callback):
    """Calls `callback(event)` for every event recorded from now on."""
    with _lock:
        _listeners.append(callback)


def events(kind=None, since=None):
    with _lock:
        found = list(_events)
    if kind:
        found = [e for e in found if e["kind"].startswith(kind)]
    if since is not None:
        found = [e for e in found if e["epoch"] >= since]
    return found


@control("GET", "/events")
def get_events(match, body, query):
    since = query.get("since")
    if since is not None:
        try:
            since = float(since)
        except ValueError:
            raise ControlError(400, "'since' must be epoch seconds") from None
    return 200, {"events": events(query.get("kind"), since)}


@control("DELETE", "/events")
def clear_events(match, body, query):
    with _lock:
        _events.clear()
    return 200, {"events": []}


def register(app):
    return app
