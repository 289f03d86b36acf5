"""What the orchestrator observes: the primary's health, the signals that confirm an outage, the
global database's membership and the replication lag."""

import datetime
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import List, Optional

from .aws import AWS_ERRORS, ROUTE53_REGION, describe_error, error_code, http_status

# Route 53 calls an endpoint healthy when more than 18% of its checkers see it healthy.
ROUTE53_HEALTHY_SHARE = 0.18
# Metrics whose alarm in ALARM confirms that the primary no longer replicates to the DR region.
LAG_METRICS = frozenset(
    {"AuroraGlobalDBReplicationLag", "AuroraGlobalDBRPOLag", "AuroraGlobalDBProgressLag", "AuroraReplicaLag"}
)
# Cluster states in which the writer still serves: anything else counts as unreachable.
SERVING_CLUSTER_STATES = frozenset(
    {
        "available",
        "backing-up",
        "backtracking",
        "maintenance",
        "modifying",
        "renaming",
        "resetting-master-credentials",
        "storage-optimization",
        "upgrading",
    }
)
ENDPOINT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class Probe:
    """One look at the primary's health: True, False, or None when nothing could tell."""

    healthy: Optional[bool]
    source: str
    detail: str


def probe_primary(cfg, clients):
    """The primary's health as Route 53 sees it; when Route 53's API does not answer (its control
    plane is in us-east-1), the primary's endpoint probed directly from here."""
    try:
        out = clients.get("route53", ROUTE53_REGION).get_health_check_status(HealthCheckId=cfg.health_check_id)
    except AWS_ERRORS as exc:
        reason = f"Route 53 did not answer ({describe_error(exc)})"
        if cfg.primary_endpoint_url:
            return probe_endpoint(cfg.primary_endpoint_url, reason)
        return Probe(None, "route53", reason)
    observations = out.get("HealthCheckObservations") or []
    ok = sum(1 for o in observations if str((o.get("StatusReport") or {}).get("Status", "")).startswith("Success"))
    healthy = bool(observations) and ok > len(observations) * ROUTE53_HEALTHY_SHARE
    return Probe(healthy, "route53", f"{ok} of {len(observations)} Route 53 checkers report the primary healthy")


def probe_endpoint(url, why):
    """GET the endpoint the health check probes; 2xx and 3xx are healthy, as for Route 53 (which
    does not validate certificates either)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "drpair-failover-probe"})
    try:
        with urllib.request.urlopen(request, timeout=ENDPOINT_TIMEOUT_SECONDS, context=context) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return Probe(False, "endpoint", f"{why}; {url} did not answer: {exc}")
    return Probe(200 <= status < 400, "endpoint", f"{why}; {url} answered HTTP {status}")


@dataclass(frozen=True)
class Member:
    arn: str
    region: str
    cluster_id: str
    is_writer: bool


@dataclass(frozen=True)
class GlobalView:
    status: str
    members: List[Member]
    # The failover under way: {"Status", "FromDbClusterArn", "ToDbClusterArn", ...} or None.
    failover_state: Optional[dict]

    def writer(self):
        return next((m for m in self.members if m.is_writer), None)

    def member(self, region, cluster_id):
        return next((m for m in self.members if m.region == region and m.cluster_id == cluster_id), None)


def parse_cluster_arn(arn):
    """`arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-dev` -> (region, identifier)."""
    parts = arn.split(":")
    if len(parts) == 7 and parts[5] == "cluster":
        return parts[3], parts[6]
    return None, None


def global_view(cfg, clients):
    """The global database as the DR region's RDS endpoint describes it."""
    out = clients.get("rds").describe_global_clusters(GlobalClusterIdentifier=cfg.global_cluster)
    found = [g for g in out.get("GlobalClusters", []) if g.get("GlobalClusterIdentifier") == cfg.global_cluster]
    if not found:
        raise LookupError(f"global cluster {cfg.global_cluster} not found")
    members = []
    for m in found[0].get("GlobalClusterMembers", []):
        region, cluster_id = parse_cluster_arn(m.get("DBClusterArn", ""))
        if region:
            members.append(Member(m["DBClusterArn"], region, cluster_id, bool(m.get("IsWriter"))))
    return GlobalView(found[0].get("Status", ""), members, found[0].get("FailoverState"))


