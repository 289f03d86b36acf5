//! `drpair_failover_dns`: Route 53 failover between the regions' load balancers, sized to the
//! RTO: a hosted zone (or an existing one), a health check per region and PRIMARY/SECONDARY
//! failover alias records, with the worst-case recovery time computed and checked at plan time.
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update, delete, import.
//! The AWS work is in [`route53`], the plan-time checks in [`validate`], the mapping between
//! state and AWS in [`state`].

pub mod route53;
mod state;
pub mod validate;

use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::value::{Number, Value};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::functions::{ALIAS_TTL_SECONDS, PROMOTION_ALLOWANCE_SECONDS};
use crate::provider::DrClient;
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Route 53 changes reach every name server within about a minute.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FailoverDnsModel {
    pub id: Val<String>,
    pub zone_name: Val<String>,
    pub zone_id: Val<String>,
    pub zone_managed: Val<bool>,
    pub record_name: Val<String>,
    pub fqdn: Val<String>,
    pub name_servers: Val<Vec<String>>,
    pub primary: Val<EndpointModel>,
    pub dr: Val<EndpointModel>,
    pub health_check: Val<HealthCheckModel>,
    pub rto_target_seconds: Val<i64>,
    pub detection_seconds: Val<i64>,
    pub rto_budget_seconds: Val<i64>,
    pub dns_failover_seconds: Val<i64>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointModel {
    pub alb_dns_name: Val<String>,
    pub alb_zone_id: Val<String>,
    pub region: Val<String>,
    pub health_check_id: Val<String>,
    pub endpoint_url: Val<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckModel {
    pub protocol: Val<String>,
    pub port: Val<i64>,
    pub path: Val<String>,
    pub request_interval: Val<i64>,
    pub failure_threshold: Val<i64>,
}

pub struct FailoverDns;

fn endpoint_attribute(name: &str, what: &str, failover: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::string("alb_dns_name").required().description(format!("DNS name of the {what} load balancer (`drpair_app_tier.web.{name}.alb_dns_name`): the {failover} record's alias target and what its health check probes.")),
            Attribute::string("alb_zone_id").required().description(format!("Canonical hosted zone id of the {what} load balancer (`drpair_app_tier.web.{name}.alb_zone_id`).")),
            Attribute::string("region").computed().description("The AWS region this side serves from."),
            Attribute::string("health_check_id").computed().description(format!("The Route 53 health check of the {what} load balancer (for alarms and `drpair_replication_status`).")),
            Attribute::string("endpoint_url").computed().description(format!("URL of the {what} load balancer itself, bypassing DNS failover: for smoke tests and drills.")),
        ],
    )
    .required()
    .description(format!("The {what} region's load balancer, the target of the {failover} record."))
}

