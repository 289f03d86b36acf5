"""Application Load Balancer access logs: ModifyLoadBalancerAttributes checks the bucket as
Elastic Load Balancing does before it accepts ``access_logs.s3.enabled`` = ``true``, and
DescribeLoadBalancerAttributes reports ``access_logs.s3.enabled`` as AWS does.

AWS ("Enable access logs for your Application Load Balancer",
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html):
"The bucket must be located in the same Region as the load balancer", and "Your S3 bucket must
have a bucket policy that grants Elastic Load Balancing permission to write the access logs to
the bucket": ``s3:PutObject`` on ``arn:aws:s3:::BUCKET/PREFIX/AWSLogs/ACCOUNT/*`` for the
Elastic Load Balancing account of the load balancer's Region (Regions available before August
2022, e.g. ``127311923021`` for us-east-1, ``033677994240`` for us-east-2) or, in every Region,
the service principal ``logdelivery.elasticloadbalancing.amazonaws.com``. When the policy is
missing, AWS refuses the attribute change with ``InvalidConfigurationRequest`` "Access Denied for
bucket: BUCKET. Please check S3bucket permission" (the wording every report quotes, e.g.
https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/1956,
https://github.com/terraform-aws-modules/terraform-aws-s3-bucket/issues/185) and nothing is
changed. Elastic Load Balancing proves it can write by putting a test object,
``PREFIX/AWSLogs/ACCOUNT/ELBAccessLogTestFile``; the emulator evaluates the bucket policy for that
object's ARN and, once accepted, writes the object.

moto 5.2.5 accepted any bucket (even one that does not exist) and, for a new load balancer,
left ``access_logs.s3.enabled`` out of DescribeLoadBalancerAttributes (commented out in
``moto/elbv2/models.py``); AWS lists every attribute with its value, ``false`` by default ("Load
balancer attributes",
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html#load-balancer-attributes).

Choices where AWS documents no answer: a bucket that does not exist, or is in another Region,
is refused with the same error (Elastic Load Balancing cannot write there either). The bucket
policy is evaluated with ``iam_policy.decide`` (conditions the emulator cannot evaluate fail
closed), with ``aws:SecureTransport`` ``true``; an explicit ``Deny`` wins. A bucket encrypted
with SSE-KMS is accepted here, as AWS accepts it; AWS then delivers no logs ("The only
server-side encryption option that's supported is Amazon S3-managed keys (SSE-S3)", same page).
"""

import json

from . import iam_policy

ENABLED = "access_logs.s3.enabled"
BUCKET = "access_logs.s3.bucket"
PREFIX = "access_logs.s3.prefix"
SERVICE_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"
# "Regions available before August 2022" of the page above (the Regions drpair's tests use
# and their neighbours); other Regions: the service principal only.
ELB_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
}
TEST_FILE = "ELBAccessLogTestFile"


def _denied(bucket):
    from moto.elbv2.exceptions import InvalidConfigurationRequest

    return InvalidConfigurationRequest(
        f"Access Denied for bucket: {bucket}. Please check S3bucket permission",
    )


def test_object_key(prefix, account_id):
    """Where Elastic Load Balancing puts its test object when logging is enabled."""
    return f"{prefix}/" * bool(prefix) + f"AWSLogs/{account_id}/{TEST_FILE}"


def principals(region):
    """The callers whose s3:PutObject grant lets ELB of `region` write access logs."""
    out = [{"Service": [SERVICE_PRINCIPAL]}]
    account = ELB_ACCOUNTS.get(region)
    if account:
        out.append({"AWS": [account, f"arn:aws:iam::{account}:root"]})
    return out


def writable(bucket, prefix, account_id, region):
    """Whether ELB of `region` may write its access logs (and the test object) to `bucket`."""
    if bucket is None or getattr(bucket, "region_name", None) != region or bucket.policy is None:
        return False
    try:
        raw = bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy
        policy = json.loads(raw)
    except ValueError:
        return False
    resource = f"arn:aws:s3:::{bucket.name}/{test_object_key(prefix, account_id)}"
    context = {"aws:SecureTransport": "true"}
    decisions = [
        iam_policy.decide([policy], "s3:PutObject", resource, context, principal)
        for principal in principals(region)
    ]
    return iam_policy.ALLOW in decisions and iam_policy.DENY not in decisions


def _s3(account_id):
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


def _s3_bucket(account_id, name):
    return _s3(account_id).buckets.get(name)


def register(app):
    from moto.elbv2.models import ELBv2Backend
    from moto.elbv2.exceptions import LoadBalancerNotFoundError

    original_modify = ELBv2Backend.modify_load_balancer_attributes
    original_describe = ELBv2Backend.describe_load_balancer_attributes

    def modify_load_balancer_attributes(self, arn, attrs):
        balancer = self.load_balancers.get(arn)
        if balancer is None:
            raise LoadBalancerNotFoundError()
        merged = {**balancer.attrs, **attrs}
        if str(merged.get(ENABLED, "false")).lower() == "true" and (
            ENABLED in attrs or BUCKET in attrs or PREFIX in attrs
        ):
            name = merged.get(BUCKET) or ""
            bucket = _s3_bucket(self.account_id, name) if name else None
            prefix = merged.get(PREFIX) or ""
            if not writable(bucket, prefix, self.account_id, self.region_name):
                raise _denied(name)
            result = original_modify(self, arn, attrs)
            _s3(self.account_id).put_object(
                bucket.name, test_object_key(prefix, self.account_id), b"Enable AccessLog for ELB: test object"
            )
            return result
        return original_modify(self, arn, attrs)

    def describe_load_balancer_attributes(self, arn):
        attrs = original_describe(self, arn)
        attrs.setdefault(ENABLED, "false")
        return attrs

    ELBv2Backend.modify_load_balancer_attributes = modify_load_balancer_attributes
    ELBv2Backend.describe_load_balancer_attributes = describe_load_balancer_attributes
    return app

