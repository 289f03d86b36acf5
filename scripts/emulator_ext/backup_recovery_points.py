"""AWS Backup: backup and copy jobs, the recovery points they make and what those hold on to;
and the KMS key deletion window that decides whether a recovery point stays restorable.

moto 5.2.5 has backup vaults and plans but no jobs or recovery points ("start_backup_job not yet
supported": every vault holds 0 and can always be deleted). Here, per region:

- StartBackupJob (``PUT /backup-jobs``): BackupVaultName, ResourceArn and IamRoleArn are required
  (``MissingParameterValueException``); the vault must exist in the request's region
  (``ResourceNotFoundException``), the role must exist (``InvalidParameterValueException``, as for
  CreateBackupSelection), the resource must be in the request's region
  (``InvalidParameterValueException``: a backup is made in the resource's region, copies go
  elsewhere). The emulator backs up Aurora/RDS DB clusters (``arn:...:rds:REGION:ACCOUNT:cluster:ID``;
  an unknown cluster is ``ResourceNotFoundException``); other resource types are refused with
  ``InvalidParameterValueException`` naming that limit. The job completes at once (``COMPLETED``,
  PercentDone 100) and its recovery point (``arn:aws:rds:REGION:ACCOUNT:cluster-snapshot:awsbackup:job-ID``,
  ResourceType ``Aurora`` for an ``aurora*`` engine, else ``RDS``) is ``COMPLETED`` in the vault.
  Encryption follows "Encryption for backups in AWS Backup"
  (https://docs.aws.amazon.com/aws-backup/latest/devguide/encryption.html): Aurora and RDS are not
  fully managed by AWS Backup, so their backups "inherit the encryption settings from their source
  resource": the recovery point's EncryptionKeyArn is the cluster's KMS key (``IsEncrypted``), not
  the vault's. Lifecycle ``DeleteAfterDays`` gives ``CalculatedLifecycle.DeleteAt``. The same
  IdempotencyToken with the same input answers the first job again (API_StartBackupJob).
- StartCopyJob (``PUT /copy-jobs``): RecoveryPointArn, SourceBackupVaultName,
  DestinationBackupVaultArn and IamRoleArn are required; the source vault (request's region) must
  hold the recovery point and the destination vault (any region of the ARN) must exist
  (``ResourceNotFoundException``). The copy (``...:cluster-snapshot:awsbackup:copyjob-ID`` in the
  destination region) keeps ResourceArn/ResourceType, records SourceBackupVaultArn, and is
  encrypted with the destination vault's key: "AWS Backup will re-encrypt your copy using the
  customer managed key of your destination vault"
  (https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-region-backup.html).
- DescribeBackupJob / DescribeCopyJob (unknown id: ``ResourceNotFoundException``), ListBackupJobs
  and ListCopyJobs (filters by resource ARN, vault, state; pagination).
- ListRecoveryPointsByBackupVault (filters ``resourceArn``, ``resourceType``; unknown vault
  ``ResourceNotFoundException``), ListRecoveryPointsByResource (the request's region's vaults; for
  an RDS resource ``maxResults`` below 20 is ``InvalidParameterValueException``: "Amazon RDS
  requires a value of at least 20", API_ListRecoveryPointsByResource), DescribeRecoveryPoint,
  pagination as AWS pages (``maxResults`` 1-1000, ``nextToken``).
- DeleteRecoveryPoint: the point is ``DELETING`` (``EXPIRED``/``DELETING`` points are counted and
  listed until gone), then removed: at once with ``instant`` timing, after DELETE_SECONDS with
  ``aws`` timing. A point not in the named vault is ``ResourceNotFoundException``.
- DescribeBackupVault / ListBackupVaults report NumberOfRecoveryPoints, and DeleteBackupVault of a
  vault holding any answers ``InvalidRequestException`` "Backup vault cannot be deleted (contains N
  recovery points)": "A vault can be deleted only if it is empty" (API_DeleteBackupVault; "Delete a
  backup vault", https://docs.aws.amazon.com/aws-backup/latest/devguide/delete-a-vault.html, "only
  after you delete ... all the recovery points in your backup vault"). boto3's model lists
  InvalidRequestException among DeleteBackupVault's errors.

KMS (https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html):
ScheduleKeyDeletion takes PendingWindowInDays "between 7 and 30, inclusive" (default 30); another
value is ``ValidationException`` (moto silently schedules nothing). A key already pending deletion
is ``KMSInvalidStateException``. The answer carries KeyId (the key ARN), KeyState
``PendingDeletion``, DeletionDate (modeled clock + the window) and PendingWindowInDays. "After the
waiting period ends, KMS deletes the KMS key ... including all aliases that refer to it": when
the modeled clock reaches the DeletionDate the key and its aliases are gone, unless
CancelKeyDeletion came first. A recovery point whose EncryptionKeyArn names a deleted key cannot
be restored ("When a KMS key is deleted, all data that was encrypted under the KMS key is
unrecoverable").

Events: ``backup.job``, ``backup.copy``, ``backup.recovery_point.deleted``, ``kms.key.deleted``.
"""

