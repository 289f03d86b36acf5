"""Application Load Balancer access logs (elbv2_access_logs.py): the bucket must be in the load
balancer's Region and its policy must let Elastic Load Balancing put objects under the prefix."""

import json

import pytest
from botocore.exceptions import ClientError

ELB_ACCOUNT = {"us-east-1": "127311923021", "us-east-2": "033677994240"}
ACCOUNT = "123456789012"


def _balancer(emulator, region, name):
    ec2 = emulator.client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]][:2]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"]
        for i, z in enumerate(zones)
    ]
    elb = emulator.client("elbv2", region)
    arn = elb.create_load_balancer(Name=name[:32], Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    return elb, arn


def _bucket(emulator, region, name, principal=None, prefix="logs"):
    s3 = emulator.client("s3", region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if principal is not None:
        path = f"{prefix}/" if prefix else ""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:PutObject",
                    "Resource": f"arn:aws:s3:::{name}/{path}AWSLogs/{ACCOUNT}/*",
                }
            ],
        }
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    return s3


def _enable(elb, arn, bucket, prefix="logs"):
    return elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[
            {"Key": "access_logs.s3.enabled", "Value": "true"},
            {"Key": "access_logs.s3.bucket", "Value": bucket},
            {"Key": "access_logs.s3.prefix", "Value": prefix},
        ],
    )


def _attributes(elb, arn):
    out = elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    return {a["Key"]: a["Value"] for a in out}


def _refused(excinfo, bucket):
    error = excinfo.value.response["Error"]
    assert error["Code"] == "InvalidConfigurationRequest"
    assert error["Message"] == f"Access Denied for bucket: {bucket}. Please check S3bucket permission"


def test_logging_is_off_by_default_and_listed(emulator, unique):
    elb, arn = _balancer(emulator, "us-east-1", unique)
    assert _attributes(elb, arn)["access_logs.s3.enabled"] == "false"


@pytest.mark.parametrize(
    "region,principal",
    [
        ("us-east-1", {"AWS": f"arn:aws:iam::{ELB_ACCOUNT['us-east-1']}:root"}),
        ("us-east-2", {"AWS": ELB_ACCOUNT["us-east-2"]}),
        ("us-east-2", {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}),
    ],
)
def test_a_bucket_whose_policy_lets_elb_write_is_accepted(emulator, unique, region, principal):
    elb, arn = _balancer(emulator, region, unique)
    s3 = _bucket(emulator, region, unique, principal)
    _enable(elb, arn, unique)
    attrs = _attributes(elb, arn)
    assert (attrs["access_logs.s3.enabled"], attrs["access_logs.s3.bucket"], attrs["access_logs.s3.prefix"]) == (
        "true",
        unique,
        "logs",
    )
    # ELB's test object, as AWS writes it.
    s3.head_object(Bucket=unique, Key=f"logs/AWSLogs/{ACCOUNT}/ELBAccessLogTestFile")
    # Turning logging off needs no check.
    elb.modify_load_balancer_attributes(
        LoadBalancerArn=arn, Attributes=[{"Key": "access_logs.s3.enabled", "Value": "false"}]
    )
    assert _attributes(elb, arn)["access_logs.s3.enabled"] == "false"


def test_a_bucket_without_a_policy_is_refused_and_nothing_changes(emulator, unique):
    elb, arn = _balancer(emulator, "us-east-1", unique)
    _bucket(emulator, "us-east-1", unique)
    with pytest.raises(ClientError) as refused:
        _enable(elb, arn, unique)
    _refused(refused, unique)
    assert _attributes(elb, arn)["access_logs.s3.enabled"] == "false"


def test_the_other_regions_elb_account_or_another_prefix_is_refused(emulator, unique):
    elb, arn = _balancer(emulator, "us-east-1", unique)
    _bucket(emulator, "us-east-1", unique, {"AWS": ELB_ACCOUNT["us-east-2"]})
    with pytest.raises(ClientError) as refused:
        _enable(elb, arn, unique)
    _refused(refused, unique)
    elb2, arn2 = _balancer(emulator, "us-east-1", unique[:28] + "-two")
    other = unique[:28] + "-pfx"
    _bucket(emulator, "us-east-1", other, {"AWS": ELB_ACCOUNT["us-east-1"]}, prefix="logs")
    with pytest.raises(ClientError) as refused:
        _enable(elb2, arn2, other, prefix="elsewhere")
    _refused(refused, other)


def test_a_bucket_in_another_region_or_missing_is_refused(emulator, unique):
    elb, arn = _balancer(emulator, "us-east-1", unique)
    _bucket(emulator, "us-east-2", unique, {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"})
    with pytest.raises(ClientError) as refused:
        _enable(elb, arn, unique)
    _refused(refused, unique)
    with pytest.raises(ClientError) as refused:
        _enable(elb, arn, unique + "-missing")
    _refused(refused, unique + "-missing")


def test_an_explicit_deny_wins(emulator, unique):
    elb, arn = _balancer(emulator, "us-east-1", unique)
    s3 = _bucket(emulator, "us-east-1", unique)
    resource = f"arn:aws:s3:::{unique}/logs/AWSLogs/{ACCOUNT}/*"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}, "Action": "s3:PutObject", "Resource": resource},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": resource},
        ],
    }
    s3.put_bucket_policy(Bucket=unique, Policy=json.dumps(policy))
    with pytest.raises(ClientError) as refused:
        _enable(elb, arn, unique)
    _refused(refused, unique)
