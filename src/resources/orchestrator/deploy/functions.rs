//! The two Lambda functions and the resource-policy statements that let the EventBridge rules
//! invoke them: find, ensure (create, or bring code, configuration and tags to the spec),
//! drift, delete.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, LastUpdateStatus, Runtime, State};
use serde_json::Value;

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::{retry_role_propagation, NOT_OWNED_CODE};
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{wait_for, AwsError, Deadline, Poll, RegionCtx};

use super::super::package::{Package, RUNTIME};

pub const FUNCTION: &str = "Lambda function";
const PERMISSION: &str = "Lambda permission";

/// What one function should be.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FunctionSpec {
    pub name: String,
    pub description: String,
    pub role_arn: String,
    pub handler: String,
    pub timeout: i32,
    pub memory_size: i32,
    pub environment: BTreeMap<String, String>,
    pub tags: Tags,
    pub owner: String,
}

/// A function as Lambda has it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedFunction {
    pub name: String,
    pub arn: String,
    pub role_arn: String,
    pub handler: String,
    pub runtime: String,
    pub timeout: i32,
    pub memory_size: i32,
    pub description: String,
    pub environment: BTreeMap<String, String>,
    pub code_sha256: String,
    pub state: String,
    pub last_update_status: String,
    pub tags: Tags,
}

/// The function with its configuration and tags; None when it does not exist.
pub async fn find_function(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<ObservedFunction>, AwsError> {
    let got = rc
        .lambda()
        .get_function()
        .function_name(name)
        .send()
        .await
        .map_err(api_error("reading", FUNCTION, name, &rc.region));
    let Some(out) = ok_if_not_found(got)? else {
        return Ok(None);
    };
    let Some(c) = out.configuration() else {
        return Ok(None);
    };
    let text = |v: Option<&str>| v.unwrap_or_default().to_owned();
    Ok(Some(ObservedFunction {
        name: text(c.function_name()),
        arn: text(c.function_arn()),
        role_arn: text(c.role()),
        handler: text(c.handler()),
        runtime: c
            .runtime()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        timeout: c.timeout().unwrap_or_default(),
        memory_size: c.memory_size().unwrap_or_default(),
        description: text(c.description()),
        environment: c
            .environment()
            .and_then(|e| e.variables())
            .map(|vars| vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        code_sha256: text(c.code_sha256()),
        state: c.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        last_update_status: c
            .last_update_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        tags: out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }))
}

fn configuration_differs(spec: &FunctionSpec, f: &ObservedFunction) -> Vec<&'static str> {
    let mut differs = Vec::new();
    if f.role_arn != spec.role_arn {
        differs.push("role");
    }
    if f.handler != spec.handler {
        differs.push("handler");
    }
    if f.runtime != RUNTIME {
        differs.push("runtime");
    }
    if f.timeout != spec.timeout {
        differs.push("timeout");
    }
    if f.memory_size != spec.memory_size {
        differs.push("memory size");
    }
    if f.description != spec.description {
        differs.push("description");
    }
    if f.environment != spec.environment {
        differs.push("environment");
    }
    differs
}

/// How the function differs from the spec and the shipped code, one phrase per difference.
pub fn function_drift(
    spec: &FunctionSpec,
    code_sha256: &str,
    observed: Option<&ObservedFunction>,
) -> Vec<String> {
    let Some(f) = observed else {
        return vec![format!("{FUNCTION} {} is missing", spec.name)];
    };
    let mut drift: Vec<String> = configuration_differs(spec, f)
        .into_iter()
        .map(|what| format!("{FUNCTION} {}: {what} differs", spec.name))
        .collect();
    if f.code_sha256 != code_sha256 {
        drift.push(format!(
            "{FUNCTION} {}: code differs from the provider's",
            spec.name
        ));
    }
    drift
}

fn not_owned(spec: &FunctionSpec, rc: &RegionCtx, detail: String) -> AwsError {
    AwsError::api(
        "adopting",
        FUNCTION,
        &spec.name,
        &rc.region,
        Some(NOT_OWNED_CODE.to_owned()),
        detail,
    )
}

/// Until the function is Active and no update is in progress (Lambda refuses changes while
/// one runs).
async fn wait_ready(
    rc: &RegionCtx,
    name: &str,
    deadline: Deadline,
) -> Result<ObservedFunction, AwsError> {
    wait_for(deadline, FUNCTION, name, &rc.region, || async {
        let Some(f) = find_function(rc, name).await? else {
            return Ok(Poll::Pending("not visible yet".into()));
        };
        if f.state == State::Failed.as_str()
            || f.last_update_status == LastUpdateStatus::Failed.as_str()
        {
            return Err(AwsError::api(
                "deploying",
                FUNCTION,
                name,
                &rc.region,
                None,
                format!("state {}, last update {}", f.state, f.last_update_status),
            ));
        }
        let ready = (f.state.is_empty() || f.state == State::Active.as_str())
            && f.last_update_status != LastUpdateStatus::InProgress.as_str();
        Ok(if ready {
            Poll::Ready(f)
        } else {
            Poll::Pending(format!("{} / {}", f.state, f.last_update_status))
        })
    })
    .await
}

fn environment(spec: &FunctionSpec) -> Environment {
    let vars: HashMap<String, String> = spec
        .environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Environment::builder().set_variables(Some(vars)).build()
}

async fn create(
    rc: &RegionCtx,
    spec: &FunctionSpec,
    package: &Package,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let name = spec.name.as_str();
    let tags: HashMap<String, String> = spec.tags.clone().into_iter().collect();
    retry_role_propagation(deadline, || async {
        rc.lambda()
            .create_function()
            .function_name(name)
            .runtime(Runtime::from(RUNTIME))
            .role(&spec.role_arn)
            .handler(&spec.handler)
            .description(&spec.description)
            .timeout(spec.timeout)
            .memory_size(spec.memory_size)
            .environment(environment(spec))
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(package.zip.clone()))
                    .build(),
            )
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(api_error("creating", FUNCTION, name, &rc.region))
    })
    .await?;
    tracing::info!("created {FUNCTION} {}/{name}", rc.region);
    Ok(())
}

