"""The failover Lambdas' handlers against the emulator (scripts/emulator), one per test session.

Each test builds its own small DR stack in the emulator (the `stack` fixture: an Aurora global
database with a primary in us-east-1 and a secondary in us-east-2, the DR Auto Scaling group, an
SNS topic per region with an SQS queue subscribed, the state table, the DR lag alarm) under a
unique name, with the primary's endpoint served by a tiny HTTP server on 127.0.0.1 (the
`Endpoint`), and calls the handlers in this process with the environment the provider gives the
functions, or deploys them as Lambda functions the emulator runs.

Time: the handlers read the emulator's modeled clock, as the emulator's Lambda runner makes
deployed code do: here `time.time()` of the handler's modules is the modeled time and
`time.sleep(s)` advances the modeled clock by `s` (`POST /_drpair/clock {"advance": s}`, which
runs whatever falls due on the way: Aurora's metrics, alarm evaluation). A test moves a minute on
with `stack.clock.advance(60)`, so a ten-minute outage runs in seconds, deterministically.

Replication: the emulator's Aurora publishes `AuroraGlobalDBReplicationLag` for each secondary
every modeled minute while its primary's region is up (`aurora_data`); nobody else can put data
into `AWS/` namespaces (the emulator refuses PutMetricData there, as AWS does).
"""

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_DIR = os.path.join(ROOT, "lambda", "orchestrator")
sys.path.insert(0, PACKAGE_DIR)

PRIMARY, DR = "us-east-1", "us-east-2"
ENGINE = "aurora-postgresql"
LAG_METRIC = "AuroraGlobalDBReplicationLag"
# The handler modules whose `time` follows the modeled clock.
TIMED_MODULES = ("orchestrator", "signals", "state", "steps")
_real_time = time.time


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    def __init__(self, process, port, log_path):
        self.process = process
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def client(self, service, region=PRIMARY):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    def request(self, method, path, body=None):
        return requests.request(method, self.endpoint + "/_drpair" + path, json=body, timeout=120)

    def control(self, method, path, body=None, expect=None):
        response = self.request(method, path, body)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json()

    def calls(self, service=None, operation=None, region=None):
        """How many calls the emulator answered so far (faulted ones included)."""
        query = "&".join(f"{k}={v}" for k, v in (("service", service), ("operation", operation), ("region", region)) if v)
        return self.control("GET", f"/calls?{query}", expect=200)["total"]

    def call_rows(self, region):
        rows = self.control("GET", f"/calls?region={region}", expect=200)["calls"]
        return {(r["service"], r["operation"]): r["count"] for r in rows}

    def failovers(self):
        return self.calls("rds", "FailoverGlobalCluster")

    def fault(self, **rule):
        return self.control("POST", "/faults", rule, expect=201)

    def clear_faults(self):
        self.control("DELETE", "/faults", expect=200)

    def outage(self, region=PRIMARY):
        self.control("POST", "/outage", {"region": region}, expect=201)

    def recover(self):
        self.control("DELETE", "/outage", expect=200)

    def timing(self, timing):
        self.control("POST", "/clock", {"timing": timing}, expect=200)


@pytest.fixture(scope="session")
def emulator():
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="drpair-lambda-emulator-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [os.path.join(ROOT, "scripts", "emulator"), "--port", str(port), "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=ROOT,
    )
    line = process.stdout.readline().decode()
    if "emulator listening on" not in line:
        process.kill()
        log.close()
        pytest.fail(f"the emulator did not start: {line!r}\n{open(log.name).read()}")
    yield Emulator(process, port, log.name)
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


# --- the modeled clock ----------------------------------------------------------------------


class ModeledClock:
    """The emulator's modeled clock, read locally between syncs (no call per reading)."""

    def __init__(self, emulator):
        self.emulator = emulator
        self._lock = threading.Lock()
        self.listeners = []
        self.sync()

    def sync(self, view=None):
        view = view or self.emulator.control("GET", "/clock", expect=200)
        with self._lock:
            self._base = (_real_time(), view["epoch"], view["speed"])

    def now(self):
        with self._lock:
            real, modeled, speed = self._base
        return modeled + (_real_time() - real) * speed

    def advance(self, seconds):
        """Moves the modeled clock on (running what falls due), then lets the listeners catch up."""
        if seconds > 0:
            self.sync(self.emulator.control("POST", "/clock", {"advance": seconds}, expect=200))
        now = self.now()
        for listener in list(self.listeners):
            listener(now)


class ModeledTime:
    """What the handler modules see as `time`: the modeled clock; sleeping advances it."""

    def __init__(self, clock):
        self._clock = clock

    def time(self):
        return self._clock.now()

    def monotonic(self):
        return self._clock.now()

    def sleep(self, seconds):
        self._clock.advance(seconds)

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture(scope="session")
def clock(emulator):
    return ModeledClock(emulator)


