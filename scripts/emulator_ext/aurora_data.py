"""Aurora's data plane, as far as a DR drill measures it: acknowledged writes, their replication to
the secondaries of a global database, what a failover keeps and loses (RPO), and the global
database metrics the secondaries publish in CloudWatch.

Writes (a payment stream; the emulator's stand-in for SQL COMMITs):

- ``POST /_drpair/aurora/{region}/{DBClusterIdentifier}/writes`` ``{"id": "p-17"}`` acknowledges
  a write on that cluster at the modeled time: ``201 {"id", "cluster", "region", "acked_at",
  "epoch"}``. Only the writer takes writes ("Only the primary cluster performs write operations",
  https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.html); a
  standalone cluster is its own writer. ``503`` when the cluster is not the writer, its Status is
  not ``available`` (e.g. during a failover or switchover, see ``rds_global.py``), it is fenced
  (the old primary of a failover), or its region is down; ``409`` when it already holds a write
  with that id; ``404`` for an unknown cluster.
- ``GET`` the same path: ``{"cluster", "region", "role": "writer"|"secondary"|"out-of-service",
  "writes": [{"id", "acked_at", "epoch"}]}`` — what the cluster holds now.
- Through an endpoint, as an application connects: ``POST /_drpair/aurora/endpoints/{dns_name}/writes``
  acknowledges the write on the cluster the name routes to now (``resolve``: a global database's
  writer endpoint follows the writer through switchovers and failovers; a cluster endpoint is its
  cluster), with the answers above; ``GET /_drpair/aurora/endpoints/{dns_name}`` answers
  ``{"endpoint", "kind": "global-writer"|"cluster", "cluster", "region", "role"}``; a name that
  does not resolve is 404.

Replication: a secondary receives each write REPLICATION_LAG_SECONDS after the writer acknowledged
it ("Aurora replicates data to the secondary AWS Regions with typical latency of under a second",
same page), and only while the writer's region is up: "your primary Aurora DB cluster and its
writer node aren't available, and the replication between the primary and secondary DB clusters
stops" ("Recovering an Amazon Aurora global database from an unplanned outage",
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html).
A failover with AllowDataLoss "doesn't wait for data to synchronize": the target keeps exactly the
writes it had received when FailoverGlobalCluster was called; the others are lost (timeline
``rds.write.lost``, one event per write). The old primary is fenced from that moment ("Aurora also
attempts to halt write traffic", write fencing) and, once rebuilt as a secondary ("Aurora creates a
new storage volume for the old primary Region"), holds what the new writer holds. A switchover
synchronizes first: the target gets every write ("without losing any data", SwitchoverGlobalCluster,
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverGlobalCluster.html). A
secondary removed from its global cluster keeps what it had received. Each acknowledged write is a
``rds.write`` event.

Metrics: every modeled minute, each secondary member (not the writer, not out of service) whose
region is up publishes in its region's CloudWatch (``AWS/RDS``, dimension ``DBClusterIdentifier``,
the modeled time as timestamp) ``AuroraGlobalDBReplicationLag`` and ``AuroraGlobalDBRPOLag``, in
milliseconds, while it replicates from a writer whose region is up ("Cluster-level metrics for
Amazon Aurora", https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html:
both are reported by secondary clusters only, in milliseconds). While the writer's region is down
(or during a failover or switchover) nothing is published: alarms see missing data.
"""

import datetime
import threading

from . import clock, outage, timeline
from .common import ControlError, control, moto_account

REPLICATION_LAG_SECONDS = 0.5
METRIC_PERIOD = 60
NAMESPACE = "AWS/RDS"
METRICS = ("AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag")

_lock = threading.RLock()
# Clusters whose data is materialized (cluster ARN -> list of {"id", "epoch"}): the writer of each
# global cluster, standalone clusters, and members out of replication (see _frozen). A replicating
# secondary holds what its writer held REPLICATION_LAG_SECONDS ago.
_logs = {}
# ARNs of clusters out of replication: the target and old primary while a failover or switchover
# runs, and the members of a failover waiting for their rebuild.
_frozen = set()
# ARNs fenced from taking writes (the old primary of a failover, until it is rebuilt).
_fenced = set()
_timer = None


