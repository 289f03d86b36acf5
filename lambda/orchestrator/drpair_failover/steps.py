"""The steps of a failover, in order: failover, scale, wait_writer, wait_capacity, notify.

Each step reads AWS (in the DR region) before it acts, so an invocation resuming a failover after a
failure part-way repeats nothing that was done, and nothing written in the state table can make a
step act on its word:

- ``failover``: FailoverGlobalCluster(AllowDataLoss) to the DR cluster, unless the DR cluster
  already writes or a failover to it is under way (FailoverState ``pending``, ``failing-over`` or
  ``switching-over`` towards it): it is never requested twice. Right before the call, the live
  confirmation of this invocation (signals.confirm_outage) must hold; otherwise the step raises
  Unconfirmed and the lock is given up.
- ``scale``: the DR Auto Scaling group to SCALE_MIN_SIZE / SCALE_DESIRED_CAPACITY (never down),
  right after the failover call: instances boot while Aurora promotes.
- ``wait_writer``: until the DR cluster is the global database's writer and its own Status is
  ``available`` (DescribeDBClusters in the DR region). The global cluster's Status is not waited
  for: after a failover that allowed data loss it stays ``failing-over`` until the old primary's
  region recovers and Aurora rebuilds it.
- ``wait_capacity``: until the DR group has at least the desired number of InService, Healthy
  instances.
- ``notify``: the failover event to every topic, each once. The step is done when one topic took
  it (the primary region's topic may be down with its region); the others are told by later
  invocations once they answer.

notify_only mode skips the first four: it notifies once the outage is confirmed live.
"""

import json
import time

from .aws import AWS_ERRORS, describe_error, error_code, region_of_arn
from .signals import cluster_status, dr_member, global_view, iso

STEP_NAMES = ("failover", "scale", "wait_writer", "wait_capacity", "notify")
ACTING_STEPS = ("failover", "scale", "wait_writer", "wait_capacity")
WAIT_POLL_SECONDS = 5
# Polls in a row that find the DR cluster neither writing nor being promoted: the failover was
# cancelled (or never took), and the next invocation starts it again (after a new confirmation).
LOST_FAILOVER_POLLS = 3
EVENT_SOURCE = "drpair.failover-orchestrator"
SUBJECT_LIMIT = 100


class StepError(Exception):
    """A step could not complete; the next invocation resumes it."""


class Unconfirmed(Exception):
    """The live confirmation did not confirm the outage: the failover must not happen."""

    def __init__(self, confirmation):
        super().__init__("; ".join(confirmation.reasons) or "the outage is not confirmed")
        self.confirmation = confirmation


def failover(run, lock):
    """FailoverGlobalCluster to the DR cluster, allowing data loss: the primary is gone, so there is
    nothing to wait for (a switchover would wait for it)."""
    cfg = run.cfg
    view = global_view(cfg, run.clients)
    dr = dr_member(cfg, view)
    if dr.is_writer:
        return f"{dr.cluster_id} is already the writer"
    if view.under_way_to(dr):
        status, _ = view.transition()
        return f"a failover to {dr.cluster_id} is already under way (FailoverState {status}): not requested again"
    busy = view.transition()
    if busy is not None:
        raise StepError(f"global cluster {cfg.global_cluster} is busy: FailoverState {busy[0]} towards {busy[1]}")
    confirmation = run.live_confirmation()
    lock.body["confirmation"] = confirmation.evidence()
    old = view.writer()
    try:
        run.clients.get("rds", once=True).failover_global_cluster(
            GlobalClusterIdentifier=cfg.global_cluster,
            TargetDbClusterIdentifier=dr.arn,
            AllowDataLoss=True,
        )
    except AWS_ERRORS as exc:
        # A call of an earlier attempt may have gone through after all.
        if error_code(exc) == "InvalidParameterValue" and "already the primary" in describe_error(exc):
            return f"{dr.cluster_id} is already the writer"
        raise
    run.mark(lock, "failover_requested_at")
    source = f"{old.cluster_id} ({old.region})" if old else "no writer"
    return f"FailoverGlobalCluster(AllowDataLoss=true) from {source} to {dr.cluster_id} ({dr.region})"


