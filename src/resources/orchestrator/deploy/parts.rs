//! The specification of each part, derived from the [`Spec`], the account and the primary's
//! endpoint: shared by ensure (what to make) and observe (what to compare with).

use std::collections::BTreeMap;

use crate::aws::iam::{Account, RoleSpec};

use super::super::package::{NOTIFIER_HANDLER, ORCHESTRATOR_HANDLER};
use super::functions::FunctionSpec;
use super::rules::RuleSpec;
use super::*;

/// The two functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Orchestrator,
    Notifier,
}

impl Function {
    pub const BOTH: [Function; 2] = [Function::Orchestrator, Function::Notifier];

    pub fn name(self, names: &Names) -> &str {
        match self {
            Function::Orchestrator => &names.orchestrator,
            Function::Notifier => &names.notifier,
        }
    }

    pub fn role_name(self, names: &Names) -> &str {
        match self {
            Function::Orchestrator => &names.orchestrator_role,
            Function::Notifier => &names.notifier_role,
        }
    }

    /// The `drpair:part` of the function and of its role.
    pub fn part(self) -> &'static str {
        match self {
            Function::Orchestrator => "orchestrator",
            Function::Notifier => "notifier",
        }
    }

    /// Statement id → the rule allowed to invoke the function.
    pub fn permissions(self, spec: &Spec, account: &Account) -> BTreeMap<String, String> {
        let mut allowed = BTreeMap::new();
        allowed.insert(
            ALARMS_PERMISSION.to_owned(),
            rule_arn(spec, account, &spec.names.alarm_rule),
        );
        if self == Function::Orchestrator {
            allowed.insert(
                PROBE_PERMISSION.to_owned(),
                rule_arn(spec, account, &spec.names.probe_rule),
            );
        }
        allowed
    }
}

pub fn function_arn(spec: &Spec, account: &Account, name: &str) -> String {
    format!(
        "arn:{}:lambda:{}:{}:function:{name}",
        account.partition, spec.dr_region, account.id
    )
}

pub fn rule_arn(spec: &Spec, account: &Account, name: &str) -> String {
    format!(
        "arn:{}:events:{}:{}:rule/{name}",
        account.partition, spec.dr_region, account.id
    )
}

pub fn role_spec(spec: &Spec, account: &Account, function: Function) -> RoleSpec {
    let name = function.role_name(&spec.names).to_owned();
    let policy = match function {
        Function::Orchestrator => spec.orchestrator_policy(account),
        Function::Notifier => spec.notifier_policy(account),
    };
    RoleSpec {
        description: format!(
            "Runs the drpair failover {} Lambda {} in {}.",
            function.part(),
            function.name(&spec.names),
            spec.dr_region
        ),
        trust_policy: spec.trust_policy(account),
        managed_policy_arns: Vec::new(),
        inline_policies: [(POLICY_NAME.to_owned(), policy)].into(),
        tags: spec.tags(&format!("{}-role", function.part()), &name),
        owner: spec.owner(),
        name,
    }
}

pub fn function_spec(
    spec: &Spec,
    account: &Account,
    function: Function,
    primary_endpoint_url: Option<&str>,
) -> FunctionSpec {
    let name = function.name(&spec.names).to_owned();
    let (handler, timeout, memory_size, what) = match function {
        Function::Orchestrator => (
            ORCHESTRATOR_HANDLER,
            ORCHESTRATOR_TIMEOUT_SECONDS,
            ORCHESTRATOR_MEMORY_MB,
            "Fails the Aurora global database over to the DR region when the primary is judged down",
        ),
        Function::Notifier => (
            NOTIFIER_HANDLER,
            NOTIFIER_TIMEOUT_SECONDS,
            NOTIFIER_MEMORY_MB,
            "Turns DR alarm state changes into readable messages",
        ),
    };
    FunctionSpec {
        description: format!(
            "drpair: {what} ({}). Managed by Terraform ({RESOURCE_TYPE}).",
            spec.inputs.global_cluster_identifier
        ),
        role_arn: account.role_arn(function.role_name(&spec.names)),
        handler: handler.to_owned(),
        timeout,
        memory_size,
        environment: spec.function_environment(primary_endpoint_url),
        tags: spec.tags(&format!("{}-function", function.part()), &name),
        owner: spec.owner(),
        name,
    }
}

/// The alarm rule (both functions) and the schedule (the orchestrator).
pub fn rule_specs(spec: &Spec, account: &Account) -> [RuleSpec; 2] {
    let orchestrator = function_arn(spec, account, &spec.names.orchestrator);
    let notifier = function_arn(spec, account, &spec.names.notifier);
    [
        RuleSpec {
            name: spec.names.alarm_rule.clone(),
            description: format!(
                "drpair: state changes of the DR alarms {} for the failover orchestrator and notifier.",
                spec.alarm_event_pattern()["detail"]["alarmName"][0]["wildcard"]
            ),
            event_pattern: Some(spec.alarm_event_pattern()),
            schedule: None,
            targets: [
                (ORCHESTRATOR_TARGET.to_owned(), orchestrator.clone()),
                (NOTIFIER_TARGET.to_owned(), notifier),
            ]
            .into(),
            tags: spec.tags("alarm-rule", &spec.names.alarm_rule),
            owner: spec.owner(),
        },
        RuleSpec {
            name: spec.names.probe_rule.clone(),
            description: "drpair: probes the primary region's health every minute, from the DR region.".into(),
            event_pattern: None,
            schedule: Some(SCHEDULE.to_owned()),
            targets: [(ORCHESTRATOR_TARGET.to_owned(), orchestrator)].into(),
            tags: spec.tags("probe-rule", &spec.names.probe_rule),
            owner: spec.owner(),
        },
    ]
}
