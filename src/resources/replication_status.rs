//! `data "drpair_replication_status"`: the live DR posture — which region
//! writes, how far the secondary lags, and whether each region's endpoint is
//! healthy. It feeds the outputs operators watch.

use super::failover::live::{self, GlobalView, Lag};
use crate::aws::Role;
use crate::framework::resource::DataSource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::provider::DrClient;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StatusModel {
    pub global_cluster_identifier: Val<String>,
    pub health_check_ids: Val<Vec<String>>,
    pub writer_region: Val<String>,
    pub replication_lag_ms: Val<f64>,
    pub rpo_lag_ms: Val<f64>,
    pub lag_measured_at: Val<String>,
    pub replication_lag: Val<String>,
    pub global_writer_endpoint: Val<String>,
    pub primary: Val<RegionStatus>,
    pub dr: Val<RegionStatus>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RegionStatus {
    pub region: Val<String>,
    pub cluster_identifier: Val<String>,
    pub endpoint: Val<String>,
    pub status: Val<String>,
    pub is_writer: Val<bool>,
    pub healthy: Val<bool>,
}

pub struct ReplicationStatus;

fn region_attribute(name: &str, what: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::string("region").computed().description("The AWS region."),
            Attribute::string("cluster_identifier").computed().description("The member cluster in this region (empty when there is none)."),
            Attribute::string("endpoint").computed().description("The cluster's endpoint: it accepts writes when this region is the writer."),
            Attribute::string("status").computed().description("The cluster's status (`available`, `failing-over`, …)."),
            Attribute::bool("is_writer").computed().description("Whether this region's cluster is the global database's writer."),
            Attribute::bool("healthy").computed().description("Route 53's verdict on this region's health check (null when no health check id was given for it)."),
        ],
    )
    .computed()
    .description(format!("The {what} region, by configuration (not by current role)."))
}

#[async_trait]
impl DataSource for ReplicationStatus {
    type Model = StatusModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_replication_status"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("Live replication status of a drpair global database: the writer region, the current replication lag (the latest `AuroraGlobalDBReplicationLag` datapoint from CloudWatch in the secondary's region) and the Route 53 health of each region. Read at every plan, so outputs built on it show the posture at that moment.")
                .attr(Attribute::string("global_cluster_identifier").required().description("The global cluster, e.g. `drpair_global_database.main.global_cluster_identifier`."))
                .attr(Attribute::string_list("health_check_ids").optional().description("Route 53 health checks in region order: `[primary, dr]`, e.g. from `drpair_failover_dns`."))
                .attr(Attribute::string("writer_region").computed().description("The region whose cluster currently accepts writes; the DR region after a failover."))
                .attr(Attribute::number("replication_lag_ms").computed().description("Latest replication lag of the secondary in milliseconds (`AuroraGlobalDBReplicationLag`); null when CloudWatch has no datapoint from the last 10 minutes (see `replication_lag`)."))
                .attr(Attribute::number("rpo_lag_ms").computed().description("Latest RPO lag of the secondary in milliseconds (`AuroraGlobalDBRPOLag`: how far its durable data trails the writer, what a failover would lose); null when there is no datapoint from the last 10 minutes."))
                .attr(Attribute::string("lag_measured_at").computed().description("When the latest replication lag datapoint was measured (RFC 3339, UTC); null without one."))
                .attr(Attribute::string("replication_lag").computed().description("The lag in words for outputs: `\"412 ms (RPO lag 500 ms), measured at 2026-12-05T10:41:00Z\"`, or `\"no datapoint yet ...\"` while a new secondary has published none, or why it is unknown (no secondary, the metric unreadable)."))
                .attr(Attribute::string("global_writer_endpoint").computed().description("The global database's writer endpoint: Aurora points it at the current writer, so it is the connection string that survives switchovers and failovers (empty if AWS reports none)."))
                .attr(region_attribute("primary", "primary"))
                .attr(region_attribute("dr", "DR")),
        )
    }

    fn validate(&self, config: &StatusModel, diags: &mut Diagnostics) {
        crate::resources::orchestrator::validate::cluster_identifier(
            &config.global_cluster_identifier,
            AttributePath::root().attr("global_cluster_identifier"),
            "global cluster identifier",
            diags,
        );
        if let Val::Known(ids) = &config.health_check_ids {
            if ids.len() > 2 {
                diags.error_at(
                    AttributePath::root().attr("health_check_ids"),
                    "Too many health checks",
                    format!("health_check_ids lists the primary's and the DR region's health check, in that order; got {}.", ids.len()),
                );
            }
        }
    }

    async fn read(
        &self,
        client: &DrClient,
        mut config: StatusModel,
        diags: &mut Diagnostics,
    ) -> Option<StatusModel> {
        let id = config.global_cluster_identifier.known()?.clone();
        // The DR region answers even when the primary region is down.
        let global = match live::find_global(client.aws.region(Role::Dr), &id).await {
            Ok(Some(g)) => g,
            Ok(None) => {
                diags.error_at(
                    AttributePath::root().attr("global_cluster_identifier"),
                    "Global database not found",
                    format!(
                        "No Aurora global cluster {id:?} is visible from {}.",
                        client.aws.dr.region
                    ),
                );
                return None;
            }
            Err(e) => {
                diags.error("Reading replication status", e.to_string());
                return None;
            }
        };
        let checks = config.health_check_ids.known().cloned().unwrap_or_default();
        let mut sides = Vec::new();
        for (i, role) in Role::BOTH.into_iter().enumerate() {
            match region_status(client, &global, role, checks.get(i)).await {
                Ok(s) => sides.push(s),
                Err(e) => {
                    diags.error("Reading replication status", e.to_string());
                    return None;
                }
            }
        }
        let secondary = global.members.iter().find(|m| !m.is_writer);
        let (lag, summary) = match secondary {
            Some(secondary) => {
                let rc = if secondary.region == client.aws.primary.region {
                    &client.aws.primary
                } else {
                    &client.aws.dr
                };
                match live::lag(rc, &secondary.cluster_identifier).await {
                    Ok(lag) => (
                        lag,
                        lag_summary(&secondary.cluster_identifier, &rc.region, &lag),
                    ),
                    Err(e) => {
                        diags.warning("Replication lag unavailable", e.to_string());
                        (Lag::default(), format!("unavailable: {e}"))
                    }
                }
            }
            None => (
                Lag::default(),
                "no secondary: the global database has no secondary cluster to measure".to_string(),
            ),
        };
        config.writer_region = Val::Known(
            global
                .writer()
                .map(|w| w.region.clone())
                .unwrap_or_default(),
        );
        config.replication_lag_ms = lag.replication.map_or(Val::Null, |r| Val::Known(r.value));
        config.rpo_lag_ms = lag.rpo.map_or(Val::Null, |r| Val::Known(r.value));
        config.lag_measured_at = lag
            .replication
            .map_or(Val::Null, |r| Val::Known(rfc3339(r.at_secs)));
        config.replication_lag = Val::Known(summary);
        config.global_writer_endpoint = Val::Known(global.endpoint.clone().unwrap_or_default());
        config.dr = Val::Known(sides.pop()?);
        config.primary = Val::Known(sides.pop()?);
        Some(config)
    }
}

