//! Between the Terraform model and the AWS side: the spec of a plan, the state of what was
//! found, the outcome of an apply, the state of an import.

use crate::aws::tags::{is_aws_tag, user_tags, Tags};
use crate::aws::{AwsError, Deadline};
use crate::framework::{Diagnostics, Val};
use crate::provider::DrClient;

use super::deploy::functions::find_function;
use super::deploy::logs::{DEFAULT_RETENTION_DAYS, RETENTION_DAYS};
use super::deploy::parts::Function;
use super::deploy::{self, Inputs, Names, Observed, ScaleTo, Spec, ID_PREFIX};
use super::{
    OrchestratorModel, ScaleToModel, DEFAULT_ALARM_NAME_PREFIX, DEFAULT_CONSECUTIVE_FAILURES,
    DEFAULT_LAG_THRESHOLD_MS, DEFAULT_MODE, DEFAULT_RTO_TARGET_SECONDS,
};
use crate::functions::rto::{RtoBudget, DEFAULT_DNS_FAILOVER_SECONDS};

/// `failover-orchestrator-{name_version}-{environment}` for this provider.
pub fn expected_id(client: &DrClient) -> String {
    format!("{ID_PREFIX}{}-{}", client.name_version, client.environment)
}

/// The list when it and every element are known.
fn known_strings(v: &Val<Vec<Val<String>>>) -> Option<Vec<String>> {
    v.known()?.iter().map(|s| s.known().cloned()).collect()
}

/// The inputs of a model whose configuration is known (defaults for what is left out).
fn inputs(m: &OrchestratorModel) -> Option<Inputs> {
    let scale_to = match &m.scale_to {
        Val::Known(s) => Some(ScaleTo {
            min_size: *s.min_size.known()?,
            desired_capacity: *s.desired_capacity.known()?,
        }),
        Val::Null => None,
        Val::Unknown => return None,
    };
    Some(Inputs {
        global_cluster_identifier: m.global_cluster_identifier.known()?.clone(),
        dr_cluster_identifier: m.dr_cluster_identifier.known()?.clone(),
        primary_health_check_id: m.primary_health_check_id.known()?.clone(),
        dr_asg_name: m.dr_asg_name.known()?.clone(),
        topic_arns: known_strings(&m.topic_arns)?,
        mode: m
            .mode
            .known()
            .cloned()
            .unwrap_or_else(|| DEFAULT_MODE.into()),
        consecutive_failures: m
            .consecutive_failures
            .known()
            .copied()
            .unwrap_or(DEFAULT_CONSECUTIVE_FAILURES),
        replication_lag_threshold_ms: m
            .replication_lag_threshold_ms
            .known()
            .copied()
            .unwrap_or(DEFAULT_LAG_THRESHOLD_MS),
        alarm_name_prefix: m
            .alarm_name_prefix
            .known()
            .cloned()
            .unwrap_or_else(|| DEFAULT_ALARM_NAME_PREFIX.into()),
        scale_to,
        primary_endpoint_tls_name: match &m.primary_endpoint_tls_name {
            Val::Null => None,
            name => Some(name.known()?.clone()),
        },
    })
}

/// The RTO budget of a model whose timing inputs are known (defaults for what is left out);
/// None while one of them is unknown (e.g. `dns_failover_seconds` from a resource not yet
/// planned).
pub fn rto_budget(m: &OrchestratorModel) -> Option<RtoBudget> {
    let failures = match &m.consecutive_failures {
        Val::Known(n) => *n,
        Val::Null => DEFAULT_CONSECUTIVE_FAILURES,
        Val::Unknown => return None,
    };
    let dns = match &m.dns_failover_seconds {
        Val::Known(n) => *n,
        Val::Null => DEFAULT_DNS_FAILOVER_SECONDS,
        Val::Unknown => return None,
    };
    Some(RtoBudget::new(failures, dns))
}

