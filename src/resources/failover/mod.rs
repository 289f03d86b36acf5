//! `action "drpair_failover"`: operator-initiated moves of the writer.
//!
//! - `switchover`: planned, RPO 0 — Aurora waits until the DR secondary is in
//!   sync before it switches; refused when a member is unhealthy or the lag
//!   is above `max_replication_lag_ms`.
//! - `failover`: unplanned, `AllowDataLoss` — does not wait for the primary,
//!   so writes not yet replicated are lost; needs `allow_data_loss = true`.
//! - `failback`: a switchover back to the configured primary region once it
//!   is a healthy secondary again.
//! - `drill`: a switchover to the DR region and back, with a measured
//!   timeline.
//!
//! The calls go to the target region's RDS endpoint, which is alive by
//! definition. The resources are role-aware, so `terraform plan` stays empty
//! after any of these.

pub mod live;

use crate::aws::{wait_for, AwsError, Deadline, Poll, RegionCtx};
use crate::framework::action::{Action, Progress};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::provider::DrClient;
use crate::resources::timeouts::parse_duration;
use async_trait::async_trait;
use live::GlobalView;
use serde::Deserialize;
use std::time::{Duration, Instant};

const MODES: [&str; 4] = ["switchover", "failover", "failback", "drill"];
const DEFAULT_MAX_LAG_MS: i64 = 1000;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Deserialize)]
pub struct FailoverConfig {
    pub global_cluster_identifier: Val<String>,
    pub mode: Val<String>,
    pub allow_data_loss: Val<bool>,
    pub max_replication_lag_ms: Val<i64>,
    pub timeout: Val<String>,
}

pub struct Failover;

#[async_trait]
impl Action for Failover {
    type Model = FailoverConfig;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_failover"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("Moves the writer of a drpair global database between the regions on an operator's command: `terraform apply -invoke=action.drpair_failover.NAME`. `switchover` is planned (RPO 0: Aurora waits for the DR copy to be in sync), `failover` is for when the primary is gone (`AllowDataLoss`: unreplicated writes are lost), `failback` switches back to the configured primary region, `drill` switches over and back and reports the measured timeline. Progress is streamed; the lag at the moment of the switch and each step's duration are reported.")
                .attr(Attribute::string("global_cluster_identifier").required().description("The global cluster, e.g. `drpair_global_database.main.global_cluster_identifier`."))
                .attr(Attribute::string("mode").required().description("`switchover`, `failover`, `failback` or `drill`."))
                .attr(Attribute::bool("allow_data_loss").optional().description("Must be `true` for `failover`: the promoted region may lack the last writes of the failed one."))
                .attr(Attribute::number("max_replication_lag_ms").optional().description("`switchover`, `failback` and `drill` refuse to start when the secondary lags more than this (default 1000)."))
                .attr(Attribute::string("timeout").optional().description("How long to wait for each switch, e.g. `15m` (default).")),
        )
    }

    fn validate(&self, config: &FailoverConfig, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        if let Val::Known(mode) = &config.mode {
            if !MODES.contains(&mode.as_str()) {
                diags.error_at(
                    root.attr("mode"),
                    "Unknown failover mode",
                    format!("{mode:?} is not one of {}.", MODES.join(", ")),
                );
            }
            if mode == "failover"
                && config.allow_data_loss != Val::Known(true)
                && !config.allow_data_loss.is_unknown()
            {
                diags.error_at(
                    root.attr("allow_data_loss"),
                    "Failover needs allow_data_loss = true",
                    "An unplanned failover promotes the DR region without waiting for the primary, so writes not yet replicated are lost. Set allow_data_loss = true to accept that, or use mode = \"switchover\" while the primary is healthy (no data loss).",
                );
            }
        }
        if let Val::Known(t) = &config.timeout {
            if parse_duration(t).is_none() {
                diags.error_at(
                    root.attr("timeout"),
                    "Invalid timeout",
                    format!("{t:?} is not a duration such as \"15m\"."),
                );
            }
        }
        if let Val::Known(n) = config.max_replication_lag_ms {
            if n < 0 {
                diags.error_at(
                    root.attr("max_replication_lag_ms"),
                    "Invalid lag limit",
                    "max_replication_lag_ms must not be negative.",
                );
            }
        }
    }

    async fn plan(&self, client: &DrClient, config: &FailoverConfig, diags: &mut Diagnostics) {
        // Later steps of a drill depend on the earlier ones; each is checked
        // again right before it runs.
        if let Some(plan) = prepare(client, config, diags).await {
            if let Some(first) = plan.steps.first() {
                if let Err(why) = precheck(&plan.global, client, first) {
                    diags.error(format!("Cannot {}", plan.mode), why);
                }
            }
        }
    }

    async fn invoke(
        &self,
        client: &DrClient,
        config: FailoverConfig,
        progress: Progress,
        diags: &mut Diagnostics,
    ) {
        let Some(plan) = prepare(client, &config, diags).await else {
            return;
        };
        let max_lag = config
            .max_replication_lag_ms
            .known()
            .copied()
            .unwrap_or(DEFAULT_MAX_LAG_MS) as f64;
        let timeout = config
            .timeout
            .known()
            .and_then(|t| parse_duration(t))
            .unwrap_or(DEFAULT_TIMEOUT);
        let started = Instant::now();
        let mut timeline = Vec::new();
        let mut global = plan.global;
        for step in &plan.steps {
            if let Err(why) = precheck(&global, client, step) {
                diags.error(format!("Cannot {}", plan.mode), why);
                return;
            }
            match switch(
                client,
                &global,
                step,
                max_lag,
                Deadline::after(timeout),
                &progress,
            )
            .await
            {
                Ok((line, after)) => {
                    timeline.push(line);
                    global = after;
                }
                Err(e) => {
                    diags.error(format!("{} failed", plan.mode), e);
                    break;
                }
            }
        }
        let total = started.elapsed().as_secs_f64();
        progress.report(format!(
            "{} timeline: {}; total {total:.1} s",
            plan.mode,
            timeline.join("; ")
        ));
    }
}

