//! The AWS side of `drpair_failover_orchestrator`, all in the DR region (IAM is global): what
//! should exist ([`Spec`]: names, the functions' environment, the IAM policies, the EventBridge
//! rules, the functions' log groups and their KMS key) and, in the submodules, finding,
//! ensuring, observing and destroying it.
//!
//! Every object has a deterministic name derived from the provider's `name_version` and
//! `environment`, and carries the owner tag, so an interrupted apply is completed by the next
//! one and a destroy finds everything.

pub mod destroy;
pub mod ensure;
pub mod functions;
pub mod logs;
pub mod observe;
pub mod parts;
pub mod policy;
pub mod rules;
pub mod table;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::aws::iam::Account;
use crate::aws::tags::{standard_tags, Tags};

pub use destroy::destroy;
pub use ensure::ensure;
pub use observe::{drift, observe, Observed};

/// The drpair resource type, in owner tags.
pub const RESOURCE_TYPE: &str = "drpair_failover_orchestrator";
pub const SCHEDULE: &str = "rate(1 minute)";
/// The orchestrator may wait minutes for Aurora to promote the DR cluster.
pub const ORCHESTRATOR_TIMEOUT_SECONDS: i32 = 600;
pub const ORCHESTRATOR_MEMORY_MB: i32 = 256;
pub const NOTIFIER_TIMEOUT_SECONDS: i32 = 60;
pub const NOTIFIER_MEMORY_MB: i32 = 128;
/// Statement ids of the functions' resource policies (one per rule that invokes them).
pub const ALARMS_PERMISSION: &str = "drpair-alarm-rule";
pub const PROBE_PERMISSION: &str = "drpair-probe-rule";
/// Target ids on the rules.
pub const ORCHESTRATOR_TARGET: &str = "orchestrator";
pub const NOTIFIER_TARGET: &str = "notifier";
pub const POLICY_NAME: &str = "drpair-failover";

/// The start of the resource id, the orchestrator function's name.
pub const ID_PREFIX: &str = "failover-orchestrator-";

/// The deterministic names of every part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// `{name_version}-{environment}`: what every name ends with.
    pub suffix: String,
    pub orchestrator: String,
    pub notifier: String,
    pub orchestrator_role: String,
    pub notifier_role: String,
    pub alarm_rule: String,
    pub probe_rule: String,
    pub table: String,
    /// The alias of the KMS key encrypting the functions' log groups.
    pub logs_key_alias: String,
}

impl Names {
    /// `failover-orchestrator-v2-dev` and its siblings for the suffix `v2-dev`; role names (IAM
    /// is global) end with the DR region.
    pub fn new(suffix: &str, dr_region: &str) -> Names {
        let n = |base: &str| format!("{base}-{suffix}");
        Names {
            suffix: suffix.to_owned(),
            orchestrator: n("failover-orchestrator"),
            notifier: n("failover-notifier"),
            orchestrator_role: format!("{}-{dr_region}", n("failover-orchestrator")),
            notifier_role: format!("{}-{dr_region}", n("failover-notifier")),
            alarm_rule: n("failover-alarms"),
            probe_rule: n("failover-probe"),
            table: n("failover-state"),
            logs_key_alias: format!("alias/{}", n("failover-logs")),
        }
    }

    /// The names of the deployment whose id (orchestrator function name) is `id`.
    pub fn from_id(id: &str, dr_region: &str) -> Option<Names> {
        let suffix = id.strip_prefix(ID_PREFIX).filter(|s| !s.is_empty())?;
        Some(Names::new(suffix, dr_region))
    }
}

/// How far the orchestrator scales the DR group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScaleTo {
    pub min_size: i64,
    pub desired_capacity: i64,
}

/// What the user configured; the functions carry it in their environment, which is where
/// read and import take it back from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    pub global_cluster_identifier: String,
    pub dr_cluster_identifier: String,
    pub primary_health_check_id: String,
    pub dr_asg_name: String,
    pub topic_arns: Vec<String>,
    pub mode: String,
    pub consecutive_failures: i64,
    /// Lag above which (held for the stall window) replication counts as stopped.
    pub replication_lag_threshold_ms: i64,
    pub alarm_name_prefix: String,
    pub scale_to: Option<ScaleTo>,
    /// The name the primary's certificate is checked against when the probe's URL is https://.
    pub primary_endpoint_tls_name: Option<String>,
}

