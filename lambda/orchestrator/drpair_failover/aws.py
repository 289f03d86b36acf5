"""boto3 clients per service and region, and how their errors read.

During an outage of the primary region the orchestrator calls only the DR region's APIs (its state
table, RDS, CloudWatch, Auto Scaling, the DR topic). The one call it makes in the primary region is
publishing to that region's topic, with a fail-fast client: nothing waits on it, and a topic not
reached is tried again by later invocations.
"""

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

# The DR region and global services: retried with backoff on throttling and 5xx answers.
NEARBY = BotoConfig(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=20)
# The primary region, which may be the one that is down: fail fast instead of waiting on it.
FAR = BotoConfig(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=3, read_timeout=5)

# Calls that must not be repeated blindly (FailoverGlobalCluster): one attempt; after an error the
# next attempt reads what AWS has before it calls again.
ONCE = BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=30)

AWS_ERRORS = (ClientError, BotoCoreError)


class Clients:
    """One boto3 session per invocation (sessions are not thread-safe; clients are) and one client
    per service and region."""

    def __init__(self, cfg, session=None):
        self.cfg = cfg
        self._session = session or boto3.session.Session()
        self._clients = {}

    def get(self, service, region=None, once=False):
        region = region or self.cfg.dr_region
        key = (service, region, once)
        if key not in self._clients:
            config = ONCE if once else FAR if region == self.cfg.primary_region else NEARBY
            self._clients[key] = self._session.client(service, region_name=region, config=config)
        return self._clients[key]


def error_code(exc):
    """The AWS error code of a failed call, or None when no answer came."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
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
