"""Bucket policy conditions on object operations (s3_bucket_policies.py)."""

import json

import pytest
from botocore.exceptions import ClientError


def _bucket(emulator, unique, statements):
    s3 = emulator.client("s3", "us-east-1")
    s3.create_bucket(Bucket=unique)
    s3.put_object(Bucket=unique, Key="metrics/a.json", Body=b"{}")
    s3.put_bucket_policy(Bucket=unique, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return s3


def _tls_only(bucket):
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Sid": "DenyRequestsWithoutTLS",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_a_deny_whose_condition_does_not_hold_does_not_apply(emulator, unique):
    """AWS's TLS-only statement: the emulator's requests carry no aws:SecureTransport, so the
    condition is false and the Deny does not apply (moto denied every object request)."""
    s3 = _bucket(emulator, unique, [_tls_only(unique)])
    assert s3.get_object(Bucket=unique, Key="metrics/a.json")["Body"].read() == b"{}"
    s3.put_object(Bucket=unique, Key="metrics/b.json", Body=b"[]")
    out = s3.delete_objects(Bucket=unique, Delete={"Objects": [{"Key": "metrics/a.json"}, {"Key": "metrics/b.json"}]})
    assert not out.get("Errors"), out
    s3.delete_bucket_policy(Bucket=unique)
    s3.delete_bucket(Bucket=unique)


def test_a_deny_without_condition_still_denies(emulator, unique):
    arn = f"arn:aws:s3:::{unique}"
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{arn}/*"}
    s3 = _bucket(emulator, unique, [statement])
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=unique, Key="metrics/a.json")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_deny_with_a_condition_that_cannot_be_evaluated_still_denies(emulator, unique):
    """Fail closed: an operator the emulator does not evaluate makes a Deny apply."""
    arn = f"arn:aws:s3:::{unique}"
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"{arn}/*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2000-01-01T00:00:00Z"}},
    }
    s3 = _bucket(emulator, unique, [statement])
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=unique, Key="metrics/a.json")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_negated_condition_on_an_absent_key_holds(emulator, unique):
    """"If the policy condition requires that the key is not matched, such as StringNotLike ...
    and the right key is not present, the condition is true"."""
    arn = f"arn:aws:s3:::{unique}"
    statement = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"{arn}/*",
        "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
    }
    s3 = _bucket(emulator, unique, [statement])
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=unique, Key="metrics/a.json")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
