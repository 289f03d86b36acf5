"""AWS Backup: backup selections, UpdateBackupPlan, deleted plans; backup and copy jobs, recovery
points and the vaults that hold them; the KMS key deletion window."""

import json
import os
import subprocess
import tempfile

import pytest
from botocore.exceptions import ClientError

from conftest import ROOT, Emulator, error_code, free_port

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def propagated(emulator):
    """Moves the modeled clock past IAM's propagation window (emulator_ext/iam_propagation.py)."""
    seconds = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["seconds"]
    emulator.control("POST", "/_drpair/clock", {"advance": seconds + 1}, expect=200)


@pytest.fixture
def plan(emulator, unique):
    """A vault and a plan in us-east-2 and a Backup role IAM has propagated."""
    backup, iam = emulator.client("backup", "us-east-2"), emulator.client("iam")
    role = iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=unique, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")
    propagated(emulator)
    backup.create_backup_vault(BackupVaultName=unique)
    created = backup.create_backup_plan(BackupPlan={"BackupPlanName": unique, "Rules": [{"RuleName": "daily", "TargetBackupVaultName": unique}]})
    return {"backup": backup, "role": role, "id": created["BackupPlanId"], "version": created["VersionId"], "name": unique}


def code_of(call, **params):
    with pytest.raises(ClientError) as raised:
        call(**params)
    return error_code(raised)


def test_selection_lifecycle(plan):
    backup, plan_id = plan["backup"], plan["id"]
    selection = {
        "SelectionName": "tables",
        "IamRoleArn": plan["role"],
        "Resources": ["arn:aws:dynamodb:us-east-2:123456789012:table/*"],
        "ListOfTags": [{"ConditionType": "STRINGEQUALS", "ConditionKey": "drpair", "ConditionValue": "true"}],
    }
    created = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=selection, CreatorRequestId="req-1")
    assert created["BackupPlanId"] == plan_id and created["SelectionId"] and created["CreationDate"]

    got = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert got["BackupSelection"] == selection and got["CreatorRequestId"] == "req-1"

    backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={"SelectionName": "clusters", "IamRoleArn": plan["role"]})
    listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert [s["SelectionName"] for s in listed] == ["tables", "clusters"]
    assert listed[0]["IamRoleArn"] == plan["role"]
    page = backup.list_backup_selections(BackupPlanId=plan_id, MaxResults=1)
    assert len(page["BackupSelectionsList"]) == 1 and page["NextToken"]
    rest = backup.list_backup_selections(BackupPlanId=plan_id, NextToken=page["NextToken"])
    assert [s["SelectionName"] for s in rest["BackupSelectionsList"]] == ["clusters"]

    # A plan with selections cannot be deleted.
    assert code_of(backup.delete_backup_plan, BackupPlanId=plan_id) == "InvalidRequestException"
    for entry in listed:
        backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=entry["SelectionId"])
    assert code_of(backup.get_backup_selection, BackupPlanId=plan_id, SelectionId=created["SelectionId"]) == "ResourceNotFoundException"
    assert code_of(backup.delete_backup_selection, BackupPlanId=plan_id, SelectionId=created["SelectionId"]) == "ResourceNotFoundException"
    backup.delete_backup_plan(BackupPlanId=plan_id)


def test_selection_errors(plan):
    backup, plan_id, role = plan["backup"], plan["id"], plan["role"]
    backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection={"SelectionName": "s", "IamRoleArn": role})
    assert code_of(backup.create_backup_selection, BackupPlanId=plan_id, BackupSelection={"SelectionName": "s", "IamRoleArn": role}) == "AlreadyExistsException"
    assert code_of(backup.create_backup_selection, BackupPlanId=plan_id, BackupSelection={"SelectionName": "bad name!", "IamRoleArn": role}) == "InvalidParameterValueException"
    missing_role = role.replace(plan["name"], "no-such-role")
    assert code_of(backup.create_backup_selection, BackupPlanId=plan_id, BackupSelection={"SelectionName": "t", "IamRoleArn": missing_role}) == "InvalidParameterValueException"
    assert code_of(backup.create_backup_selection, BackupPlanId="no-such-plan", BackupSelection={"SelectionName": "t", "IamRoleArn": role}) == "InvalidParameterValueException"
    assert code_of(backup.list_backup_selections, BackupPlanId="no-such-plan") == "ResourceNotFoundException"
    assert code_of(backup.get_backup_selection, BackupPlanId=plan_id, SelectionId="no-such-selection") == "ResourceNotFoundException"


