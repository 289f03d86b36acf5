//! IAM roles owned by a drpair resource, by deterministic name: [`ensure_role`] creates or
//! repairs a role (trust policy, description, tags, inline policies, attached managed policies),
//! [`find_role`] and [`role_drift`] observe it, [`delete_role`] removes it with everything
//! attached. Also the caller's account ([`caller_account`]), policy-document builders and
//! comparison, and a retry for the seconds a new role takes to become assumable.
//!
//! IAM is global: pass any region's context (drpair uses the primary's); errors name the role as
//! `(global/{name})`.

mod policy;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use aws_sdk_iam::types::Tag;
use serde_json::Value;

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{AwsError, Deadline, RegionCtx};

pub use policy::{
    allow, normalize_policy, parse_policy, policy_document, same_policy, service_trust_policy,
    wildcard_actions,
};

pub const ROLE: &str = "IAM role";
/// The error code drpair gives a refusal to adopt an object another owner (or no drpair
/// resource) has: callers record nothing for it, so a destroy cannot remove it.
pub const NOT_OWNED_CODE: &str = "NotOwnedByDrpair";
/// How errors name IAM's region.
pub const GLOBAL: &str = "global";
/// How long a service may refuse a role that was just created or changed (IAM is eventually
/// consistent; AWS documents "a few seconds", in practice up to ~10 s, rarely more).
pub const PROPAGATION_WINDOW: Duration = Duration::from_secs(120);

/// What a role should be. `tags` must include the owner tag (`drpair:owner` = `owner`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RoleSpec {
    pub name: String,
    pub description: String,
    /// The trust policy (who may assume the role), e.g. [`service_trust_policy`].
    pub trust_policy: Value,
    /// AWS-managed or customer-managed policies to attach, by ARN.
    pub managed_policy_arns: Vec<String>,
    /// Inline policies by name.
    pub inline_policies: BTreeMap<String, Value>,
    pub tags: Tags,
    /// The value of the owner tag: a role tagged with another owner is never touched.
    pub owner: String,
}

/// A role as IAM has it. Policy documents are parsed JSON.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedRole {
    pub name: String,
    pub arn: String,
    pub description: String,
    pub trust_policy: Value,
    /// Sorted.
    pub managed_policy_arns: Vec<String>,
    pub inline_policies: BTreeMap<String, Value>,
    pub tags: Tags,
    /// The role's permissions boundary (a managed policy ARN), if it has one.
    pub permissions_boundary: Option<String>,
    /// The boundary the role should have: the provider's `permissions_boundary_arn` when the role
    /// was read (it is the provider's setting, not the resource's, so it comes with the read).
    pub wanted_boundary: Option<String>,
}

/// The account the provider's credentials belong to, and its partition (`aws`, `aws-cn`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub partition: String,
}

impl Account {
    /// `arn:{partition}:iam::{account}:root`: the account as a policy principal.
    pub fn root_arn(&self) -> String {
        format!("arn:{}:iam::{}:root", self.partition, self.id)
    }

    /// The ARN of a role of this account with the default path.
    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:{}:iam::{}:role/{name}", self.partition, self.id)
    }
}

/// The caller's account and partition, from STS GetCallerIdentity (once per process; a failed
/// read is not remembered).
pub async fn caller_account(rc: &RegionCtx) -> Result<Account, AwsError> {
    rc.account
        .get_or_try_init(|| read_caller_account(rc))
        .await
        .cloned()
}

async fn read_caller_account(rc: &RegionCtx) -> Result<Account, AwsError> {
    let out = rc
        .sts()
        .get_caller_identity()
        .send()
        .await
        .map_err(api_error("reading", "caller identity", "sts", &rc.region))?;
    let id = out.account().unwrap_or_default().to_owned();
    let partition = out
        .arn()
        .and_then(|arn| arn.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_owned();
    if id.is_empty() {
        return Err(AwsError::api(
            "reading",
            "caller identity",
            "sts",
            &rc.region,
            None,
            "GetCallerIdentity answered no account",
        ));
    }
    Ok(Account { id, partition })
}

// ---- roles ----

fn iam_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

/// IAM says `NoSuchEntity` where other services say `…NotFound`.
fn classify(err: AwsError) -> AwsError {
    match err {
        AwsError::Api(f) if f.code.as_deref() == Some("NoSuchEntity") => {
            AwsError::not_found(&f.what, &f.id, &f.region)
        }
        other => other,
    }
}

fn error<'a, E, R>(
    verb: &'a str,
    name: &'a str,
) -> impl FnOnce(aws_smithy_runtime_api::client::result::SdkError<E, R>) -> AwsError + 'a
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |e| classify(api_error(verb, ROLE, name, GLOBAL)(e))
}

