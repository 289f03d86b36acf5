"""AWS Backup: backup selections and plan updates, added to moto's Backup backend.

- CreateBackupSelection (``PUT /backup/plans/{id}/selections/``): SelectionName (1-50 of
  ``[A-Za-z0-9-_.]``) and IamRoleArn are required (``MissingParameterValueException``); the role
  must exist and IAM must have propagated its creation and trust policy (``iam_propagation.py``),
  else ``InvalidParameterValueException`` "IAM Role <arn> cannot be assumed by AWS Backup" (the
  answer terraform-provider-aws retries for a just-created role,
  internal/service/backup/selection.go); an
  unknown or deleted plan is ``InvalidParameterValueException``; a name already used in the plan is
  ``AlreadyExistsException``. Returns SelectionId, BackupPlanId, CreationDate.
- GetBackupSelection / ListBackupSelections (paginated: maxResults, nextToken) /
  DeleteBackupSelection: an unknown plan or selection is ``ResourceNotFoundException``.
- UpdateBackupPlan (``POST /backup/plans/{id}``): replaces the plan document (rules get AWS's
  defaults and new RuleIds) under a new VersionId; GetBackupPlan with an older VersionId still
  returns that version.
- DeleteBackupPlan with selections left is ``InvalidRequestException`` ("Related backup plan
  selections must be deleted prior to backup plan deletion."); a deleted plan is not found by
  GetBackupPlan, UpdateBackupPlan, DeleteBackupPlan or the selection operations
  (``ResourceNotFoundException``); ListBackupPlans shows it only with includeDeleted.
- CreateBackupPlan only refuses (``AlreadyExistsException``) a plan identical to a live one; a
  deleted plan's name can be used again.
"""

import copy
import json
import re
from urllib.parse import parse_qs, urlparse

from moto.core.exceptions import JsonRESTError

from . import iam_propagation

SELECTION_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,50}$")
SELECTIONS_PATH = re.compile(r"/backup/plans/(?P<plan>[^/]+)/selections/?(?P<selection>[^/]*)$")
NOT_FOUND = "Failed reading Backup plan with provided version"
JSON = {"Content-Type": "application/json"}


class MissingParameterValueException(JsonRESTError):
    def __init__(self, message):
        super().__init__("MissingParameterValueException", message)


def _exceptions():
    from moto.backup import exceptions

    return exceptions


def selections(backend, plan_id):
    return backend.__dict__.setdefault("selections", {}).setdefault(plan_id, {})


def live_plan(backend, plan_id, error="ResourceNotFoundException"):
    plan = backend.plans.get(plan_id)
    if plan is None or plan.deletion_date is not None:
        if error == "InvalidParameterValueException":
            raise _exceptions().InvalidParameterValueException(f"Invalid backup plan id {plan_id}: it does not exist.")
        raise _exceptions().ResourceNotFoundException(msg=NOT_FOUND)
    return plan


def _fingerprint(document):
    rules = sorted(
        (r.get("RuleName"), r.get("TargetBackupVaultName"), r.get("ScheduleExpression") or "cron(0 5 ? * * *)")
        for r in document.get("Rules", [])
    )
    return json.dumps([document.get("BackupPlanName"), rules, document.get("AdvancedBackupSettings")], default=str)


def _patch_backend():
    from moto.backup.models import BackupBackend, Plan

    original_get = BackupBackend.get_backup_plan

    def create_backup_plan(self, backup_plan, backup_plan_tags, creator_request_id):
        wanted = _fingerprint(backup_plan)
        if any(p.deletion_date is None and _fingerprint(p.backup_plan) == wanted for p in self.plans.values()):
            raise _exceptions().AlreadyExistsException(msg="Backup plan with the same plan document already exists")
        plan = Plan(backup_plan=backup_plan, creator_request_id=creator_request_id, backend=self)
        if backup_plan_tags:
            self.tag_resource(plan.backup_plan_arn, backup_plan_tags)
        self.plans[plan.backup_plan_id] = plan
        return plan

    def get_backup_plan(self, backup_plan_id, version_id):
        plan = live_plan(self, backup_plan_id)
        old = plan.__dict__.get("versions", {}).get(version_id) if version_id else None
        if old is not None and version_id != plan.version_id:
            snapshot = copy.copy(plan)
            snapshot.version_id, snapshot.backup_plan = version_id, old
            return snapshot
        return original_get(self, backup_plan_id, version_id)

    def delete_backup_plan(self, backup_plan_id):
        plan = live_plan(self, backup_plan_id)
        if selections(self, backup_plan_id):
            raise _exceptions().InvalidRequestException(
                msg="Related backup plan selections must be deleted prior to backup plan deletion."
            )
        from moto.core.utils import unix_time

        plan.deletion_date = unix_time()
        return plan.backup_plan_id, plan.backup_plan_arn, plan.deletion_date, plan.version_id

    def update_backup_plan(self, backup_plan_id, backup_plan):
        plan = live_plan(self, backup_plan_id)
        plan.__dict__.setdefault("versions", {})[plan.version_id] = copy.deepcopy(plan.backup_plan)
        fresh = Plan(backup_plan=backup_plan, creator_request_id=plan.creator_request_id, backend=self)
        plan.backup_plan = fresh.backup_plan
        plan.version_id = fresh.version_id
        plan.advanced_backup_settings = fresh.advanced_backup_settings
        return plan

    BackupBackend.create_backup_plan = create_backup_plan
    BackupBackend.get_backup_plan = get_backup_plan
    BackupBackend.delete_backup_plan = delete_backup_plan
    BackupBackend.update_backup_plan = update_backup_plan


