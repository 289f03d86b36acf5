//! Live state of a global database, read at the moment it matters: which
//! region writes, the members' health, the replication lag and the Route 53
//! health of each region. Shared by the `drpair_failover` action and the
//! `drpair_replication_status` data source.

use crate::aws::{AwsContext, AwsError, RegionCtx, Role};
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_smithy_types::DateTime;
use std::time::{SystemTime, UNIX_EPOCH};

const GLOBAL_CLUSTER: &str = "Aurora global cluster";
const CLUSTER: &str = "Aurora cluster";

/// One member cluster of the global database.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub arn: String,
    pub region: String,
    pub cluster_identifier: String,
    pub is_writer: bool,
}

/// A switchover or failover AWS has accepted (`FailoverState`), while it is scheduled or runs.
#[derive(Clone, Debug, PartialEq)]
pub struct FailoverView {
    /// `pending`, `failing-over`, `switching-over` or `cancelling`.
    pub status: String,
    pub from_arn: String,
    pub to_arn: String,
    /// True for a failover (`AllowDataLoss`), false for a switchover.
    pub data_loss_allowed: bool,
}

/// The FailoverState statuses of a move that is requested or running: AWS verifies the
/// clusters (`pending`), then promotes the target (`failing-over` / `switching-over`).
pub const IN_PROGRESS: [&str; 3] = ["pending", "failing-over", "switching-over"];

impl FailoverView {
    /// The move is scheduled or running: requesting it again would be a second failover.
    pub fn in_progress(&self) -> bool {
        IN_PROGRESS.contains(&self.status.as_str())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct GlobalView {
    pub identifier: String,
    pub status: String,
    pub members: Vec<Member>,
    /// The switchover or failover under way, if any.
    pub failover: Option<FailoverView>,
    /// The global writer endpoint, which always points at the current writer.
    pub endpoint: Option<String>,
}

impl GlobalView {
    pub fn writer(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.is_writer)
    }

    pub fn member_in(&self, region: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.region == region)
    }
}

/// `arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-dev` → region
/// and identifier.
fn parse_cluster_arn(arn: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        [_, _, _, region, _, "cluster", id] => Some((region.to_string(), id.to_string())),
        _ => None,
    }
}

/// Describes the global cluster from `rc`'s region (any member region
/// serves it; the DR region is the one that survives a primary outage).
pub async fn find_global(rc: &RegionCtx, id: &str) -> Result<Option<GlobalView>, AwsError> {
    let out = match rc
        .rds()
        .describe_global_clusters()
        .global_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            let err = AwsError::from_sdk("reading", GLOBAL_CLUSTER, id, &rc.region, e);
            return if err.is_not_found() {
                Ok(None)
            } else {
                Err(err)
            };
        }
    };
    let Some(g) = out
        .global_clusters()
        .iter()
        .find(|g| g.global_cluster_identifier() == Some(id))
    else {
        return Ok(None);
    };
    let members = g
        .global_cluster_members()
        .iter()
        .filter_map(|m| {
            let arn = m.db_cluster_arn()?.to_string();
            let (region, cluster_identifier) = parse_cluster_arn(&arn)?;
            Some(Member {
                arn,
                region,
                cluster_identifier,
                is_writer: m.is_writer().unwrap_or(false),
            })
        })
        .collect();
    let failover = g.failover_state().and_then(|f| {
        Some(FailoverView {
            status: f.status()?.as_str().to_string(),
            from_arn: f.from_db_cluster_arn().unwrap_or_default().to_string(),
            to_arn: f.to_db_cluster_arn().unwrap_or_default().to_string(),
            data_loss_allowed: f.is_data_loss_allowed().unwrap_or(false),
        })
    });
    Ok(Some(GlobalView {
        identifier: id.to_string(),
        status: g.status().unwrap_or_default().to_string(),
        members,
        failover,
        endpoint: g.endpoint().filter(|e| !e.is_empty()).map(str::to_string),
    }))
}

/// A member cluster's status and writer endpoint, from its own region.
pub async fn cluster_status(
    rc: &RegionCtx,
    id: &str,
) -> Result<Option<(String, String)>, AwsError> {
    match rc
        .rds()
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.db_clusters().first().map(|c| {
            (
                c.status().unwrap_or_default().to_string(),
                c.endpoint().unwrap_or_default().to_string(),
            )
        })),
        Err(e) => {
            let err = AwsError::from_sdk("reading", CLUSTER, id, &rc.region, e);
            if err.is_not_found() {
                Ok(None)
            } else {
                Err(err)
            }
        }
    }
}