/// Refuses a function tagged with another owner, and an untagged one unless `adopt_untagged`.
fn check_owner(
    rc: &RegionCtx,
    spec: &FunctionSpec,
    f: &ObservedFunction,
    adopt_untagged: bool,
) -> Result<(), AwsError> {
    match f.tags.get(OWNER_TAG) {
        Some(owner) if *owner != spec.owner => {
            Err(not_owned(spec, rc, format!("the function is owned by {owner}, not {}", spec.owner)))
        }
        None if !adopt_untagged => {
            Err(not_owned(spec, rc, format!("a function of this name exists and is not managed by drpair (no {OWNER_TAG} tag); delete or rename it, or import the resource that should own it")))
        }
        _ => Ok(()),
    }
}

/// Fails as [`ensure_function`] would when a function of the spec's name exists that this
/// deployment may not take: checked before anything named after the function (its log group)
/// is touched.
pub async fn check_function_owner(
    rc: &RegionCtx,
    spec: &FunctionSpec,
    adopt_untagged: bool,
) -> Result<(), AwsError> {
    match find_function(rc, &spec.name).await? {
        Some(f) => check_owner(rc, spec, &f, adopt_untagged),
        None => Ok(()),
    }
}

/// Creates the function or brings an existing one to the spec and the package. A function
/// tagged with another owner is refused; an untagged one unless `adopt_untagged`. Idempotent.
pub async fn ensure_function(
    rc: &RegionCtx,
    spec: &FunctionSpec,
    package: &Package,
    adopt_untagged: bool,
    deadline: Deadline,
) -> Result<ObservedFunction, AwsError> {
    let name = spec.name.as_str();
    match find_function(rc, name).await? {
        Some(f) => check_owner(rc, spec, &f, adopt_untagged)?,
        None => create(rc, spec, package, deadline).await?,
    }
    let mut f = wait_ready(rc, name, deadline).await?;
    let lambda = rc.lambda();
    if f.code_sha256 != package.code_sha256 {
        lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(package.zip.clone()))
            .send()
            .await
            .map_err(api_error(
                "updating the code of",
                FUNCTION,
                name,
                &rc.region,
            ))?;
        f = wait_ready(rc, name, deadline).await?;
    }
    if !configuration_differs(spec, &f).is_empty() {
        retry_role_propagation(deadline, || async {
            lambda
                .update_function_configuration()
                .function_name(name)
                .runtime(Runtime::from(RUNTIME))
                .role(&spec.role_arn)
                .handler(&spec.handler)
                .description(&spec.description)
                .timeout(spec.timeout)
                .memory_size(spec.memory_size)
                .environment(environment(spec))
                .send()
                .await
                .map(|_| ())
                .map_err(api_error(
                    "updating the configuration of",
                    FUNCTION,
                    name,
                    &rc.region,
                ))
        })
        .await?;
        f = wait_ready(rc, name, deadline).await?;
    }
    let (set, remove) = tag_changes(&f.tags, &spec.tags);
    if !set.is_empty() {
        lambda
            .tag_resource()
            .resource(&f.arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .map_err(api_error("tagging", FUNCTION, name, &rc.region))?;
    }
    if !remove.is_empty() {
        lambda
            .untag_resource()
            .resource(&f.arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(api_error("untagging", FUNCTION, name, &rc.region))?;
    }
    f.tags = spec.tags.clone();
    Ok(f)
}

/// Deletes the function (its resource policy goes with it). One tagged with another owner is
/// left alone; a missing one is success.
pub async fn delete_function(rc: &RegionCtx, name: &str, owner: &str) -> Result<(), AwsError> {
    let Some(f) = find_function(rc, name).await? else {
        return Ok(());
    };
    if let Some(other) = f.tags.get(OWNER_TAG).filter(|o| *o != owner) {
        tracing::warn!("leaving {FUNCTION} {name}: owned by {other}, not {owner}");
        return Ok(());
    }
    let deleted = rc
        .lambda()
        .delete_function()
        .function_name(name)
        .send()
        .await
        .map_err(api_error("deleting", FUNCTION, name, &rc.region));
    ok_if_not_found(deleted)?;
    tracing::info!("deleted {FUNCTION} {}/{name}", rc.region);
    Ok(())
}

/// One statement of a function's resource policy, as far as drpair cares: who may do what,
/// under which source conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// `events.amazonaws.com`, an account or role ARN, or `*`.
    pub principal: String,
    pub action: String,
    pub source_arn: String,
    pub source_account: String,
}

