//! What the orchestrator works on, made directly in the emulator (boto3, independent of the
//! provider): an Aurora global database, the primary's health check, the DR Auto Scaling group,
//! a topic per region with an SQS queue subscribed, the DR replication-lag alarm; and the
//! emulator's control endpoints.

use serde_json::{json, Value};

use crate::harness::Emulator;

pub const PRIMARY: &str = "us-east-1";
pub const DR: &str = "us-east-2";
pub const GLOBAL: &str = "global-db-cluster-v2-test";
pub const PRIMARY_CLUSTER: &str = "primary-db-cluster-v2-test";
pub const DR_CLUSTER: &str = "dr-db-cluster-v2-test";
pub const ASG: &str = "payments-web-test-dr";
pub const TOPIC: &str = "drpair-alerts-v2-test";
pub const LAG_ALARM: &str = "drpair-replication-lag-v2-test";

pub struct Stack {
    pub health_check_id: String,
    /// Primary's, then the DR region's.
    pub topic_arns: [String; 2],
    pub queue_urls: [String; 2],
}

/// An HTTP request to one of the emulator's `/_drpair/` control endpoints; the JSON answer.
pub fn control(emulator: &Emulator, method: &str, path: &str, body: &Value) -> Value {
    emulator.control(method, path, body)
}

pub fn build(emulator: &Emulator) -> Stack {
    let engine = json!({ "Engine": "aurora-postgresql", "EngineVersion": "14.9" });
    let with = |extra: Value| {
        let mut params = engine.clone();
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        params
    };
    emulator.aws_ok(
        "rds",
        PRIMARY,
        "CreateGlobalCluster",
        &with(json!({ "GlobalClusterIdentifier": GLOBAL })),
    );
    emulator.aws_ok(
        "rds",
        PRIMARY,
        "CreateDBCluster",
        &with(json!({ "DBClusterIdentifier": PRIMARY_CLUSTER, "GlobalClusterIdentifier": GLOBAL, "MasterUsername": "payments_admin", "MasterUserPassword": "not-a-real-password" })),
    );
    emulator.aws_ok(
        "rds",
        DR,
        "CreateDBCluster",
        &with(json!({ "DBClusterIdentifier": DR_CLUSTER, "GlobalClusterIdentifier": GLOBAL })),
    );

    let check = emulator.aws_ok(
        "route53",
        PRIMARY,
        "CreateHealthCheck",
        &json!({ "CallerReference": "orchestrator-acc", "HealthCheckConfig": { "Type": "HTTPS", "FullyQualifiedDomainName": "primary.payments.example.com", "Port": 443, "ResourcePath": "/health", "RequestInterval": 10, "FailureThreshold": 3 } }),
    );
    let health_check_id = check["HealthCheck"]["Id"].as_str().unwrap().to_owned();

    let images = emulator.aws_ok(
        "ec2",
        DR,
        "DescribeImages",
        &json!({ "Owners": ["amazon"] }),
    );
    let image = images["Images"][0]["ImageId"].as_str().unwrap().to_owned();
    let template = emulator.aws_ok(
        "ec2",
        DR,
        "CreateLaunchTemplate",
        &json!({ "LaunchTemplateName": "payments-web-test", "LaunchTemplateData": { "ImageId": image, "InstanceType": "t3.medium" } }),
    );
    emulator.aws_ok(
        "autoscaling",
        DR,
        "CreateAutoScalingGroup",
        &json!({ "AutoScalingGroupName": ASG, "LaunchTemplate": { "LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"], "Version": "$Latest" }, "MinSize": 1, "MaxSize": 2, "DesiredCapacity": 1, "AvailabilityZones": ["us-east-2a"] }),
    );

    let mut topic_arns = Vec::new();
    let mut queue_urls = Vec::new();
    for region in [PRIMARY, DR] {
        let topic = emulator.aws_ok("sns", region, "CreateTopic", &json!({ "Name": TOPIC }));
        let topic = topic["TopicArn"].as_str().unwrap().to_owned();
        let queue = emulator.aws_ok(
            "sqs",
            region,
            "CreateQueue",
            &json!({ "QueueName": "oncall-inbox" }),
        );
        let queue = queue["QueueUrl"].as_str().unwrap().to_owned();
        let attributes = emulator.aws_ok(
            "sqs",
            region,
            "GetQueueAttributes",
            &json!({ "QueueUrl": queue, "AttributeNames": ["QueueArn"] }),
        );
        emulator.aws_ok(
            "sns",
            region,
            "Subscribe",
            &json!({ "TopicArn": topic, "Protocol": "sqs", "Endpoint": attributes["Attributes"]["QueueArn"] }),
        );
        topic_arns.push(topic);
        queue_urls.push(queue);
    }

    emulator.aws_ok(
        "cloudwatch",
        DR,
        "PutMetricAlarm",
        &json!({ "AlarmName": LAG_ALARM, "Namespace": "AWS/RDS", "MetricName": "AuroraGlobalDBReplicationLag", "Dimensions": [{ "Name": "DBClusterIdentifier", "Value": DR_CLUSTER }], "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1000, "ComparisonOperator": "GreaterThanThreshold" }),
    );
    Stack {
        health_check_id,
        topic_arns: [topic_arns[0].clone(), topic_arns[1].clone()],
        queue_urls: [queue_urls[0].clone(), queue_urls[1].clone()],
    }
}

/// The region of the global database's writer.
pub fn writer_region(emulator: &Emulator) -> String {
    let out = emulator.aws_ok(
        "rds",
        DR,
        "DescribeGlobalClusters",
        &json!({ "GlobalClusterIdentifier": GLOBAL }),
    );
    let members = out["GlobalClusters"][0]["GlobalClusterMembers"]
        .as_array()
        .unwrap()
        .clone();
    let writer = members
        .iter()
        .find(|m| m["IsWriter"] == true)
        .expect("a writer");
    writer["DBClusterArn"]
        .as_str()
        .unwrap()
        .split(':')
        .nth(3)
        .unwrap()
        .to_owned()
}

/// (min, desired, max) of the DR group.
pub fn dr_capacity(emulator: &Emulator) -> (i64, i64, i64) {
    let out = emulator.aws_ok(
        "autoscaling",
        DR,
        "DescribeAutoScalingGroups",
        &json!({ "AutoScalingGroupNames": [ASG] }),
    );
    let g = &out["AutoScalingGroups"][0];
    (
        g["MinSize"].as_i64().unwrap(),
        g["DesiredCapacity"].as_i64().unwrap(),
        g["MaxSize"].as_i64().unwrap(),
    )
}

/// The orchestrator events (SNS `Message`, parsed) waiting in a queue; they are consumed.
pub fn queued_events(emulator: &Emulator, region: &str, queue_url: &str) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        let out = emulator.aws_ok(
            "sqs",
            region,
            "ReceiveMessage",
            &json!({ "QueueUrl": queue_url, "MaxNumberOfMessages": 10 }),
        );
        let Some(messages) = out["Messages"]
            .as_array()
            .filter(|m| !m.is_empty())
            .cloned()
        else {
            return events;
        };
        for m in messages {
            let envelope: Value = serde_json::from_str(m["Body"].as_str().unwrap()).unwrap();
            let message = envelope["Message"].as_str().unwrap();
            events
                .push(serde_json::from_str(message).unwrap_or_else(|_| json!({ "text": message })));
            emulator.aws_ok(
                "sqs",
                region,
                "DeleteMessage",
                &json!({ "QueueUrl": queue_url, "ReceiptHandle": m["ReceiptHandle"] }),
            );
        }
    }
}

