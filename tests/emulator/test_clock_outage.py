"""The modeled clock, the event log and regional outages (emulator_ext/clock.py, timeline.py,
outage.py)."""

import time

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status


def test_clock_runs_at_its_speed_and_jumps(emulator):
    _, first = emulator.control("GET", "/_drpair/clock", expect=200)
    assert first["speed"] == 1.0 and first["timing"] == "instant"
    emulator.control("POST", "/_drpair/clock", {"speed": 120}, expect=200)
    time.sleep(0.5)
    _, later = emulator.control("GET", "/_drpair/clock", expect=200)
    # Half a real second is a modeled minute at speed 120 (with some slack for the machine).
    assert 45 <= later["epoch"] - first["epoch"] <= 90, (first, later)
    _, jumped = emulator.control("POST", "/_drpair/clock", {"advance": 3600}, expect=200)
    assert jumped["epoch"] - later["epoch"] >= 3600


@pytest.mark.parametrize(
    "body",
    [{"speed": 0}, {"speed": "fast"}, {"timing": "slow"}, {"advance": -1}, {}, {"what": 1}, [1]],
)
def test_clock_refuses_bad_settings(emulator, body):
    status, answer = emulator.control("POST", "/_drpair/clock", body)
    assert status == 400 and answer["error"], answer


def test_outage_fails_the_regions_apis_and_not_the_others(emulator):
    emulator.control("DELETE", "/_drpair/events", expect=200)
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    with pytest.raises(ClientError) as failed:
        emulator.client("rds", "us-east-1").describe_db_clusters()
    assert error_code(failed) == "ServiceUnavailable" and http_status(failed) == 503
    # Route 53's API is a control plane in us-east-1: it is down too.
    with pytest.raises(ClientError) as failed:
        emulator.client("route53").list_hosted_zones()
    assert http_status(failed) == 503
    # The DR region answers.
    emulator.client("rds", "us-east-2").describe_db_clusters()
    _, listed = emulator.control("GET", "/_drpair/outage", expect=200)
    assert [o["region"] for o in listed["outages"]] == ["us-east-1"]

    emulator.control("DELETE", "/_drpair/outage/us-east-1", expect=200)
    emulator.client("rds", "us-east-1").describe_db_clusters()
    _, log = emulator.control("GET", "/_drpair/events?kind=outage.", expect=200)
    assert [e["kind"] for e in log["events"]] == ["outage.declared", "outage.recovered"]
    assert log["events"][0]["epoch"] <= log["events"][1]["epoch"]


def test_outage_can_drop_connections(emulator):
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1", "error": "drop"}, expect=201)
    with pytest.raises(Exception) as failed:
        emulator.client("sns", "us-east-1").list_topics()
    assert not isinstance(failed.value, ClientError), "a dropped connection has no AWS answer"


def test_outage_controls_refuse_bad_input(emulator):
    assert emulator.control("POST", "/_drpair/outage", {"region": ""})[0] == 400
    assert emulator.control("POST", "/_drpair/outage", {"region": "us-east-1", "error": "fire"})[0] == 400
    assert emulator.control("DELETE", "/_drpair/outage/eu-west-3")[0] == 404
