"""S3 conditional writes, as Terraform's S3 backend uses them for its lock file (use_lockfile).

No extension: moto 5.2.5 answers these as AWS documents them ("How to prevent object overwrites
with conditional writes", https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html;
the PutObject `IfNoneMatch` member of the S3 API model: "Uploads the object only if the object key
name does not already exist in the bucket specified. Otherwise, Amazon S3 returns a 412
Precondition Failed error."). These tests pin that behaviour, which tests/it/remote_state_acc.rs
relies on: Terraform 1.15 takes the state lock with PutObject `<key>.tflock` and
`If-None-Match: *`, and releases it with DeleteObject.
"""

import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, http_status


def _bucket(emulator, name, versioned):
    s3 = emulator.client("s3", "us-east-2")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return s3


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_put_if_none_match_creates_once_then_412(emulator, unique, versioned):
    s3 = _bucket(emulator, unique, versioned)
    key = "team/terraform.tfstate.tflock"
    first = json.dumps({"ID": "first", "Operation": "OperationTypeApply"}).encode()
    s3.put_object(Bucket=unique, Key=key, Body=first, IfNoneMatch="*", ChecksumAlgorithm="SHA256")

    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=unique, Key=key, Body=b'{"ID": "second"}', IfNoneMatch="*", ChecksumAlgorithm="SHA256")
    assert error_code(refused) == "PreconditionFailed"
    assert http_status(refused) == 412
    # The holder's lock is untouched (and, versioned, no second version was written).
    assert s3.get_object(Bucket=unique, Key=key)["Body"].read() == first
    if versioned:
        versions = s3.list_object_versions(Bucket=unique, Prefix=key).get("Versions", [])
        assert len(versions) == 1


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_put_if_none_match_succeeds_again_after_delete(emulator, unique, versioned):
    # Unlock is a DeleteObject; in a versioned bucket that leaves a delete marker, and the key
    # "does not already exist" for the next conditional write.
    s3 = _bucket(emulator, unique, versioned)
    key = "terraform.tfstate.tflock"
    s3.put_object(Bucket=unique, Key=key, Body=b'{"ID": "a"}', IfNoneMatch="*")
    s3.delete_object(Bucket=unique, Key=key)
    with pytest.raises(ClientError) as gone:
        s3.head_object(Bucket=unique, Key=key)
    assert http_status(gone) == 404
    s3.put_object(Bucket=unique, Key=key, Body=b'{"ID": "b"}', IfNoneMatch="*")
    assert s3.get_object(Bucket=unique, Key=key)["Body"].read() == b'{"ID": "b"}'


def test_unconditional_put_still_overwrites(emulator, unique):
    # The state object itself is written without a condition and replaced on every save.
    s3 = _bucket(emulator, unique, False)
    s3.put_object(Bucket=unique, Key="terraform.tfstate", Body=b'{"serial": 1}')
    s3.put_object(Bucket=unique, Key="terraform.tfstate", Body=b'{"serial": 2}')
    assert s3.get_object(Bucket=unique, Key="terraform.tfstate")["Body"].read() == b'{"serial": 2}'