/// Polls `done` every 100 ms for up to 60 real seconds (an hour at speed 60).
pub fn wait_until(emulator: &Emulator, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting for {what}; emulator output:\n{}",
            emulator.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// AuroraGlobalDBReplicationLag datapoints of the DR cluster in the last 10 modeled minutes.
pub fn lag_datapoints(emulator: &Emulator) -> usize {
    let clock = control(emulator, "GET", "/_drpair/clock", &json!({}));
    let now = clock["epoch"].as_f64().unwrap();
    let out = emulator.aws_ok(
        "cloudwatch",
        DR,
        "GetMetricStatistics",
        &json!({ "Namespace": "AWS/RDS", "MetricName": "AuroraGlobalDBReplicationLag", "Dimensions": [{ "Name": "DBClusterIdentifier", "Value": DR_CLUSTER }], "StartTime": now - 600.0, "EndTime": now + 60.0, "Period": 60, "Statistics": ["Maximum"] }),
    );
    out["Datapoints"].as_array().map_or(0, Vec::len)
}

/// FailoverGlobalCluster calls the emulator answered.
pub fn failovers(emulator: &Emulator) -> i64 {
    let out = control(
        emulator,
        "GET",
        "/_drpair/calls?service=rds&operation=FailoverGlobalCluster",
        &json!({}),
    );
    out["total"].as_i64().unwrap_or_default()
}
