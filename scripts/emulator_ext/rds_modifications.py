"""Aurora modifications take effect later, as on AWS; minor upgrades of a global database go
secondaries first; a secondary joins at the global cluster's engine version.

- **Modifications are asynchronous.** "Modifying an Amazon Aurora DB cluster"
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Modifying.html) and the
  ModifyDBCluster / ModifyDBInstance references
  (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html,
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html): with
  ApplyImmediately the change is made "as soon as possible", asynchronously; the call answers
  before it starts. terraform-provider-aws waits 30 s before its first read after such a call
  (``Delay: 30 * time.Second`` in ``waitDBClusterUpdated``, ``waitGlobalClusterMemberUpdated``
  and ``waitDBInstanceUpdated``, internal/service/rds) because a read right after it may still
  say ``available`` with the old value. The emulator models that window strictly:

  * ModifyDBCluster with a new EngineVersion (a minor upgrade): for START_SECONDS modeled seconds
    (with either clock timing) the cluster still reads ``available`` at its old EngineVersion and
    with no PendingModifiedValues; then it is ``upgrading`` (its instances too) with
    PendingModifiedValues.EngineVersion for UPGRADE_SECONDS (``aws`` timing; 0 with ``instant``);
    then it runs the new version and is ``available``. A writer's completed upgrade sets its
    global cluster's EngineVersion.
  * ModifyDBInstance with a new DBInstanceClass: likewise ``available`` at the old class for
    START_SECONDS, then ``modifying`` with PendingModifiedValues.DBInstanceClass for
    RESIZE_SECONDS (``aws`` timing), then the new class and ``available``.
  * Without ApplyImmediately the change waits for the maintenance window, which the emulator does
    not model: it stays in PendingModifiedValues.
  * While a cluster (or the instance) is not ``available``, or a modification of it was accepted
    and has not finished, another such modification is refused: ``InvalidDBClusterStateFault`` /
    ``InvalidDBInstanceState`` (the faults the references list for "the requested operation can't
    be performed while the cluster/instance is in this state";
    terraform-provider-aws retries ``InvalidDBClusterStateFault`` on ModifyDBCluster).
- **Minor upgrades of a global database, secondaries first.** "For a minor version upgrade of an
  Aurora global database, upgrade all of the secondary clusters before you upgrade the primary
  cluster" (Upgrading an Amazon Aurora global database,
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-upgrade.html#aurora-global-database-upgrade.minor).
  ModifyDBCluster of the writer to a version a secondary does not run yet is
  ``InvalidParameterValue`` "... upgrade global replicas first", and any member's upgrade while
  another member of the same global cluster is upgrading is ``InvalidGlobalClusterStateFault``
  "... is upgrading" (the two answers terraform-provider-aws's
  ``globalClusterUpgradeMinorEngineVersion`` handles by waiting and trying again).
- **A secondary joins at the global cluster's version.** CreateDBCluster into a global cluster with
  another EngineVersion is ``InvalidParameterValue`` "Value for engineVersion should match setting
  for global cluster {id}" (AWS's answer, quoted in aws/aws-cli#8139).
- Timeline events: ``rds.cluster.upgrade.requested`` / ``.started`` / ``.completed`` and
  ``rds.instance.resize.requested`` / ``.started`` / ``.completed``, with the cluster or instance,
  region and new value.
"""

import threading

from . import clock, timeline
from .rds_global import GLOBAL_REGION, _in_global_cluster, backends, check_instance_class, fault

# The emulator's choice (AWS gives no figure): how long a modification accepted with
# ApplyImmediately is not yet visible, in modeled seconds with either timing. Small, because at
# speed 1 it is real time in every update; long enough that a read right after the call sees it.
START_SECONDS = 2
# Typical durations with the clock's "aws" timing (modeled seconds; the emulator's choices within
# what AWS describes: a minor upgrade restarts every instance; a class change replaces the host).
UPGRADE_SECONDS = 600
RESIZE_SECONDS = 480

