"""The orchestrator's handler against the emulator: a regional outage fails over exactly once
(repeated and concurrent events included), scales the DR group, tells both topics (the primary
region's once it answers again) and uses only the DR region's APIs; a failure at any step is
resumed without repeating what was done; a failover already pending is never requested again;
done means the DR cluster writes and the DR group runs its capacity, whatever the global
cluster's status."""

import threading

import pytest

from conftest import DR, PRIMARY, alarm_event, scheduled_event
from drpair_failover.steps import StepError
from helpers import diff_calls, events, forge_lock, invoke, minute, probe

STEPS = ["failover", "scale", "wait_writer", "wait_capacity", "notify"]


def fail_over(stack):
    """An outage right after a healthy scheduled probe, and the two scheduled probes that follow."""
    assert probe(stack)["action"] == "none"
    stack.outage()
    first = minute(stack)
    assert first["action"] == "none", first
    assert "1 failed probe(s) in a row of the 2" in first["reason"]
    return minute(stack)


def test_an_outage_fails_over_once_scales_notifies_and_uses_only_the_dr_region(stack, emulator):
    stack.replication.require()
    before = emulator.failovers()
    assert probe(stack)["action"] == "none"
    stack.outage()
    primary_calls = emulator.call_rows(PRIMARY)

    first = minute(stack)
    assert first["action"] == "none", first
    assert "1 failed probe(s) in a row of the 2" in first["reason"]
    assert stack.writer() == PRIMARY

    second = minute(stack)
    assert second["action"] == "failed_over", second
    assert stack.writer() == DR
    assert stack.asg() == (2, 4, 4)
    assert emulator.failovers() - before == 1

    # During the outage: only the DR region's APIs, and the fail-fast publish to the primary's topic.
    assert set(diff_calls(primary_calls, emulator.call_rows(PRIMARY))) <= {("sns", "Publish")}

    timeline = second["timeline"]
    decision = timeline["decision"]
    assert decision["consecutive_failed_probes"] == 2 and decision["trigger"] == "probe"
    confirmation = timeline["confirmation"]
    assert confirmation["confirmed"] is True
    assert len(confirmation["probes"]) == 3 and not any(p["healthy"] for p in confirmation["probes"])
    spacing = [b["epoch"] - a["epoch"] for a, b in zip(confirmation["probes"], confirmation["probes"][1:])]
    assert all(s >= 5 for s in spacing), spacing
    assert confirmation["replication"]["stalled"] is True
    assert "no AuroraGlobalDBReplicationLag datapoint" in confirmation["replication"]["reason"]
    assert [s["name"] for s in timeline["steps"]] == STEPS
    assert [s["status"] for s in timeline["steps"]] == ["done"] * 5
    assert "FailoverGlobalCluster(AllowDataLoss=true)" in timeline["steps"][0]["detail"]
    for milestone in ("detected_at", "confirmed_at", "failover_requested_at", "dr_writer_at", "dr_capacity_at", "completed_at"):
        assert timeline["timeline"][milestone], milestone
    # The primary region's topic is down with its region; the DR topic has the event.
    assert timeline["notified"] == [stack.topics[DR]]
    (event,) = events(stack, DR)
    assert event["source"] == "drpair.failover-orchestrator" and event["what"] == "failover"
    assert event["from_region"] == PRIMARY and event["to_region"] == DR
    assert event["global_cluster_identifier"] == stack.global_cluster
    assert event["evidence"]["consecutive_failed_probes"] == 2
    assert event["confirmation"]["confirmed"] is True
    assert [s["name"] for s in event["steps"]] == STEPS[:4]

    # Repeated events of every kind during the outage change nothing.
    for again in (alarm_event(stack.lag_alarm), scheduled_event(), {"drpair": "evaluate"}):
        result = invoke(stack, again)
        assert result["action"] == "none", result
        assert "completed" in result["reason"]
    assert emulator.failovers() - before == 1

    # us-east-1 recovers: its topic is told, once.
    stack.recover()
    assert minute(stack)["action"] == "none"
    (late,) = events(stack, PRIMARY)
    assert late["what"] == "failover" and late["when"] == timeline["started_at"]
    assert minute(stack)["action"] == "none"
    assert stack.messages(PRIMARY) == [] and stack.messages(DR) == []
    lock = stack.lock()
    assert lock["status"] == "completed"
    assert sorted(lock["body"]["notified"]) == sorted(stack.topics.values())
    (recorded,) = stack.timelines()
    assert sorted(recorded["notified"]) == sorted(stack.topics.values())
    assert emulator.failovers() - before == 1


