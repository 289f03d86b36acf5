//! The catalogue of alarms `drpair_monitoring` keeps, derived from its inputs: which metric,
//! in which region, with which threshold, under which deterministic name. Pure: no AWS here.
//!
//! Where each alarm lives, and why:
//! - Aurora `AuroraGlobalDBReplicationLag` and `AuroraGlobalDBRPOLag` are emitted by the
//!   secondary cluster, so they are alarmed in the DR region, as is the DR cluster's own
//!   availability (`EngineUptime`, missing data counting as down). The replication lag counts
//!   missing data as breaching: when the primary region is down the secondary stops
//!   replicating and publishes no datapoint at all, which is exactly the outage to alarm on.
//! - Route 53 publishes `HealthCheckStatus` only in us-east-1, so health-check alarms are made
//!   there (the side whose region is us-east-1). When us-east-1 itself is impaired those alarms
//!   go quiet; the DR region then relies on what it sees itself: the Aurora alarms above and
//!   the DynamoDB replication latency from the DR replica back to the primary.
//! - DynamoDB `ReplicationLatency` is emitted by the sending region per `ReceivingRegion`: the
//!   primary region alarms on replication to the DR region, the DR region on the way back.

use crate::aws::Role;

/// The only region where Route 53 publishes health-check metrics.
pub const ROUTE53_METRICS_REGION: &str = "us-east-1";

/// Stable kinds of alarm: the `drpair:part` tag of each alarm and the middle of its name.
pub mod kind {
    pub const REPLICATION_LAG: &str = "replication-lag";
    pub const RPO_LAG: &str = "rpo-lag";
    pub const DR_CLUSTER_AVAILABILITY: &str = "dr-cluster-availability";
    pub const HEALTH_CHECK: &str = "health-check";
    pub const SESSION_REPLICATION_TO_DR: &str = "session-replication-to-dr";
    pub const SESSION_REPLICATION_TO_PRIMARY: &str = "session-replication-to-primary";
}

/// The tag on the replication-lag alarm naming the global cluster it watches, so an import
/// can recover `global_cluster_identifier`.
pub const GLOBAL_CLUSTER_TAG: &str = "drpair:global-cluster";

/// What the alarms are derived from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlarmInputs {
    pub prefix: String,
    pub name_version: String,
    pub environment: String,
    pub primary_region: String,
    pub dr_region: String,
    pub global_cluster_identifier: Option<String>,
    pub dr_cluster_identifier: String,
    pub health_check_ids: Vec<String>,
    pub session_table_name: Option<String>,
    pub replication_lag_threshold_ms: f64,
    pub rpo_lag_threshold_ms: f64,
    pub session_replication_latency_threshold_ms: f64,
}

/// One CloudWatch metric alarm. Its actions (ALARM and OK) are the topic of its own region.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    /// The side whose region holds the alarm (and whose topic it notifies).
    pub role: Role,
    /// A [`kind`] constant.
    pub kind: &'static str,
    pub description: String,
    pub namespace: &'static str,
    pub metric_name: &'static str,
    pub dimensions: Vec<(String, String)>,
    /// `Maximum`, `Minimum` or `Average`.
    pub statistic: &'static str,
    pub period: i32,
    pub evaluation_periods: i32,
    pub datapoints_to_alarm: i32,
    pub threshold: f64,
    pub comparison: &'static str,
    pub treat_missing_data: &'static str,
    /// Tags beyond the standard ones (e.g. [`GLOBAL_CLUSTER_TAG`]).
    pub extra_tags: Vec<(String, String)>,
}

/// `{prefix}-{kind}-{name_version}-{environment}`, e.g. `drpair-replication-lag-v2-dev`.
pub fn alarm_name(inputs: &AlarmInputs, middle: &str) -> String {
    format!(
        "{}-{middle}-{}-{}",
        inputs.prefix, inputs.name_version, inputs.environment
    )
}

/// The side (if any) whose region is us-east-1, where health-check alarms must live.
pub fn route53_side(inputs: &AlarmInputs) -> Option<Role> {
    if inputs.primary_region == ROUTE53_METRICS_REGION {
        Some(Role::Primary)
    } else if inputs.dr_region == ROUTE53_METRICS_REGION {
        Some(Role::Dr)
    } else {
        None
    }
}