import datetime
import json
import re
import threading
from urllib.parse import parse_qs, unquote, urlparse

from moto.core.exceptions import JsonRESTError

from . import clock, timeline

JSON = {"Content-Type": "application/json"}
# Typical time AWS Backup takes to remove a deleted snapshot recovery point (aws timing only).
DELETE_SECONDS = 60
RDS_MIN_RESULTS = 20
CLUSTER_ARN = re.compile(r"^arn:(?P<partition>[^:]+):rds:(?P<region>[^:]+):(?P<account>\d+):cluster:(?P<id>[^:]+)$")
VAULT_ARN = re.compile(r"^arn:[^:]+:backup:(?P<region>[^:]+):(?P<account>\d+):backup-vault:(?P<name>.+)$")

_lock = threading.RLock()
# (account, region) -> {recovery point ARN: record}
_points = {}
# (account, region) -> {job id: record}, for backup and copy jobs
_jobs = {}
_copy_jobs = {}


class MissingParameterValueException(JsonRESTError):
    def __init__(self, message):
        super().__init__("MissingParameterValueException", message)


class KMSInvalidStateException(JsonRESTError):
    def __init__(self, message):
        super().__init__("KMSInvalidStateException", message)


def _exceptions():
    from moto.backup import exceptions

    return exceptions


def _not_found(message):
    return _exceptions().ResourceNotFoundException(msg=message)


def _invalid(message):
    return _exceptions().InvalidParameterValueException(msg=message)


def points(account, region):
    with _lock:
        return _points.setdefault((account, region), {})


def _uuid():
    from moto.moto_api._internal import mock_random

    return str(mock_random.uuid4())


def _backend(account, region):
    from moto.backup.models import backup_backends

    return backup_backends[account][region]


def _vault(account, region, name):
    vault = _backend(account, region).vaults.get(name)
    if vault is None:
        raise _not_found(f"Backup vault {name} does not exist in {region}.")
    return vault


def in_vault(vault_arn):
    """The recovery points of a vault, oldest first."""
    match = VAULT_ARN.match(vault_arn or "")
    if not match:
        return []
    with _lock:
        found = [p for p in points(match["account"], match["region"]).values() if p["BackupVaultArn"] == vault_arn]
    return sorted(found, key=lambda p: p["CreationDate"])


def _role_exists(account, arn):
    from moto.iam.models import iam_backends

    try:
        iam_backends[account]["global"].get_role_by_arn(arn)
        return True
    except Exception:
        return False


def _key_arn(account, region, key_id):
    """The ARN of a key given by id, ARN or alias (the value as given when it is unknown)."""
    if not key_id:
        return None
    from moto.kms.models import kms_backends

    try:
        return kms_backends[account][region].describe_key(key_id).arn
    except Exception:
        return key_id


def _cluster(account, region, arn):
    from moto.rds.models import rds_backends

    match = CLUSTER_ARN.match(arn)
    if not match:
        raise _invalid(
            f"Resource {arn} is not supported by this emulator: it models AWS Backup jobs of Aurora and RDS DB clusters only."
        )
    if match["region"] != region:
        raise _invalid(f"Resource {arn} is in {match['region']}; a backup job in {region} backs up resources of {region}.")
    cluster = rds_backends[account][region].clusters.get(match["id"])
    if cluster is None:
        raise _not_found(f"Resource {arn} does not exist.")
    return cluster


def _lifecycle(lifecycle, created):
    if not lifecycle:
        return None, None
    calculated = {}
    days = lifecycle.get("DeleteAfterDays")
    if days:
        calculated["DeleteAt"] = created + int(days) * 86400
    cold = lifecycle.get("MoveToColdStorageAfterDays")
    if cold:
        calculated["MoveToColdStorageAt"] = created + int(cold) * 86400
    return lifecycle, calculated or None


