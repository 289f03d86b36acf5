"""Nothing but an outage makes the orchestrator fail over: not a brownout (the primary's endpoint
flapping while the database replicates), and nothing anyone allowed to write the state table,
set alarm states or invoke the function could forge: a probe history written by hand, a lock item
written by hand (in any state), an alarm set to ALARM by hand, a burst of direct invokes shaped
like the schedule's. Each test counts FailoverGlobalCluster calls with the emulator's
/_drpair/calls."""

import json

import pytest

from conftest import DR, PRIMARY, alarm_event
from helpers import forge_history, forge_lock, invoke, minute, probe


def untouched(stack, emulator, failovers, asg):
    assert emulator.failovers() == failovers, "FailoverGlobalCluster was called"
    assert stack.writer() == PRIMARY
    assert stack.asg() == asg
    assert stack.messages(PRIMARY) == [] and stack.messages(DR) == []


def test_a_brownout_never_fails_over(stack, emulator):
    stack.replication.require()
    before = (emulator.failovers(), stack.asg())
    results = []
    # Down for one, two and three probes in a row, and a 503 for a while: the database replicates.
    for mode in ("error", "up", "drop", "drop", "up", "error", "error", "error", "up", "drop", "drop"):
        stack.endpoint.set(mode)
        results.append(minute(stack))
        results.append(invoke(stack, alarm_event(stack.lag_alarm)))
    assert all(r["action"] == "none" for r in results), [r for r in results if r["action"] != "none"]
    confirmed = [r for r in results if "live confirmation" in r["reason"]]
    assert confirmed, results
    assert all("replicates" in r["reason"] for r in confirmed), confirmed
    untouched(stack, emulator, *before)
    assert stack.lock() is None


def test_a_probe_history_written_by_hand_does_not_fail_over(stack, emulator):
    stack.replication.require()
    before = (emulator.failovers(), stack.asg())
    # Failed probes up to 10 s ago: the next scheduled probe is too close to count.
    forge_history(stack, failures=5, newest_age=10)
    result = probe(stack)
    assert result["action"] == "none" and "live confirmation does not confirm" in result["reason"], result
    result = invoke(stack, alarm_event(stack.lag_alarm))
    assert result["action"] == "none" and "live confirmation does not confirm" in result["reason"], result

    # A brownout at that moment changes nothing: replication is what the forger cannot write.
    stack.endpoint.set("error")
    result = probe(stack)
    assert result["action"] == "none" and "replicates" in result["reason"], result
    stack.endpoint.set("up")

    # Probes stamped in the future (to stop the counting for good) are not believed.
    forge_history(stack, failures=5, newest_age=-10_000)
    result = minute(stack)
    assert result["action"] == "none", result
    history = stack.probes()
    assert [p["healthy"] for p in history] == [True]
    untouched(stack, emulator, *before)
    assert stack.lock() is None


LOCKS = {
    "in_progress, lease 0": dict(),
    "claims the failover was made": dict(steps={"failover": "done", "scale": "done", "wait_writer": "done"}),
    "lease a century away": dict(lease_until=4_000_000_000),
    "notify_only": dict(mode="notify_only"),
    "completed": dict(status="completed", steps={n: "done" for n in ("failover", "scale", "wait_writer", "wait_capacity", "notify")}),
}


