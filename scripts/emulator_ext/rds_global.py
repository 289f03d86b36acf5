"""Aurora global databases, completed on moto's RDS backend (global clusters live in us-east-1's).

- CreateGlobalCluster: keeps Tags and DatabaseName; an existing identifier is
  ``GlobalClusterAlreadyExistsFault``; a source cluster already in a global cluster is
  ``InvalidDBClusterStateFault``. CreateDBCluster naming an unknown GlobalClusterIdentifier is
  ``GlobalClusterNotFoundFault``.
- DescribeGlobalClusters honours GlobalClusterIdentifier (unknown: ``GlobalClusterNotFoundFault``).
  Members follow the GlobalClusterMember shape: the writer lists the secondaries as Readers,
  secondaries carry GlobalWriteForwardingStatus and SynchronizationStatus ``connected`` (or
  ``pending-resync`` while a failover's rebuild awaits them, below).
- FailoverGlobalCluster (AllowDataLoss: a failover; Switchover or neither: a switchover; both:
  ``InvalidParameterCombination``) and SwitchoverGlobalCluster promote TargetDbClusterIdentifier
  (an ARN, or an identifier in the request's region). Errors: unknown global cluster
  ``GlobalClusterNotFoundFault``; unknown target ``DBClusterNotFoundFault``; a target that is not a
  member, or already the primary, ``InvalidParameterValue``; a global cluster not ``available``
  (a failover or switchover already under way) ``InvalidGlobalClusterStateFault``; a switchover
  while any member is not ``available`` (or its region is down), or a failover to a target that is
  not, ``InvalidDBClusterStateFault``. The transitions follow the modeled clock (``clock.py``):

  FailoverState (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html)
  is ``pending`` for PENDING_SECONDS ("the primary DB cluster and the specified secondary DB
  cluster are being verified"), then ``failing-over`` (or ``switching-over``); the global
  cluster's Status is ``failing-over``/``switching-over`` throughout; the target's own Status is
  ``failing-over`` and it is not the writer until FAILOVER_SECONDS (failover) or
  SWITCHOVER_SECONDS (switchover) after the call; then it is the writer and ``available``.
  A switchover then ends: the old primary is a ``connected`` secondary, the global cluster
  ``available``, no FailoverState ("Performing switchovers for Amazon Aurora global databases",
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html:
  the database "is unavailable for a short time while the primary and selected secondary clusters
  are assuming their new roles", so both clusters' Status is ``failing-over`` meanwhile).

  A failover (AllowDataLoss) does not wait for replication: the target keeps what it had received
  when the call was made ("Recovering an Amazon Aurora global database from an unplanned outage",
  same page: "Managed failover doesn't wait for data to synchronize"); the old primary is fenced
  from the call on (write fencing; ``aurora_data.py``). After the promotion the old primary (and
  any other secondary) is not the writer, SynchronizationStatus ``pending-resync``
  (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_GlobalClusterMember.html), its own
  Status ``failing-over``: "Aurora creates a new storage volume for the old primary Region after it
  recovers" and "As soon as that Region is healthy and available again, Aurora automatically adds it
  back to the global cluster as a secondary Region". So while its region is down it stays out of
  service; once the region is up it is rebuilt in RESYNC_SECONDS, then it is a ``connected``
  secondary of the new writer. Until every member is rebuilt the failover is still in progress:
  the global cluster's Status and FailoverState stay ``failing-over`` ("the original topology" is
  not yet restored, and FailoverState "is empty unless a switchover or failover operation is
  scheduled or is in progress"); then the global cluster is ``available`` without FailoverState.
  Durations (modeled seconds) apply when the clock's timing is ``aws``; with ``instant`` timing
  (the default) every duration is 0: the call answers the transitional state (Status and
  FailoverState ``failing-over``/``switching-over``) and the next read shows the outcome (a
  failover whose old primary's region is down still waits for the region to recover).
  Timeline events: ``rds.failover.started``, ``rds.failover.promoting``, ``rds.failover.completed``
  (the target is the writer and available), ``rds.resync.started``, ``rds.resync.completed``,
  ``rds.global.available``; ``rds.switchover.started``, ``rds.switchover.switching``,
  ``rds.switchover.completed``.
- RemoveFromGlobalCluster works for a member in either region; the cluster becomes standalone
  (no GlobalClusterIdentifier; Status ``promoting`` once, then ``available``). Removing the primary
  while secondaries remain is ``InvalidGlobalClusterStateFault``; a cluster that is not a member is
  ``InvalidParameterValue`` ("... is not found in global cluster ...").
- DeleteDBCluster of a member updates the membership; deleting the primary while other members
  remain is ``InvalidGlobalClusterStateFault`` (AWS's message).
- ModifyGlobalCluster: DeletionProtection, NewGlobalClusterIdentifier, EngineVersion.
  DeleteGlobalCluster: unknown ``GlobalClusterNotFoundFault``, protected
  ``InvalidParameterCombination``, with members ``InvalidGlobalClusterStateFault``
  ("Global Cluster ARN is not empty"). AWS is eventually consistent here: right after the last
  member left (RemoveFromGlobalCluster, or DeleteDBCluster of the member) DeleteGlobalCluster keeps
  answering that same fault for a while, which terraform-provider-aws retries
  (``resourceGlobalClusterDelete`` in internal/service/rds/global_cluster.go: "Allow for eventual
  consistency // InvalidGlobalClusterStateFault: Global Cluster arn:... is not empty", retried up
  to 5 minutes). The emulator models it for EMPTIED_SECONDS modeled seconds after the last member
  left, with either timing (``instant`` too), so callers' retries are exercised.
- Instance classes: "An Aurora global database requires DB instance classes that are optimized for
  memory-intensive applications ... We recommend that you use a db.r5 or higher instance class"
  (Configuration requirements of an Amazon Aurora global database,
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.configuration.requirements.html).
  AWS answers CreateDBInstance of another class into a member cluster with
  ``InvalidParameterCombination`` "The requested instance class is not supported by global
  databases: db.t4g.medium" (reported in hashicorp/terraform-provider-aws#27736). The emulator
  refuses, with that code and message, a class outside the memory-optimized families (``db.r*``,
  ``db.x*``): CreateDBInstance and ModifyDBInstance (a new DBInstanceClass) of an instance of a
  member cluster, and CreateGlobalCluster from a SourceDBClusterIdentifier that has such instances
  (the emulator's reading of the requirement; AWS documents no separate message for these two).
  A standalone cluster keeps accepting any class.
- Tags on global clusters (ListTagsForResource/AddTagsToResource/RemoveTagsFromResource on
  ``arn:aws:rds::ACCOUNT:global-cluster:ID``).
- ResetDBClusterParameterGroup (moto lacks it): ResetAllParameters, or the named Parameters, go
  back to the engine defaults (custom values are dropped); unknown group ``DBParameterGroupNotFound``.
- Control ``POST /_drpair/rds-clusters/{region}/{DBClusterIdentifier}`` ``{"status": "..."}`` sets
  a cluster's Status (e.g. ``inaccessible`` to make it unavailable, ``available`` to heal it).
"""

