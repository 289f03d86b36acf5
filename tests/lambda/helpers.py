"""Calling the orchestrator's handler in this process, on the modeled clock, and writing the state
table's items by hand."""

import json

from conftest import scheduled_event
from drpair_failover import orchestrator


class Context:
    """Lambda's context: 600 s (the function's timeout) of modeled time from the invocation."""

    aws_request_id = "test-request"

    def __init__(self, clock, budget=600):
        self.clock = clock
        self.deadline = clock.now() + budget

    def get_remaining_time_in_millis(self):
        return max(0, int((self.deadline - self.clock.now()) * 1000))


def invoke(stack, event):
    return orchestrator.handler(event, Context(stack.clock))


def probe(stack, event_id=None):
    """One scheduled invocation, now."""
    return invoke(stack, scheduled_event(event_id))


def minute(stack):
    """The next scheduled invocation, a modeled minute later."""
    stack.clock.advance(60)
    return probe(stack)


def events(stack, region):
    """The orchestrator's JSON events in the region's queue (since the last read)."""
    return [json.loads(body) for _, body in stack.messages(region)]


def forge_history(stack, failures=5, newest_age=60, spacing=60):
    """A probe history written by hand: `failures` failed probes, the newest `newest_age` s old."""
    now = stack.clock.now()
    history = [
        {"at": "forged", "epoch": now - newest_age - spacing * i, "healthy": False, "detail": "forged", "event_id": f"forged-{i}"}
        for i in range(failures - 1, -1, -1)
    ]
    stack.put_item({"pk": {"S": "probes"}, "version": {"N": "1000"}, "body": {"S": json.dumps(history)}})
    return history


def forge_lock(stack, status="in_progress", lease_until=0, steps=None, mode="automatic", notified=()):
    """A lock item written by hand, as someone allowed to write the table could. `steps` maps step
    names to their status (default: pending)."""
    steps = steps or {}
    body = {
        "mode": mode,
        "started_at": "forged",
        "decision": {"detected_at": "forged", "trigger": "probe", "confirmed_by": ["forged"]},
        "steps": [
            {"name": n, "status": steps.get(n, "pending"), "attempts": 0 if steps.get(n, "pending") == "pending" else 1}
            for n in ("failover", "scale", "wait_writer", "wait_capacity", "notify")
        ],
        "notified": list(notified),
        "errors": [],
    }
    stack.put_item(
        {
            "pk": {"S": "lock"},
            "status": {"S": status},
            "attempt": {"N": "1"},
            "owner": {"S": "forged"},
            "lease_until": {"N": str(lease_until)},
            "body": {"S": json.dumps(body)},
        }
    )
    return body


def diff_calls(before, after):
    """Calls made between two `Emulator.call_rows` readings: {(service, operation): count}."""
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
