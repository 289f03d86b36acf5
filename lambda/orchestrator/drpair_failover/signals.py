"""What the orchestrator observes, all of it from the DR region and none of it writable by anyone
else: the primary's endpoint probed directly (a data plane), the DR cluster's replication lag in
the DR region's CloudWatch (``AWS/`` namespaces take datapoints from AWS only), and the global
database as the DR region's RDS API describes it.

Not used on purpose: Route 53's API (its control plane is in us-east-1, the region that may be
down), the primary region's RDS API, and alarm states (anyone allowed ``cloudwatch:SetAlarmState``
can set them). An alarm's state change only makes the orchestrator look again.
"""

import datetime
import functools
import http.client
import math
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import List, Optional

from .aws import AWS_ERRORS, describe_error
from .config import EndpointTls

# One direct probe: a GET of the primary's endpoint. Route 53's checkers give an endpoint 4 s to
# connect and 2 s to answer; one timeout over both.
ENDPOINT_TIMEOUT_SECONDS = 5
# A probe counts towards the failed streak only when it comes from the schedule and at least this
# long after the previous counted probe, so a burst of invocations cannot stack failures.
MIN_PROBE_SPACING = 45
# The live confirmation right before FailoverGlobalCluster: this many failed probes, this far apart.
CONFIRM_PROBES = 3
CONFIRM_SPACING = 5
# Replication counts as stopped when the DR cluster has had no AuroraGlobalDBReplicationLag
# datapoint for this long, or its lag stayed above LAG_THRESHOLD_MS for this long.
STALL_SECONDS = 120
# How far back the lag is read (for the "above the threshold for STALL_SECONDS" test and the lag
# reported at failover). (LAG_LOOKBACK_SECONDS - STALL_SECONDS) is a whole number of periods, so
# one of the buckets starts exactly STALL_SECONDS ago.
LAG_LOOKBACK_SECONDS = 600
LAG_PERIOD = 60
LAG_METRIC = "AuroraGlobalDBReplicationLag"
# When the probes fail and the DR cluster's newest lag datapoint may fall out of the STALL_SECONDS
# window within this long, the confirmation keeps probing (every CONFIRM_SPACING, all failing) until
# it does, instead of leaving it to the next scheduled probe: the stall is then confirmed at most
# STALL_SECONDS after the last datapoint, however the outage falls between the schedule's probes
# (a schedule period, and a probe's worth of margin).
STALL_WAIT_SECONDS = 65
# A live confirmation is good for the invocation that made it, this long.
CONFIRMATION_MAX_AGE_SECONDS = 30
# FailoverState statuses of a failover or switchover that is under way (AWS's FailoverState).
UNDER_WAY = ("pending", "failing-over", "switching-over")
BUSY = UNDER_WAY + ("cancelling",)


def iso(epoch):
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- the primary's endpoint -------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One GET of the primary's endpoint from the DR region."""

    healthy: bool
    epoch: float
    detail: str

    def entry(self, event_id):
        return {"at": iso(self.epoch), "epoch": round(self.epoch, 3), "healthy": self.healthy, "detail": self.detail, "event_id": event_id}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer (healthy, as for Route 53), not something to follow."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class _NamedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the URL's host (a load balancer's DNS name or an IP address, through a proxy's
    tunnel or not), but checks the certificate for, and sends as SNI, `tls_name` when set."""

    def __init__(self, host, *, tls_name=None, **kwargs):
        super().__init__(host, **kwargs)
        self._tls_name = tls_name

    def connect(self):
        http.client.HTTPConnection.connect(self)
        server_hostname = self._tls_name or self._tunnel_host or self.host
        self.sock = self._context.wrap_socket(self.sock, server_hostname=server_hostname)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context, tls_name):
        super().__init__(context=context)
        self._tls_name = tls_name

    def https_open(self, req):
        return self.do_open(functools.partial(_NamedHTTPSConnection, tls_name=self._tls_name), req, context=self._context)


