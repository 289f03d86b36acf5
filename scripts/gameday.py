"""The game day: a measured regional outage of the payment system's DR stack, on the emulator.

    scripts/gameday [--provider BINARY] [--speed 5] [--keep] [--workdir DIR]

Deploys examples/complete with the drpair provider on the project's AWS emulator (its own
instance, on a free port of 127.0.0.1), switches the emulator to AWS's timing on its modeled
clock, and then, with nothing but the emulator's documented controls (docs/EMULATOR.md):

1. steady state: a stream of payments is written through the primary writer (one a modeled
   second) and the deployed orchestrator probes on its own EventBridge schedule;
2. brownout: the primary's endpoint flaps (down 40 s of every 120 s) while the database is
   fine: the orchestrator must not fail over;
3. forged decision: failed probes and a failover lock written by hand into the state table, the
   replication-lag alarm set to ALARM by hand, a burst of direct invokes shaped like the
   schedule's: the orchestrator must not fail over;
4. the outage: right after a scheduled probe (the worst moment), us-east-1 goes down: every API
   of the region, its load balancers and its database's replication. The orchestrator that
   `terraform apply` deployed acts on its own schedule. Measured on the modeled clock from the
   outage: when DNS answers the DR load balancer (and when every resolver's cached answer has
   expired: + the alias TTL), when the DR cluster writes, when the DR group runs the primary's
   capacity with healthy targets, and which payments acknowledged by the primary were lost;
5. recovery: us-east-1 comes back, Aurora rebuilds the old primary as a secondary, the
   failover event reaches both regions' topics, and `terraform apply
   -invoke=action.drpair_failover.failback` moves the writer back; the plan is then empty;
6. destroy (unless --keep).

It prints a timeline and, as its last line, one JSON object with the figures (modeled seconds
from the outage): rto_seconds, rpo_seconds, failovers, dns_on_dr_at, dr_writer_at,
dr_capacity_at, notified, and more. It exits non-zero when a step fails; judging the figures
(RTO <= 300 s, RPO <= 60 s, one failover) is the acceptance test's job
(tests/it/gameday_acc.rs), so the script also reports a failed game day's numbers.
"""

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRIMARY, DR = "us-east-1", "us-east-2"
SOURCE_ADDR = "registry.terraform.io/drpair/drpair"
EVENT_SOURCE = "drpair.failover-orchestrator"
# Speeds of the phases that are not measured (the measured outage runs at --speed).
FAST = 30
# Bounds, in modeled seconds.
OUTAGE_LIMIT = 15 * 60
RECOVERY_LIMIT = 20 * 60


class GameDayError(Exception):
    pass


