"""Aurora global failover and switchover on the modeled clock (aws timing), and a data-loss failover
while the old primary's region is down: the old primary stays out of service until its region
recovers, then it is rebuilt as a secondary."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

ENGINE = "aurora-postgresql"
FAILOVER_SECONDS, SWITCHOVER_SECONDS, RESYNC_SECONDS, PENDING_SECONDS = 60, 90, 300, 5


@pytest.fixture
def gdb(emulator, unique):
    east, west = emulator.client("rds", "us-east-1"), emulator.client("rds", "us-east-2")
    east.create_global_cluster(GlobalClusterIdentifier=unique, Engine=ENGINE)
    primary = east.create_db_cluster(
        DBClusterIdentifier=f"{unique}-a", Engine=ENGINE, GlobalClusterIdentifier=unique, MasterUsername="admin", MasterUserPassword="secret-password"
    )["DBCluster"]["DBClusterArn"]
    secondary = west.create_db_cluster(DBClusterIdentifier=f"{unique}-b", Engine=ENGINE, GlobalClusterIdentifier=unique)["DBCluster"]["DBClusterArn"]
    return {"id": unique, "east": east, "west": west, "primary": primary, "secondary": secondary}


def aws_timing(emulator):
    """AWS's durations, at a speed so slow that only `advance` moves the clock noticeably."""
    emulator.control("POST", "/_drpair/clock", {"timing": "aws", "speed": 0.01}, expect=200)
    return emulator.control("GET", "/_drpair/clock")[1]["epoch"]


def advance(emulator, seconds):
    return emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)[1]["epoch"]


def describe(client, gid):
    return client.describe_global_clusters(GlobalClusterIdentifier=gid)["GlobalClusters"][0]


def members(cluster):
    return {m["DBClusterArn"]: (m["IsWriter"], m.get("SynchronizationStatus")) for m in cluster["GlobalClusterMembers"]}


def status(client, identifier):
    return client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]["Status"]


def events(emulator, gid, since):
    found = emulator.control("GET", f"/_drpair/events?kind=rds.&since={since}")[1]["events"]
    return [(e["kind"], e["epoch"]) for e in found if e.get("global_cluster") == gid]


def test_failover_takes_its_time(emulator, gdb):
    east, west, gid = gdb["east"], gdb["west"], gdb["id"]
    t0 = aws_timing(emulator)
    answer = west.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=gdb["secondary"], AllowDataLoss=True)["GlobalCluster"]
    assert answer["Status"] == "failing-over"
    assert answer["FailoverState"] == {"Status": "pending", "FromDbClusterArn": gdb["primary"], "ToDbClusterArn": gdb["secondary"], "IsDataLossAllowed": True}
    # Under way: a second call is refused, the target is not the writer yet.
    with pytest.raises(ClientError) as raised:
        west.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=gdb["secondary"], AllowDataLoss=True)
    assert error_code(raised) == "InvalidGlobalClusterStateFault"
    assert status(west, f"{gid}-b") == "failing-over"

    advance(emulator, PENDING_SECONDS + 1)
    seen = describe(west, gid)
    assert seen["Status"] == "failing-over" and seen["FailoverState"]["Status"] == "failing-over"
    assert members(seen)[gdb["secondary"]] == (False, "connected")

    advance(emulator, FAILOVER_SECONDS - PENDING_SECONDS)
    # The target is the writer and available; the old primary is rebuilt (its region is up).
    assert status(west, f"{gid}-b") == "available"
    seen = describe(west, gid)
    assert members(seen) == {gdb["secondary"]: (True, None), gdb["primary"]: (False, "pending-resync")}
    assert seen["Status"] == "failing-over" and seen["FailoverState"]["Status"] == "failing-over"
    assert status(east, f"{gid}-a") == "failing-over"

    advance(emulator, RESYNC_SECONDS)
    seen = describe(east, gid)
    assert seen["Status"] == "available" and "FailoverState" not in seen
    assert members(seen) == {gdb["secondary"]: (True, None), gdb["primary"]: (False, "connected")}
    assert status(east, f"{gid}-a") == "available"

    kinds = events(emulator, gid, t0)
    assert [k for k, _ in kinds] == [
        "rds.failover.started",
        "rds.failover.promoting",
        "rds.failover.completed",
        "rds.resync.started",
        "rds.resync.completed",
        "rds.global.available",
    ]
    at = dict(kinds)
    assert at["rds.failover.promoting"] - at["rds.failover.started"] == pytest.approx(PENDING_SECONDS, abs=1)
    assert at["rds.failover.completed"] - at["rds.failover.started"] == pytest.approx(FAILOVER_SECONDS, abs=1)
    assert at["rds.resync.completed"] - at["rds.resync.started"] == pytest.approx(RESYNC_SECONDS, abs=1)