#[async_trait]
impl Resource for FailoverDns {
    type Model = FailoverDnsModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_failover_dns"
    }

    fn schema(&self) -> Schema {
        let int = |n: i64| Value::Number(Number::Int(n));
        let check_default = Value::Object(
            [
                ("protocol", Value::String("HTTP".into())),
                ("port", int(80)),
                ("path", Value::String("/".into())),
                ("request_interval", int(validate::DEFAULT_INTERVAL)),
                ("failure_threshold", int(validate::DEFAULT_THRESHOLD)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        );
        Schema::new(
            0,
            Block::new(format!("DNS failover between the regions' load balancers that meets the RTO. A public Route 53 hosted zone for `zone_name` (or the existing `zone_id`), an HTTP or HTTPS health check per region against that region's load balancer, and two alias A records for `record_name`: PRIMARY → the primary load balancer, tied to its health check, and SECONDARY → the DR load balancer, tied to its own, both evaluating target health. Route 53's control plane (the API that edits zones, records and health checks) lives in us-east-1 — the primary region — but failover never needs it: health checkers around the world mark the primary unhealthy and Route 53's name servers answer with the SECONDARY record by health status alone, with no record edited, so failover works while us-east-1 is down. Plan computes `detection_seconds` (request_interval × failure_threshold) and `rto_budget_seconds` (detection + {ALIAS_TTL_SECONDS} s, the TTL Route 53 gives alias records of load balancers, + {PROMOTION_ALLOWANCE_SECONDS} s DR promotion allowance, the time an Aurora global database failover typically needs to make the DR cluster writable), and fails when the budget exceeds `rto_target_seconds`, naming the setting to change. A health check or record deleted outside Terraform is repaired by the next apply; a record changed outside Terraform shows as a change."))
                .attr(Attribute::string("id").computed().description("The record's fully qualified name; the import id (or `{zone_id}/{fqdn}`)."))
                .attr(Attribute::string("zone_name").optional().computed().requires_replace().description("Domain of a public hosted zone drpair creates (and deletes with the resource). Set this or `zone_id`; with `zone_id` it is read from the zone. To put several records in one zone, create it with one resource and pass its `zone_id` to the others."))
                .attr(Attribute::string("zone_id").optional().computed().requires_replace().description("An existing hosted zone to put the records in; it is left in place on destroy. Computed when drpair creates the zone."))
                .attr(Attribute::bool("zone_managed").computed().description("Whether drpair created the zone (and will delete it)."))
                .attr(Attribute::string("record_name").required().description("Name of the records within the zone, e.g. `api`; `@` for the zone apex. Changed in place (the old records and health checks are removed)."))
                .attr(Attribute::string("fqdn").computed().description("The records' fully qualified name, e.g. `api.payments.example.com`."))
                .attr(Attribute::string_list("name_servers").computed().description("The zone's name servers, for the delegation at the registrar."))
                .attr(endpoint_attribute("primary", "primary", "PRIMARY"))
                .attr(endpoint_attribute("dr", "DR", "SECONDARY"))
                .attr(
                    Attribute::nested(
                        "health_check",
                        Nesting::Single,
                        vec![
                            Attribute::string("protocol").default(Value::String("HTTP".into())).description("`HTTP` (default) or `HTTPS`. Changing it replaces the health checks."),
                            Attribute::number("port").default(int(80)).description("Port probed (default 80; set 443 with HTTPS)."),
                            Attribute::string("path").default(Value::String("/".into())).description("Path probed (default `/`); 2xx and 3xx are healthy."),
                            Attribute::number("request_interval").default(int(validate::DEFAULT_INTERVAL)).description("Seconds between checks from each checker: 10 (fast, default) or 30. Changing it replaces the health checks."),
                            Attribute::number("failure_threshold").default(int(validate::DEFAULT_THRESHOLD)).description("Consecutive failed checks before a load balancer is unhealthy, 1-10 (default 3)."),
                        ],
                    )
                    .default(check_default)
                    .description("How Route 53 probes each load balancer; the same for both regions. The timing feeds `detection_seconds` and the RTO check."),
                )
                .attr(Attribute::number("rto_target_seconds").default(int(validate::DEFAULT_RTO_TARGET)).description("Recovery time objective in seconds (default 300). Plan fails when `rto_budget_seconds` exceeds it."))
                .attr(Attribute::number("detection_seconds").computed().description("request_interval × failure_threshold: seconds until Route 53 calls a failed primary unhealthy."))
                .attr(Attribute::number("rto_budget_seconds").computed().description(format!("Worst-case recovery time: detection_seconds + {ALIAS_TTL_SECONDS} s alias TTL + {PROMOTION_ALLOWANCE_SECONDS} s DR promotion allowance.")))
                .attr(Attribute::number("dns_failover_seconds").computed().description(format!("detection_seconds + {ALIAS_TTL_SECONDS} s alias TTL: seconds until clients resolve the DR load balancer (the DNS path). Give it to drpair_failover_orchestrator's `dns_failover_seconds`, whose `rto_budget` weighs it against the database promotion and the DR scale-up.")))
                .attr(Attribute::string_map("tags").optional().description("Tags for the zone and the health checks (records cannot be tagged), on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the zone and health checks except those drpair manages: `default_tags` merged with `tags`."))
                .attr(Attribute::string_list("drift").computed().description("Differences found outside Terraform at the last refresh (a deleted health check or record, a record no longer tied to its health check). A non-empty list plans a repair; apply restores what is missing and leaves it empty."))
                .attr(timeouts::attribute("create 10m, update 10m, delete 10m")),
        )
    }

    fn validate(&self, config: &FailoverDnsModel, diags: &mut Diagnostics) {
        validate::all(config, diags);
        timeouts::validate(
            &config.timeouts,
            &AttributePath::root().attr("timeouts"),
            diags,
        );
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&FailoverDnsModel>,
        planned: FailoverDnsModel,
        diags: &mut Diagnostics,
    ) -> FailoverDnsModel {
        state::plan(client, prior, planned, diags).await
    }

    async fn create(
        &self,
        client: &DrClient,
        planned: FailoverDnsModel,
        diags: &mut Diagnostics,
    ) -> Option<FailoverDnsModel> {
        let spec = state::spec(client, &planned, diags).await?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        state::converge(
            client,
            &spec,
            &planned,
            deadline,
            "Creating failover DNS",
            diags,
        )
        .await
    }

    async fn read(
        &self,
        client: &DrClient,
        state: FailoverDnsModel,
        diags: &mut Diagnostics,
    ) -> Option<FailoverDnsModel> {
        let (Val::Known(zone_id), Val::Known(fqdn)) = (&state.zone_id, &state.fqdn) else {
            return None;
        };
        match route53::read(&client.aws, zone_id, fqdn).await {
            Ok(Some(observed)) => {
                let drift = state::spec_from_state(client, &state)
                    .map(|s| route53::drift(&s, &observed))
                    .unwrap_or_default();
                Some(state::from_observed(client, &state, &observed, drift))
            }
            Ok(None) => None,
            Err(e) => {
                diags.error("Reading failover DNS", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        prior: FailoverDnsModel,
        planned: FailoverDnsModel,
        diags: &mut Diagnostics,
    ) -> Option<FailoverDnsModel> {
        let spec = state::spec(client, &planned, diags).await?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        let model = state::converge(
            client,
            &spec,
            &planned,
            deadline,
            "Updating failover DNS",
            diags,
        )
        .await;
        if model.is_some() && !diags.has_errors() {
            state::remove_renamed(client, &prior, &spec, deadline, diags).await;
        }
        model.or(Some(prior))
    }

    async fn delete(&self, client: &DrClient, prior: FailoverDnsModel, diags: &mut Diagnostics) {
        let (Val::Known(zone_id), Val::Known(fqdn)) = (&prior.zone_id, &prior.fqdn) else {
            return;
        };
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        let delete_zone = prior.zone_managed.known().copied().unwrap_or(false);
        if let Err(e) = route53::destroy(&client.aws, zone_id, fqdn, delete_zone, deadline).await {
            diags.error("Deleting failover DNS", e.to_string());
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<FailoverDnsModel> {
        state::import(client, id, diags).await
    }
}
