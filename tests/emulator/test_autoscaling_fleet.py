"""Auto Scaling instance refreshes, launch template versions with user data, and launch templates
whose instance profile IAM has not propagated yet."""

import base64
import json

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


# --- instance profiles IAM has not propagated yet ------------------------------------------------

EC2_TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def profile(emulator, name):
    iam = emulator.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    return name


def propagated(emulator):
    seconds = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["seconds"]
    emulator.control("POST", "/_drpair/clock", {"advance": seconds + 1}, expect=200)


def invalid_profile(name):
    return (
        f"You must use a valid fully-formed launch template. Value ({name}) for parameter "
        "iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
    )


def test_a_group_waits_for_its_new_instance_profile(emulator, unique):
    ec2, asg = emulator.client("ec2"), emulator.client("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.61.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    emulator.control("DELETE", "/_drpair/iam-propagation/refusals", expect=200)
    name = profile(emulator, unique)
    template = ec2.create_launch_template(
        LaunchTemplateName=unique,
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.medium", "IamInstanceProfile": {"Name": name}},
    )["LaunchTemplate"]["LaunchTemplateId"]
    create = lambda: asg.create_auto_scaling_group(  # noqa: E731
        AutoScalingGroupName=unique, LaunchTemplate={"LaunchTemplateId": template, "Version": "1"},
        MinSize=1, MaxSize=2, DesiredCapacity=1, VPCZoneIdentifier=subnet,
    )
    with pytest.raises(ClientError) as raised:
        create()
    assert error_code(raised) == "ValidationError"
    assert raised.value.response["Error"]["Message"] == invalid_profile(name)
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[unique])["AutoScalingGroups"] == []
    refusals = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["refusals"]
    assert [(r["service"], r["operation"]) for r in refusals] == [("autoscaling", "CreateAutoScalingGroup")]
    propagated(emulator)
    create()

    # A new version with a profile made just now: the update waits for it too.
    fresh = profile(emulator, unique + "-2")
    version = ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.large", "IamInstanceProfile": {"Name": fresh}}
    )["LaunchTemplateVersion"]["VersionNumber"]
    update = lambda: asg.update_auto_scaling_group(  # noqa: E731
        AutoScalingGroupName=unique, LaunchTemplate={"LaunchTemplateId": template, "Version": str(version)}
    )
    with pytest.raises(ClientError) as raised:
        update()
    assert raised.value.response["Error"]["Message"] == invalid_profile(fresh)
    # Changes that do not hand over the template are not held up.
    asg.update_auto_scaling_group(AutoScalingGroupName=unique, MaxSize=3)
    propagated(emulator)
    update()


def test_a_template_with_a_missing_profile_is_refused(emulator, unique):
    ec2, asg = emulator.client("ec2"), emulator.client("autoscaling")
    vpc = ec2.create_vpc(CidrBlock="10.62.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.62.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    template = ec2.create_launch_template(
        LaunchTemplateName=unique,
        LaunchTemplateData={"ImageId": AMI, "InstanceType": "t3.medium", "IamInstanceProfile": {"Name": unique + "-none"}},
    )["LaunchTemplate"]["LaunchTemplateId"]
    with pytest.raises(ClientError) as raised:
        asg.create_auto_scaling_group(
            AutoScalingGroupName=unique, LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            MinSize=1, MaxSize=1, VPCZoneIdentifier=subnet,
        )
    assert raised.value.response["Error"]["Message"] == invalid_profile(unique + "-none")