def test_concurrent_events_fail_over_exactly_once(stack, emulator):
    stack.replication.require()
    before = emulator.failovers()
    assert probe(stack)["action"] == "none"
    stack.outage()
    assert minute(stack)["action"] == "none"
    stack.clock.advance(60)

    # The next minute's probe, delivered twice, races alarm events and other invocations.
    duplicate = scheduled_event()
    batch = [duplicate, duplicate] + [scheduled_event() for _ in range(3)] + [alarm_event(stack.lag_alarm) for _ in range(3)]
    results, errors = [], []

    def run(event):
        try:
            results.append(invoke(stack, event))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in batch]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    actions = sorted(r["action"] for r in results)
    assert actions.count("failed_over") == 1, results
    assert set(actions) == {"failed_over", "none"}, results
    assert stack.writer() == DR
    assert emulator.failovers() - before == 1
    assert len(events(stack, DR)) == 1


def test_a_healthy_primary_does_nothing(stack, emulator):
    before = (emulator.failovers(), stack.asg())
    for _ in range(4):
        result = minute(stack)
        assert result["action"] == "none", result
        assert "0 failed probe(s)" in result["reason"]
    assert invoke(stack, alarm_event(stack.lag_alarm))["action"] == "none"
    assert (emulator.failovers(), stack.asg()) == before
    assert stack.writer() == PRIMARY
    assert stack.lock() is None
    assert stack.messages(PRIMARY) == [] and stack.messages(DR) == []
    assert len(stack.probes()) == 4


def test_lag_above_the_threshold_for_the_stall_time_confirms(stack, emulator, monkeypatch):
    """The primary's endpoint does not answer and the DR cluster's lag stays above
    LAG_THRESHOLD_MS (here 0: any lag) for 120 s: replication counts as stalled."""
    stack.replication.require()
    stack.setenv(monkeypatch, LAG_THRESHOLD_MS="0")
    before = emulator.failovers()
    stack.endpoint.set("drop")
    result = None
    for _ in range(4):
        result = minute(stack)
        if result["action"] != "none":
            break
    assert result["action"] == "failed_over", result
    replication = result["timeline"]["confirmation"]["replication"]
    assert replication["stalled"] is True and "above 0 ms" in replication["reason"], replication
    assert emulator.failovers() - before == 1
    # No regional outage here: both topics take the event at once.
    assert len(events(stack, PRIMARY)) == 1 and len(events(stack, DR)) == 1


