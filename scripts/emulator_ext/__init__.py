"""Project extensions to the moto emulator, loaded by scripts/emulator.py before it serves.

Work around the emulator's known gaps here, never in the provider's code paths that real AWS
would take. Each module exposes ``register(app)``: it may patch moto's backends and responses
(so ordinary moto calls see its effects), and may return a WSGI application wrapping ``app``.

Requests pass the wrappers outermost first:

    controls         /_drpair/ endpoints; call counts, added latency, injected faults
    cloudwatch_cbor  CloudWatch rpc-v2-cbor <-> awsJson1.0
    errors           AWS-style errors instead of moto's HTML tracebacks
    route53_health   TestDNSAnswer (moto does not route it)
    moto
"""

import importlib

# Patches of moto's backends and responses (order does not matter).
PATCHES = (
    "clock",
    "timeline",
    "outage",
    "endpoints",
    "eventbridge",
    "aurora_data",
    "app_timing",
    "cloudwatch_alarms",
    "metric_streams",
    "firehose_delivery",
    "rds_global",
    "rds_modifications",  # after rds_global: it wraps the methods rds_global patched
    "dynamodb_global",
    "backup_selections",
    "backup_recovery_points",
    "backup_vault_protection",  # after backup_recovery_points: it wraps its jobs and deletions
    "iam_propagation",
    "lambda_iam",
    "autoscaling_fleet",
    "route53_records",
    "rest_shapes",
    "secretsmanager_replicas",
    "ec2_rule_descriptions",
    "s3_bucket_policies",
    "elbv2_access_logs",
)
# WSGI wrappers, innermost first.
WRAPPERS = ("route53_health", "errors", "cloudwatch_cbor", "controls")


def register(app):
    """Called once with moto's WSGI application before the server starts."""
    for name in PATCHES + WRAPPERS:
        module = importlib.import_module(f"{__name__}.{name}")
        wrapped = module.register(app)
        if wrapped is not None:
            app = wrapped
    return app