def _record_point(account, region, point):
    with _lock:
        points(account, region)[point["RecoveryPointArn"]] = point


def _required(params, names):
    for name in names:
        if not params.get(name):
            raise MissingParameterValueException(f"Missing required parameter: {name}")


def backup_job(account, region, params):
    _required(params, ("BackupVaultName", "ResourceArn", "IamRoleArn"))
    token = params.get("IdempotencyToken")
    if token:
        with _lock:
            for job in _jobs.get((account, region), {}).values():
                if job.get("_token") == token and job["_input"] == params:
                    return job
    vault = _vault(account, region, params["BackupVaultName"])
    if not _role_exists(account, params["IamRoleArn"]):
        raise _invalid(f"IAM Role {params['IamRoleArn']} cannot be assumed by AWS Backup")
    cluster = _cluster(account, region, params["ResourceArn"])
    job_id = _uuid().upper()
    created = clock.now()
    partition = params["ResourceArn"].split(":")[1]
    key_arn = _key_arn(account, region, getattr(cluster, "kms_key_id", None)) if getattr(cluster, "storage_encrypted", False) else None
    lifecycle, calculated = _lifecycle(params.get("Lifecycle"), created)
    resource_type = "Aurora" if str(getattr(cluster, "engine", "")).startswith("aurora") else "RDS"
    point = {
        "RecoveryPointArn": f"arn:{partition}:rds:{region}:{account}:cluster-snapshot:awsbackup:job-{job_id.lower()}",
        "BackupVaultName": vault.backup_vault_name,
        "BackupVaultArn": vault.backup_vault_arn,
        "ResourceArn": params["ResourceArn"],
        "ResourceType": resource_type,
        "ResourceName": cluster.db_cluster_identifier,
        "CreatedBy": {},
        "IamRoleArn": params["IamRoleArn"],
        "Status": "COMPLETED",
        "CreationDate": created,
        "InitiationDate": created,
        "CompletionDate": created,
        "BackupSizeInBytes": 0,
        "Lifecycle": lifecycle,
        "CalculatedLifecycle": calculated,
        "EncryptionKeyArn": key_arn,
        "IsEncrypted": key_arn is not None,
        "IsParent": False,
        "VaultType": "BACKUP_VAULT",
    }
    _record_point(account, region, point)
    job = {
        "AccountId": account,
        "BackupJobId": job_id,
        "BackupVaultName": vault.backup_vault_name,
        "BackupVaultArn": vault.backup_vault_arn,
        "RecoveryPointArn": point["RecoveryPointArn"],
        "ResourceArn": params["ResourceArn"],
        "ResourceType": resource_type,
        "ResourceName": point["ResourceName"],
        "CreationDate": created,
        "CompletionDate": created,
        "State": "COMPLETED",
        "PercentDone": "100.0",
        "BackupSizeInBytes": 0,
        "IamRoleArn": params["IamRoleArn"],
        "CreatedBy": {},
        "EncryptionKeyArn": key_arn,
        "IsEncrypted": key_arn is not None,
        "StartBy": created + int(params.get("StartWindowMinutes") or 480) * 60,
        "BackupType": "",
        "IsParent": False,
        "_token": token,
        "_input": params,
    }
    with _lock:
        _jobs.setdefault((account, region), {})[job_id] = job
    timeline.record(
        "backup.job", region=region, job=job_id, resource=params["ResourceArn"], recovery_point=point["RecoveryPointArn"], key=key_arn
    )
    return job


