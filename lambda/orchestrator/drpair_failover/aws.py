"""boto3 clients per service and region, and how their errors read."""

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

# Route 53's API is global, served from us-east-1.
ROUTE53_REGION = "us-east-1"

# The DR region and global services: retried with backoff on throttling and 5xx answers.
NEARBY = BotoConfig(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=20)
# The primary region, which may be the one that is down: fail fast instead of waiting on it.
FAR = BotoConfig(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=5)

AWS_ERRORS = (ClientError, BotoCoreError)


class Clients:
    """One boto3 session per invocation (sessions are not thread-safe; clients are) and one client
    per service and region."""

    def __init__(self, cfg, session=None):
        self.cfg = cfg
        self._session = session or boto3.session.Session()
        self._clients = {}

    def get(self, service, region=None):
        region = region or self.cfg.dr_region
        key = (service, region)
        if key not in self._clients:
            config = FAR if region == self.cfg.primary_region else NEARBY
            self._clients[key] = self._session.client(service, region_name=region, config=config)
        return self._clients[key]


def error_code(exc):
    """The AWS error code of a failed call, or None when no answer came."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def http_status(exc):
    if isinstance(exc, ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def describe_error(exc):
    """`Code: message` of an AWS error, or the transport failure."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", ""), error.get("Message", "")
        return f"{code}: {message}" if code and message else code or message or str(exc)
    return f"{type(exc).__name__}: {exc}"


def region_of_arn(arn):
    """`arn:aws:sns:us-east-1:123456789012:alerts` -> `us-east-1`."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else None