def test_a_selection_waits_for_its_role_to_propagate(emulator, plan):
    """AWS Backup refuses a role IAM has not propagated yet with the answer terraform-provider-aws
    retries (recorded as a refusal), and accepts it once propagated."""
    backup, plan_id = plan["backup"], plan["id"]
    name = f"{plan['name']}-fresh"
    fresh = emulator.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    emulator.control("DELETE", "/_drpair/iam-propagation/refusals", expect=200)
    selection = {"SelectionName": "fresh", "IamRoleArn": fresh}
    with pytest.raises(ClientError) as refused:
        backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=selection)
    assert error_code(refused) == "InvalidParameterValueException"
    assert refused.value.response["Error"]["Message"] == f"IAM Role {fresh} cannot be assumed by AWS Backup"
    refusals = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["refusals"]
    assert [(r["service"], r["operation"], r["ref"]) for r in refusals] == [("backup", "CreateBackupSelection", fresh)]
    propagated(emulator)
    created = backup.create_backup_selection(BackupPlanId=plan_id, BackupSelection=selection)
    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])


def test_update_plan_and_versions(plan):
    backup, plan_id = plan["backup"], plan["id"]
    document = {"BackupPlanName": plan["name"], "Rules": [{"RuleName": "hourly", "TargetBackupVaultName": plan["name"], "ScheduleExpression": "cron(0 * ? * * *)"}]}
    updated = backup.update_backup_plan(BackupPlanId=plan_id, BackupPlan=document)
    assert updated["BackupPlanId"] == plan_id and updated["VersionId"] != plan["version"]
    current = backup.get_backup_plan(BackupPlanId=plan_id)
    assert current["VersionId"] == updated["VersionId"]
    assert [r["RuleName"] for r in current["BackupPlan"]["Rules"]] == ["hourly"]
    assert current["BackupPlan"]["Rules"][0]["StartWindowMinutes"] == 480
    old = backup.get_backup_plan(BackupPlanId=plan_id, VersionId=plan["version"])
    assert [r["RuleName"] for r in old["BackupPlan"]["Rules"]] == ["daily"]
    assert code_of(backup.update_backup_plan, BackupPlanId="no-such-plan", BackupPlan=document) == "ResourceNotFoundException"


def test_deleted_plan_is_not_found(plan):
    backup, plan_id = plan["backup"], plan["id"]
    deleted = backup.delete_backup_plan(BackupPlanId=plan_id)
    assert deleted["DeletionDate"]
    assert code_of(backup.get_backup_plan, BackupPlanId=plan_id) == "ResourceNotFoundException"
    assert code_of(backup.delete_backup_plan, BackupPlanId=plan_id) == "ResourceNotFoundException"
    assert code_of(backup.update_backup_plan, BackupPlanId=plan_id, BackupPlan={"BackupPlanName": "x", "Rules": []}) == "ResourceNotFoundException"
    assert code_of(backup.list_backup_selections, BackupPlanId=plan_id) == "ResourceNotFoundException"
    live = [p["BackupPlanId"] for p in backup.list_backup_plans()["BackupPlansList"]]
    everything = [p["BackupPlanId"] for p in backup.list_backup_plans(IncludeDeleted=True)["BackupPlansList"]]
    assert plan_id not in live and plan_id in everything
    # The deleted plan's name may be used again; an identical live plan may not.
    again = {"BackupPlanName": plan["name"], "Rules": [{"RuleName": "daily", "TargetBackupVaultName": plan["name"]}]}
    backup.create_backup_plan(BackupPlan=again)
    assert code_of(backup.create_backup_plan, BackupPlan=again) == "AlreadyExistsException"