/// The role with this name, with its policies and tags; None when it does not exist.
pub async fn find_role(rc: &RegionCtx, name: &str) -> Result<Option<ObservedRole>, AwsError> {
    let iam = rc.iam();
    let got = iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(error("reading", name));
    let Some(role) = ok_if_not_found(got)?.and_then(|o| o.role) else {
        return Ok(None);
    };
    let mut observed = ObservedRole {
        name: role.role_name().to_owned(),
        arn: role.arn().to_owned(),
        description: role.description().unwrap_or_default().to_owned(),
        trust_policy: role
            .assume_role_policy_document()
            .map(parse_policy)
            .unwrap_or(Value::Null),
        tags: role
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_owned),
        wanted_boundary: rc.permissions_boundary.clone(),
        ..ObservedRole::default()
    };
    // A role deleted between these calls reads as gone.
    match load_policies(rc, name, &mut observed).await {
        Ok(()) => Ok(Some(observed)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

async fn load_policies(
    rc: &RegionCtx,
    name: &str,
    observed: &mut ObservedRole,
) -> Result<(), AwsError> {
    // The two lists at once, then every inline policy at once: two round trips after GetRole
    // instead of two plus one per inline policy in turn.
    let (mut attached, names) = tokio::try_join!(
        attached_policy_arns(rc, name),
        inline_policy_names(rc, name)
    )?;
    attached.sort();
    observed.managed_policy_arns = attached;
    let documents = futures::future::try_join_all(names.iter().map(|policy| async move {
        rc.iam()
            .get_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(error("reading an inline policy of", name))
    }))
    .await?;
    for (policy, out) in names.into_iter().zip(documents) {
        observed
            .inline_policies
            .insert(policy, parse_policy(out.policy_document()));
    }
    Ok(())
}

async fn attached_policy_arns(rc: &RegionCtx, name: &str) -> Result<Vec<String>, AwsError> {
    let iam = rc.iam();
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = iam
            .list_attached_role_policies()
            .role_name(name)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(error("listing policies attached to", name))?;
        arns.extend(
            out.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_owned)),
        );
        match out.marker() {
            Some(next) if out.is_truncated() => marker = Some(next.to_owned()),
            _ => return Ok(arns),
        }
    }
}

async fn inline_policy_names(rc: &RegionCtx, name: &str) -> Result<Vec<String>, AwsError> {
    let iam = rc.iam();
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = iam
            .list_role_policies()
            .role_name(name)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(error("listing inline policies of", name))?;
        names.extend(out.policy_names().iter().cloned());
        match out.marker() {
            Some(next) if out.is_truncated() => marker = Some(next.to_owned()),
            _ => return Ok(names),
        }
    }
}

/// How `observed` differs from `spec`, one phrase per difference (`IAM role x is missing`,
/// `IAM role x: inline policy y differs`). Empty when the role is as specified.
pub fn role_drift(spec: &RoleSpec, observed: Option<&ObservedRole>) -> Vec<String> {
    let name = &spec.name;
    let Some(role) = observed else {
        return vec![format!("{ROLE} {name} is missing")];
    };
    let mut drift = Vec::new();
    if !same_policy(&role.trust_policy, &spec.trust_policy) {
        drift.push(format!("{ROLE} {name}: trust policy differs"));
    }
    if role.permissions_boundary != role.wanted_boundary {
        drift.push(match (&role.permissions_boundary, &role.wanted_boundary) {
            (None, Some(wanted)) => {
                format!("{ROLE} {name}: permissions boundary {wanted} is missing")
            }
            (Some(actual), None) => {
                format!("{ROLE} {name}: unexpected permissions boundary {actual}")
            }
            (actual, wanted) => format!(
                "{ROLE} {name}: permissions boundary is {}, not {}",
                actual.as_deref().unwrap_or("none"),
                wanted.as_deref().unwrap_or("none")
            ),
        });
    }
    for (policy, doc) in &spec.inline_policies {
        match role.inline_policies.get(policy) {
            None => drift.push(format!("{ROLE} {name}: inline policy {policy} is missing")),
            Some(actual) if !same_policy(actual, doc) => {
                drift.push(format!("{ROLE} {name}: inline policy {policy} differs"))
            }
            Some(_) => {}
        }
    }
    for policy in role.inline_policies.keys() {
        if !spec.inline_policies.contains_key(policy) {
            drift.push(format!("{ROLE} {name}: unexpected inline policy {policy}"));
        }
    }
    let wanted: BTreeSet<&String> = spec.managed_policy_arns.iter().collect();
    let attached: BTreeSet<&String> = role.managed_policy_arns.iter().collect();
    for arn in wanted.difference(&attached) {
        drift.push(format!("{ROLE} {name}: policy {arn} is not attached"));
    }
    for arn in attached.difference(&wanted) {
        drift.push(format!(
            "{ROLE} {name}: unexpected policy {arn} is attached"
        ));
    }
    drift
}

