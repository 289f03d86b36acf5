//! `drpair_monitoring`: an SNS topic in each region (encrypted with a KMS key of that region,
//! publishable by CloudWatch alarms and EventBridge rules of the account), email and other
//! subscriptions, and the CloudWatch alarms of a DR stack, each notifying its own region's
//! topic on ALARM and OK: Aurora replication lag, RPO lag and DR cluster availability (DR
//! region), Route 53 health checks (us-east-1, the only region with their metrics), DynamoDB
//! replication latency (both directions).
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update, delete, import.
//! The alarm catalogue is in [`alarms`], the AWS work in [`alerts`], the input checks in
//! [`validate`], the state mapping in [`state`].

pub mod alarms;
pub mod alerts;
mod state;
pub mod validate;

use crate::aws::Role;
use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::value::{Number, Value};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::provider::DrClient;
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use state::{alarm_inputs, from_observed, imported, spec, topic_name, Converged};

pub const DEFAULT_PREFIX: &str = "drpair";
/// The DR cluster's name before `-{name_version}-{environment}` (drpair_global_database).
pub const DR_CLUSTER_BASE: &str = "dr-db-cluster";
const DEFAULT_LAG_MS: i64 = 1000;
const DEFAULT_RPO_LAG_MS: i64 = 60_000;
const DEFAULT_SESSION_LATENCY_MS: i64 = 1000;
/// Topics and alarms are quick; the deadline only bounds retries of throttled calls.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MonitoringModel {
    pub id: Val<String>,
    pub name_prefix: Val<String>,
    pub email_addresses: Val<Vec<String>>,
    pub subscriptions: Val<Vec<SubscriptionModel>>,
    pub global_cluster_identifier: Val<String>,
    pub dr_cluster_identifier: Val<String>,
    pub health_check_ids: Val<Vec<String>>,
    pub session_table_name: Val<String>,
    pub replication_lag_threshold_ms: Val<i64>,
    pub rpo_lag_threshold_ms: Val<i64>,
    pub session_replication_latency_threshold_ms: Val<i64>,
    pub alarm_names: Val<Vec<String>>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub primary: Val<RegionModel>,
    pub dr: Val<RegionModel>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionModel {
    pub protocol: Val<String>,
    pub endpoint: Val<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionModel {
    pub region: Val<String>,
    pub topic_arn: Val<String>,
    pub kms_key_arn: Val<String>,
    pub alarm_names: Val<Vec<String>>,
}

pub struct Monitoring;

fn region_attribute(name: &str, what: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::string("region").computed().description("The AWS region of this side."),
            Attribute::string("topic_arn").computed().description(format!("ARN of the {what} region's SNS topic, which this region's alarms notify.")),
            Attribute::string("kms_key_arn").computed().description("ARN of the customer-managed KMS key encrypting the topic (alias `alias/{topic name}`)."),
            Attribute::string_list("alarm_names").computed().description("The alarms that live in this region."),
        ],
    )
    .computed()
    .description(format!("The {what} region's topic, key and alarms."))
}

fn threshold(name: &str, default: i64, what: &str) -> Attribute {
    Attribute::number(name)
        .default(Value::Number(Number::Int(default)))
        .description(format!("{what} (default {default}). Changed in place."))
}

