"""The failover orchestrator's handler.

Invoked in the DR region by two EventBridge rules: a schedule every minute, and the DR alarms'
state changes. How it decides, and why nobody else can decide for it:

1. Detection (a hint). Each scheduled invocation GETs the primary's endpoint
   (PRIMARY_ENDPOINT_URL) directly from the DR region: a data plane that works while the primary
   region's APIs (and Route 53's API, whose control plane is in us-east-1) do not. The probe is
   counted in the state table's history only when it comes from the schedule and at least
   MIN_PROBE_SPACING (45 s) after the previous counted probe, so a burst of invocations adds one
   probe at most. CONSECUTIVE_FAILURES counted failures in a row start a confirmation. An alarm
   state change (or ``{"drpair": "evaluate"}``) only re-evaluates that history, at once; it adds
   no probe, and an alarm's state is never evidence.
2. Confirmation (what decides), live, in the same invocation, right before FailoverGlobalCluster:
   the DR cluster's replication has stopped per the DR region's CloudWatch (no
   AuroraGlobalDBReplicationLag datapoint for STALL_SECONDS (120 s), or the lag above
   LAG_THRESHOLD_MS for that long; only AWS writes ``AWS/`` metrics), and CONFIRM_PROBES (3)
   direct probes CONFIRM_SPACING (5 s) apart all fail. When the newest lag datapoint is about to
   be STALL_SECONDS old (within STALL_WAIT_SECONDS), it keeps probing until it is, rather than
   leave the stall to the next scheduled probe. The history and the lock item can be written by
   anyone allowed to write the table; they can make the orchestrator look, never act.
3. Action, exactly once: a conditional write takes the lock, then the steps (steps.py): failover
   (never requested while the DR cluster writes or a failover to it is under way), scale the DR
   group in parallel with the promotion, wait until the DR cluster writes and is available (not
   the global cluster: after a data-loss failover it stays ``failing-over`` until the old region
   recovers), wait for the DR group's capacity, notify every topic, record the timeline. A failure
   part-way releases the lock's lease and the next invocation resumes the step that failed (a
   failover step resumed needs its own live confirmation; unconfirmed, the lock is given up).
   Topics not reached (the primary region's, during its outage) are told by later invocations.
4. Re-arm: once the DR cluster no longer writes and no failover to it is under way (a failback),
   read in the DR region, the completed lock is released for the next outage. In notify_only
   mode (the failover and scaling skipped; the notification still needs the live confirmation)
   it re-arms when a probe finds the primary healthy again.

During an outage the orchestrator calls only the DR region's APIs, plus a fail-fast publish to the
primary region's topic.
"""

import datetime
import json
import time
import uuid

from .aws import Clients
from .config import Config
from .signals import MIN_PROBE_SPACING, confirm_outage, dr_member, global_view, probe_endpoint
from .state import LostLock, MalformedLock, Store
from .steps import ACTING_STEPS, STEP_NAMES, STEPS, StepError, Unconfirmed, pending_topics, publish_pending

# Time kept back from the function's timeout for recording a failure.
SAFETY_MARGIN_SECONDS = 20
# When no Lambda context tells the time left (tests, manual runs).
DEFAULT_BUDGET_SECONDS = 600
# Probes run every minute: a longer silence between two means they are not consecutive.
MAX_PROBE_GAP_SECONDS = 300
# No invocation runs longer than Lambda's maximum timeout (900 s): a lease further away than that
# was not written by a holder at work, and is not believed.
MAX_LEASE_SECONDS = 900 + 2 * SAFETY_MARGIN_SECONDS
# How long an invocation telling a completed failover's missed topics holds the lock.
NOTIFY_LEASE_SECONDS = 120