import copy
import re
import threading

from . import clock, outage, timeline
from .common import ControlError, control, moto_account

GLOBAL_REGION = "us-east-1"

# AWS's typical durations (modeled seconds; only with the clock's "aws" timing).
FAILOVER_SECONDS = 60
SWITCHOVER_SECONDS = 90
RESYNC_SECONDS = 300
# The emulator's choice (AWS gives no figure): how long FailoverState stays "pending" (part of
# the failover's or switchover's duration, not added to it).
PENDING_SECONDS = 5
# The emulator's choice (AWS gives no figure; terraform-provider-aws retries up to 5 minutes): how
# long DeleteGlobalCluster still answers "is not empty" after the last member left, in modeled
# seconds and with either timing. Small, because at speed 1 it is real time in every destroy.
EMPTIED_SECONDS = 3
# Memory-optimized instance class families (db.r5, db.r6g, db.r6gd, db.r7g, db.r8g, db.x2g, ...).
MEMORY_OPTIMIZED = re.compile(r"^db\.[rx]\d+[a-z]*\.[a-z0-9]+$")

_lock = threading.RLock()


def _errors():
    from moto.rds.exceptions import RDSClientError

    return RDSClientError


def fault(code, message):
    return _errors()(code, message)


def backends(account_id):
    from moto.rds.models import rds_backends

    return rds_backends[account_id]


