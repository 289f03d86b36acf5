"""The orchestrator's handler against the emulator: an outage fails over exactly once (repeated
and concurrent events included), scales the DR group and notifies both topics; a healthy primary,
a flapping probe or an unconfirmed outage does nothing; a failure part-way is resumed safely."""

import json
import threading

import pytest

from conftest import DR, PRIMARY, alarm_event, scheduled_event
from drpair_failover import orchestrator
from drpair_failover.steps import StepError


class Context:
    aws_request_id = "test-request"

    def get_remaining_time_in_millis(self):
        return 120_000


def invoke(event):
    return orchestrator.handler(event, Context())


def probe(event_id=None):
    return invoke(scheduled_event(event_id))


def outage(stack):
    """The primary down as the orchestrator can see it: the health check fails and the lag
    alarm, which confirms it, is in ALARM."""
    stack.health(False)
    stack.lag_alarm_state("ALARM")


def events(stack, region):
    """The orchestrator's JSON events in the region's queue."""
    return [json.loads(body) for _, body in stack.messages(region)]


def test_outage_fails_over_once_scales_and_notifies_both_topics(stack, emulator):
    stack.replication_lag(850)
    failovers_before = emulator.calls("rds", "FailoverGlobalCluster")
    outage(stack)

    first = probe()
    assert first["action"] == "none", first
    assert "1 failed probe(s) in a row of the 2" in first["reason"]
    assert stack.writer() == PRIMARY

    second = probe()
    assert second["action"] == "failed_over", second
    assert stack.writer() == DR
    assert stack.asg() == (2, 4, 4)

    for region in (PRIMARY, DR):
        got = events(stack, region)
        assert len(got) == 1, got
        event = got[0]
        assert event["source"] == "drpair.failover-orchestrator"
        assert event["what"] == "failover"
        assert event["from_region"] == PRIMARY and event["to_region"] == DR
        assert event["global_cluster_identifier"] == stack.global_cluster
        assert event["lag_at_failover_ms"] == 850
        assert event["evidence"]["consecutive_failed_probes"] == 2
        assert event["evidence"]["confirmed_by"] == [f"lag alarm {stack.lag_alarm} is in ALARM"]
        assert [s["name"] for s in event["steps"]] == ["failover", "wait_writer", "scale"]
        for step in event["steps"]:
            assert step["status"] == "done", step
            assert isinstance(step["duration_ms"], int) and step["duration_ms"] >= 0
            assert step["started_at"] and step["ended_at"]
        assert "FailoverGlobalCluster(AllowDataLoss=true)" in event["steps"][0]["detail"]

    lock = stack.lock()
    assert lock["status"] == "completed"
    assert [s["status"] for s in lock["body"]["steps"]] == ["done"] * 4
    assert sorted(lock["body"]["notified"]) == sorted(stack.topics.values())
    (timeline,) = stack.timelines()
    assert timeline["completed_at"] and timeline["lag_ms"] == 850

    # Repeated events of every kind change nothing: one failover, one message per topic.
    for event in (scheduled_event(), alarm_event(stack.lag_alarm), scheduled_event(), {"drpair": "evaluate"}):
        again = invoke(event)
        assert again["action"] == "none", again
        assert "completed" in again["reason"]
    assert emulator.calls("rds", "FailoverGlobalCluster") - failovers_before == 1
    assert stack.messages(PRIMARY) == [] and stack.messages(DR) == []
    assert len(stack.timelines()) == 1


def test_concurrent_events_fail_over_exactly_once(stack, emulator):
    failovers_before = emulator.calls("rds", "FailoverGlobalCluster")
    outage(stack)
    assert probe()["action"] == "none"

    # The next minute's probe, delivered twice, races alarm events and other probes.
    duplicate = scheduled_event()
    batch = [duplicate, duplicate] + [scheduled_event() for _ in range(3)] + [alarm_event(stack.lag_alarm) for _ in range(3)]
    results, errors = [], []

    def run(event):
        try:
            results.append(invoke(event))
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
    assert emulator.calls("rds", "FailoverGlobalCluster") - failovers_before == 1
    assert len(events(stack, PRIMARY)) == 1
    assert len(events(stack, DR)) == 1


def test_healthy_primary_does_nothing(stack):
    stack.lag_alarm_state("ALARM")
    before = stack.asg()
    for _ in range(4):
        result = probe()
        assert result["action"] == "none", result
        assert "0 failed probe(s)" in result["reason"]
    assert stack.writer() == PRIMARY
    assert stack.asg() == before
    assert stack.lock() is None
    assert stack.messages(PRIMARY) == [] and stack.messages(DR) == []


