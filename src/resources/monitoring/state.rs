//! Between the Terraform model and the AWS side: the spec a model asks for, the state what
//! exists maps to, and the inputs an import recovers from the alarms themselves.

use std::collections::BTreeSet;

use crate::aws::tags::{is_aws_tag, user_tags, Tags, PART_TAG};
use crate::aws::{Deadline, Role};
use crate::framework::{Diagnostics, Val};
use crate::provider::DrClient;

use super::alarms::{self, kind, AlarmInputs, GLOBAL_CLUSTER_TAG};
use super::alerts::{self, topic_arn, Endpoint, MonitoringSpec, ObservedMonitoring, NOT_OWNED};
use super::{
    MonitoringModel, RegionModel, DEFAULT_LAG_MS, DEFAULT_PREFIX, DEFAULT_RPO_LAG_MS,
    DEFAULT_SESSION_LATENCY_MS, DR_CLUSTER_BASE,
};

/// `{prefix}-alerts-{name_version}-{environment}`.
pub(super) fn topic_name(client: &DrClient, prefix: &str) -> String {
    client.versioned_name(&format!("{prefix}-alerts"))
}

fn prefix(m: &MonitoringModel) -> Option<String> {
    match &m.name_prefix {
        Val::Known(p) => Some(p.clone()),
        Val::Null => Some(DEFAULT_PREFIX.to_owned()),
        Val::Unknown => None,
    }
}

/// A known value, None for null; the outer None when still unknown.
fn optional<T: Clone>(v: &Val<T>) -> Option<Option<T>> {
    match v {
        Val::Known(t) => Some(Some(t.clone())),
        Val::Null => Some(None),
        Val::Unknown => None,
    }
}

fn ms(v: &Val<i64>, default: i64) -> Option<f64> {
    optional(v).map(|n| n.unwrap_or(default) as f64)
}

/// The alarm inputs of a model; None while any of them is unknown.
pub(super) fn alarm_inputs(client: &DrClient, m: &MonitoringModel) -> Option<AlarmInputs> {
    let mut health_check_ids = optional(&m.health_check_ids)?.unwrap_or_default();
    health_check_ids.sort();
    health_check_ids.dedup();
    Some(AlarmInputs {
        prefix: prefix(m)?,
        name_version: client.name_version.clone(),
        environment: client.environment.clone(),
        primary_region: client.aws.primary.region.clone(),
        dr_region: client.aws.dr.region.clone(),
        global_cluster_identifier: optional(&m.global_cluster_identifier)?,
        dr_cluster_identifier: optional(&m.dr_cluster_identifier)?
            .unwrap_or_else(|| client.versioned_name(DR_CLUSTER_BASE)),
        health_check_ids,
        session_table_name: optional(&m.session_table_name)?,
        replication_lag_threshold_ms: ms(&m.replication_lag_threshold_ms, DEFAULT_LAG_MS)?,
        rpo_lag_threshold_ms: ms(&m.rpo_lag_threshold_ms, DEFAULT_RPO_LAG_MS)?,
        session_replication_latency_threshold_ms: ms(
            &m.session_replication_latency_threshold_ms,
            DEFAULT_SESSION_LATENCY_MS,
        )?,
    })
}