def find_global(account_id, identifier):
    registry = backends(account_id)[GLOBAL_REGION].global_clusters
    if identifier and identifier.startswith("arn:"):
        identifier = identifier.rsplit(":", 1)[-1]
    if not identifier or identifier not in registry:
        raise fault("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")
    return registry[identifier]


def find_cluster(account_id, region, identifier):
    """A DB cluster by ARN (any region) or identifier (the request's region)."""
    if identifier and identifier.startswith("arn:"):
        parts = identifier.split(":")
        if len(parts) == 7 and parts[5] == "cluster":
            region, identifier = parts[3], parts[6]
    clusters = backends(account_id)[region].clusters if identifier else {}
    if not identifier or identifier not in clusters:
        raise fault("DBClusterNotFoundFault", f"DBCluster {identifier} not found.")
    return clusters[identifier]


def primary(global_cluster):
    return next((m for m in global_cluster.members if m.is_writer), None)


def _not_member(cluster, global_cluster):
    return fault(
        "InvalidParameterValue",
        f"The cluster {cluster.db_cluster_arn} is not found in global cluster {global_cluster.global_cluster_identifier}.",
    )


def region_of(cluster):
    return cluster.db_cluster_arn.split(":")[3]


def _check_available(member):
    state = member.status
    if state != "available" or outage.is_down(region_of(member)):
        if state == "available":
            state = "inaccessible"  # its region is down: nothing answers for it
        raise fault(
            "InvalidDBClusterStateFault",
            f"DB cluster {member.db_cluster_arn} is in {state} state but expected it to be available.",
        )


def promote(global_cluster, target, allow_data_loss):
    """Starts the failover (AllowDataLoss) or switchover of `global_cluster` to `target`; returns
    the response snapshot (the transitional state)."""
    with _lock:
        if global_cluster.status != "available":
            raise fault(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {global_cluster.global_cluster_identifier} is in {global_cluster.status} state.",
            )
        if target not in global_cluster.members:
            raise _not_member(target, global_cluster)
        old = primary(global_cluster)
        if target is old:
            raise fault(
                "InvalidParameterValue",
                f"The cluster {target.db_cluster_arn} is already the primary cluster of global cluster "
                f"{global_cluster.global_cluster_identifier}.",
            )
        for member in [target] if allow_data_loss else global_cluster.members:
            _check_available(member)
        op = Operation(global_cluster, old, target, bool(allow_data_loss))
        global_cluster.drpair_op = op
        snapshot = op.start()
    if not clock.aws_timing():
        op.run_instant()
    return snapshot


