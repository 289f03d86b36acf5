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
//! definition, and so do the reads that tell when a step is done: the target
//! cluster is the writer and `available` (a failover never waits for the
//! global cluster, which stays `failing-over` until the old primary's region
//! recovers); a switchover also waits for the global cluster to be
//! `available`. A move already pending or under way is waited for, never
//! requested twice. The resources are role-aware, so `terraform plan` stays
//! empty after any of these.

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
            Block::new("Moves the writer of a drpair global database between the regions on an operator's command: `terraform apply -invoke=action.drpair_failover.NAME`. `switchover` is planned (RPO 0: Aurora waits for the DR copy to be in sync), `failover` is for when the primary is gone (`AllowDataLoss`: unreplicated writes are lost), `failback` switches back to the configured primary region, `drill` switches over and back and reports the measured timeline. A `failover` is done once the DR cluster is the writer and its own status is `available` — the global cluster stays `failing-over` until the old primary's region is back and its cluster rebuilt as a secondary, which is not waited for; a switchover (and `failback`, and each half of `drill`) once the global cluster is `available` again with every member healthy, which it also needs to start. A move AWS already has pending or under way (`FailoverState` `pending`, `failing-over`, `switching-over`) is waited for, never requested a second time. Progress is streamed; the lag at the moment of the switch and each step's duration are reported.")
                .attr(Attribute::string("global_cluster_identifier").required().description("The global cluster, e.g. `drpair_global_database.main.global_cluster_identifier`."))
                .attr(Attribute::string("mode").required().description("`switchover`, `failover`, `failback` or `drill`."))
                .attr(Attribute::bool("allow_data_loss").optional().description("Must be `true` for `failover`: the promoted region may lack the last writes of the failed one."))
                .attr(Attribute::number("max_replication_lag_ms").optional().description("`switchover`, `failback` and `drill` refuse to start when the secondary lags more than this (default 1000)."))
                .attr(Attribute::string("timeout").optional().description("How long to wait for each switch, e.g. `15m` (default).")),
        )
    }

    fn validate(&self, config: &FailoverConfig, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        crate::resources::orchestrator::validate::cluster_identifier(
            &config.global_cluster_identifier,
            root.attr("global_cluster_identifier"),
            "global cluster identifier",
            diags,
        );
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
                match precheck(&plan.global, client, first) {
                    Ok(Start::Request) => {}
                    Ok(Start::UnderWay(status)) => diags.warning(
                        format!("{} already under way", plan.mode),
                        format!("AWS already has this move {status}; invoking the action waits for it to finish and does not request it again."),
                    ),
                    Err(why) => diags.error(format!("Cannot {}", plan.mode), why),
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
            let start = match precheck(&global, client, step) {
                Ok(start) => start,
                Err(why) => {
                    diags.error(format!("Cannot {}", plan.mode), why);
                    return;
                }
            };
            match switch(
                client,
                &global,
                step,
                &start,
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

/// How a step starts, once its precheck passed.
#[derive(Clone, Debug, PartialEq)]
enum Start {
    /// Request the move.
    Request,
    /// AWS already has this very move pending or running (its FailoverState status): wait
    /// for it. Requesting it again could fail over twice.
    UnderWay(String),
}

impl Step {
    fn kind(&self) -> &'static str {
        match self {
            Step::Failover => "failover",
            Step::Switchover { .. } => "switchover",
        }
    }
}

/// What must hold before a step starts, checked again right before it runs.
fn precheck(global: &GlobalView, client: &DrClient, step: &Step) -> Result<Start, String> {
    precheck_in(global, &target_region(client, step).region, step)
}

fn precheck_in(global: &GlobalView, target_region: &str, step: &Step) -> Result<Start, String> {
    let Some(member) = global.member_in(target_region) else {
        return Err(format!(
            "{} has no member cluster in {target_region}: the DR member is missing, so there is nothing to move the writer to. Repair the database first (terraform apply).",
            global.identifier
        ));
    };
    if let Some(f) = &global.failover {
        let same_kind = f.data_loss_allowed == matches!(step, Step::Failover);
        if f.in_progress() && same_kind && f.to_arn == member.arn {
            return Ok(Start::UnderWay(f.status.clone()));
        }
        let promoted = global
            .members
            .iter()
            .any(|m| m.arn == f.to_arn && m.is_writer);
        if f.in_progress() && f.data_loss_allowed && promoted {
            return Err(format!(
                "the failover of {} to {} is still {}: its target already writes, but Aurora completes it only once the old primary's region is back and its cluster is rebuilt as a secondary; a {} needs every member healthy, so wait for the global cluster to be available.",
                global.identifier,
                f.to_arn,
                f.status,
                step.kind()
            ));
        }
        if f.in_progress() || f.status == "cancelling" {
            let kind = if f.data_loss_allowed {
                "failover"
            } else {
                "switchover"
            };
            return Err(format!(
                "a {kind} of {} to {} is already {}; wait until it is done before requesting a {}.",
                global.identifier,
                f.to_arn,
                f.status,
                step.kind()
            ));
        }
    }
    if member.is_writer {
        return Err(format!(
            "{} ({target_region}) is already the writer.",
            member.cluster_identifier
        ));
    }
    if matches!(step, Step::Switchover { .. }) && global.status != "available" {
        return Err(format!(
            "the global cluster is {:?}, not available; a switchover needs every member healthy (after a failover, the old primary's region must be back and rebuilt as a secondary). If the primary region is down, use mode = \"failover\" with allow_data_loss = true.",
            global.status
        ));
    }
    Ok(Start::Request)
}

/// Whether a step is done: the target cluster is the writer and its own status is
/// `available`. A failover does not wait for the global cluster, which stays `failing-over`
/// until the old primary's region is back; a switchover also waits for the global cluster
/// to be `available` again (every member healthy), which the next switchover needs.
fn step_done(step: &Step, global: &GlobalView, target_region: &str, target_status: &str) -> bool {
    let writes = global.member_in(target_region).is_some_and(|m| m.is_writer)
        && target_status == "available";
    match step {
        Step::Failover => writes,
        Step::Switchover { .. } => {
            writes
                && global.status == "available"
                && !global.failover.as_ref().is_some_and(|f| f.in_progress())
        }
    }
}

/// Runs one step and returns its timeline line and the global cluster after it.
async fn switch(
    client: &DrClient,
    global: &GlobalView,
    step: &Step,
    start: &Start,
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

    let verb = match step {
        Step::Failover => "failing over",
        Step::Switchover { .. } => "switching over",
    };
    if let Start::UnderWay(status) = start {
        progress.report(format!(
            "the {} of {id} to {} ({}) is already {status}: waiting for it, not requesting it again",
            step.kind(),
            member.cluster_identifier,
            rc.region
        ));
        let after = wait_done(rc, id, &member, step, deadline, progress, step_started).await?;
        let took = step_started.elapsed().as_secs_f64();
        return Ok((
            format!(
                "{verb} to {} (already under way) done after {took:.1} s",
                rc.region
            ),
            after,
        ));
    }

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

    let after = wait_done(rc, id, &member, step, deadline, progress, step_started).await?;
    let took = step_started.elapsed().as_secs_f64();
    progress.report(format!(
        "{} ({}) is the writer and available after {took:.1} s (global cluster {})",
        member.cluster_identifier, rc.region, after.status
    ));
    Ok((
        format!("{verb} to {} requested in {:.1} s, writer after {took:.1} s ({lag_text} at the switch)", rc.region, requested.as_secs_f64()),
        after,
    ))
}

/// Waits until [`step_done`], reading the global cluster and the target cluster from the
/// target region (alive by definition); returns the global cluster as last seen.
async fn wait_done(
    rc: &RegionCtx,
    id: &str,
    member: &live::Member,
    step: &Step,
    deadline: Deadline,
    progress: &Progress,
    step_started: Instant,
) -> Result<GlobalView, String> {
    let what = match step {
        Step::Failover => "Aurora cluster promotion",
        Step::Switchover { .. } => "Aurora global switchover",
    };
    wait_for(deadline, what, &member.cluster_identifier, &rc.region, || async {
        let Some(g) = live::find_global(rc, id).await? else {
            return Ok(Poll::Pending("global cluster not found".into()));
        };
        let (status, _) = live::cluster_status(rc, &member.cluster_identifier)
            .await?
            .unwrap_or_default();
        if step_done(step, &g, &rc.region, &status) {
            return Ok(Poll::Ready(g));
        }
        let writer = g.member_in(&rc.region).is_some_and(|m| m.is_writer);
        let moving = g
            .failover
            .as_ref()
            .map(|f| format!(", {} {}", f.status, step.kind()))
            .unwrap_or_default();
        progress.report(format!(
            "waiting for {} ({}) to be the writer and available ({:.0} s: {}writer, cluster {status}, global cluster {}{moving})",
            member.cluster_identifier,
            rc.region,
            step_started.elapsed().as_secs_f64(),
            if writer { "" } else { "not yet " },
            g.status
        ));
        Ok(Poll::Pending(format!(
            "writer {writer}, cluster {status}, global cluster {}",
            g.status
        )))
    })
    .await
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::live::{FailoverView, Member};
    use super::*;

    const DR_ARN: &str = "arn:aws:rds:us-east-2:123456789012:cluster:dr-db-cluster-v2-dev";
    const PRIMARY_ARN: &str =
        "arn:aws:rds:us-east-1:123456789012:cluster:primary-db-cluster-v2-dev";

    fn global(status: &str, dr_writer: bool, failover: Option<(&str, bool)>) -> GlobalView {
        let member = |arn: &str, region: &str, id: &str, is_writer: bool| Member {
            arn: arn.into(),
            region: region.into(),
            cluster_identifier: id.into(),
            is_writer,
        };
        GlobalView {
            identifier: "global-db-cluster-v2-dev".into(),
            status: status.into(),
            members: vec![
                member(
                    PRIMARY_ARN,
                    "us-east-1",
                    "primary-db-cluster-v2-dev",
                    !dr_writer,
                ),
                member(DR_ARN, "us-east-2", "dr-db-cluster-v2-dev", dr_writer),
            ],
            failover: failover.map(|(status, data_loss_allowed)| FailoverView {
                status: status.into(),
                from_arn: PRIMARY_ARN.into(),
                to_arn: DR_ARN.into(),
                data_loss_allowed,
            }),
            endpoint: None,
        }
    }

    const TO_DR: Step = Step::Switchover { to_dr: true };
    const BACK: Step = Step::Switchover { to_dr: false };

    #[test]
    fn a_failover_is_done_when_the_target_writes_whatever_the_global_cluster_says() {
        // After AllowDataLoss with the old region down, the global cluster stays failing-over.
        let after = global("failing-over", true, None);
        assert!(step_done(&Step::Failover, &after, "us-east-2", "available"));
        assert!(!step_done(
            &Step::Failover,
            &after,
            "us-east-2",
            "modifying"
        ));
        let promoting = global("failing-over", false, Some(("failing-over", true)));
        assert!(!step_done(
            &Step::Failover,
            &promoting,
            "us-east-2",
            "available"
        ));
    }

    #[test]
    fn a_switchover_is_done_when_every_member_is_healthy_again() {
        let mid = global("switching-over", true, Some(("switching-over", false)));
        assert!(!step_done(&TO_DR, &mid, "us-east-2", "available"));
        let done = global("available", true, None);
        assert!(step_done(&TO_DR, &done, "us-east-2", "available"));
    }

    #[test]
    fn a_move_under_way_is_never_requested_again() {
        for status in ["pending", "failing-over"] {
            let g = global("failing-over", false, Some((status, true)));
            assert_eq!(
                precheck_in(&g, "us-east-2", &Step::Failover),
                Ok(Start::UnderWay(status.into()))
            );
            // Not a switchover on top of it, nor anything while it cancels.
            assert!(precheck_in(&g, "us-east-2", &TO_DR).is_err());
        }
        let cancelling = global("available", false, Some(("cancelling", true)));
        assert!(precheck_in(&cancelling, "us-east-2", &Step::Failover).is_err());
        let switching = global("switching-over", false, Some(("switching-over", false)));
        assert_eq!(
            precheck_in(&switching, "us-east-2", &TO_DR),
            Ok(Start::UnderWay("switching-over".into()))
        );
    }

    #[test]
    fn prechecks() {
        let healthy = global("available", false, None);
        assert_eq!(
            precheck_in(&healthy, "us-east-2", &Step::Failover),
            Ok(Start::Request)
        );
        assert_eq!(
            precheck_in(&healthy, "us-east-2", &TO_DR),
            Ok(Start::Request)
        );
        let why = precheck_in(&healthy, "us-east-1", &BACK).unwrap_err();
        assert!(why.contains("already the writer"), "{why}");
        // Failed over while us-east-1 is down: failing back must wait for the global cluster.
        let failed_over = global("failing-over", true, None);
        let why = precheck_in(&failed_over, "us-east-1", &BACK).unwrap_err();
        assert!(why.contains("not available"), "{why}");
        let still_failing_over = global("failing-over", true, Some(("failing-over", true)));
        let why = precheck_in(&still_failing_over, "us-east-1", &BACK).unwrap_err();
        assert!(why.contains("rebuilt as a secondary"), "{why}");
        assert!(precheck_in(&failed_over, "us-west-2", &Step::Failover)
            .unwrap_err()
            .contains("no member cluster"));
    }
}