fn dims(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every alarm the inputs call for, in a stable order. Health-check alarms are left out when
/// neither region is us-east-1 (plan-time validation reports that case).
pub fn alarms(inputs: &AlarmInputs) -> Vec<AlarmSpec> {
    let mut out = Vec::new();
    if let Some(global) = &inputs.global_cluster_identifier {
        let cluster = inputs.dr_cluster_identifier.as_str();
        out.push(AlarmSpec {
            name: alarm_name(inputs, kind::REPLICATION_LAG),
            role: Role::Dr,
            kind: kind::REPLICATION_LAG,
            description: format!(
                "Aurora global database {global}: replication lag of the DR cluster {cluster} above {} ms, or no lag reported (replication stopped), for 3 minutes.",
                inputs.replication_lag_threshold_ms
            ),
            namespace: "AWS/RDS",
            metric_name: "AuroraGlobalDBReplicationLag",
            dimensions: dims(&[("DBClusterIdentifier", cluster)]),
            statistic: "Maximum",
            period: 60,
            evaluation_periods: 3,
            datapoints_to_alarm: 3,
            threshold: inputs.replication_lag_threshold_ms,
            comparison: "GreaterThanThreshold",
            // In a regional outage no datapoint arrives: "missing" would keep the alarm in its
            // last state (or INSUFFICIENT_DATA) for the whole outage.
            treat_missing_data: "breaching",
            extra_tags: vec![(GLOBAL_CLUSTER_TAG.to_string(), global.clone())],
        });
        out.push(AlarmSpec {
            name: alarm_name(inputs, kind::RPO_LAG),
            role: Role::Dr,
            kind: kind::RPO_LAG,
            description: format!(
                "Aurora global database {global}: recovery point lag of the DR cluster {cluster} above {} ms (emitted when a managed RPO is set).",
                inputs.rpo_lag_threshold_ms
            ),
            namespace: "AWS/RDS",
            metric_name: "AuroraGlobalDBRPOLag",
            dimensions: dims(&[("DBClusterIdentifier", cluster)]),
            statistic: "Maximum",
            period: 60,
            evaluation_periods: 3,
            datapoints_to_alarm: 3,
            threshold: inputs.rpo_lag_threshold_ms,
            comparison: "GreaterThanThreshold",
            treat_missing_data: "notBreaching",
            extra_tags: Vec::new(),
        });
        out.push(AlarmSpec {
            name: alarm_name(inputs, kind::DR_CLUSTER_AVAILABILITY),
            role: Role::Dr,
            kind: kind::DR_CLUSTER_AVAILABILITY,
            description: format!(
                "Aurora global database {global}: the DR cluster {cluster} restarted or stopped reporting (no EngineUptime for 3 minutes counts as down)."
            ),
            namespace: "AWS/RDS",
            metric_name: "EngineUptime",
            dimensions: dims(&[("DBClusterIdentifier", cluster)]),
            statistic: "Minimum",
            period: 60,
            evaluation_periods: 3,
            datapoints_to_alarm: 3,
            threshold: 60.0,
            comparison: "LessThanThreshold",
            treat_missing_data: "breaching",
            extra_tags: Vec::new(),
        });
    }
    if let Some(side) = route53_side(inputs) {
        for id in &inputs.health_check_ids {
            out.push(AlarmSpec {
                name: alarm_name(inputs, &format!("{}-{id}", kind::HEALTH_CHECK)),
                role: side,
                kind: kind::HEALTH_CHECK,
                description: format!(
                    "Route 53 health check {id} reports the endpoint unhealthy (HealthCheckStatus below 1). Route 53 publishes this metric only in us-east-1."
                ),
                namespace: "AWS/Route53",
                metric_name: "HealthCheckStatus",
                dimensions: dims(&[("HealthCheckId", id)]),
                statistic: "Minimum",
                period: 60,
                evaluation_periods: 1,
                datapoints_to_alarm: 1,
                threshold: 1.0,
                comparison: "LessThanThreshold",
                treat_missing_data: "breaching",
                extra_tags: Vec::new(),
            });
        }
    }
    if let Some(table) = &inputs.session_table_name {
        for (role, middle, receiving) in [
            (
                Role::Primary,
                kind::SESSION_REPLICATION_TO_DR,
                &inputs.dr_region,
            ),
            (
                Role::Dr,
                kind::SESSION_REPLICATION_TO_PRIMARY,
                &inputs.primary_region,
            ),
        ] {
            out.push(AlarmSpec {
                name: alarm_name(inputs, middle),
                role,
                kind: middle,
                description: format!(
                    "DynamoDB global table {table}: replication latency towards {receiving} above {} ms for 3 minutes.",
                    inputs.session_replication_latency_threshold_ms
                ),
                namespace: "AWS/DynamoDB",
                metric_name: "ReplicationLatency",
                dimensions: dims(&[("TableName", table), ("ReceivingRegion", receiving)]),
                statistic: "Average",
                period: 60,
                evaluation_periods: 3,
                datapoints_to_alarm: 3,
                threshold: inputs.session_replication_latency_threshold_ms,
                comparison: "GreaterThanThreshold",
                treat_missing_data: "notBreaching",
                extra_tags: Vec::new(),
            });
        }
    }
    out
}

/// The health-check id an alarm name carries (`{prefix}-health-check-{id}-{v}-{env}`).
pub fn health_check_id_of(inputs: &AlarmInputs, name: &str) -> Option<String> {
    let head = format!("{}-{}-", inputs.prefix, kind::HEALTH_CHECK);
    let tail = format!("-{}-{}", inputs.name_version, inputs.environment);
    name.strip_prefix(&head)?
        .strip_suffix(&tail)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> AlarmInputs {
        AlarmInputs {
            prefix: "drpair".into(),
            name_version: "v2".into(),
            environment: "dev".into(),
            primary_region: "us-east-1".into(),
            dr_region: "us-east-2".into(),
            global_cluster_identifier: Some("global-db-cluster-v2-dev".into()),
            dr_cluster_identifier: "dr-db-cluster-v2-dev".into(),
            health_check_ids: vec!["hc-1".into()],
            session_table_name: Some("session-table-v2-dev".into()),
            replication_lag_threshold_ms: 1000.0,
            rpo_lag_threshold_ms: 60000.0,
            session_replication_latency_threshold_ms: 1000.0,
        }
    }

    #[test]
    fn every_alarm_in_its_region() {
        let all = alarms(&inputs());
        let got: Vec<(&str, Role)> = all.iter().map(|a| (a.name.as_str(), a.role)).collect();
        assert_eq!(
            got,
            vec![
                ("drpair-replication-lag-v2-dev", Role::Dr),
                ("drpair-rpo-lag-v2-dev", Role::Dr),
                ("drpair-dr-cluster-availability-v2-dev", Role::Dr),
                ("drpair-health-check-hc-1-v2-dev", Role::Primary),
                ("drpair-session-replication-to-dr-v2-dev", Role::Primary),
                ("drpair-session-replication-to-primary-v2-dev", Role::Dr),
            ]
        );
        let lag = &all[0];
        assert_eq!(lag.metric_name, "AuroraGlobalDBReplicationLag");
        assert_eq!(
            lag.dimensions,
            vec![(
                "DBClusterIdentifier".to_string(),
                "dr-db-cluster-v2-dev".to_string()
            )]
        );
        assert_eq!(lag.threshold, 1000.0);
        assert_eq!(lag.comparison, "GreaterThanThreshold");
        assert_eq!(lag.treat_missing_data, "breaching");
        let to_dr = &all[4];
        assert_eq!(
            to_dr.dimensions[1],
            ("ReceivingRegion".to_string(), "us-east-2".to_string())
        );
    }

    #[test]
    fn health_checks_follow_us_east_1() {
        let mut i = inputs();
        i.primary_region = "us-west-2".into();
        i.dr_region = "us-east-1".into();
        let hc: Vec<Role> = alarms(&i)
            .iter()
            .filter(|a| a.kind == kind::HEALTH_CHECK)
            .map(|a| a.role)
            .collect();
        assert_eq!(hc, vec![Role::Dr]);
        i.dr_region = "eu-west-1".into();
        assert_eq!(route53_side(&i), None);
        assert!(alarms(&i).iter().all(|a| a.kind != kind::HEALTH_CHECK));
    }

    #[test]
    fn optional_inputs_leave_their_alarms_out() {
        let i = AlarmInputs {
            global_cluster_identifier: None,
            session_table_name: None,
            health_check_ids: Vec::new(),
            ..inputs()
        };
        assert!(alarms(&i).is_empty());
    }

    #[test]
    fn health_check_ids_from_names() {
        let i = inputs();
        assert_eq!(
            health_check_id_of(&i, "drpair-health-check-abc-123-v2-dev").as_deref(),
            Some("abc-123")
        );
        assert_eq!(health_check_id_of(&i, "drpair-rpo-lag-v2-dev"), None);
    }
}
