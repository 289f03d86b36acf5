"""AWS Backup: vault access policies and what Backup Vault Lock enforces.

moto 5.2.5 stores a vault lock (PutBackupVaultLockConfiguration, DeleteBackupVaultLockConfiguration)
but enforces none of it, dates it on the real clock, and has no vault access policies. Here:

- **Vault access policies** ("Vault access policies",
  https://docs.aws.amazon.com/aws-backup/latest/devguide/create-a-vault-access-policy.html;
  API_PutBackupVaultAccessPolicy, API_GetBackupVaultAccessPolicy,
  API_DeleteBackupVaultAccessPolicy): ``PUT|GET|DELETE /backup-vaults/{name}/access-policy``.
  An unknown vault is ``ResourceNotFoundException``; GetBackupVaultAccessPolicy of a vault
  without a policy is ``ResourceNotFoundException`` (as terraform-provider-aws's
  ``aws_backup_vault_policy`` reads it); a policy that is not JSON is
  ``InvalidParameterValueException``. The policy is evaluated (``iam_policy.decide``, explicit
  ``Deny`` statements, conditions such as ``ArnNotLike`` on ``aws:PrincipalArn``) for the
  operations on the vault and its recovery points the emulator serves: DeleteRecoveryPoint,
  PutBackupVaultAccessPolicy and DeleteBackupVaultAccessPolicy (resource: the vault ARN,
  resource type ``backupVault``), DeleteRecoveryPoint (resource: the recovery point's ARN only,
  resource type ``recoveryPoint``: "Actions, resources, and condition keys for AWS Backup" in the
  Service Authorization Reference, and "AWS Backup resource ARNs" in "Access control" of the
  developer guide, which the vault-access-policy page points to for recovery points; a statement
  whose ``Resource`` names only the vault does not apply to a recovery point, so AWS's examples
  deny with ``"Resource": "*"``). A denied call answers
  ``AccessDeniedException`` (403) "User: {arn} is not authorized to perform: {action} on resource:
  {arn} with an explicit deny in a resource-based policy" (IAM's wording of an explicit deny).
  Only explicit denies are evaluated: identity policies of the caller are not (moto's callers
  may do anything).
- **The caller** is who signed the request (moto's access keys): an assumed role's session is
  its role's ARN (``aws:PrincipalArn``: "the ARN of the role, not the ARN of the role session",
  IAM "AWS global condition context keys"), an IAM user its user ARN, and any other key (the
  tests' ``testing`` key) moto's default identity ``arn:aws:iam::ACCOUNT:user/moto``.
- **Vault Lock** ("AWS Backup Vault Lock",
  https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html): "If any user
  (including the root user) attempts to delete a backup or change the lifecycle properties in a
  locked vault, AWS Backup will deny the operation": DeleteRecoveryPoint of a recovery point in a
  locked vault (either mode) answers ``InvalidRequestException``. ``ChangeableForDays`` sets the
  lock date on the modeled clock (moto used the real one): from then on Put and
  DeleteBackupVaultLockConfiguration answer ``InvalidRequestException`` (moto's wording). A
  backup or copy job into a locked vault whose lifecycle is shorter than MinRetentionDays, or
  longer than MaxRetentionDays (or has no DeleteAfterDays when MaxRetentionDays is set) "fails"
  (API_PutBackupVaultLockConfiguration: "the vault fails that backup or copy job"): the job is
  ``FAILED`` with a StatusMessage and no recovery point is made.

Events: ``backup.access.denied``, ``backup.lock.refused``, ``backup.job.failed``.
"""

import json
import re
from urllib.parse import unquote, urlparse

from moto.core.exceptions import JsonRESTError

from . import backup_recovery_points as points_module
from . import clock, iam_policy, timeline

JSON = {"Content-Type": "application/json"}
DAY = 86400

# (account, region, vault name) -> policy text
_policies = {}


class AccessDeniedException(JsonRESTError):
    code = 403

    def __init__(self, message):
        super().__init__("AccessDeniedException", message)


def _exceptions():
    from moto.backup import exceptions

    return exceptions


def _backend(account, region):
    from moto.backup.models import backup_backends

    return backup_backends[account][region]


def _vault(account, region, name):
    vault = _backend(account, region).vaults.get(name)
    if vault is None:
        raise _exceptions().ResourceNotFoundException(msg=f"Backup vault {name} does not exist in {region}.")
    return vault


