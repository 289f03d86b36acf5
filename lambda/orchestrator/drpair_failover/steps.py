"""The steps of a failover. Each looks at what AWS has before it acts, so an invocation resuming a
failover after a failure part-way repeats nothing that was done."""

import json
import time

from .aws import AWS_ERRORS, describe_error, error_code, region_of_arn
from .signals import cluster_status, global_view

# In order. notify_only mode skips the first three.
STEP_NAMES = ("failover", "wait_writer", "scale", "notify")
ACTING_STEPS = ("failover", "wait_writer", "scale")
WAIT_POLL_SECONDS = 5
TRANSITIONS = ("failing-over", "switching-over")
EVENT_SOURCE = "drpair.failover-orchestrator"
SUBJECT_LIMIT = 100


class StepError(Exception):
    """A step could not complete; the next invocation resumes it."""


def failover(run, lock):
    """FailoverGlobalCluster to the DR cluster, allowing data loss: the primary is gone, so there is
    nothing to wait for (a switchover would wait for it)."""
    cfg = run.cfg
    view = global_view(cfg, run.clients)
    dr = view.member(cfg.dr_region, cfg.dr_cluster)
    if dr is None:
        raise StepError(f"{cfg.dr_cluster} ({cfg.dr_region}) is not a member of global cluster {cfg.global_cluster}")
    if dr.is_writer:
        return f"{dr.cluster_id} is already the writer"
    under_way = view.failover_state or {}
    if view.status in TRANSITIONS or under_way.get("Status") in TRANSITIONS:
        if under_way.get("ToDbClusterArn") in (None, dr.arn):
            return f"a failover to {dr.cluster_id} is already under way"
        raise StepError(f"global cluster {cfg.global_cluster} is {view.status} towards {under_way.get('ToDbClusterArn')}")
    old = view.writer()
    try:
        run.clients.get("rds").failover_global_cluster(
            GlobalClusterIdentifier=cfg.global_cluster,
            TargetDbClusterIdentifier=dr.arn,
            AllowDataLoss=True,
        )
    except AWS_ERRORS as exc:
        # A call of an earlier attempt may have gone through after all.
        if error_code(exc) == "InvalidParameterValue" and "already the primary" in describe_error(exc):
            return f"{dr.cluster_id} is already the writer"
        raise
    source = f"{old.cluster_id} ({old.region})" if old else "no writer"
    return f"FailoverGlobalCluster(AllowDataLoss=true) from {source} to {dr.cluster_id} ({dr.region})"


def wait_writer(run, lock):
    """Until the DR cluster is the global database's writer and available."""
    cfg = run.cfg
    polls = 0
    while True:
        polls += 1
        view = global_view(cfg, run.clients)
        dr = view.member(cfg.dr_region, cfg.dr_cluster)
        status = cluster_status(run.clients, cfg.dr_region, cfg.dr_cluster)
        if dr is not None and dr.is_writer and view.status == "available" and status == "available":
            return f"{cfg.dr_cluster} writes (global cluster available) after {polls} poll(s)"
        state = f"global cluster {view.status}, {cfg.dr_cluster} {status}, writer: {dr is not None and dr.is_writer}"
        if time.time() + WAIT_POLL_SECONDS > run.deadline:
            raise StepError(f"{cfg.dr_cluster} is not the writer yet ({state}); the next invocation keeps waiting")
        time.sleep(WAIT_POLL_SECONDS)


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
    if wanted == current:
        return f"{cfg.dr_asg_name} already runs min {current[0]}, desired {current[1]}, max {current[2]}"
    autoscaling.update_auto_scaling_group(
        AutoScalingGroupName=cfg.dr_asg_name, MinSize=wanted[0], DesiredCapacity=wanted[1], MaxSize=wanted[2]
    )
    return (
        f"{cfg.dr_asg_name} from min {current[0]}/desired {current[1]}/max {current[2]} "
        f"to min {wanted[0]}/desired {wanted[1]}/max {wanted[2]}"
    )


def notify(run, lock):
    """The failover event to every topic, each once (the lock records which got it)."""
    cfg = run.cfg
    event = failover_event(cfg, lock)
    message = json.dumps(event, indent=2, sort_keys=True)
    failures = []
    for topic in cfg.topic_arns:
        if topic in lock.body["notified"]:
            continue
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
        run.save(lock)
    if failures and not lock.body["notified"]:
        raise StepError("no topic took the event: " + "; ".join(failures))
    told = ", ".join(lock.body["notified"]) or "no topics configured"
    return f"published to {told}" + (f"; failed: {'; '.join(failures)}" if failures else "")


def subject(cfg, lock):
    env = f" {cfg.environment}" if cfg.environment else ""
    if lock.body["mode"] == "notify_only":
        text = f"drpair{env}: {cfg.primary_region} is down - fail over to {cfg.dr_region} now"
    else:
        text = f"drpair{env}: failed over from {cfg.primary_region} to {cfg.dr_region}"
    return text[:SUBJECT_LIMIT]


def failover_event(cfg, lock):
    """The structured event: what happened, when, the lag at failover, the steps and durations."""
    body = lock.body
    acting = body["mode"] == "automatic"
    if acting:
        summary = (
            f"The primary region {cfg.primary_region} was judged down; the Aurora global database "
            f"{cfg.global_cluster} was failed over to {cfg.dr_cluster} in {cfg.dr_region} and "
            f"{cfg.dr_asg_name} scaled up."
        )
    else:
        summary = (
            f"The primary region {cfg.primary_region} was judged down. Automatic failover is off "
            f"(mode notify_only): fail over with the drpair_failover action (mode = \"failover\")."
        )
    return {
        "source": EVENT_SOURCE,
        "version": 1,
        "what": "failover" if acting else "failover_recommended",
        "summary": summary,
        "environment": cfg.environment,
        "mode": body["mode"],
        "when": body["started_at"],
        "detected_at": body["decision"]["detected_at"],
        "global_cluster_identifier": cfg.global_cluster,
        "from_region": cfg.primary_region,
        "to_region": cfg.dr_region,
        "dr_cluster_identifier": cfg.dr_cluster,
        "dr_auto_scaling_group": cfg.dr_asg_name,
        "lag_at_failover_ms": body.get("lag_ms"),
        "evidence": body["decision"],
        "steps": [
            {k: s.get(k) for k in ("name", "status", "started_at", "ended_at", "duration_ms", "attempts", "detail")}
            for s in body["steps"]
            if s["name"] != "notify"
        ],
    }


STEPS = {"failover": failover, "wait_writer": wait_writer, "scale": scale, "notify": notify}
