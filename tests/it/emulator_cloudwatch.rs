//! CloudWatch through the Rust SDK against the emulator. aws-sdk-cloudwatch speaks Smithy
//! rpc-v2-cbor, which moto alone does not serve: these tests prove the emulator's CBOR adapter
//! (scripts/emulator_ext/cloudwatch_cbor.py) for alarms, state changes and metric data, that
//! alarm actions reach SNS subscribers, and that injected throttling is retried by the SDK.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_cloudwatch::config::{BehaviorVersion, Region};
use aws_sdk_cloudwatch::error::ProvideErrorMetadata;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StateValue,
    Statistic, Tag,
};
use aws_sdk_cloudwatch::Client;
use serde_json::{json, Value};

use crate::harness::Emulator;

fn client(emulator: &Emulator, region: &str) -> Client {
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(&emulator.endpoint)
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "drpair-tests",
        ))
        .build();
    Client::from_conf(config)
}

/// An HTTP request to one of the emulator's `/_drpair/` control endpoints; the JSON answer.
fn control(emulator: &Emulator, method: &str, path: &str, body: &Value) -> Value {
    emulator.control(method, path, body)
}

fn alarm_dimension() -> Dimension {
    Dimension::builder()
        .name("HealthCheckId")
        .value("hc-1")
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_alarms_over_cbor_notify_sns() {
    let emulator = Emulator::start();
    let cw = client(&emulator, "us-east-1");

    let topic = emulator.aws_ok(
        "sns",
        "us-east-1",
        "CreateTopic",
        &json!({"Name": "dr-alarms"}),
    );
    let topic_arn = topic["TopicArn"].as_str().expect("TopicArn").to_string();
    let queue = emulator.aws_ok(
        "sqs",
        "us-east-1",
        "CreateQueue",
        &json!({"QueueName": "dr-alarms"}),
    );
    let queue_url = queue["QueueUrl"].as_str().expect("QueueUrl").to_string();
    let attributes = emulator.aws_ok(
        "sqs",
        "us-east-1",
        "GetQueueAttributes",
        &json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}),
    );
    let queue_arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .expect("QueueArn");
    emulator.aws_ok(
        "sns",
        "us-east-1",
        "Subscribe",
        &json!({"TopicArn": topic_arn, "Protocol": "sqs", "Endpoint": queue_arn}),
    );

    cw.put_metric_alarm()
        .alarm_name("primary-unhealthy")
        .namespace("AWS/Route53")
        .metric_name("HealthCheckStatus")
        .dimensions(alarm_dimension())
        .statistic(Statistic::Minimum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::LessThanThreshold)
        .alarm_actions(&topic_arn)
        .ok_actions(&topic_arn)
        .tags(Tag::builder().key("drpair").value("test").build())
        .send()
        .await
        .expect("PutMetricAlarm");

    let described = cw
        .describe_alarms()
        .alarm_names("primary-unhealthy")
        .send()
        .await
        .expect("DescribeAlarms");
    let alarm = &described.metric_alarms()[0];
    assert_eq!(alarm.alarm_name(), Some("primary-unhealthy"));
    assert_eq!(alarm.state_value(), Some(&StateValue::InsufficientData));
    assert_eq!(alarm.threshold(), Some(1.0));
    assert_eq!(alarm.period(), Some(60));
    assert_eq!(alarm.dimensions(), &[alarm_dimension()]);
    assert_eq!(alarm.alarm_actions(), std::slice::from_ref(&topic_arn));
    assert!(alarm.alarm_configuration_updated_timestamp().is_some());
    let alarm_arn = alarm.alarm_arn().expect("AlarmArn").to_string();

    let tags = cw
        .list_tags_for_resource()
        .resource_arn(&alarm_arn)
        .send()
        .await
        .expect("ListTagsForResource");
    assert_eq!(tags.tags().len(), 1);
    assert_eq!(tags.tags()[0].value(), Some("test"));

    cw.set_alarm_state()
        .alarm_name("primary-unhealthy")
        .state_value(StateValue::Alarm)
        .state_reason("drill: primary region down")
        .send()
        .await
        .expect("SetAlarmState");
    let described = cw
        .describe_alarms()
        .state_value(StateValue::Alarm)
        .send()
        .await
        .expect("DescribeAlarms by state");
    assert_eq!(described.metric_alarms().len(), 1);
    assert_eq!(
        described.metric_alarms()[0].state_reason(),
        Some("drill: primary region down")
    );

    // The state change was published to the topic and delivered to the queue.
    let received = emulator.aws_ok(
        "sqs",
        "us-east-1",
        "ReceiveMessage",
        &json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10}),
    );
    let envelope: Value = serde_json::from_str(
        received["Messages"][0]["Body"]
            .as_str()
            .expect("an SNS notification in the queue"),
    )
    .expect("the SNS envelope is JSON");
    let notification: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("alarm JSON");
    assert_eq!(notification["AlarmName"], "primary-unhealthy");
    assert_eq!(notification["NewStateValue"], "ALARM");
    assert_eq!(notification["OldStateValue"], "INSUFFICIENT_DATA");
    assert_eq!(notification["AlarmArn"], alarm_arn.as_str());

    let for_metric = cw
        .describe_alarms_for_metric()
        .namespace("AWS/Route53")
        .metric_name("HealthCheckStatus")
        .send()
        .await
        .expect("DescribeAlarmsForMetric");
    assert_eq!(for_metric.metric_alarms().len(), 1);

    // An AWS error comes back as a modelled CBOR error with the query-compatible code.
    let err = cw
        .set_alarm_state()
        .alarm_name("no-such-alarm")
        .state_value(StateValue::Ok)
        .state_reason("x")
        .send()
        .await
        .expect_err("SetAlarmState on an unknown alarm");
    assert_eq!(err.code(), Some("ResourceNotFound"), "{err:?}");
    assert!(err
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found()));

    cw.delete_alarms()
        .alarm_names("primary-unhealthy")
        .send()
        .await
        .expect("DeleteAlarms");
    let described = cw.describe_alarms().send().await.expect("DescribeAlarms");
    assert!(described.metric_alarms().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_metric_data_over_cbor() {
    let emulator = Emulator::start();
    let cw = client(&emulator, "us-east-2");
    let now = SystemTime::now();
    let at = |seconds_ago: u64| DateTime::from(now - Duration::from_secs(seconds_ago));
    let dimension = Dimension::builder().name("Stack").value("dr-test").build();

    cw.put_metric_data()
        .namespace("Drpair/Replication")
        .metric_data(
            MetricDatum::builder()
                .metric_name("LagSeconds")
                .dimensions(dimension.clone())
                .timestamp(at(150))
                .value(4.0)
                .build(),
        )
        .metric_data(
            MetricDatum::builder()
                .metric_name("LagSeconds")
                .dimensions(dimension.clone())
                .timestamp(at(30))
                .value(6.5)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");

    let stat = MetricStat::builder()
        .metric(
            Metric::builder()
                .namespace("Drpair/Replication")
                .metric_name("LagSeconds")
                .dimensions(dimension)
                .build(),
        )
        .period(600)
        .stat("Maximum")
        .build();
    let data = cw
        .get_metric_data()
        .start_time(at(590))
        .end_time(DateTime::from(now + Duration::from_secs(10)))
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("lag")
                .metric_stat(stat)
                .build(),
        )
        .send()
        .await
        .expect("GetMetricData");
    let results = data.metric_data_results();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].id(), Some("lag"));
    assert_eq!(results[0].values(), &[6.5]);
    assert_eq!(results[0].timestamps().len(), 1);
    let bucket = results[0].timestamps()[0].secs();
    let started = at(590).secs();
    assert!(
        (started - 1..=started + 1).contains(&bucket),
        "the bucket starts at StartTime ({started}), got {bucket}"
    );

    // A throttled call (rpc-v2-cbor ThrottlingException) is retried by the SDK and succeeds.
    let fault = control(
        &emulator,
        "POST",
        "/_drpair/faults",
        &json!({"service": "cloudwatch", "operation": "ListMetrics", "error": "throttle", "nth": 1}),
    );
    let listed = cw
        .list_metrics()
        .namespace("Drpair/Replication")
        .send()
        .await
        .expect("ListMetrics after one throttled attempt");
    assert_eq!(listed.metrics().len(), 1);
    let faults = control(&emulator, "GET", "/_drpair/faults", &json!({}));
    assert_eq!(faults["faults"][0]["id"], fault["id"]);
    assert_eq!(faults["faults"][0]["injected"], 1);
    let calls = control(
        &emulator,
        "GET",
        "/_drpair/calls?service=cloudwatch&operation=ListMetrics",
        &json!({}),
    );
    assert_eq!(calls["total"], 2, "one throttled attempt and its retry");
}