class Operation:
    """A failover or switchover in progress on one global cluster (see the module docstring)."""

    def __init__(self, global_cluster, old, target, data_loss):
        self.global_cluster = global_cluster
        self.old = old
        self.target = target
        self.data_loss = data_loss
        self.kind = "failover" if data_loss else "switchover"
        self.active = "failing-over" if data_loss else "switching-over"
        self.phase = "pending"
        self.started = clock.now()
        self.rebuilding = []  # members waiting for (or in) their rebuild, in order
        self.rebuild_started = {}  # member ARN -> modeled epoch its rebuild started
        self.timers = []

    # --- views -------------------------------------------------------------------------------

    def live(self):
        return getattr(self.global_cluster, "drpair_op", None) is self

    def failover_state(self):
        return {
            "Status": self.phase,
            "FromDbClusterArn": self.old.db_cluster_arn if self.old is not None else None,
            "ToDbClusterArn": self.target.db_cluster_arn,
            "IsDataLossAllowed": self.data_loss,
        }

    def _event(self, what, **fields):
        timeline.record(
            f"rds.{what}",
            global_cluster=self.global_cluster.global_cluster_identifier,
            **fields,
        )

    def _target_fields(self):
        return {
            "cluster": self.target.db_cluster_identifier,
            "region": region_of(self.target),
            "from": self.old.db_cluster_arn if self.old is not None else None,
            "to": self.target.db_cluster_arn,
            "data_loss": self.data_loss,
        }

    # --- transitions -------------------------------------------------------------------------

    def start(self):
        from . import aurora_data

        gc = self.global_cluster
        gc.status = self.active
        gc.failover_state = self.failover_state()
        self.target.drpair_role_status = "failing-over"
        if self.old is not None:
            self.old.drpair_role_status = "failing-over"
        others = [m for m in gc.members if m is not self.target and m is not self.old]
        if self.data_loss:
            aurora_data.failover_started(gc, self.old, self.target, others)
        else:
            aurora_data.switchover_started(gc, self.old, self.target)
        self._event(f"{self.kind}.started", **self._target_fields())
        snapshot = copy.copy(gc)
        snapshot.drpair_members_view = _membership(gc)
        if not clock.aws_timing():
            # The answer of instant timing: the operation already past its verification.
            snapshot.failover_state = dict(gc.failover_state, Status=self.active)
        else:
            total = FAILOVER_SECONDS if self.data_loss else SWITCHOVER_SECONDS
            self.timers.append(clock.at(self.started + PENDING_SECONDS, self.advance, f"rds-{self.kind}-in-progress"))
            self.timers.append(clock.at(self.started + total, self.complete_promotion, f"rds-{self.kind}-promoted"))
        return snapshot

    def run_instant(self):
        self.advance()
        self.complete_promotion()

    def advance(self):
        with _lock:
            if not self.live() or self.phase != "pending":
                return
            self.phase = self.active
            self.global_cluster.failover_state = self.failover_state()
        self._event("failover.promoting" if self.data_loss else "switchover.switching", **self._target_fields())

    def complete_promotion(self):
        from . import aurora_data

        with _lock:
            if not self.live() or self.phase == "promoted":
                return
            if self.phase == "pending":
                self.phase = self.active
            gc = self.global_cluster
            target, old = self.target, self.old
            if target not in gc.members:  # removed or deleted meanwhile
                self.finish()
                return
            if old is not None and old in gc.members:
                old.is_writer = False
            target.is_writer = True
            gc.members.remove(target)
            gc.members.insert(0, target)
            target.__dict__.pop("drpair_role_status", None)
            aurora_data.promoted(gc, target)
            if self.data_loss:
                self.phase = "failing-over"
                gc.failover_state = self.failover_state()
                self.rebuilding = [m for m in gc.members if m is not target]
            else:
                self.phase = "promoted"
                if old is not None:
                    old.__dict__.pop("drpair_role_status", None)
                    aurora_data.rejoined(gc, old)
        self._event(f"{self.kind}.completed", **self._target_fields())
        if self.data_loss:
            for member in list(self.rebuilding):
                self.maybe_rebuild(member)
            self.maybe_finish()
        else:
            self.finish()

    def maybe_rebuild(self, member):
        """Starts `member`'s rebuild if its region is up (else when the region recovers)."""
        with _lock:
            if not self.live() or member not in self.rebuilding or member.db_cluster_arn in self.rebuild_started:
                return
            if outage.is_down(region_of(member)):
                return
            self.rebuild_started[member.db_cluster_arn] = clock.now()
        self._event("resync.started", cluster=member.db_cluster_identifier, region=region_of(member), writer=self.target.db_cluster_arn)
        delay = clock.duration(RESYNC_SECONDS)
        if delay <= 0:
            self.rebuilt(member)
        else:
            self.timers.append(clock.after(delay, lambda: self.rebuilt(member), f"rds-resync-{member.db_cluster_identifier}"))

    def rebuilt(self, member):
        from . import aurora_data

        with _lock:
            if not self.live() or member not in self.rebuilding:
                return
            if outage.is_down(region_of(member)):
                # The region went down again during the rebuild: it starts over when it is back.
                self.rebuild_started.pop(member.db_cluster_arn, None)
                return
            self.rebuilding.remove(member)
            member.__dict__.pop("drpair_role_status", None)
            aurora_data.rejoined(self.global_cluster, member)
        self._event("resync.completed", cluster=member.db_cluster_identifier, region=region_of(member), writer=self.target.db_cluster_arn)
        self.maybe_finish()

    def forget(self, member):
        """`member` left the global cluster (removed or deleted) during the operation."""
        with _lock:
            if member in self.rebuilding:
                self.rebuilding.remove(member)
            member.__dict__.pop("drpair_role_status", None)
        if self.phase in ("failing-over",) and self.target.is_writer:
            self.maybe_finish()

    def maybe_finish(self):
        with _lock:
            if not self.live() or self.rebuilding or not self.target.is_writer:
                return
        self.finish()

    def finish(self):
        with _lock:
            if not self.live():
                return
            gc = self.global_cluster
            gc.drpair_op = None
            gc.status = "available"
            gc.failover_state = None
            for timer in self.timers:
                timer.cancel()
        self._event("global.available", writer=self.target.db_cluster_arn)

    def region_recovered(self, region):
        for member in list(self.rebuilding):
            if region_of(member) == region:
                self.maybe_rebuild(member)