const ENV_MODE: &str = "MODE";
const ENV_GLOBAL: &str = "GLOBAL_CLUSTER_IDENTIFIER";
const ENV_DR_CLUSTER: &str = "DR_CLUSTER_IDENTIFIER";
const ENV_HEALTH_CHECK: &str = "HEALTH_CHECK_ID";
const ENV_ASG: &str = "DR_ASG_NAME";
const ENV_TOPICS: &str = "TOPIC_ARNS";
const ENV_FAILURES: &str = "CONSECUTIVE_FAILURES";
const ENV_LAG_THRESHOLD: &str = "LAG_THRESHOLD_MS";
const ENV_PREFIX: &str = "ALARM_NAME_PREFIX";
const ENV_MIN: &str = "SCALE_MIN_SIZE";
const ENV_DESIRED: &str = "SCALE_DESIRED_CAPACITY";
const ENV_TLS_NAME: &str = "PRIMARY_ENDPOINT_TLS_NAME";

impl Inputs {
    fn to_env(&self, env: &mut BTreeMap<String, String>) {
        let mut set = |k: &str, v: String| {
            env.insert(k.to_owned(), v);
        };
        set(ENV_MODE, self.mode.clone());
        set(ENV_GLOBAL, self.global_cluster_identifier.clone());
        set(ENV_DR_CLUSTER, self.dr_cluster_identifier.clone());
        set(ENV_HEALTH_CHECK, self.primary_health_check_id.clone());
        set(ENV_ASG, self.dr_asg_name.clone());
        set(ENV_TOPICS, self.topic_arns.join(","));
        set(ENV_FAILURES, self.consecutive_failures.to_string());
        set(
            ENV_LAG_THRESHOLD,
            self.replication_lag_threshold_ms.to_string(),
        );
        set(ENV_PREFIX, self.alarm_name_prefix.clone());
        if let Some(s) = self.scale_to {
            set(ENV_MIN, s.min_size.to_string());
            set(ENV_DESIRED, s.desired_capacity.to_string());
        }
        if let Some(name) = &self.primary_endpoint_tls_name {
            set(ENV_TLS_NAME, name.clone());
        }
    }

    /// The inputs a function's environment holds; None when it is not one drpair wrote.
    pub fn from_env(env: &BTreeMap<String, String>) -> Option<Inputs> {
        let get = |k: &str| env.get(k).cloned();
        let number = |k: &str| get(k).and_then(|v| v.parse::<i64>().ok());
        let scale_to = match (number(ENV_MIN), number(ENV_DESIRED)) {
            (Some(min_size), Some(desired_capacity)) => Some(ScaleTo {
                min_size,
                desired_capacity,
            }),
            _ => None,
        };
        Some(Inputs {
            global_cluster_identifier: get(ENV_GLOBAL)?,
            dr_cluster_identifier: get(ENV_DR_CLUSTER)?,
            primary_health_check_id: get(ENV_HEALTH_CHECK)?,
            dr_asg_name: get(ENV_ASG)?,
            topic_arns: get(ENV_TOPICS)?
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            mode: get(ENV_MODE)?,
            consecutive_failures: number(ENV_FAILURES)?,
            // Functions deployed before the setting existed: the default (the environment
            // then differs from the spec, and the next apply writes it).
            replication_lag_threshold_ms: number(ENV_LAG_THRESHOLD)
                .unwrap_or(super::DEFAULT_LAG_THRESHOLD_MS),
            alarm_name_prefix: get(ENV_PREFIX).unwrap_or_default(),
            scale_to,
            primary_endpoint_tls_name: get(ENV_TLS_NAME),
        })
    }
}

/// Everything the AWS side needs to know.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Spec {
    /// The orchestrator function's name; the resource id.
    pub id: String,
    pub names: Names,
    pub environment: String,
    pub primary_region: String,
    pub dr_region: String,
    pub inputs: Inputs,
    pub default_tags: Tags,
    pub user_tags: Tags,
    /// How long CloudWatch Logs keeps the functions' logs (one of [`logs::RETENTION_DAYS`]).
    pub log_retention_days: i64,
}

impl Spec {
    /// `drpair_failover_orchestrator/failover-orchestrator-v2-dev`.
    pub fn owner(&self) -> String {
        owner_tag_value(&self.id)
    }