# ---- Backup jobs, recovery points and the keys they need (backup_recovery_points.py) ----

DAY = 86400


@pytest.fixture
def stack(emulator, unique):
    """An encrypted Aurora cluster in us-east-1, a vault in each region with its own key, a role."""
    iam = emulator.client("iam")
    role = iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    out = {"role": role, "name": unique}
    for region in ("us-east-1", "us-east-2"):
        kms, backup = emulator.client("kms", region), emulator.client("backup", region)
        key = kms.create_key(Description=f"{unique} vault")["KeyMetadata"]["Arn"]
        vault = backup.create_backup_vault(BackupVaultName=unique, EncryptionKeyArn=key)["BackupVaultArn"]
        out[region] = {"backup": backup, "kms": kms, "vault_key": key, "vault": vault}
    rds = emulator.client("rds", "us-east-1")
    cluster_key = out["us-east-1"]["kms"].create_key(Description=f"{unique} cluster")["KeyMetadata"]["Arn"]
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=unique,
        Engine="aurora-postgresql",
        EngineVersion="14.9",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-password-1",
        StorageEncrypted=True,
        KmsKeyId=cluster_key,
    )["DBCluster"]
    out.update(cluster_arn=cluster["DBClusterArn"], cluster_key=cluster_key)
    return out


def test_backup_job_recovery_point_carries_the_cluster_key(stack):
    east = stack["us-east-1"]
    backup, name = east["backup"], stack["name"]
    job = backup.start_backup_job(
        BackupVaultName=name, ResourceArn=stack["cluster_arn"], IamRoleArn=stack["role"], Lifecycle={"DeleteAfterDays": 35}
    )
    described = backup.describe_backup_job(BackupJobId=job["BackupJobId"])
    assert described["State"] == "COMPLETED" and described["RecoveryPointArn"] == job["RecoveryPointArn"]
    assert described["ResourceType"] == "Aurora"
    # Aurora is not fully managed by AWS Backup: the backup keeps the cluster's key, not the vault's.
    point = backup.describe_recovery_point(BackupVaultName=name, RecoveryPointArn=job["RecoveryPointArn"])
    assert point["EncryptionKeyArn"] == stack["cluster_key"] != east["vault_key"]
    assert point["IsEncrypted"] is True and point["Status"] == "COMPLETED"
    assert point["ResourceArn"] == stack["cluster_arn"]
    assert ":cluster-snapshot:awsbackup:job-" in point["RecoveryPointArn"]
    assert point["CalculatedLifecycle"]["DeleteAt"] > point["CreationDate"]
    assert backup.describe_backup_vault(BackupVaultName=name)["NumberOfRecoveryPoints"] == 1

    listed = backup.list_recovery_points_by_backup_vault(BackupVaultName=name)["RecoveryPoints"]
    assert [p["RecoveryPointArn"] for p in listed] == [job["RecoveryPointArn"]]
    assert listed[0]["EncryptionKeyArn"] == stack["cluster_key"]
    assert backup.list_recovery_points_by_backup_vault(BackupVaultName=name, ByResourceType="DynamoDB")["RecoveryPoints"] == []
    by_resource = backup.list_recovery_points_by_resource(ResourceArn=stack["cluster_arn"])["RecoveryPoints"]
    assert [(p["RecoveryPointArn"], p["EncryptionKeyArn"], p["BackupVaultName"]) for p in by_resource] == [
        (job["RecoveryPointArn"], stack["cluster_key"], name)
    ]
    # "Amazon RDS requires a value of at least 20."
    assert code_of(backup.list_recovery_points_by_resource, ResourceArn=stack["cluster_arn"], MaxResults=10) == "InvalidParameterValueException"
    assert backup.list_recovery_points_by_resource(ResourceArn=stack["cluster_arn"], MaxResults=20)["RecoveryPoints"]
    # The same idempotency token and input: the same job.
    again = dict(BackupVaultName=name, ResourceArn=stack["cluster_arn"], IamRoleArn=stack["role"], IdempotencyToken="tok")
    assert backup.start_backup_job(**again)["BackupJobId"] == backup.start_backup_job(**again)["BackupJobId"]
    jobs = backup.list_backup_jobs(ByResourceArn=stack["cluster_arn"])["BackupJobs"]
    assert len(jobs) == 2