impl Grant {
    /// What drpair adds: EventBridge, from one rule of this account, may invoke the function.
    pub fn from_rule(source_arn: &str, account_id: &str) -> Grant {
        Grant {
            principal: EVENTS_PRINCIPAL.to_owned(),
            action: INVOKE.to_owned(),
            source_arn: source_arn.to_owned(),
            source_account: account_id.to_owned(),
        }
    }
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", self.principal, self.action)?;
        if !self.source_arn.is_empty() {
            write!(f, " from {}", self.source_arn)?;
        }
        if !self.source_account.is_empty() {
            write!(f, " of account {}", self.source_account)?;
        }
        Ok(())
    }
}

const EVENTS_PRINCIPAL: &str = "events.amazonaws.com";
const INVOKE: &str = "lambda:InvokeFunction";

/// The function's resource-policy statements by statement id (GetPolicy; none when the
/// function has no policy).
pub async fn permissions(
    rc: &RegionCtx,
    function: &str,
) -> Result<BTreeMap<String, Grant>, AwsError> {
    let got = rc
        .lambda()
        .get_policy()
        .function_name(function)
        .send()
        .await
        .map_err(api_error(
            "reading the policy of",
            FUNCTION,
            function,
            &rc.region,
        ));
    let Some(out) = ok_if_not_found(got)? else {
        return Ok(BTreeMap::new());
    };
    Ok(parse_permissions(out.policy().unwrap_or("{}")))
}

