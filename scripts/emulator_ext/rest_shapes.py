"""REST response shapes the AWS SDK for Rust parses strictly.

- AWS Backup `ListTags` (`GET /tags/{resourceArn}/`): moto takes the ARN from the path assuming a
  trailing slash; the Rust SDK sends `/tags/{arn}` without one, so every vault and plan read as
  untagged. Here the ARN is whatever follows `/tags/`, with or without the slash.
- S3 `GetBucketVersioning`: AWS answers with a `<VersioningConfiguration>` root element (the
  API reference's response syntax); moto answers `<GetBucketVersioningResponse>`, which the Rust
  SDK refuses to parse. Here the root is AWS's, with `Status` (and nothing when versioning was
  never enabled, as AWS does).
- Firehose `DescribeDeliveryStream`: a stream created with server-side encryption reports
  `DeliveryStreamEncryptionConfiguration.Status = ENABLED`, as AWS does; moto records the status
  only for StartDeliveryStreamEncryption.
"""

import json
from urllib.parse import unquote, urlparse

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def _patch_backup():
    from moto.backup.responses import BackupResponse

    if getattr(BackupResponse, "drpair_list_tags", False):
        return
    BackupResponse.drpair_list_tags = True

    def list_tags(self):
        path = urlparse(self.path).path.rstrip("/")
        arn = unquote(path.split("/tags/", 1)[1])
        return json.dumps({"Tags": self.backup_backend.list_tags(resource_arn=arn)})

    BackupResponse.list_tags = list_tags


def _patch_s3():
    from moto.s3.responses import S3Response

    if getattr(S3Response, "drpair_versioning", False):
        return
    S3Response.drpair_versioning = True

    def get_bucket_versioning(self):
        status = self.backend.get_bucket_versioning(self.bucket_name)
        inner = f"<Status>{status}</Status>" if status else ""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<VersioningConfiguration xmlns="{S3_NS}">{inner}</VersioningConfiguration>'
        )
        return 200, {"content-type": "application/xml"}, body

    S3Response.get_bucket_versioning = get_bucket_versioning


def _patch_firehose():
    from moto.firehose.models import DeliveryStream

    if getattr(DeliveryStream, "drpair_sse_status", False):
        return
    DeliveryStream.drpair_sse_status = True
    original = DeliveryStream.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        sse = getattr(self, "delivery_stream_encryption_configuration", None)
        if isinstance(sse, dict) and sse.get("KeyType") and "Status" not in sse:
            sse["Status"] = "ENABLED"

    DeliveryStream.__init__ = __init__


def register(app):
    _patch_backup()
    _patch_s3()
    _patch_firehose()
    return app