def _region(arn):
    return arn.split(":")[3]


def _rds():
    from moto.rds.models import rds_backends

    return rds_backends[moto_account()]


def _global_cluster_of(cluster):
    identifier = getattr(cluster, "global_cluster_identifier", None)
    if not identifier:
        return None
    from .rds_global import GLOBAL_REGION

    return _rds()[GLOBAL_REGION].global_clusters.get(identifier)


def _writer_of(cluster):
    """The writer cluster whose data `cluster` holds or replicates (itself when standalone)."""
    gc = _global_cluster_of(cluster)
    if gc is None or cluster not in gc.members:
        return cluster
    return next((m for m in gc.members if m.is_writer), None)


def _replicated(writer, at=None):
    """The writes of `writer` a replicating secondary holds at modeled time `at` (default now)."""
    arn = writer.db_cluster_arn
    region = _region(arn)
    limit = clock.now() if at is None else at
    if outage.is_down(region):
        limit = min(limit, outage.down_since(region))
    cutoff = limit - REPLICATION_LAG_SECONDS
    return [w for w in _logs.get(arn, []) if w["epoch"] <= cutoff]


def holdings(cluster):
    """(role, writes) of a DB cluster now."""
    arn = cluster.db_cluster_arn
    with _lock:
        if arn in _frozen:
            return "out-of-service", list(_logs.get(arn, []))
        writer = _writer_of(cluster)
        if writer is cluster:
            return "writer", list(_logs.get(arn, []))
        if writer is None:
            return "secondary", []
        return "secondary", _replicated(writer)


# --- called by rds_global.py on membership and role changes -----------------------------------


def failover_started(global_cluster, old, target, others):
    """FailoverGlobalCluster with AllowDataLoss: the target keeps what it received; the old primary
    is fenced; other secondaries stop at what they had (they are rebuilt later)."""
    lost = []
    with _lock:
        if old is not None:
            full = list(_logs.get(old.db_cluster_arn, []))
            kept = _replicated(old)
            kept_ids = {w["id"] for w in kept}
            lost = [w for w in full if w["id"] not in kept_ids]
            _logs[target.db_cluster_arn] = kept
            _logs[old.db_cluster_arn] = full
            _frozen.update({old.db_cluster_arn, target.db_cluster_arn})
            _fenced.add(old.db_cluster_arn)
            for member in others:
                _logs[member.db_cluster_arn] = list(kept)
                _frozen.add(member.db_cluster_arn)
        else:
            _logs.setdefault(target.db_cluster_arn, [])
            _frozen.add(target.db_cluster_arn)
    for write in lost:
        timeline.record(
            "rds.write.lost",
            id=write["id"],
            acked_at=clock.iso(write["epoch"]),
            acked_epoch=round(write["epoch"], 3),
            cluster=old.db_cluster_identifier,
            region=_region(old.db_cluster_arn),
            target=target.db_cluster_arn,
        )


def switchover_started(global_cluster, old, target):
    """A switchover synchronizes every secondary before the roles change: the target holds every
    acknowledged write; no writes are taken until it completes."""
    with _lock:
        full = list(_logs.get(old.db_cluster_arn, [])) if old is not None else []
        _logs[target.db_cluster_arn] = list(full)
        if old is not None:
            _logs[old.db_cluster_arn] = full
            _frozen.add(old.db_cluster_arn)
        _frozen.add(target.db_cluster_arn)


def promoted(global_cluster, target):
    """`target` is the writer now, holding what it held when the operation started."""
    with _lock:
        _frozen.discard(target.db_cluster_arn)
        _fenced.discard(target.db_cluster_arn)
        _logs.setdefault(target.db_cluster_arn, [])


def rejoined(global_cluster, member):
    """`member` replicates from the writer again (rebuilt after a failover, or demoted by a
    switchover): its own copy is dropped."""
    with _lock:
        arn = member.db_cluster_arn
        _frozen.discard(arn)
        _fenced.discard(arn)
        if not member.is_writer:
            _logs.pop(arn, None)