    /// The tags of one part (`part` names it inside the resource).
    pub fn tags(&self, part: &str, name: &str) -> Tags {
        standard_tags(
            &self.environment,
            "dr",
            &self.owner(),
            part,
            Some(name),
            &self.default_tags,
            &self.user_tags,
        )
    }

    /// Every alarm name this deployment watches ends so (the naming rule of drpair objects:
    /// `-{name_version}-{environment}`).
    pub fn alarm_name_suffix(&self) -> String {
        format!("-{}", self.names.suffix)
    }

    /// Both functions' environment. `primary_endpoint_url` is the endpoint the health check
    /// probes: the orchestrator probes it directly from the DR region (a data plane; Route 53's API is a control plane in us-east-1).
    pub fn function_environment(
        &self,
        primary_endpoint_url: Option<&str>,
    ) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        self.inputs.to_env(&mut env);
        env.insert("ENVIRONMENT".into(), self.environment.clone());
        env.insert("PRIMARY_REGION".into(), self.primary_region.clone());
        env.insert("DR_REGION".into(), self.dr_region.clone());
        env.insert("STATE_TABLE".into(), self.names.table.clone());
        env.insert("ALARM_NAME_SUFFIX".into(), self.alarm_name_suffix());
        if let Some(url) = primary_endpoint_url {
            env.insert("PRIMARY_ENDPOINT_URL".into(), url.to_owned());
        }
        env
    }

    /// The alarm rule's event pattern: state changes of the alarms named
    /// `{alarm_name_prefix}*-{name_version}-{environment}` (drpair_monitoring's names).
    pub fn alarm_event_pattern(&self) -> Value {
        json!({
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": { "alarmName": [{ "wildcard": format!("{}*{}", self.inputs.alarm_name_prefix, self.alarm_name_suffix()) }] },
        })
    }

    pub fn table_arn(&self, account: &Account) -> String {
        format!(
            "arn:{}:dynamodb:{}:{}:table/{}",
            account.partition, self.dr_region, account.id, self.names.table
        )
    }
}

pub fn owner_tag_value(id: &str) -> String {
    format!("{RESOURCE_TYPE}/{id}")
}