#[async_trait]
impl Resource for Monitoring {
    type Model = MonitoringModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_monitoring"
    }

    fn schema(&self) -> Schema {
        let set = |name: &str| {
            Attribute::new(
                name,
                crate::framework::types::Type::Set(Box::new(crate::framework::types::Type::String)),
            )
        };
        Schema::new(
            0,
            Block::new("SNS topics in the primary and DR regions and the CloudWatch alarms of the DR stack. Each region has a topic `{name_prefix}-alerts-{name_version}-{environment}` encrypted with a customer-managed KMS key of that region, whose policy lets CloudWatch alarms of this account in that region (`aws:SourceAccount`, `aws:SourceArn`) and EventBridge rules of this account (`aws:SourceAccount`) publish (the key policy scopes CloudWatch the same way); `email_addresses` and `subscriptions` are subscribed to both topics (email subscriptions stay pending until the recipient confirms them; that is not an error). Every alarm notifies the topic of its own region on ALARM and on OK:\n\n- in the DR region: Aurora `AuroraGlobalDBReplicationLag` above `replication_lag_threshold_ms` (no data counting as breaching: when the primary region is down the DR cluster stops replicating and reports no lag at all; after a failover, while the DR cluster is the writer and no secondary replicates, it stays in ALARM), `AuroraGlobalDBRPOLag` above `rpo_lag_threshold_ms`, and the DR cluster's availability (`EngineUptime`, no data counting as down) — when `global_cluster_identifier` is set;\n- in us-east-1: Route 53 `HealthCheckStatus` below 1 for each of `health_check_ids`. Route 53 publishes health-check metrics only in us-east-1, so these alarms live there whichever side us-east-1 is; when us-east-1 itself is impaired they go quiet, and the DR region relies on the Aurora alarms and the DynamoDB alarm it holds itself;\n- DynamoDB `ReplicationLatency` of `session_table_name`: towards the DR region (alarm in the primary) and back towards the primary (alarm in the DR region).\n\nAlarm names are `{name_prefix}-{kind}-{name_version}-{environment}`, e.g. `drpair-replication-lag-v2-dev`. Everything carries `Environment`, `DR-Role`, the provider's `default_tags` and `drpair:owner`; anything deleted or changed outside Terraform shows in `drift` and is repaired by the next apply.")
                .attr(Attribute::string("id").computed().description("The topic name, `{name_prefix}-alerts-{name_version}-{environment}`; the import id."))
                .attr(Attribute::string("name_prefix").default(Value::String(DEFAULT_PREFIX.into())).requires_replace().description("Start of the topic and alarm names: 1-24 lowercase letters, digits or hyphens (default `drpair`). Changing it replaces the monitoring."))
                .attr(set("email_addresses").optional().sensitive().description("Email addresses subscribed to both topics. AWS mails each a confirmation link; until it is followed the subscription is pending, which this resource does not treat as an error. Sensitive (personal data): plans, messages and `drift` do not show them."))
                .attr(
                    Attribute::nested(
                        "subscriptions",
                        Nesting::Set,
                        vec![
                            Attribute::string("protocol").required().description("`https`, `sqs`, `lambda`, `sms` or `email-json`. Plain `http` is refused at plan time: SNS would deliver the alarms and the subscription's confirmation token unencrypted."),
                            Attribute::string("endpoint").required().sensitive().description("The https:// URL, queue or function ARN, phone number (E.164) or address, matching `protocol`. Sensitive (webhook URLs often carry a token): plans, messages and `drift` do not show it."),
                        ],
                    )
                    .optional()
                    .description("Other endpoints subscribed to both topics (queues and functions may be in either region). Subscriptions made outside this resource are left alone; `terraform import` does not recover these (add them to the configuration; identical ones are adopted)."),
                )
                .attr(Attribute::string("global_cluster_identifier").optional().description("The Aurora global database to watch (`drpair_global_database.*.global_cluster_identifier`). Enables the replication lag, RPO lag and DR cluster availability alarms in the DR region."))
                .attr(Attribute::string("dr_cluster_identifier").optional().computed().description("The DR cluster whose metrics the Aurora alarms read; default `dr-db-cluster-{name_version}-{environment}`, the DR cluster drpair_global_database makes."))
                .attr(set("health_check_ids").optional().description("Route 53 health checks to alarm on (`HealthCheckStatus` below 1), in us-east-1. One of the two regions must be us-east-1."))
                .attr(Attribute::string("session_table_name").optional().description("The DynamoDB global table whose replication latency is watched in both directions (`drpair_session_table.*.name`)."))
                .attr(threshold("replication_lag_threshold_ms", DEFAULT_LAG_MS, "Aurora replication lag, in milliseconds, above which the DR region alarms"))
                .attr(threshold("rpo_lag_threshold_ms", DEFAULT_RPO_LAG_MS, "Aurora recovery point lag, in milliseconds, above which the DR region alarms"))
                .attr(threshold("session_replication_latency_threshold_ms", DEFAULT_SESSION_LATENCY_MS, "DynamoDB replication latency, in milliseconds, above which each region alarms"))
                .attr(Attribute::string_list("alarm_names").computed().description("Every alarm this resource keeps, in both regions."))
                .attr(Attribute::string_map("tags").optional().description("Tags for the topics, keys and alarms, on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the topics except those drpair manages: `default_tags` merged with `tags`."))
                .attr(region_attribute("primary", "primary"))
                .attr(region_attribute("dr", "DR"))
                .attr(Attribute::string_list("drift").computed().description("Differences found outside Terraform at the last refresh (a deleted topic, alarm or subscription, a changed threshold, a disabled key). A non-empty list plans a repair; apply restores what is missing and leaves it empty."))
                .attr(timeouts::attribute("create 10m, update 10m, delete 10m")),
        )
    }

    fn validate(&self, config: &MonitoringModel, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        validate::name_prefix(&config.name_prefix, root.attr("name_prefix"), diags);
        validate::emails(&config.email_addresses, root.attr("email_addresses"), diags);
        if let Val::Known(subs) = &config.subscriptions {
            for s in subs {
                if let (Val::Known(p), Val::Known(e)) = (&s.protocol, &s.endpoint) {
                    // The endpoint is sensitive: the message names the protocol only.
                    if let Err(why) = validate::endpoint_shape(p, e) {
                        diags.error_at(
                            root.attr("subscriptions"),
                            "Invalid subscription",
                            format!("subscriptions: protocol {p:?}: {why}."),
                        );
                    }
                }
            }
        }
        validate::cluster_identifier(
            &config.global_cluster_identifier,
            root.attr("global_cluster_identifier"),
            diags,
        );
        validate::cluster_identifier(
            &config.dr_cluster_identifier,
            root.attr("dr_cluster_identifier"),
            diags,
        );
        validate::health_check_ids(
            &config.health_check_ids,
            root.attr("health_check_ids"),
            diags,
        );
        validate::table_name(
            &config.session_table_name,
            root.attr("session_table_name"),
            diags,
        );
        for (name, v) in [
            (
                "replication_lag_threshold_ms",
                &config.replication_lag_threshold_ms,
            ),
            ("rpo_lag_threshold_ms", &config.rpo_lag_threshold_ms),
            (
                "session_replication_latency_threshold_ms",
                &config.session_replication_latency_threshold_ms,
            ),
        ] {
            validate::positive(v, root.attr(name), name, diags);
        }
        validate::tags(&config.tags, root.attr("tags"), diags);
        timeouts::validate(&config.timeouts, &root.attr("timeouts"), diags);
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&MonitoringModel>,
        mut planned: MonitoringModel,
        diags: &mut Diagnostics,
    ) -> MonitoringModel {
        if let Val::Known(prefix) = &planned.name_prefix {
            planned.id = Val::Known(topic_name(client, prefix));
        }
        if planned.dr_cluster_identifier.is_unknown() {
            planned.dr_cluster_identifier = Val::Known(client.versioned_name(DR_CLUSTER_BASE));
        }
        planned.tags_all = match &planned.tags {
            Val::Unknown => Val::Unknown,
            tags => Val::Known(client.tags_all(tags)),
        };
        let has_health_checks = planned
            .health_check_ids
            .known()
            .is_some_and(|ids| !ids.is_empty());
        let regions = [&client.aws.primary.region, &client.aws.dr.region];
        if has_health_checks && !regions.contains(&&alarms::ROUTE53_METRICS_REGION.to_string()) {
            diags.error_at(
                AttributePath::root().attr("health_check_ids"),
                "Health-check alarms need us-east-1",
                format!("Route 53 publishes HealthCheckStatus only in us-east-1, and neither the primary region ({}) nor the DR region ({}) is us-east-1. Remove health_check_ids, or alarm on them from a configuration whose provider has us-east-1 as one of its regions.", client.aws.primary.region, client.aws.dr.region),
            );
        }
        let catalogue = alarm_inputs(client, &planned).map(|i| alarms::alarms(&i));
        planned.alarm_names = match &catalogue {
            Some(all) => Val::Known(all.iter().map(|a| a.name.clone()).collect()),
            None => Val::Unknown,
        };
        let repair = prior.is_some_and(|p| p.drift.known().is_some_and(|d| !d.is_empty()));
        for role in Role::BOTH {
            let prior_side = prior.and_then(|p| side(p, role).known());
            let keep = |v: Option<&Val<String>>| match v {
                Some(Val::Known(s)) if !s.is_empty() => Val::Known(s.clone()),
                _ => Val::Unknown,
            };
            let kms_key_arn = if repair {
                Val::Unknown
            } else {
                keep(prior_side.map(|s| &s.kms_key_arn))
            };
            *side_mut(&mut planned, role) = Val::Known(RegionModel {
                region: Val::Known(client.aws.region(role).region.clone()),
                topic_arn: keep(prior_side.map(|s| &s.topic_arn)),
                kms_key_arn,
                alarm_names: match &catalogue {
                    Some(all) => Val::Known(
                        all.iter()
                            .filter(|a| a.role == role)
                            .map(|a| a.name.clone())
                            .collect(),
                    ),
                    None => Val::Unknown,
                },
            });
        }
        if prior.is_none() || repair {
            planned.drift = Val::Known(Vec::new());
        }
        planned
    }

    async fn create(
        &self,
        client: &DrClient,
        planned: MonitoringModel,
        diags: &mut Diagnostics,
    ) -> Option<MonitoringModel> {
        let spec = spec(client, &planned, None)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        match state::converge(
            client,
            &spec,
            &planned,
            false,
            deadline,
            "Creating monitoring",
            diags,
        )
        .await
        {
            Converged::Applied(m) | Converged::Failed(Some(m)) => Some(m),
            // Nothing readable exists: keep the names in state so destroy can sweep.
            Converged::Failed(None) => Some(state::empty_state(client, planned)),
            Converged::Refused => None,
        }
    }

    async fn read(
        &self,
        client: &DrClient,
        state: MonitoringModel,
        diags: &mut Diagnostics,
    ) -> Option<MonitoringModel> {
        let spec = spec(client, &state, None)?;
        match alerts::observe(&client.aws, &spec).await {
            Ok(observed) if observed.exists() => {
                let drift = alerts::drift(&spec, &observed);
                Some(from_observed(client, &state, &observed, drift))
            }
            Ok(_) => None,
            Err(e) => {
                diags.error("Reading monitoring", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        prior: MonitoringModel,
        planned: MonitoringModel,
        diags: &mut Diagnostics,
    ) -> Option<MonitoringModel> {
        let spec = spec(client, &planned, Some(&prior))?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        match state::converge(
            client,
            &spec,
            &planned,
            true,
            deadline,
            "Updating monitoring",
            diags,
        )
        .await
        {
            Converged::Applied(m) | Converged::Failed(Some(m)) => Some(m),
            Converged::Failed(None) | Converged::Refused => None,
        }
    }

    async fn delete(&self, client: &DrClient, prior: MonitoringModel, diags: &mut Diagnostics) {
        let Some(spec) = spec(client, &prior, None) else {
            return;
        };
        let key = |role: Role| {
            side(&prior, role)
                .known()
                .and_then(|s| s.kms_key_arn.known())
                .map(String::as_str)
        };
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        let work = alerts::destroy(&client.aws, &spec, [key(Role::Primary), key(Role::Dr)]);
        match tokio::time::timeout(deadline.remaining(), work).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => diags.error("Deleting monitoring", e.to_string()),
            Err(_) => diags.error(
                "Deleting monitoring",
                "timed out; run destroy again to finish (it resumes where it stopped)",
            ),
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<MonitoringModel> {
        let suffix = format!("-alerts-{}-{}", client.name_version, client.environment);
        let Some(prefix) = id.strip_suffix(&suffix).filter(|p| !p.is_empty()) else {
            diags.error(
                "Cannot import this monitoring",
                format!("The import id is the topic name, `{{name_prefix}}-alerts-{}-{}` for this provider (e.g. `{DEFAULT_PREFIX}{suffix}`); {id:?} is not of that form.", client.name_version, client.environment),
            );
            return None;
        };
        let seed = MonitoringModel {
            id: Val::Known(id.to_owned()),
            name_prefix: Val::Known(prefix.to_owned()),
            ..MonitoringModel::default()
        };
        let spec = spec(client, &seed, None)?;
        match alerts::observe(&client.aws, &spec).await {
            Ok(observed) if observed.primary.topic.is_some() => {
                Some(imported(client, &seed, &observed))
            }
            Ok(_) => {
                diags.error(
                    "Cannot import non-existent monitoring",
                    format!("No SNS topic {id:?} exists in {}. The import id is the topic name, `{{name_prefix}}-alerts-{{name_version}}-{{environment}}`.", client.aws.primary.region),
                );
                None
            }
            Err(e) => {
                diags.error("Importing monitoring", e.to_string());
                None
            }
        }
    }
}

// ---- helpers below the resource ----

fn side(m: &MonitoringModel, role: Role) -> &Val<RegionModel> {
    match role {
        Role::Primary => &m.primary,
        Role::Dr => &m.dr,
    }
}

fn side_mut(m: &mut MonitoringModel, role: Role) -> &mut Val<RegionModel> {
    match role {
        Role::Primary => &mut m.primary,
        Role::Dr => &mut m.dr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Subscription endpoints (webhook URLs with tokens, personal addresses) are sensitive, so
    /// Terraform hides them in plans and output; the protocol stays readable.
    #[test]
    fn subscription_endpoints_are_sensitive() {
        let schema = Monitoring.schema();
        let emails = schema.block.attribute("email_addresses").unwrap();
        assert!(emails.sensitive);
        let (_, nested) = schema
            .block
            .attribute("subscriptions")
            .unwrap()
            .nested_attributes()
            .unwrap();
        let field = |name: &str| nested.iter().find(|a| a.name == name).unwrap();
        assert!(field("endpoint").sensitive);
        assert!(!field("protocol").sensitive);
        assert!(!field("protocol").description.contains("`http`,"));
    }

    #[test]
    fn an_invalid_subscription_is_reported_without_its_endpoint() {
        let secret = "http://hooks.example.com/T0/secret-token";
        let config = MonitoringModel {
            subscriptions: Val::Known(vec![SubscriptionModel {
                protocol: Val::Known("http".into()),
                endpoint: Val::Known(secret.into()),
            }]),
            email_addresses: Val::Known(vec!["not-an-address".into()]),
            ..MonitoringModel::default()
        };
        let mut diags = Diagnostics::new();
        Monitoring.validate(&config, &mut diags);
        assert!(diags.has_errors());
        let text = format!("{diags:?}");
        assert!(text.contains("plain-HTTP"), "{text}");
        assert!(text.contains("subscriptions"), "{text}");
        assert!(!text.contains("secret-token"), "{text}");
        assert!(!text.contains("not-an-address"), "{text}");
    }
}
