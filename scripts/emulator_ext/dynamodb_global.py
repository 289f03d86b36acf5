"""DynamoDB global tables, version 2019.11.21, on moto's DynamoDB backends.

UpdateTable ``ReplicaUpdates``:

- ``Create {RegionName}`` creates the table in that region (same key schema, attributes, indexes,
  billing mode, SSE, streams) and joins both tables in one replication group. The replicas share
  their items, so an item written in one region is read in the other at once. The table's stream
  is enabled with NEW_AND_OLD_IMAGES if it was off (as AWS does). An encrypted table's replica uses
  Create's KMSMasterKeyId, else the target region's AWS-managed key. The UpdateTable answer shows
  TableStatus ``UPDATING`` and the new replica ``CREATING``; later reads show ``ACTIVE``.
- ``Delete {RegionName}`` deletes the replica table in that region (answer: ``DELETING``).
- ``Update {RegionName, KMSMasterKeyId, ...}`` changes an existing replica's KMS key (other
  settings are accepted and not modelled).
- DescribeTable (and every TableDescription) of a replicated table, in any of its regions, reports
  ``GlobalTableVersion: 2019.11.21`` and ``Replicas``: the group's other regions with
  ``ReplicaStatus`` and ``KMSMasterKeyId`` (AWS lists the replicas other than the table described).
- DeleteTable of one replica removes it from the group; the last table left is a regular table.

Errors (``ValidationException``, AWS's wording): the request's own region ("Cannot add, delete,
or update the local region through ReplicaUpdates..."); a replica that exists or a table of that
name in the target region ("Failed to create a the new replica of table with name: ..."); a
region that is not a replica ("Replica specified in the Replica Update or Replica Delete action
of the request was not found."); provisioned capacity without write auto scaling ("Table write
capacity should either be Pay-Per-Request or AutoScaled."); an unknown region; disabling the
stream of a replicated table ("Disabling Stream is not allowed for a Global Table replica.").
"""

GLOBAL_TABLE_VERSION = "2019.11.21"
LOCAL_REGION = (
    "Cannot add, delete, or update the local region through ReplicaUpdates. "
    "Use CreateTable, DeleteTable, or UpdateTable as required."
)
NOT_FOUND = "Replica specified in the Replica Update or Replica Delete action of the request was not found."


def _validation(message):
    from moto.dynamodb.exceptions import MockValidationException

    return MockValidationException(message)


def _backends(account_id):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account_id]


def group_of(table):
    """The replication group a table belongs to: {"regions": [...], "pending": {region: status}}."""
    return table.__dict__.get("replica_group")


def _known_regions():
    import boto3

    return set(boto3.session.Session().get_available_regions("dynamodb"))


def _write_autoscaled(account_id, region, table_name):
    """Whether Application Auto Scaling manages the table's write capacity (AWS's requirement)."""
    from moto.applicationautoscaling.models import applicationautoscaling_backends

    targets = applicationautoscaling_backends[account_id][region].targets
    return f"table/{table_name}" in targets.get("dynamodb:table:WriteCapacityUnits", {})


def _kms_arn(account_id, region, key):
    """The ARN of a KMS key (id, ARN or alias) in `region`; ValidationException if unknown."""
    from moto.kms.models import kms_backends

    try:
        return kms_backends[account_id][region].describe_key(key).arn
    except Exception as exc:
        raise _validation(f"KMS key {key} in {region} does not exist or is not accessible.") from exc


def _replica_sse(table, region, account_id, key):
    """The replica's SSE: the given KMS key, else the region's AWS-managed DynamoDB key."""
    if not table.sse_specification or table.sse_specification.get("Enabled") is not True:
        if key:
            return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": _kms_arn(account_id, region, key)}
        return None
    sse = {k: v for k, v in table.sse_specification.items() if k != "KMSMasterKeyId"}
    if key:
        sse["KMSMasterKeyId"] = _kms_arn(account_id, region, key)
    return sse