def test_copy_is_encrypted_with_the_destination_vault_key(stack):
    east, west = stack["us-east-1"], stack["us-east-2"]
    name = stack["name"]
    job = east["backup"].start_backup_job(BackupVaultName=name, ResourceArn=stack["cluster_arn"], IamRoleArn=stack["role"])
    copy = east["backup"].start_copy_job(
        RecoveryPointArn=job["RecoveryPointArn"],
        SourceBackupVaultName=name,
        DestinationBackupVaultArn=west["vault"],
        IamRoleArn=stack["role"],
        Lifecycle={"DeleteAfterDays": 7},
    )
    described = east["backup"].describe_copy_job(CopyJobId=copy["CopyJobId"])["CopyJob"]
    assert described["State"] == "COMPLETED" and described["DestinationBackupVaultArn"] == west["vault"]
    copies = west["backup"].list_recovery_points_by_backup_vault(BackupVaultName=name)["RecoveryPoints"]
    assert len(copies) == 1
    assert copies[0]["RecoveryPointArn"] == described["DestinationRecoveryPointArn"]
    assert ":rds:us-east-2:" in copies[0]["RecoveryPointArn"]
    assert copies[0]["EncryptionKeyArn"] == west["vault_key"]
    assert copies[0]["SourceBackupVaultArn"] == east["vault"]
    assert copies[0]["ResourceArn"] == stack["cluster_arn"]
    assert west["backup"].describe_backup_vault(BackupVaultName=name)["NumberOfRecoveryPoints"] == 1


def test_backup_job_errors(stack):
    backup, name = stack["us-east-1"]["backup"], stack["name"]
    arn, role = stack["cluster_arn"], stack["role"]
    assert code_of(backup.start_backup_job, BackupVaultName="no-such-vault", ResourceArn=arn, IamRoleArn=role) == "ResourceNotFoundException"
    assert code_of(backup.start_backup_job, BackupVaultName=name, ResourceArn=arn, IamRoleArn=role.replace(name, "no-such-role")) == "InvalidParameterValueException"
    assert code_of(backup.start_backup_job, BackupVaultName=name, ResourceArn=arn.replace(name, "no-such-cluster"), IamRoleArn=role) == "ResourceNotFoundException"
    other_region = arn.replace("us-east-1", "us-east-2")
    assert code_of(backup.start_backup_job, BackupVaultName=name, ResourceArn=other_region, IamRoleArn=role) == "InvalidParameterValueException"
    assert code_of(backup.describe_backup_job, BackupJobId="no-such-job") == "ResourceNotFoundException"
    assert code_of(backup.list_recovery_points_by_backup_vault, BackupVaultName="no-such-vault") == "ResourceNotFoundException"
    assert code_of(backup.describe_recovery_point, BackupVaultName=name, RecoveryPointArn="arn:aws:rds:us-east-1:123456789012:cluster-snapshot:x") == "ResourceNotFoundException"


