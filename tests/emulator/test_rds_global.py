"""Aurora global databases: membership, failover, switchover, removal, deletion, tags."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status

ENGINE = "aurora-postgresql"
# How long DeleteGlobalCluster still answers "is not empty" after the last member left (modeled s).
EMPTY_SECONDS = 3


@pytest.fixture
def global_db(emulator, unique):
    """A global cluster with a primary in us-east-1 and a secondary in us-east-2."""
    east, west = emulator.client("rds", "us-east-1"), emulator.client("rds", "us-east-2")
    east.create_global_cluster(GlobalClusterIdentifier=unique, Engine=ENGINE, DatabaseName="ledger", Tags=[{"Key": "app", "Value": "drpair"}])
    primary = east.create_db_cluster(
        DBClusterIdentifier=f"{unique}-a", Engine=ENGINE, GlobalClusterIdentifier=unique, MasterUsername="admin", MasterUserPassword="secret-password"
    )["DBCluster"]
    secondary = west.create_db_cluster(
        DBClusterIdentifier=f"{unique}-b", Engine=ENGINE, GlobalClusterIdentifier=unique, EnableGlobalWriteForwarding=True
    )["DBCluster"]
    return {"id": unique, "east": east, "west": west, "primary": primary["DBClusterArn"], "secondary": secondary["DBClusterArn"]}


def describe(client, identifier):
    return client.describe_global_clusters(GlobalClusterIdentifier=identifier)["GlobalClusters"][0]


def writers(cluster):
    return {m["DBClusterArn"]: m["IsWriter"] for m in cluster["GlobalClusterMembers"]}


def raises(code, call, **params):
    with pytest.raises(ClientError) as raised:
        call(**params)
    assert error_code(raised) == code, raised.value.response
    return raised


def test_membership_tags_and_identifier(global_db, emulator):
    east, west, gid = global_db["east"], global_db["west"], global_db["id"]
    seen_from_west = describe(west, gid)
    assert seen_from_west == describe(east, gid)
    assert writers(seen_from_west) == {global_db["primary"]: True, global_db["secondary"]: False}
    member = {m["DBClusterArn"]: m for m in seen_from_west["GlobalClusterMembers"]}
    assert member[global_db["primary"]]["Readers"] == [global_db["secondary"]]
    assert member[global_db["secondary"]]["GlobalWriteForwardingStatus"] == "enabled"
    assert member[global_db["secondary"]]["SynchronizationStatus"] == "connected"
    assert seen_from_west["TagList"] == [{"Key": "app", "Value": "drpair"}]
    assert seen_from_west["DatabaseName"] == "ledger"

    arn = seen_from_west["GlobalClusterArn"]
    east.add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "tier", "Value": "1"}])
    assert {t["Key"] for t in east.list_tags_for_resource(ResourceName=arn)["TagList"]} == {"app", "tier"}

    raises("GlobalClusterNotFoundFault", east.describe_global_clusters, GlobalClusterIdentifier=gid + "-nope")
    raises("GlobalClusterAlreadyExistsFault", east.create_global_cluster, GlobalClusterIdentifier=gid, Engine=ENGINE)
    raises("GlobalClusterNotFoundFault", west.create_db_cluster, DBClusterIdentifier=gid + "-c", Engine=ENGINE, GlobalClusterIdentifier=gid + "-nope")


def test_failover_with_data_loss(global_db):
    east, west, gid = global_db["east"], global_db["west"], global_db["id"]
    answer = west.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=global_db["secondary"], AllowDataLoss=True)["GlobalCluster"]
    assert answer["Status"] == "failing-over"
    assert answer["FailoverState"] == {
        "Status": "failing-over",
        "FromDbClusterArn": global_db["primary"],
        "ToDbClusterArn": global_db["secondary"],
        "IsDataLossAllowed": True,
    }
    after = describe(east, gid)
    assert after["Status"] == "available" and "FailoverState" not in after
    assert writers(after) == {global_db["primary"]: False, global_db["secondary"]: True}

    old_primary = east.describe_db_clusters(DBClusterIdentifier=f"{gid}-a")["DBClusters"][0]
    new_primary = west.describe_db_clusters(DBClusterIdentifier=f"{gid}-b")["DBClusters"][0]
    assert old_primary["GlobalClusterIdentifier"] == gid and old_primary["GlobalWriteForwardingStatus"] == "disabled"
    assert new_primary["GlobalClusterIdentifier"] == gid and "GlobalWriteForwardingStatus" not in new_primary


def test_switchover_and_failover_without_data_loss(global_db):
    east, west, gid = global_db["east"], global_db["west"], global_db["id"]
    answer = east.switchover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=global_db["secondary"])["GlobalCluster"]
    assert answer["Status"] == "switching-over" and answer["FailoverState"]["IsDataLossAllowed"] is False
    assert writers(describe(east, gid))[global_db["secondary"]] is True
    # FailoverGlobalCluster without AllowDataLoss is a switchover; by identifier in its region.
    answer = east.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=f"{gid}-a")["GlobalCluster"]
    assert answer["Status"] == "switching-over"
    assert writers(describe(west, gid)) == {global_db["primary"]: True, global_db["secondary"]: False}
    raises(
        "InvalidParameterCombination",
        east.failover_global_cluster,
        GlobalClusterIdentifier=gid,
        TargetDbClusterIdentifier=global_db["secondary"],
        AllowDataLoss=True,
        Switchover=True,
    )


def test_failover_errors(global_db, emulator, unique):
    east, gid = global_db["east"], global_db["id"]
    outsider = east.create_db_cluster(DBClusterIdentifier=unique + "-x", Engine=ENGINE, MasterUsername="admin", MasterUserPassword="secret-password")["DBCluster"]
    raised = raises("InvalidParameterValue", east.failover_global_cluster, GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=outsider["DBClusterArn"], AllowDataLoss=True)
    assert "is not found in global cluster" in raised.value.response["Error"]["Message"]
    raises("InvalidParameterValue", east.failover_global_cluster, GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=global_db["primary"], AllowDataLoss=True)
    raised = raises("DBClusterNotFoundFault", east.failover_global_cluster, GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=global_db["secondary"] + "zz")
    assert http_status(raised) == 404
    raised = raises("GlobalClusterNotFoundFault", east.switchover_global_cluster, GlobalClusterIdentifier=gid + "zz", TargetDbClusterIdentifier=global_db["secondary"])
    assert http_status(raised) == 404


def test_member_unavailable(global_db, emulator):
    east, gid = global_db["east"], global_db["id"]
    emulator.control("POST", f"/_drpair/rds-clusters/us-east-1/{gid}-a", {"status": "inaccessible"}, expect=200)
    assert east.describe_db_clusters(DBClusterIdentifier=f"{gid}-a")["DBClusters"][0]["Status"] == "inaccessible"
    raises("InvalidDBClusterStateFault", east.switchover_global_cluster, GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=global_db["secondary"])
    # A failover is what the primary region's outage calls for: it proceeds.
    east.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=global_db["secondary"], AllowDataLoss=True)
    assert writers(describe(east, gid))[global_db["secondary"]] is True
    # The target of a failover must itself be available.
    raises("InvalidDBClusterStateFault", east.failover_global_cluster, GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=global_db["primary"], AllowDataLoss=True)
    emulator.control("POST", f"/_drpair/rds-clusters/us-east-1/{gid}-a", {"status": "available"}, expect=200)
    east.failover_global_cluster(GlobalClusterIdentifier=gid, TargetDbClusterIdentifier=global_db["primary"], AllowDataLoss=True)
    assert emulator.control("POST", "/_drpair/rds-clusters/us-east-1/nope", {"status": "x"})[0] == 404
    assert emulator.control("POST", f"/_drpair/rds-clusters/us-east-1/{gid}-a", {"status": 3})[0] == 400


def test_remove_members_and_delete(global_db, emulator):
    east, west, gid = global_db["east"], global_db["west"], global_db["id"]
    raises("InvalidGlobalClusterStateFault", east.remove_from_global_cluster, GlobalClusterIdentifier=gid, DbClusterIdentifier=global_db["primary"])
    raises("InvalidGlobalClusterStateFault", east.delete_db_cluster, DBClusterIdentifier=f"{gid}-a", SkipFinalSnapshot=True)
    raises("InvalidGlobalClusterStateFault", east.delete_global_cluster, GlobalClusterIdentifier=gid)

    # The us-east-2 member, removed through a us-east-1 endpoint, becomes a standalone cluster.
    answer = east.remove_from_global_cluster(GlobalClusterIdentifier=gid, DbClusterIdentifier=global_db["secondary"])["GlobalCluster"]
    assert list(writers(answer)) == [global_db["primary"]]
    standalone = west.describe_db_clusters(DBClusterIdentifier=f"{gid}-b")["DBClusters"][0]
    assert standalone["Status"] == "promoting" and "GlobalClusterIdentifier" not in standalone
    assert west.describe_db_clusters(DBClusterIdentifier=f"{gid}-b")["DBClusters"][0]["Status"] == "available"
    raises("InvalidParameterValue", east.remove_from_global_cluster, GlobalClusterIdentifier=gid, DbClusterIdentifier=global_db["secondary"])

    east.delete_db_cluster(DBClusterIdentifier=f"{gid}-a", SkipFinalSnapshot=True)  # the last member
    assert describe(west, gid)["GlobalClusterMembers"] == []
    east.modify_global_cluster(GlobalClusterIdentifier=gid, DeletionProtection=True)
    assert describe(east, gid)["DeletionProtection"] is True
    raises("InvalidParameterCombination", east.delete_global_cluster, GlobalClusterIdentifier=gid)
    east.modify_global_cluster(GlobalClusterIdentifier=gid, DeletionProtection=False)
    # Still "not empty" for a few modeled seconds after its last member left (eventual consistency).
    raised = raises("InvalidGlobalClusterStateFault", east.delete_global_cluster, GlobalClusterIdentifier=gid)
    assert "is not empty" in raised.value.response["Error"]["Message"]
    emulator.control("POST", "/_drpair/clock", {"advance": EMPTY_SECONDS})
    east.delete_global_cluster(GlobalClusterIdentifier=gid)
    raises("GlobalClusterNotFoundFault", east.delete_global_cluster, GlobalClusterIdentifier=gid)


@pytest.mark.parametrize("timing", ["instant", "aws"])
def test_delete_global_cluster_right_after_last_member_left(emulator, unique, timing):
    """AWS answers "is not empty" for a while after the last member left, in either timing; the
    removal of a secondary alone does not count (members remain)."""
    emulator.control("POST", "/_drpair/clock", {"timing": timing})
    east = emulator.client("rds", "us-east-1")
    east.create_global_cluster(GlobalClusterIdentifier=unique, Engine=ENGINE)
    cluster = east.create_db_cluster(
        DBClusterIdentifier=f"{unique}-a", Engine=ENGINE, GlobalClusterIdentifier=unique, MasterUsername="admin", MasterUserPassword="secret-password"
    )["DBCluster"]
    east.remove_from_global_cluster(GlobalClusterIdentifier=unique, DbClusterIdentifier=cluster["DBClusterArn"])
    assert describe(east, unique)["GlobalClusterMembers"] == []
    raised = raises("InvalidGlobalClusterStateFault", east.delete_global_cluster, GlobalClusterIdentifier=unique)
    assert raised.value.response["Error"]["Message"] == f"Global Cluster {describe(east, unique)['GlobalClusterArn']} is not empty"
    emulator.control("POST", "/_drpair/clock", {"advance": EMPTY_SECONDS - 1})
    raises("InvalidGlobalClusterStateFault", east.delete_global_cluster, GlobalClusterIdentifier=unique)
    emulator.control("POST", "/_drpair/clock", {"advance": 1.5})
    assert east.delete_global_cluster(GlobalClusterIdentifier=unique)["GlobalCluster"]["GlobalClusterIdentifier"] == unique


def test_secondary_deletion_updates_membership(global_db):
    east, west, gid = global_db["east"], global_db["west"], global_db["id"]
    west.delete_db_cluster(DBClusterIdentifier=f"{gid}-b", SkipFinalSnapshot=True)
    assert list(writers(describe(east, gid))) == [global_db["primary"]]


def test_create_from_source_and_rename(emulator, unique):
    west = emulator.client("rds", "us-east-2")
    source = west.create_db_cluster(DBClusterIdentifier=unique, Engine=ENGINE, MasterUsername="admin", MasterUserPassword="secret-password", DatabaseName="app")["DBCluster"]
    created = west.create_global_cluster(GlobalClusterIdentifier=unique + "-g", SourceDBClusterIdentifier=source["DBClusterArn"])["GlobalCluster"]
    assert created["Engine"] == ENGINE and created["DatabaseName"] == "app"
    assert writers(created) == {source["DBClusterArn"]: True}
    raises("InvalidDBClusterStateFault", west.create_global_cluster, GlobalClusterIdentifier=unique + "-h", SourceDBClusterIdentifier=source["DBClusterArn"])
    west.modify_global_cluster(GlobalClusterIdentifier=unique + "-g", NewGlobalClusterIdentifier=unique + "-renamed")
    assert describe(west, unique + "-renamed")["GlobalClusterIdentifier"] == unique + "-renamed"
    assert west.describe_db_clusters(DBClusterIdentifier=unique)["DBClusters"][0]["GlobalClusterIdentifier"] == unique + "-renamed"


def test_reset_cluster_parameter_group(emulator, unique):
    rds = emulator.client("rds", "us-east-2")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=unique, DBParameterGroupFamily="aurora-postgresql15", Description="rpo")
    parameters = [
        {"ParameterName": "rds.global_db_rpo", "ParameterValue": "30", "ApplyMethod": "immediate"},
        {"ParameterName": "log_min_duration_statement", "ParameterValue": "100", "ApplyMethod": "immediate"},
    ]
    rds.modify_db_cluster_parameter_group(DBClusterParameterGroupName=unique, Parameters=parameters)

    def custom():
        listed = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=unique)["Parameters"]
        return sorted(p["ParameterName"] for p in listed if p.get("ParameterValue") is not None)

    assert custom() == ["log_min_duration_statement", "rds.global_db_rpo"]
    answer = rds.reset_db_cluster_parameter_group(DBClusterParameterGroupName=unique, Parameters=[{"ParameterName": "rds.global_db_rpo", "ApplyMethod": "immediate"}])
    assert answer["DBClusterParameterGroupName"] == unique
    assert custom() == ["log_min_duration_statement"]
    rds.reset_db_cluster_parameter_group(DBClusterParameterGroupName=unique, ResetAllParameters=True)
    assert custom() == []
    raises("DBParameterGroupNotFound", rds.reset_db_cluster_parameter_group, DBClusterParameterGroupName=unique + "-x", ResetAllParameters=True)


def test_global_databases_refuse_burstable_classes(emulator, unique):
    """Aurora global databases need memory-optimized classes: AWS answers
    InvalidParameterCombination "The requested instance class is not supported by global
    databases: db.t4g.medium" to CreateDBInstance into a member (terraform-provider-aws#27736)."""
    east = emulator.client("rds", "us-east-1")
    east.create_global_cluster(GlobalClusterIdentifier=unique, Engine=ENGINE)
    east.create_db_cluster(DBClusterIdentifier=f"{unique}-a", Engine=ENGINE, GlobalClusterIdentifier=unique, MasterUsername="admin", MasterUserPassword="secret-password")
    for instance_class in ("db.t4g.medium", "db.t3.large"):
        raised = raises(
            "InvalidParameterCombination",
            east.create_db_instance,
            DBInstanceIdentifier=f"{unique}-t",
            DBClusterIdentifier=f"{unique}-a",
            Engine=ENGINE,
            DBInstanceClass=instance_class,
        )
        assert raised.value.response["Error"]["Message"] == f"The requested instance class is not supported by global databases: {instance_class}"
    for n, instance_class in enumerate(("db.r6g.large", "db.r5.xlarge", "db.x2g.large")):
        east.create_db_instance(DBInstanceIdentifier=f"{unique}-{n}", DBClusterIdentifier=f"{unique}-a", Engine=ENGINE, DBInstanceClass=instance_class)
    raises("InvalidParameterCombination", east.modify_db_instance, DBInstanceIdentifier=f"{unique}-0", DBInstanceClass="db.t4g.medium", ApplyImmediately=True)

    # A standalone cluster may run burstable instances, but cannot then become a global database.
    east.create_db_cluster(DBClusterIdentifier=f"{unique}-s", Engine=ENGINE, MasterUsername="admin", MasterUserPassword="secret-password")
    east.create_db_instance(DBInstanceIdentifier=f"{unique}-s1", DBClusterIdentifier=f"{unique}-s", Engine=ENGINE, DBInstanceClass="db.t4g.medium")
    raised = raises("InvalidParameterCombination", east.create_global_cluster, GlobalClusterIdentifier=unique + "-g", SourceDBClusterIdentifier=f"{unique}-s")
    assert "db.t4g.medium" in raised.value.response["Error"]["Message"]
    raises("GlobalClusterNotFoundFault", east.describe_global_clusters, GlobalClusterIdentifier=unique + "-g")