def _on_outage_change(region, down):
    if down:
        return
    for registry in _global_registries():
        for gc in list(registry.values()):
            op = getattr(gc, "drpair_op", None)
            if op is not None:
                op.region_recovered(region)


def _global_registries():
    yield backends(moto_account())[GLOBAL_REGION].global_clusters


def synchronization_status(global_cluster, member):
    op = getattr(global_cluster, "drpair_op", None)
    if op is not None and member in op.rebuilding:
        return "pending-resync"
    return "connected"


def remove_member(global_cluster, cluster, deleting=False):
    others = [m for m in global_cluster.members if m is not cluster]
    if cluster not in global_cluster.members:
        raise _not_member(cluster, global_cluster)
    if cluster.is_writer and others:
        action = "delete" if deleting else "remove"
        raise fault(
            "InvalidGlobalClusterStateFault",
            f"Unable to {action} cluster that is a primary member of global cluster while there are other global cluster members",
        )
    from . import aurora_data

    op = getattr(global_cluster, "drpair_op", None)
    aurora_data.detached(global_cluster, cluster)
    global_cluster.members.remove(cluster)
    if not global_cluster.members:
        global_cluster.drpair_emptied_at = clock.now()
    cluster.is_writer = False
    cluster.global_cluster_identifier = None
    if op is not None:
        op.forget(cluster)


def check_instance_class(instance_class):
    """Refuses, as AWS does, an instance class a global database cannot run."""
    if instance_class and not MEMORY_OPTIMIZED.match(instance_class):
        raise fault(
            "InvalidParameterCombination",
            f"The requested instance class is not supported by global databases: {instance_class}",
        )


def _cluster_instances(backend, cluster_identifier):
    return [db for db in backend.databases.values() if getattr(db, "db_cluster_identifier", None) == cluster_identifier]


def _in_global_cluster(backend, cluster_identifier):
    cluster = backend.clusters.get(cluster_identifier) if cluster_identifier else None
    return cluster is not None and bool(getattr(cluster, "global_cluster_identifier", None))


def _param(kwargs, snake, camel):
    value = kwargs.get(snake)
    return value if value is not None else kwargs.get(camel)


def _membership(global_cluster):
    frozen = global_cluster.__dict__.get("drpair_members_view")
    if frozen is not None:  # a response snapshot: the members as they were
        return frozen
    readers = [m.db_cluster_arn for m in global_cluster.members if not m.is_writer]
    members = []
    for member in global_cluster.members:
        if member.is_writer:
            members.append({"DBClusterArn": member.db_cluster_arn, "Readers": readers, "IsWriter": True})
        else:
            members.append(
                {
                    "DBClusterArn": member.db_cluster_arn,
                    "Readers": [],
                    "IsWriter": False,
                    "GlobalWriteForwardingStatus": member.global_write_forwarding_status,
                    "SynchronizationStatus": synchronization_status(global_cluster, member),
                }
            )
    return members