# --- replication metrics --------------------------------------------------------------------


class Replication:
    """AuroraGlobalDBReplicationLag of the stacks' DR clusters, which the emulator's Aurora
    publishes every modeled minute while they replicate (`aurora_data`). `available` is False on
    an emulator that does not publish it (the tests that need it then fail)."""

    def __init__(self, emulator, clock):
        self.emulator = emulator
        self.clock = clock
        self.available = self._detect()

    def _detect(self):
        name = "repl" + uuid.uuid4().hex[:8]
        rds_primary, rds_dr = self.emulator.client("rds", PRIMARY), self.emulator.client("rds", DR)
        rds_primary.create_global_cluster(GlobalClusterIdentifier=f"{name}-global", Engine=ENGINE, EngineVersion="14.9")
        rds_primary.create_db_cluster(
            DBClusterIdentifier=f"{name}-primary",
            Engine=ENGINE,
            EngineVersion="14.9",
            GlobalClusterIdentifier=f"{name}-global",
            MasterUsername="payments_admin",
            MasterUserPassword="not-a-real-password",
        )
        rds_dr.create_db_cluster(DBClusterIdentifier=f"{name}-dr", Engine=ENGINE, EngineVersion="14.9", GlobalClusterIdentifier=f"{name}-global")
        self.clock.advance(61)
        return self.latest(f"{name}-dr", 180) is not None

    def latest(self, cluster, window, period=60):
        """(epoch of its `period` bucket's start, value) of the newest datapoint of the last
        `window` modeled seconds, or None."""
        import datetime

        now = self.clock.now()
        out = self.emulator.client("cloudwatch", DR).get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "lag",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/RDS", "MetricName": LAG_METRIC, "Dimensions": [{"Name": "DBClusterIdentifier", "Value": cluster}]},
                        "Period": period,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=datetime.datetime.fromtimestamp(now - window, tz=datetime.timezone.utc),
            EndTime=datetime.datetime.fromtimestamp(now + 60, tz=datetime.timezone.utc),
        )
        points = sorted(zip(out["MetricDataResults"][0]["Timestamps"], out["MetricDataResults"][0]["Values"]))
        return (points[-1][0].timestamp(), points[-1][1]) if points else None

    def require(self):
        assert self.available, "the emulator's Aurora (aurora_data.py) published no AuroraGlobalDBReplicationLag"

    def watch(self, cluster):
        """Waits (modeled) for the DR cluster's first datapoint, so that it is seen replicating."""
        if not self.available:
            return
        for _ in range(4):
            if self.latest(cluster, 60) is not None:
                return
            self.clock.advance(30)
        raise AssertionError(f"no {LAG_METRIC} datapoint for {cluster} after two modeled minutes")


@pytest.fixture(scope="session")
def replication(emulator, clock):
    return Replication(emulator, clock)


# --- the primary's endpoint -----------------------------------------------------------------


class Endpoint:
    """The primary's endpoint as the orchestrator probes it: an HTTP server on 127.0.0.1 that
    answers 200 ("up"), 302 ("redirect"), 503 ("error", a load balancer without healthy targets)
    or closes the connection without an answer ("drop", a region that is down)."""

    def __init__(self):
        self.mode = "up"
        self.hits = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                endpoint.hits += 1
                if endpoint.mode == "drop":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                code = {"up": 200, "redirect": 302}.get(endpoint.mode, 503)
                body = b"ok" if code == 200 else b"no healthy targets"
                self.send_response(code)
                if code == 302:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/health"

    def set(self, mode):
        assert mode in ("up", "redirect", "error", "drop")
        self.mode = mode

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint():
    served = Endpoint()
    yield served
    served.close()


# --- the environment of the handlers ----------------------------------------------------------