@pytest.mark.parametrize("forged", list(LOCKS) + ["mangled steps", "not a lock"])
def test_a_lock_written_by_hand_does_not_fail_over(stack, emulator, forged):
    stack.replication.require()
    before = (emulator.failovers(), stack.asg())
    if forged == "not a lock":
        stack.put_item({"pk": {"S": "lock"}, "status": {"S": "failing-over-now"}, "lease_until": {"S": "never"}})
    elif forged == "mangled steps":
        body = {"mode": "automatic", "steps": [{"name": "failover", "status": 7, "attempts": "many"}, "scale"], "notified": "everyone"}
        stack.put_item(
            {
                "pk": {"S": "lock"},
                "status": {"S": "in_progress"},
                "attempt": {"N": "3"},
                "owner": {"S": "forged"},
                "lease_until": {"N": "0"},
                "body": {"S": json.dumps(body)},
            }
        )
    else:
        forge_lock(stack, **LOCKS[forged])
    first = probe(stack)
    expected = {"completed": "rearmed", "not a lock": "none"}.get(forged, "abandoned")
    assert first["action"] == expected, first
    if expected == "abandoned":
        assert "live confirmation does not confirm" in first["reason"], first
    for result in (invoke(stack, alarm_event(stack.lag_alarm)), minute(stack)):
        assert result["action"] == "none", result
    untouched(stack, emulator, *before)
    assert stack.lock() is None
    records = stack.abandoned()
    if forged == "completed":
        assert records == []
    else:
        assert len(records) == 1, records


def test_live_probes_protect_even_when_the_lag_metric_looks_stalled(stack, emulator, monkeypatch):
    """Were the DR cluster's lag metric missing on a healthy primary (a metrics delay), a forged
    lock still does not fail over: the direct probes answer."""
    from drpair_failover import signals

    def stalled(cfg, clients, now=None):
        return signals.Replication(True, "no datapoint (test: a metrics delay)")

    monkeypatch.setattr(signals, "replication", stalled)
    before = (emulator.failovers(), stack.asg())
    forge_lock(stack)
    forge_history(stack, failures=5, newest_age=10)
    result = invoke(stack, alarm_event(stack.lag_alarm))
    assert result["action"] == "abandoned", result
    assert "the primary answers" in result["reason"]
    result = probe(stack)
    assert result["action"] == "none" and "the primary answers" in result["reason"], result
    untouched(stack, emulator, *before)


def test_an_alarm_set_by_hand_does_not_fail_over(stack, emulator):
    stack.replication.require()
    before = (emulator.failovers(), stack.asg())
    stack.lag_alarm_state("ALARM")
    for _ in range(3):
        result = invoke(stack, alarm_event(stack.lag_alarm))
        assert result["action"] == "none" and "0 failed probe(s)" in result["reason"], result
    # One failed probe, then alarm events: they add no probe.
    stack.endpoint.set("error")
    assert minute(stack)["action"] == "none"
    for _ in range(3):
        result = invoke(stack, alarm_event(stack.lag_alarm))
        assert result["action"] == "none" and "1 failed probe(s)" in result["reason"], result
    assert len(stack.probes()) == 1
    untouched(stack, emulator, *before)


def test_a_burst_of_direct_invokes_shaped_like_the_schedule_counts_one_probe(stack, emulator):
    stack.replication.require()
    before = (emulator.failovers(), stack.asg())
    stack.endpoint.set("error")
    for _ in range(10):
        assert probe(stack)["action"] == "none"
    assert len(stack.probes()) == 1
    stack.clock.advance(30)
    assert probe(stack)["action"] == "none"
    assert len(stack.probes()) == 1
    stack.clock.advance(16)
    result = probe(stack)
    assert len(stack.probes()) == 2
    # Two counted failures start a confirmation, which replication does not confirm.
    assert result["action"] == "none" and "replicates" in result["reason"], result
    untouched(stack, emulator, *before)


def test_everything_forged_at_once_on_a_healthy_primary(stack, emulator):
    """The game day's forged decision: state-table items, an alarm, a burst of invokes."""
    stack.replication.require()
    before = (emulator.failovers(), stack.asg())
    forge_history(stack, failures=5, newest_age=5)
    forge_lock(stack)
    stack.lag_alarm_state("ALARM")
    actions = [probe(stack)["action"] for _ in range(10)]
    assert actions[0] == "abandoned" and set(actions[1:]) == {"none"}, actions
    for _ in range(3):
        assert minute(stack)["action"] == "none"
    untouched(stack, emulator, *before)
    assert stack.lock() is None