/// The subscriptions a model asks for: its emails and its other endpoints.
fn subscriptions(m: &MonitoringModel) -> Option<Vec<Endpoint>> {
    let mut out: Vec<Endpoint> = optional(&m.email_addresses)?
        .unwrap_or_default()
        .iter()
        .map(|e| Endpoint::new("email", e))
        .collect();
    for s in optional(&m.subscriptions)?.unwrap_or_default() {
        out.push(Endpoint::new(s.protocol.known()?, s.endpoint.known()?));
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// What a model asks for. `prior` (on update) names the subscriptions to retire.
pub(super) fn spec(
    client: &DrClient,
    m: &MonitoringModel,
    prior: Option<&MonitoringModel>,
) -> Option<MonitoringSpec> {
    let prefix = prefix(m)?;
    let wanted = subscriptions(m).unwrap_or_default();
    let retired = prior
        .and_then(subscriptions)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !wanted.contains(e))
        .collect();
    Some(MonitoringSpec {
        topic_name: m
            .id
            .known()
            .cloned()
            .unwrap_or_else(|| topic_name(client, &prefix)),
        prefix,
        name_version: client.name_version.clone(),
        environment: client.environment.clone(),
        subscriptions: wanted,
        retired,
        alarms: alarm_inputs(client, m)
            .map(|i| alarms::alarms(&i))
            .unwrap_or_default(),
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
    })
}

/// What an apply leaves for state.
pub(super) enum Converged {
    Applied(MonitoringModel),
    /// Failed: what exists (None when nothing readable does), so destroy can remove it.
    Failed(Option<MonitoringModel>),
    /// An object of a wanted name is someone else's: nothing may be recorded.
    Refused,
}

/// Runs the idempotent ensure and maps the outcome to state.
pub(super) async fn converge(
    client: &DrClient,
    spec: &MonitoringSpec,
    planned: &MonitoringModel,
    adopt_untagged: bool,
    deadline: Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Converged {
    match alerts::ensure(&client.aws, spec, adopt_untagged, deadline).await {
        Ok(observed) => {
            let left = alerts::drift(spec, &observed);
            if !left.is_empty() {
                tracing::warn!(
                    "monitoring {} still differs after apply: {left:?}",
                    spec.topic_name
                );
            }
            let mut model = from_observed(client, planned, &observed, Vec::new());
            // Tags are written exactly as planned; reading them back is for drift.
            model.tags_all = planned.tags_all.clone();
            Converged::Applied(model)
        }
        Err((e, _)) if e.code() == Some(NOT_OWNED) => {
            diags.error(verb, e.to_string());
            Converged::Refused
        }
        Err((e, partial)) => {
            diags.error(verb, e.to_string());
            Converged::Failed(partial.map(|o| {
                let drift = alerts::drift(spec, &o);
                from_observed(client, planned, &o, drift)
            }))
        }
    }
}

/// The state of a create that failed before anything readable existed.
pub(super) fn empty_state(client: &DrClient, planned: MonitoringModel) -> MonitoringModel {
    let side = |role: Role, m: &Val<RegionModel>| {
        Val::Known(RegionModel {
            region: Val::Known(client.aws.region(role).region.clone()),
            topic_arn: Val::Known(String::new()),
            kms_key_arn: Val::Known(String::new()),
            alarm_names: m
                .known()
                .map(|r| r.alarm_names.clone())
                .unwrap_or(Val::Known(Vec::new())),
        })
    };
    MonitoringModel {
        primary: side(Role::Primary, &planned.primary),
        dr: side(Role::Dr, &planned.dr),
        drift: Val::Known(vec![format!(
            "{}: topic is missing",
            client.aws.primary.region
        )]),
        ..planned
    }
}

/// The tags of a topic other than drpair's own and AWS's.
fn unmanaged(tags: &Tags) -> Tags {
    user_tags(tags, &Tags::new())
        .into_iter()
        .filter(|(k, _)| !is_aws_tag(k))
        .collect()
}

/// State from what exists. The inputs are kept from `base` (prior state or plan); the ids come
/// from AWS.
pub(super) fn from_observed(
    client: &DrClient,
    base: &MonitoringModel,
    o: &ObservedMonitoring,
    drift: Vec<String>,
) -> MonitoringModel {
    let spec_alarms = alarm_inputs(client, base).map(|i| alarms::alarms(&i));
    let name = base
        .id
        .known()
        .cloned()
        .unwrap_or_else(|| topic_name(client, &prefix(base).unwrap_or_default()));
    let side = |role: Role| {
        let r = o.region(role);
        Val::Known(RegionModel {
            region: Val::Known(r.region.clone()),
            topic_arn: Val::Known(topic_arn(&o.account, &r.region, &name)),
            kms_key_arn: Val::Known(r.key.as_ref().map(|k| k.arn.clone()).unwrap_or_default()),
            alarm_names: Val::Known(match &spec_alarms {
                Some(all) => all
                    .iter()
                    .filter(|a| a.role == role)
                    .map(|a| a.name.clone())
                    .collect(),
                None => r.alarms.iter().map(|a| a.name.clone()).collect(),
            }),
        })
    };
    let mut model = base.clone();
    model.id = Val::Known(name.clone());
    model.name_prefix = Val::Known(prefix(base).unwrap_or_else(|| DEFAULT_PREFIX.to_owned()));
    model.dr_cluster_identifier = Val::Known(
        base.dr_cluster_identifier
            .known()
            .cloned()
            .unwrap_or_else(|| client.versioned_name(DR_CLUSTER_BASE)),
    );
    for (field, default) in [
        (&mut model.replication_lag_threshold_ms, DEFAULT_LAG_MS),
        (&mut model.rpo_lag_threshold_ms, DEFAULT_RPO_LAG_MS),
        (
            &mut model.session_replication_latency_threshold_ms,
            DEFAULT_SESSION_LATENCY_MS,
        ),
    ] {
        if !field.is_known() {
            *field = Val::Known(default);
        }
    }
    model.alarm_names = Val::Known(match &spec_alarms {
        Some(all) => all.iter().map(|a| a.name.clone()).collect(),
        None => o
            .primary
            .alarms
            .iter()
            .chain(&o.dr.alarms)
            .map(|a| a.name.clone())
            .collect(),
    });
    model.tags = match &base.tags {
        Val::Known(_) => base.tags.clone(),
        _ => Val::Null,
    };
    model.tags_all = match &o.primary.topic {
        Some(t) => Val::Known(unmanaged(&t.tags)),
        None => base.tags_all.clone(),
    };
    model.primary = side(Role::Primary);
    model.dr = side(Role::Dr);
    model.drift = Val::Known(drift);
    model
}

/// State for `terraform import`: the inputs are recovered from the topic and the alarms.
pub(super) fn imported(
    client: &DrClient,
    seed: &MonitoringModel,
    o: &ObservedMonitoring,
) -> MonitoringModel {
    let mut m = seed.clone();
    let emails: BTreeSet<String> = o
        .primary
        .topic
        .iter()
        .flat_map(|t| &t.subscriptions)
        .filter(|s| s.protocol == "email")
        .map(|s| s.endpoint.clone())
        .collect();
    m.email_addresses = if emails.is_empty() {
        Val::Null
    } else {
        Val::Known(emails.into_iter().collect())
    };
    let mut health_checks = Vec::new();
    let inputs = alarm_inputs(client, seed).unwrap_or_default();
    for a in o.primary.alarms.iter().chain(&o.dr.alarms) {
        let dim = |name: &str| {
            a.dimensions
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let threshold = a.threshold.round() as i64;
        match a.tags.get(PART_TAG).map(String::as_str) {
            Some(kind::REPLICATION_LAG) => {
                m.replication_lag_threshold_ms = Val::Known(threshold);
                m.dr_cluster_identifier = Val::from_option(dim("DBClusterIdentifier"));
                m.global_cluster_identifier =
                    Val::from_option(a.tags.get(GLOBAL_CLUSTER_TAG).cloned());
            }
            Some(kind::RPO_LAG) => m.rpo_lag_threshold_ms = Val::Known(threshold),
            Some(kind::HEALTH_CHECK) => {
                if let Some(id) =
                    dim("HealthCheckId").or_else(|| alarms::health_check_id_of(&inputs, &a.name))
                {
                    health_checks.push(id);
                }
            }
            Some(kind::SESSION_REPLICATION_TO_DR) => {
                m.session_replication_latency_threshold_ms = Val::Known(threshold);
                m.session_table_name = Val::from_option(dim("TableName"));
            }
            _ => {}
        }
    }
    health_checks.sort();
    health_checks.dedup();
    if !health_checks.is_empty() {
        m.health_check_ids = Val::Known(health_checks);
    }
    let own: Tags = o
        .primary
        .topic
        .as_ref()
        .map(|t| {
            user_tags(&t.tags, &client.default_tags)
                .into_iter()
                .filter(|(k, _)| !is_aws_tag(k))
                .collect()
        })
        .unwrap_or_default();
    m.tags = if own.is_empty() {
        Val::Null
    } else {
        Val::Known(own)
    };
    m.subscriptions = Val::Null;
    let drift = spec(client, &m, None)
        .map(|s| alerts::drift(&s, o))
        .unwrap_or_default();
    from_observed(client, &m, o, drift)
}