def copy_job(account, region, params):
    _required(params, ("RecoveryPointArn", "SourceBackupVaultName", "DestinationBackupVaultArn", "IamRoleArn"))
    source_vault = _vault(account, region, params["SourceBackupVaultName"])
    with _lock:
        source = points(account, region).get(params["RecoveryPointArn"])
    if source is None or source["BackupVaultArn"] != source_vault.backup_vault_arn:
        raise _not_found(f"Recovery point {params['RecoveryPointArn']} is not in backup vault {params['SourceBackupVaultName']}.")
    match = VAULT_ARN.match(params["DestinationBackupVaultArn"])
    if not match:
        raise _invalid(f"Invalid destination backup vault ARN {params['DestinationBackupVaultArn']}")
    destination = _vault(match["account"], match["region"], match["name"])
    if not _role_exists(account, params["IamRoleArn"]):
        raise _invalid(f"IAM Role {params['IamRoleArn']} cannot be assumed by AWS Backup")
    job_id = _uuid().upper()
    created = clock.now()
    partition = source["RecoveryPointArn"].split(":")[1]
    dest_region = match["region"]
    key_arn = _key_arn(match["account"], dest_region, destination.encryption_key_arn)
    lifecycle, calculated = _lifecycle(params.get("Lifecycle"), created)
    copy = dict(
        source,
        RecoveryPointArn=f"arn:{partition}:rds:{dest_region}:{match['account']}:cluster-snapshot:awsbackup:copyjob-{job_id.lower()}",
        BackupVaultName=destination.backup_vault_name,
        BackupVaultArn=destination.backup_vault_arn,
        SourceBackupVaultArn=source_vault.backup_vault_arn,
        IamRoleArn=params["IamRoleArn"],
        CreationDate=created,
        InitiationDate=created,
        CompletionDate=created,
        Lifecycle=lifecycle,
        CalculatedLifecycle=calculated,
        EncryptionKeyArn=key_arn,
        IsEncrypted=key_arn is not None,
        Status="COMPLETED",
    )
    _record_point(match["account"], dest_region, copy)
    job = {
        "AccountId": account,
        "CopyJobId": job_id,
        "SourceBackupVaultArn": source_vault.backup_vault_arn,
        "SourceRecoveryPointArn": source["RecoveryPointArn"],
        "DestinationBackupVaultArn": destination.backup_vault_arn,
        "DestinationRecoveryPointArn": copy["RecoveryPointArn"],
        "ResourceArn": source["ResourceArn"],
        "ResourceType": source["ResourceType"],
        "ResourceName": source.get("ResourceName"),
        "CreationDate": created,
        "CompletionDate": created,
        "State": "COMPLETED",
        "BackupSizeInBytes": 0,
        "IamRoleArn": params["IamRoleArn"],
        "CreatedBy": {},
        "IsParent": False,
    }
    with _lock:
        _copy_jobs.setdefault((account, region), {})[job_id] = job
    timeline.record(
        "backup.copy", region=region, destination_region=dest_region, job=job_id, recovery_point=copy["RecoveryPointArn"], key=key_arn
    )
    return job


def remove_recovery_point(account, region, vault_name, arn):
    vault = _vault(account, region, vault_name)
    with _lock:
        point = points(account, region).get(arn)
        if point is None or point["BackupVaultArn"] != vault.backup_vault_arn:
            raise _not_found(f"Recovery point {arn} is not in backup vault {vault_name}.")
        if point["Status"] == "DELETING":
            return
        point["Status"] = "DELETING"

    def remove():
        with _lock:
            points(account, region).pop(arn, None)
        timeline.record("backup.recovery_point.deleted", region=region, vault=vault_name, recovery_point=arn)

    wait = clock.duration(DELETE_SECONDS)
    if wait <= 0:
        remove()
    else:
        clock.after(wait, remove, f"backup delete {arn}")


# ---- wire shapes ----

BY_RESOURCE = ("RecoveryPointArn", "CreationDate", "Status", "StatusMessage", "EncryptionKeyArn", "BackupVaultName", "IsParent", "ResourceName", "VaultType")


def _public(record, keys=None):
    out = {k: v for k, v in record.items() if not k.startswith("_") and v not in (None, {}, "")}
    if keys is not None:
        out = {k: v for k, v in out.items() if k in keys}
    return out


def _by_resource(point):
    out = _public(point, BY_RESOURCE)
    out["BackupSizeBytes"] = point.get("BackupSizeInBytes", 0)
    return out


def _page(items, query, key, minimum=1):
    raw = query("maxResults")
    limit = int(raw) if raw else 1000
    if not minimum <= limit <= 1000:
        raise _invalid(f"maxResults must be between {minimum} and 1000")
    token = query("nextToken")
    start = 0
    if token:
        ids = [item[key] for item in items]
        if token not in ids:
            raise _invalid("Invalid nextToken")
        start = ids.index(token)
    page = items[start : start + limit]
    following = items[start + limit][key] if start + limit < len(items) else None
    return page, following


def _reply(body):
    return 200, JSON, json.dumps(body, default=str)