def _opener(tls):
    # The system's trust store (the Lambda runtime's CA bundle), hostname checked. Route 53's
    # checkers are lenient (a certificate without FullyQualifiedDomainName only makes them retry
    # the handshake without SNI: HealthCheckConfig's EnableSNI), but their verdict only moves DNS.
    # This probe's healthy answer holds a failover back, so it must come from whoever holds the
    # primary's certificate: a stale address, a hijacked name or anything on the path can answer 200.
    context = ssl.create_default_context()
    if not tls.verify:
        # PRIMARY_ENDPOINT_TLS_VERIFY=false, the documented opt-out.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    # The environment's proxy settings apply (ProxyHandler is in the default chain).
    return urllib.request.build_opener(_HTTPSHandler(context, tls.server_name), _NoRedirects())


def probe_endpoint(url, tls=None):
    """GET `url`: 2xx and 3xx are healthy, as for Route 53; any other status, or no answer, is a
    failure. An https:// endpoint must present a certificate that verifies for `tls.server_name`
    (default: the URL's host), unless `tls.verify` is off: an answer that cannot show it comes from
    the primary is no evidence that the primary is up, and is counted as a failure (the failover
    still needs replication to have stopped, which only AWS can report)."""
    tls = tls or EndpointTls()
    at = time.time()
    request = urllib.request.Request(url, method="GET", headers={"User-Agent": "drpair-failover-probe"})
    try:
        with _opener(tls).open(request, timeout=ENDPOINT_TIMEOUT_SECONDS) as answer:
            status = answer.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        if isinstance(reason, ssl.SSLCertVerificationError):
            name = tls.server_name or urllib.parse.urlsplit(url).hostname
            why = reason.verify_message or reason.reason or str(reason)
            return Probe(False, at, f"{url} answered with a certificate that does not verify for {name}: {why}")
        return Probe(False, at, f"{url} did not answer: {reason}")
    unverified = " (certificate not verified: PRIMARY_ENDPOINT_TLS_VERIFY=false)" if not tls.verify and url.lower().startswith("https:") else ""
    return Probe(200 <= status < 400, at, f"{url} answered HTTP {status}{unverified}")


# --- replication, from the DR region's CloudWatch ---------------------------------------------


@dataclass(frozen=True)
class Replication:
    """Whether replication from the primary has stopped, as the DR region's CloudWatch shows it.
    `stalled` is None when CloudWatch could not be read."""

    stalled: Optional[bool]
    reason: str
    latest_ms: Optional[float] = None
    # The start of the newest one-minute bucket that holds a datapoint.
    latest_at: Optional[float] = None

    def may_stall_by(self, when):
        """Whether the newest datapoint may be older than STALL_SECONDS at `when` (a lower bound:
        a bucket's datapoint is no older than the bucket's start)."""
        return self.stalled is False and self.latest_at is not None and self.latest_at + STALL_SECONDS + 1 <= when

    def fresh_since(self, when):
        """Whether a datapoint surely newer than `when` came in: replication goes on."""
        return self.latest_at is not None and self.latest_at >= math.floor(when)

    def evidence(self):
        return {
            "stalled": self.stalled,
            "reason": self.reason,
            "latest_lag_ms": self.latest_ms,
            "latest_at": iso(self.latest_at) if self.latest_at is not None else None,
        }


