"""AWS Backup vault access policies and Backup Vault Lock enforcement (emulator_ext/backup_vault_protection.py)."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import error_code
from test_backup import TRUST, stack  # noqa: F401  (fixture)

ACCOUNT = "123456789012"


def code_of(call, **params):
    with pytest.raises(ClientError) as raised:
        call(**params)
    return error_code(raised)


def deny_policy(vault_arn, admins, resource="*"):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyRecoveryPointDeletionExceptAdmins",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle", "backup:PutBackupVaultAccessPolicy", "backup:DeleteBackupVaultAccessPolicy"],
                    "Resource": resource,
                    "Condition": {"ArnNotLike": {"aws:PrincipalArn": admins}},
                }
            ],
        }
    )


def as_role(emulator, name, service="backup", region="us-east-1"):
    """A client signed with the credentials of a session of a new role `name`."""
    iam = emulator.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    creds = emulator.client("sts").assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"]
    client = boto3.client(
        service,
        region_name=region,
        endpoint_url=emulator.endpoint,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    return arn, client


def backed_up(stack):  # noqa: F811
    east = stack["us-east-1"]
    job = east["backup"].start_backup_job(
        BackupVaultName=stack["name"], ResourceArn=stack["cluster_arn"], IamRoleArn=stack["role"], Lifecycle={"DeleteAfterDays": 35}
    )
    return job["RecoveryPointArn"]


def test_access_policy_put_get_delete(stack):  # noqa: F811
    backup, name = stack["us-east-1"]["backup"], stack["name"]
    assert code_of(backup.get_backup_vault_access_policy, BackupVaultName=name) == "ResourceNotFoundException"
    assert code_of(backup.put_backup_vault_access_policy, BackupVaultName="nope", Policy="{}") == "ResourceNotFoundException"
    assert code_of(backup.put_backup_vault_access_policy, BackupVaultName=name, Policy="not json") == "InvalidParameterValueException"
    policy = deny_policy(stack["us-east-1"]["vault"], [f"arn:aws:iam::{ACCOUNT}:user/moto"])
    backup.put_backup_vault_access_policy(BackupVaultName=name, Policy=policy)
    got = backup.get_backup_vault_access_policy(BackupVaultName=name)
    assert json.loads(got["Policy"]) == json.loads(policy)
    assert got["BackupVaultArn"] == stack["us-east-1"]["vault"]
    backup.delete_backup_vault_access_policy(BackupVaultName=name)
    assert code_of(backup.get_backup_vault_access_policy, BackupVaultName=name) == "ResourceNotFoundException"


def test_the_policy_denies_deletion_to_everyone_but_the_admins(emulator, stack, unique):  # noqa: F811
    backup, name, vault = stack["us-east-1"]["backup"], stack["name"], stack["us-east-1"]["vault"]
    point = backed_up(stack)
    admin_arn, admin = as_role(emulator, f"{unique}-admin")
    _, operator = as_role(emulator, f"{unique}-ops")
    backup.put_backup_vault_access_policy(BackupVaultName=name, Policy=deny_policy(vault, [admin_arn, f"arn:aws:iam::{ACCOUNT}:root"]))
    # The default caller (moto's user) and another role's session are denied, with IAM's wording.
    for client in (backup, operator):
        with pytest.raises(ClientError) as raised:
            client.delete_recovery_point(BackupVaultName=name, RecoveryPointArn=point)
        assert error_code(raised) == "AccessDeniedException"
        assert "with an explicit deny in a resource-based policy" in str(raised.value)
        assert code_of(client.put_backup_vault_access_policy, BackupVaultName=name, Policy=deny_policy(vault, [])) == "AccessDeniedException"
        assert code_of(client.delete_backup_vault_access_policy, BackupVaultName=name) == "AccessDeniedException"
    assert backup.describe_recovery_point(BackupVaultName=name, RecoveryPointArn=point)["Status"] == "COMPLETED"
    # The administrator's session (aws:PrincipalArn is its role's ARN) may.
    admin.delete_recovery_point(BackupVaultName=name, RecoveryPointArn=point)
    admin.delete_backup_vault_access_policy(BackupVaultName=name)
    events = emulator.control("GET", "/_drpair/events?kind=backup.access.denied", expect=200)[1]
    assert any(e.get("vault") == name for e in (events if isinstance(events, list) else events.get("events", [])))


def test_a_deny_naming_only_the_vault_does_not_cover_its_recovery_points(stack):  # noqa: F811
    """DeleteRecoveryPoint is authorized on the recovery point's ARN (resource type
    recoveryPoint), PutBackupVaultAccessPolicy on the vault's: a statement whose Resource is the
    vault's ARN denies the second and not the first."""
    backup, name, vault = stack["us-east-1"]["backup"], stack["name"], stack["us-east-1"]["vault"]
    point = backed_up(stack)
    backup.put_backup_vault_access_policy(BackupVaultName=name, Policy=deny_policy(vault, [f"arn:aws:iam::{ACCOUNT}:root"], resource=vault))
    assert code_of(backup.put_backup_vault_access_policy, BackupVaultName=name, Policy=deny_policy(vault, [])) == "AccessDeniedException"
    backup.delete_recovery_point(BackupVaultName=name, RecoveryPointArn=point)


