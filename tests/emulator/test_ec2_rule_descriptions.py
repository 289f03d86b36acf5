"""A security group rule is revoked without its description (emulator_ext/ec2_rule_descriptions.py)."""

import pytest
from botocore.exceptions import ClientError


def groups(emulator, unique):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    db = ec2.create_security_group(GroupName=f"{unique}-db", Description="db", VpcId=vpc)["GroupId"]
    app = ec2.create_security_group(GroupName=f"{unique}-app", Description="app", VpcId=vpc)["GroupId"]
    return ec2, db, app


def rules(ec2, group):
    return ec2.describe_security_groups(GroupIds=[group])["SecurityGroups"][0]["IpPermissions"]


@pytest.mark.parametrize("source", ["group", "cidr"])
def test_a_rule_with_a_description_is_revoked_without_it(emulator, unique, source):
    ec2, db, app = groups(emulator, unique)
    with_description = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432}
    without = dict(with_description)
    if source == "group":
        with_description["UserIdGroupPairs"] = [{"GroupId": app, "Description": "PostgreSQL"}]
        without["UserIdGroupPairs"] = [{"GroupId": app}]
    else:
        with_description["IpRanges"] = [{"CidrIp": "10.20.0.0/24", "Description": "PostgreSQL"}]
        without["IpRanges"] = [{"CidrIp": "10.20.0.0/24"}]
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[with_description])
    ec2.revoke_security_group_ingress(GroupId=db, IpPermissions=[without])
    assert rules(ec2, db) == []


def test_a_rule_that_is_not_there_is_still_not_found(emulator, unique):
    ec2, db, app = groups(emulator, unique)
    ec2.authorize_security_group_ingress(
        GroupId=db, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": app}]}]
    )
    with pytest.raises(ClientError) as err:
        ec2.revoke_security_group_ingress(
            GroupId=db, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5433, "ToPort": 5433, "UserIdGroupPairs": [{"GroupId": app}]}]
        )
    assert err.value.response["Error"]["Code"] == "InvalidPermission.NotFound"
    assert len(rules(ec2, db)) == 1