def test_an_outage_just_after_a_lag_datapoint_is_confirmed_within_the_stall_time(stack, emulator):
    """The DR cluster's last datapoint came a second before the outage and the second failed
    probe comes 91 s after it: the confirmation keeps probing until the datapoint is 120 s old,
    instead of leaving the failover to the next scheduled probe."""
    stack.replication.require()
    assert probe(stack)["action"] == "none"
    stack.clock.advance(50)
    # The newest datapoint to the second; Aurora publishes every modeled minute: the next one,
    # and one second after it.
    latest, _ = stack.replication.latest(stack.dr_cluster, 70, period=1)
    tick = latest + 60 * ((stack.clock.now() - latest) // 60 + 1)
    stack.clock.advance(tick + 1 - stack.clock.now())
    assert stack.replication.latest(stack.dr_cluster, 5, period=1)[0] >= tick - 1
    emulator.outage(PRIMARY)
    stack.endpoint.set("drop")
    stack.clock.advance(30)
    assert probe(stack)["action"] == "none"
    second = minute(stack)
    assert second["action"] == "failed_over", second
    confirmation = second["timeline"]["confirmation"]
    assert len(confirmation["probes"]) > 3 and not any(p["healthy"] for p in confirmation["probes"])
    assert "no AuroraGlobalDBReplicationLag datapoint" in confirmation["replication"]["reason"]
    import datetime

    confirmed = datetime.datetime.fromisoformat(confirmation["at"].replace("Z", "+00:00")).timestamp()
    assert tick + 120 <= confirmed <= tick + 130, (tick, confirmed)


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_each_step_is_resumed_without_repeating_the_failover(stack, emulator, step):
    stack.replication.require()
    before = emulator.failovers()
    assert probe(stack)["action"] == "none"
    stack.outage()
    assert minute(stack)["action"] == "none"
    faults = {
        "failover": dict(service="rds", operation="FailoverGlobalCluster", region=DR),
        "scale": dict(service="autoscaling", operation="UpdateAutoScalingGroup", region=DR),
        "wait_writer": dict(service="rds", operation="DescribeDBClusters", region=DR),
        # The second DescribeAutoScalingGroups: the scale step's is the first.
        "wait_capacity": dict(service="autoscaling", operation="DescribeAutoScalingGroups", region=DR, nth=2),
        "notify": dict(service="sns", operation="Publish"),
    }
    emulator.fault(error="internal", times=50, **faults[step])
    with pytest.raises(StepError, match=f"step {step} failed"):
        minute(stack)

    lock = stack.lock()
    assert lock["status"] == "in_progress"
    steps = {s["name"]: s for s in lock["body"]["steps"]}
    assert steps[step]["status"] == "failed" and "InternalFailure" in steps[step]["error"]
    for name in STEPS[: STEPS.index(step)]:
        assert steps[name]["status"] == "done", name
    for name in STEPS[STEPS.index(step) + 1 :]:
        assert steps[name]["status"] == "pending", name
    assert stack.writer() == (PRIMARY if step == "failover" else DR)
    assert stack.messages(DR) == []

    emulator.clear_faults()
    requested = emulator.failovers()
    # Any next event resumes: here an alarm event, which adds no probe.
    resumed = invoke(stack, alarm_event(stack.lag_alarm))
    assert resumed["action"] == "failed_over", resumed
    steps = {s["name"]: s for s in resumed["timeline"]["steps"]}
    assert all(s["status"] == "done" for s in steps.values()), steps
    assert steps[step]["attempts"] == 2
    assert resumed["timeline"]["errors"][0]["step"] == step
    assert stack.writer() == DR and stack.asg() == (2, 4, 4)
    if step == "failover":
        # The failed call reached nothing; the resumed step confirmed again and called once.
        assert emulator.failovers() - requested == 1
        assert len(resumed["timeline"]["confirmation"]["probes"]) == 3
    else:
        assert emulator.failovers() - before == 1
        assert steps["failover"]["attempts"] == 1
    assert len(events(stack, DR)) == 1
    assert invoke(stack, scheduled_event())["action"] == "none"
    assert stack.messages(DR) == []


def test_no_topic_reachable_is_retried_until_one_is(stack, emulator):
    stack.replication.require()
    emulator.fault(error="internal", service="sns", operation="Publish", region=DR, times=50)
    with pytest.raises(StepError, match="step notify failed"):
        fail_over(stack)
    assert stack.writer() == DR
    emulator.clear_faults()
    result = invoke(stack, alarm_event(stack.lag_alarm))
    assert result["action"] == "failed_over", result
    assert len(events(stack, DR)) == 1


# --- a failover already under way ---------------------------------------------------------------


@pytest.fixture
def global_view_hooks(monkeypatch):
    """Functions that may rewrite what DescribeGlobalClusters answers the orchestrator (AWS states
    the emulator does not show at will)."""
    from drpair_failover import aws

    hooks = []
    original = aws.Clients.get

    def get(self, service, region=None, once=False):
        client = original(self, service, region, once)
        if service == "rds" and not getattr(client, "_test_hooked", False):
            client._test_hooked = True

            def rewrite(parsed, **kwargs):
                for hook in list(hooks):
                    hook(parsed)

            client.meta.events.register("after-call.rds.DescribeGlobalClusters", rewrite)
        return client

    monkeypatch.setattr(aws.Clients, "get", get)
    return hooks


def pending_failover(stack, polls):
    """For the next `polls` DescribeGlobalClusters answers: a failover to the DR cluster is
    `pending` (AWS verifies both clusters before it starts), the DR cluster does not write yet."""
    left = {"n": polls}

    def hook(parsed):
        if left["n"] <= 0:
            return
        left["n"] -= 1
        found = parsed["GlobalClusters"][0]
        for member in found["GlobalClusterMembers"]:
            member["IsWriter"] = member["DBClusterArn"] == stack.primary_cluster_arn
        found["Status"] = "failing-over"
        found["FailoverState"] = {
            "Status": "pending",
            "FromDbClusterArn": stack.primary_cluster_arn,
            "ToDbClusterArn": stack.dr_cluster_arn,
            "IsDataLossAllowed": True,
        }

    return hook, left


def test_a_pending_failover_is_not_requested_again(stack, emulator, global_view_hooks):
    stack.replication.require()
    before = emulator.failovers()
    hook, _ = pending_failover(stack, polls=1000)
    global_view_hooks.append(hook)
    result = fail_over(stack)
    assert result["action"] == "none", result
    assert "already under way (FailoverState pending): not requested again" in result["reason"]
    assert emulator.failovers() == before
    assert stack.lock() is None


def test_a_resumed_failover_whose_call_went_through_is_not_requested_again(stack, emulator, global_view_hooks):
    """An invocation called FailoverGlobalCluster and vanished before it recorded it (the lock
    says `running`): the next one sees the failover pending and waits for it."""
    stack.replication.require()
    assert probe(stack)["action"] == "none"
    stack.outage()
    emulator.client("rds", DR).failover_global_cluster(
        GlobalClusterIdentifier=stack.global_cluster, TargetDbClusterIdentifier=stack.dr_cluster_arn, AllowDataLoss=True
    )
    requested = emulator.failovers()
    forge_lock(stack, lease_until=0, steps={"failover": "running"})
    hook, left = pending_failover(stack, polls=4)
    global_view_hooks.append(hook)

    result = invoke(stack, alarm_event(stack.lag_alarm))
    assert result["action"] == "failed_over", result
    steps = {s["name"]: s for s in result["timeline"]["steps"]}
    assert "already under way (FailoverState pending): not requested again" in steps["failover"]["detail"]
    assert left["n"] == 0  # the writer was waited for while pending
    assert emulator.failovers() == requested
    assert stack.asg() == (2, 4, 4)


def test_done_when_the_dr_cluster_writes_though_the_global_cluster_stays_failing_over(stack, emulator, global_view_hooks):
    """After a failover that allowed data loss, the global cluster stays `failing-over` until the
    old primary's region recovers: the orchestrator is done without it."""
    stack.replication.require()

    def stuck(parsed):
        found = parsed["GlobalClusters"][0]
        dr_writes = any(m["IsWriter"] and m["DBClusterArn"] == stack.dr_cluster_arn for m in found["GlobalClusterMembers"])
        if dr_writes:
            found["Status"] = "failing-over"
            found["FailoverState"] = {
                "Status": "failing-over",
                "FromDbClusterArn": stack.primary_cluster_arn,
                "ToDbClusterArn": stack.dr_cluster_arn,
                "IsDataLossAllowed": True,
            }

    global_view_hooks.append(stuck)
    before = emulator.failovers()
    result = fail_over(stack)
    assert result["action"] == "failed_over", result
    steps = {s["name"]: s for s in result["timeline"]["steps"]}
    assert "(global cluster failing-over)" in steps["wait_writer"]["detail"]
    assert steps["wait_capacity"]["status"] == "done"
    assert len(events(stack, DR)) == 1
    for _ in range(3):
        assert minute(stack)["action"] == "none"
    assert emulator.failovers() - before == 1
    assert stack.lock()["status"] == "completed"


def test_on_aws_timing_the_outage_completes_while_the_global_cluster_is_failing_over(stack, emulator):
    """The same on the emulator's model of AWS's timing: promotion and instance boot take their
    typical durations, and the global cluster stays failing-over while us-east-1 is down."""
    stack.replication.require()
    emulator.timing("aws")
    before = emulator.failovers()
    result = fail_over(stack)
    assert result["action"] == "failed_over", result
    assert stack.writer() == DR
    assert emulator.failovers() - before == 1
    marks = result["timeline"]["timeline"]
    status, _ = stack.global_status()
    assert status == "failing-over", f"after a data-loss failover the emulator's global cluster is {status!r}, not failing-over"
    import datetime

    def at(name):
        return datetime.datetime.fromisoformat(marks[name].replace("Z", "+00:00")).timestamp()

    assert at("dr_writer_at") - at("failover_requested_at") >= 55, marks


# --- notify_only, re-arming --------------------------------------------------------------------


def test_notify_only_notifies_once_and_changes_nothing(stack, monkeypatch, emulator):
    stack.replication.require()
    stack.setenv(monkeypatch, MODE="notify_only")
    before = (emulator.failovers(), stack.asg())
    result = fail_over(stack)
    assert result["action"] == "notified", result
    assert stack.writer() == PRIMARY
    assert (emulator.failovers(), stack.asg()) == before
    steps = {s["name"]: s["status"] for s in result["timeline"]["steps"]}
    assert steps == {"failover": "skipped", "scale": "skipped", "wait_writer": "skipped", "wait_capacity": "skipped", "notify": "done"}
    (event,) = events(stack, DR)
    assert event["what"] == "failover_recommended"
    assert "drpair_failover action" in event["summary"]
    assert event["confirmation"]["confirmed"] is True

    assert minute(stack)["action"] == "none"
    assert stack.messages(DR) == []

    # The primary recovers: automation re-arms (a recommendation is not sent late), and a later
    # outage is reported again.
    stack.recover()
    assert minute(stack)["action"] == "rearmed"
    assert stack.lock() is None
    assert stack.messages(PRIMARY) == []
    stack.outage()
    minute(stack)
    assert minute(stack)["action"] == "notified"
    assert len(stack.timelines()) == 2


def test_switching_to_automatic_during_a_notified_outage_fails_over(stack, monkeypatch, emulator):
    stack.replication.require()
    stack.setenv(monkeypatch, MODE="notify_only")
    assert fail_over(stack)["action"] == "notified"
    stack.setenv(monkeypatch, MODE="automatic")
    before = emulator.failovers()
    result = minute(stack)
    assert result["action"] == "failed_over", result
    assert stack.writer() == DR
    assert emulator.failovers() - before == 1


def test_automation_rearms_after_a_failback_reading_only_the_dr_region(stack, emulator):
    stack.replication.require()
    assert fail_over(stack)["action"] == "failed_over"
    stack.recover()
    # The primary answers again but the DR cluster still writes: stays done.
    assert minute(stack)["action"] == "none"
    # An operator fails back (the drpair_failover action's failback is a switchover).
    emulator.client("rds", PRIMARY).switchover_global_cluster(GlobalClusterIdentifier=stack.global_cluster, TargetDbClusterIdentifier=stack.primary_cluster_arn)
    stack.clock.advance(60)
    primary_calls = emulator.call_rows(PRIMARY)
    assert probe(stack)["action"] == "rearmed"
    assert diff_calls(primary_calls, emulator.call_rows(PRIMARY)) == {}
    assert stack.lock() is None
    assert len(stack.timelines()) == 1


def test_other_events_are_ignored(stack):
    assert invoke(stack, {"source": "aws.s3", "detail-type": "Object Created"})["action"] == "ignored"
    assert invoke(stack, "not even an object")["action"] == "ignored"