def test_a_locked_vault_refuses_to_delete_recovery_points(stack):  # noqa: F811
    backup, name = stack["us-east-1"]["backup"], stack["name"]
    point = backed_up(stack)
    backup.put_backup_vault_lock_configuration(BackupVaultName=name, MinRetentionDays=7, MaxRetentionDays=90)
    vault = backup.describe_backup_vault(BackupVaultName=name)
    assert vault["Locked"] is True and vault["MinRetentionDays"] == 7 and vault["MaxRetentionDays"] == 90
    assert "LockDate" not in vault, "governance mode has no lock date"
    assert code_of(backup.delete_recovery_point, BackupVaultName=name, RecoveryPointArn=point) == "InvalidRequestException"
    assert code_of(backup.delete_backup_vault, BackupVaultName=name) == "InvalidRequestException"
    # Governance: the lock can be removed, then the point deleted.
    backup.delete_backup_vault_lock_configuration(BackupVaultName=name)
    assert backup.describe_backup_vault(BackupVaultName=name)["Locked"] is False
    backup.delete_recovery_point(BackupVaultName=name, RecoveryPointArn=point)


def test_jobs_outside_the_lock_fail(stack):  # noqa: F811
    east, west = stack["us-east-1"], stack["us-east-2"]
    name = stack["name"]
    east["backup"].put_backup_vault_lock_configuration(BackupVaultName=name, MinRetentionDays=7, MaxRetentionDays=30)
    job = east["backup"].start_backup_job(BackupVaultName=name, ResourceArn=stack["cluster_arn"], IamRoleArn=stack["role"], Lifecycle={"DeleteAfterDays": 35})
    described = east["backup"].describe_backup_job(BackupJobId=job["BackupJobId"])
    assert described["State"] == "FAILED", described
    assert "maximum retention period of 30 days" in described["StatusMessage"]
    job = east["backup"].start_backup_job(BackupVaultName=name, ResourceArn=stack["cluster_arn"], IamRoleArn=stack["role"], Lifecycle={"DeleteAfterDays": 3})
    assert east["backup"].describe_backup_job(BackupJobId=job["BackupJobId"])["State"] == "FAILED"
    assert east["backup"].describe_backup_vault(BackupVaultName=name)["NumberOfRecoveryPoints"] == 0
    # A copy into a locked destination vault is held to that vault's lock.
    east["backup"].delete_backup_vault_lock_configuration(BackupVaultName=name)
    point = backed_up(stack)
    west["backup"].put_backup_vault_lock_configuration(BackupVaultName=name, MinRetentionDays=60)
    copy = east["backup"].start_copy_job(
        RecoveryPointArn=point, SourceBackupVaultName=name, DestinationBackupVaultArn=west["vault"], IamRoleArn=stack["role"], Lifecycle={"DeleteAfterDays": 35}
    )
    described = east["backup"].describe_copy_job(CopyJobId=copy["CopyJobId"])["CopyJob"]
    assert described["State"] == "FAILED" and "minimum retention period of 60 days" in described["StatusMessage"], described
    assert west["backup"].describe_backup_vault(BackupVaultName=name)["NumberOfRecoveryPoints"] == 0
    east["backup"].start_copy_job(
        RecoveryPointArn=point, SourceBackupVaultName=name, DestinationBackupVaultArn=west["vault"], IamRoleArn=stack["role"], Lifecycle={"DeleteAfterDays": 60}
    )
    assert west["backup"].describe_backup_vault(BackupVaultName=name)["NumberOfRecoveryPoints"] == 1


def test_a_compliance_lock_is_immutable_from_its_lock_date_on_the_modeled_clock(own_emulator, unique):
    emulator = own_emulator
    backup, name = emulator.client("backup", "us-east-2"), unique
    backup.create_backup_vault(BackupVaultName=name)
    assert code_of(backup.put_backup_vault_lock_configuration, BackupVaultName=name, MinRetentionDays=7, ChangeableForDays=2) == "InvalidParameterValueException"
    before = emulator.control("GET", "/_drpair/clock", expect=200)[1]["epoch"]
    backup.put_backup_vault_lock_configuration(BackupVaultName=name, MinRetentionDays=7, ChangeableForDays=3)
    lock_date = backup.describe_backup_vault(BackupVaultName=name)["LockDate"].timestamp()
    assert abs(lock_date - (before + 3 * 86400)) < 60
    # During the grace time it can be changed.
    backup.put_backup_vault_lock_configuration(BackupVaultName=name, MinRetentionDays=8)
    assert backup.describe_backup_vault(BackupVaultName=name)["LockDate"].timestamp() == lock_date, "the date stays"
    emulator.control("POST", "/_drpair/clock", {"advance": 3 * 86400 + 60}, expect=200)
    assert code_of(backup.put_backup_vault_lock_configuration, BackupVaultName=name, MinRetentionDays=1) == "InvalidRequestException"
    assert code_of(backup.delete_backup_vault_lock_configuration, BackupVaultName=name) == "InvalidRequestException"
    # An empty vault can still be deleted.
    backup.delete_backup_vault(BackupVaultName=name)
