"""REST response shapes the Rust SDK parses strictly (scripts/emulator_ext/rest_shapes.py)."""

import json
import xml.etree.ElementTree as ET

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def test_backup_list_tags_without_trailing_slash(emulator, unique):
    backup = emulator.client("backup", "us-east-2")
    vault = backup.create_backup_vault(BackupVaultName=unique, BackupVaultTags={"DR-Role": "dr"})
    arn = vault["BackupVaultArn"]
    # boto3 sends the trailing slash; the Rust SDK does not.
    assert backup.list_tags(ResourceArn=arn)["Tags"] == {"DR-Role": "dr"}
    response = emulator.signed("GET", f"/tags/{arn}", "backup", region="us-east-2")
    assert response.status_code == 200, response.text
    assert response.json()["Tags"] == {"DR-Role": "dr"}


def test_s3_get_bucket_versioning_has_the_aws_root_element(emulator, unique):
    s3 = emulator.client("s3", "us-east-2")
    s3.create_bucket(Bucket=unique, CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
    never = emulator.signed("GET", f"/{unique}", "s3", region="us-east-2", query="versioning")
    root = ET.fromstring(never.content)
    assert root.tag == S3_NS + "VersioningConfiguration" and root.find(S3_NS + "Status") is None

    s3.put_bucket_versioning(Bucket=unique, VersioningConfiguration={"Status": "Enabled"})
    enabled = emulator.signed("GET", f"/{unique}", "s3", region="us-east-2", query="versioning")
    root = ET.fromstring(enabled.content)
    assert root.tag == S3_NS + "VersioningConfiguration"
    assert root.find(S3_NS + "Status").text == "Enabled"
    assert s3.get_bucket_versioning(Bucket=unique)["Status"] == "Enabled"


def test_firehose_reports_the_encryption_status_it_was_created_with(emulator, unique):
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "firehose.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = emulator.client("iam").create_role(RoleName=unique, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    # Firehose refuses a role IAM has not propagated yet (emulator_ext/firehose_delivery.py).
    seconds = emulator.control("GET", "/_drpair/iam-propagation", expect=200)[1]["seconds"]
    emulator.control("POST", "/_drpair/clock", {"advance": seconds + 1}, expect=200)
    firehose = emulator.client("firehose", "us-east-1")
    firehose.create_delivery_stream(
        DeliveryStreamName=unique,
        DeliveryStreamType="DirectPut",
        DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"},
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": f"arn:aws:s3:::{unique}",
        },
    )
    sse = firehose.describe_delivery_stream(DeliveryStreamName=unique)["DeliveryStreamDescription"][
        "DeliveryStreamEncryptionConfiguration"
    ]
    assert sse["KeyType"] == "AWS_OWNED_CMK" and sse["Status"] == "ENABLED"