def _patch_responses():
    from moto.backup.responses import BackupResponse

    if getattr(BackupResponse, "drpair_recovery_points", False):
        return
    BackupResponse.drpair_recovery_points = True

    def path(self):
        return unquote(urlparse(self.path).path)

    def query(self):
        parsed = parse_qs(urlparse(self.path).query)

        def get(name):
            values = parsed.get(name) or self.querystring.get(name) or [None]
            return values[0]

        return get

    def body(self):
        return json.loads(self.body or "{}")

    def start_backup_job(self):
        job = backup_job(self.current_account, self.region, body(self))
        return _reply({"BackupJobId": job["BackupJobId"], "RecoveryPointArn": job["RecoveryPointArn"], "CreationDate": job["CreationDate"], "IsParent": False})

    def describe_backup_job(self):
        job_id = path(self).rstrip("/").rsplit("/", 1)[-1]
        with _lock:
            job = _jobs.get((self.current_account, self.region), {}).get(job_id)
        if job is None:
            raise _not_found(f"Backup job {job_id} not found.")
        return _reply(_public(job))

    def list_backup_jobs(self):
        q = query(self)
        with _lock:
            jobs = sorted(_jobs.get((self.current_account, self.region), {}).values(), key=lambda j: j["CreationDate"])
        for name, field in (("resourceArn", "ResourceArn"), ("backupVaultName", "BackupVaultName"), ("state", "State"), ("resourceType", "ResourceType")):
            wanted = q(name)
            if wanted:
                jobs = [j for j in jobs if j.get(field) == wanted]
        page, following = _page(jobs, q, "BackupJobId")
        out = {"BackupJobs": [_public(j) for j in page]}
        if following:
            out["NextToken"] = following
        return _reply(out)

    def start_copy_job(self):
        job = copy_job(self.current_account, self.region, body(self))
        return _reply({"CopyJobId": job["CopyJobId"], "CreationDate": job["CreationDate"], "IsParent": False})

    def describe_copy_job(self):
        job_id = path(self).rstrip("/").rsplit("/", 1)[-1]
        with _lock:
            job = _copy_jobs.get((self.current_account, self.region), {}).get(job_id)
        if job is None:
            raise _not_found(f"Copy job {job_id} not found.")
        return _reply({"CopyJob": _public(job)})

    def list_copy_jobs(self):
        q = query(self)
        with _lock:
            jobs = sorted(_copy_jobs.get((self.current_account, self.region), {}).values(), key=lambda j: j["CreationDate"])
        for name, field in (("resourceArn", "ResourceArn"), ("state", "State"), ("destinationVaultArn", "DestinationBackupVaultArn")):
            wanted = q(name)
            if wanted:
                jobs = [j for j in jobs if j.get(field) == wanted]
        page, following = _page(jobs, q, "CopyJobId")
        out = {"CopyJobs": [_public(j) for j in page]}
        if following:
            out["NextToken"] = following
        return _reply(out)

    def vault_and_point(self):
        found = re.search(r"/backup-vaults/([^/]+)/recovery-points/?(.*)$", path(self))
        return found.group(1), found.group(2)

    def list_recovery_points_by_backup_vault(self):
        name, _ = vault_and_point(self)
        vault = _vault(self.current_account, self.region, name)
        q = query(self)
        found = in_vault(vault.backup_vault_arn)
        for param, field in (("resourceArn", "ResourceArn"), ("resourceType", "ResourceType")):
            wanted = q(param)
            if wanted:
                found = [p for p in found if p.get(field) == wanted]
        page, following = _page(found, q, "RecoveryPointArn")
        out = {"RecoveryPoints": [_public(p) for p in page]}
        if following:
            out["NextToken"] = following
        return _reply(out)

    def list_recovery_points_by_resource(self):
        found = re.search(r"/resources/(.+)/recovery-points/?$", path(self))
        arn = found.group(1)
        q = query(self)
        minimum = RDS_MIN_RESULTS if ":rds:" in arn else 1
        with _lock:
            mine = [p for p in points(self.current_account, self.region).values() if p["ResourceArn"] == arn]
        mine.sort(key=lambda p: p["CreationDate"])
        page, following = _page(mine, q, "RecoveryPointArn", minimum=minimum)
        out = {"RecoveryPoints": [_by_resource(p) for p in page]}
        if following:
            out["NextToken"] = following
        return _reply(out)

    def describe_recovery_point(self):
        name, arn = vault_and_point(self)
        vault = _vault(self.current_account, self.region, name)
        with _lock:
            point = points(self.current_account, self.region).get(arn)
        if point is None or point["BackupVaultArn"] != vault.backup_vault_arn:
            raise _not_found(f"Recovery point {arn} is not in backup vault {name}.")
        return _reply(_public(point))

    def delete_recovery_point(self):
        name, arn = vault_and_point(self)
        remove_recovery_point(self.current_account, self.region, name, arn)
        return 200, JSON, ""

    for handler in (
        start_backup_job,
        describe_backup_job,
        list_backup_jobs,
        start_copy_job,
        describe_copy_job,
        list_copy_jobs,
        list_recovery_points_by_backup_vault,
        list_recovery_points_by_resource,
        describe_recovery_point,
        delete_recovery_point,
    ):
        setattr(BackupResponse, handler.__name__, handler)