def detached(global_cluster, cluster):
    """`cluster` leaves its global cluster (RemoveFromGlobalCluster, deletion): a secondary keeps
    what it had received and becomes standalone."""
    with _lock:
        arn = cluster.db_cluster_arn
        if arn in _frozen or cluster.is_writer:
            _frozen.discard(arn)
            _fenced.discard(arn)
            return
        writer = _writer_of(cluster)
        _logs[arn] = _replicated(writer) if writer is not None and writer is not cluster else list(_logs.get(arn, []))


def forget(arn):
    """A cluster was created or deleted: no data of an earlier cluster with its ARN remains."""
    with _lock:
        _logs.pop(arn, None)
        _frozen.discard(arn)
        _fenced.discard(arn)


# --- writes --------------------------------------------------------------------------------


def _cluster(region, identifier):
    clusters = _rds()[region].clusters
    if identifier not in clusters:
        raise ControlError(404, f"no DB cluster {identifier} in {region}")
    return clusters[identifier]


def _status(cluster):
    """The Status DescribeDBClusters would show, without consuming one-read transient states."""
    raw = cluster.__dict__.get("_status", "available")
    if raw == "creating":
        raw = "available"  # moto's clusters are available from their first read
    return cluster.__dict__.get("drpair_transient_status") or cluster.__dict__.get("drpair_role_status") or raw


def acknowledge(region, identifier, write_id):
    """Acknowledges a write on the writer cluster; returns the write (raises ControlError)."""
    cluster = _cluster(region, identifier)
    arn = cluster.db_cluster_arn
    if outage.is_down(region):
        raise ControlError(503, f"{identifier} does not answer: {region} is down")
    status = _status(cluster)
    with _lock:
        if arn in _fenced:
            raise ControlError(503, f"{identifier} does not take writes: it was fenced by a global database failover")
        if status != "available":
            raise ControlError(503, f"{identifier} does not take writes: its status is {status}")
        if arn in _frozen or _writer_of(cluster) is not cluster:
            raise ControlError(503, f"{identifier} does not take writes: it is not the writer of its global database")
        log = _logs.setdefault(arn, [])
        if any(w["id"] == write_id for w in log):
            raise ControlError(409, f"{identifier} already holds a write {write_id!r}")
        epoch = clock.now()
        log.append({"id": write_id, "epoch": epoch})
    timeline.record("rds.write", id=write_id, cluster=identifier, region=region)
    return {"id": write_id, "cluster": identifier, "region": region, "acked_at": clock.iso(epoch), "epoch": round(epoch, 3)}


@control("POST", r"/aurora/(?P<region>(?!endpoints/)[a-z0-9-]+)/(?P<cluster>[^/]+)/writes")
def post_write(match, body, query):
    write_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(write_id, str) or not write_id:
        raise ControlError(400, 'body must be {"id": "p-17"} (a non-empty string)')
    return 201, acknowledge(match.group("region"), match.group("cluster"), write_id)


@control("GET", r"/aurora/(?P<region>(?!endpoints/)[a-z0-9-]+)/(?P<cluster>[^/]+)/writes")
def get_writes(match, body, query):
    cluster = _cluster(match.group("region"), match.group("cluster"))
    role, writes = holdings(cluster)
    return 200, {
        "cluster": cluster.db_cluster_identifier,
        "region": match.group("region"),
        "role": role,
        "writes": [{"id": w["id"], "acked_at": clock.iso(w["epoch"]), "epoch": round(w["epoch"], 3)} for w in writes],
    }


# --- endpoints -----------------------------------------------------------------------------