/// Sets the role's permissions boundary to the provider's `permissions_boundary_arn`, or removes
/// one it should not have. Any role drpair creates may use it: the app tier's own role code too.
pub async fn ensure_boundary(
    rc: &RegionCtx,
    name: &str,
    actual: Option<&str>,
) -> Result<(), AwsError> {
    let iam = rc.iam();
    match (actual, rc.permissions_boundary.as_deref()) {
        (a, Some(wanted)) if a != Some(wanted) => {
            iam.put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(wanted)
                .send()
                .await
                .map_err(error("setting the permissions boundary of", name))?;
            tracing::info!("{ROLE} {name}: permissions boundary {wanted}");
        }
        (Some(_), None) => {
            let out = iam
                .delete_role_permissions_boundary()
                .role_name(name)
                .send()
                .await
                .map_err(error("removing the permissions boundary of", name));
            ok_if_not_found(out)?;
            tracing::info!("{ROLE} {name}: permissions boundary removed");
        }
        _ => {}
    }
    Ok(())
}

fn not_owned(name: &str, detail: String) -> AwsError {
    AwsError::api(
        "adopting",
        ROLE,
        name,
        GLOBAL,
        Some(NOT_OWNED_CODE.to_owned()),
        detail,
    )
}

/// Creates the role or brings an existing one to `spec`: trust policy, description, tags,
/// inline policies (extra ones removed) and attached managed policies (extra ones detached).
/// A role tagged with another owner is refused; an untagged one only when `adopt_untagged`
/// (e.g. after `terraform import`). Idempotent.
pub async fn ensure_role(
    rc: &RegionCtx,
    spec: &RoleSpec,
    adopt_untagged: bool,
) -> Result<ObservedRole, AwsError> {
    let name = spec.name.as_str();
    let iam = rc.iam();
    let existing = match find_role(rc, name).await? {
        Some(role) => {
            match role.tags.get(OWNER_TAG) {
                Some(owner) if *owner != spec.owner => {
                    return Err(not_owned(
                        name,
                        format!("the role is owned by {owner}, not {}", spec.owner),
                    ))
                }
                None if !adopt_untagged => {
                    return Err(not_owned(
                        name,
                        format!("a role of this name exists and is not managed by drpair (no {OWNER_TAG} tag); delete or rename it, or import the resource that should own it"),
                    ))
                }
                _ => {}
            }
            Some(role)
        }
        None => None,
    };
    let role = match existing {
        Some(role) => role,
        None => {
            let created = iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(spec.trust_policy.to_string())
                .description(&spec.description)
                .set_permissions_boundary(rc.permissions_boundary.clone())
                .set_tags(Some(iam_tags(&spec.tags)))
                .send()
                .await;
            match created {
                Ok(out) => {
                    tracing::info!("created {ROLE} {name}");
                    ObservedRole {
                        name: name.to_owned(),
                        arn: out.role.map(|r| r.arn().to_owned()).unwrap_or_default(),
                        description: spec.description.clone(),
                        trust_policy: spec.trust_policy.clone(),
                        tags: spec.tags.clone(),
                        permissions_boundary: rc.permissions_boundary.clone(),
                        wanted_boundary: rc.permissions_boundary.clone(),
                        ..ObservedRole::default()
                    }
                }
                // Created meanwhile (a concurrent or retried apply): take it from there.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_entity_already_exists_exception()) =>
                {
                    find_role(rc, name)
                        .await?
                        .ok_or_else(|| AwsError::not_found(ROLE, name, GLOBAL))?
                }
                Err(e) => return Err(error("creating", name)(e)),
            }
        }
    };
    if !same_policy(&role.trust_policy, &spec.trust_policy) {
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(spec.trust_policy.to_string())
            .send()
            .await
            .map_err(error("updating the trust policy of", name))?;
    }
    ensure_boundary(rc, name, role.permissions_boundary.as_deref()).await?;
    if role.description != spec.description {
        iam.update_role()
            .role_name(name)
            .description(&spec.description)
            .send()
            .await
            .map_err(error("updating", name))?;
    }
    let (set, remove) = tag_changes(&role.tags, &spec.tags);
    if !set.is_empty() {
        iam.tag_role()
            .role_name(name)
            .set_tags(Some(iam_tags(&set)))
            .send()
            .await
            .map_err(error("tagging", name))?;
    }
    if !remove.is_empty() {
        iam.untag_role()
            .role_name(name)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(error("untagging", name))?;
    }
    for (policy, doc) in &spec.inline_policies {
        if role
            .inline_policies
            .get(policy)
            .is_some_and(|actual| same_policy(actual, doc))
        {
            continue;
        }
        iam.put_role_policy()
            .role_name(name)
            .policy_name(policy)
            .policy_document(doc.to_string())
            .send()
            .await
            .map_err(error("putting an inline policy on", name))?;
    }
    for policy in role.inline_policies.keys() {
        if !spec.inline_policies.contains_key(policy) {
            let deleted = iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await
                .map_err(error("deleting an inline policy of", name));
            ok_if_not_found(deleted)?;
        }
    }
    for arn in &spec.managed_policy_arns {
        if !role.managed_policy_arns.contains(arn) {
            iam.attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(error("attaching a policy to", name))?;
        }
    }
    for arn in &role.managed_policy_arns {
        if !spec.managed_policy_arns.contains(arn) {
            let detached = iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(error("detaching a policy from", name));
            ok_if_not_found(detached)?;
        }
    }
    let mut managed = spec.managed_policy_arns.clone();
    managed.sort();
    Ok(ObservedRole {
        name: name.to_owned(),
        arn: role.arn,
        description: spec.description.clone(),
        trust_policy: spec.trust_policy.clone(),
        managed_policy_arns: managed,
        inline_policies: spec.inline_policies.clone(),
        tags: spec.tags.clone(),
        permissions_boundary: rc.permissions_boundary.clone(),
        wanted_boundary: rc.permissions_boundary.clone(),
    })
}

