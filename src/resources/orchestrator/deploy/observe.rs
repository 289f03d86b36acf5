//! What exists of an orchestrator deployment, and how it differs from its spec.

use std::collections::BTreeMap;

use crate::aws::error::api_error;
use crate::aws::iam::{caller_account, find_role, role_drift, Account, ObservedRole};
use crate::aws::kms::{find_key, key_drift_with_policy, RegionKey};
use crate::aws::{AwsContext, AwsError, RegionCtx};

use super::super::package::package;
use super::functions::{
    find_function, function_drift, permission_drift, permissions, Grant, ObservedFunction,
};
use super::logs::{find_log_group, log_group_drift, log_group_name, ObservedLogGroup};
use super::parts::{function_spec, role_spec, rule_specs, Function};
use super::rules::{find_rule, rule_drift, ObservedRule};
use super::table::{find_table, table_drift, ObservedTable};
use super::{health_check_url, Names, Spec};

/// Everything found, by deterministic name, in the DR region (and IAM).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    pub account: Account,
    /// The URL the primary's health check probes (None: not an HTTP(S) check, or unreadable).
    pub primary_endpoint_url: Option<String>,
    pub table: Option<ObservedTable>,
    pub orchestrator_role: Option<ObservedRole>,
    pub notifier_role: Option<ObservedRole>,
    pub orchestrator: Option<ObservedFunction>,
    pub notifier: Option<ObservedFunction>,
    /// Per function name: its resource policy's statements by id.
    pub permissions: BTreeMap<String, BTreeMap<String, Grant>>,
    pub alarm_rule: Option<ObservedRule>,
    pub probe_rule: Option<ObservedRule>,
    /// The key under the log groups' alias.
    pub logs_key: Option<RegionKey>,
    pub orchestrator_log_group: Option<ObservedLogGroup>,
    pub notifier_log_group: Option<ObservedLogGroup>,
}

impl Observed {
    /// Nothing of the deployment exists.
    pub fn is_gone(&self) -> bool {
        self.table.is_none()
            && self.orchestrator_role.is_none()
            && self.notifier_role.is_none()
            && self.orchestrator.is_none()
            && self.notifier.is_none()
            && self.alarm_rule.is_none()
            && self.probe_rule.is_none()
            && self.logs_key.is_none()
            && self.orchestrator_log_group.is_none()
            && self.notifier_log_group.is_none()
    }

    pub fn function(&self, f: Function) -> Option<&ObservedFunction> {
        match f {
            Function::Orchestrator => self.orchestrator.as_ref(),
            Function::Notifier => self.notifier.as_ref(),
        }
    }

    pub fn role(&self, f: Function) -> Option<&ObservedRole> {
        match f {
            Function::Orchestrator => self.orchestrator_role.as_ref(),
            Function::Notifier => self.notifier_role.as_ref(),
        }
    }

    pub fn log_group(&self, f: Function) -> Option<&ObservedLogGroup> {
        match f {
            Function::Orchestrator => self.orchestrator_log_group.as_ref(),
            Function::Notifier => self.notifier_log_group.as_ref(),
        }
    }
}

/// The endpoint a Route 53 health check probes; None for checks without one (calculated,
/// CloudWatch, TCP).
pub async fn primary_endpoint_url(rc: &RegionCtx, id: &str) -> Result<Option<String>, AwsError> {
    let out = rc
        .route53()
        .get_health_check()
        .health_check_id(id)
        .send()
        .await
        .map_err(api_error("reading", "Route 53 health check", id, "global"))?;
    let Some(config) = out.health_check().and_then(|c| c.health_check_config()) else {
        return Ok(None);
    };
    Ok(health_check_url(
        config.r#type().as_str(),
        config.fully_qualified_domain_name(),
        config.ip_address(),
        config.port(),
        config.resource_path(),
    ))
}

