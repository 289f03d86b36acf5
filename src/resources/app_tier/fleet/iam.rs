//! The instances' IAM role and instance profile, one pair per region (`{id}-{region}`), with
//! least privilege: Session Manager's agent channels and CloudWatch metrics in the tier's own
//! namespace, nothing else.

use std::collections::BTreeMap;

use aws_sdk_iam::types::{InstanceProfile, Role as IamRole, Tag};
use aws_sdk_iam::Client;

use crate::aws::error::api_error;
use crate::aws::iam::{
    ensure_boundary, find_role as find_observed_role, parse_policy, role_drift, same_policy,
    ObservedRole, RoleSpec,
};
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::{AwsError, RegionCtx};

use super::{iam_name, part, tag_changes, TierSpec};

const ROLE: &str = "IAM role";
const PROFILE: &str = "IAM instance profile";
/// The inline policy's name on the role.
const POLICY_NAME: &str = "drpair-instance";

const ASSUME_ROLE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// What the instances may do: register with Systems Manager for Session Manager access (no SSH
/// keys, no open port 22), and publish metrics under `drpair/{id}` only.
pub fn instance_policy(id: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SessionManager",
                "Effect": "Allow",
                "Action": [
                    "ssm:UpdateInstanceInformation",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel"
                ],
                "Resource": "*"
            },
            {
                "Sid": "OwnMetrics",
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": { "StringEquals": { "cloudwatch:namespace": format!("drpair/{id}") } }
            }
        ]
    })
    .to_string()
}

/// The role as drpair makes it: EC2 may assume it, one inline policy ([`POLICY_NAME`]), no
/// managed policy. Anything else on the role (an attached AdministratorAccess, another inline
/// policy, a wider trust policy) is drift, and removed by the next apply.
pub(super) fn role_spec(id: &str, name: &str) -> RoleSpec {
    RoleSpec {
        name: name.to_owned(),
        trust_policy: parse_policy(ASSUME_ROLE_POLICY),
        managed_policy_arns: Vec::new(),
        inline_policies: BTreeMap::from([(
            POLICY_NAME.to_owned(),
            parse_policy(&instance_policy(id)),
        )]),
        ..RoleSpec::default()
    }
}

/// IAM says `NoSuchEntity` where other services say `…NotFound`.
fn classify(err: AwsError) -> AwsError {
    match err.code() {
        Some("NoSuchEntity") => match err {
            AwsError::Api(f) => AwsError::not_found(&f.what, &f.id, &f.region),
            other => other,
        },
        _ => err,
    }
}

fn iam_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

fn from_iam_tags(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect()
}

fn not_owned(what: &str, name: &str, region: &str, owner: &str) -> AwsError {
    AwsError::api(
        "adopting",
        what,
        name,
        region,
        None,
        format!("it exists but is not tagged {OWNER_TAG} = {owner}; drpair does not take over objects it did not create. Delete or rename it, or choose another `name`."),
    )
}

