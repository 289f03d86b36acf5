//! `data "drpair_replication_status"`: the live DR posture — which region
//! writes, how far the secondary lags, and whether each region's endpoint is
//! healthy. It feeds the outputs operators watch.

use super::failover::live::{self, GlobalView};
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
                .attr(Attribute::number("replication_lag_ms").computed().description("Latest replication lag of the secondary in milliseconds; null when CloudWatch has no datapoint from the last 10 minutes."))
                .attr(region_attribute("primary", "primary"))
                .attr(region_attribute("dr", "DR")),
        )
    }

    fn validate(&self, config: &StatusModel, diags: &mut Diagnostics) {
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
        let lag = match global.members.iter().find(|m| !m.is_writer) {
            Some(secondary) => {
                let rc = if secondary.region == client.aws.primary.region {
                    &client.aws.primary
                } else {
                    &client.aws.dr
                };
                match live::replication_lag_ms(rc, &secondary.cluster_identifier).await {
                    Ok(lag) => lag,
                    Err(e) => {
                        diags.warning("Replication lag unavailable", e.to_string());
                        None
                    }
                }
            }
            None => None,
        };
        config.writer_region = Val::Known(
            global
                .writer()
                .map(|w| w.region.clone())
                .unwrap_or_default(),
        );
        config.replication_lag_ms = lag.map_or(Val::Null, Val::Known);
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