/// One move of the writer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// Planned, waits for sync.
    Switchover { to_dr: bool },
    /// Unplanned, AllowDataLoss.
    Failover,
}

struct Prepared {
    mode: String,
    global: GlobalView,
    steps: Vec<Step>,
}

async fn prepare(
    client: &DrClient,
    config: &FailoverConfig,
    diags: &mut Diagnostics,
) -> Option<Prepared> {
    let id = config.global_cluster_identifier.known()?;
    let mode = config.mode.known()?.clone();
    let global = match live::find_global(&client.aws.dr, id).await {
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
            diags.error(format!("Cannot {mode}"), e.to_string());
            return None;
        }
    };
    let steps = match mode.as_str() {
        "switchover" => vec![Step::Switchover { to_dr: true }],
        "failover" => vec![Step::Failover],
        "failback" => vec![Step::Switchover { to_dr: false }],
        "drill" => vec![
            Step::Switchover { to_dr: true },
            Step::Switchover { to_dr: false },
        ],
        _ => return None,
    };
    Some(Prepared {
        mode,
        global,
        steps,
    })
}

fn target_region<'a>(client: &'a DrClient, step: &Step) -> &'a RegionCtx {
    match step {
        Step::Switchover { to_dr: false } => &client.aws.primary,
        _ => &client.aws.dr,
    }
}

