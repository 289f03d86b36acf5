"""The orchestrator's signals and bookkeeping on their own: the replication verdict from CloudWatch
buckets, the failed streak, the probe history's hygiene, the direct probe (also through the
emulator's endpoint proxy), event kinds and configuration."""

import pytest

from conftest import PRIMARY
from drpair_failover.config import Config, ConfigError
from drpair_failover.orchestrator import classify, failed_streak
from drpair_failover.signals import STALL_SECONDS, judge_replication, probe_endpoint
from drpair_failover.state import clean_history

NOW = 1_800_000_000.0


def buckets(*points):
    """(age in seconds of the bucket's start, lag ms) -> CloudWatch's per-minute buckets."""
    return [(NOW - age, 1, lag, lag) for age, lag in points]


def test_replication_is_stalled_without_a_datapoint_for_the_stall_time():
    assert judge_replication([], NOW, 1000).stalled is True
    # The newest bucket ended more than STALL_SECONDS ago.
    verdict = judge_replication(buckets((300, 400), (240, 400), (180, 400)), NOW, 1000)
    assert verdict.stalled is True and f"in the last {STALL_SECONDS} s" in verdict.reason
    assert verdict.latest_ms == 400
    # A bucket that may hold a datapoint of the last 120 s: replicating.
    verdict = judge_replication(buckets((300, 400), (179, 400)), NOW, 1000)
    assert verdict.stalled is False and "replicates" in verdict.reason
    # Buckets without samples are no datapoints.
    assert judge_replication([(NOW - 30, 0, None, None)], NOW, 1000).stalled is True


def test_replication_is_stalled_when_the_lag_stays_above_the_threshold_for_the_stall_time():
    high = buckets((240, 5000), (180, 4000), (120, 3000), (60, 2500), (0, 2000))
    verdict = judge_replication(high, NOW, 1000)
    assert verdict.stalled is True and "above 1000 ms" in verdict.reason
    # Above for a minute only.
    assert judge_replication(buckets((180, 200), (120, 300), (60, 1500), (0, 2000)), NOW, 1000).stalled is False
    # Above, then back under: replicating.
    assert judge_replication(buckets((240, 5000), (180, 4000), (120, 3000), (60, 900)), NOW, 1000).stalled is False


def test_a_stall_about_to_come_is_waited_for():
    # The newest bucket started 60 s ago: its datapoint may be 120 s old 61 s from now.
    verdict = judge_replication(buckets((120, 400), (60, 400)), NOW, 1000)
    assert verdict.stalled is False
    assert verdict.may_stall_by(NOW + 61) and not verdict.may_stall_by(NOW + 60)
    assert not verdict.fresh_since(NOW - 30) and verdict.fresh_since(NOW - 60)
    # Stalled already, or no data at all: nothing to wait for.
    assert not judge_replication([], NOW, 1000).may_stall_by(NOW + 600)


def test_failed_probes_far_apart_are_not_consecutive():
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


def test_the_history_keeps_only_what_looks_like_probes_from_the_past():
    now = 10_000.0
    history = [
        {"epoch": now - 60, "healthy": False},
        {"epoch": now + 3600, "healthy": False},  # stamped in the future
        {"epoch": "yesterday", "healthy": False},
        {"epoch": now - 120, "healthy": "no"},
        "a string",
        {"epoch": now - 180, "healthy": True},
    ]
    assert clean_history(history, now) == [{"epoch": now - 180, "healthy": True}, {"epoch": now - 60, "healthy": False}]


def test_only_the_schedule_probes():
    assert classify({"source": "aws.events", "detail-type": "Scheduled Event", "id": "e1"}) == ("probe", "e1")
    assert classify({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "id": "e2"}) == ("evaluate", "e2")
    assert classify({"drpair": "probe", "id": "e3"}) == ("evaluate", "e3")
    assert classify({"drpair": "evaluate", "id": "e4"}) == ("evaluate", "e4")
    assert classify({"source": "aws.s3"})[0] is None