_lock = threading.RLock()


def _in_flight(obj):
    return obj.__dict__.get("drpair_modification") is not None


def _cluster_instances(backend, cluster):
    return [db for db in backend.databases.values() if getattr(db, "db_cluster_identifier", None) == cluster.db_cluster_identifier]


def _global_of(account_id, cluster):
    identifier = getattr(cluster, "global_cluster_identifier", None)
    if not identifier:
        return None
    return backends(account_id)[GLOBAL_REGION].global_clusters.get(identifier)


def _version(cluster):
    return cluster.engine_version


def _check_cluster_upgrade(backend, cluster, version):
    if cluster.status != "available" or _in_flight(cluster):
        raise fault(
            "InvalidDBClusterStateFault",
            f"DB cluster {cluster.db_cluster_identifier} is not in the available state; it is {cluster.status}"
            + (" with a modification in progress" if _in_flight(cluster) else "")
            + ".",
        )
    global_cluster = _global_of(backend.account_id, cluster)
    if global_cluster is None:
        return
    others = [m for m in global_cluster.members if m is not cluster]
    busy = [m for m in others if _in_flight(m) or m.status == "upgrading"]
    if busy:
        raise fault(
            "InvalidGlobalClusterStateFault",
            f"Global cluster {global_cluster.global_cluster_identifier} is upgrading: member {busy[0].db_cluster_arn} has an upgrade in progress.",
        )
    if getattr(cluster, "is_writer", False):
        behind = [m for m in others if _version(m) != version]
        if behind:
            raise fault(
                "InvalidParameterValue",
                f"Cannot upgrade the primary cluster {cluster.db_cluster_identifier} of global cluster {global_cluster.global_cluster_identifier} to {version}: "
                f"secondary cluster {behind[0].db_cluster_arn} runs {_version(behind[0])}; upgrade global replicas first.",
            )


def _upgrade(account_id, region, cluster, version):
    identifier = cluster.db_cluster_identifier
    cluster.drpair_modification = {"EngineVersion": version}
    timeline.record("rds.cluster.upgrade.requested", cluster=identifier, region=region, version=version)

    def alive():
        return backends(account_id)[region].clusters.get(identifier) is cluster

    def finish():
        with _lock:
            if not alive():
                return
            cluster.engine_version = version
            cluster.pending_modified_values = None
            cluster.drpair_modification = None
            cluster.__dict__.pop("drpair_modifying_status", None)
            # Clustered instances report their cluster's EngineVersion.
            for instance in _cluster_instances(backends(account_id)[region], cluster):
                if instance.status == "upgrading":
                    instance.status = "available"
            global_cluster = _global_of(account_id, cluster)
            if global_cluster is not None and getattr(cluster, "is_writer", False):
                global_cluster.engine_version = version
            timeline.record("rds.cluster.upgrade.completed", cluster=identifier, region=region, version=version)

    def start():
        with _lock:
            if not alive():
                return
            cluster.pending_modified_values = {"EngineVersion": version}
            cluster.drpair_modifying_status = "upgrading"
            for instance in _cluster_instances(backends(account_id)[region], cluster):
                if instance.status == "available":
                    instance.status = "upgrading"
            timeline.record("rds.cluster.upgrade.started", cluster=identifier, region=region, version=version)
        clock.after(clock.duration(UPGRADE_SECONDS), finish, f"rds-upgrade-{identifier}")

    clock.after(START_SECONDS, start, f"rds-upgrade-start-{identifier}")