def test_a_vault_with_recovery_points_cannot_be_deleted(stack):
    backup, name = stack["us-east-1"]["backup"], stack["name"]
    job = backup.start_backup_job(BackupVaultName=name, ResourceArn=stack["cluster_arn"], IamRoleArn=stack["role"])
    with pytest.raises(ClientError) as raised:
        backup.delete_backup_vault(BackupVaultName=name)
    assert error_code(raised) == "InvalidRequestException"
    assert "contains 1 recovery points" in str(raised.value)
    assert backup.describe_backup_vault(BackupVaultName=name)["BackupVaultName"] == name

    backup.delete_recovery_point(BackupVaultName=name, RecoveryPointArn=job["RecoveryPointArn"])
    assert code_of(backup.describe_recovery_point, BackupVaultName=name, RecoveryPointArn=job["RecoveryPointArn"]) == "ResourceNotFoundException"
    assert backup.describe_backup_vault(BackupVaultName=name)["NumberOfRecoveryPoints"] == 0
    backup.delete_backup_vault(BackupVaultName=name)
    assert code_of(backup.describe_backup_vault, BackupVaultName=name) == "ResourceNotFoundException"


def test_deleting_a_recovery_point_takes_time_with_aws_timing(emulator, stack):
    backup, name = stack["us-east-1"]["backup"], stack["name"]
    job = backup.start_backup_job(BackupVaultName=name, ResourceArn=stack["cluster_arn"], IamRoleArn=stack["role"])
    emulator.control("POST", "/_drpair/clock", {"speed": 0.01, "timing": "aws"}, expect=200)
    backup.delete_recovery_point(BackupVaultName=name, RecoveryPointArn=job["RecoveryPointArn"])
    point = backup.describe_recovery_point(BackupVaultName=name, RecoveryPointArn=job["RecoveryPointArn"])
    assert point["Status"] == "DELETING"
    assert code_of(backup.delete_backup_vault, BackupVaultName=name) == "InvalidRequestException"
    emulator.control("POST", "/_drpair/clock", {"advance": 61}, expect=200)
    assert backup.describe_backup_vault(BackupVaultName=name)["NumberOfRecoveryPoints"] == 0


@pytest.fixture
def own_emulator():
    """An emulator of this test's own: advancing the modeled clock by days runs every timer of
    every object the session's other tests made."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="drpair-emulator-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [os.path.join(ROOT, "scripts", "emulator"), "--port", str(port), "--exit-on-stdin-eof", "--quiet"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=ROOT,
    )
    line = process.stdout.readline().decode()
    if "emulator listening on" not in line:
        process.kill()
        pytest.fail(f"the emulator did not start: {line!r}")
    yield Emulator(process, port, log.name)
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


def test_key_deletion_window(own_emulator, unique):
    emulator = own_emulator
    kms = emulator.client("kms", "us-east-2")
    key = kms.create_key(Description=unique)["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/{unique}", TargetKeyId=key["KeyId"])
    for window in (6, 31):
        assert code_of(kms.schedule_key_deletion, KeyId=key["KeyId"], PendingWindowInDays=window) == "ValidationException"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"

    now = emulator.control("GET", "/_drpair/clock")[1]["epoch"]
    scheduled = kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=30)
    assert scheduled["KeyId"] == key["Arn"]
    assert scheduled["KeyState"] == "PendingDeletion" and scheduled["PendingWindowInDays"] == 30
    assert abs(scheduled["DeletionDate"].timestamp() - (now + 30 * DAY)) < 60
    described = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"
    assert abs(described["DeletionDate"].timestamp() - (now + 30 * DAY)) < 60
    assert code_of(kms.schedule_key_deletion, KeyId=key["KeyId"], PendingWindowInDays=30) == "KMSInvalidStateException"

    # Cancelled, the key stays (Disabled); scheduled again for the shortest window, it is gone
    # with its alias once the modeled clock passes the deletion date.
    kms.cancel_key_deletion(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    emulator.control("POST", "/_drpair/clock", {"advance": 7 * DAY + 60}, expect=200)
    assert code_of(kms.describe_key, KeyId=key["KeyId"]) == "NotFoundException"
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert f"alias/{unique}" not in aliases