def _write_forwarding_status(cluster):
    """GlobalWriteForwardingStatus of a DB cluster: set for secondaries of a global cluster only."""
    if not getattr(cluster, "global_cluster_identifier", None) or getattr(cluster, "is_writer", False):
        return None
    requested = getattr(cluster, "enable_global_write_forwarding", None)
    if requested is None:
        requested = getattr(cluster, "_global_write_forwarding_requested", False)
    return "enabled" if requested else "disabled"


def _patch_models():
    from moto.rds.models import DBCluster, GlobalCluster, RDSBackend

    GlobalCluster.global_cluster_members = property(_membership)
    GlobalCluster.failover_state = None
    GlobalCluster.drpair_op = None
    GlobalCluster.database_name = None
    GlobalCluster.drpair_emptied_at = None
    DBCluster.global_write_forwarding_status = property(_write_forwarding_status)

    original_status = DBCluster.status

    def get_status(self):
        transient = self.__dict__.pop("drpair_transient_status", None)
        return transient or self.__dict__.get("drpair_role_status") or original_status.fget(self)

    DBCluster.status = property(get_status, original_status.fset)

    original_create = RDSBackend.create_db_cluster

    def create_db_cluster(self, kwargs):
        identifier = kwargs.get("global_cluster_identifier")
        if identifier:
            kwargs["global_cluster_identifier"] = find_global(self.account_id, identifier).global_cluster_identifier
        from . import aurora_data

        cluster = original_create(self, kwargs)
        aurora_data.forget(cluster.db_cluster_arn)
        return cluster

    original_delete = RDSBackend.delete_db_cluster

    def delete_db_cluster(self, cluster_identifier, snapshot_name=None):
        cluster = self.clusters.get(cluster_identifier)
        if cluster is not None and cluster.global_cluster_identifier and not cluster.deletion_protection:
            registry = backends(self.account_id)[GLOBAL_REGION].global_clusters
            global_cluster = registry.get(cluster.global_cluster_identifier)
            if global_cluster is not None and cluster in global_cluster.members:
                remove_member(global_cluster, cluster, deleting=True)
            cluster.global_cluster_identifier = None
        from . import aurora_data

        deleted = original_delete(self, cluster_identifier, snapshot_name)
        if cluster is not None:
            aurora_data.forget(cluster.db_cluster_arn)
            # DeleteAutomatedBackups defaults to true: "The default is to remove automated
            # backups immediately after the DB cluster is deleted" (RDS API reference,
            # DeleteDBCluster). moto kept them, and a cluster made again under the same name in the
            # same minute was refused (its automated snapshot's name was taken). drpair never asks
            # to retain them; the parameter itself is not modeled.
            for name, snapshot in list(self.cluster_snapshots.items()):
                source = getattr(snapshot, "cluster", None)
                if snapshot.snapshot_type == "automated" and source is not None and source.db_cluster_identifier == cluster_identifier:
                    del self.cluster_snapshots[name]
        return deleted

    original_modify = RDSBackend.modify_db_cluster

    def modify_db_cluster(self, kwargs):
        if kwargs.get("db_cluster_identifier") not in self.clusters:
            raise fault("DBClusterNotFoundFault", f"DBCluster {kwargs.get('db_cluster_identifier')} not found.")
        return original_modify(self, kwargs)

    original_tagging = RDSBackend._get_resource_for_tagging

    def get_resource_for_tagging(self, arn):
        parts = arn.split(":")
        if len(parts) == 7 and parts[2] == "rds" and parts[5] == "global-cluster":
            return find_global(self.account_id, parts[6])
        return original_tagging(self, arn)

    original_create_instance = RDSBackend.create_db_instance

    def create_db_instance(self, db_kwargs):
        cluster_identifier = _param(db_kwargs, "db_cluster_identifier", "DBClusterIdentifier")
        if _in_global_cluster(self, cluster_identifier):
            check_instance_class(_param(db_kwargs, "db_instance_class", "DBInstanceClass"))
        return original_create_instance(self, db_kwargs)

    original_modify_instance = RDSBackend.modify_db_instance

    def modify_db_instance(self, db_instance_identifier, db_kwargs):
        instance_class = _param(db_kwargs, "db_instance_class", "DBInstanceClass")
        database = self.databases.get(db_instance_identifier)
        if instance_class and database is not None and _in_global_cluster(self, getattr(database, "db_cluster_identifier", None)):
            check_instance_class(instance_class)
        return original_modify_instance(self, db_instance_identifier, db_kwargs)

    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.modify_db_instance = modify_db_instance
    RDSBackend.create_db_cluster = create_db_cluster
    RDSBackend.delete_db_cluster = delete_db_cluster
    RDSBackend.modify_db_cluster = modify_db_cluster
    RDSBackend._get_resource_for_tagging = get_resource_for_tagging