pub(super) async fn find_role(
    iam: &Client,
    name: &str,
    region: &str,
) -> Result<Option<IamRole>, AwsError> {
    let out = iam
        .get_role()
        .role_name(name)
        .send()
        .await
        .map_err(api_error("reading", ROLE, name, region))
        .map_err(classify);
    match out {
        Ok(o) => Ok(o.role),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

pub(super) async fn find_profile(
    iam: &Client,
    name: &str,
    region: &str,
) -> Result<Option<InstanceProfile>, AwsError> {
    let out = iam
        .get_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .map_err(api_error("reading", PROFILE, name, region))
        .map_err(classify);
    match out {
        Ok(o) => Ok(o.instance_profile),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn owned_by(tags: &[Tag], owner: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == OWNER_TAG && t.value() == owner)
}

/// The instance profile of this region, with its role and policy, created or adopted; returns
/// the profile's name.
pub(super) async fn ensure(rc: &RegionCtx, spec: &TierSpec) -> Result<String, AwsError> {
    let iam = rc.iam();
    let region = rc.region.as_str();
    let name = iam_name(&spec.id, region);
    let owner = spec.owner();

    let role_tags = spec.tags(rc.role, part::ROLE);
    match find_role(&iam, &name, region).await? {
        None => {
            iam.create_role()
                .role_name(&name)
                .assume_role_policy_document(ASSUME_ROLE_POLICY)
                .description(format!("Instances of {owner} in {region}"))
                .set_tags(Some(iam_tags(&role_tags)))
                .send()
                .await
                .map_err(api_error("creating", ROLE, &name, region))?;
            tracing::info!("created IAM role {name} for {region}");
        }
        Some(role) if !owned_by(role.tags(), &owner) => {
            return Err(not_owned(ROLE, &name, region, &owner))
        }
        Some(role) => {
            let (set, remove) = tag_changes(&from_iam_tags(role.tags()), &role_tags);
            if !set.is_empty() {
                iam.tag_role()
                    .role_name(&name)
                    .set_tags(Some(iam_tags(&set)))
                    .send()
                    .await
                    .map_err(api_error("tagging", ROLE, &name, region))?;
            }
            if !remove.is_empty() {
                iam.untag_role()
                    .role_name(&name)
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(api_error("untagging", ROLE, &name, region))?;
            }
        }
    }
    iam.put_role_policy()
        .role_name(&name)
        .policy_name(POLICY_NAME)
        .policy_document(instance_policy(&spec.id))
        .send()
        .await
        .map_err(api_error("writing the policy of", ROLE, &name, region))?;
    if let Some(observed) = find_observed_role(rc, &name).await? {
        remove_additions(rc, &role_spec(&spec.id, &name), &observed).await?;
    }

    let profile_tags = spec.tags(rc.role, part::INSTANCE_PROFILE);
    let profile = match find_profile(&iam, &name, region).await? {
        None => {
            let out = iam
                .create_instance_profile()
                .instance_profile_name(&name)
                .set_tags(Some(iam_tags(&profile_tags)))
                .send()
                .await
                .map_err(api_error("creating", PROFILE, &name, region))?;
            tracing::info!("created IAM instance profile {name} for {region}");
            out.instance_profile
        }
        Some(p) if !owned_by(p.tags(), &owner) => {
            return Err(not_owned(PROFILE, &name, region, &owner))
        }
        Some(p) => {
            let (set, remove) = tag_changes(&from_iam_tags(p.tags()), &profile_tags);
            if !set.is_empty() {
                iam.tag_instance_profile()
                    .instance_profile_name(&name)
                    .set_tags(Some(iam_tags(&set)))
                    .send()
                    .await
                    .map_err(api_error("tagging", PROFILE, &name, region))?;
            }
            if !remove.is_empty() {
                iam.untag_instance_profile()
                    .instance_profile_name(&name)
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(api_error("untagging", PROFILE, &name, region))?;
            }
            Some(p)
        }
    };
    let has_role = profile
        .as_ref()
        .is_some_and(|p| p.roles().iter().any(|r| r.role_name() == name));
    if !has_role {
        iam.add_role_to_instance_profile()
            .instance_profile_name(&name)
            .role_name(&name)
            .send()
            .await
            .map_err(api_error("adding the role to", PROFILE, &name, region))?;
    }
    Ok(name)
}

/// Sets the trust policy back, detaches every managed policy, deletes every inline policy but
/// drpair's and sets the provider's permissions boundary (drpair's own inline policy has just
/// been written). Each removal is logged: it undoes someone's change.
async fn remove_additions(
    rc: &RegionCtx,
    spec: &RoleSpec,
    observed: &ObservedRole,
) -> Result<(), AwsError> {
    let iam = rc.iam();
    let region = rc.region.as_str();
    let name = spec.name.as_str();
    if !same_policy(&observed.trust_policy, &spec.trust_policy) {
        iam.update_assume_role_policy()
            .role_name(name)
            .policy_document(ASSUME_ROLE_POLICY)
            .send()
            .await
            .map_err(api_error("setting the trust policy of", ROLE, name, region))?;
        tracing::info!("IAM role {name}: trust policy set back to EC2 only");
    }
    for arn in &observed.managed_policy_arns {
        if spec.managed_policy_arns.contains(arn) {
            continue;
        }
        let detached = iam
            .detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map(|_| ())
            .map_err(api_error("detaching a policy from", ROLE, name, region))
            .map_err(classify);
        match detached {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => tracing::info!("IAM role {name}: detached unexpected policy {arn}"),
        }
    }
    for policy in observed.inline_policies.keys() {
        if spec.inline_policies.contains_key(policy) {
            continue;
        }
        let deleted = iam
            .delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map(|_| ())
            .map_err(api_error(
                "deleting an inline policy of",
                ROLE,
                name,
                region,
            ))
            .map_err(classify);
        match deleted {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => tracing::info!("IAM role {name}: deleted unexpected inline policy {policy}"),
        }
    }
    ensure_boundary(rc, name, observed.permissions_boundary.as_deref()).await
}

/// What [`read`] finds of a region's IAM identity.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct ReadIdentity {
    pub role_arn: Option<String>,
    pub instance_profile_arn: Option<String>,
    /// How the role differs from [`role_spec`], one phrase each (empty when it is missing).
    pub role_drift: Vec<String>,
}

/// The role's and the profile's ARNs, when they exist and are owned by the tier, and how the
/// role differs from what drpair makes (trust policy, policies, boundary).
pub(super) async fn read(rc: &RegionCtx, id: &str, owner: &str) -> Result<ReadIdentity, AwsError> {
    let iam = rc.iam();
    let name = iam_name(id, &rc.region);
    let (role, profile) = tokio::try_join!(
        find_observed_role(rc, &name),
        find_profile(&iam, &name, &rc.region)
    )?;
    let role = role.filter(|r| r.tags.get(OWNER_TAG).map(String::as_str) == Some(owner));
    let profile = profile
        .filter(|p| owned_by(p.tags(), owner))
        .map(|p| p.arn().to_owned());
    Ok(ReadIdentity {
        role_drift: role
            .as_ref()
            .map(|r| role_drift(&role_spec(id, &name), Some(r)))
            .unwrap_or_default(),
        role_arn: role.map(|r| r.arn),
        instance_profile_arn: profile,
    })
}

/// Removes the profile (its role first) and the role (its policies first), if the tier owns
/// them. Idempotent.
pub(super) async fn destroy(rc: &RegionCtx, id: &str, owner: &str) -> Result<(), AwsError> {
    let iam = rc.iam();
    let region = rc.region.as_str();
    let name = iam_name(id, region);
    let ignore_missing = |r: Result<(), AwsError>| match r.map_err(classify) {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    };
    if let Some(profile) = find_profile(&iam, &name, region).await? {
        if owned_by(profile.tags(), owner) {
            for role in profile.roles() {
                ignore_missing(
                    iam.remove_role_from_instance_profile()
                        .instance_profile_name(&name)
                        .role_name(role.role_name())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(api_error("removing the role from", PROFILE, &name, region)),
                )?;
            }
            ignore_missing(
                iam.delete_instance_profile()
                    .instance_profile_name(&name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(api_error("deleting", PROFILE, &name, region)),
            )?;
            tracing::info!("deleted IAM instance profile {name}");
        }
    }
    let Some(role) = find_role(&iam, &name, region).await? else {
        return Ok(());
    };
    if !owned_by(role.tags(), owner) {
        return Ok(());
    }
    let policies = iam
        .list_role_policies()
        .role_name(&name)
        .send()
        .await
        .map_err(api_error("listing the policies of", ROLE, &name, region))
        .map_err(classify);
    let policies = match policies {
        Ok(p) => p.policy_names,
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    // A policy attached out of band would make DeleteRole fail with DeleteConflict.
    let attached = iam
        .list_attached_role_policies()
        .role_name(&name)
        .send()
        .await
        .map_err(api_error(
            "listing the policies attached to",
            ROLE,
            &name,
            region,
        ))
        .map_err(classify);
    let attached = match attached {
        Ok(a) => a.attached_policies.unwrap_or_default(),
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    for policy in attached.iter().filter_map(|p| p.policy_arn()) {
        ignore_missing(
            iam.detach_role_policy()
                .role_name(&name)
                .policy_arn(policy)
                .send()
                .await
                .map(|_| ())
                .map_err(api_error("detaching a policy from", ROLE, &name, region)),
        )?;
    }
    for policy in policies {
        ignore_missing(
            iam.delete_role_policy()
                .role_name(&name)
                .policy_name(&policy)
                .send()
                .await
                .map(|_| ())
                .map_err(api_error("deleting the policy of", ROLE, &name, region)),
        )?;
    }
    ignore_missing(
        iam.delete_role()
            .role_name(&name)
            .send()
            .await
            .map(|_| ())
            .map_err(api_error("deleting", ROLE, &name, region)),
    )?;
    tracing::info!("deleted IAM role {name}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_grants_only_session_manager_and_own_metrics() {
        let doc: serde_json::Value = serde_json::from_str(&instance_policy("web-test")).unwrap();
        let statements = doc["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 2);
        let actions = statements[0]["Action"].as_array().unwrap();
        assert!(actions.iter().all(|a| {
            let a = a.as_str().unwrap();
            a.starts_with("ssm:") || a.starts_with("ssmmessages:")
        }));
        assert_eq!(
            statements[1]["Condition"]["StringEquals"]["cloudwatch:namespace"],
            "drpair/web-test"
        );
        assert!(!instance_policy("x").contains("\"*:*\""));
    }

    #[test]
    fn additions_to_the_role_are_drift() {
        let spec = role_spec("web-test", "web-test-us-east-1");
        let exact = ObservedRole {
            name: spec.name.clone(),
            trust_policy: spec.trust_policy.clone(),
            inline_policies: spec.inline_policies.clone(),
            ..ObservedRole::default()
        };
        assert!(role_drift(&spec, Some(&exact)).is_empty());
        let mut widened = exact.clone();
        widened
            .managed_policy_arns
            .push("arn:aws:iam::aws:policy/AdministratorAccess".into());
        widened
            .inline_policies
            .insert("extra".into(), serde_json::json!({"Statement": []}));
        widened.trust_policy = parse_policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#,
        );
        assert_eq!(
            role_drift(&spec, Some(&widened)),
            vec![
                "IAM role web-test-us-east-1: trust policy differs",
                "IAM role web-test-us-east-1: unexpected inline policy extra",
                "IAM role web-test-us-east-1: unexpected policy arn:aws:iam::aws:policy/AdministratorAccess is attached",
            ]
        );
    }
}
