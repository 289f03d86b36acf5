"""Aurora's data plane: writes on the writer, replication with its lag, what a data-loss failover
keeps, and the global database metrics the secondary publishes."""

import datetime

import pytest

ENGINE = "aurora-postgresql"


@pytest.fixture
def gdb(emulator, unique):
    east, west = emulator.client("rds", "us-east-1"), emulator.client("rds", "us-east-2")
    east.create_global_cluster(GlobalClusterIdentifier=unique, Engine=ENGINE)
    east.create_db_cluster(DBClusterIdentifier=f"{unique}-a", Engine=ENGINE, GlobalClusterIdentifier=unique, MasterUsername="admin", MasterUserPassword="secret-password")
    secondary = west.create_db_cluster(DBClusterIdentifier=f"{unique}-b", Engine=ENGINE, GlobalClusterIdentifier=unique)["DBCluster"]["DBClusterArn"]
    # Slow enough that only `advance` moves the modeled clock noticeably.
    emulator.control("POST", "/_drpair/clock", {"timing": "aws", "speed": 0.01}, expect=200)
    return {"id": unique, "east": east, "west": west, "secondary": secondary, "a": f"/_drpair/aurora/us-east-1/{unique}-a/writes", "b": f"/_drpair/aurora/us-east-2/{unique}-b/writes"}


def advance(emulator, seconds):
    return emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)[1]["epoch"]


def held(emulator, path):
    answer = emulator.control("GET", path, expect=200)[1]
    return answer["role"], [w["id"] for w in answer["writes"]]


def write(emulator, path, write_id):
    return emulator.control("POST", path, {"id": write_id})


def test_writes_replicate_after_the_lag(emulator, gdb):
    status, acked = write(emulator, gdb["a"], "p-1")
    assert status == 201 and acked["id"] == "p-1" and acked["region"] == "us-east-1" and acked["acked_at"].endswith("Z")
    assert write(emulator, gdb["a"], "p-1")[0] == 409
    assert held(emulator, gdb["a"]) == ("writer", ["p-1"])
    assert held(emulator, gdb["b"]) == ("secondary", [])  # not yet: replication takes 0.5 s
    advance(emulator, 1)
    assert held(emulator, gdb["b"]) == ("secondary", ["p-1"])
    # Only the writer takes writes.
    status, answer = write(emulator, gdb["b"], "p-2")
    assert status == 503 and "not the writer" in answer["error"]
    assert write(emulator, gdb["a"].replace(gdb["id"], gdb["id"] + "x"), "p-3")[0] == 404
    assert emulator.control("POST", gdb["a"], {"id": ""})[0] == 400
    events = emulator.control("GET", "/_drpair/events?kind=rds.write")[1]["events"]
    assert any(e["kind"] == "rds.write" and e["id"] == "p-1" and e["cluster"] == f"{gdb['id']}-a" for e in events)


def test_a_data_loss_failover_keeps_what_the_target_received(emulator, gdb):
    west, gid = gdb["west"], gdb["id"]
    for n in (1, 2):
        assert write(emulator, gdb["a"], f"p-{n}")[0] == 201
    advance(emulator, 1)
    assert write(emulator, gdb["a"], "p-3")[0] == 201
    # us-east-1 goes down before p-3 reached us-east-2: replication stops for good.
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    status, answer = write(emulator, gdb["a"], "p-4")
    assert status == 503 and "us-east-1 is down" in answer["error"]
    advance(emulator, 30)
    assert held(emulator, gdb["b"]) == ("secondary", ["p-1", "p-2"])

    since = emulator.control("GET", "/_drpair/clock")[1]["epoch"]
    west.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=gdb["secondary"], AllowDataLoss=True)
    lost = emulator.control("GET", f"/_drpair/events?kind=rds.write.lost&since={since}")[1]["events"]
    assert [(e["id"], e["cluster"]) for e in lost] == [("p-3", f"{gid}-a")]
    # While the target is promoted nobody takes writes.
    assert write(emulator, gdb["b"], "p-5")[0] == 503
    advance(emulator, 61)
    assert held(emulator, gdb["b"]) == ("writer", ["p-1", "p-2"])
    assert write(emulator, gdb["b"], "p-5")[0] == 201
    # The old primary holds its own (lost) writes until it is rebuilt from the new writer.
    assert held(emulator, gdb["a"]) == ("out-of-service", ["p-1", "p-2", "p-3"])

    emulator.control("DELETE", "/_drpair/outage/us-east-1", expect=200)
    status, answer = write(emulator, gdb["a"], "p-6")
    assert status == 503 and "fenced" in answer["error"]
    advance(emulator, 301)
    assert held(emulator, gdb["a"]) == ("secondary", ["p-1", "p-2", "p-5"])
    assert write(emulator, gdb["a"], "p-6")[0] == 503


def test_a_switchover_loses_nothing(emulator, gdb):
    assert write(emulator, gdb["a"], "p-1")[0] == 201
    gdb["east"].switchover_global_cluster(GlobalClusterIdentifier=gdb["id"], TargetDbClusterIdentifier=gdb["secondary"])
    assert write(emulator, gdb["a"], "p-2")[0] == 503  # unavailable while the roles change
    advance(emulator, 91)
    assert held(emulator, gdb["b"]) == ("writer", ["p-1"])
    assert write(emulator, gdb["b"], "p-2")[0] == 201
    advance(emulator, 1)
    assert held(emulator, gdb["a"]) == ("secondary", ["p-1", "p-2"])


