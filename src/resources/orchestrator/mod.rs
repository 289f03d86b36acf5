//! `drpair_failover_orchestrator`: failover automation deployed in the DR region, so it does
//! not depend on the region it fails over from. An orchestrator Lambda and a notifier Lambda
//! (Python shipped inside the provider, see [`package`]), their least-privilege IAM roles, the
//! EventBridge rules that invoke them (every minute, and on state changes of the DR alarms)
//! with the permissions to do so, a DynamoDB state table (probe history, the failover lock,
//! timelines), and the functions' CloudWatch Logs log groups with their KMS key.
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update, delete, import.
//! The AWS work is in [`deploy`], model conversions in [`state`], plan-time checks in
//! [`validate`].

pub mod deploy;
pub mod package;
pub mod sha256;
pub mod state;
pub mod validate;
pub mod zip;

use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::value::{Number, Value};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::functions::rto;
use crate::provider::DrClient;
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use deploy::ID_PREFIX;
use state::{converge, expected_id, imported, read_state, spec};

pub const DEFAULT_MODE: &str = "automatic";
pub const DEFAULT_CONSECUTIVE_FAILURES: i64 = 2;
/// drpair_monitoring's default lag alarm threshold: replication lag above it, held for the
/// stall window, confirms that replication from the primary stopped.
pub const DEFAULT_LAG_THRESHOLD_MS: i64 = 1000;
/// The payment system's RTO.
pub const DEFAULT_RTO_TARGET_SECONDS: i64 = 300;
/// drpair_monitoring's default `name_prefix`, and the dash after it.
pub const DEFAULT_ALARM_NAME_PREFIX: &str = "drpair-";
/// IAM propagation and Lambda's own settling take a minute or two at most.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OrchestratorModel {
    pub id: Val<String>,
    pub global_cluster_identifier: Val<String>,
    pub dr_cluster_identifier: Val<String>,
    pub primary_health_check_id: Val<String>,
    pub dr_asg_name: Val<String>,
    pub topic_arns: Val<Vec<Val<String>>>,
    pub mode: Val<String>,
    pub consecutive_failures: Val<i64>,
    pub replication_lag_threshold_ms: Val<i64>,
    pub alarm_name_prefix: Val<String>,
    pub primary_endpoint_tls_name: Val<String>,
    pub scale_to: Val<ScaleToModel>,
    pub rto_target_seconds: Val<i64>,
    pub dns_failover_seconds: Val<i64>,
    pub rto_budget: Val<RtoBudgetModel>,
    pub log_retention_days: Val<i64>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub region: Val<String>,
    pub orchestrator_function_arn: Val<String>,
    pub notifier_function_arn: Val<String>,
    pub orchestrator_role_arn: Val<String>,
    pub notifier_role_arn: Val<String>,
    pub rule_arns: Val<Vec<String>>,
    pub state_table_name: Val<String>,
    pub kms_key_arn: Val<String>,
    pub code_sha256: Val<String>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScaleToModel {
    pub min_size: Val<i64>,
    pub desired_capacity: Val<i64>,
}

/// [`rto::RtoBudget`] as Terraform sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RtoBudgetModel {
    pub detection_seconds: Val<i64>,
    pub confirmation_seconds: Val<i64>,
    pub promotion_seconds: Val<i64>,
    pub scale_up_seconds: Val<i64>,
    pub dns_seconds: Val<i64>,
    pub total_seconds: Val<i64>,
}

impl From<rto::RtoBudget> for RtoBudgetModel {
    fn from(b: rto::RtoBudget) -> Self {
        RtoBudgetModel {
            detection_seconds: Val::Known(b.detection_seconds),
            confirmation_seconds: Val::Known(b.confirmation_seconds),
            promotion_seconds: Val::Known(b.promotion_seconds),
            scale_up_seconds: Val::Known(b.scale_up_seconds),
            dns_seconds: Val::Known(b.dns_seconds),
            total_seconds: Val::Known(b.total_seconds),
        }
    }
}