def scale(run, lock):
    """The DR Auto Scaling group up to the primary's capacity (never down)."""
    cfg = run.cfg
    autoscaling = run.clients.get("autoscaling")
    groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[cfg.dr_asg_name]).get("AutoScalingGroups", [])
    if not groups:
        raise StepError(f"Auto Scaling group {cfg.dr_asg_name} not found in {cfg.dr_region}")
    group = groups[0]
    current = (group["MinSize"], group["DesiredCapacity"], group["MaxSize"])
    desired = cfg.scale_desired_capacity if cfg.scale_desired_capacity is not None else group["MaxSize"]
    min_size = max(group["MinSize"], cfg.scale_min_size or 0)
    desired = max(group["DesiredCapacity"], desired, min_size)
    wanted = (min_size, desired, max(group["MaxSize"], desired))
    lock.body["capacity"] = {"min_size": wanted[0], "desired_capacity": wanted[1], "max_size": wanted[2]}
    if wanted == current:
        return f"{cfg.dr_asg_name} already runs min {current[0]}, desired {current[1]}, max {current[2]}"
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=cfg.dr_asg_name, MinSize=wanted[0], DesiredCapacity=wanted[1], MaxSize=wanted[2]
    )
    return (
        f"{cfg.dr_asg_name} from min {current[0]}/desired {current[1]}/max {current[2]} "
        f"to min {wanted[0]}/desired {wanted[1]}/max {wanted[2]}"
    )


def wait_writer(run, lock):
    """Until the DR cluster is the writer and its own Status is available."""
    cfg = run.cfg
    polls = lost = 0
    while True:
        polls += 1
        view = global_view(cfg, run.clients)
        dr = dr_member(cfg, view)
        status = cluster_status(run.clients, cfg.dr_region, cfg.dr_cluster)
        if dr.is_writer and status == "available":
            run.mark(lock, "dr_writer_at")
            return f"{cfg.dr_cluster} writes and is available after {polls} poll(s) (global cluster {view.status or 'unknown'})"
        lost = 0 if view.failed_over_to(dr) else lost + 1
        if lost >= LOST_FAILOVER_POLLS:
            raise StepError(f"{cfg.dr_cluster} is not the writer and no failover to it is under way any more")
        state = f"{cfg.dr_cluster} {status}, writer: {dr.is_writer}, FailoverState {(view.failover_state or {}).get('Status')}"
        if time.time() + WAIT_POLL_SECONDS > run.deadline:
            raise StepError(f"{cfg.dr_cluster} is not the available writer yet ({state}); the next invocation keeps waiting")
        time.sleep(WAIT_POLL_SECONDS)


def wait_capacity(run, lock):
    """Until the DR group runs at least the desired number of InService, Healthy instances."""
    cfg = run.cfg
    autoscaling = run.clients.get("autoscaling")
    polls = 0
    while True:
        polls += 1
        groups = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[cfg.dr_asg_name]).get("AutoScalingGroups", [])
        if not groups:
            raise StepError(f"Auto Scaling group {cfg.dr_asg_name} not found in {cfg.dr_region}")
        group = groups[0]
        wanted = (lock.body.get("capacity") or {}).get("desired_capacity") or group["DesiredCapacity"]
        ready = sum(
            1
            for i in group.get("Instances", [])
            if i.get("LifecycleState") == "InService" and i.get("HealthStatus", "Healthy") == "Healthy"
        )
        if ready >= wanted:
            run.mark(lock, "dr_capacity_at")
            return f"{cfg.dr_asg_name} runs {ready} InService instance(s) of the {wanted} desired after {polls} poll(s)"
        if time.time() + WAIT_POLL_SECONDS > run.deadline:
            raise StepError(f"{cfg.dr_asg_name} runs {ready} InService instance(s) of the {wanted} desired; the next invocation keeps waiting")
        time.sleep(WAIT_POLL_SECONDS)


