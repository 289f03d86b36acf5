"""Aurora modifications take effect later (ModifyDBCluster EngineVersion, ModifyDBInstance
DBInstanceClass), minor upgrades of a global database go secondaries first, and a secondary joins
at the global cluster's engine version."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, wait_for

ENGINE = "aurora-postgresql"
START_SECONDS, UPGRADE_SECONDS, RESIZE_SECONDS = 2, 600, 480


def slow_clock(emulator, timing="instant"):
    """A clock so slow that only `advance` moves it noticeably; returns the modeled epoch."""
    emulator.control("POST", "/_drpair/clock", {"timing": timing, "speed": 0.01}, expect=200)
    return emulator.control("GET", "/_drpair/clock")[1]["epoch"]


def advance(emulator, seconds):
    emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)


def cluster(client, identifier):
    return client.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0]


def instance(client, identifier):
    return client.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


def raises(code, call, **params):
    with pytest.raises(ClientError) as raised:
        call(**params)
    assert error_code(raised) == code, raised.value.response
    return raised.value.response["Error"]["Message"]


@pytest.fixture
def gdb(emulator, unique):
    """A global database at 14.9: a primary in us-east-1 and a secondary in us-east-2, one instance each."""
    east, west = emulator.client("rds", "us-east-1"), emulator.client("rds", "us-east-2")
    east.create_global_cluster(GlobalClusterIdentifier=unique, Engine=ENGINE, EngineVersion="14.9")
    east.create_db_cluster(
        DBClusterIdentifier=f"{unique}-a", Engine=ENGINE, EngineVersion="14.9", GlobalClusterIdentifier=unique,
        MasterUsername="admin", MasterUserPassword="secret-password",
    )
    west.create_db_cluster(DBClusterIdentifier=f"{unique}-b", Engine=ENGINE, EngineVersion="14.9", GlobalClusterIdentifier=unique)
    for client, cid in ((east, f"{unique}-a"), (west, f"{unique}-b")):
        client.create_db_instance(DBInstanceIdentifier=f"{cid}-1", DBClusterIdentifier=cid, Engine=ENGINE, DBInstanceClass="db.r6g.large")
    return {"id": unique, "east": east, "west": west, "primary": f"{unique}-a", "secondary": f"{unique}-b"}


def test_a_cluster_upgrade_is_not_visible_right_after_the_call(emulator, gdb):
    west, cid = gdb["west"], gdb["secondary"]
    slow_clock(emulator)
    answer = west.modify_db_cluster(DBClusterIdentifier=cid, EngineVersion="14.10", ApplyImmediately=True)["DBCluster"]
    assert answer["EngineVersion"] == "14.9"
    seen = cluster(west, cid)
    assert (seen["Status"], seen["EngineVersion"], seen.get("PendingModifiedValues")) == ("available", "14.9", None)
    # Accepted and not finished: another modification of the version is refused.
    raises("InvalidDBClusterStateFault", west.modify_db_cluster, DBClusterIdentifier=cid, EngineVersion="14.10", ApplyImmediately=True)
    advance(emulator, START_SECONDS + 1)
    done = wait_for(lambda: cluster(west, cid)["EngineVersion"] == "14.10" and cluster(west, cid))
    assert done["Status"] == "available" and done.get("PendingModifiedValues") is None, done
    assert instance(west, f"{cid}-1")["EngineVersion"] == "14.10"
    kinds = [e["kind"] for e in emulator.control("GET", "/_drpair/events?kind=rds.cluster.upgrade")[1]["events"] if e.get("cluster") == cid]
    assert kinds == ["rds.cluster.upgrade.requested", "rds.cluster.upgrade.started", "rds.cluster.upgrade.completed"]


def test_an_upgrade_takes_its_time_with_aws_timing(emulator, gdb):
    west, cid = gdb["west"], gdb["secondary"]
    slow_clock(emulator, "aws")
    west.modify_db_cluster(DBClusterIdentifier=cid, EngineVersion="14.10", ApplyImmediately=True)
    advance(emulator, START_SECONDS + 1)
    upgrading = wait_for(lambda: cluster(west, cid)["Status"] == "upgrading" and cluster(west, cid))
    assert upgrading["PendingModifiedValues"] == {"EngineVersion": "14.10"} and upgrading["EngineVersion"] == "14.9"
    assert instance(west, f"{cid}-1")["DBInstanceStatus"] == "upgrading"
    advance(emulator, UPGRADE_SECONDS)
    assert wait_for(lambda: cluster(west, cid)["EngineVersion"] == "14.10")
    assert cluster(west, cid)["Status"] == "available"
    assert instance(west, f"{cid}-1")["DBInstanceStatus"] == "available"


def test_a_global_minor_upgrade_goes_secondaries_first(emulator, gdb):
    east, west = gdb["east"], gdb["west"]
    slow_clock(emulator)
    message = raises("InvalidParameterValue", east.modify_db_cluster, DBClusterIdentifier=gdb["primary"], EngineVersion="14.10", ApplyImmediately=True)
    assert "upgrade global replicas first" in message
    west.modify_db_cluster(DBClusterIdentifier=gdb["secondary"], EngineVersion="14.10", ApplyImmediately=True)
    # The secondary's upgrade has not finished: the primary must wait.
    message = raises("InvalidGlobalClusterStateFault", east.modify_db_cluster, DBClusterIdentifier=gdb["primary"], EngineVersion="14.10", ApplyImmediately=True)
    assert "is upgrading" in message
    advance(emulator, START_SECONDS + 1)
    assert wait_for(lambda: cluster(west, gdb["secondary"])["EngineVersion"] == "14.10")
    east.modify_db_cluster(DBClusterIdentifier=gdb["primary"], EngineVersion="14.10", ApplyImmediately=True)
    assert east.describe_global_clusters(GlobalClusterIdentifier=gdb["id"])["GlobalClusters"][0]["EngineVersion"] == "14.9"
    advance(emulator, START_SECONDS + 1)
    assert wait_for(lambda: east.describe_global_clusters(GlobalClusterIdentifier=gdb["id"])["GlobalClusters"][0]["EngineVersion"] == "14.10")


def test_a_secondary_joins_at_the_global_clusters_version(emulator, gdb):
    west = gdb["west"]
    message = raises(
        "InvalidParameterValue", west.create_db_cluster,
        DBClusterIdentifier=gdb["id"] + "-c", Engine=ENGINE, EngineVersion="14.10", GlobalClusterIdentifier=gdb["id"],
    )
    assert message == f"Value for engineVersion should match setting for global cluster {gdb['id']}"
    west.create_db_cluster(DBClusterIdentifier=gdb["id"] + "-c", Engine=ENGINE, EngineVersion="14.9", GlobalClusterIdentifier=gdb["id"])


def test_an_instance_resize_is_not_visible_right_after_the_call(emulator, gdb):
    east, iid = gdb["east"], gdb["primary"] + "-1"
    slow_clock(emulator, "aws")
    east.modify_db_instance(DBInstanceIdentifier=iid, DBInstanceClass="db.r6g.xlarge", ApplyImmediately=True)
    seen = instance(east, iid)
    assert (seen["DBInstanceStatus"], seen["DBInstanceClass"], seen.get("PendingModifiedValues")) == ("available", "db.r6g.large", None)
    raises("InvalidDBInstanceState", east.modify_db_instance, DBInstanceIdentifier=iid, DBInstanceClass="db.r6g.2xlarge", ApplyImmediately=True)
    # A global database's class rule still holds.
    raises("InvalidParameterCombination", gdb["west"].modify_db_instance, DBInstanceIdentifier=gdb["secondary"] + "-1", DBInstanceClass="db.t4g.medium", ApplyImmediately=True)
    advance(emulator, START_SECONDS + 1)
    modifying = wait_for(lambda: instance(east, iid)["DBInstanceStatus"] == "modifying" and instance(east, iid))
    assert modifying["PendingModifiedValues"] == {"DBInstanceClass": "db.r6g.xlarge"}
    advance(emulator, RESIZE_SECONDS)
    assert wait_for(lambda: instance(east, iid)["DBInstanceClass"] == "db.r6g.xlarge")
    assert instance(east, iid)["DBInstanceStatus"] == "available"


def test_without_apply_immediately_the_change_waits_for_the_maintenance_window(emulator, gdb):
    east, iid = gdb["east"], gdb["primary"] + "-1"
    east.modify_db_instance(DBInstanceIdentifier=iid, DBInstanceClass="db.r6g.xlarge", ApplyImmediately=False)
    seen = instance(east, iid)
    assert seen["DBInstanceClass"] == "db.r6g.large" and seen["PendingModifiedValues"] == {"DBInstanceClass": "db.r6g.xlarge"}