def _resize(account_id, region, instance, instance_class):
    identifier = instance.db_instance_identifier
    instance.drpair_modification = {"DBInstanceClass": instance_class}
    timeline.record("rds.instance.resize.requested", instance=identifier, region=region, instance_class=instance_class)

    def alive():
        return backends(account_id)[region].databases.get(identifier) is instance

    def finish():
        with _lock:
            if not alive():
                return
            instance.db_instance_class = instance_class
            instance.pending_modified_values = None
            instance.drpair_modification = None
            if instance.status == "modifying":
                instance.status = "available"
            timeline.record("rds.instance.resize.completed", instance=identifier, region=region, instance_class=instance_class)

    def start():
        with _lock:
            if not alive():
                return
            instance.pending_modified_values = {"DBInstanceClass": instance_class}
            instance.status = "modifying"
            timeline.record("rds.instance.resize.started", instance=identifier, region=region, instance_class=instance_class)
        clock.after(clock.duration(RESIZE_SECONDS), finish, f"rds-resize-{identifier}")

    clock.after(START_SECONDS, start, f"rds-resize-start-{identifier}")


def _patch():
    from moto.rds.models import DBCluster, RDSBackend

    patched_status = DBCluster.status

    def get_status(self):
        modifying = self.__dict__.get("drpair_modifying_status")
        if modifying and not self.__dict__.get("drpair_role_status"):
            return modifying
        return patched_status.fget(self)

    DBCluster.status = property(get_status, patched_status.fset)

    original_modify = RDSBackend.modify_db_cluster

    def modify_db_cluster(self, kwargs):
        identifier = kwargs.get("db_cluster_identifier")
        cluster = self.clusters.get(identifier)
        version = kwargs.get("engine_version")
        if cluster is None or not version:
            return original_modify(self, kwargs)
        kwargs = dict(kwargs, engine_version=None)
        if version == cluster.engine_version:
            return original_modify(self, kwargs)
        with _lock:
            _check_cluster_upgrade(self, cluster, version)
            answer = original_modify(self, kwargs)
            if kwargs.get("apply_immediately"):
                _upgrade(self.account_id, self.region_name, cluster, version)
            else:
                cluster.pending_modified_values = {"EngineVersion": version}
        return answer

    original_modify_instance = RDSBackend.modify_db_instance

    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        instance = self.databases.get(db_instance_identifier)
        wanted = db_kwargs.get("db_instance_class")
        if instance is None or not wanted:
            return original_modify_instance(self, db_instance_identifier, db_kwargs)
        db_kwargs = {k: v for k, v in db_kwargs.items() if k != "db_instance_class"}
        if wanted == instance.db_instance_class:
            return original_modify_instance(self, db_instance_identifier, db_kwargs)
        with _lock:
            if instance.status != "available" or _in_flight(instance):
                raise fault("InvalidDBInstanceState", "Database instance is not in available state.")
            if _in_global_cluster(self, getattr(instance, "db_cluster_identifier", None)):
                check_instance_class(wanted)
            answer = original_modify_instance(self, db_instance_identifier, db_kwargs)
            if db_kwargs.get("apply_immediately"):
                _resize(self.account_id, self.region_name, instance, wanted)
            else:
                instance.pending_modified_values = {"DBInstanceClass": wanted}
        return answer

    original_create = RDSBackend.create_db_cluster

    def create_db_cluster(self, kwargs):
        identifier = kwargs.get("global_cluster_identifier")
        version = kwargs.get("engine_version")
        if identifier and version:
            registry = backends(self.account_id)[GLOBAL_REGION].global_clusters
            global_cluster = registry.get(identifier.rsplit(":", 1)[-1])
            if global_cluster is not None and global_cluster.engine_version and global_cluster.engine_version != version:
                raise fault(
                    "InvalidParameterValue",
                    f"Value for engineVersion should match setting for global cluster {global_cluster.global_cluster_identifier}",
                )
        return original_create(self, kwargs)

    RDSBackend.modify_db_cluster = modify_db_cluster
    RDSBackend.modify_db_instance = modify_db_instance
    RDSBackend.create_db_cluster = create_db_cluster


def register(app):
    _patch()
    return None
