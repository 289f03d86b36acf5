"""The failover Lambdas' handlers against the emulator (scripts/emulator), one per test session.

Each test builds its own small DR stack in the emulator (the `stack` fixture: an Aurora global
database with a primary in us-east-1 and a secondary in us-east-2, the primary's Route 53 health
check, the DR Auto Scaling group, an SNS topic per region with an SQS queue subscribed, the state
table, the DR lag alarm) under a unique name, and calls the handlers in this process with the
environment the provider gives the functions, or deploys them as Lambda functions the emulator
runs.
"""

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field

import boto3
import pytest
import requests
from botocore.config import Config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGE_DIR = os.path.join(ROOT, "lambda", "orchestrator")
sys.path.insert(0, PACKAGE_DIR)

PRIMARY, DR = "us-east-1", "us-east-2"
ENGINE = "aurora-postgresql"


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

    def control(self, method, path, body=None, expect=None):
        response = requests.request(method, self.endpoint + "/_drpair" + path, json=body, timeout=60)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json()

    def calls(self, service, operation):
        """How many calls of an operation the emulator answered so far."""
        return self.control("GET", f"/calls?service={service}&operation={operation}", expect=200)["total"]

    def fault(self, **rule):
        return self.control("POST", "/faults", rule, expect=201)

    def clear_faults(self):
        self.control("DELETE", "/faults", expect=200)


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


@pytest.fixture(autouse=True)
def aws_environment(request, monkeypatch):
    """The handlers' boto3 goes to the emulator, as in the emulator's Lambda sandbox."""
    if "emulator" not in request.fixturenames:
        yield
        return
    emulator = request.getfixturevalue("emulator")
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", DR)
    monkeypatch.setenv("AWS_DEFAULT_REGION", DR)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield
    emulator.clear_faults()


@dataclass
class Stack:
    emulator: Emulator
    name: str
    env: dict
    global_cluster: str
    primary_cluster: str
    dr_cluster: str
    dr_cluster_arn: str
    health_check_id: str
    asg_name: str
    lag_alarm: str
    topics: dict
    queues: dict = field(default_factory=dict)

    def setenv(self, monkeypatch, **overrides):
        for key, value in {**self.env, **overrides}.items():
            monkeypatch.setenv(key, str(value))

    def health(self, healthy):
        self.emulator.control("POST", f"/health-checks/{self.health_check_id}", {"healthy": healthy}, expect=200)

    def lag_alarm_state(self, state):
        self.emulator.client("cloudwatch", DR).set_alarm_state(AlarmName=self.lag_alarm, StateValue=state, StateReason=f"test sets {state}")

    def replication_lag(self, ms):
        self.emulator.client("cloudwatch", DR).put_metric_data(
            Namespace="AWS/RDS",
            MetricData=[
                {
                    "MetricName": "AuroraGlobalDBReplicationLag",
                    "Dimensions": [{"Name": "DBClusterIdentifier", "Value": self.dr_cluster}],
                    "Value": ms,
                    "Unit": "Milliseconds",
                }
            ],
        )

    def primary_cluster_status(self, status):
        self.emulator.control("POST", f"/rds-clusters/{PRIMARY}/{self.primary_cluster}", {"status": status}, expect=200)

    def writer(self):
        """The region of the global database's writer."""
        out = self.emulator.client("rds", DR).describe_global_clusters(GlobalClusterIdentifier=self.global_cluster)
        members = out["GlobalClusters"][0]["GlobalClusterMembers"]
        writers = [m["DBClusterArn"].split(":")[3] for m in members if m["IsWriter"]]
        assert len(writers) == 1, members
        return writers[0]

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

    def lock(self):
        item = self.state_items().get("lock")
        if item is None:
            return None
        return {"status": item["status"]["S"], "attempt": int(item["attempt"]["N"]), "body": json.loads(item["body"]["S"])}

    def timelines(self):
        items = self.state_items()
        return [json.loads(items[k]["body"]["S"]) for k in sorted(items) if k.startswith("timeline#")]


_IMAGES = {}


def build_stack(emulator, name, mode="automatic", consecutive_failures=2):
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

    check = emulator.client("route53").create_health_check(
        CallerReference=name,
        HealthCheckConfig={
            "Type": "HTTP",
            "FullyQualifiedDomainName": f"{name}.primary.example.com",
            "Port": 80,
            "ResourcePath": "/health",
            "RequestInterval": 10,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]

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
        MetricName="AuroraGlobalDBReplicationLag",
        Dimensions=[{"Name": "DBClusterIdentifier", "Value": dr["DBClusterIdentifier"]}],
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1000,
        ComparisonOperator="GreaterThanThreshold",
    )

    env = {
        "MODE": mode,
        "ENVIRONMENT": "test",
        "PRIMARY_REGION": PRIMARY,
        "DR_REGION": DR,
        "GLOBAL_CLUSTER_IDENTIFIER": global_cluster,
        "DR_CLUSTER_IDENTIFIER": dr["DBClusterIdentifier"],
        "HEALTH_CHECK_ID": check,
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
        dr_cluster=dr["DBClusterIdentifier"],
        dr_cluster_arn=dr["DBClusterArn"],
        health_check_id=check,
        asg_name=asg_name,
        lag_alarm=lag_alarm,
        topics=topics,
        queues=queues,
    )


@pytest.fixture
def unique():
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def stack(emulator, unique, monkeypatch):
    """A DR stack in the emulator, with the orchestrator's environment set in this process."""
    built = build_stack(emulator, unique)
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
                            "metric": {"namespace": "AWS/RDS", "name": "AuroraGlobalDBReplicationLag", "dimensions": {"DBClusterIdentifier": "dr-db-cluster-v2-test"}},
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