/// Reads every part by name. The primary's endpoint is read too, from the health check
/// `health_check_id` (one that cannot be read leaves it to what the orchestrator has).
pub async fn observe(
    aws: &AwsContext,
    names: &Names,
    health_check_id: &str,
) -> Result<Observed, AwsError> {
    let rc = &aws.dr;
    // Every part at once (they are independent reads); the functions' grants once the functions
    // are known.
    let functions = async {
        let (orchestrator, notifier, endpoint) = tokio::join!(
            find_function(rc, &names.orchestrator),
            find_function(rc, &names.notifier),
            primary_endpoint_url(rc, health_check_id),
        );
        let (orchestrator, notifier) = (orchestrator?, notifier?);
        let primary_endpoint_url = match endpoint {
            Ok(url) => url,
            Err(e) => {
                tracing::warn!("{e}; keeping the orchestrator's PRIMARY_ENDPOINT_URL");
                orchestrator
                    .as_ref()
                    .and_then(|f| f.environment.get("PRIMARY_ENDPOINT_URL").cloned())
            }
        };
        let found: Vec<String> = [&orchestrator, &notifier]
            .into_iter()
            .flatten()
            .map(|f| f.name.clone())
            .collect();
        let sets =
            futures::future::try_join_all(found.iter().map(|name| permissions(rc, name))).await?;
        let permission_sets: BTreeMap<_, _> = found.into_iter().zip(sets).collect();
        Ok::<_, AwsError>((
            orchestrator,
            notifier,
            primary_endpoint_url,
            permission_sets,
        ))
    };
    let orchestrator_logs = log_group_name(&names.orchestrator);
    let notifier_logs = log_group_name(&names.notifier);
    let (
        account,
        (orchestrator, notifier, primary_endpoint_url, permissions),
        table,
        orchestrator_role,
        notifier_role,
        alarm_rule,
        probe_rule,
        logs_key,
        orchestrator_log_group,
        notifier_log_group,
    ) = tokio::try_join!(
        caller_account(rc),
        functions,
        find_table(rc, &names.table),
        find_role(rc, &names.orchestrator_role),
        find_role(rc, &names.notifier_role),
        find_rule(rc, &names.alarm_rule),
        find_rule(rc, &names.probe_rule),
        find_key(rc, &names.logs_key_alias),
        find_log_group(rc, &orchestrator_logs),
        find_log_group(rc, &notifier_logs),
    )?;
    Ok(Observed {
        account,
        primary_endpoint_url,
        table,
        orchestrator_role,
        notifier_role,
        orchestrator,
        notifier,
        permissions,
        alarm_rule,
        probe_rule,
        logs_key,
        orchestrator_log_group,
        notifier_log_group,
    })
}

/// Every difference between what exists and the spec, one phrase each. Inputs the functions'
/// environment holds are compared too, so a spec built from what was read reports only the
/// rest.
pub fn drift(spec: &Spec, o: &Observed) -> Vec<String> {
    let account = &o.account;
    let code = &package().code_sha256;
    let mut drift = table_drift(&spec.names.table, o.table.as_ref());
    for f in Function::BOTH {
        drift.extend(role_drift(&role_spec(spec, account, f), o.role(f)));
        let fs = function_spec(spec, account, f, o.primary_endpoint_url.as_deref());
        drift.extend(function_drift(&fs, code, o.function(f)));
        if o.function(f).is_some() {
            let have = o.permissions.get(&fs.name).cloned().unwrap_or_default();
            drift.extend(permission_drift(
                &fs.name,
                &f.permissions(spec, account),
                &account.id,
                &have,
            ));
        }
    }
    let [alarms, probe] = rule_specs(spec, account);
    drift.extend(rule_drift(&alarms, o.alarm_rule.as_ref()));
    drift.extend(rule_drift(&probe, o.probe_rule.as_ref()));
    drift.extend(key_drift_with_policy(
        &spec.dr_region,
        &spec.names.logs_key_alias,
        o.logs_key.as_ref(),
        spec.logs_key_spec(account).policy.as_ref(),
    ));
    let key_arn = o.logs_key.as_ref().map_or("", |k| k.arn.as_str());
    for f in Function::BOTH {
        drift.extend(log_group_drift(
            &spec.log_group_spec(f, key_arn),
            o.log_group(f),
        ));
    }
    drift
}