def test_deleting_a_cluster_removes_its_automated_snapshots(emulator, unique):
    """DeleteDBCluster's DeleteAutomatedBackups defaults to true ("The default is to remove
    automated backups immediately after the DB cluster is deleted", RDS API reference): a cluster
    made again under the same name within the same minute is not refused because of the old one's
    automated snapshot (moto kept it: DBClusterSnapshotAlreadyExistsFault, found by the fault
    campaign). Manual snapshots, final ones included, stay."""
    west = emulator.client("rds", "us-east-2")
    params = dict(DBClusterIdentifier=unique, Engine=ENGINE, MasterUsername="admin", MasterUserPassword="secret-password")
    west.create_db_cluster(**params)
    automated = west.describe_db_cluster_snapshots(DBClusterIdentifier=unique, SnapshotType="automated")["DBClusterSnapshots"]
    assert automated, "moto makes an automated snapshot when the cluster is created"
    west.delete_db_cluster(DBClusterIdentifier=unique, SkipFinalSnapshot=False, FinalDBSnapshotIdentifier=f"{unique}-final")
    assert west.describe_db_cluster_snapshots(SnapshotType="automated", DBClusterIdentifier=unique)["DBClusterSnapshots"] == []
    assert [s["DBClusterSnapshotIdentifier"] for s in west.describe_db_cluster_snapshots(DBClusterIdentifier=unique, SnapshotType="manual")["DBClusterSnapshots"]] == [f"{unique}-final"]
    west.create_db_cluster(**params)
    west.delete_db_cluster(DBClusterIdentifier=unique, SkipFinalSnapshot=True)