def test_the_global_writer_endpoint_follows_the_writer(emulator, gdb):
    """DescribeGlobalClusters' Endpoint routes writes to the current writer: the us-east-1 cluster,
    nobody while a switchover or failover changes the roles, then the promoted cluster."""
    gc = gdb["east"].describe_global_clusters(GlobalClusterIdentifier=gdb["id"])["GlobalClusters"][0]
    endpoint = gc["Endpoint"]
    assert endpoint.startswith(f"{gdb['id']}.global-") and endpoint.endswith(".global.rds.amazonaws.com"), endpoint
    via = f"/_drpair/aurora/endpoints/{endpoint}"
    assert emulator.control("GET", via, expect=200)[1] == {
        "endpoint": endpoint, "kind": "global-writer", "cluster": f"{gdb['id']}-a", "region": "us-east-1", "role": "writer",
    }
    assert write(emulator, via + "/writes", "p-1")[1]["cluster"] == f"{gdb['id']}-a"
    gdb["east"].switchover_global_cluster(GlobalClusterIdentifier=gdb["id"], TargetDbClusterIdentifier=gdb["secondary"])
    assert write(emulator, via + "/writes", "p-2")[0] == 503
    advance(emulator, 91)
    status, acked = write(emulator, via + "/writes", "p-2")
    assert status == 201 and (acked["cluster"], acked["region"]) == (f"{gdb['id']}-b", "us-east-2"), acked
    # An unplanned failover back: us-east-2 goes down, us-east-1 is promoted with data loss.
    emulator.control("POST", "/_drpair/outage", {"region": "us-east-2"}, expect=201)
    try:
        assert write(emulator, via + "/writes", "p-3")[0] == 503
        primary = gdb["east"].describe_db_clusters(DBClusterIdentifier=f"{gdb['id']}-a")["DBClusters"][0]["DBClusterArn"]
        gdb["east"].failover_global_cluster(GlobalClusterIdentifier=gdb["id"], TargetDbClusterIdentifier=primary, AllowDataLoss=True)
        advance(emulator, 61)
        assert emulator.control("GET", via, expect=200)[1]["cluster"] == f"{gdb['id']}-a"
        assert write(emulator, via + "/writes", "p-3")[0] == 201
    finally:
        emulator.control("DELETE", "/_drpair/outage/us-east-2", expect=200)
    # A cluster endpoint is its own cluster; other names do not resolve.
    cluster_endpoint = gdb["west"].describe_db_clusters(DBClusterIdentifier=f"{gdb['id']}-b")["DBClusters"][0]["Endpoint"]
    assert emulator.control("GET", f"/_drpair/aurora/endpoints/{cluster_endpoint}", expect=200)[1]["kind"] == "cluster"
    assert emulator.control("GET", "/_drpair/aurora/endpoints/nothing.example.com")[0] == 404


def test_a_removed_secondary_keeps_what_it_received(emulator, gdb):
    assert write(emulator, gdb["a"], "p-1")[0] == 201
    advance(emulator, 1)
    gdb["west"].remove_from_global_cluster(GlobalClusterIdentifier=gdb["id"], DbClusterIdentifier=gdb["secondary"])
    assert write(emulator, gdb["a"], "p-2")[0] == 201
    advance(emulator, 1)
    assert held(emulator, gdb["b"]) == ("writer", ["p-1"])


def lag_points(emulator, cluster, start, end):
    cloudwatch = emulator.client("cloudwatch", "us-east-2")
    found = {}
    for name in ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag"):
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/RDS",
            MetricName=name,
            Dimensions=[{"Name": "DBClusterIdentifier", "Value": cluster}],
            StartTime=datetime.datetime.fromtimestamp(start, tz=datetime.timezone.utc),
            EndTime=datetime.datetime.fromtimestamp(end, tz=datetime.timezone.utc),
            Period=60,
            Statistics=["Maximum", "SampleCount"],
        )
        found[name] = sorted((p["Timestamp"].timestamp(), p["Maximum"], p["SampleCount"]) for p in answer["Datapoints"])
    return found


def test_the_secondary_publishes_lag_only_while_replicating(emulator, gdb):
    cluster = f"{gdb['id']}-b"
    start = emulator.control("GET", "/_drpair/clock")[1]["epoch"]
    end = advance(emulator, 180)
    points = lag_points(emulator, cluster, start - 60, end + 60)
    for name in ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag"):
        assert len(points[name]) == 3, points
        assert all(maximum == 500.0 and count == 1 for _, maximum, count in points[name])
    # The writer publishes none.
    assert lag_points(emulator, f"{gdb['id']}-a", start - 60, end + 60)["AuroraGlobalDBReplicationLag"] == []

    emulator.control("POST", "/_drpair/outage", {"region": "us-east-1"}, expect=201)
    down = emulator.control("GET", "/_drpair/clock")[1]["epoch"]
    end = advance(emulator, 180)
    assert lag_points(emulator, cluster, down, end + 60)["AuroraGlobalDBReplicationLag"] == []
    emulator.control("DELETE", "/_drpair/outage/us-east-1", expect=200)
    up = emulator.control("GET", "/_drpair/clock")[1]["epoch"]
    end = advance(emulator, 60)
    assert len(lag_points(emulator, cluster, up, end + 60)["AuroraGlobalDBReplicationLag"]) == 1