/// The URL a Route 53 health check probes, for HTTP(S) checks of an endpoint.
pub fn health_check_url(
    kind: &str,
    host: Option<&str>,
    ip: Option<&str>,
    port: Option<i32>,
    path: Option<&str>,
) -> Option<String> {
    let scheme = match kind {
        "HTTP" | "HTTP_STR_MATCH" => "http",
        "HTTPS" | "HTTPS_STR_MATCH" => "https",
        _ => return None,
    };
    let host = match (host.filter(|h| !h.is_empty()), ip.filter(|i| !i.is_empty())) {
        (Some(h), _) => h.to_owned(),
        (None, Some(ip)) if ip.contains(':') => format!("[{ip}]"),
        (None, Some(ip)) => ip.to_owned(),
        (None, None) => return None,
    };
    let default_port = if scheme == "https" { 443 } else { 80 };
    let port = match port {
        Some(p) if p != default_port => format!(":{p}"),
        _ => String::new(),
    };
    let path = path.unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Some(format!("{scheme}://{host}{port}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn spec() -> Spec {
        Spec {
            id: "failover-orchestrator-v2-dev".into(),
            names: Names::new("v2-dev", "us-east-2"),
            environment: "dev".into(),
            primary_region: "us-east-1".into(),
            dr_region: "us-east-2".into(),
            inputs: Inputs {
                global_cluster_identifier: "global-db-cluster-v2-dev".into(),
                dr_cluster_identifier: "dr-db-cluster-v2-dev".into(),
                primary_health_check_id: "abc-123".into(),
                dr_asg_name: "payments-web-dev-dr".into(),
                topic_arns: vec![
                    "arn:aws:sns:us-east-1:123456789012:drpair-alerts-v2-dev".into(),
                    "arn:aws:sns:us-east-2:123456789012:drpair-alerts-v2-dev".into(),
                ],
                mode: "automatic".into(),
                consecutive_failures: 2,
                replication_lag_threshold_ms: 1000,
                alarm_name_prefix: "drpair-".into(),
                primary_endpoint_tls_name: Some("api.payments.example.com".into()),
                scale_to: Some(ScaleTo {
                    min_size: 2,
                    desired_capacity: 4,
                }),
            },
            default_tags: [("CostCenter".to_string(), "payments".to_string())].into(),
            user_tags: Tags::new(),
            log_retention_days: logs::DEFAULT_RETENTION_DAYS,
        }
    }

    pub(crate) fn account() -> Account {
        Account {
            id: "123456789012".into(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn names() {
        let n = Names::new("v2-dev", "us-east-2");
        assert_eq!(
            Names::from_id("failover-orchestrator-v2-dev", "us-east-2"),
            Some(n.clone())
        );
        assert_eq!(Names::from_id("failover-orchestrator-", "us-east-2"), None);
        assert_eq!(Names::from_id("other-v2-dev", "us-east-2"), None);
        assert_eq!(n.orchestrator, "failover-orchestrator-v2-dev");
        assert_eq!(n.notifier, "failover-notifier-v2-dev");
        assert_eq!(
            n.orchestrator_role,
            "failover-orchestrator-v2-dev-us-east-2"
        );
        assert_eq!(n.alarm_rule, "failover-alarms-v2-dev");
        assert_eq!(n.probe_rule, "failover-probe-v2-dev");
        assert_eq!(n.table, "failover-state-v2-dev");
        assert_eq!(n.logs_key_alias, "alias/failover-logs-v2-dev");
    }

    #[test]
    fn inputs_round_trip_through_the_environment() {
        let s = spec();
        let env = s.function_environment(Some("http://primary.example.com/health"));
        assert_eq!(env["TOPIC_ARNS"], s.inputs.topic_arns.join(","));
        assert_eq!(env["ALARM_NAME_SUFFIX"], "-v2-dev");
        assert_eq!(env["STATE_TABLE"], "failover-state-v2-dev");
        assert_eq!(env["SCALE_DESIRED_CAPACITY"], "4");
        assert_eq!(env["LAG_THRESHOLD_MS"], "1000");
        assert_eq!(env["PRIMARY_ENDPOINT_TLS_NAME"], "api.payments.example.com");
        assert_eq!(
            env["PRIMARY_ENDPOINT_URL"],
            "http://primary.example.com/health"
        );
        assert_eq!(Inputs::from_env(&env), Some(s.inputs.clone()));
        let without_scale = Inputs {
            scale_to: None,
            ..s.inputs.clone()
        };
        let mut env = BTreeMap::new();
        without_scale.to_env(&mut env);
        assert!(!env.contains_key("SCALE_MIN_SIZE"));
        assert_eq!(Inputs::from_env(&env), Some(without_scale));
        assert_eq!(Inputs::from_env(&BTreeMap::new()), None);
    }

    #[test]
    fn alarm_pattern_matches_monitoring_names() {
        let pattern = spec().alarm_event_pattern();
        assert_eq!(
            pattern["detail"]["alarmName"][0]["wildcard"],
            "drpair-*-v2-dev"
        );
        assert_eq!(pattern["source"][0], "aws.cloudwatch");
    }

    #[test]
    fn tags_of_a_part() {
        let tags = spec().tags("orchestrator-function", "failover-orchestrator-v2-dev");
        assert_eq!(tags["DR-Role"], "dr");
        assert_eq!(tags["Environment"], "dev");
        assert_eq!(tags["CostCenter"], "payments");
        assert_eq!(
            tags["drpair:owner"],
            "drpair_failover_orchestrator/failover-orchestrator-v2-dev"
        );
    }

    #[test]
    fn health_check_urls() {
        let cases = [
            (
                (
                    "HTTP",
                    Some("a.example.com"),
                    None,
                    Some(80),
                    Some("/health"),
                ),
                Some("http://a.example.com/health"),
            ),
            (
                ("HTTPS", Some("a.example.com"), None, Some(8443), Some("ok")),
                Some("https://a.example.com:8443/ok"),
            ),
            (
                ("HTTP_STR_MATCH", None, Some("10.0.0.1"), Some(8080), None),
                Some("http://10.0.0.1:8080/"),
            ),
            (
                ("HTTPS", None, Some("2001:db8::1"), Some(443), None),
                Some("https://[2001:db8::1]/"),
            ),
            (("TCP", Some("a.example.com"), None, Some(80), None), None),
            (("CALCULATED", None, None, None, None), None),
            (("HTTP", None, None, Some(80), None), None),
        ];
        for ((kind, host, ip, port, path), expected) in cases {
            assert_eq!(
                health_check_url(kind, host, ip, port, path).as_deref(),
                expected,
                "{kind} {host:?} {ip:?}"
            );
        }
    }
}