def test_failover_in_an_outage_waits_for_the_old_region(emulator, gdb):
    west, gid = gdb["west"], gdb["id"]
    t0 = aws_timing(emulator)
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    # A switchover needs every member: the primary's region is down.
    with pytest.raises(ClientError) as raised:
        west.switchover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=gdb["secondary"])
    assert error_code(raised) == "InvalidDBClusterStateFault"

    west.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=gdb["secondary"], AllowDataLoss=True)
    advance(emulator, FAILOVER_SECONDS + 1)
    assert status(west, f"{gid}-b") == "available"
    seen = describe(west, gid)
    assert members(seen) == {gdb["secondary"]: (True, None), gdb["primary"]: (False, "pending-resync")}
    assert seen["Status"] == "failing-over" and seen["FailoverState"]["ToDbClusterArn"] == gdb["secondary"]

    # As long as the region is down the old primary is not rebuilt.
    advance(emulator, 2 * RESYNC_SECONDS)
    assert members(describe(west, gid))[gdb["primary"]] == (False, "pending-resync")
    assert "rds.resync.started" not in [k for k, _ in events(emulator, gid, t0)]

    emulator.control("DELETE", "/_drpair/outage/us-east-1", expect=200)
    assert status(gdb["east"], f"{gid}-a") == "failing-over"
    advance(emulator, RESYNC_SECONDS - 10)
    assert describe(west, gid)["Status"] == "failing-over"
    advance(emulator, 11)
    seen = describe(west, gid)
    assert seen["Status"] == "available" and "FailoverState" not in seen
    assert members(seen)[gdb["primary"]] == (False, "connected")


def test_switchover_takes_its_time(emulator, gdb):
    east, west, gid = gdb["east"], gdb["west"], gdb["id"]
    t0 = aws_timing(emulator)
    answer = east.switchover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=gdb["secondary"])["GlobalCluster"]
    assert answer["Status"] == "switching-over"
    assert answer["FailoverState"]["Status"] == "pending" and answer["FailoverState"]["IsDataLossAllowed"] is False
    advance(emulator, PENDING_SECONDS + 1)
    assert describe(east, gid)["FailoverState"]["Status"] == "switching-over"
    # Both clusters are assuming their new roles: neither is available.
    assert (status(east, f"{gid}-a"), status(west, f"{gid}-b")) == ("failing-over", "failing-over")
    assert members(describe(east, gid))[gdb["primary"]][0] is True

    advance(emulator, SWITCHOVER_SECONDS - PENDING_SECONDS)
    seen = describe(east, gid)
    assert seen["Status"] == "available" and "FailoverState" not in seen
    assert members(seen) == {gdb["secondary"]: (True, None), gdb["primary"]: (False, "connected")}
    assert (status(east, f"{gid}-a"), status(west, f"{gid}-b")) == ("available", "available")
    kinds = dict(events(emulator, gid, t0))
    assert kinds["rds.switchover.completed"] - kinds["rds.switchover.started"] == pytest.approx(SWITCHOVER_SECONDS, abs=1)
    assert "rds.switchover.switching" in kinds


def test_instant_failover_in_an_outage_still_waits_for_the_region(emulator, gdb):
    west, gid = gdb["west"], gdb["id"]
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    answer = west.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=gdb["secondary"], AllowDataLoss=True)["GlobalCluster"]
    assert answer["FailoverState"]["Status"] == "failing-over"
    assert status(west, f"{gid}-b") == "available"
    seen = describe(west, gid)
    assert members(seen) == {gdb["secondary"]: (True, None), gdb["primary"]: (False, "pending-resync")}
    assert seen["Status"] == "failing-over"
    emulator.control("DELETE", "/_drpair/outage/us-east-1", expect=200)
    seen = describe(west, gid)
    assert seen["Status"] == "available" and members(seen)[gdb["primary"]] == (False, "connected")


def test_removing_the_member_awaiting_its_rebuild_ends_the_failover(emulator, gdb):
    west, gid = gdb["west"], gdb["id"]
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    west.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=gdb["secondary"], AllowDataLoss=True)
    assert describe(west, gid)["Status"] == "failing-over"
    west.remove_from_global_cluster(GlobalClusterIdentifier=gid, DbClusterIdentifier=gdb["primary"])
    seen = describe(west, gid)
    assert seen["Status"] == "available" and list(members(seen)) == [gdb["secondary"]]