def resolve(host):
    """The cluster a DB endpoint's DNS name routes to now: ``(cluster, region, kind)``, kind
    ``global-writer`` or ``cluster``; raises ControlError 404 for a name that does not resolve.

    The global database's writer endpoint (``GlobalCluster.Endpoint``,
    ``{id}.global-{unique}.global.rds.amazonaws.com``) "is automatically updated by Aurora to
    route requests to the current writer instance of the primary DB cluster", so that "you don't
    have to modify your connection string after you change the location of the primary Region
    using the managed Aurora Global Database switchover and failover capabilities" ("Connecting to
    Amazon Aurora Global Database",
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-connecting.html):
    it follows the member that is the writer (``rds_global.py`` moves that role when a switchover
    or failover promotes its target). A cluster endpoint routes to its own cluster."""
    from .rds_global import GLOBAL_REGION

    name = str(host or "").strip().rstrip(".").lower()
    backends = _rds()
    for gc in list(backends[GLOBAL_REGION].global_clusters.values()):
        if gc.endpoint.lower() == name:
            writer = next((m for m in gc.members if m.is_writer), None)
            if writer is None:
                raise ControlError(503, f"{name} routes to no writer: global cluster {gc.global_cluster_identifier} has none")
            return writer, _region(writer.db_cluster_arn), "global-writer"
    for region, backend in list(backends.items()):
        for cluster in list(backend.clusters.values()):
            if cluster.endpoint.lower() == name:
                return cluster, region, "cluster"
    raise ControlError(404, f"{name} does not resolve: no global writer endpoint or cluster endpoint has that name")


@control("GET", r"/aurora/endpoints/(?P<host>[^/]+)")
def get_endpoint(match, body, query):
    cluster, region, kind = resolve(match.group("host"))
    role, _ = holdings(cluster)
    return 200, {"endpoint": match.group("host"), "kind": kind, "cluster": cluster.db_cluster_identifier, "region": region, "role": role}


@control("POST", r"/aurora/endpoints/(?P<host>[^/]+)/writes")
def post_endpoint_write(match, body, query):
    write_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(write_id, str) or not write_id:
        raise ControlError(400, 'body must be {"id": "p-17"} (a non-empty string)')
    cluster, region, _ = resolve(match.group("host"))
    return 201, acknowledge(region, cluster.db_cluster_identifier, write_id)


# --- metrics -------------------------------------------------------------------------------


def put_datapoint(region, namespace, name, dimensions, value, unit, epoch):
    """Stores a datapoint in `region`'s CloudWatch through moto's backend (AWS/ namespaces are
    refused to PutMetricData callers): ``cloudwatch_alarms.publish`` when it exists."""
    from . import cloudwatch_alarms

    publish = getattr(cloudwatch_alarms, "publish", None)
    if publish is not None:
        publish(region, namespace, name, dimensions, value, unit, epoch)
        return
    from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

    when = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).replace(tzinfo=None)
    datum = MetricDatum(namespace, name, float(value), [dict(d) for d in dimensions], when, unit)
    cloudwatch_backends[moto_account()][region].metric_data.append(datum)


def lag_metrics():
    """(region, cluster identifier, lag ms) of each secondary that replicates now."""
    from .rds_global import GLOBAL_REGION, region_of

    found = []
    with _lock:
        for gc in list(_rds()[GLOBAL_REGION].global_clusters.values()):
            # During a switchover or a failover's promotion the writer is out of replication.
            writer = next((m for m in gc.members if m.is_writer), None)
            if writer is None or writer.db_cluster_arn in _frozen or outage.is_down(region_of(writer)):
                continue
            for member in gc.members:
                if member is writer or member.db_cluster_arn in _frozen or outage.is_down(region_of(member)):
                    continue
                found.append((region_of(member), member.db_cluster_identifier, REPLICATION_LAG_SECONDS * 1000.0))
    return found


def publish_metrics():
    """One datapoint of each global database metric for every replicating secondary (a timer
    callback: short)."""
    now = clock.now()
    for region, identifier, lag_ms in lag_metrics():
        dims = [{"Name": "DBClusterIdentifier", "Value": identifier}]
        for name in METRICS:
            put_datapoint(region, NAMESPACE, name, dims, lag_ms, "Milliseconds", now)


def register(app):
    global _timer
    if _timer is None:
        # Mid-minute, so that every one-minute period holds exactly one datapoint.
        now = clock.now()
        first = (now // METRIC_PERIOD) * METRIC_PERIOD + METRIC_PERIOD / 2
        if first <= now:
            first += METRIC_PERIOD
        _timer = clock.every(METRIC_PERIOD, publish_metrics, "aurora-global-metrics", first=first)
    return app