@pytest.fixture(autouse=True)
def aws_environment(request, monkeypatch):
    """The handlers' boto3 goes to the emulator, as in the emulator's Lambda sandbox."""
    if "emulator" not in request.fixturenames:
        yield
        return
    emulator = request.getfixturevalue("emulator")
    for key in list(os.environ):
        if key.startswith("AWS_") or key.lower() in ("http_proxy", "https_proxy", "no_proxy", "all_proxy"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", DR)
    monkeypatch.setenv("AWS_DEFAULT_REGION", DR)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield
    emulator.clear_faults()
    emulator.recover()
    emulator.timing("instant")


@pytest.fixture
def modeled_time(clock, monkeypatch):
    """The handler modules' `time` follows the emulator's modeled clock."""
    import importlib

    fake = ModeledTime(clock)
    for name in TIMED_MODULES:
        monkeypatch.setattr(importlib.import_module(f"drpair_failover.{name}"), "time", fake)
    return fake


@dataclass
class Stack:
    emulator: Emulator
    name: str
    env: dict
    global_cluster: str
    primary_cluster: str
    primary_cluster_arn: str
    dr_cluster: str
    dr_cluster_arn: str
    asg_name: str
    lag_alarm: str
    topics: dict
    endpoint: Endpoint = None
    clock: ModeledClock = None
    replication: Replication = None
    queues: dict = field(default_factory=dict)

    def setenv(self, monkeypatch, **overrides):
        for key, value in {**self.env, **overrides}.items():
            monkeypatch.setenv(key, str(value))

    def outage(self):
        """us-east-1 goes down: its APIs, the primary's endpoint, replication to the DR cluster
        (a few modeled seconds after the DR cluster's latest lag datapoint, at the earliest)."""
        self.emulator.outage(PRIMARY)
        self.endpoint.set("drop")
        self.clock.advance(5)

    def recover(self):
        self.emulator.recover()
        self.endpoint.set("up")

    def lag_alarm_state(self, state):
        self.emulator.client("cloudwatch", DR).set_alarm_state(AlarmName=self.lag_alarm, StateValue=state, StateReason=f"test sets {state}")

    def writer(self):
        """The region of the global database's writer."""
        out = self.emulator.client("rds", DR).describe_global_clusters(GlobalClusterIdentifier=self.global_cluster)
        members = out["GlobalClusters"][0]["GlobalClusterMembers"]
        writers = [m["DBClusterArn"].split(":")[3] for m in members if m["IsWriter"]]
        assert len(writers) == 1, members
        return writers[0]

    def global_status(self):
        out = self.emulator.client("rds", DR).describe_global_clusters(GlobalClusterIdentifier=self.global_cluster)
        return out["GlobalClusters"][0].get("Status"), out["GlobalClusters"][0].get("FailoverState")

    def asg(self):
        group = self.emulator.client("autoscaling", DR).describe_auto_scaling_groups(AutoScalingGroupNames=[self.asg_name])
        g = group["AutoScalingGroups"][0]
        return g["MinSize"], g["DesiredCapacity"], g["MaxSize"]

    def messages(self, region):
        """Every message delivered to the queue subscribed to the region's topic since the last
        call: (subject, message body)."""
        sqs = self.emulator.client("sqs", region)
        got = []
        while True:
            out = sqs.receive_message(QueueUrl=self.queues[region], MaxNumberOfMessages=10, WaitTimeSeconds=0)
            batch = out.get("Messages", [])
            if not batch:
                return got
            for m in batch:
                envelope = json.loads(m["Body"])
                got.append((envelope.get("Subject"), envelope["Message"]))
                sqs.delete_message(QueueUrl=self.queues[region], ReceiptHandle=m["ReceiptHandle"])

    def state_items(self):
        ddb = self.emulator.client("dynamodb", DR)
        items = ddb.scan(TableName=self.env["STATE_TABLE"], ConsistentRead=True)["Items"]
        return {i["pk"]["S"]: i for i in items}

    def put_item(self, item):
        self.emulator.client("dynamodb", DR).put_item(TableName=self.env["STATE_TABLE"], Item=item)

    def lock(self):
        item = self.state_items().get("lock")
        if item is None:
            return None
        return {"status": item["status"]["S"], "attempt": int(item["attempt"]["N"]), "body": json.loads(item["body"]["S"])}

    def probes(self):
        item = self.state_items().get("probes")
        return json.loads(item["body"]["S"]) if item else []

    def timelines(self):
        items = self.state_items()
        return [json.loads(items[k]["body"]["S"]) for k in sorted(items) if k.startswith("timeline#")]

    def abandoned(self):
        items = self.state_items()
        return [json.loads(items[k]["body"]["S"]) for k in sorted(items) if k.startswith("abandoned#")]


_IMAGES = {}


def build_stack(emulator, name, endpoint_url, mode="automatic", consecutive_failures=2):
    rds_primary, rds_dr = emulator.client("rds", PRIMARY), emulator.client("rds", DR)
    global_cluster = f"{name}-global"
    rds_primary.create_global_cluster(GlobalClusterIdentifier=global_cluster, Engine=ENGINE, EngineVersion="14.9")
    primary = rds_primary.create_db_cluster(
        DBClusterIdentifier=f"{name}-primary",
        Engine=ENGINE,
        EngineVersion="14.9",
        GlobalClusterIdentifier=global_cluster,
        MasterUsername="payments_admin",
        MasterUserPassword="not-a-real-password",
    )["DBCluster"]
    dr = rds_dr.create_db_cluster(
        DBClusterIdentifier=f"{name}-dr", Engine=ENGINE, EngineVersion="14.9", GlobalClusterIdentifier=global_cluster
    )["DBCluster"]

    ec2 = emulator.client("ec2", DR)
    image = _IMAGES.get(emulator.port)
    if image is None:  # DescribeImages lists all of moto's AMIs: slow, so once per session
        image = _IMAGES[emulator.port] = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    template = ec2.create_launch_template(
        LaunchTemplateName=f"{name}-web", LaunchTemplateData={"ImageId": image, "InstanceType": "t3.medium"}
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg_name = f"{name}-web-dr"
    emulator.client("autoscaling", DR).create_auto_scaling_group(
        AutoScalingGroupName=asg_name,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=1,
        MaxSize=2,
        DesiredCapacity=1,
        AvailabilityZones=[f"{DR}a"],
    )

    topics, queues = {}, {}
    for region in (PRIMARY, DR):
        sns, sqs = emulator.client("sns", region), emulator.client("sqs", region)
        topics[region] = sns.create_topic(Name=f"{name}-alerts")["TopicArn"]
        queues[region] = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queues[region], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topics[region], Protocol="sqs", Endpoint=queue_arn)

    table = f"{name}-failover-state"
    emulator.client("dynamodb", DR).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )

    lag_alarm = f"{name}-aurora-replication-lag"
    emulator.client("cloudwatch", DR).put_metric_alarm(
        AlarmName=lag_alarm,
        Namespace="AWS/RDS",
        MetricName=LAG_METRIC,
        Dimensions=[{"Name": "DBClusterIdentifier", "Value": dr["DBClusterIdentifier"]}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1000,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="breaching",
    )

    env = {
        "MODE": mode,
        "ENVIRONMENT": "test",
        "PRIMARY_REGION": PRIMARY,
        "DR_REGION": DR,
        "GLOBAL_CLUSTER_IDENTIFIER": global_cluster,
        "DR_CLUSTER_IDENTIFIER": dr["DBClusterIdentifier"],
        "PRIMARY_ENDPOINT_URL": endpoint_url,
        "CONSECUTIVE_FAILURES": str(consecutive_failures),
        "ALARM_NAME_PREFIX": f"{name}-",
        "ALARM_NAME_SUFFIX": "",
        "DR_ASG_NAME": asg_name,
        "SCALE_MIN_SIZE": "2",
        "SCALE_DESIRED_CAPACITY": "4",
        "TOPIC_ARNS": ",".join(topics[r] for r in (PRIMARY, DR)),
        "STATE_TABLE": table,
    }
    return Stack(
        emulator=emulator,
        name=name,
        env=env,
        global_cluster=global_cluster,
        primary_cluster=primary["DBClusterIdentifier"],
        primary_cluster_arn=primary["DBClusterArn"],
        dr_cluster=dr["DBClusterIdentifier"],
        dr_cluster_arn=dr["DBClusterArn"],
        asg_name=asg_name,
        lag_alarm=lag_alarm,
        topics=topics,
        queues=queues,
    )


@pytest.fixture
def unique():
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def stack(emulator, unique, monkeypatch, endpoint, clock, replication, modeled_time):
    """A DR stack in the emulator whose primary answers and replicates, with the orchestrator's
    environment set in this process and its modules on the modeled clock."""
    built = build_stack(emulator, unique, endpoint.url)
    built.endpoint, built.clock, built.replication = endpoint, clock, replication
    replication.watch(built.dr_cluster)
    built.setenv(monkeypatch)
    return built


def scheduled_event(event_id=None):
    """What the EventBridge schedule sends."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": DR,
        "resources": ["arn:aws:events:us-east-2:123456789012:rule/failover-probe-v2-test"],
        "detail": {},
    }


def alarm_event(alarm_name, state="ALARM", previous="OK", event_id=None):
    """What CloudWatch sends EventBridge when an alarm changes state."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": DR,
        "resources": [f"arn:aws:cloudwatch:us-east-2:123456789012:alarm:{alarm_name}"],
        "detail": {
            "alarmName": alarm_name,
            "state": {"value": state, "reason": "Threshold Crossed: 1 datapoint [2400.0] was greater than the threshold (1000.0).", "timestamp": "2026-11-24T08:00:00.000+0000"},
            "previousState": {"value": previous, "reason": "", "timestamp": "2026-11-24T07:00:00.000+0000"},
            "configuration": {
                "description": "Aurora global replication lag above 1 s",
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {"namespace": "AWS/RDS", "name": LAG_METRIC, "dimensions": {"DBClusterIdentifier": "dr-db-cluster-v2-test"}},
                            "period": 60,
                            "stat": "Maximum",
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }


def package():
    """The Lambda package as the provider builds it: the drpair_failover module at the root."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for base, _, files in os.walk(os.path.join(PACKAGE_DIR, "drpair_failover")):
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(base, name)
                    archive.write(path, os.path.relpath(path, PACKAGE_DIR))
    return buffer.getvalue()
