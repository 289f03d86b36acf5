"""The failover orchestrator's handler.

Invoked by two EventBridge rules in the DR region: a schedule every minute (each invocation is one
probe of the primary's health) and the DR alarms' state changes (which re-evaluate at once, without
probing). The primary is judged down when its health check failed for CONSECUTIVE_FAILURES probes
in a row and a second signal confirms: a replication-lag alarm in ALARM, or the primary writer
unreachable. Then, exactly once (a conditional write takes the lock): fail over, wait for the DR
writer, scale the DR group, notify every topic, record the timeline. In notify_only mode the
failover and the scaling are skipped. A failure part-way releases the lock's lease; the next
invocation resumes at the step that failed.
"""

import datetime
import json
import time
import uuid

from .aws import Clients
from .config import Config
from .signals import confirmations, global_view, probe_primary, replication_lag_ms
from .state import LostLock, Store
from .steps import ACTING_STEPS, STEP_NAMES, STEPS, StepError

# Time kept back from the function's timeout for recording a failure.
SAFETY_MARGIN_SECONDS = 20
# When no Lambda context tells the time left (tests, manual runs).
DEFAULT_BUDGET_SECONDS = 600
# Probes run every minute: a longer silence between two means they are not consecutive.
MAX_PROBE_GAP_SECONDS = 300


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def classify(event):
    """(kind, event id): kind is `probe` (the schedule, or {"drpair": "probe"}), `evaluate` (an
    alarm state change, or {"drpair": "evaluate"}), or None for anything else."""
    if not isinstance(event, dict):
        return None, None
    event_id = event.get("id")
    if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
        return "probe", event_id
    if event.get("source") == "aws.cloudwatch" and event.get("detail-type") == "CloudWatch Alarm State Change":
        return "evaluate", event_id
    if event.get("drpair") in ("probe", "evaluate"):
        return event["drpair"], event_id or str(uuid.uuid4())
    return None, event_id


def failed_streak(history, now=None):
    """Failed probes in a row, newest first. Probes that could not tell are passed over; a gap of
    more than MAX_PROBE_GAP_SECONDS (the schedule was off, or the orchestrator was) ends the
    streak, and so does a newest probe that old."""
    streak = 0
    newer = time.time() if now is None else now
    for probe in reversed(history):
        at = probe.get("epoch", newer)
        if newer - at > MAX_PROBE_GAP_SECONDS:
            break
        newer = at
        if probe.get("healthy") is None:
            continue
        if probe["healthy"]:
            break
        streak += 1
    return streak