def test_a_single_flapping_probe_does_nothing(stack):
    stack.lag_alarm_state("ALARM")
    for healthy in (False, True, False, True, False):
        stack.health(healthy)
        result = probe()
        assert result["action"] == "none", result
    # An alarm event between two probes re-evaluates but adds no probe.
    assert invoke(alarm_event(stack.lag_alarm))["action"] == "none"
    assert stack.writer() == PRIMARY
    assert stack.lock() is None
    assert stack.messages(DR) == []


def test_a_duplicated_scheduled_event_is_one_probe(stack):
    outage(stack)
    event = scheduled_event()
    assert probe(event["id"])["action"] == "none"
    assert invoke(event)["action"] == "none"
    assert stack.writer() == PRIMARY


def test_an_unconfirmed_outage_does_nothing(stack):
    stack.health(False)
    for _ in range(3):
        result = probe()
    assert result["action"] == "none"
    assert "no second signal" in result["reason"]
    assert stack.writer() == PRIMARY
    assert stack.lock() is None


def test_an_unreachable_writer_confirms_the_outage(stack):
    stack.health(False)
    stack.primary_cluster_status("inaccessible")
    probe()
    result = probe()
    assert result["action"] == "failed_over", result
    assert result["timeline"]["decision"]["confirmed_by"] == [f"writer {stack.primary_cluster} in {PRIMARY} is inaccessible"]
    assert stack.writer() == DR


def test_a_failure_part_way_is_resumed_without_repeating_steps(stack, emulator):
    failovers_before = emulator.calls("rds", "FailoverGlobalCluster")
    outage(stack)
    probe()
    emulator.fault(error="internal", service="autoscaling", operation="UpdateAutoScalingGroup", region=DR, times=20)
    with pytest.raises(StepError, match="step scale failed"):
        probe()

    lock = stack.lock()
    assert lock["status"] == "in_progress"
    steps = {s["name"]: s for s in lock["body"]["steps"]}
    assert steps["failover"]["status"] == "done" and steps["wait_writer"]["status"] == "done"
    assert steps["scale"]["status"] == "failed" and "InternalFailure" in steps["scale"]["error"]
    assert steps["notify"]["status"] == "pending"
    assert stack.writer() == DR
    assert stack.asg() == (1, 1, 2)
    assert stack.messages(PRIMARY) == [] and stack.messages(DR) == []

    emulator.clear_faults()
    # Any next event resumes: here an alarm event, with no new probe.
    resumed = invoke(alarm_event(stack.lag_alarm))
    assert resumed["action"] == "failed_over", resumed
    steps = {s["name"]: s for s in resumed["timeline"]["steps"]}
    assert steps["failover"]["attempts"] == 1
    assert steps["scale"]["attempts"] == 2 and steps["scale"]["status"] == "done"
    assert resumed["timeline"]["errors"][0]["step"] == "scale"
    assert stack.asg() == (2, 4, 4)
    assert emulator.calls("rds", "FailoverGlobalCluster") - failovers_before == 1
    assert len(events(stack, PRIMARY)) == 1 and len(events(stack, DR)) == 1
    assert invoke(scheduled_event())["action"] == "none"


def test_a_failed_failover_call_is_retried(stack, emulator):
    outage(stack)
    probe()
    emulator.fault(error="internal", service="rds", operation="FailoverGlobalCluster", times=20)
    with pytest.raises(StepError, match="step failover failed"):
        probe()
    assert stack.writer() == PRIMARY
    assert stack.lock()["status"] == "in_progress"

    emulator.clear_faults()
    resumed = probe()
    assert resumed["action"] == "failed_over", resumed
    assert stack.writer() == DR
    assert resumed["timeline"]["steps"][0]["attempts"] == 2


def test_a_topic_in_the_failed_region_does_not_block_the_others(stack, emulator):
    outage(stack)
    probe()
    emulator.fault(error="internal", service="sns", operation="Publish", region=PRIMARY, times=50)
    result = probe()
    assert result["action"] == "failed_over", result
    notify = result["timeline"]["steps"][3]
    assert notify["status"] == "done" and "failed: " + stack.topics[PRIMARY] in notify["detail"]
    assert len(events(stack, DR)) == 1
    assert stack.messages(PRIMARY) == []


def test_no_topic_reachable_is_retried_until_one_is(stack, emulator):
    outage(stack)
    probe()
    emulator.fault(error="internal", service="sns", operation="Publish", times=50)
    with pytest.raises(StepError, match="step notify failed"):
        probe()
    assert stack.writer() == DR
    emulator.clear_faults()
    result = probe()
    assert result["action"] == "failed_over", result
    assert len(events(stack, PRIMARY)) == 1 and len(events(stack, DR)) == 1


