"""Auto Scaling instance refreshes and launch template versions with user data."""

import base64

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

AMI = "ami-0d27e0fb3bac4d724"  # the us-east-1 AL2023 image moto ships


@pytest.fixture
def fleet(emulator, unique):
    ec2, asg = emulator.client("ec2"), emulator.client("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    user_data = base64.b64encode(b"#!/bin/sh\necho one\n").decode()
    template = ec2.create_launch_template(
        LaunchTemplateName=unique,
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.medium", "UserData": user_data},
    )["LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=unique,
        LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=2,
        MaxSize=3,
        DesiredCapacity=2,
        VPCZoneIdentifier=subnet,
    )
    return {"ec2": ec2, "asg": asg, "template": template, "name": unique}


def instance_types(fleet):
    group = fleet["asg"].describe_auto_scaling_groups(AutoScalingGroupNames=[fleet["name"]])["AutoScalingGroups"][0]
    return sorted(i["InstanceType"] for i in group["Instances"])


def new_version(fleet, instance_type):
    """A version with user data (which moto alone would store unparsed) used by the group."""
    data = {"ImageId": AMI, "InstanceType": instance_type, "UserData": base64.b64encode(b"#!/bin/sh\necho two\n").decode()}
    version = fleet["ec2"].create_launch_template_version(LaunchTemplateId=fleet["template"], LaunchTemplateData=data)
    number = version["LaunchTemplateVersion"]["VersionNumber"]
    fleet["asg"].update_auto_scaling_group(
        AutoScalingGroupName=fleet["name"],
        LaunchTemplate={"LaunchTemplateId": fleet["template"], "Version": str(number)},
    )
    return number


def test_a_refresh_replaces_every_instance_with_the_new_version(fleet):
    assert instance_types(fleet) == ["t3.medium", "t3.medium"]
    new_version(fleet, "t3.large")
    refresh = fleet["asg"].start_instance_refresh(
        AutoScalingGroupName=fleet["name"], Strategy="Rolling", Preferences={"MinHealthyPercentage": 90}
    )["InstanceRefreshId"]
    assert instance_types(fleet) == ["t3.large", "t3.large"]
    listed = fleet["asg"].describe_instance_refreshes(AutoScalingGroupName=fleet["name"])["InstanceRefreshes"]
    assert [(r["InstanceRefreshId"], r["Status"], r["PercentageComplete"]) for r in listed] == [(refresh, "Successful", 100)]
    assert listed[0]["Preferences"]["MinHealthyPercentage"] == 90


def test_an_active_refresh_blocks_another_until_cancelled(emulator, fleet):
    fleet["asg"].start_instance_refresh(AutoScalingGroupName=fleet["name"])
    path = f"/_drpair/instance-refreshes/us-east-1/{fleet['name']}"
    emulator.control("POST", path, {"status": "InProgress"}, expect=200)
    with pytest.raises(ClientError) as raised:
        fleet["asg"].start_instance_refresh(AutoScalingGroupName=fleet["name"])
    assert error_code(raised) == "InstanceRefreshInProgress"
    cancelled = fleet["asg"].cancel_instance_refresh(AutoScalingGroupName=fleet["name"])["InstanceRefreshId"]
    assert emulator.control("GET", path, expect=200)[1]["InstanceRefreshes"][0]["InstanceRefreshId"] == cancelled
    with pytest.raises(ClientError) as raised:
        fleet["asg"].cancel_instance_refresh(AutoScalingGroupName=fleet["name"])
    assert error_code(raised) == "ActiveInstanceRefreshNotFound"
    assert fleet["asg"].start_instance_refresh(AutoScalingGroupName=fleet["name"])["InstanceRefreshId"]


def test_errors_and_controls(emulator, fleet):
    asg = fleet["asg"]
    for call in (asg.start_instance_refresh, asg.cancel_instance_refresh, asg.describe_instance_refreshes):
        with pytest.raises(ClientError) as raised:
            call(AutoScalingGroupName="no-such-group")
        assert error_code(raised) == "ValidationError"
    path = f"/_drpair/instance-refreshes/us-east-1/{fleet['name']}"
    assert emulator.control("POST", path, {"status": "InProgress"})[0] == 404  # none yet
    assert emulator.control("POST", path, {"status": "Bogus"})[0] == 400
    assert emulator.control("GET", "/_drpair/instance-refreshes/us-east-1/no-such-group")[0] == 404


def test_a_version_with_user_data_serves_the_group(fleet):
    number = new_version(fleet, "t3.small")
    fleet["asg"].set_desired_capacity(AutoScalingGroupName=fleet["name"], DesiredCapacity=3)
    assert "t3.small" in instance_types(fleet)
    version = fleet["ec2"].describe_launch_template_versions(LaunchTemplateId=fleet["template"], Versions=[str(number)])
    data = version["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert base64.b64decode(data["UserData"]) == b"#!/bin/sh\necho two\n"