def notify(run, lock):
    """The failover event to every topic, each once (the lock records which got it)."""
    if lock.body["mode"] == "notify_only" and not lock.body["notified"]:
        # Nothing was told yet: a notification to fail over needs a live confirmation too.
        lock.body["confirmation"] = run.live_confirmation().evidence()
    told, failures = publish_pending(run, lock)
    if failures and not lock.body["notified"]:
        raise StepError("no topic took the event: " + "; ".join(failures))
    told = ", ".join(lock.body["notified"]) or "no topics configured"
    return f"published to {told}" + (f"; not reached yet: {'; '.join(failures)}" if failures else "")


def pending_topics(cfg, lock):
    return [t for t in cfg.topic_arns if t not in lock.body["notified"]]


def publish_pending(run, lock):
    """Publishes the event to the topics not told yet; (topics told now, failures)."""
    cfg = run.cfg
    told, failures = [], []
    if not pending_topics(cfg, lock):
        return told, failures
    event = failover_event(cfg, lock)
    message = json.dumps(event, indent=2, sort_keys=True)
    for topic in pending_topics(cfg, lock):
        try:
            run.clients.get("sns", region_of_arn(topic)).publish(
                TopicArn=topic,
                Subject=subject(cfg, lock),
                Message=message,
                MessageAttributes={
                    "source": {"DataType": "String", "StringValue": EVENT_SOURCE},
                    "what": {"DataType": "String", "StringValue": event["what"]},
                },
            )
        except AWS_ERRORS as exc:
            failures.append(f"{topic}: {describe_error(exc)}")
            continue
        lock.body["notified"].append(topic)
        lock.body.setdefault("notified_at", {})[topic] = iso(time.time())
        told.append(topic)
        run.save(lock)
    return told, failures


def subject(cfg, lock):
    env = f" {cfg.environment}" if cfg.environment else ""
    if lock.body["mode"] == "notify_only":
        text = f"drpair{env}: {cfg.primary_region} is down - fail over to {cfg.dr_region} now"
    else:
        text = f"drpair{env}: failed over from {cfg.primary_region} to {cfg.dr_region}"
    return text[:SUBJECT_LIMIT]


def failover_event(cfg, lock):
    """The structured event: what happened, when, the evidence, the steps and durations."""
    body = lock.body
    acting = body["mode"] == "automatic"
    if acting:
        summary = (
            f"The primary region {cfg.primary_region} was judged down and the outage confirmed live; the "
            f"Aurora global database {cfg.global_cluster} was failed over to {cfg.dr_cluster} in "
            f"{cfg.dr_region} and {cfg.dr_asg_name} scaled up."
        )
    else:
        summary = (
            f"The primary region {cfg.primary_region} was judged down and the outage confirmed live. Automatic "
            f"failover is off (mode notify_only): fail over with the drpair_failover action (mode = \"failover\")."
        )
    decision = body.get("decision") or {}
    return {
        "source": EVENT_SOURCE,
        "version": 2,
        "what": "failover" if acting else "failover_recommended",
        "summary": summary,
        "environment": cfg.environment,
        "mode": body["mode"],
        "when": body["started_at"],
        "detected_at": decision.get("detected_at"),
        "global_cluster_identifier": cfg.global_cluster,
        "from_region": cfg.primary_region,
        "to_region": cfg.dr_region,
        "dr_cluster_identifier": cfg.dr_cluster,
        "dr_auto_scaling_group": cfg.dr_asg_name,
        "lag_at_failover_ms": body.get("lag_ms"),
        "evidence": decision,
        "confirmation": body.get("confirmation"),
        "timeline": body.get("timeline", {}),
        "steps": [
            {k: s.get(k) for k in ("name", "status", "started_at", "ended_at", "duration_ms", "attempts", "detail")}
            for s in body["steps"]
            if s["name"] != "notify"
        ],
    }


STEPS = {"failover": failover, "scale": scale, "wait_writer": wait_writer, "wait_capacity": wait_capacity, "notify": notify}
