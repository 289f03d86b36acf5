"""DynamoDB global tables (version 2019.11.21) through UpdateTable ReplicaUpdates."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code


def create_table(client, name, **extra):
    params = {
        "TableName": name,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}],
    }
    params.update(extra)
    return client.create_table(**params)


def validation(call, **params):
    with pytest.raises(ClientError) as raised:
        call(**params)
    assert error_code(raised) == "ValidationException", raised.value.response
    return raised.value.response["Error"]["Message"]


def test_replica_create_read_write_and_delete(emulator, unique):
    east, west = emulator.client("dynamodb", "us-east-1"), emulator.client("dynamodb", "us-east-2")
    create_table(east, unique)
    answer = east.update_table(TableName=unique, ReplicaUpdates=[{"Create": {"RegionName": "us-east-2"}}])["TableDescription"]
    assert answer["TableStatus"] == "UPDATING"
    assert answer["GlobalTableVersion"] == "2019.11.21"
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in answer["Replicas"]] == [("us-east-2", "CREATING")]
    assert answer["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}

    in_east = east.describe_table(TableName=unique)["Table"]
    in_west = west.describe_table(TableName=unique)["Table"]
    assert in_east["TableStatus"] == "ACTIVE" and in_west["TableStatus"] == "ACTIVE"
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in in_east["Replicas"]] == [("us-east-2", "ACTIVE")]
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in in_west["Replicas"]] == [("us-east-1", "ACTIVE")]
    assert in_west["GlobalTableVersion"] == "2019.11.21"
    assert in_west["KeySchema"] == in_east["KeySchema"]
    assert in_west["TableArn"].startswith("arn:aws:dynamodb:us-east-2:")
    assert [i["IndexName"] for i in in_west["GlobalSecondaryIndexes"]] == ["by-g"]

    east.put_item(TableName=unique, Item={"pk": {"S": "session-1"}, "g": {"S": "a"}})
    assert west.get_item(TableName=unique, Key={"pk": {"S": "session-1"}})["Item"]["g"] == {"S": "a"}
    west.put_item(TableName=unique, Item={"pk": {"S": "session-2"}, "g": {"S": "b"}})
    assert east.get_item(TableName=unique, Key={"pk": {"S": "session-2"}})["Item"]["g"] == {"S": "b"}
    assert west.query(TableName=unique, IndexName="by-g", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": {"S": "a"}})["Count"] == 1

    answer = east.update_table(TableName=unique, ReplicaUpdates=[{"Delete": {"RegionName": "us-east-2"}}])["TableDescription"]
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in answer["Replicas"]] == [("us-east-2", "DELETING")]
    after = east.describe_table(TableName=unique)["Table"]
    assert "Replicas" not in after and "GlobalTableVersion" not in after
    with pytest.raises(ClientError) as raised:
        west.describe_table(TableName=unique)
    assert error_code(raised) == "ResourceNotFoundException"
    assert east.get_item(TableName=unique, Key={"pk": {"S": "session-2"}})["Item"]


def test_replica_errors(emulator, unique):
    east, west = emulator.client("dynamodb", "us-east-1"), emulator.client("dynamodb", "us-east-2")
    create_table(east, unique)
    assert "local region" in validation(east.update_table, TableName=unique, ReplicaUpdates=[{"Create": {"RegionName": "us-east-1"}}])
    assert "not found" in validation(east.update_table, TableName=unique, ReplicaUpdates=[{"Delete": {"RegionName": "us-west-2"}}])
    assert "not found" in validation(east.update_table, TableName=unique, ReplicaUpdates=[{"Update": {"RegionName": "us-west-2"}}])
    validation(east.update_table, TableName=unique, ReplicaUpdates=[{"Create": {"RegionName": "mars-north-1"}}])
    create_table(west, unique)
    assert "already existed" in validation(east.update_table, TableName=unique, ReplicaUpdates=[{"Create": {"RegionName": "us-east-2"}}])
    create_table(
        east,
        unique + "-p",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}, "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}],
    )
    assert "Pay-Per-Request or AutoScaled" in validation(east.update_table, TableName=unique + "-p", ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])


def test_replicated_table_rules(emulator, unique):
    east, west, oregon = (emulator.client("dynamodb", r) for r in ("us-east-1", "us-east-2", "us-west-2"))
    create_table(east, unique)
    east.update_table(TableName=unique, ReplicaUpdates=[{"Create": {"RegionName": "us-east-2"}}])
    east.update_table(TableName=unique, ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    assert sorted(r["RegionName"] for r in oregon.describe_table(TableName=unique)["Table"]["Replicas"]) == ["us-east-1", "us-east-2"]
    assert "Disabling Stream" in validation(west.update_table, TableName=unique, StreamSpecification={"StreamEnabled": False})
    east.update_table(TableName=unique, ReplicaUpdates=[{"Update": {"RegionName": "us-east-2"}}])
    # DeleteTable on a replica removes it from the group.
    oregon.delete_table(TableName=unique)
    assert [r["RegionName"] for r in east.describe_table(TableName=unique)["Table"]["Replicas"]] == ["us-east-2"]
    west.delete_table(TableName=unique)
    assert "Replicas" not in east.describe_table(TableName=unique)["Table"]


def test_replica_kms_keys(emulator, unique):
    east, west = emulator.client("dynamodb", "us-east-1"), emulator.client("dynamodb", "us-east-2")
    kms_east, kms_west = emulator.client("kms", "us-east-1"), emulator.client("kms", "us-east-2")
    east_key = kms_east.create_key()["KeyMetadata"]["Arn"]
    west_key = kms_west.create_key()["KeyMetadata"]["Arn"]
    west_key_2 = kms_west.create_key()["KeyMetadata"]["Arn"]
    create_table(east, unique, SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": east_key})
    east.update_table(TableName=unique, ReplicaUpdates=[{"Create": {"RegionName": "us-east-2", "KMSMasterKeyId": west_key}}])
    in_west = west.describe_table(TableName=unique)["Table"]
    assert in_west["SSEDescription"] == {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": west_key}
    assert east.describe_table(TableName=unique)["Table"]["Replicas"][0]["KMSMasterKeyId"] == west_key
    assert west.describe_table(TableName=unique)["Table"]["Replicas"][0]["KMSMasterKeyId"] == east_key
    east.update_table(TableName=unique, ReplicaUpdates=[{"Update": {"RegionName": "us-east-2", "KMSMasterKeyId": west_key_2}}])
    assert west.describe_table(TableName=unique)["Table"]["SSEDescription"]["KMSMasterKeyArn"] == west_key_2
    assert "does not exist" in validation(east.update_table, TableName=unique, ReplicaUpdates=[{"Update": {"RegionName": "us-east-2", "KMSMasterKeyId": "alias/nope"}}])