class Run:
    """One invocation."""

    def __init__(self, cfg, clients, context=None):
        self.cfg = cfg
        self.clients = clients
        self.store = Store(cfg, clients)
        # A fresh id per invocation: the fence on the lock (request ids can repeat on retries).
        self.owner = f"{getattr(context, 'aws_request_id', 'local')}/{uuid.uuid4()}"
        remaining = None
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            remaining = context.get_remaining_time_in_millis() / 1000.0
        budget = remaining if remaining else DEFAULT_BUDGET_SECONDS
        self.deadline = time.time() + max(budget - SAFETY_MARGIN_SECONDS, 1)
        self.lease_until = time.time() + budget + SAFETY_MARGIN_SECONDS

    def save(self, lock):
        self.store.save(lock)

    def handle(self, event):
        kind, event_id = classify(event)
        if kind is None:
            return outcome("ignored", "not a schedule, alarm or drpair event")
        if kind == "probe":
            probe = probe_primary(self.cfg, self.clients)
            entry = {
                "at": now_iso(),
                "epoch": round(time.time(), 3),
                "healthy": probe.healthy,
                "source": probe.source,
                "detail": probe.detail,
                "event_id": event_id,
            }
            history = self.store.record_probe(entry)
        else:
            history = self.store.probes()
        lock = self.store.lock()
        if lock is not None:
            return self.with_lock(lock, history, kind)
        return self.evaluate(history, kind, event_id)

    def with_lock(self, lock, history, kind):
        if lock.status == "completed":
            return self.after_completion(lock, history, kind)
        if lock.lease_until > time.time():
            return outcome("none", f"a failover is under way in another invocation (lease until {lock.lease_until:.0f})")
        taken = self.store.take_over(lock, self.owner, self.lease_until, time.time())
        if taken is None:
            return outcome("none", "another invocation resumed the failover first")
        print(json.dumps({"resuming": taken.body["started_at"], "attempt": taken.attempt}))
        return self.run_steps(taken)

    def after_completion(self, lock, history, kind):
        done = lock.body.get("completed_at")
        if lock.body["mode"] == "notify_only" and self.cfg.mode == "automatic":
            # Switched to automatic after a notification: act on the outage (if it still is one).
            if self.store.rearm(lock):
                return self.evaluate(history, kind, None)
        healthy_now = bool(history) and history[-1].get("healthy") is True
        if kind == "probe" and healthy_now:
            view = global_view(self.cfg, self.clients)
            dr = view.member(self.cfg.dr_region, self.cfg.dr_cluster)
            if dr is not None and not dr.is_writer and self.store.rearm(lock):
                return outcome("rearmed", f"the primary is healthy and writes again; the failover of {lock.body['started_at']} is archived")
        return outcome(
            "none",
            f"the failover of {lock.body['started_at']} completed at {done}; automation re-arms once the primary writes again and is healthy",
        )

    def evaluate(self, history, kind, event_id):
        cfg = self.cfg
        streak = failed_streak(history)
        if streak < cfg.consecutive_failures:
            return outcome("none", f"{streak} failed probe(s) in a row of the {cfg.consecutive_failures} that judge the primary down")
        view = global_view(cfg, self.clients)
        dr = view.member(cfg.dr_region, cfg.dr_cluster)
        if dr is None:
            raise StepError(f"{cfg.dr_cluster} ({cfg.dr_region}) is not a member of global cluster {cfg.global_cluster}")
        if dr.is_writer:
            return outcome("none", f"{cfg.dr_cluster} is already the writer")
        confirmed_by = confirmations(cfg, self.clients, view)
        if not confirmed_by:
            return outcome("none", f"{streak} failed probes in a row, but no second signal confirms the outage")
        body = {
            "mode": cfg.mode,
            "started_at": now_iso(),
            "decision": {
                "detected_at": now_iso(),
                "trigger": kind,
                "event_id": event_id,
                "consecutive_failed_probes": streak,
                "required_failed_probes": cfg.consecutive_failures,
                "probes": history[-streak:],
                "confirmed_by": confirmed_by,
            },
            "lag_ms": replication_lag_ms(cfg, self.clients),
            "steps": [{"name": name, "status": "pending", "attempts": 0} for name in STEP_NAMES],
            "notified": [],
            "errors": [],
        }
        lock = self.store.acquire(self.owner, body, self.lease_until)
        if lock is None:
            return outcome("none", "another invocation took the failover lock first")
        print(json.dumps({"decision": body["decision"], "lag_ms": body["lag_ms"]}))
        return self.run_steps(lock)

    def run_steps(self, lock):
        try:
            for step in lock.body["steps"]:
                if step["status"] in ("done", "skipped"):
                    continue
                if lock.body["mode"] == "notify_only" and step["name"] in ACTING_STEPS:
                    step.update(status="skipped", detail="mode notify_only")
                    self.save(lock)
                    continue
                self.run_step(lock, step)
            lock.status = "completed"
            lock.body["completed_at"] = now_iso()
            self.save(lock)
            self.store.record_timeline(lock)
        except LostLock as exc:
            return outcome("stopped", str(exc))
        print(json.dumps({"timeline": lock.body}))
        what = "failed_over" if lock.body["mode"] == "automatic" else "notified"
        return outcome(what, f"completed at {lock.body['completed_at']}", timeline=lock.body)

    def run_step(self, lock, step):
        step.update(status="running", started_at=now_iso(), attempts=step.get("attempts", 0) + 1)
        self.save(lock)
        started = time.monotonic()
        try:
            detail = STEPS[step["name"]](self, lock)
        except LostLock:
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            step.update(status="failed", ended_at=now_iso(), error=message)
            lock.body["errors"].append({"at": now_iso(), "step": step["name"], "error": message})
            # Released: the next invocation resumes at once instead of waiting out the lease.
            lock.lease_until = 0
            self.save(lock)
            raise StepError(f"step {step['name']} failed ({message}); the next invocation resumes it") from exc
        step.update(
            status="done",
            ended_at=now_iso(),
            duration_ms=int((time.monotonic() - started) * 1000),
            detail=detail,
        )
        step.pop("error", None)
        self.save(lock)


def outcome(action, reason, **extra):
    result = {"action": action, "reason": reason, **extra}
    print(json.dumps({k: v for k, v in result.items() if k != "timeline"}))
    return result


def handler(event, context):
    cfg = Config.from_env()
    return Run(cfg, Clients(cfg), context).handle(event)