def principal_arn(account, access_key):
    """``aws:PrincipalArn`` of the request's signer."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for partition in ("aws",):
        sts = sts_backends[account][partition]
        role = sts.get_assumed_role_from_access_key(access_key)
        if role is not None:
            return role.role_arn
        user = iam_backends[account][partition].get_user_from_access_key_id(access_key)
        if user is not None:
            return user.arn
    return f"arn:aws:iam::{account}:user/moto"


def check_policy(account, region, vault, action, access_key, resources=()):
    """Raises AccessDeniedException when the vault's access policy explicitly denies `action` on
    `resources` (the vault's ARN when none are given)."""
    policy = _policies.get((account, region, vault.backup_vault_name))
    if policy is None:
        return
    caller = principal_arn(account, access_key)
    context = {"aws:PrincipalArn": caller, "aws:PrincipalAccount": account}
    principal = {"AWS": [caller, account, f"arn:aws:iam::{account}:root"]}
    for resource in resources or (vault.backup_vault_arn,):
        if iam_policy.decide([policy], action, resource, context, principal) == iam_policy.DENY:
            timeline.record("backup.access.denied", region=region, vault=vault.backup_vault_name, action=action, principal=caller)
            raise AccessDeniedException(
                f"User: {caller} is not authorized to perform: {action} on resource: {resource} with an explicit deny in a resource-based policy"
            )


def _locked(vault):
    return bool(getattr(vault, "locked", False))


def lock_refusal(vault, lifecycle):
    """Why a job with `lifecycle` into `vault` fails, or None."""
    if not _locked(vault):
        return None
    days = (lifecycle or {}).get("DeleteAfterDays")
    low, high = vault.min_retention_days, vault.max_retention_days
    if low is not None and days is not None and int(days) < low:
        return f"The retention period of {days} days is shorter than the minimum retention period of {low} days of the locked backup vault {vault.backup_vault_name}."
    if high is not None and (days is None or int(days) > high):
        shown = "no retention period" if days is None else f"retention period of {days} days"
        return f"The {shown} is longer than the maximum retention period of {high} days of the locked backup vault {vault.backup_vault_name}."
    return None


def _failed_job(account, region, vault, params, message, kind):
    job_id = points_module._uuid().upper()
    now = clock.now()
    job = {
        "AccountId": account,
        "BackupVaultName": vault.backup_vault_name,
        "BackupVaultArn": vault.backup_vault_arn,
        "ResourceArn": params.get("ResourceArn"),
        "CreationDate": now,
        "CompletionDate": now,
        "State": "FAILED",
        "StatusMessage": message,
        "IamRoleArn": params.get("IamRoleArn"),
        "CreatedBy": {},
        "IsParent": False,
        "_input": params,
    }
    timeline.record("backup.job.failed", region=region, job_kind=kind, vault=vault.backup_vault_name, reason=message)
    with points_module._lock:
        if kind == "backup":
            job["BackupJobId"] = job_id
            points_module._jobs.setdefault((account, region), {})[job_id] = job
        else:
            job["CopyJobId"] = job_id
            job["DestinationBackupVaultArn"] = vault.backup_vault_arn
            job["SourceRecoveryPointArn"] = params.get("RecoveryPointArn")
            points_module._copy_jobs.setdefault((account, region), {})[job_id] = job
    return job


def _patch_jobs():
    if getattr(points_module, "drpair_vault_lock", False):
        return
    points_module.drpair_vault_lock = True
    backup_job, copy_job = points_module.backup_job, points_module.copy_job

    def locked_backup_job(account, region, params):
        vault = _backend(account, region).vaults.get(params.get("BackupVaultName") or "")
        if vault is not None:
            why = lock_refusal(vault, params.get("Lifecycle"))
            if why:
                job = _failed_job(account, region, vault, params, why, "backup")
                job["RecoveryPointArn"] = None
                return job
        return backup_job(account, region, params)

    def locked_copy_job(account, region, params):
        match = points_module.VAULT_ARN.match(params.get("DestinationBackupVaultArn") or "")
        if match:
            vault = _backend(match["account"], match["region"]).vaults.get(match["name"])
            if vault is not None:
                why = lock_refusal(vault, params.get("Lifecycle"))
                if why:
                    return _failed_job(account, region, vault, params, why, "copy")
        return copy_job(account, region, params)

    points_module.backup_job = locked_backup_job
    points_module.copy_job = locked_copy_job


def _patch_backend():
    from moto.backup.models import BackupBackend

    if getattr(BackupBackend, "drpair_vault_lock", False):
        return
    BackupBackend.drpair_vault_lock = True
    put, delete = BackupBackend.put_backup_vault_lock_configuration, BackupBackend.delete_backup_vault_lock_configuration

    def immutable(vault):
        return vault.lock_date is not None and clock.now() >= vault.lock_date

    def put_lock(self, backup_vault_name, min_retention_days, max_retention_days, changeable_for_days):
        vault = self.vaults.get(backup_vault_name)
        if vault is not None and immutable(vault):
            timeline.record("backup.lock.refused", region=self.region_name, vault=backup_vault_name, operation="PutBackupVaultLockConfiguration")
            raise _exceptions().InvalidRequestException(msg="Vault Lock configuration is immutable and cannot be modified")
        kept = vault.lock_date if vault is not None else None
        put(self, backup_vault_name, min_retention_days, max_retention_days, changeable_for_days)
        vault = self.vaults[backup_vault_name]
        # The lock date on the modeled clock; without ChangeableForDays an existing date stays.
        vault.lock_date = clock.now() + int(changeable_for_days) * DAY if changeable_for_days is not None else kept

    def delete_lock(self, backup_vault_name):
        vault = self.vaults.get(backup_vault_name)
        if vault is not None and immutable(vault):
            timeline.record("backup.lock.refused", region=self.region_name, vault=backup_vault_name, operation="DeleteBackupVaultLockConfiguration")
            raise _exceptions().InvalidRequestException(msg="Vault Lock configuration is immutable and cannot be deleted")
        delete(self, backup_vault_name)

    BackupBackend.put_backup_vault_lock_configuration = put_lock
    BackupBackend.delete_backup_vault_lock_configuration = delete_lock

    delete_vault = BackupBackend.delete_backup_vault

    def delete_backup_vault(self, backup_vault_name):
        delete_vault(self, backup_vault_name)
        if backup_vault_name not in self.vaults:
            _policies.pop((self.account_id, self.region_name, backup_vault_name), None)

    BackupBackend.delete_backup_vault = delete_backup_vault


def _patch_responses():
    from moto.backup.responses import BackupResponse

    if getattr(BackupResponse, "drpair_vault_policies", False):
        return
    BackupResponse.drpair_vault_policies = True

    def vault_name(self):
        found = re.search(r"/backup-vaults/([^/]+)/", unquote(urlparse(self.path).path))
        return found.group(1)

    def put_backup_vault_access_policy(self):
        name = vault_name(self)
        vault = _vault(self.current_account, self.region, name)
        check_policy(self.current_account, self.region, vault, "backup:PutBackupVaultAccessPolicy", self.get_access_key())
        policy = json.loads(self.body or "{}").get("Policy")
        try:
            parsed = json.loads(policy or "")
        except ValueError:
            raise _exceptions().InvalidParameterValueException(msg="Policy is not a valid JSON policy document")
        if not isinstance(parsed, dict) or "Statement" not in parsed:
            raise _exceptions().InvalidParameterValueException(msg="Policy is not a valid JSON policy document")
        _policies[(self.current_account, self.region, name)] = policy
        return 200, JSON, ""

    def get_backup_vault_access_policy(self):
        name = vault_name(self)
        vault = _vault(self.current_account, self.region, name)
        policy = _policies.get((self.current_account, self.region, name))
        if policy is None:
            raise _exceptions().ResourceNotFoundException(msg=f"Backup vault {name} has no access policy.")
        return 200, JSON, json.dumps({"BackupVaultName": name, "BackupVaultArn": vault.backup_vault_arn, "Policy": policy})

    def delete_backup_vault_access_policy(self):
        name = vault_name(self)
        vault = _vault(self.current_account, self.region, name)
        check_policy(self.current_account, self.region, vault, "backup:DeleteBackupVaultAccessPolicy", self.get_access_key())
        _policies.pop((self.current_account, self.region, name), None)
        return 200, JSON, ""

    served = BackupResponse.delete_recovery_point

    def delete_recovery_point(self):
        found = re.search(r"/backup-vaults/([^/]+)/recovery-points/?(.*)$", unquote(urlparse(self.path).path))
        name, arn = found.group(1), found.group(2)
        vault = _vault(self.current_account, self.region, name)
        check_policy(self.current_account, self.region, vault, "backup:DeleteRecoveryPoint", self.get_access_key(), (arn,))
        if _locked(vault):
            timeline.record("backup.lock.refused", region=self.region, vault=name, operation="DeleteRecoveryPoint", recovery_point=arn)
            raise _exceptions().InvalidRequestException(
                msg=f"Recovery point {arn} cannot be deleted: backup vault {name} is locked (AWS Backup Vault Lock)."
            )
        return served(self)

    for handler in (put_backup_vault_access_policy, get_backup_vault_access_policy, delete_backup_vault_access_policy, delete_recovery_point):
        setattr(BackupResponse, handler.__name__, handler)


def _add_routes():
    from moto.backup import urls

    urls.url_paths.setdefault("{0}/backup-vaults/(?P<name>[^/]+)/access-policy$", urls.response.dispatch)
    urls.url_paths.setdefault("{0}/backup-vaults/(?P<name>[^/]+)/access-policy/$", urls.response.dispatch)


def register(app):
    _add_routes()
    _patch_backend()
    _patch_jobs()
    _patch_responses()
    return app