def log(text=""):
    print(text, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the emulator ---------------------------------------------------------------------------


class Emulator:
    """The game day's own emulator (`Emulator(workdir)`), or one already running
    (`Emulator.attach(endpoint)`, as scripts/demo does)."""

    @classmethod
    def attach(cls, endpoint):
        emulator = cls.__new__(cls)
        emulator.endpoint = endpoint.rstrip("/")
        emulator.process = None
        _, view = emulator.control("GET", "/clock")
        emulator._clock = (time.time(), view["epoch"], view["speed"])
        return emulator

    def __init__(self, workdir):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(workdir, "emulator.log")
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [os.path.join(ROOT, "scripts", "emulator"), "--port", str(self.port), "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=ROOT,
        )
        line = self.process.stdout.readline().decode()
        if "emulator listening on" not in line:
            raise GameDayError(f"the emulator did not start: {line!r}; see {self.log_path}")
        self._clock = None

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()

    def control(self, method, path, body=None, ok=(200, 201)):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.endpoint + "/_drpair" + path, data=data, method=method)
        request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                status, payload = answer.status, json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, json.loads(exc.read() or b"{}")
        if ok and status not in ok:
            raise GameDayError(f"{method} /_drpair{path}: {status} {payload}")
        return status, payload

    def set_clock(self, **settings):
        _, view = self.control("POST", "/clock", settings)
        # Modeled time is computed locally from then on (no call per reading).
        self._clock = (time.time(), view["epoch"], view["speed"])
        return view

    def now(self):
        real, modeled, speed = self._clock
        return modeled + (time.time() - real) * speed

    def sleep(self, modeled_seconds):
        time.sleep(max(0.0, modeled_seconds) / self._clock[2])

    def client(self, service, region):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="gameday",
            aws_secret_access_key="gameday",
            config=Config(retries={"total_max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30),
        )

    def calls(self, service, operation):
        _, out = self.control("GET", f"/calls?service={service}&operation={operation}")
        return out["total"]

    def events(self, kind=None, since=None):
        query = []
        if kind:
            query.append(f"kind={kind}")
        if since is not None:
            query.append(f"since={since}")
        _, out = self.control("GET", "/events" + ("?" + "&".join(query) if query else ""))
        return out["events"]


# --- Terraform ------------------------------------------------------------------------------


def install_provider(binary, workdir):
    """The binary in a filesystem mirror of the game day's own, and a CLI config using it."""
    version = None
    with open(os.path.join(ROOT, "Cargo.toml")) as handle:
        for line in handle:
            if line.startswith("version"):
                version = line.split('"')[1]
                break
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
    mirror = os.path.join(workdir, "mirror")
    dest_dir = os.path.join(mirror, SOURCE_ADDR, version, f"{platform.system().lower()}_{arch}")
    os.makedirs(dest_dir, exist_ok=True)
    dest = os.path.join(dest_dir, f"terraform-provider-drpair_v{version}")
    shutil.copy(binary, dest)
    os.chmod(dest, 0o755)
    rc = os.path.join(workdir, "terraformrc")
    with open(rc, "w") as handle:
        handle.write(
            f'provider_installation {{\n  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{SOURCE_ADDR}"]\n  }}\n'
            f'  direct {{\n    exclude = ["{SOURCE_ADDR}"]\n  }}\n}}\n'
        )
    return rc


class Terraform:
    def __init__(self, workdir, rc, endpoint):
        self.dir = os.path.join(workdir, "stack")
        os.makedirs(self.dir, exist_ok=True)
        for name in os.listdir(os.path.join(ROOT, "examples", "complete")):
            if name.endswith(".tf"):
                shutil.copy(os.path.join(ROOT, "examples", "complete", name), self.dir)
        # allow_plain_http: the orchestrator's direct probes of the primary (Lambda's HTTP goes
        # through the emulator's proxy) reach the load balancers in plain HTTP only; the proxy
        # answers CONNECT with 501 (docs/EMULATOR.md, "Load balancer endpoints"), so with HTTPS
        # every probe would fail and the game day would measure something else than AWS does.
        self.vars = ["-var", f"endpoint_url={endpoint}", "-var", "allow_plain_http=true"]
        self.env = dict(
            os.environ,
            TF_CLI_CONFIG_FILE=rc,
            CHECKPOINT_DISABLE="1",
            TF_IN_AUTOMATION="1",
            AWS_ACCESS_KEY_ID="gameday",
            AWS_SECRET_ACCESS_KEY="gameday",
            AWS_EC2_METADATA_DISABLED="true",
        )

    def run(self, *args, check=True):
        done = subprocess.run(
            [os.path.join(ROOT, "scripts", "terraform"), *args],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if check and done.returncode != 0:
            raise GameDayError(f"terraform {' '.join(args[:2])} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        return done

    def init(self):
        self.run("init", "-input=false", "-no-color")

    def apply(self, *extra):
        return self.run("apply", "-auto-approve", "-input=false", "-no-color", *self.vars, *extra)

    def plan_changes(self):
        """(addresses of the resources the plan would change, the plan's text). Outputs built on
        the live replication status (lag, health) may differ from one plan to the next; they are
        not changes to the stack."""
        done = self.run("plan", "-input=false", "-no-color", "-out=gameday.tfplan", *self.vars, check=False)
        if done.returncode != 0:
            raise GameDayError(f"terraform plan failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        shown = json.loads(self.run("show", "-json", "gameday.tfplan").stdout)
        changed = sorted(
            change["address"]
            for change in shown.get("resource_changes", [])
            if change.get("mode") == "managed" and change.get("change", {}).get("actions") not in (["no-op"], ["read"])
        )
        return changed, done.stdout

    def destroy(self):
        self.run("destroy", "-auto-approve", "-input=false", "-no-color", *self.vars)

    def resources(self):
        shown = json.loads(self.run("show", "-json").stdout)
        found = {}
        for resource in shown.get("values", {}).get("root_module", {}).get("resources", []):
            found[resource["address"]] = resource["values"]
        return found


# --- the stack ------------------------------------------------------------------------------


class Stack:
    """What the game day needs to know about the deployed stack, from Terraform's state."""

    def __init__(self, resources):
        db = resources["drpair_global_database.main"]
        app = resources["drpair_app_tier.web"]
        dns = resources["drpair_failover_dns.api"]
        alerts = resources["drpair_monitoring.alerts"]
        orchestrator = resources["drpair_failover_orchestrator.auto"]
        self.global_cluster = db["global_cluster_identifier"]
        self.primary_cluster = db["primary"]["cluster_identifier"]
        self.dr_cluster = db["dr"]["cluster_identifier"]
        self.primary_alb = app["primary"]["alb_dns_name"]
        self.dr_alb = app["dr"]["alb_dns_name"]
        self.primary_asg = app["primary"]["asg_name"]
        self.dr_asg = app["dr"]["asg_name"]
        self.dr_target_group = app["dr"]["target_group_arn"]
        self.fqdn = dns["fqdn"].rstrip(".")
        self.topics = [alerts["primary"]["topic_arn"], alerts["dr"]["topic_arn"]]
        self.orchestrator = orchestrator["id"]
        self.state_table = orchestrator["state_table_name"]
        self.lag_alarm = next((n for n in alerts.get("alarm_names") or [] if "replication-lag" in n), None)
        self.rto_budget = orchestrator.get("rto_budget")


# --- observations ---------------------------------------------------------------------------


def dns_answer(emulator, stack):
    _, out = emulator.control("GET", f"/dns?name={stack.fqdn}&type=A")
    return out


def writer(emulator, stack):
    """(region of the writer, its cluster's own status) as the DR region's RDS API says."""
    rds = emulator.client("rds", DR)
    found = rds.describe_global_clusters(GlobalClusterIdentifier=stack.global_cluster)["GlobalClusters"][0]
    for member in found.get("GlobalClusterMembers", []):
        if member.get("IsWriter"):
            region = member["DBClusterArn"].split(":")[3]
            status = None
            if region == DR:
                status = rds.describe_db_clusters(DBClusterIdentifier=stack.dr_cluster)["DBClusters"][0]["Status"]
            return region, status, found.get("Status")
    return None, None, found.get("Status")


def dr_capacity(emulator, stack):
    """(InService instances, healthy targets, desired capacity) of the DR group."""
    group = emulator.client("autoscaling", DR).describe_auto_scaling_groups(AutoScalingGroupNames=[stack.dr_asg])["AutoScalingGroups"][0]
    in_service = sum(1 for i in group.get("Instances", []) if i.get("LifecycleState") == "InService")
    health = emulator.client("elbv2", DR).describe_target_health(TargetGroupArn=stack.dr_target_group)["TargetHealthDescriptions"]
    healthy = sum(1 for t in health if t.get("TargetHealth", {}).get("State") == "healthy")
    return in_service, healthy, group["DesiredCapacity"]


def failovers(emulator):
    return emulator.calls("rds", "FailoverGlobalCluster")


class Payments(threading.Thread):
    """A payment written through the primary writer every modeled second."""

    def __init__(self, emulator, stack):
        super().__init__(daemon=True)
        self.emulator, self.stack = emulator, stack
        self.acked = []  # (id, acked epoch)
        self.refused = 0
        self.stopping = threading.Event()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            n += 1
            status, out = self.emulator.control(
                "POST", f"/aurora/{PRIMARY}/{self.stack.primary_cluster}/writes", {"id": f"payment-{n}"}, ok=None
            )
            if status in (200, 201):
                self.acked.append((out["id"], out["epoch"]))
            else:
                self.refused += 1
            self.emulator.sleep(1.0)

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


def held(emulator, region, cluster):
    _, out = emulator.control("GET", f"/aurora/{region}/{cluster}/writes")
    return {w["id"] for w in out["writes"]}


class Inboxes:
    """An SQS queue subscribed to each topic, to see what reaches each region. The topics also
    carry alarm messages, so every message is read (and deleted) and the failover events kept."""

    def __init__(self, emulator, stack):
        self.emulator = emulator
        self.queues = {}
        self.told = set()
        for topic in stack.topics:
            region = topic.split(":")[3]
            sqs = emulator.client("sqs", region)
            url = sqs.create_queue(QueueName=f"gameday-{region}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            emulator.client("sns", region).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
            self.queues[topic] = (region, url)

    def failover_notified(self):
        """Topics whose queue got the orchestrator's failover event so far."""
        for topic, (region, url) in self.queues.items():
            sqs = self.emulator.client("sqs", region)
            while True:
                try:
                    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                except Exception:  # the region may be down
                    break
                if not messages:
                    break
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    try:
                        event = json.loads(json.loads(message["Body"]).get("Message", "{}"))
                    except ValueError:
                        continue
                    if isinstance(event, dict) and event.get("source") == EVENT_SOURCE and event.get("what") == "failover":
                        self.told.add(topic)
        return [t for t in self.queues if t in self.told]


def wait_for(emulator, what, limit, check, poll=0.25):
    """Polls `check()` (real seconds between polls) until it returns a truthy value, at most
    `limit` modeled seconds."""
    deadline = emulator.now() + limit
    while True:
        value = check()
        if value:
            return value
        if emulator.now() > deadline:
            raise GameDayError(f"gave up waiting for {what} after {limit:.0f} modeled seconds")
        time.sleep(poll)


def scheduled_probe_after(emulator, stack, since):
    for event in emulator.events("lambda.invoke", since):
        if event.get("function") == stack.orchestrator and event.get("trigger") == "schedule":
            return event
    return None


# --- the phases -----------------------------------------------------------------------------


def steady_state(emulator, stack, timeline):
    emulator.set_clock(timing="aws", speed=FAST)
    start = emulator.now()
    # The schedule runs the orchestrator, and Aurora reports replication lag in the DR region.
    wait_for(emulator, "a scheduled probe", 5 * 60, lambda: scheduled_probe_after(emulator, stack, start))
    wait_for(emulator, "a replication-lag datapoint", 5 * 60, lambda: lag_datapoints(emulator, stack, 300))
    timeline.append((emulator.now(), "steady state: the orchestrator probes every minute, Aurora replicates"))


def lag_datapoints(emulator, stack, window):
    import datetime

    end = datetime.datetime.fromtimestamp(emulator.now() + 60, tz=datetime.timezone.utc)
    out = emulator.client("cloudwatch", DR).get_metric_statistics(
        Namespace="AWS/RDS",
        MetricName="AuroraGlobalDBReplicationLag",
        Dimensions=[{"Name": "DBClusterIdentifier", "Value": stack.dr_cluster}],
        StartTime=end - datetime.timedelta(seconds=window + 60),
        EndTime=end,
        Period=60,
        Statistics=["Maximum"],
    )
    return out.get("Datapoints")


def brownout(emulator, stack, timeline):
    """The primary's endpoint down 40 s of every 120 s, three times; the database is fine."""
    before = failovers(emulator)
    emulator.set_clock(speed=FAST)
    start = emulator.now()
    for cycle in range(3):
        emulator.control("POST", f"/endpoints/{stack.primary_alb}", {"healthy": False})
        emulator.sleep(40)
        emulator.control("POST", f"/endpoints/{stack.primary_alb}", {"healthy": None})
        emulator.sleep(80)
    emulator.sleep(120)
    count = failovers(emulator) - before
    region, _, _ = writer(emulator, stack)
    timeline.append((emulator.now(), f"brownout over ({emulator.now() - start:.0f} s): {count} failover(s), writer in {region}"))
    return count, region


def forged(emulator, stack, timeline):
    """Everything someone in the account could write to make the orchestrator act."""
    before = failovers(emulator)
    emulator.set_clock(speed=FAST)
    now = emulator.now()
    ddb = emulator.client("dynamodb", DR)
    history = [
        {"at": "forged", "epoch": now - 60 * i, "healthy": False, "source": "endpoint", "detail": "forged", "event_id": f"forged-{i}"}
        for i in range(5, 0, -1)
    ]
    ddb.put_item(
        TableName=stack.state_table,
        Item={"pk": {"S": "probes"}, "version": {"N": "1000"}, "body": {"S": json.dumps(history)}},
    )
    lock_body = {
        "mode": "automatic",
        "started_at": "forged",
        "decision": {"detected_at": "forged", "trigger": "probe", "confirmed_by": ["forged"]},
        "steps": [{"name": n, "status": "pending", "attempts": 0} for n in ("failover", "scale", "wait_writer", "wait_capacity", "notify")],
        "notified": [],
        "errors": [],
    }
    ddb.put_item(
        TableName=stack.state_table,
        Item={
            "pk": {"S": "lock"},
            "status": {"S": "in_progress"},
            "attempt": {"N": "1"},
            "owner": {"S": "forged"},
            "lease_until": {"N": "0"},
            "body": {"S": json.dumps(lock_body)},
        },
    )
    if stack.lag_alarm:
        emulator.client("cloudwatch", DR).set_alarm_state(AlarmName=stack.lag_alarm, StateValue="ALARM", StateReason="forged")
    lam = emulator.client("lambda", DR)
    for i in range(10):
        event = {
            "version": "0",
            "id": f"forged-invoke-{i}",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "region": DR,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(emulator.now())),
            "resources": [],
            "detail": {},
        }
        lam.invoke(FunctionName=stack.orchestrator, InvocationType="Event", Payload=json.dumps(event).encode())
    emulator.sleep(180)
    count = failovers(emulator) - before
    region, _, _ = writer(emulator, stack)
    timeline.append((emulator.now(), f"forged decision over: {count} failover(s), writer in {region}"))
    return count, region


def outage(emulator, stack, speed, timeline, payments):
    emulator.set_clock(speed=speed)
    before = failovers(emulator)
    target = emulator.client("autoscaling", PRIMARY).describe_auto_scaling_groups(AutoScalingGroupNames=[stack.primary_asg])["AutoScalingGroups"][0]["DesiredCapacity"]
    # Right after a scheduled probe: the orchestrator's detection is at its slowest.
    since = emulator.now()
    wait_for(emulator, "a scheduled probe", 3 * 60, lambda: scheduled_probe_after(emulator, stack, since), poll=0.02)
    _, declared = emulator.control("POST", "/outage", {"region": PRIMARY})
    t0 = declared["outages"][0]["epoch"]
    timeline.append((t0, f"OUTAGE: {PRIMARY} is down (APIs, load balancers, replication)"))
    seen = {}

    def progress():
        now = emulator.now()
        answer = dns_answer(emulator, stack)
        if "dns" not in seen and stack.dr_alb in " ".join(answer.get("answer", [])):
            seen["dns"] = now
            seen["ttl"] = answer.get("ttl", 60)
            timeline.append((now, f"Route 53 answers {stack.fqdn} with the DR load balancer (TTL {seen['ttl']} s)"))
        region, status, global_status = writer(emulator, stack)
        if "writer" not in seen and region == DR and status == "available":
            seen["writer"] = now
            timeline.append((now, f"{stack.dr_cluster} is the writer and available (global cluster {global_status})"))
        in_service, healthy, desired = dr_capacity(emulator, stack)
        if "capacity" not in seen and min(in_service, healthy) >= target:
            seen["capacity"] = now
            timeline.append((now, f"{stack.dr_asg}: {in_service} in service, {healthy} healthy targets (the primary's {target})"))
        return {"dns", "writer", "capacity"} <= set(seen)

    wait_for(emulator, "the DR region to serve", OUTAGE_LIMIT, progress)
    figures = {
        "failovers": failovers(emulator) - before,
        "dns_on_dr_at": round(seen["dns"] + seen["ttl"] - t0, 1),
        "dns_answer_on_dr_at": round(seen["dns"] - t0, 1),
        "dr_writer_at": round(seen["writer"] - t0, 1),
        "dr_capacity_at": round(seen["capacity"] - t0, 1),
    }
    figures["rto_seconds"] = max(figures["dns_on_dr_at"], figures["dr_writer_at"], figures["dr_capacity_at"])
    for event in emulator.events("rds.", t0):
        timeline.append((event["epoch"], f"emulator: {event['kind']} {event.get('cluster', '')}".rstrip()))
    if payments is not None:
        figures.update(data_loss(emulator, stack, payments, t0, timeline))
    return t0, figures


def data_loss(emulator, stack, payments, t0, timeline):
    """RPO: how far back before the outage the payments the DR writer lacks go."""
    payments.stop()
    acked = dict(payments.acked)
    surviving = held(emulator, DR, stack.dr_cluster)
    lost = sorted((at, pid) for pid, at in acked.items() if pid not in surviving)
    kept = [at for pid, at in acked.items() if pid in surviving]
    newest_kept = max(kept) if kept else t0
    rpo = max(0.0, max((at for at, _ in lost), default=newest_kept) - newest_kept) if lost else 0.0
    timeline.append((t0 + 0.0001, f"payments: {len(acked)} acknowledged by the primary, {len(lost)} lost in the failover"))
    return {"rpo_seconds": round(rpo, 1), "payments_acknowledged": len(acked), "payments_lost": len(lost)}


def recovery(emulator, stack, inboxes, timeline):
    """us-east-1 back; returns the topics the failover event reached once it settled."""
    emulator.set_clock(speed=FAST)
    emulator.control("DELETE", f"/outage/{PRIMARY}")
    timeline.append((emulator.now(), f"{PRIMARY} recovers"))
    notified = []
    if inboxes:
        notified = wait_for(
            emulator,
            "the failover event in both regions' topics",
            RECOVERY_LIMIT,
            lambda: (lambda told: len(told) == len(inboxes.queues) and told)(inboxes.failover_notified()),
        )
        timeline.append((emulator.now(), f"the failover event reached {', '.join(notified)}"))
    wait_for(emulator, "the global cluster to be available again", RECOVERY_LIMIT, lambda: writer(emulator, stack)[2] == "available")
    timeline.append((emulator.now(), f"{stack.primary_cluster} rebuilt as a secondary; global cluster available"))
    return notified


def failback(emulator, terraform, stack, timeline):
    terraform.apply("-invoke=action.drpair_failover.failback")
    region, _, _ = writer(emulator, stack)
    timeline.append((emulator.now(), f"failback with the drpair_failover action: writer in {region}"))
    if region != PRIMARY:
        raise GameDayError(f"after the failback the writer is in {region}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="scripts/gameday", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--provider", help="provider binary (default: cargo build's debug binary)")
    parser.add_argument("--speed", type=float, default=5.0, help="modeled seconds per real second during the outage (default 5: the Lambda runtime's own real-time overhead stays a few modeled seconds)")
    parser.add_argument("--workdir", default=os.path.join(ROOT, ".tmp", "gameday"))
    parser.add_argument("--keep", action="store_true", help="leave the stack and the emulator running at the end")
    args = parser.parse_args(argv)

    binary = args.provider or os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "terraform-provider-drpair")
    if not os.path.isfile(binary):
        raise SystemExit(f"scripts/gameday: no provider binary at {binary} (cargo build --bin terraform-provider-drpair, or --provider)")
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    rc = install_provider(binary, args.workdir)
    emulator = Emulator(args.workdir)
    timeline = []
    figures = {}
    try:
        terraform = Terraform(args.workdir, rc, emulator.endpoint)
        log(f"==> emulator on {emulator.endpoint} (log {emulator.log_path}); terraform in {terraform.dir}")
        terraform.init()
        log("==> terraform apply examples/complete")
        terraform.apply()
        stack = Stack(terraform.resources())
        changes, plan = terraform.plan_changes()
        if changes:
            raise GameDayError(f"the plan right after apply changes {', '.join(changes)}:\n{plan[-4000:]}")
        if isinstance(stack.rto_budget, dict):
            figures["rto_budget_seconds"] = stack.rto_budget.get("total_seconds")
        inboxes = Inboxes(emulator, stack)

        log(f"==> steady state on AWS's timing (speed {FAST})")
        steady_state(emulator, stack, timeline)
        payments = Payments(emulator, stack)
        payments.start()

        log("==> brownout: the primary endpoint flaps, the database is fine")
        figures["brownout_failovers"], _ = brownout(emulator, stack, timeline)
        log("==> forged decision: state-table items, an alarm, a burst of invokes")
        figures["forged_failovers"], _ = forged(emulator, stack, timeline)

        log(f"==> the outage of {PRIMARY} (speed {args.speed:g})")
        t0, measured = outage(emulator, stack, args.speed, timeline, payments)
        figures.update(measured)
        log("==> recovery and failback")
        figures["notified"] = recovery(emulator, stack, inboxes, timeline)
        failback(emulator, terraform, stack, timeline)
        # After the failback the DR group still runs the primary's capacity: the plan returns it
        # to the configured warm standby (and nothing else), and is empty once applied.
        changes, plan = terraform.plan_changes()
        figures["plan_after_failback"] = changes
        timeline.append((emulator.now(), f"plan after the failback: {', '.join(changes) or 'no resource changes'}"))
        if changes:
            log(plan[-4000:])
            terraform.apply()
            changes, plan = terraform.plan_changes()
        figures["plan_empty_after_failback"] = not changes
        if changes:
            log(plan[-4000:])
        emulator.set_clock(timing="instant", speed=1)
        if not args.keep:
            log("==> terraform destroy")
            terraform.destroy()
    except GameDayError as exc:
        log(f"GAME DAY FAILED: {exc}")
        figures["error"] = str(exc)
    finally:
        print_timeline(timeline, figures)
        if not args.keep:
            emulator.stop()
    ordered = {k: figures.get(k) for k in ("rto_seconds", "rpo_seconds", "failovers", "dns_on_dr_at", "dr_writer_at", "dr_capacity_at", "notified")}
    ordered.update({k: v for k, v in figures.items() if k not in ordered})
    print(json.dumps(ordered), flush=True)
    return 1 if "error" in figures else 0


def print_timeline(timeline, figures):
    if not timeline:
        return
    t0 = next((t for t, what in timeline if what.startswith("OUTAGE")), timeline[0][0])
    log("\nTimeline (modeled seconds from the outage):")
    for at, what in sorted(timeline):
        log(f"  {at - t0:+9.1f} s  {what}")
    log("")


if __name__ == "__main__":
    sys.exit(main())