/// The spec of a model whose id and inputs are known.
pub fn spec(client: &DrClient, m: &OrchestratorModel) -> Option<Spec> {
    let id = m.id.known()?.clone();
    let names = Names::from_id(&id, &client.aws.dr.region)?;
    let log_retention_days = match &m.log_retention_days {
        Val::Known(days) => *days,
        Val::Null => DEFAULT_RETENTION_DAYS,
        Val::Unknown => return None,
    };
    Some(Spec {
        id,
        names,
        environment: client.environment.clone(),
        primary_region: client.aws.primary.region.clone(),
        dr_region: client.aws.dr.region.clone(),
        inputs: inputs(m)?,
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
        log_retention_days,
    })
}

fn set_inputs(m: &mut OrchestratorModel, i: Inputs) {
    m.global_cluster_identifier = Val::Known(i.global_cluster_identifier);
    m.dr_cluster_identifier = Val::Known(i.dr_cluster_identifier);
    m.primary_health_check_id = Val::Known(i.primary_health_check_id);
    m.dr_asg_name = Val::Known(i.dr_asg_name);
    m.topic_arns = Val::Known(i.topic_arns.into_iter().map(Val::Known).collect());
    m.mode = Val::Known(i.mode);
    m.consecutive_failures = Val::Known(i.consecutive_failures);
    m.replication_lag_threshold_ms = Val::Known(i.replication_lag_threshold_ms);
    m.alarm_name_prefix = Val::Known(i.alarm_name_prefix);
    m.primary_endpoint_tls_name = i.primary_endpoint_tls_name.map_or(Val::Null, Val::Known);
    m.scale_to = match i.scale_to {
        Some(s) => Val::Known(ScaleToModel {
            min_size: Val::Known(s.min_size),
            desired_capacity: Val::Known(s.desired_capacity),
        }),
        None => Val::Null,
    };
}

/// The tags of an object that are neither drpair's own nor AWS's.
fn unmanaged(tags: &Tags) -> Tags {
    user_tags(tags, &Tags::new())
        .into_iter()
        .filter(|(k, _)| !is_aws_tag(k))
        .collect()
}

/// `base` (plan or prior state) with the computed values of what was found. With
/// `inputs_from_aws`, the inputs and tags are what the orchestrator function carries (a read
/// or an import); otherwise `base`'s (the outcome of an apply).
fn from_observed(
    client: &DrClient,
    base: &OrchestratorModel,
    o: &Observed,
    inputs_from_aws: bool,
) -> OrchestratorModel {
    let mut m = base.clone();
    let text = |v: Option<&str>| Val::Known(v.unwrap_or_default().to_owned());
    if inputs_from_aws {
        if let Some(f) = &o.orchestrator {
            if let Some(found) = Inputs::from_env(&f.environment) {
                set_inputs(&mut m, found);
            }
            m.tags_all = Val::Known(unmanaged(&f.tags));
        }
    }
    if let Some(names) =
        m.id.known()
            .and_then(|id| Names::from_id(id, &client.aws.dr.region))
    {
        m.state_table_name = Val::Known(names.table);
    }
    m.region = Val::Known(client.aws.dr.region.clone());
    m.orchestrator_function_arn = text(o.orchestrator.as_ref().map(|f| f.arn.as_str()));
    m.notifier_function_arn = text(o.notifier.as_ref().map(|f| f.arn.as_str()));
    m.orchestrator_role_arn = text(o.orchestrator_role.as_ref().map(|r| r.arn.as_str()));
    m.notifier_role_arn = text(o.notifier_role.as_ref().map(|r| r.arn.as_str()));
    m.rule_arns = Val::Known(
        [&o.alarm_rule, &o.probe_rule]
            .iter()
            .map(|r| r.as_ref().map(|r| r.arn.clone()).unwrap_or_default())
            .collect(),
    );
    m.code_sha256 = text(o.orchestrator.as_ref().map(|f| f.code_sha256.as_str()));
    m.kms_key_arn = text(o.logs_key.as_ref().map(|k| k.arn.as_str()));
    // A setting AWS holds on the log groups: the state's; on import, the orchestrator's group's
    // (when it is one CloudWatch Logs offers), else the default.
    if !m.log_retention_days.is_known() {
        m.log_retention_days = Val::Known(
            o.log_group(Function::Orchestrator)
                .and_then(|g| g.retention_days)
                .filter(|d| RETENTION_DAYS.contains(d))
                .unwrap_or(DEFAULT_RETENTION_DAYS),
        );
    }
    // Plan-time settings AWS does not hold: the configuration's, else the defaults (import).
    if !m.rto_target_seconds.is_known() {
        m.rto_target_seconds = Val::Known(DEFAULT_RTO_TARGET_SECONDS);
    }
    if m.dns_failover_seconds.is_unknown() {
        m.dns_failover_seconds = Val::Null;
    }
    m.rto_budget = rto_budget(&m).map_or(Val::Unknown, |b| Val::Known(b.into()));
    if !m.tags_all.is_known() {
        m.tags_all = Val::Known(client.tags_all(&m.tags));
    }
    m.drift = Val::Known(
        spec(client, &m)
            .map(|s| deploy::drift(&s, o))
            .unwrap_or_default(),
    );
    m
}

