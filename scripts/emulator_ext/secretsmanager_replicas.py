"""Secrets Manager replicas keep the KMS key they were replicated with.

AWS, Secrets Manager API Reference, "ReplicaRegionType"
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ReplicaRegionType.html):
``KmsKeyId`` is "The ARN, key ID, or alias of the KMS key to encrypt the secret. If you don't
include this field, Secrets Manager uses aws/secretsmanager." And "ReplicationStatusType"
(https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ReplicationStatusType.html):
the ``ReplicationStatus`` entries of DescribeSecret carry "``KmsKeyId``: Can be an ARN, Key ID,
or Alias" — the key the replica is encrypted with.

moto answers ``alias/aws/secretsmanager`` for every replica whatever key it was given
(CreateSecret's ``AddReplicaRegions``, ReplicateSecretToRegions), so a client could not tell a
replica under its own key from one under AWS's managed key. This patch records the key each
replica was given and reports it.
"""

DEFAULT_KEY = "alias/aws/secretsmanager"


def _patch():
    from moto.secretsmanager.models import FakeSecret

    original = FakeSecret.create_replicas

    def create_replicas(self, replica_regions, force_overwrite):
        replicas = original(self, replica_regions, force_overwrite)
        # moto builds one replica per requested region, in order.
        for replica, config in zip(replicas, replica_regions or []):
            replica.config["KmsKeyId"] = config.get("KmsKeyId") or DEFAULT_KEY
        return replicas

    FakeSecret.create_replicas = create_replicas


def register(app):
    _patch()
