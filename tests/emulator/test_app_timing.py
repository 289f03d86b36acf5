"""Auto Scaling instances that boot (Pending, then InService) and load balancer targets that pass
their health checks (initial, then healthy) on the modeled clock."""

import itertools

import pytest

AMI = "ami-0d27e0fb3bac4d724"  # the us-east-1 AL2023 image moto ships
BOOT_SECONDS = 60
_cidr = itertools.count(70)


@pytest.fixture
def tier(emulator, unique):
    """A VPC with an internet-facing ALB; target group (interval 10 s, threshold 3) with no
    listener yet."""
    ec2, elb = emulator.client("ec2"), emulator.client("elbv2")
    octet = next(_cidr)
    vpc = ec2.create_vpc(CidrBlock=f"10.{octet}.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{octet}.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    lb = elb.create_load_balancer(Name=unique, Subnets=subnets, Scheme="internet-facing", Type="application")["LoadBalancers"][0]
    group = elb.create_target_group(
        Name=unique, Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckIntervalSeconds=10, HealthyThresholdCount=3, TargetType="instance"
    )["TargetGroups"][0]
    template = ec2.create_launch_template(LaunchTemplateName=unique, LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    return {
        "ec2": ec2,
        "elb": elb,
        "asg": emulator.client("autoscaling"),
        "lb": lb,
        "tg": group["TargetGroupArn"],
        "template": template,
        "subnets": subnets,
        "name": unique,
    }


def listen(tier):
    tier["elb"].create_listener(
        LoadBalancerArn=tier["lb"]["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tier["tg"]}]
    )


def create_group(tier, desired):
    tier["asg"].create_auto_scaling_group(
        AutoScalingGroupName=tier["name"],
        LaunchTemplate={"LaunchTemplateId": tier["template"], "Version": "$Latest"},
        MinSize=0,
        MaxSize=5,
        DesiredCapacity=desired,
        VPCZoneIdentifier=",".join(tier["subnets"]),
        TargetGroupARNs=[tier["tg"]],
    )


def lifecycle(tier):
    group = tier["asg"].describe_auto_scaling_groups(AutoScalingGroupNames=[tier["name"]])["AutoScalingGroups"][0]
    return {i["InstanceId"]: i["LifecycleState"] for i in group["Instances"]}


def health(tier):
    found = tier["elb"].describe_target_health(TargetGroupArn=tier["tg"])["TargetHealthDescriptions"]
    return {t["Target"]["Id"]: (t["TargetHealth"]["State"], t["TargetHealth"].get("Reason")) for t in found}


def aws_timing(emulator):
    emulator.control("POST", "/_drpair/clock", {"timing": "aws", "speed": 0.01}, expect=200)
    return emulator.control("GET", "/_drpair/clock")[1]["epoch"]


def advance(emulator, seconds):
    return emulator.control("POST", "/_drpair/clock", {"advance": seconds}, expect=200)[1]["epoch"]


def test_instances_boot_then_targets_pass_their_checks(emulator, tier):
    t0 = aws_timing(emulator)
    listen(tier)
    create_group(tier, 2)
    states = lifecycle(tier)
    assert list(states.values()) == ["Pending", "Pending"]
    described = tier["asg"].describe_auto_scaling_instances(InstanceIds=list(states))["AutoScalingInstances"]
    assert {i["LifecycleState"] for i in described} == {"Pending"}
    # Registered at launch, checked only once the instance is in service.
    assert set(health(tier).values()) == {("initial", "Elb.InitialHealthChecking")}

    advance(emulator, BOOT_SECONDS + 1)
    assert set(lifecycle(tier).values()) == {"InService"}
    assert set(health(tier).values()) == {("initial", "Elb.InitialHealthChecking")}
    advance(emulator, 10 * 3)
    assert set(health(tier).values()) == {("healthy", None)}

    found = emulator.control("GET", f"/_drpair/events?since={t0}")[1]["events"]
    in_service = [e for e in found if e["kind"] == "asg.instance.in_service" and e["group"] == tier["name"]]
    healthy = [e for e in found if e["kind"] == "elbv2.target.healthy" and e["target_group"] == tier["name"]]
    assert sorted(e["instance"] for e in in_service) == sorted(states)
    assert sorted(e["target"] for e in healthy) == sorted(states)
    assert all(e["epoch"] - t0 == pytest.approx(BOOT_SECONDS, abs=1) for e in in_service)
    assert all(e["epoch"] - t0 == pytest.approx(BOOT_SECONDS + 30, abs=1) for e in healthy)

    # Scale-out launches only what is missing; pending instances count toward the capacity.
    tier["asg"].set_desired_capacity(AutoScalingGroupName=tier["name"], DesiredCapacity=4)
    tier["asg"].set_desired_capacity(AutoScalingGroupName=tier["name"], DesiredCapacity=4)
    states = lifecycle(tier)
    assert sorted(states.values()) == ["InService", "InService", "Pending", "Pending"]
    assert sorted(s for s, _ in health(tier).values()) == ["healthy", "healthy", "initial", "initial"]
    # Scale-in: the instances that left are no longer targets.
    tier["asg"].set_desired_capacity(AutoScalingGroupName=tier["name"], DesiredCapacity=1)
    remaining = lifecycle(tier)
    assert len(remaining) == 1 and set(health(tier)) == set(remaining)


def test_a_target_group_no_load_balancer_uses(emulator, tier):
    aws_timing(emulator)
    create_group(tier, 1)
    advance(emulator, BOOT_SECONDS + 60)
    assert list(health(tier).values()) == [("unused", "Target.NotInUse")]
    # Health checks start when a listener forwards to the group.
    listen(tier)
    assert list(health(tier).values()) == [("initial", "Elb.InitialHealthChecking")]
    advance(emulator, 31)
    assert list(health(tier).values()) == [("healthy", None)]


def test_instant_timing_is_immediate(emulator, tier):
    listen(tier)
    create_group(tier, 2)
    assert set(lifecycle(tier).values()) == {"InService"}
    assert set(health(tier).values()) == {("healthy", None)}


def test_a_replacement_instance_boots_and_registers(emulator, tier):
    listen(tier)
    create_group(tier, 1)
    (first,) = lifecycle(tier)
    aws_timing(emulator)
    tier["ec2"].terminate_instances(InstanceIds=[first])
    states = lifecycle(tier)
    (replacement,) = states
    assert replacement != first and states[replacement] == "Pending"
    assert health(tier) == {replacement: ("initial", "Elb.InitialHealthChecking")}
    advance(emulator, BOOT_SECONDS + 31)
    assert lifecycle(tier) == {replacement: "InService"}
    assert health(tier) == {replacement: ("healthy", None)}
