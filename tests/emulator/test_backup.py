"""AWS Backup: backup selections, UpdateBackupPlan, deleted plans."""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_code

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture
def plan(emulator, unique):
    backup, iam = emulator.client("backup", "us-east-2"), emulator.client("iam")
    role = iam.create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    iam.attach_role_policy(RoleName=unique, PolicyArn="arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup")
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