def judge_replication(buckets, now, threshold_ms, cluster="the DR cluster"):
    """The verdict from per-minute buckets `[(start epoch, samples, minimum ms, maximum ms)]`.

    A bucket may hold a datapoint of the last STALL_SECONDS when it ends after `now -
    STALL_SECONDS` (CloudWatch keeps standard-resolution data per minute, so a bucket is all one
    can know). Stalled: no such bucket has a datapoint; or every bucket from one that started at
    least STALL_SECONDS ago to the newest has its minimum above the threshold.
    """
    now = math.floor(now)
    horizon = now - STALL_SECONDS
    points = sorted(b for b in buckets if b[1] and b[1] > 0)
    latest = points[-1] if points else None
    latest_ms = latest[3] if latest else None
    latest_at = latest[0] if latest else None
    recent = [b for b in points if b[0] + LAG_PERIOD > horizon]
    if not recent:
        since = f"; the latest was at {iso(latest_at)}" if latest else ""
        return Replication(True, f"no {LAG_METRIC} datapoint for {cluster} in the last {STALL_SECONDS} s{since}", latest_ms, latest_at)
    above_since = None
    for start, _, low, _ in reversed(points):
        if low is None or low <= threshold_ms:
            break
        above_since = start
    if above_since is not None and above_since <= horizon:
        return Replication(
            True,
            f"{LAG_METRIC} of {cluster} above {threshold_ms:.0f} ms since {iso(above_since)} (at least {STALL_SECONDS} s; latest {latest_ms:.0f} ms)",
            latest_ms,
            latest_at,
        )
    return Replication(False, f"{cluster} replicates: {LAG_METRIC} {latest_ms:.0f} ms at {iso(latest_at)}", latest_ms, latest_at)


def replication(cfg, clients, now=None):
    """Reads the DR cluster's replication lag of the last LAG_LOOKBACK_SECONDS and judges it."""
    now = time.time() if now is None else now
    start = math.floor(now) - LAG_LOOKBACK_SECONDS
    metric = {"Namespace": "AWS/RDS", "MetricName": LAG_METRIC, "Dimensions": [{"Name": "DBClusterIdentifier", "Value": cfg.dr_cluster}]}
    queries = [
        {"Id": stat.lower(), "MetricStat": {"Metric": metric, "Period": LAG_PERIOD, "Stat": stat}, "ReturnData": True}
        for stat in ("SampleCount", "Minimum", "Maximum")
    ]
    try:
        results = {}
        token = None
        while True:
            params = {
                "MetricDataQueries": queries,
                "StartTime": datetime.datetime.fromtimestamp(start, tz=datetime.timezone.utc),
                "EndTime": datetime.datetime.fromtimestamp(math.floor(now) + LAG_PERIOD, tz=datetime.timezone.utc),
                "ScanBy": "TimestampAscending",
            }
            if token:
                params["NextToken"] = token
            out = clients.get("cloudwatch").get_metric_data(**params)
            for result in out.get("MetricDataResults", []):
                series = results.setdefault(result["Id"], {})
                for stamp, value in zip(result.get("Timestamps", []), result.get("Values", [])):
                    series[stamp.timestamp()] = float(value)
            token = out.get("NextToken")
            if not token:
                break
    except AWS_ERRORS as exc:
        return Replication(None, f"the DR region's CloudWatch did not answer ({describe_error(exc)})")
    counts, lows, highs = (results.get(k, {}) for k in ("samplecount", "minimum", "maximum"))
    buckets = [(at, counts.get(at), lows.get(at), highs.get(at, lows.get(at))) for at in sorted(set(counts) | set(lows))]
    # A series without SampleCount (it should not happen): a bucket with a value has samples.
    buckets = [(at, n if n is not None else 1, low, high) for at, n, low, high in buckets]
    return judge_replication(buckets, now, cfg.lag_threshold_ms, cfg.dr_cluster)


# --- the live confirmation --------------------------------------------------------------------


@dataclass
class Confirmation:
    """The live reads right before a failover: CONFIRM_PROBES failed probes CONFIRM_SPACING apart,
    and replication stopped (read before and after the probes)."""

    confirmed: bool
    epoch: float
    reasons: List[str] = field(default_factory=list)
    probes: List[dict] = field(default_factory=list)
    replication: Optional[dict] = None

    def fresh(self):
        return self.confirmed and time.time() - self.epoch <= CONFIRMATION_MAX_AGE_SECONDS

    def evidence(self):
        return {
            "confirmed": self.confirmed,
            "at": iso(self.epoch),
            "reasons": self.reasons,
            "probes": self.probes,
            "replication": self.replication,
        }


