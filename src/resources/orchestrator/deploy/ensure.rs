//! Creates what is missing and repairs what differs, in dependency order: the state table, the
//! log groups' KMS key and the log groups (before the functions, so Lambda never makes its own),
//! the roles, the functions (retried while IAM propagates the new roles), the rules, the
//! permissions that let the rules invoke the functions, then the rules' targets. Every step
//! finds its object by name first, so a second run after an interruption completes the first.

use crate::aws::iam::{caller_account, ensure_role};
use crate::aws::kms::ensure_key;
use crate::aws::{AwsContext, AwsError, Deadline};

use super::super::package::package;
use super::functions::{
    check_function_owner, ensure_function, ensure_permission, remove_unexpected_permissions,
};
use super::logs::ensure_log_group;
use super::observe::primary_endpoint_url;
use super::parts::{function_spec, role_spec, rule_specs, Function};
use super::rules::ensure_rule;
use super::table::ensure_table;
use super::Spec;

/// Brings the deployment to `spec`. Objects without an owner tag are adopted only when
/// `adopt_untagged` (an update after an import); those of another owner never. The exception is
/// an untagged log group of one of this deployment's functions: Lambda made it, and it is
/// adopted.
pub async fn ensure(
    aws: &AwsContext,
    spec: &Spec,
    adopt_untagged: bool,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let rc = &aws.dr;
    let account = caller_account(rc).await?;
    // Read at apply time, so the health check must exist; the orchestrator probes this URL
    // itself when Route 53's API (in us-east-1) does not answer.
    let endpoint = primary_endpoint_url(rc, &spec.inputs.primary_health_check_id).await?;
    let functions = Function::BOTH.map(|f| function_spec(spec, &account, f, endpoint.as_deref()));
    // A function this deployment may not take is refused before its log group is adopted.
    for fs in &functions {
        check_function_owner(rc, fs, adopt_untagged).await?;
    }
    let owner = spec.owner();
    ensure_table(
        rc,
        &spec.names.table,
        &spec.tags("state-table", &spec.names.table),
        &owner,
        adopt_untagged,
        deadline,
    )
    .await?;
    let key = ensure_key(rc, &spec.logs_key_spec(&account), adopt_untagged).await?;
    for f in Function::BOTH {
        ensure_log_group(rc, &spec.log_group_spec(f, &key.arn), deadline).await?;
    }
    for f in Function::BOTH {
        ensure_role(rc, &role_spec(spec, &account, f), adopt_untagged).await?;
    }
    for fs in &functions {
        ensure_function(rc, fs, package(), adopt_untagged, deadline).await?;
    }
    let rules = rule_specs(spec, &account);
    for f in Function::BOTH {
        let wanted = f.permissions(spec, &account);
        for (sid, source) in &wanted {
            ensure_permission(rc, f.name(&spec.names), sid, source, &account.id).await?;
        }
        remove_unexpected_permissions(rc, f.name(&spec.names), &wanted).await?;
    }
    for rule in &rules {
        ensure_rule(rc, rule, adopt_untagged).await?;
    }
    Ok(())
}
