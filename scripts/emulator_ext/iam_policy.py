"""IAM policy evaluation for the emulator's own service-to-service calls (Firehose writing to S3
with a KMS key, a CloudWatch metric stream putting records into Firehose): small, and strict.

Nothing here is served over HTTP; other extensions call it to decide what AWS would decide.

Evaluation, as "Policy evaluation logic" describes it for a request inside one account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html): an
explicit ``Deny`` in any applicable policy wins; otherwise an ``Allow`` in an identity policy
(or a resource policy naming the principal) allows; otherwise the request is implicitly denied.
KMS keys are the exception ("Key policies in AWS KMS",
https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html): "Unless the key policy
explicitly allows it, you cannot use IAM policies to allow access to a KMS key" — IAM policies
count only when the key policy allows the account (its root principal), see `kms_decision`.

A statement applies when its ``Action``/``NotAction`` (case-insensitive, ``*`` and ``?``
wildcards), ``Resource``/``NotResource`` (case-sensitive, wildcards), ``Principal`` (resource
policies) and every ``Condition`` match. Conditions ("IAM JSON policy elements: Condition
operators",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
operators are ANDed, keys within an operator are ANDed, the values of one key are ORed; key names
are case-insensitive. Supported operators: ``StringEquals``, ``StringNotEquals``,
``StringEqualsIgnoreCase``, ``StringNotEqualsIgnoreCase``, ``StringLike``, ``StringNotLike``,
``ArnEquals``, ``ArnLike``, ``ArnNotEquals``, ``ArnNotLike`` (each of the six colon-separated ARN
parts matched on its own), ``Bool``, ``Null``, and the ``...IfExists`` forms. "If the key that
you specify in a policy condition is not present in the request context, the values do not match
and the condition is false. If the policy condition requires that the key is not matched, such
as StringNotLike or ArnNotLike, and the right key is not present, the condition is true."

Anything else (another operator, ``ForAnyValue:``/``ForAllValues:``, a policy variable such as
``${aws:username}``) is not evaluated: it never lets an ``Allow`` apply and always lets a
``Deny`` apply, so the emulator can only be stricter than AWS, never more lenient.
"""

import json
import re
from urllib.parse import unquote

ALLOW, DENY, IMPLICIT_DENY = "Allow", "Deny", "ImplicitDeny"

_STRING_OPERATORS = {
    "stringequals": (lambda have, want: have == want, False),
    "stringnotequals": (lambda have, want: have == want, True),
    "stringequalsignorecase": (lambda have, want: have.lower() == want.lower(), False),
    "stringnotequalsignorecase": (lambda have, want: have.lower() == want.lower(), True),
    "stringlike": (lambda have, want: _glob(have, want), False),
    "stringnotlike": (lambda have, want: _glob(have, want), True),
    "arnequals": (lambda have, want: _arn_like(have, want), False),
    "arnlike": (lambda have, want: _arn_like(have, want), False),
    "arnnotequals": (lambda have, want: _arn_like(have, want), True),
    "arnnotlike": (lambda have, want: _arn_like(have, want), True),
    "bool": (lambda have, want: have.lower() == want.lower(), False),
}