def cluster_status(clients, region, cluster_id):
    clusters = clients.get("rds", region).describe_db_clusters(DBClusterIdentifier=cluster_id).get("DBClusters", [])
    return clusters[0].get("Status", "") if clusters else None


def writer_unreachable(cfg, clients, view):
    """Why the primary writer counts as unreachable, or None while it serves."""
    writer = view.writer()
    if writer is None:
        return f"global cluster {cfg.global_cluster} has no writer"
    try:
        status = cluster_status(clients, writer.region, writer.cluster_id)
    except AWS_ERRORS as exc:
        code, http = error_code(exc), http_status(exc)
        if code is None or (http or 0) >= 500 or code == "DBClusterNotFoundFault" or "Throttl" in code:
            return f"writer {writer.cluster_id} in {writer.region} is unreachable ({describe_error(exc)})"
        # Access denied and other client errors say nothing about the primary's health.
        return None
    if status is None:
        return f"writer {writer.cluster_id} in {writer.region} is gone"
    if status not in SERVING_CLUSTER_STATES:
        return f"writer {writer.cluster_id} in {writer.region} is {status}"
    return None


def measures_lag(alarm):
    if alarm.get("MetricName") in LAG_METRICS:
        return True
    for query in alarm.get("Metrics") or []:
        metric = ((query.get("MetricStat") or {}).get("Metric") or {}).get("MetricName")
        if metric in LAG_METRICS:
            return True
    return False


def lag_alarms_in_alarm(cfg, clients):
    """Names of the watched DR alarms on replication lag that are in ALARM."""
    params = {"StateValue": "ALARM", "AlarmTypes": ["MetricAlarm"]}
    if cfg.alarm_name_prefix:
        params["AlarmNamePrefix"] = cfg.alarm_name_prefix
    names = []
    for page in clients.get("cloudwatch").get_paginator("describe_alarms").paginate(**params):
        for alarm in page.get("MetricAlarms", []):
            # The state is checked again: the filter is the server's, the decision is ours.
            if alarm.get("StateValue") == "ALARM" and cfg.watches_alarm(alarm.get("AlarmName")) and measures_lag(alarm):
                names.append(alarm["AlarmName"])
    return names


def confirmations(cfg, clients, view):
    """The second signals that confirm the primary is down (empty: not confirmed)."""
    found = []
    try:
        found.extend(f"lag alarm {name} is in ALARM" for name in lag_alarms_in_alarm(cfg, clients))
    except AWS_ERRORS as exc:
        print(f"reading the DR alarms failed: {describe_error(exc)}")
    unreachable = writer_unreachable(cfg, clients, view)
    if unreachable:
        found.append(unreachable)
    return found


def replication_lag_ms(cfg, clients):
    """The DR cluster's latest AuroraGlobalDBReplicationLag (ms) of the last 10 minutes, or None."""
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        out = clients.get("cloudwatch").get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "lag",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/RDS",
                            "MetricName": "AuroraGlobalDBReplicationLag",
                            "Dimensions": [{"Name": "DBClusterIdentifier", "Value": cfg.dr_cluster}],
                        },
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=now - datetime.timedelta(minutes=10),
            EndTime=now + datetime.timedelta(minutes=1),
        )
    except AWS_ERRORS as exc:
        print(f"reading the replication lag failed: {describe_error(exc)}")
        return None
    for result in out.get("MetricDataResults", []):
        points = sorted(zip(result.get("Timestamps", []), result.get("Values", [])))
        if points:
            return float(points[-1][1])
    return None