/// The latest datapoint of a global database metric: its value and when it was measured
/// (the datapoint's timestamp, epoch seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Reading {
    pub value: f64,
    pub at_secs: i64,
}

/// A secondary's latest `AuroraGlobalDBReplicationLag` and `AuroraGlobalDBRPOLag` (ms), which
/// Aurora publishes for secondary clusters only, in the secondary's region; None for a metric
/// without a datapoint in the last 10 minutes (a new secondary has none yet).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Lag {
    pub replication: Option<Reading>,
    pub rpo: Option<Reading>,
}

const LAG_METRICS: [(&str, &str); 2] = [
    ("replication", "AuroraGlobalDBReplicationLag"),
    ("rpo", "AuroraGlobalDBRPOLag"),
];

/// Both lag metrics of a secondary cluster, in one GetMetricData call.
pub async fn lag(rc: &RegionCtx, cluster_id: &str) -> Result<Lag, AwsError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let queries = LAG_METRICS.iter().map(|(id, name)| {
        let metric = Metric::builder()
            .namespace("AWS/RDS")
            .metric_name(*name)
            .dimensions(
                Dimension::builder()
                    .name("DBClusterIdentifier")
                    .value(cluster_id)
                    .build(),
            )
            .build();
        MetricDataQuery::builder()
            .id(*id)
            .metric_stat(
                MetricStat::builder()
                    .metric(metric)
                    .period(60)
                    .stat("Maximum")
                    .build(),
            )
            .build()
    });
    let out = rc
        .cloudwatch()
        .get_metric_data()
        .set_metric_data_queries(Some(queries.collect()))
        .start_time(DateTime::from_secs(now - 600))
        .end_time(DateTime::from_secs(now + 60))
        .send()
        .await
        .map_err(|e| {
            AwsError::from_sdk(
                "reading",
                "replication lag metrics",
                cluster_id,
                &rc.region,
                e,
            )
        })?;
    let latest = |id: &str| {
        out.metric_data_results()
            .iter()
            .find(|r| r.id() == Some(id))
            .and_then(|r| {
                r.timestamps()
                    .iter()
                    .zip(r.values())
                    .max_by_key(|(t, _)| t.secs())
                    .map(|(t, v)| Reading {
                        value: *v,
                        at_secs: t.secs(),
                    })
            })
    };
    Ok(Lag {
        replication: latest("replication"),
        rpo: latest("rpo"),
    })
}

/// The latest `AuroraGlobalDBReplicationLag` (ms) of a secondary cluster, from
/// CloudWatch in the secondary's region; None when no datapoint in 10 minutes.
pub async fn replication_lag_ms(rc: &RegionCtx, cluster_id: &str) -> Result<Option<f64>, AwsError> {
    Ok(lag(rc, cluster_id).await?.replication.map(|r| r.value))
}

/// Route 53's view of a health check: healthy when more than 18% of its
/// checkers report success, as Route 53 itself decides.
pub async fn health_check_healthy(aws: &AwsContext, id: &str) -> Result<bool, AwsError> {
    // Route 53 is global; its API lives with the primary region's endpoint.
    let rc = aws.region(Role::Primary);
    let out = rc
        .route53()
        .get_health_check_status()
        .health_check_id(id)
        .send()
        .await
        .map_err(|e| {
            AwsError::from_sdk("reading", "Route 53 health check status", id, "global", e)
        })?;
    let observations = out.health_check_observations();
    if observations.is_empty() {
        return Ok(false);
    }
    let ok = observations
        .iter()
        .filter(|o| {
            o.status_report()
                .and_then(|r| r.status())
                .is_some_and(|s| s.starts_with("Success"))
        })
        .count();
    Ok(ok * 100 > observations.len() * 18)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_and_running_moves_are_in_progress() {
        let view = |status: &str| FailoverView {
            status: status.into(),
            from_arn: "a".into(),
            to_arn: "b".into(),
            data_loss_allowed: true,
        };
        for status in ["pending", "failing-over", "switching-over"] {
            assert!(view(status).in_progress(), "{status}");
        }
        assert!(!view("cancelling").in_progress());
    }

    #[test]
    fn cluster_arns() {
        assert_eq!(
            parse_cluster_arn("arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-dev"),
            Some(("us-east-2".into(), "dr-db-cluster-v2-dev".into()))
        );
        assert_eq!(parse_cluster_arn("arn:aws:rds:us-east-2:1:db:x"), None);
        assert_eq!(parse_cluster_arn("nonsense"), None);
    }
}
