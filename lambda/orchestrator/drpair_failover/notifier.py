"""The notifier's handler: a CloudWatch alarm state change (from the EventBridge rule on the DR
alarms) becomes a message people can read, published to every topic."""

import json
import urllib.parse

from .aws import AWS_ERRORS, Clients, describe_error, region_of_arn
from .config import Config

SUBJECT_LIMIT = 100
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "Europe (Ireland)",
    "eu-central-1": "Europe (Frankfurt)",
}
WHAT_IT_MEANS = {
    "ALARM": "The alarm's condition is met.",
    "OK": "The alarm's condition is no longer met.",
    "INSUFFICIENT_DATA": "The alarm has too little data to decide.",
}


def is_alarm_change(event):
    return (
        isinstance(event, dict)
        and event.get("source") == "aws.cloudwatch"
        and event.get("detail-type") == "CloudWatch Alarm State Change"
        and isinstance(event.get("detail"), dict)
    )


def _metrics(detail):
    """`AWS/RDS AuroraGlobalDBReplicationLag (DBClusterIdentifier=dr-db-cluster-v2-dev)` lines."""
    lines = []
    for query in (detail.get("configuration") or {}).get("metrics") or []:
        stat = query.get("metricStat") or {}
        metric = stat.get("metric") or {}
        if not metric:
            if query.get("expression"):
                lines.append(f"expression {query['expression']}")
            continue
        dims = ", ".join(f"{k}={v}" for k, v in sorted((metric.get("dimensions") or {}).items()))
        name = f"{metric.get('namespace', '')} {metric.get('name', '')}".strip()
        extra = f", {stat['stat']} over {stat['period']}s" if stat.get("stat") and stat.get("period") else ""
        lines.append(f"{name} ({dims}){extra}" if dims else f"{name}{extra}")
    return lines


def render(cfg, event):
    """(subject, message) for an alarm state change."""
    detail = event["detail"]
    name = detail.get("alarmName", "(unnamed alarm)")
    region = event.get("region") or cfg.dr_region
    state = (detail.get("state") or {}).get("value", "UNKNOWN")
    previous = (detail.get("previousState") or {}).get("value", "UNKNOWN")
    reason = (detail.get("state") or {}).get("reason", "")
    when = (detail.get("state") or {}).get("timestamp") or event.get("time", "")
    env = f" [{cfg.environment}]" if cfg.environment else ""
    subject = f"{state}{env}: {name} in {region}"
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 3] + "..."
    console = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{urllib.parse.quote(name, safe='')}"
    )
    lines = [
        f'CloudWatch alarm "{name}" in {REGION_NAMES.get(region, region)} ({region}) changed from {previous} to {state}.',
        WHAT_IT_MEANS.get(state, ""),
        "",
        f"When:        {when}",
        f"Reason:      {reason}" if reason else None,
    ]
    description = (detail.get("configuration") or {}).get("description")
    if description:
        lines.append(f"Description: {description}")
    for metric in _metrics(detail):
        lines.append(f"Metric:      {metric}")
    if cfg.environment:
        lines.append(f"Environment: {cfg.environment}")
    lines += [
        f"Console:     {console}",
        "",
        f"Failover automation for {cfg.global_cluster} is in {cfg.mode} mode: "
        + (
            f"it fails over to {cfg.dr_region} by itself once an outage of the primary is confirmed live."
            if cfg.mode == "automatic"
            else f"it notifies, and an operator fails over to {cfg.dr_region} with the drpair_failover action."
        ),
    ]
    return subject, "\n".join(line for line in lines if line is not None)


def publish(cfg, clients, subject, message, attributes):
    """Publishes to every topic; (topics told, failures)."""
    told, failures = [], []
    for topic in cfg.topic_arns:
        try:
            clients.get("sns", region_of_arn(topic)).publish(
                TopicArn=topic,
                Subject=subject,
                Message=message,
                MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
            )
            told.append(topic)
        except AWS_ERRORS as exc:
            failures.append(f"{topic}: {describe_error(exc)}")
    return told, failures


def handler(event, context):
    cfg = Config.from_env()
    if not is_alarm_change(event):
        result = {"published": [], "reason": "not a CloudWatch alarm state change"}
        print(json.dumps(result))
        return result
    detail = event["detail"]
    if not cfg.watches_alarm(detail.get("alarmName")):
        result = {"published": [], "reason": f"alarm {detail.get('alarmName')!r} is not one of this deployment's"}
        print(json.dumps(result))
        return result
    subject, message = render(cfg, event)
    attributes = {
        "source": "drpair.failover-notifier",
        "alarm_name": str(detail.get("alarmName", "")),
        "state": str((detail.get("state") or {}).get("value", "")),
    }
    told, failures = publish(cfg, Clients(cfg), subject, message, attributes)
    result = {"published": told, "failed": failures, "subject": subject}
    print(json.dumps(result))
    if failures and not told:
        # Every topic refused: fail, so Lambda retries the event.
        raise RuntimeError("no topic took the alarm message: " + "; ".join(failures))
    return result