def confirm_outage(cfg, clients, first=None):
    """Confirms with live reads that the primary is down. `first` is a probe this invocation made
    a moment ago (it counts as the first of the CONFIRM_PROBES).

    Replication is read first (one call; a brownout ends here), then the probes, then replication
    again. When it is not stalled yet but may be within STALL_WAIT_SECONDS, probing goes on (each
    probe must fail) until it is, a datapoint newer than the start shows replication alive, or the
    wait is over."""
    url = cfg.require_endpoint()
    started = time.time()
    wait_until = started + STALL_WAIT_SECONDS

    def unconfirmed(why, probes, seen):
        return Confirmation(False, time.time(), [why], [p.entry(None) for p in probes], seen.evidence())

    seen = replication(cfg, clients)
    if seen.stalled is None:
        return unconfirmed("cannot tell whether replication stopped: " + seen.reason, [], seen)
    if not seen.stalled and not seen.may_stall_by(wait_until):
        return unconfirmed(seen.reason, [], seen)
    probes = []
    if first is not None and started - first.epoch < CONFIRM_SPACING:
        if first.healthy:
            return unconfirmed(f"the primary answers: {first.detail}", [first], seen)
        probes.append(first)
    while True:
        if probes:
            wait = probes[-1].epoch + CONFIRM_SPACING - time.time()
            if wait > 0:
                time.sleep(wait)
        probe = probe_endpoint(url, cfg.endpoint_tls)
        probes.append(probe)
        if probe.healthy:
            return unconfirmed(f"the primary answers: {probe.detail}", probes, seen)
        if len(probes) < CONFIRM_PROBES:
            continue
        seen = replication(cfg, clients)
        if seen.stalled:
            break
        if seen.stalled is None:
            return unconfirmed("cannot tell whether replication stopped: " + seen.reason, probes, seen)
        if seen.fresh_since(started) or not seen.may_stall_by(wait_until) or time.time() + CONFIRM_SPACING > wait_until:
            return unconfirmed(seen.reason, probes, seen)
    reasons = [
        f"{len(probes)} direct probes of {url} failed, {CONFIRM_SPACING} s apart (last: {probes[-1].detail})",
        seen.reason,
    ]
    return Confirmation(True, time.time(), reasons, [p.entry(None) for p in probes], seen.evidence())


# --- the global database, as the DR region's RDS API describes it ------------------------------


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

    def transition(self):
        """(status, target ARN or None) of a failover or switchover in progress, or None. The
        global cluster's own Status is not a sign of one: after a failover that allowed data loss
        it stays `failing-over` until the old primary's region recovers."""
        state = self.failover_state or {}
        if state.get("Status") in BUSY:
            return state["Status"], state.get("ToDbClusterArn")
        return None

    def under_way_to(self, member):
        """Whether a failover or switchover towards `member` has been requested and is not over."""
        found = self.transition()
        return found is not None and found[0] in UNDER_WAY and found[1] in (None, member.arn)

    def failed_over_to(self, member):
        """The DR cluster writes, or a failover to it is under way: never request another."""
        return member.is_writer or self.under_way_to(member)


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


def dr_member(cfg, view):
    member = view.member(cfg.dr_region, cfg.dr_cluster)
    if member is None:
        raise LookupError(f"{cfg.dr_cluster} ({cfg.dr_region}) is not a member of global cluster {cfg.global_cluster}")
    return member


def cluster_status(clients, region, cluster_id):
    clusters = clients.get("rds", region).describe_db_clusters(DBClusterIdentifier=cluster_id).get("DBClusters", [])
    return clusters[0].get("Status", "") if clusters else None