def _patch_vaults():
    from moto.backup.models import BackupBackend, Vault

    if getattr(Vault, "drpair_recovery_points", False):
        return
    Vault.drpair_recovery_points = True

    def count(self):
        return len(in_vault(self.backup_vault_arn))

    # moto assigns 0 in __init__; the count is what the vault holds.
    Vault.num_of_recovery_points = property(count, lambda self, value: None)
    Vault.number_of_recovery_points = property(count)

    original_delete = BackupBackend.delete_backup_vault

    def delete_backup_vault(self, backup_vault_name):
        vault = self.vaults.get(backup_vault_name)
        if vault is not None:
            held = count(vault)
            if held:
                raise _exceptions().InvalidRequestException(
                    msg=f"Backup vault cannot be deleted (contains {held} recovery points)"
                )
        return original_delete(self, backup_vault_name)

    BackupBackend.delete_backup_vault = delete_backup_vault


def _add_routes():
    from moto.backup import urls

    dispatch = urls.response.dispatch
    for pattern in (
        # Flask tells a path with a trailing slash from one without: AWS's URIs have both
        # (PUT /backup-jobs, GET /backup-jobs/).
        "{0}/backup-jobs$",
        "{0}/backup-jobs/$",
        "{0}/backup-jobs/(?P<job>[^/]+)$",
        "{0}/copy-jobs$",
        "{0}/copy-jobs/$",
        "{0}/copy-jobs/(?P<job>[^/]+)$",
        "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/$",
        "{0}/backup-vaults/(?P<name>[^/]+)/recovery-points/(?P<arn>.+)$",
        "{0}/resources/(?P<arn>.+)/recovery-points/$",
    ):
        urls.url_paths.setdefault(pattern, dispatch)


# ---- KMS: the deletion window ----


def _naive_utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).replace(tzinfo=None)


def _patch_kms():
    from moto.kms.exceptions import ValidationException
    from moto.kms.models import kms_backends
    from moto.kms.responses import KmsResponse

    if getattr(KmsResponse, "drpair_deletion_window", False):
        return
    KmsResponse.drpair_deletion_window = True

    def schedule_key_deletion(self):
        key_id = self._get_param("KeyId")
        window = self._get_param("PendingWindowInDays")
        window = 30 if window is None else int(window)
        self._validate_cmk_id(key_id)
        backend = self.kms_backend
        key = backend.keys[backend.any_id_to_key_id(key_id)]
        if not 7 <= window <= 30:
            raise ValidationException(
                f"PendingWindowInDays value {window} is invalid: it must be between 7 and 30, inclusive."
            )
        if key.key_state == "PendingDeletion":
            raise KMSInvalidStateException(f"{key.arn} is pending deletion.")
        due = clock.now() + window * 86400
        key.enabled = False
        key.key_state = "PendingDeletion"
        key.deletion_date = _naive_utc(due)
        account, region, raw_id = self.current_account, self.region, key.id

        def delete():
            owner = kms_backends[account][region]
            current = owner.keys.get(raw_id)
            if current is None or current.key_state != "PendingDeletion" or current.deletion_date != _naive_utc(due):
                return
            owner.keys.pop(raw_id, None)
            try:
                owner.tagger.delete_all_tags_for_resource(raw_id)
            except Exception:
                pass
            timeline.record("kms.key.deleted", region=region, key=current.arn)

        clock.at(due, delete, f"kms delete {raw_id}")
        return json.dumps(
            {"KeyId": key.arn, "DeletionDate": due, "KeyState": "PendingDeletion", "PendingWindowInDays": window}
        )

    KmsResponse.schedule_key_deletion = schedule_key_deletion


def register(app):
    _add_routes()
    _patch_vaults()
    _patch_responses()
    _patch_kms()
    return app