def test_notify_only_notifies_once_and_changes_nothing(stack, monkeypatch):
    stack.setenv(monkeypatch, MODE="notify_only")
    before = stack.asg()
    outage(stack)
    probe()
    result = probe()
    assert result["action"] == "notified", result
    assert stack.writer() == PRIMARY
    assert stack.asg() == before
    steps = {s["name"]: s["status"] for s in result["timeline"]["steps"]}
    assert steps == {"failover": "skipped", "wait_writer": "skipped", "scale": "skipped", "notify": "done"}
    for region in (PRIMARY, DR):
        (event,) = events(stack, region)
        assert event["what"] == "failover_recommended"
        assert "drpair_failover action" in event["summary"]

    assert probe()["action"] == "none"
    assert stack.messages(DR) == []

    # The primary recovers: automation re-arms, and a later outage is reported again.
    stack.health(True)
    stack.lag_alarm_state("OK")
    assert probe()["action"] == "rearmed"
    assert stack.lock() is None
    outage(stack)
    probe()
    assert probe()["action"] == "notified"
    assert len(stack.timelines()) == 2


def test_switching_to_automatic_during_a_notified_outage_fails_over(stack, monkeypatch):
    stack.setenv(monkeypatch, MODE="notify_only")
    outage(stack)
    probe()
    assert probe()["action"] == "notified"
    stack.setenv(monkeypatch, MODE="automatic")
    result = probe()
    assert result["action"] == "failed_over", result
    assert stack.writer() == DR


def test_automation_rearms_after_a_failback(stack, emulator):
    outage(stack)
    probe()
    assert probe()["action"] == "failed_over"
    # Still down, or already back but not the writer: stays done.
    stack.health(True)
    assert probe()["action"] == "none"
    # An operator fails back (the drpair_failover action's failback is a switchover).
    primary_arn = f"arn:aws:rds:{PRIMARY}:123456789012:cluster:{stack.primary_cluster}"
    emulator.client("rds", PRIMARY).switchover_global_cluster(GlobalClusterIdentifier=stack.global_cluster, TargetDbClusterIdentifier=primary_arn)
    assert probe()["action"] == "rearmed"
    assert stack.lock() is None
    assert len(stack.timelines()) == 1


def test_route53_unreachable_falls_back_to_probing_the_endpoint(stack, emulator, monkeypatch):
    from http.server import BaseHTTPRequestHandler, HTTPServer

    status = {"code": 200}

    class Endpoint(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stack.setenv(monkeypatch, PRIMARY_ENDPOINT_URL=f"http://127.0.0.1:{server.server_port}/health")
        stack.lag_alarm_state("ALARM")
        emulator.fault(error="internal", service="route53", operation="GetHealthCheckStatus")
        assert probe()["action"] == "none"
        assert probe()["action"] == "none"
        status["code"] = 503
        probe()
        result = probe()
        assert result["action"] == "failed_over", result
        sources = {p["source"] for p in result["timeline"]["decision"]["probes"]}
        assert sources == {"endpoint"}
        assert "Route 53 did not answer" in result["timeline"]["decision"]["probes"][0]["detail"]
    finally:
        server.shutdown()


def test_route53_unreachable_without_an_endpoint_cannot_tell(stack, emulator):
    outage(stack)
    emulator.fault(error="internal", service="route53", operation="GetHealthCheckStatus")
    for _ in range(3):
        result = probe()
        assert result["action"] == "none", result
    assert stack.writer() == PRIMARY


def test_other_events_are_ignored(stack):
    assert invoke({"source": "aws.s3", "detail-type": "Object Created"})["action"] == "ignored"
    assert invoke("not even an object")["action"] == "ignored"


def test_failed_probes_far_apart_are_not_consecutive():
    from drpair_failover.orchestrator import failed_streak

    now = 10_000.0
    fail = lambda at: {"epoch": at, "healthy": False}  # noqa: E731
    assert failed_streak([fail(now - 120), fail(now - 60), fail(now)], now) == 3
    # The orchestrator was off for an hour between the two.
    assert failed_streak([fail(now - 3600), fail(now)], now) == 1
    # The newest probe is old: nothing counts.
    assert failed_streak([fail(now - 900), fail(now - 840)], now) == 0
    # A probe that could not tell neither counts nor breaks the streak.
    assert failed_streak([fail(now - 120), {"epoch": now - 60, "healthy": None}, fail(now)], now) == 2
    assert failed_streak([fail(now - 60), {"epoch": now - 30, "healthy": True}, fail(now)], now) == 1