def parse(document):
    """A policy document (JSON text, URL-encoded JSON as IAM returns it, or a dict) as a dict."""
    if isinstance(document, dict):
        return document
    text = document if isinstance(document, str) else document.decode()
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(unquote(text))


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _glob(text, pattern):
    """IAM's wildcards: ``*`` any run of characters, ``?`` one character; nothing else special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def _arn_like(arn, pattern):
    have, want = arn.split(":", 5), pattern.split(":", 5)
    if len(have) != 6 or len(want) != 6:
        return False
    return all(_glob(h, w) for h, w in zip(have, want))


def _action_matches(action, patterns):
    return any(_glob(action.lower(), p.lower()) for p in patterns)


def _resource_matches(resource, patterns):
    return any(p == "*" or _glob(resource, p) for p in patterns)


def _principal_matches(principal_element, principal):
    """`principal`: {"AWS": [arn, account id, ...]} or {"Service": name} of the caller."""
    if principal_element == "*":
        return True
    if not isinstance(principal_element, dict):
        return False
    for kind, values in principal_element.items():
        for value in _as_list(values):
            if value == "*" and kind == "AWS":
                return True
            if value in principal.get(kind, ()):
                return True
    return False


def _condition_applies(condition, context, effect):
    """Whether a Condition block holds for `context` (lower-cased keys -> list of strings).
    What cannot be evaluated fails closed: False for an Allow, True for a Deny."""
    unknown = effect == DENY
    if not isinstance(condition, dict):
        return unknown
    for operator, keys in condition.items():
        op = operator.lower()
        if ":" in op or "${" in json.dumps(keys) or not isinstance(keys, dict):
            if unknown:
                continue
            return False
        if_exists = op.endswith("ifexists")
        base = op[: -len("ifexists")] if if_exists else op
        for key, wanted in keys.items():
            present = context.get(key.lower())
            wanted = [str(w).lower() if isinstance(w, bool) else str(w) for w in _as_list(wanted)]
            if base == "null":
                holds = (present is None) == (wanted and wanted[0].lower() == "true")
            elif base in _STRING_OPERATORS:
                compare, negated = _STRING_OPERATORS[base]
                if present is None:
                    holds = True if (if_exists or negated) else False
                else:
                    matched = any(compare(have, w) for have in present for w in wanted)
                    holds = not matched if negated else matched
            else:
                holds = unknown
            if not holds:
                return False
    return True


def conditions_hold(statement, context):
    """Whether a statement's ``Condition`` holds for `context` (condition keys -> values), as
    ``statement_applies`` decides it: what cannot be evaluated fails closed (False for an
    ``Allow``, True for a ``Deny``). True for a statement without a ``Condition``."""
    if "Condition" not in statement:
        return True
    return _condition_applies(statement["Condition"], _normalized(context), statement.get("Effect"))


def statement_applies(statement, action, resource, context, principal=None):
    """Whether one statement applies to the request (its Effect aside)."""
    effect = statement.get("Effect")
    if "Action" in statement:
        if not _action_matches(action, _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if _action_matches(action, _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not _resource_matches(resource, _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if _resource_matches(resource, _as_list(statement["NotResource"])):
            return False
    elif principal is None:
        return False  # an identity policy statement needs a Resource
    if principal is not None:
        if "Principal" in statement:
            if not _principal_matches(statement["Principal"], principal):
                return False
        elif "NotPrincipal" in statement:
            if _principal_matches(statement["NotPrincipal"], principal):
                return False
        else:
            return False
    if "Condition" in statement:
        return _condition_applies(statement["Condition"], context, effect)
    return True


def _normalized(context):
    return {k.lower(): [str(v).lower() if isinstance(v, bool) else str(v) for v in _as_list(v)] for k, v in (context or {}).items()}


def decide(documents, action, resource, context=None, principal=None):
    """ALLOW, DENY (explicit) or IMPLICIT_DENY for one request against policy documents.
    `principal` is given for resource policies (key policies, trust policies, bucket policies)."""
    ctx = _normalized(context)
    allowed = False
    for document in documents:
        for statement in _as_list(parse(document).get("Statement")):
            if not isinstance(statement, dict) or statement.get("Effect") not in (ALLOW, DENY):
                continue
            if statement_applies(statement, action, resource, ctx, principal):
                if statement["Effect"] == DENY:
                    return DENY
                allowed = True
    return ALLOW if allowed else IMPLICIT_DENY


# --- the principals the emulator's services act as ------------------------------------------


def role_name(role_arn):
    """The role's name from ``arn:aws:iam::ACCOUNT:role/path/name``; None for another ARN."""
    parts = str(role_arn or "").split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        return None
    return parts[5].rsplit("/", 1)[-1]


def find_role(account_id, role_arn):
    """moto's IAM role for an ARN, or None."""
    from moto.iam.models import iam_backends

    name = role_name(role_arn)
    if name is None:
        return None
    backend = iam_backends[account_id]["global"]
    for role in backend.roles.values():
        if role.name == name and role.arn == role_arn:
            return role
    return None


def identity_policies(role):
    """The role's inline policies and the default versions of its managed policies."""
    documents = [parse(doc) for doc in role.policies.values()]
    for policy in role.managed_policies.values():
        version = next((v for v in policy.versions if v.is_default), None)
        document = version.document if version is not None else policy.document
        documents.append(parse(document))
    return documents


def can_assume(role, service, context=None):
    """Whether `service` (a service principal such as ``firehose.amazonaws.com``) may assume the
    role: its trust policy allows ``sts:AssumeRole`` for that principal with that context."""
    trust = parse(role.assume_role_policy_document)
    return decide([trust], "sts:AssumeRole", role.arn, context, {"Service": [service]}) == ALLOW


def role_decision(role, action, resource, context=None):
    """What the role's identity policies decide for one action on one resource."""
    return decide(identity_policies(role), action, resource, context)


def kms_decision(key_policy, role, account_id, action, key_arn, context):
    """What KMS decides for a role using a key: an explicit Deny anywhere denies; the key policy
    may allow the role itself, or allow the account (its root), which lets the role's IAM
    policies decide ("Key policies in AWS KMS")."""
    identity = role_decision(role, action, key_arn, context)
    if identity == DENY:
        return DENY
    ctx = dict(context or {})
    root = f"arn:aws:iam::{account_id}:root"
    as_role = decide([key_policy], action, key_arn, ctx, {"AWS": [role.arn]})
    if as_role == DENY:
        return DENY
    as_account = decide([key_policy], action, key_arn, ctx, {"AWS": [root, account_id]})
    if as_account == DENY:
        return DENY
    if as_role == ALLOW:
        return ALLOW
    if as_account == ALLOW and identity == ALLOW:
        return ALLOW
    return IMPLICIT_DENY