fn one_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(one_string).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parse_permissions(policy: &str) -> BTreeMap<String, Grant> {
    let doc: Value = serde_json::from_str(policy).unwrap_or(Value::Null);
    let statements = match &doc["Statement"] {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    };
    statements
        .iter()
        .filter_map(|s| {
            let sid = s["Sid"].as_str()?.to_owned();
            let condition = |key: &str, ops: &[&str]| {
                ops.iter()
                    .find_map(|op| s["Condition"][op][key].as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            let principal = match &s["Principal"] {
                Value::Object(p) => p.values().map(one_string).collect::<Vec<_>>().join(","),
                other => one_string(other),
            };
            Some((
                sid,
                Grant {
                    principal,
                    action: one_string(&s["Action"]),
                    source_arn: condition(
                        "AWS:SourceArn",
                        &["ArnLike", "ArnEquals", "StringEquals"],
                    ),
                    source_account: condition("AWS:SourceAccount", &["StringEquals"]),
                },
            ))
        })
        .collect()
}

/// How a function's resource policy differs from the grants drpair wants (statement id → the
/// rule's ARN): missing and changed statements, and every statement drpair did not add.
pub fn permission_drift(
    function: &str,
    wanted: &BTreeMap<String, String>,
    account_id: &str,
    have: &BTreeMap<String, Grant>,
) -> Vec<String> {
    let mut drift = Vec::new();
    for (sid, source) in wanted {
        match have.get(sid) {
            None => drift.push(format!(
                "{FUNCTION} {function}: permission {sid} for {source} is missing"
            )),
            Some(grant) if *grant != Grant::from_rule(source, account_id) => drift.push(format!(
                "{FUNCTION} {function}: permission {sid} allows {grant}, expected {}",
                Grant::from_rule(source, account_id)
            )),
            Some(_) => {}
        }
    }
    for (sid, grant) in have {
        if !wanted.contains_key(sid) {
            drift.push(format!(
                "{FUNCTION} {function}: unexpected permission {sid} allows {grant}"
            ));
        }
    }
    drift
}

/// Lets the EventBridge rule `source_arn` invoke the function, under statement `sid`; a
/// statement of that id that grants anything else is replaced.
pub async fn ensure_permission(
    rc: &RegionCtx,
    function: &str,
    sid: &str,
    source_arn: &str,
    account_id: &str,
) -> Result<(), AwsError> {
    let lambda = rc.lambda();
    match permissions(rc, function).await?.get(sid) {
        Some(current) if *current == Grant::from_rule(source_arn, account_id) => return Ok(()),
        Some(_) => remove_permission(rc, function, sid).await?,
        None => {}
    }
    let id = format!("{function}/{sid}");
    let added = lambda
        .add_permission()
        .function_name(function)
        .statement_id(sid)
        .action(INVOKE)
        .principal(EVENTS_PRINCIPAL)
        .source_arn(source_arn)
        .source_account(account_id)
        .send()
        .await;
    match added {
        Ok(_) => Ok(()),
        // Added meanwhile by a concurrent or retried apply.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(api_error("adding", PERMISSION, &id, &rc.region)(e)),
    }
}

async fn remove_permission(rc: &RegionCtx, function: &str, sid: &str) -> Result<(), AwsError> {
    let id = format!("{function}/{sid}");
    let removed = rc
        .lambda()
        .remove_permission()
        .function_name(function)
        .statement_id(sid)
        .send()
        .await
        .map_err(api_error("removing", PERMISSION, &id, &rc.region));
    ok_if_not_found(removed)?;
    Ok(())
}

/// Removes every statement of the function's resource policy that drpair did not add (an
/// invoke grant to another account, to `*`, …): only the rules in `wanted` may invoke it.
pub async fn remove_unexpected_permissions(
    rc: &RegionCtx,
    function: &str,
    wanted: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    for (sid, grant) in permissions(rc, function).await? {
        if !wanted.contains_key(&sid) {
            remove_permission(rc, function, &sid).await?;
            tracing::info!(
                "{FUNCTION} {}/{function}: removed unexpected permission {sid} ({grant})",
                rc.region
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FunctionSpec {
        FunctionSpec {
            name: "f".into(),
            description: "d".into(),
            role_arn: "arn:aws:iam::1:role/r".into(),
            handler: "m.handler".into(),
            timeout: 60,
            memory_size: 128,
            environment: [("A".to_string(), "1".to_string())].into(),
            ..FunctionSpec::default()
        }
    }

    #[test]
    fn drift_of_a_function() {
        let s = spec();
        assert_eq!(
            function_drift(&s, "sha", None),
            vec!["Lambda function f is missing"]
        );
        let exact = ObservedFunction {
            name: "f".into(),
            role_arn: s.role_arn.clone(),
            handler: s.handler.clone(),
            runtime: RUNTIME.into(),
            timeout: 60,
            memory_size: 128,
            description: "d".into(),
            environment: s.environment.clone(),
            code_sha256: "sha".into(),
            ..ObservedFunction::default()
        };
        assert!(function_drift(&s, "sha", Some(&exact)).is_empty());
        let edited = ObservedFunction {
            timeout: 3,
            environment: BTreeMap::new(),
            code_sha256: "other".into(),
            ..exact
        };
        assert_eq!(
            function_drift(&s, "sha", Some(&edited)),
            vec![
                "Lambda function f: timeout differs",
                "Lambda function f: environment differs",
                "Lambda function f: code differs from the provider's",
            ]
        );
    }

    #[test]
    fn permissions_from_a_policy() {
        let policy = r#"{"Version":"2012-10-17","Id":"default","Statement":[
            {"Sid":"a","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:f","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:events:us-east-2:1:rule/x"},"StringEquals":{"AWS:SourceAccount":"1"}}},
            {"Sid":"b","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"arn:f"}]}"#;
        let found = parse_permissions(policy);
        assert_eq!(
            found["a"],
            Grant::from_rule("arn:aws:events:us-east-2:1:rule/x", "1")
        );
        assert_eq!(
            found["b"],
            Grant {
                principal: "*".into(),
                action: "lambda:InvokeFunction".into(),
                ..Grant::default()
            }
        );
        assert!(parse_permissions("not json").is_empty());
    }

    #[test]
    fn permission_drift_reports_missing_changed_and_added_statements() {
        let wanted: BTreeMap<String, String> = [
            ("a".to_string(), "arn:rule/a".to_string()),
            ("b".to_string(), "arn:rule/b".to_string()),
        ]
        .into();
        let mut have = BTreeMap::new();
        have.insert("a".to_string(), Grant::from_rule("arn:rule/a", "1"));
        assert_eq!(
            permission_drift("f", &wanted, "1", &have),
            vec!["Lambda function f: permission b for arn:rule/b is missing"]
        );
        have.insert(
            "b".to_string(),
            Grant {
                principal: "*".into(),
                ..Grant::from_rule("arn:rule/b", "1")
            },
        );
        have.insert(
            "rogue".to_string(),
            Grant {
                principal: "arn:aws:iam::999999999999:root".into(),
                action: "lambda:InvokeFunction".into(),
                ..Grant::default()
            },
        );
        assert_eq!(
            permission_drift("f", &wanted, "1", &have),
            vec![
                "Lambda function f: permission b allows * to lambda:InvokeFunction from arn:rule/b of account 1, expected events.amazonaws.com to lambda:InvokeFunction from arn:rule/b of account 1",
                "Lambda function f: unexpected permission rogue allows arn:aws:iam::999999999999:root to lambda:InvokeFunction",
            ]
        );
        have.remove("rogue");
        have.insert("b".to_string(), Grant::from_rule("arn:rule/b", "1"));
        assert!(permission_drift("f", &wanted, "1", &have).is_empty());
    }
}