def now_iso():
    moment = datetime.datetime.fromtimestamp(time.time(), tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def classify(event):
    """(kind, event id): kind is `probe` (the schedule's Scheduled Event), `evaluate` (an alarm
    state change, or {"drpair": "evaluate"}), or None for anything else."""
    if not isinstance(event, dict):
        return None, None
    event_id = event.get("id")
    if event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event":
        return "probe", event_id
    if event.get("source") == "aws.cloudwatch" and event.get("detail-type") == "CloudWatch Alarm State Change":
        return "evaluate", event_id
    if event.get("drpair") in ("probe", "evaluate"):
        # Manual runs re-evaluate; only the schedule's probes count.
        return "evaluate", event_id or str(uuid.uuid4())
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


def normalize(body):
    """A lock body with every key the steps use (a body from an older version, or written by
    hand, included); steps in today's order, keeping the progress of those it names."""
    body = dict(body)
    body["mode"] = body.get("mode") if body.get("mode") in ("automatic", "notify_only") else "automatic"
    body["started_at"] = str(body.get("started_at") or now_iso())
    if not isinstance(body.get("decision"), dict):
        body["decision"] = {}
    known = {s.get("name"): s for s in body.get("steps") or [] if isinstance(s, dict)} if isinstance(body.get("steps"), list) else {}
    steps = []
    for name in STEP_NAMES:
        step = dict(known.get(name) or {"name": name})
        if not isinstance(step.get("status"), str):
            step["status"] = "pending"
        if isinstance(step.get("attempts"), bool) or not isinstance(step.get("attempts"), int):
            step["attempts"] = 0
        steps.append(step)
    body["steps"] = steps
    body["notified"] = [t for t in body.get("notified") or [] if isinstance(t, str)] if isinstance(body.get("notified"), list) else []
    if not isinstance(body.get("errors"), list):
        body["errors"] = []
    if not isinstance(body.get("timeline"), dict):
        body["timeline"] = {}
    return body


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
        # This invocation's own probe and live confirmation (never read from the table).
        self.probe = None
        self.confirmation = None

    def save(self, lock):
        self.store.save(lock)

    def mark(self, lock, milestone):
        lock.body["timeline"].setdefault(milestone, now_iso())

    def live_confirmation(self):
        """This invocation's confirmation if it is fresh, else a new one; Unconfirmed unless the
        outage is confirmed."""
        if self.confirmation is None or not self.confirmation.fresh():
            self.confirmation = confirm_outage(self.cfg, self.clients, self.probe)
        if not self.confirmation.confirmed:
            raise Unconfirmed(self.confirmation)
        return self.confirmation

    def handle(self, event):
        kind, event_id = classify(event)
        if kind is None:
            return outcome("ignored", "not a schedule, alarm or drpair event")
        url = self.cfg.require_endpoint()
        if kind == "probe":
            self.probe = probe_endpoint(url, self.cfg.endpoint_tls)
            history, counted = self.store.record_probe(self.probe.entry(event_id), time.time(), MIN_PROBE_SPACING)
            print(json.dumps({"probe": self.probe.entry(event_id), "counted": counted}))
        else:
            history = self.store.probes()
        try:
            lock = self.store.lock()
        except MalformedLock as exc:
            cleared = self.store.clear_malformed(exc.item, str(exc), now_iso())
            print(json.dumps({"malformed_lock": str(exc), "cleared": cleared}))
            if not cleared:
                return outcome("none", "the lock item changed while a malformed one was cleared; the next invocation looks again")
            lock = None
        if lock is not None:
            return self.with_lock(lock, history, kind)
        return self.evaluate(history, kind, event_id)

    def held_by_another(self, lock, now):
        return now < lock.lease_until <= now + MAX_LEASE_SECONDS

    def with_lock(self, lock, history, kind):
        lock.body = normalize(lock.body)
        if lock.status == "completed":
            return self.after_completion(lock, history, kind)
        now = time.time()
        if self.held_by_another(lock, now):
            return outcome("none", f"a failover is under way in another invocation (lease until {lock.lease_until:.0f})")
        taken = self.store.take_over(lock, self.owner, self.lease_until, now, now + MAX_LEASE_SECONDS)
        if taken is None:
            return outcome("none", "another invocation resumed the failover first")
        print(json.dumps({"resuming": taken.body["started_at"], "attempt": taken.attempt}))
        return self.run_steps(taken)

    def after_completion(self, lock, history, kind):
        cfg = self.cfg
        if lock.body["mode"] == "notify_only" and cfg.mode == "automatic":
            # Switched to automatic after a notification: act on the outage (if it still is one).
            if self.store.rearm(lock):
                return self.evaluate(history, kind, None)
        view = global_view(cfg, self.clients)
        dr = dr_member(cfg, view)
        failed_over = view.failed_over_to(dr)
        if lock.body["mode"] == "automatic" and failed_over and pending_topics(cfg, lock):
            # Only a failover AWS shows is announced (a lock item alone announces nothing).
            self.tell_missed_topics(lock)
        if lock.body["mode"] == "automatic" and not failed_over and self.store.rearm(lock):
            return outcome("rearmed", f"{cfg.dr_cluster} no longer writes (failed back); the failover of {lock.body['started_at']} is archived")
        if lock.body["mode"] == "notify_only" and not failed_over and self.probe is not None and self.probe.healthy and self.store.rearm(lock):
            return outcome("rearmed", f"the primary answers again; the notification of {lock.body['started_at']} is archived")
        return outcome(
            "none",
            f"the failover of {lock.body['started_at']} completed at {lock.body.get('completed_at')}; automation re-arms "
            + ("after a failback" if lock.body["mode"] == "automatic" else "once the primary answers again"),
        )

    def tell_missed_topics(self, lock):
        """Publishes a completed failover's event to the topics it did not reach yet (each once:
        the lock, taken for a moment, fences concurrent invocations)."""
        now = time.time()
        if self.held_by_another(lock, now):
            return
        taken = self.store.take_over(lock, self.owner, now + NOTIFY_LEASE_SECONDS, now, now + MAX_LEASE_SECONDS)
        if taken is None:
            return
        try:
            told, failures = publish_pending(self, taken)
            taken.lease_until = 0
            self.save(taken)
        except LostLock:
            return
        if told:
            self.store.record_timeline(taken)
        lock.attempt, lock.owner, lock.body, lock.lease_until = taken.attempt, taken.owner, taken.body, taken.lease_until
        print(json.dumps({"late_notifications": told, "not_reached": failures}))

    def evaluate(self, history, kind, event_id):
        cfg = self.cfg
        streak = failed_streak(history)
        if streak < cfg.consecutive_failures:
            return outcome("none", f"{streak} failed probe(s) in a row of the {cfg.consecutive_failures} that start a confirmation")
        view = global_view(cfg, self.clients)
        dr = dr_member(cfg, view)
        if dr.is_writer:
            return outcome("none", f"{cfg.dr_cluster} is already the writer")
        if view.under_way_to(dr):
            return outcome("none", f"a failover to {cfg.dr_cluster} is already under way (FailoverState {view.transition()[0]}): not requested again")
        if view.transition() is not None:
            status, target = view.transition()
            return outcome("none", f"global cluster {cfg.global_cluster} is busy: FailoverState {status} towards {target}")
        self.confirmation = confirm_outage(cfg, self.clients, self.probe if kind == "probe" else None)
        confirmation = self.confirmation.evidence()
        if not self.confirmation.confirmed:
            return outcome(
                "none",
                f"{streak} failed probes in a row, but the live confirmation does not confirm an outage: " + "; ".join(self.confirmation.reasons),
                confirmation=confirmation,
            )
        detected = now_iso()
        body = normalize(
            {
                "mode": cfg.mode,
                "started_at": detected,
                "decision": {
                    "detected_at": detected,
                    "trigger": kind,
                    "event_id": event_id,
                    "consecutive_failed_probes": streak,
                    "required_failed_probes": cfg.consecutive_failures,
                    "probes": history[-streak:],
                    "confirmed_by": self.confirmation.reasons,
                },
                "confirmation": confirmation,
                "lag_ms": (confirmation.get("replication") or {}).get("latest_lag_ms"),
                "timeline": {"detected_at": detected, "confirmed_at": confirmation["at"]},
            }
        )
        lock = self.store.acquire(self.owner, body, self.lease_until)
        if lock is None:
            return outcome("none", "another invocation took the failover lock first")
        print(json.dumps({"decision": body["decision"], "confirmation": confirmation}))
        return self.run_steps(lock)

    def reconcile(self, lock):
        """What AWS shows wins over what the lock says: when the DR cluster neither writes nor is
        being promoted, the failover has not happened, whatever the lock's steps say."""
        cfg = self.cfg
        view = global_view(cfg, self.clients)
        if view.failed_over_to(dr_member(cfg, view)):
            return
        if lock.step("failover")["status"] == "pending":
            return
        note = f"the lock said failover {lock.step('failover')['status']}, but {cfg.dr_cluster} neither writes nor is being promoted"
        lock.body["errors"].append({"at": now_iso(), "step": "failover", "error": note})
        for step in lock.body["steps"]:
            if step["name"] in ACTING_STEPS:
                step["status"] = "pending"
        self.save(lock)

    def run_steps(self, lock):
        acting = lock.body["mode"] == "automatic" and self.cfg.mode == "automatic"
        try:
            if acting:
                try:
                    self.reconcile(lock)
                except LostLock:
                    raise
                except Exception as exc:
                    raise self.release(lock, "failover", exc) from exc
            for step in lock.body["steps"]:
                if step["status"] in ("done", "skipped"):
                    continue
                if not acting and step["name"] in ACTING_STEPS:
                    step.update(status="skipped", detail="mode notify_only")
                    self.save(lock)
                    continue
                self.run_step(lock, step)
            lock.status = "completed"
            # A completed lock is held by no one (later invocations may tell missed topics).
            lock.lease_until = 0
            lock.body["completed_at"] = now_iso()
            self.mark(lock, "completed_at")
            self.save(lock)
            self.store.record_timeline(lock)
        except LostLock as exc:
            return outcome("stopped", str(exc))
        except Unconfirmed as exc:
            return self.give_up(lock, exc)
        print(json.dumps({"timeline": lock.body}))
        what = "failed_over" if acting else "notified"
        return outcome(what, f"completed at {lock.body['completed_at']}", timeline=lock.body)

    def give_up(self, lock, exc):
        reason = f"the live confirmation does not confirm an outage ({exc}); the lock of {lock.body['started_at']} is given up"
        try:
            self.store.abandon(lock, reason, now_iso())
        except LostLock as lost:
            return outcome("stopped", str(lost))
        return outcome("abandoned", reason, confirmation=exc.confirmation.evidence())

    def release(self, lock, step_name, exc):
        """Records a failure and releases the lease, so that the next invocation resumes at once
        instead of waiting the lease out; returns the StepError to raise (the invocation fails)."""
        message = f"{type(exc).__name__}: {exc}"
        lock.body["errors"].append({"at": now_iso(), "step": step_name, "error": message})
        lock.lease_until = 0
        self.save(lock)
        return StepError(f"step {step_name} failed ({message}); the next invocation resumes it")

    def run_step(self, lock, step):
        step.update(status="running", started_at=now_iso(), attempts=step.get("attempts", 0) + 1)
        self.save(lock)
        started = time.monotonic()
        try:
            detail = STEPS[step["name"]](self, lock)
        except (LostLock, Unconfirmed):
            raise
        except Exception as exc:
            step.update(status="failed", ended_at=now_iso(), error=f"{type(exc).__name__}: {exc}")
            raise self.release(lock, step["name"], exc) from exc
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
