"""CloudWatch alarm behaviour moto 5.2.5 lacks, patched into its CloudWatch backend.

- Alarm actions: when an alarm's state changes (SetAlarmState here, or an extension such as
  Route 53 health checks), and its actions are enabled, CloudWatch publishes the AWS alarm
  notification (JSON: AlarmName, NewStateValue, OldStateValue, NewStateReason, StateChangeTime,
  Region, AlarmArn, Trigger, ...; subject ``ALARM: "name" in US East (N. Virginia)``) to every SNS
  topic among the new state's actions (AlarmActions / OKActions / InsufficientDataActions). moto's
  SNS then delivers it to the topic's subscribers (SQS queues, ...). Other action ARNs (Auto
  Scaling, EC2, Lambda) are accepted and ignored.
- New alarms start in INSUFFICIENT_DATA, as on AWS (moto: OK); PutMetricAlarm on an existing alarm
  replaces its configuration but keeps its state (AWS: "its state is left unchanged").
- DeleteAlarms with any unknown name deletes nothing and fails with ResourceNotFound; deleted
  alarms lose their tags.
"""

import json

from .common import moto_account

REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-central-1": "EU (Frankfurt)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
}


def _timestamp(value):
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def notification(alarm, old_state, account_id):
    """The message CloudWatch publishes to SNS for a state change."""
    trigger = {
        "MetricName": alarm.metric_name,
        "Namespace": alarm.namespace,
        "StatisticType": "ExtendedStatistic" if alarm.extended_statistic else "Statistic",
        "Statistic": (alarm.statistic or "").upper() if not alarm.extended_statistic else None,
        "ExtendedStatistic": alarm.extended_statistic,
        "Unit": alarm.unit,
        "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
        "Period": int(alarm.period) if alarm.period is not None else None,
        "EvaluationPeriods": int(alarm.evaluation_periods) if alarm.evaluation_periods is not None else None,
        "DatapointsToAlarm": int(alarm.datapoints_to_alarm or alarm.evaluation_periods or 1),
        "ComparisonOperator": alarm.comparison_operator,
        "Threshold": float(alarm.threshold) if alarm.threshold is not None else None,
        "TreatMissingData": alarm.treat_missing_data or "missing",
        "EvaluateLowSampleCountPercentile": alarm.evaluate_low_sample_count_percentile or "",
    }
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "AWSAccountId": account_id,
        "AlarmConfigurationUpdatedTimestamp": _timestamp(alarm.configuration_updated_timestamp),
        "NewStateValue": alarm.state_value,
        "NewStateReason": alarm.state_reason,
        "StateChangeTime": _timestamp(alarm.state_updated_timestamp),
        "Region": REGION_NAMES.get(alarm.region_name, alarm.region_name),
        "AlarmArn": alarm.alarm_arn,
        "OldStateValue": old_state,
        "OKActions": list(alarm.ok_actions),
        "AlarmActions": list(alarm.alarm_actions),
        "InsufficientDataActions": list(alarm.insufficient_data_actions),
        "Trigger": {k: v for k, v in trigger.items() if v is not None or k == "Unit"},
    }


def fire_actions(alarm, old_state, account_id=None):
    """Publishes the state-change notification to the SNS topics of the alarm's new state."""
    if not alarm.actions_enabled or alarm.state_value == old_state:
        return
    from moto.sns.models import sns_backends

    actions = {
        "ALARM": alarm.alarm_actions,
        "OK": alarm.ok_actions,
        "INSUFFICIENT_DATA": alarm.insufficient_data_actions,
    }.get(alarm.state_value, [])
    account_id = account_id or moto_account()
    message = notification(alarm, old_state, account_id)
    region_name = REGION_NAMES.get(alarm.region_name, alarm.region_name)
    subject = f'{alarm.state_value}: "{alarm.name}" in {region_name}'[:100]
    for arn in actions or []:
        parts = arn.split(":")
        if len(parts) < 6 or parts[2] != "sns":
            continue
        backend = sns_backends[parts[4]][parts[3]]
        if arn not in backend.topics:
            continue
        backend.publish(json.dumps(message), arn=arn, subject=subject)


def _patch():
    from moto.cloudwatch.exceptions import ResourceNotFound
    from moto.cloudwatch.models import CloudWatchBackend

    if getattr(CloudWatchBackend, "drpair_alarms", False):
        return
    CloudWatchBackend.drpair_alarms = True
    original_set_state = CloudWatchBackend.set_alarm_state
    original_put = CloudWatchBackend.put_metric_alarm

    def set_alarm_state(self, alarm_name, reason, reason_data, state_value):
        old = self.alarms[alarm_name].state_value if alarm_name in self.alarms else None
        original_set_state(self, alarm_name, reason, reason_data, state_value)
        fire_actions(self.alarms[alarm_name], old, self.account_id)

    def put_metric_alarm(self, name, *args, **kwargs):
        previous = self.alarms.get(name)
        alarm = original_put(self, name, *args, **kwargs)
        if previous is not None:
            alarm.state_value = previous.state_value
            alarm.state_reason = previous.state_reason
            alarm.state_reason_data = previous.state_reason_data
            alarm.state_updated_timestamp = previous.state_updated_timestamp
            alarm.history = previous.history
        else:
            alarm.state_value = "INSUFFICIENT_DATA"
        return alarm

    def delete_alarms(self, alarm_names):
        unknown = [name for name in alarm_names if name not in self.alarms]
        if unknown:
            raise ResourceNotFound(f"The alarm(s) {', '.join(unknown)} do not exist.")
        for name in alarm_names:
            alarm = self.alarms.pop(name)
            self.tagger.delete_all_tags_for_resource(alarm.alarm_arn)

    CloudWatchBackend.set_alarm_state = set_alarm_state
    CloudWatchBackend.put_metric_alarm = put_metric_alarm
    CloudWatchBackend.delete_alarms = delete_alarms


def register(app):
    _patch()
    return app
