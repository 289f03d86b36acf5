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


def outage_before_confirmation(emulator, stack, client, orchestrator):
    """A healthy scheduled probe, us-east-1 down, a failed probe a minute later, and another
    minute: the next invocation confirms the outage and fails over. The FailoverGlobalCluster
    calls so far."""
    stack.replication.require()
    before = emulator.failovers()
    assert invoke(client, orchestrator, scheduled_event())["action"] == "none"
    stack.outage()
    stack.clock.advance(60)
    assert invoke(client, orchestrator, scheduled_event())["action"] == "none"
    stack.clock.advance(60)
    return before


def test_concurrent_invocations_fail_over_once(deployed, emulator):
    stack, client, orchestrator, _ = deployed
    before = outage_before_confirmation(emulator, stack, client, orchestrator)

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


# --- an invocation killed at each step (Lambda's timeout) --------------------------------------

STEPS = ["failover", "scale", "wait_writer", "wait_capacity", "notify"]
STEP_CALLS = {
    "failover": dict(service="rds", operation="FailoverGlobalCluster", region=DR),
    "scale": dict(service="autoscaling", operation="UpdateAutoScalingGroup", region=DR),
    "wait_writer": dict(service="rds", operation="DescribeDBClusters", region=DR),
    # The second DescribeAutoScalingGroups: the scale step's is the first.
    "wait_capacity": dict(service="autoscaling", operation="DescribeAutoScalingGroups", region=DR, nth=2),
    "notify": dict(service="sns", operation="Publish", region=DR),
}


def held(emulator, rule_id, thread, seconds=60):
    """Waits until the fault rule holds a call (the invocation is stuck in it)."""
    import time

    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        rules = emulator.control("GET", "/faults", expect=200)["faults"]
        if any(r["id"] == rule_id and r["held"] for r in rules):
            return
        assert thread.is_alive(), "the invocation ended before it reached the held call"
        time.sleep(0.02)
    raise AssertionError(f"{rule_id} held nothing within {seconds} s")


@pytest.mark.parametrize(
    "step,when",
    [(step, "before") for step in STEPS] + [("failover", "after"), ("scale", "after")],
)
def test_an_invocation_killed_at_each_step_is_resumed_by_the_next_and_fails_over_once(deployed, emulator, step, when):
    """The deployed orchestrator stuck in one call of a step until Lambda kills it at its timeout
    (`before`: the call never reached AWS; `after`: AWS carried it out and the answer was lost).
    Meanwhile another invocation leaves the failover to the stuck one; the first scheduled
    invocation after the kill's lease takes the lock over, resumes the step and completes the
    failover, with FailoverGlobalCluster carried out exactly once. (A notification whose answer is
    lost would be sent again: SNS standard topics deliver at least once, so `notify` is tried
    `before` only.)"""
    stack, client, orchestrator, _ = deployed
    before = outage_before_confirmation(emulator, stack, client, orchestrator)

    rule = emulator.fault(error="hold", when=when, **STEP_CALLS[step])
    stuck = {}

    def run():
        out = emulator.client("lambda", DR).invoke(FunctionName=orchestrator, Payload=json.dumps(scheduled_event()).encode())
        stuck["error"] = out.get("FunctionError")
        stuck["payload"] = json.loads(out["Payload"].read())

    thread = threading.Thread(target=run)
    thread.start()
    held(emulator, rule["id"], thread)
    # Another invocation meanwhile: the failover is the stuck one's (its lease stands).
    other = invoke(emulator.client("lambda", DR), orchestrator, alarm_event(stack.lag_alarm))
    assert other["action"] == "none" and "under way in another invocation" in other["reason"], other
    # Lambda's timeout (600 s) passes on the modeled clock: the emulator kills the worker.
    stack.clock.advance(600)
    thread.join(30)
    assert not thread.is_alive(), "the stuck invocation was not ended by its timeout"
    assert stuck["error"] == "Unhandled" and stuck["payload"]["errorType"] == "Sandbox.Timedout", stuck
    emulator.clear_faults()

    lock = stack.lock()
    assert lock["status"] == "in_progress", lock
    steps = {s["name"]: s for s in lock["body"]["steps"]}
    for name in STEPS[: STEPS.index(step)]:
        assert steps[name]["status"] == "done", (name, steps)
    assert steps[step]["status"] in ("running", "pending"), steps

    # The next scheduled invocation, a minute later: the killed one's lease is over.
    stack.clock.advance(60)
    resumed = invoke(client, orchestrator, scheduled_event())
    assert resumed["action"] == "failed_over", resumed
    assert all(s["status"] == "done" for s in resumed["timeline"]["steps"]), resumed["timeline"]["steps"]
    assert stack.writer() == DR and stack.asg() == (2, 4, 4)
    requested = emulator.failovers() - before
    if step == "failover" and when == "before":
        # The held request never reached AWS (it is counted, as every call is): the resumed
        # step requested the failover once more.
        assert requested == 2
    else:
        # Carried out once: by the killed invocation (`after`, or an earlier step) and never again.
        assert requested == 1
        if step == "failover":
            failover = next(s for s in resumed["timeline"]["steps"] if s["name"] == "failover")
            # The killed request went through: the resumed step finds it done, or under way.
            detail = failover.get("detail", "")
            assert "is already the writer" in detail or "not requested again" in detail, failover
    got = [json.loads(body)["what"] for _, body in stack.messages(DR)]
    assert got == ["failover"], got
    assert invoke(client, orchestrator, scheduled_event())["action"] == "none"