async fn region_status(
    client: &DrClient,
    global: &GlobalView,
    role: Role,
    check: Option<&String>,
) -> Result<RegionStatus, crate::aws::AwsError> {
    let rc = client.aws.region(role);
    let member = global.member_in(&rc.region);
    let (status, endpoint) = match member {
        Some(m) => live::cluster_status(rc, &m.cluster_identifier)
            .await?
            .unwrap_or_default(),
        None => Default::default(),
    };
    let healthy = match check {
        Some(id) => Val::Known(live::health_check_healthy(&client.aws, id).await?),
        None => Val::Null,
    };
    Ok(RegionStatus {
        region: Val::Known(rc.region.clone()),
        cluster_identifier: Val::Known(
            member
                .map(|m| m.cluster_identifier.clone())
                .unwrap_or_default(),
        ),
        endpoint: Val::Known(endpoint),
        status: Val::Known(status),
        is_writer: Val::Known(member.is_some_and(|m| m.is_writer)),
        healthy,
    })
}

fn rfc3339(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_else(|_| secs.to_string())
}

/// The lag in words: the latest value with the RPO lag and when it was measured, or "no
/// datapoint yet" while the secondary has published none.
fn lag_summary(cluster: &str, region: &str, lag: &Lag) -> String {
    let Some(replication) = lag.replication else {
        return format!("no datapoint yet: CloudWatch in {region} has no AuroraGlobalDBReplicationLag of {cluster} from the last 10 minutes (Aurora publishes it every minute once the secondary replicates)");
    };
    let rpo = lag.rpo.map_or("no datapoint yet".to_string(), |r| {
        format!("{:.0} ms", r.value)
    });
    format!(
        "{:.0} ms (RPO lag {rpo}), measured at {}",
        replication.value,
        rfc3339(replication.at_secs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::failover::live::Reading;

    #[test]
    fn lag_in_words() {
        let none = Lag::default();
        let text = lag_summary("dr-db-cluster-v2-dev", "us-east-2", &none);
        assert!(text.starts_with("no datapoint yet"), "{text}");
        assert!(
            text.contains("dr-db-cluster-v2-dev") && text.contains("us-east-2"),
            "{text}"
        );
        let at = 1_796_000_460; // 2026-11-30T01:01:00Z
        let measured = Lag {
            replication: Some(Reading {
                value: 412.4,
                at_secs: at,
            }),
            rpo: Some(Reading {
                value: 500.0,
                at_secs: at,
            }),
        };
        assert_eq!(
            lag_summary("c", "r", &measured),
            format!("412 ms (RPO lag 500 ms), measured at {}", rfc3339(at))
        );
        assert_eq!(rfc3339(at), "2026-11-30T01:01:00Z");
        let no_rpo = Lag {
            rpo: None,
            ..measured
        };
        assert!(lag_summary("c", "r", &no_rpo).contains("RPO lag no datapoint yet"));
    }
}
