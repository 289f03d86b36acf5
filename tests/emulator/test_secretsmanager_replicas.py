"""Secrets Manager replicas report the KMS key they were given (emulator_ext/secretsmanager_replicas.py)."""

import json


def key_arn(emulator, region):
    return emulator.client("kms", region).create_key(Description="replica test")["KeyMetadata"]["Arn"]


def replica_keys(emulator, name):
    described = emulator.client("secretsmanager").describe_secret(SecretId=name)
    return {r["Region"]: r["KmsKeyId"] for r in described["ReplicationStatus"]}


def test_a_replica_created_with_the_secret_keeps_its_key(emulator, unique):
    primary, dr = key_arn(emulator, "us-east-1"), key_arn(emulator, "us-east-2")
    sm = emulator.client("secretsmanager")
    sm.create_secret(
        Name=unique,
        KmsKeyId=primary,
        SecretString=json.dumps({"password": "x"}),
        AddReplicaRegions=[{"Region": "us-east-2", "KmsKeyId": dr}],
    )
    assert sm.describe_secret(SecretId=unique)["KmsKeyId"] == primary
    assert replica_keys(emulator, unique) == {"us-east-2": dr}


def test_a_replica_added_later_keeps_its_key_and_without_one_uses_aws_managed_key(emulator, unique):
    dr = key_arn(emulator, "us-east-2")
    sm = emulator.client("secretsmanager")
    sm.create_secret(Name=unique, SecretString="x")
    sm.replicate_secret_to_regions(SecretId=unique, AddReplicaRegions=[{"Region": "us-east-2", "KmsKeyId": dr}])
    assert replica_keys(emulator, unique) == {"us-east-2": dr}
    sm.remove_regions_from_replication(SecretId=unique, RemoveReplicaRegions=["us-east-2"])
    sm.replicate_secret_to_regions(SecretId=unique, AddReplicaRegions=[{"Region": "us-east-2"}])
    assert replica_keys(emulator, unique) == {"us-east-2": "alias/aws/secretsmanager"}