def _patch_responses():
    from moto.core.responses import ActionResult
    from moto.rds.responses import RDSResponse

    def describe_global_clusters(self):
        identifier = self.params.get("GlobalClusterIdentifier")
        if identifier:
            clusters = [find_global(self.current_account, identifier)]
        else:
            clusters = list(self.global_backend.global_clusters.values())
        return ActionResult({"GlobalClusters": clusters})

    def create_global_cluster(self):
        params = self.params
        identifier = params.get("GlobalClusterIdentifier")
        if identifier in self.global_backend.global_clusters:
            raise fault("GlobalClusterAlreadyExistsFault", f"Global cluster {identifier} already exists.")
        source = None
        if params.get("SourceDBClusterIdentifier"):
            source = find_cluster(self.current_account, self.region, params["SourceDBClusterIdentifier"])
            if source.global_cluster_identifier:
                raise fault(
                    "InvalidDBClusterStateFault",
                    f"Cluster {source.db_cluster_arn} is already a member of global cluster {source.global_cluster_identifier}.",
                )
        if source is not None:
            source_backend = backends(self.current_account)[region_of(source)]
            for instance in _cluster_instances(source_backend, source.db_cluster_identifier):
                check_instance_class(instance.db_instance_class)
        if source is not None and params.get("Engine"):
            raise fault(
                "InvalidParameterCombination",
                "When creating global cluster from existing db cluster, value for engineName should not be specified "
                "since it will be inherited from source cluster",
            )
        cluster = self.global_backend.create_global_cluster(
            global_cluster_identifier=identifier,
            source_db_cluster_identifier=None,
            engine=source.engine if source is not None else params.get("Engine"),
            engine_version=source.engine_version if source is not None else params.get("EngineVersion"),
            storage_encrypted=source.storage_encrypted if source is not None else params.get("StorageEncrypted"),
            deletion_protection=params.get("DeletionProtection"),
        )
        cluster.tags = params.get("Tags") or []
        cluster.database_name = source.database_name if source is not None else params.get("DatabaseName")
        if source is not None:
            cluster.members.append(source)
            source.global_cluster_identifier = cluster.global_cluster_identifier
            source.is_writer = True
        return ActionResult({"GlobalCluster": cluster})

    def delete_global_cluster(self):
        cluster = find_global(self.current_account, self.params.get("GlobalClusterIdentifier"))
        if cluster.deletion_protection:
            raise fault(
                "InvalidParameterCombination",
                "Cannot delete protected Global Cluster, please disable deletion protection and try again.",
            )
        emptied_at = cluster.drpair_emptied_at
        if cluster.members or (emptied_at is not None and clock.now() - emptied_at < EMPTIED_SECONDS):
            raise fault("InvalidGlobalClusterStateFault", f"Global Cluster {cluster.global_cluster_arn} is not empty")
        self.global_backend.global_clusters.pop(cluster.global_cluster_identifier)
        return ActionResult({"GlobalCluster": cluster})

    def modify_global_cluster(self):
        params = self.params
        cluster = find_global(self.current_account, params.get("GlobalClusterIdentifier"))
        if params.get("DeletionProtection") is not None:
            cluster.deletion_protection = bool(params["DeletionProtection"])
        if params.get("EngineVersion"):
            cluster.engine_version = params["EngineVersion"]
            for member in cluster.members:
                member.engine_version = params["EngineVersion"]
        new_id = params.get("NewGlobalClusterIdentifier")
        if new_id and new_id.lower() != cluster.global_cluster_identifier:
            registry = self.global_backend.global_clusters
            if new_id in registry:
                raise fault("GlobalClusterAlreadyExistsFault", f"Global cluster {new_id} already exists.")
            registry.pop(cluster.global_cluster_identifier)
            cluster.global_cluster_identifier = new_id
            registry[cluster.global_cluster_identifier] = cluster
            for member in cluster.members:
                member.global_cluster_identifier = cluster.global_cluster_identifier
        return ActionResult({"GlobalCluster": cluster})

    def remove_from_global_cluster(self):
        global_cluster = find_global(self.current_account, self.params.get("GlobalClusterIdentifier"))
        cluster = find_cluster(self.current_account, self.region, self.params.get("DbClusterIdentifier"))
        remove_member(global_cluster, cluster)
        cluster.drpair_transient_status = "promoting"
        return ActionResult({"GlobalCluster": global_cluster})

    def failover_global_cluster(self):
        params = self.params
        global_cluster = find_global(self.current_account, params.get("GlobalClusterIdentifier"))
        allow_data_loss, switchover = bool(params.get("AllowDataLoss")), bool(params.get("Switchover"))
        if allow_data_loss and switchover:
            raise fault("InvalidParameterCombination", "AllowDataLoss and Switchover cannot both be specified.")
        target = find_cluster(self.current_account, self.region, params.get("TargetDbClusterIdentifier"))
        return ActionResult({"GlobalCluster": promote(global_cluster, target, allow_data_loss)})

    def switchover_global_cluster(self):
        params = self.params
        global_cluster = find_global(self.current_account, params.get("GlobalClusterIdentifier"))
        target = find_cluster(self.current_account, self.region, params.get("TargetDbClusterIdentifier"))
        return ActionResult({"GlobalCluster": promote(global_cluster, target, False)})

    def reset_db_cluster_parameter_group(self):
        from moto.rds.exceptions import DBClusterParameterGroupNotFoundError

        name = self.params.get("DBClusterParameterGroupName")
        group = self.backend.db_cluster_parameter_groups.get(name)
        if group is None:
            raise DBClusterParameterGroupNotFoundError(name)
        names = [p.get("ParameterName") for p in self.params.get("Parameters") or []]
        if self.params.get("ResetAllParameters"):
            if names:
                raise fault("InvalidParameterCombination", "Parameters cannot be specified with ResetAllParameters.")
            group.parameters.clear()
        elif not names:
            raise fault("InvalidParameterCombination", "Specify ResetAllParameters or a list of Parameters.")
        for parameter in names:
            group.parameters.pop(parameter, None)
        return ActionResult({"DBClusterParameterGroupName": group.name})

    for handler in (
        reset_db_cluster_parameter_group,
        describe_global_clusters,
        create_global_cluster,
        delete_global_cluster,
        modify_global_cluster,
        remove_from_global_cluster,
        failover_global_cluster,
        switchover_global_cluster,
    ):
        setattr(RDSResponse, handler.__name__, handler)


@control("POST", r"/rds-clusters/(?P<region>[a-z0-9-]+)/(?P<cluster>[^/]+)")
def set_cluster_status(match, body, query):
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str) or not status:
        raise ControlError(400, "body must be a JSON object with a string 'status' (e.g. \"inaccessible\", \"available\")")
    cluster = _control_cluster(match)
    cluster.status = status
    return 200, {"DBClusterIdentifier": cluster.db_cluster_identifier, "Status": status}


@control("GET", r"/rds-clusters/(?P<region>[a-z0-9-]+)/(?P<cluster>[^/]+)")
def get_cluster_status(match, body, query):
    cluster = _control_cluster(match)
    return 200, {"DBClusterIdentifier": cluster.db_cluster_identifier, "Status": cluster._status}


def _control_cluster(match):
    clusters = backends(moto_account())[match.group("region")].clusters
    identifier = match.group("cluster")
    if identifier not in clusters:
        raise ControlError(404, f"no DB cluster {identifier} in {match.group('region')}")
    return clusters[identifier]


def register(app):
    _patch_models()
    _patch_responses()
    outage.on_change(_on_outage_change)
    return app
