"""The notifier's handler: alarm state changes become readable messages on both topics."""

import pytest

from conftest import DR, PRIMARY, alarm_event, scheduled_event
from drpair_failover import notifier
from drpair_failover.config import Config, ConfigError


def test_an_alarm_change_reaches_both_topics_as_text(stack):
    name = f"{stack.name}-replication-lag"
    result = notifier.handler(alarm_event(name), None)
    assert sorted(result["published"]) == sorted(stack.topics.values())
    assert result["failed"] == []
    for region in (PRIMARY, DR):
        ((subject, message),) = stack.messages(region)
        assert subject == f"ALARM [test]: {name} in us-east-2"
        assert message.startswith(f'CloudWatch alarm "{name}" in US East (Ohio) (us-east-2) changed from OK to ALARM.')
        assert "Reason:      Threshold Crossed: 1 datapoint [2400.0]" in message
        assert "Metric:      AWS/RDS AuroraGlobalDBReplicationLag (DBClusterIdentifier=dr-db-cluster-v2-test), Maximum over 60s" in message
        assert "Description: Aurora global replication lag above 1 s" in message
        assert f"#alarmsV2:alarm/{name}" in message
        assert f"Failover automation for {stack.global_cluster} is in automatic mode" in message


def test_recovery_and_long_names(stack):
    name = f"{stack.name}-" + "x" * 120
    result = notifier.handler(alarm_event(name, state="OK", previous="ALARM"), None)
    assert len(result["subject"]) == 100 and result["subject"].startswith(f"OK [test]: {stack.name}-xxx")
    ((_, message),) = stack.messages(DR)
    assert "changed from ALARM to OK" in message
    assert "no longer met" in message


def test_other_events_publish_nothing(stack):
    result = notifier.handler(scheduled_event(), None)
    assert result["published"] == []
    # Another deployment's alarm (same account and region, other prefix).
    result = notifier.handler(alarm_event("other-replication-lag"), None)
    assert result["published"] == [] and "not one of this deployment's" in result["reason"]
    assert stack.messages(PRIMARY) == [] and stack.messages(DR) == []


def test_one_topic_down_still_tells_the_other(stack, emulator):
    emulator.fault(error="internal", service="sns", operation="Publish", region=PRIMARY, times=50)
    result = notifier.handler(alarm_event(f"{stack.name}-lag"), None)
    assert result["published"] == [stack.topics[DR]]
    assert result["failed"][0].startswith(stack.topics[PRIMARY])
    assert len(stack.messages(DR)) == 1


def test_every_topic_down_fails_for_a_retry(stack, emulator):
    emulator.fault(error="internal", service="sns", operation="Publish", times=50)
    with pytest.raises(RuntimeError, match="no topic took the alarm message"):
        notifier.handler(alarm_event(f"{stack.name}-lag"), None)


def test_configuration_errors_name_the_variable(stack):
    env = dict(stack.env)
    del env["STATE_TABLE"]
    with pytest.raises(ConfigError, match="STATE_TABLE"):
        Config.from_env(env)
    with pytest.raises(ConfigError, match="MODE"):
        Config.from_env({**stack.env, "MODE": "sometimes"})
    with pytest.raises(ConfigError, match="SCALE_MIN_SIZE"):
        Config.from_env({**stack.env, "SCALE_MIN_SIZE": "two"})
    cfg = Config.from_env({**stack.env, "ALARM_NAME_PREFIX": "", "ALARM_NAME_SUFFIX": "-v2-test"})
    assert cfg.watches_alarm("aurora-replication-lag-v2-test")
    assert not cfg.watches_alarm("aurora-replication-lag-v2-prod")
    assert cfg.topic_arns == tuple(stack.env["TOPIC_ARNS"].split(","))