pub struct FailoverOrchestrator;

#[async_trait]
impl Resource for FailoverOrchestrator {
    type Model = OrchestratorModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_failover_orchestrator"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new(format!("Failover automation, deployed in the DR region so that it depends only on what works while the primary region is down: the DR region's own APIs and a direct probe of the primary's endpoint (never Route 53's API, whose control plane is in us-east-1, nor the primary region's APIs).\n\nAn orchestrator Lambda runs every minute (an EventBridge schedule; each run probes the primary's endpoint, `PRIMARY_ENDPOINT_URL`, with an HTTP GET from the DR region) and on every state change of the DR alarms. After `consecutive_failures` failed scheduled probes in a row it confirms, live and right before it acts: the endpoint fails {probes} more probes {spacing} s apart, and replication from the primary has stopped per the DR region's own CloudWatch (no `AuroraGlobalDBReplicationLag` datapoint for the DR cluster lately, or the lag above `replication_lag_threshold_ms`). The stored probe history or an alarm's state alone never suffice. Then, exactly once (a conditional write in the DynamoDB state table is the lock, so repeated or concurrent events fail over once; a failover already pending or under way is never requested again), it fails the Aurora global database over to the DR cluster (`FailoverGlobalCluster` with `AllowDataLoss`: the primary is gone, there is nothing to wait for), scales the DR Auto Scaling group up to `scale_to` right away (in parallel with the promotion), waits until the DR cluster is the writer and `available` and the DR group has its capacity in service (not for the global cluster, which stays `failing-over` until the old region is back), publishes a JSON event (what, when, each step with its duration) to every topic of `topic_arns`, and records the timeline in the state table. Each step is idempotent and its progress is kept in the lock, so a failure part-way is resumed by the next invocation. With `mode = \"notify_only\"` it does all of that except the failover and the scaling. Automation re-arms once the primary is the writer again (after a failback) and healthy.\n\nPlan computes `rto_budget`, the worst-case time of each stage from the primary failing, and fails when its `total_seconds` exceeds `rto_target_seconds`:\n\n{breakdown}\n\nA notifier Lambda turns the DR alarms' state changes into readable messages for every topic. Each function has its own IAM role whose policy names the global cluster, the DR cluster, the health check, the DR group, the state table and the topics.\n\nEach function's CloudWatch Logs log group, `/aws/lambda/{{function name}}` (the failover's audit trail), is created before the function, so Lambda never makes its own (untagged, kept forever, without a customer-managed key): encrypted with a KMS key of the DR region (alias `alias/failover-logs-{{name_version}}-{{environment}}`, usable by CloudWatch Logs for these two groups only), kept `log_retention_days`, tagged, and deleted on destroy with the key scheduled for deletion. A group Lambda made earlier is adopted. The roles may write to their group, not create log groups.\n\nFunctions `failover-orchestrator-{{name_version}}-{{environment}}` and `failover-notifier-…`, rules `failover-alarms-…` and `failover-probe-…`, table `failover-state-…`; roles end with the DR region. Everything is tagged `Environment`, `DR-Role = dr`, the provider's `default_tags` and `drpair:owner`; a part deleted or changed outside Terraform shows in `drift` and is repaired by the next apply. The functions' code is the Python module shipped inside the provider: a provider upgrade with new code plans an in-place update of `code_sha256`.", probes = rto::CONFIRM_PROBES, spacing = rto::CONFIRM_SPACING_SECONDS, breakdown = rto::breakdown_description()))
                .attr(Attribute::string("id").computed().description("The orchestrator function's name, `failover-orchestrator-{name_version}-{environment}`; the import id."))
                .attr(Attribute::string("global_cluster_identifier").required().description("The Aurora global database to fail over: drpair_global_database's `global_cluster_identifier`."))
                .attr(Attribute::string("dr_cluster_identifier").required().description("Its member cluster in the DR region, which becomes the writer: drpair_global_database's `dr.cluster_identifier`."))
                .attr(Attribute::string("primary_health_check_id").required().description("The Route 53 health check of the primary region's endpoint: drpair_failover_dns's `primary.health_check_id`. Read at apply time: the endpoint of this HTTP(S) check is what the orchestrator probes directly from the DR region (`PRIMARY_ENDPOINT_URL` in its environment)."))
                .attr(Attribute::string("dr_asg_name").required().description("The DR region's Auto Scaling group, scaled up on failover: drpair_app_tier's `dr.asg_name`."))
                .attr(Attribute::string_list("topic_arns").required().description("SNS topics that get the failover event and the alarm messages, e.g. both regions' topics of drpair_monitoring. A topic in the failed region may be unreachable; the others still get the message."))
                .attr(Attribute::string("mode").default(Value::String(DEFAULT_MODE.into())).description("`automatic` (default): fail over without a human. `notify_only`: detect and notify, and leave the failover to an operator (the drpair_failover action). Changed in place."))
                .attr(Attribute::number("consecutive_failures").default(Value::Number(Number::Int(DEFAULT_CONSECUTIVE_FAILURES))).description("Scheduled probes in a row (one a minute) that must fail before the orchestrator confirms the outage and acts, 1 to 10 (default 2). Each one adds a minute to `rto_budget.detection_seconds`; a single flapping probe never triggers a failover."))
                .attr(Attribute::number("replication_lag_threshold_ms").default(Value::Number(Number::Int(DEFAULT_LAG_THRESHOLD_MS))).description("Replication lag of the DR cluster, in milliseconds, above which replication counts as stopped when it stays there for the stall window (default 1000, like drpair_monitoring's alarm; 1 to 3600000). Passed to the functions as `LAG_THRESHOLD_MS`. No lag datapoint at all counts as stopped too."))
                .attr(Attribute::string("primary_endpoint_tls_name").optional().description("For an HTTPS health check: the name the primary's certificate is valid for (typically drpair_failover_dns's record name, e.g. `api.payments.example.com`), which the probe verifies the certificate against and sends as SNI while connecting to the load balancer the health check targets. The probe verifies every `https://` endpoint against the Lambda runtime's trust store: an answer whose certificate does not verify is not the primary answering (an impostor cannot hold a failover back). Unset, the certificate must be valid for the URL's own host, which a load balancer's `…elb.amazonaws.com` name never is, so with an HTTPS check every probe fails and only the replication stall separates the primary from a failover. Passed as `PRIMARY_ENDPOINT_TLS_NAME`; ignored for HTTP checks."))
                .attr(Attribute::string("alarm_name_prefix").default(Value::String(DEFAULT_ALARM_NAME_PREFIX.into())).description("The DR alarms watched are those named `{alarm_name_prefix}*-{name_version}-{environment}` (default `drpair-`: drpair_monitoring's alarms with its default `name_prefix`). Their state changes invoke both functions: the notifier reports them, the orchestrator probes at once; an alarm's state is never a reason to fail over by itself."))
                .attr(
                    Attribute::nested(
                        "scale_to",
                        Nesting::Single,
                        vec![
                            Attribute::number("min_size").required().description("Minimum size of the DR group after a failover (e.g. drpair_app_tier's `min_size`)."),
                            Attribute::number("desired_capacity").required().description("Desired capacity of the DR group after a failover: the primary's (e.g. drpair_app_tier's `desired_capacity`). The group's max_size is raised to it when smaller."),
                        ],
                    )
                    .optional()
                    .description("The primary's capacity, which the DR group is scaled up to on failover (never down). Leave out to scale the DR group to its own max_size."),
                )
                .attr(Attribute::number("rto_target_seconds").default(Value::Number(Number::Int(DEFAULT_RTO_TARGET_SECONDS))).description(format!("Recovery time objective in seconds (default {DEFAULT_RTO_TARGET_SECONDS}, 1 to 86400). Plan fails when `rto_budget.total_seconds` exceeds it, naming what to change.")))
                .attr(Attribute::number("dns_failover_seconds").optional().description(format!("Seconds until clients resolve the DR load balancer after the primary fails: Route 53 detection + alias TTL, i.e. drpair_failover_dns's `dns_failover_seconds` (0 to 3600). Leave out to assume drpair_failover_dns's defaults: {} s × {} failures + {} s = {} s.", rto::DNS_REQUEST_INTERVAL_SECONDS, rto::DNS_FAILURE_THRESHOLD, rto::ALIAS_TTL_SECONDS, rto::DEFAULT_DNS_FAILOVER_SECONDS)))
                .attr(
                    Attribute::nested(
                        "rto_budget",
                        Nesting::Single,
                        vec![
                            Attribute::number("detection_seconds").computed().description(format!("{} s × consecutive_failures: failed scheduled probes in a row.", rto::PROBE_PERIOD_SECONDS)),
                            Attribute::number("confirmation_seconds").computed().description(format!("{} live probes {} s apart right before the failover.", rto::CONFIRM_PROBES, rto::CONFIRM_SPACING_SECONDS)),
                            Attribute::number("promotion_seconds").computed().description("Aurora's unplanned global failover until the DR cluster is the writer and available (typical)."),
                            Attribute::number("scale_up_seconds").computed().description("Instance boot + target health (interval × healthy threshold of drpair_app_tier's target groups); in parallel with the promotion."),
                            Attribute::number("dns_seconds").computed().description("`dns_failover_seconds`: Route 53 detection + alias TTL; in parallel with everything above."),
                            Attribute::number("total_seconds").computed().description("max(dns_seconds, detection_seconds + confirmation_seconds + max(promotion_seconds, scale_up_seconds)): until clients write in the DR region at full capacity."),
                        ],
                    )
                    .computed()
                    .description("The worst-case recovery time, stage by stage, known at plan time: `total_seconds` = max(`dns_seconds`, `detection_seconds` + `confirmation_seconds` + max(`promotion_seconds`, `scale_up_seconds`)); the figures are explained above. `provider::drpair::rto_breakdown(consecutive_failures, dns_failover_seconds)` computes the same."),
                )
                .attr(Attribute::number("log_retention_days").default(Value::Number(Number::Int(deploy::logs::DEFAULT_RETENTION_DAYS))).description(format!("Days CloudWatch Logs keeps the functions' logs, the audit trail of every probe, decision and failover (default {}: a year). One of CloudWatch Logs' retention values: {}. Changed in place.", deploy::logs::DEFAULT_RETENTION_DAYS, validate::retention_values())))
                .attr(Attribute::string_map("tags").optional().description("Tags for every object, on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the objects except those drpair manages: `default_tags` merged with `tags`."))
                .attr(Attribute::string("region").computed().description("The DR region, where everything runs."))
                .attr(Attribute::string("orchestrator_function_arn").computed().description("ARN of the orchestrator Lambda function."))
                .attr(Attribute::string("notifier_function_arn").computed().description("ARN of the notifier Lambda function."))
                .attr(Attribute::string("orchestrator_role_arn").computed().description("ARN of the orchestrator's IAM role."))
                .attr(Attribute::string("notifier_role_arn").computed().description("ARN of the notifier's IAM role."))
                .attr(Attribute::string_list("rule_arns").computed().description("ARNs of the EventBridge rules: the DR alarms' state changes, then the schedule (every minute)."))
                .attr(Attribute::string("state_table_name").computed().description("The DynamoDB table holding the probe history, the failover lock and the timelines of past failovers (`timeline#…` items), `failover-state-{name_version}-{environment}`."))
                .attr(Attribute::string("kms_key_arn").computed().description("ARN of the customer-managed KMS key (DR region, alias `alias/failover-logs-{name_version}-{environment}`) encrypting the functions' log groups."))
                .attr(Attribute::string("code_sha256").computed().description("Base64 SHA-256 of the functions' code package, as Lambda reports it (`CodeSha256`): the code this provider ships."))
                .attr(Attribute::string_list("drift").computed().description("Parts found missing or changed outside Terraform at the last refresh (a function, role, policy, rule, target, permission, log group, its retention or key, the KMS key, or the table). A non-empty list plans a repair; apply restores what is missing and leaves it empty."))
                .attr(timeouts::attribute("create 10m, update 10m, delete 10m")),
        )
    }

    fn validate(&self, config: &OrchestratorModel, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        validate::cluster_identifier(
            &config.global_cluster_identifier,
            root.attr("global_cluster_identifier"),
            "global cluster identifier",
            diags,
        );
        validate::cluster_identifier(
            &config.dr_cluster_identifier,
            root.attr("dr_cluster_identifier"),
            "DR cluster identifier",
            diags,
        );
        validate::health_check_id(
            &config.primary_health_check_id,
            root.attr("primary_health_check_id"),
            diags,
        );
        validate::asg_name(&config.dr_asg_name, root.attr("dr_asg_name"), diags);
        validate::topic_arns(&config.topic_arns, root.attr("topic_arns"), diags);
        validate::mode(&config.mode, root.attr("mode"), diags);
        validate::consecutive_failures(
            &config.consecutive_failures,
            root.attr("consecutive_failures"),
            diags,
        );
        validate::tls_name(
            &config.primary_endpoint_tls_name,
            root.attr("primary_endpoint_tls_name"),
            diags,
        );
        validate::alarm_name_prefix(
            &config.alarm_name_prefix,
            root.attr("alarm_name_prefix"),
            diags,
        );
        validate::lag_threshold(
            &config.replication_lag_threshold_ms,
            root.attr("replication_lag_threshold_ms"),
            diags,
        );
        validate::rto_target(
            &config.rto_target_seconds,
            root.attr("rto_target_seconds"),
            diags,
        );
        validate::dns_failover_seconds(
            &config.dns_failover_seconds,
            root.attr("dns_failover_seconds"),
            diags,
        );
        if let Val::Known(s) = &config.scale_to {
            validate::scale_to(
                &s.min_size,
                &s.desired_capacity,
                root.attr("scale_to"),
                diags,
            );
        }
        validate::log_retention_days(
            &config.log_retention_days,
            root.attr("log_retention_days"),
            diags,
        );
        validate::tags(&config.tags, root.attr("tags"), diags);
        timeouts::validate(&config.timeouts, &root.attr("timeouts"), diags);
        // The RTO budget needs only these inputs: check it now rather than at plan (once they
        // are valid, so an out-of-range input is reported once).
        if !diags.has_errors() {
            if let Some(budget) = state::rto_budget(config) {
                let target = match &config.rto_target_seconds {
                    Val::Null => Val::Known(DEFAULT_RTO_TARGET_SECONDS),
                    other => other.clone(),
                };
                let effective = OrchestratorModel {
                    rto_target_seconds: target,
                    ..OrchestratorModel::default()
                };
                validate::rto_fits(&effective, &budget, diags);
            }
        }
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&OrchestratorModel>,
        mut planned: OrchestratorModel,
        diags: &mut Diagnostics,
    ) -> OrchestratorModel {
        let id = expected_id(client);
        match prior.and_then(|p| p.id.known()) {
            // Functions, rules and tables cannot be renamed: keep the names, and say how to move.
            Some(old) if *old != id => diags.warning_at(
                AttributePath::root().attr("id"),
                "Names out of date",
                format!("The provider's environment or name_version now names the orchestrator {id:?}, but it is {old:?}. Run `terraform apply -replace=<this resource>` to deploy it under the new names (the state table's history is not copied)."),
            ),
            _ => planned.id = Val::Known(id),
        }
        if let Some(names) = planned
            .id
            .known()
            .and_then(|id| deploy::Names::from_id(id, &client.aws.dr.region))
        {
            planned.state_table_name = Val::Known(names.table);
        }
        planned.rto_budget = match state::rto_budget(&planned) {
            Some(budget) => {
                validate::rto_fits(&planned, &budget, diags);
                Val::Known(budget.into())
            }
            None => Val::Unknown,
        };
        planned.region = Val::Known(client.aws.dr.region.clone());
        planned.code_sha256 = Val::Known(package::package().code_sha256.clone());
        planned.tags_all = match &planned.tags {
            Val::Unknown => Val::Unknown,
            tags => Val::Known(client.tags_all(tags)),
        };
        if let Val::Known(topics) = &planned.topic_arns {
            let dr = &client.aws.dr.region;
            let known: Vec<&String> = topics.iter().filter_map(Val::known).collect();
            if known.len() == topics.len()
                && !known
                    .iter()
                    .any(|t| t.split(':').nth(3) == Some(dr.as_str()))
            {
                diags.warning_at(
                    AttributePath::root().attr("topic_arns"),
                    "No topic in the DR region",
                    format!("None of topic_arns is in the DR region {dr}. When the primary region is down, a topic there may not take the failover event; add the DR region's topic (drpair_monitoring's dr.topic_arn)."),
                );
            }
        }
        match prior {
            None => planned.drift = Val::Known(Vec::new()),
            Some(prior) if prior.drift.known().is_some_and(|d| !d.is_empty()) => {
                // Repair: what is rebuilt is only known after the apply.
                planned.drift = Val::Known(Vec::new());
                for arn in [
                    &mut planned.orchestrator_function_arn,
                    &mut planned.notifier_function_arn,
                    &mut planned.orchestrator_role_arn,
                    &mut planned.notifier_role_arn,
                    &mut planned.kms_key_arn,
                ] {
                    if arn.known().is_none_or(|a| a.is_empty()) {
                        *arn = Val::Unknown;
                    }
                }
                if planned
                    .rule_arns
                    .known()
                    .is_none_or(|r| r.iter().any(String::is_empty))
                {
                    planned.rule_arns = Val::Unknown;
                }
            }
            Some(_) => {}
        }
        planned
    }

    async fn create(
        &self,
        client: &DrClient,
        planned: OrchestratorModel,
        diags: &mut Diagnostics,
    ) -> Option<OrchestratorModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        converge(
            client,
            &spec,
            planned,
            false,
            deadline,
            "Creating failover orchestrator",
            diags,
        )
        .await
    }

    async fn read(
        &self,
        client: &DrClient,
        state: OrchestratorModel,
        diags: &mut Diagnostics,
    ) -> Option<OrchestratorModel> {
        match read_state(client, &state).await {
            Ok(model) => model,
            Err(e) => {
                diags.error("Reading failover orchestrator", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        prior: OrchestratorModel,
        planned: OrchestratorModel,
        diags: &mut Diagnostics,
    ) -> Option<OrchestratorModel> {
        let Some(spec) = spec(client, &planned) else {
            return Some(prior);
        };
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        converge(
            client,
            &spec,
            planned,
            true,
            deadline,
            "Updating failover orchestrator",
            diags,
        )
        .await
    }

    async fn delete(&self, client: &DrClient, prior: OrchestratorModel, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        let Some(names) = deploy::Names::from_id(id, &client.aws.dr.region) else {
            return;
        };
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        let owner = deploy::owner_tag_value(id);
        if let Err(e) = deploy::destroy(&client.aws, &names, &owner, deadline).await {
            diags.error("Deleting failover orchestrator", e.to_string());
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<OrchestratorModel> {
        let expected = expected_id(client);
        if id != expected {
            diags.error(
                "Cannot import this orchestrator",
                format!("drpair_failover_orchestrator's id is the orchestrator function's name, {expected:?} for this provider (`{ID_PREFIX}{{name_version}}-{{environment}}`); {id:?} is not it."),
            );
            return None;
        }
        match imported(client, id).await {
            Ok(Some(model)) => Some(model),
            Ok(None) => {
                diags.error(
                    "Cannot import non-existent failover orchestrator",
                    format!("No Lambda function {id:?} written by drpair exists in {}. The import id is the orchestrator function's name.", client.aws.dr.region),
                );
                None
            }
            Err(e) => {
                diags.error("Importing failover orchestrator", e.to_string());
                None
            }
        }
    }
}