def _create_replica(table, region, account_id, key=None):
    source_region = table.region_name
    group = group_of(table) or {"regions": [source_region], "pending": {}}
    if region not in _known_regions():
        raise _validation(f"The region {region} is not a valid AWS Region for DynamoDB global tables.")
    target_backend = _backends(account_id)[region]
    if region in group["regions"] or table.name in target_backend.tables:
        raise _validation(
            f"Failed to create a the new replica of table with name: '{table.name}' because one or more "
            "replicas already existed as tables."
        )
    if table.billing_mode != "PAY_PER_REQUEST" and not _write_autoscaled(account_id, source_region, table.name):
        raise _validation("Table write capacity should either be Pay-Per-Request or AutoScaled.")
    stream = table.stream_specification or {}
    if not stream.get("StreamEnabled"):
        table.set_stream_specification({"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    elif stream.get("StreamViewType") != "NEW_AND_OLD_IMAGES":
        raise _validation(
            "One or more parameter values were invalid: a global table replica needs the stream view type "
            f"NEW_AND_OLD_IMAGES, the table's stream has {stream.get('StreamViewType')}."
        )
    replica = target_backend.create_table(
        name=table.name,
        schema=table.schema,
        throughput=None if table.billing_mode == "PAY_PER_REQUEST" else dict(table.throughput),
        attr=table.attr,
        global_indexes=[
            {"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection, "ProvisionedThroughput": i.throughput}
            for i in table.global_indexes
        ],
        indexes=[{"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection} for i in table.indexes],
        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        billing_mode=table.billing_mode,
        sse_specification=_replica_sse(table, region, account_id, key),
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    replica.items = table.items
    group["regions"].append(region)
    group["pending"][region] = "CREATING"
    for member in _members(group, table.name, account_id):
        member.__dict__["replica_group"] = group


def _members(group, name, account_id):
    return [_backends(account_id)[r].tables[name] for r in group["regions"] if name in _backends(account_id)[r].tables]


def _delete_replica(table, region, account_id):
    group = group_of(table)
    if group is None or region not in group["regions"]:
        raise _validation(NOT_FOUND)
    _backends(account_id)[region].tables.pop(table.name, None)
    _leave(group, region, table.name, account_id)
    group["pending"][region] = "DELETING"


def _leave(group, region, name, account_id):
    group["regions"].remove(region)
    if len(group["regions"]) < 2:
        for member in _members(group, name, account_id):
            member.__dict__.pop("replica_group", None)


def apply_replica_updates(table, updates, account_id):
    for update in updates or []:
        for action in ("Create", "Delete", "Update"):
            if action not in update:
                continue
            region = (update[action] or {}).get("RegionName")
            if not region:
                raise _validation(f"1 validation error detected: Value null at 'replicaUpdates.{action.lower()}.regionName' failed to satisfy constraint: Member must not be null")
            if region == table.region_name:
                raise _validation(LOCAL_REGION)
            key = update[action].get("KMSMasterKeyId")
            if action == "Create":
                _create_replica(table, region, account_id, key)
            elif action == "Delete":
                _delete_replica(table, region, account_id)
            elif group_of(table) is None or region not in group_of(table)["regions"]:
                raise _validation(NOT_FOUND)
            elif key:
                replica = _backends(account_id)[region].tables[table.name]
                replica.sse_specification = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": _kms_arn(account_id, region, key)}


def _replica_description(table, region, pending):
    """A ReplicaDescription: region, status and (for KMS-encrypted replicas) the replica's key."""
    entry = {"RegionName": region, "ReplicaStatus": pending.get(region, "ACTIVE"), "ReplicaTableClassSummary": {"TableClass": "STANDARD"}}
    replica = _backends(table.account_id)[region].tables.get(table.name)
    sse = getattr(replica, "sse_specification", None) or {}
    if sse.get("Enabled") is True and sse.get("KMSMasterKeyId"):
        entry["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
    return entry


def _patch():
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    if getattr(Table, "drpair_global", False):
        return
    Table.drpair_global = True
    original_describe = Table.describe

    def describe(self, base_key="TableDescription"):
        result = original_describe(self, base_key)
        group = group_of(self)
        if group is None:
            pending = {}
        else:
            pending = group.pop("pending", {})
            group["pending"] = {}
        if group is not None or pending:
            regions = [r for r in (group["regions"] if group else []) if r != self.region_name]
            regions += [r for r in pending if r not in regions and r != self.region_name]
            description = result[base_key]
            description["GlobalTableVersion"] = GLOBAL_TABLE_VERSION
            description["Replicas"] = [_replica_description(self, r, pending) for r in regions]
            if pending:
                description["TableStatus"] = "UPDATING"
        return result

    Table.describe = describe

    original_update = DynamoHandler.update_table

    def update_table(self):
        body = self.body
        table = self.dynamodb_backend.get_table(body["TableName"])
        stream = body.get("StreamSpecification")
        if stream is not None and stream.get("StreamEnabled") is False and group_of(table) is not None:
            raise _validation("One or more parameter values were invalid: Disabling Stream is not allowed for a Global Table replica.")
        if body.get("ReplicaUpdates"):
            apply_replica_updates(table, body["ReplicaUpdates"], self.current_account)
            if group_of(table) is None:
                # The last replica went away: the answer still reports the deletion in progress.
                table.__dict__["replica_group"] = {"regions": [table.region_name], "pending": {}}
                pending = {u["Delete"]["RegionName"]: "DELETING" for u in body["ReplicaUpdates"] if "Delete" in u}
                table.__dict__["replica_group"]["pending"] = pending
                answer = original_update(self)
                table.__dict__.pop("replica_group", None)
                return answer
        return original_update(self)

    DynamoHandler.update_table = update_table

    original_delete = DynamoDBBackend.delete_table

    def delete_table(self, name):
        table = original_delete(self, name)
        group = group_of(table)
        if group is not None and self.region_name in group["regions"]:
            _leave(group, self.region_name, table.name, self.account_id)
            table.__dict__.pop("replica_group", None)
        return table

    DynamoDBBackend.delete_table = delete_table


def register(app):
    _patch()
    return app
