"""S3 bucket policies as AWS evaluates their conditions, for the object operations moto checks
them on (GetObject, PutObject, DeleteObject, HeadObject and each key of DeleteObjects, through
``FakeBucket.get_permission``).

moto counts a statement whose ``Condition`` does not hold as an explicit deny, whatever its
``Effect``: with AWS's TLS-only statement (``Deny`` ``s3:*`` for ``*`` when
``aws:SecureTransport`` is ``false``) every object request was refused, and an ``Allow`` with an
unmet condition denied too. AWS: a statement applies only when its conditions hold ("Policy
evaluation logic",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html), and
"If the key that you specify in a policy condition is not present in the request context, the
values do not match and the condition is false" ("IAM JSON policy elements: Condition
operators",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).

Here a statement with a ``Condition`` applies when ``iam_policy.conditions_hold`` says so for the
request context moto gives bucket policies, which is empty (no ``aws:SecureTransport``, no
principal): a condition on a key does not hold, except the negated and ``...IfExists`` forms, and
what ``iam_policy`` cannot evaluate fails closed (an ``Allow`` never applies, a ``Deny`` always
does), so this is never more lenient than AWS for a policy it cannot read. A statement without a
``Condition`` is decided by moto as before (principals other than ``*`` are not evaluated: a
known moto limitation).

Known difference: the emulator serves plain HTTP, and its requests carry no
``aws:SecureTransport``, so the TLS-only statement does not refuse them (AWS would refuse a
plain-HTTP request; every SDK uses HTTPS there). Firehose deliveries are evaluated separately
(``firehose_delivery.py``), with ``aws:SecureTransport`` ``true``.
"""

import json

from . import iam_policy


def _statements(policy):
    statements = policy.get("Statement") if isinstance(policy, dict) else None
    if isinstance(statements, dict):
        return [statements]
    return statements if isinstance(statements, list) else []


def get_permission(bucket, action, resource):
    """What the bucket policy decides for `action` on `resource`: moto's PermissionResult."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    try:
        policy = json.loads(bucket.policy.decode() if isinstance(bucket.policy, bytes) else bucket.policy)
    except ValueError:
        return PermissionResult.NEUTRAL
    permitted = False
    for statement in _statements(policy):
        if not isinstance(statement, dict):
            continue
        if "Condition" in statement:
            if not iam_policy.conditions_hold(statement, {}):
                continue
            statement = {k: v for k, v in statement.items() if k != "Condition"}
        result = IAMPolicyStatement(statement).is_action_permitted(action, resource)
        if result == PermissionResult.DENIED:
            return result
        if result == PermissionResult.PERMITTED:
            permitted = True
    return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL


def register(app):
    from moto.s3.models import FakeBucket

    FakeBucket.get_permission = get_permission
    return app