def _role_exists(account_id, arn):
    from moto.iam.models import iam_backends

    try:
        iam_backends[account_id]["global"].get_role_by_arn(arn)
        return True
    except Exception:
        return False


def _patch_responses():
    from moto.backup.responses import BackupResponse
    from moto.core.utils import unix_time
    from moto.moto_api._internal import mock_random

    def ids(self):
        found = SELECTIONS_PATH.search(urlparse(self.path).path)
        return found.group("plan"), found.group("selection")

    def query(self, name):
        values = parse_qs(urlparse(self.path).query).get(name) or self.querystring.get(name) or [None]
        return values[0]

    def create_backup_selection(self):
        plan_id, _ = ids(self)
        backend = self.backup_backend
        live_plan(backend, plan_id, error="InvalidParameterValueException")
        params = json.loads(self.body or "{}")
        selection = params.get("BackupSelection") or {}
        for key in ("SelectionName", "IamRoleArn"):
            if not selection.get(key):
                raise MissingParameterValueException(f"Missing required parameter in BackupSelection: {key}")
        name = selection["SelectionName"]
        if not SELECTION_NAME.match(name):
            raise _exceptions().InvalidParameterValueException(f"Invalid selection name {name}")
        role_arn = selection["IamRoleArn"]
        propagating = iam_propagation.propagating(role_arn, account_id=self.current_account)
        if propagating:
            iam_propagation.refused("backup", "CreateBackupSelection", role_arn, self.region)
        if propagating or not _role_exists(self.current_account, role_arn):
            raise _exceptions().InvalidParameterValueException(
                f"IAM Role {selection['IamRoleArn']} cannot be assumed by AWS Backup"
            )
        existing = selections(backend, plan_id)
        if any(s["BackupSelection"]["SelectionName"] == name for s in existing.values()):
            raise _exceptions().AlreadyExistsException(msg=f"Backup selection with name {name} already exists")
        selection_id = str(mock_random.uuid4())
        record = {
            "BackupSelection": selection,
            "SelectionId": selection_id,
            "BackupPlanId": plan_id,
            "CreationDate": unix_time(),
            "CreatorRequestId": params.get("CreatorRequestId"),
        }
        existing[selection_id] = record
        return 200, JSON, json.dumps({k: record[k] for k in ("SelectionId", "BackupPlanId", "CreationDate")})

    def find(self):
        plan_id, selection_id = ids(self)
        live_plan(self.backup_backend, plan_id)
        record = selections(self.backup_backend, plan_id).get(selection_id)
        if record is None:
            raise _exceptions().ResourceNotFoundException(msg=f"Backup selection {selection_id} not found in plan {plan_id}")
        return plan_id, selection_id, record

    def get_backup_selection(self):
        _, _, record = find(self)
        return 200, JSON, json.dumps({k: v for k, v in record.items() if v is not None})

    def delete_backup_selection(self):
        plan_id, selection_id, _ = find(self)
        del selections(self.backup_backend, plan_id)[selection_id]
        return 200, JSON, ""

    def list_backup_selections(self):
        plan_id, _ = ids(self)
        live_plan(self.backup_backend, plan_id)
        records = sorted(selections(self.backup_backend, plan_id).values(), key=lambda r: r["CreationDate"])
        limit = int(query(self, "maxResults") or 1000)
        if not 1 <= limit <= 1000:
            raise _exceptions().InvalidParameterValueException("maxResults must be between 1 and 1000")
        token = query(self, "nextToken")
        start = 0
        if token:
            positions = [r["SelectionId"] for r in records]
            if token not in positions:
                raise _exceptions().InvalidParameterValueException("Invalid nextToken")
            start = positions.index(token)
        page = records[start : start + limit]
        entries = [
            {
                "SelectionId": r["SelectionId"],
                "SelectionName": r["BackupSelection"]["SelectionName"],
                "BackupPlanId": plan_id,
                "CreationDate": r["CreationDate"],
                "CreatorRequestId": r["CreatorRequestId"],
                "IamRoleArn": r["BackupSelection"]["IamRoleArn"],
            }
            for r in page
        ]
        result = {"BackupSelectionsList": [{k: v for k, v in e.items() if v is not None} for e in entries]}
        if start + limit < len(records):
            result["NextToken"] = records[start + limit]["SelectionId"]
        return 200, JSON, json.dumps(result)

    def update_backup_plan(self):
        plan_id = urlparse(self.path).path.rstrip("/").split("/")[-1]
        params = json.loads(self.body or "{}")
        if not params.get("BackupPlan"):
            raise MissingParameterValueException("Missing required parameter: BackupPlan")
        plan = self.backup_backend.update_backup_plan(plan_id, params["BackupPlan"])
        return 200, JSON, json.dumps(plan.to_dict())

    for handler in (
        create_backup_selection,
        get_backup_selection,
        delete_backup_selection,
        list_backup_selections,
        update_backup_plan,
    ):
        setattr(BackupResponse, handler.__name__, handler)


def register(app):
    _patch_backend()
    _patch_responses()
    return app