/// What must hold before a step starts, checked again right before it runs.
fn precheck(global: &GlobalView, client: &DrClient, step: &Step) -> Result<(), String> {
    let target = target_region(client, step);
    let Some(member) = global.member_in(&target.region) else {
        return Err(format!(
            "{} has no member cluster in {}: the DR member is missing, so there is nothing to move the writer to. Repair the database first (terraform apply).",
            global.identifier, target.region
        ));
    };
    if member.is_writer {
        return Err(format!(
            "{} ({}) is already the writer.",
            member.cluster_identifier, target.region
        ));
    }
    if matches!(step, Step::Switchover { .. }) && global.status != "available" {
        return Err(format!(
            "the global cluster is {:?}, not available; a switchover needs every member healthy. If the primary region is down, use mode = \"failover\" with allow_data_loss = true.",
            global.status
        ));
    }
    Ok(())
}

/// Runs one step and returns its timeline line and the global cluster after it.
async fn switch(
    client: &DrClient,
    global: &GlobalView,
    step: &Step,
    max_lag_ms: f64,
    deadline: Deadline,
    progress: &Progress,
) -> Result<(String, GlobalView), String> {
    let rc = target_region(client, step);
    let member = global
        .member_in(&rc.region)
        .ok_or("target member vanished")?
        .clone();
    let id = &global.identifier;
    let step_started = Instant::now();

    let (status, _) = live::cluster_status(rc, &member.cluster_identifier)
        .await
        .map_err(|e| e.to_string())?
        .unwrap_or_default();
    if matches!(step, Step::Switchover { .. }) && status != "available" {
        return Err(format!(
            "{} ({}) is {status:?}, not available; a switchover needs a healthy target.",
            member.cluster_identifier, rc.region
        ));
    }
    let lag = live::replication_lag_ms(rc, &member.cluster_identifier)
        .await
        .ok()
        .flatten();
    let lag_text = lag.map_or("no recent lag datapoint".to_string(), |l| {
        format!("lag {l:.0} ms")
    });
    if let (Step::Switchover { .. }, Some(l)) = (step, lag) {
        if l > max_lag_ms {
            return Err(format!(
                "{} lags {l:.0} ms behind the writer, more than max_replication_lag_ms = {max_lag_ms:.0}; wait for it to catch up or raise the limit.",
                member.cluster_identifier
            ));
        }
    }
    let verb = match step {
        Step::Failover => "failing over",
        Step::Switchover { .. } => "switching over",
    };
    progress.report(format!(
        "{verb} {id} to {} ({}), {lag_text}",
        member.cluster_identifier, rc.region
    ));

    let rds = rc.rds();
    let sent = match step {
        Step::Failover => rds
            .failover_global_cluster()
            .global_cluster_identifier(id)
            .target_db_cluster_identifier(&member.arn)
            .allow_data_loss(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                AwsError::from_sdk("failing over", "Aurora global cluster", id, &rc.region, e)
            }),
        Step::Switchover { .. } => rds
            .switchover_global_cluster()
            .global_cluster_identifier(id)
            .target_db_cluster_identifier(&member.arn)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                AwsError::from_sdk("switching over", "Aurora global cluster", id, &rc.region, e)
            }),
    };
    sent.map_err(|e| e.to_string())?;
    let requested = step_started.elapsed();

    let after = wait_for(
        deadline,
        "Aurora global cluster writer",
        id,
        &rc.region,
        || async {
            let g = live::find_global(rc, id).await?;
            Ok(match g {
                Some(g)
                    if g.status == "available"
                        && g.member_in(&rc.region).is_some_and(|m| m.is_writer) =>
                {
                    Poll::Ready(g)
                }
                Some(g) => {
                    progress.report(format!(
                        "waiting for {} to become the writer ({:.0} s, global cluster {})",
                        rc.region,
                        step_started.elapsed().as_secs_f64(),
                        g.status
                    ));
                    Poll::Pending(g.status)
                }
                None => Poll::Pending("not found".into()),
            })
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    let took = step_started.elapsed().as_secs_f64();
    progress.report(format!("{} is the writer after {took:.1} s", rc.region));
    Ok((
        format!("{verb} to {} requested in {:.1} s, writer after {took:.1} s ({lag_text} at the switch)", rc.region, requested.as_secs_f64()),
        after,
    ))
}
