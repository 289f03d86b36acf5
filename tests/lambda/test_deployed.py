"""The package deployed as Lambda functions that the emulator runs (worker processes on the modeled
clock, with HTTP_PROXY pointing at the emulator, as the emulator's Lambda does): concurrent
invocations fail over exactly once; the orchestrator probes a load balancer's DNS name through the
emulator's endpoint proxy, as it probes the primary's ALB on AWS."""

import json
import threading

import pytest

from conftest import DR, PRIMARY, alarm_event, build_stack, package, scheduled_event

ORCHESTRATOR = "drpair_failover.orchestrator.handler"
NOTIFIER = "drpair_failover.notifier.handler"


def deploy(emulator, stack, unique, env=None):
    """Creates the role and both functions once IAM has propagated the role (stack.clock is set)."""
    role = emulator.client("iam").create_role(
        RoleName=f"{unique}-orchestrator",
        AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        ),
    )["Role"]["Arn"]
    # Lambda refuses a role IAM has not propagated yet (emulator_ext/iam_propagation.py), as AWS does.
    stack.clock.advance(emulator.control("GET", "/iam-propagation", expect=200)["seconds"] + 1)
    client = emulator.client("lambda", DR)
    code = package()
    for name, handler in ((f"{unique}-orchestrator", ORCHESTRATOR), (f"{unique}-notifier", NOTIFIER)):
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": code},
            Timeout=600 if name.endswith("orchestrator") else 60,
            Environment={"Variables": env or stack.env},
        )
    return client, f"{unique}-orchestrator", f"{unique}-notifier"


@pytest.fixture
def deployed(emulator, unique, endpoint, clock, replication):
    stack = build_stack(emulator, unique, endpoint.url)
    stack.endpoint, stack.clock, stack.replication = endpoint, clock, replication
    replication.watch(stack.dr_cluster)
    client, orchestrator, notifier = deploy(emulator, stack, unique)
    return stack, client, orchestrator, notifier


def invoke(client, name, event):
    out = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    payload = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, payload
    return payload


def test_concurrent_invocations_fail_over_once(deployed, emulator):
    stack, client, orchestrator, _ = deployed
    stack.replication.require()
    before = emulator.failovers()
    assert invoke(client, orchestrator, scheduled_event())["action"] == "none"
    stack.outage()
    stack.clock.advance(60)
    assert invoke(client, orchestrator, scheduled_event())["action"] == "none"
    stack.clock.advance(60)

    results = []
    batch = [scheduled_event() for _ in range(3)] + [alarm_event(stack.lag_alarm) for _ in range(3)]

    def run(event):
        results.append(invoke(emulator.client("lambda", DR), orchestrator, event))

    threads = [threading.Thread(target=run, args=(e,)) for e in batch]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    actions = [r["action"] for r in results]
    assert actions.count("failed_over") == 1, results
    assert stack.writer() == DR
    assert stack.asg() == (2, 4, 4)
    assert emulator.failovers() - before == 1
    got = stack.messages(DR)
    assert len(got) == 1, got
    assert json.loads(got[0][1])["what"] == "failover"


def test_the_notifier_function_publishes_alarm_messages(deployed):
    stack, client, _, notifier = deployed
    result = invoke(client, notifier, alarm_event(stack.lag_alarm))
    assert sorted(result["published"]) == sorted(stack.topics.values())
    assert stack.messages(PRIMARY)[0][0] == f"ALARM [test]: {stack.lag_alarm} in us-east-2"


def primary_load_balancer(emulator, name):
    """An internet-facing ALB in us-east-1 answering 200 on port 80; its DNS name."""
    ec2 = emulator.client("ec2", PRIMARY)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"{PRIMARY}{zone}")["Subnet"]["SubnetId"]
        for i, zone in enumerate("ab")
    ]
    elbv2 = emulator.client("elbv2", PRIMARY)
    lb = elbv2.create_load_balancer(Name=f"{name}-web", Subnets=subnets, Scheme="internet-facing", Type="application")["LoadBalancers"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "ok"}}],
    )
    return lb["DNSName"]


def test_the_deployed_orchestrator_probes_a_load_balancer_through_the_emulator(emulator, unique, clock, replication):
    """HTTP_PROXY in the function's environment: a GET of the primary ALB's DNS name reaches the
    emulator, which answers as that endpoint (200, a brownout's 503, nothing while us-east-1 is
    down)."""
    dns = primary_load_balancer(emulator, unique)
    assert emulator.request("GET", f"/endpoints/{dns}").status_code == 200, "the emulator's endpoint proxy (endpoints.py) does not know the load balancer"
    stack = build_stack(emulator, unique, f"http://{dns}/health")
    stack.clock = clock
    # Only the probes are looked at here: no confirmation after two failures.
    client, orchestrator, _ = deploy(emulator, stack, unique, env={**stack.env, "CONSECUTIVE_FAILURES": "10"})

    def probed():
        invoke(client, orchestrator, scheduled_event())
        items = emulator.client("dynamodb", DR).get_item(TableName=stack.env["STATE_TABLE"], Key={"pk": {"S": "probes"}}, ConsistentRead=True)
        return json.loads(items["Item"]["body"]["S"])[-1]

    first = probed()
    assert first["healthy"] is True and "answered HTTP 200" in first["detail"], first
    emulator.control("POST", f"/endpoints/{dns}", {"healthy": False}, expect=200)
    clock.advance(60)
    brownout = probed()
    assert brownout["healthy"] is False and "answered HTTP 503" in brownout["detail"], brownout
    emulator.control("POST", f"/endpoints/{dns}", {"healthy": None}, expect=200)
    emulator.outage(PRIMARY)
    clock.advance(60)
    down = probed()
    assert down["healthy"] is False and "did not answer" in down["detail"], down