def test_the_direct_probe(endpoint):
    probe = probe_endpoint(endpoint.url)
    assert probe.healthy is True and probe.detail.endswith("answered HTTP 200")
    endpoint.set("redirect")
    probe = probe_endpoint(endpoint.url)
    assert probe.healthy is True and probe.detail.endswith("answered HTTP 302")  # not followed
    endpoint.set("error")
    probe = probe_endpoint(endpoint.url)
    assert probe.healthy is False and probe.detail.endswith("answered HTTP 503")
    endpoint.set("drop")
    probe = probe_endpoint(endpoint.url)
    assert probe.healthy is False and "did not answer" in probe.detail
    hits = endpoint.hits
    endpoint.close()
    probe = probe_endpoint(endpoint.url)
    assert probe.healthy is False and "did not answer" in probe.detail
    assert hits == 4


def test_the_direct_probe_through_the_emulators_endpoint_proxy(emulator, unique, monkeypatch):
    """As in the emulator's Lambda: HTTP_PROXY names the emulator, which answers as the load
    balancer whose DNS name the URL holds."""
    from test_deployed import primary_load_balancer

    dns = primary_load_balancer(emulator, unique)
    assert emulator.request("GET", f"/endpoints/{dns}").status_code == 200, "the emulator's endpoint proxy (endpoints.py) does not know the load balancer"
    for key in ("HTTP_PROXY", "http_proxy"):
        monkeypatch.setenv(key, emulator.endpoint)
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(key, "127.0.0.1,localhost")
    url = f"http://{dns}/health"
    assert probe_endpoint(url).healthy is True
    emulator.control("POST", f"/endpoints/{dns}", {"healthy": False}, expect=200)
    assert probe_endpoint(url).detail.endswith("answered HTTP 503")
    emulator.control("POST", f"/endpoints/{dns}", {"healthy": None}, expect=200)
    emulator.outage(PRIMARY)
    down = probe_endpoint(url)
    assert down.healthy is False and "did not answer" in down.detail


def test_configuration():
    env = {
        "PRIMARY_REGION": "us-east-1",
        "DR_REGION": "us-east-2",
        "GLOBAL_CLUSTER_IDENTIFIER": "payments-global",
        "DR_CLUSTER_IDENTIFIER": "payments-dr",
        "DR_ASG_NAME": "web-dr",
        "STATE_TABLE": "failover-state",
    }
    cfg = Config.from_env(env)
    assert cfg.lag_threshold_ms == 1000 and cfg.consecutive_failures == 2 and cfg.mode == "automatic"
    # The notifier runs without it; the orchestrator cannot decide without it.
    assert cfg.primary_endpoint_url is None
    with pytest.raises(ConfigError, match="PRIMARY_ENDPOINT_URL"):
        cfg.require_endpoint()
    with pytest.raises(ConfigError, match="PRIMARY_ENDPOINT_URL"):
        Config.from_env({**env, "PRIMARY_ENDPOINT_URL": "primary.example.com/health"})
    for bad in ("1s", "-1", "nan"):
        with pytest.raises(ConfigError, match="LAG_THRESHOLD_MS"):
            Config.from_env({**env, "LAG_THRESHOLD_MS": bad})
    assert Config.from_env({**env, "LAG_THRESHOLD_MS": "1500.5"}).lag_threshold_ms == 1500.5
    with pytest.raises(ConfigError, match="CONSECUTIVE_FAILURES"):
        Config.from_env({**env, "CONSECUTIVE_FAILURES": "0"})
    cfg = Config.from_env({**env, "PRIMARY_ENDPOINT_URL": "http://primary.example.com/health", "LAG_THRESHOLD_MS": "250"})
    assert cfg.require_endpoint() == "http://primary.example.com/health" and cfg.lag_threshold_ms == 250


def test_the_orchestrator_refuses_to_run_without_the_endpoint(stack, monkeypatch):
    from helpers import probe

    monkeypatch.delenv("PRIMARY_ENDPOINT_URL")
    with pytest.raises(ConfigError, match="PRIMARY_ENDPOINT_URL"):
        probe(stack)