/// Runs the idempotent ensure, then reads back what exists: the new state, or on failure the
/// state of what was made (so destroy can remove it).
pub async fn converge(
    client: &DrClient,
    spec: &Spec,
    planned: OrchestratorModel,
    adopt_untagged: bool,
    deadline: Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Option<OrchestratorModel> {
    let ensured = deploy::ensure(&client.aws, spec, adopt_untagged, deadline).await;
    let observed = deploy::observe(
        &client.aws,
        &spec.names,
        &spec.inputs.primary_health_check_id,
    )
    .await;
    match (ensured, observed) {
        (Ok(()), Ok(o)) => {
            let mut model = from_observed(client, &planned, &o, false);
            let left = model.drift.known().cloned().unwrap_or_default();
            if !left.is_empty() {
                tracing::warn!(
                    "failover orchestrator {} still differs after apply: {left:?}",
                    spec.id
                );
            }
            model.drift = Val::Known(Vec::new());
            model.tags_all = planned.tags_all.clone();
            Some(model)
        }
        (Ok(()), Err(e)) | (Err(e), Err(_)) => {
            diags.error(verb, e.to_string());
            None
        }
        (Err(e), Ok(o)) => {
            diags.error(verb, e.to_string());
            if o.is_gone() {
                return None;
            }
            let mut model = from_observed(client, &planned, &o, false);
            model.tags_all = Val::Known(client.tags_all(&planned.tags));
            Some(model)
        }
    }
}

/// The state of what exists for `state`'s id; None when nothing does.
pub async fn read_state(
    client: &DrClient,
    state: &OrchestratorModel,
) -> Result<Option<OrchestratorModel>, AwsError> {
    let Some(id) = state.id.known() else {
        return Ok(None);
    };
    let Some(names) = Names::from_id(id, &client.aws.dr.region) else {
        return Ok(None);
    };
    let health_check = state
        .primary_health_check_id
        .known()
        .cloned()
        .unwrap_or_default();
    let o = deploy::observe(&client.aws, &names, &health_check).await?;
    if o.is_gone() {
        return Ok(None);
    }
    Ok(Some(from_observed(client, state, &o, true)))
}

/// The state of an existing deployment, its inputs taken from the orchestrator function.
pub async fn imported(client: &DrClient, id: &str) -> Result<Option<OrchestratorModel>, AwsError> {
    let Some(names) = Names::from_id(id, &client.aws.dr.region) else {
        return Ok(None);
    };
    let Some(function) = find_function(&client.aws.dr, &names.orchestrator).await? else {
        return Ok(None);
    };
    let Some(found) = Inputs::from_env(&function.environment) else {
        return Ok(None);
    };
    let o = deploy::observe(&client.aws, &names, &found.primary_health_check_id).await?;
    let own: Tags = user_tags(&function.tags, &client.default_tags)
        .into_iter()
        .filter(|(k, _)| !is_aws_tag(k))
        .collect();
    let seed = OrchestratorModel {
        id: Val::Known(id.to_owned()),
        tags: if own.is_empty() {
            Val::Null
        } else {
            Val::Known(own)
        },
        ..OrchestratorModel::default()
    };
    Ok(Some(from_observed(client, &seed, &o, true)))
}