/// Deletes the role with its inline policies, managed-policy attachments and instance-profile
/// memberships. A role tagged with another owner is left alone (with a warning); a missing one
/// is success.
pub async fn delete_role(rc: &RegionCtx, name: &str, owner: &str) -> Result<(), AwsError> {
    let Some(role) = find_role(rc, name).await? else {
        return Ok(());
    };
    if let Some(other) = role.tags.get(OWNER_TAG).filter(|o| *o != owner) {
        tracing::warn!("leaving {ROLE} {name}: owned by {other}, not {owner}");
        return Ok(());
    }
    let iam = rc.iam();
    for arn in &role.managed_policy_arns {
        let detached = iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(error("detaching a policy from", name));
        ok_if_not_found(detached)?;
    }
    for policy in role.inline_policies.keys() {
        let deleted = iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(error("deleting an inline policy of", name));
        ok_if_not_found(deleted)?;
    }
    let profiles = iam
        .list_instance_profiles_for_role()
        .role_name(name)
        .send()
        .await
        .map_err(error("listing instance profiles of", name));
    if let Some(out) = ok_if_not_found(profiles)? {
        for profile in out.instance_profiles() {
            let removed = iam
                .remove_role_from_instance_profile()
                .instance_profile_name(profile.instance_profile_name())
                .role_name(name)
                .send()
                .await
                .map_err(error("removing from an instance profile", name));
            ok_if_not_found(removed)?;
        }
    }
    let deleted = iam
        .delete_role()
        .role_name(name)
        .send()
        .await
        .map_err(error("deleting", name));
    ok_if_not_found(deleted)?;
    tracing::info!("deleted {ROLE} {name}");
    Ok(())
}

/// Whether an error says a service could not (yet) assume or use a role: what AWS answers for
/// the seconds after a role or its policy was created.
pub fn is_role_propagation_error(err: &AwsError) -> bool {
    let AwsError::Api(f) = err else { return false };
    let validation = matches!(
        f.code.as_deref(),
        Some(
            "InvalidArgumentException"
                | "InvalidParameterValueException"
                | "InvalidParameterValue"
                | "InvalidParameterCombination"
                | "AccessDeniedException"
                | "InvalidRequestException"
                | "ValidationException"
        )
    );
    let message = f.message.to_ascii_lowercase();
    validation
        && message.contains("role")
        && (message.contains("assume")
            || message.contains("not authorized")
            || message.contains("permission")
            || message.contains("access"))
}

/// Runs `call` until it succeeds, retrying (every 2 s) while it fails with a
/// [`is_role_propagation_error`], for at most [`PROPAGATION_WINDOW`] and never past `deadline`.
pub async fn retry_role_propagation<T, F, Fut>(
    deadline: Deadline,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let window = Deadline::after(PROPAGATION_WINDOW.min(deadline.remaining()));
    loop {
        match call().await {
            Err(e) if is_role_propagation_error(&e) && !window.expired() => {
                tracing::info!("waiting for IAM to propagate a role: {e}");
                tokio::time::sleep(Duration::from_secs(2).min(window.remaining())).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RoleSpec {
        RoleSpec {
            name: "r".into(),
            trust_policy: service_trust_policy("backup.amazonaws.com", None),
            managed_policy_arns: vec!["arn:aws:iam::aws:policy/A".into()],
            inline_policies: [(
                "p".to_string(),
                policy_document(vec![allow(
                    "S",
                    &["s3:PutObject"],
                    &["arn:aws:s3:::b/*".into()],
                )]),
            )]
            .into(),
            ..RoleSpec::default()
        }
    }

    #[test]
    fn drift_of_a_role() {
        let s = spec();
        assert_eq!(role_drift(&s, None), vec!["IAM role r is missing"]);
        let exact = ObservedRole {
            name: "r".into(),
            trust_policy: s.trust_policy.clone(),
            managed_policy_arns: s.managed_policy_arns.clone(),
            inline_policies: s.inline_policies.clone(),
            ..ObservedRole::default()
        };
        assert!(role_drift(&s, Some(&exact)).is_empty());
        let broken = ObservedRole {
            managed_policy_arns: vec!["arn:aws:iam::aws:policy/B".into()],
            inline_policies: BTreeMap::new(),
            ..exact
        };
        assert_eq!(
            role_drift(&s, Some(&broken)),
            vec![
                "IAM role r: inline policy p is missing",
                "IAM role r: policy arn:aws:iam::aws:policy/A is not attached",
                "IAM role r: unexpected policy arn:aws:iam::aws:policy/B is attached",
            ]
        );
    }

    #[test]
    fn drift_of_a_permissions_boundary() {
        let s = spec();
        let boundary = "arn:aws:iam::123456789012:policy/boundary";
        let role = |actual: Option<&str>, wanted: Option<&str>| ObservedRole {
            name: "r".into(),
            trust_policy: s.trust_policy.clone(),
            managed_policy_arns: s.managed_policy_arns.clone(),
            inline_policies: s.inline_policies.clone(),
            permissions_boundary: actual.map(str::to_owned),
            wanted_boundary: wanted.map(str::to_owned),
            ..ObservedRole::default()
        };
        assert!(role_drift(&s, Some(&role(Some(boundary), Some(boundary)))).is_empty());
        assert_eq!(
            role_drift(&s, Some(&role(None, Some(boundary)))),
            vec![format!(
                "IAM role r: permissions boundary {boundary} is missing"
            )]
        );
        assert_eq!(
            role_drift(&s, Some(&role(Some(boundary), None))),
            vec![format!(
                "IAM role r: unexpected permissions boundary {boundary}"
            )]
        );
        assert_eq!(
            role_drift(
                &s,
                Some(&role(Some("arn:aws:iam::aws:policy/X"), Some(boundary)))
            ),
            vec![format!(
                "IAM role r: permissions boundary is arn:aws:iam::aws:policy/X, not {boundary}"
            )]
        );
    }

    #[test]
    fn propagation_errors() {
        let e = |code: &str, msg: &str| {
            AwsError::api("creating", "x", "y", "z", Some(code.into()), msg)
        };
        assert!(is_role_propagation_error(&e(
            "InvalidArgumentException",
            "Firehose is unable to assume role arn:aws:iam::1:role/x"
        )));
        assert!(is_role_propagation_error(&e(
            "InvalidParameterValueException",
            "IAM Role arn:aws:iam::1:role/x cannot be assumed by AWS Backup"
        )));
        assert!(!is_role_propagation_error(&e("Throttling", "role assume")));
        assert!(!is_role_propagation_error(&e(
            "InvalidArgumentException",
            "bad prefix"
        )));
    }

    #[test]
    fn account_arns() {
        let a = Account {
            id: "123456789012".into(),
            partition: "aws".into(),
        };
        assert_eq!(a.root_arn(), "arn:aws:iam::123456789012:root");
        assert_eq!(a.role_arn("r"), "arn:aws:iam::123456789012:role/r");
    }
}
