//! The region's Auto Scaling group (`{id}`): in the private subnets, on the launch template's
//! default version, attached to the target group, with ELB health checks. A new template
//! version is rolled out with an instance refresh.

use aws_sdk_autoscaling::types::{
    AutoScalingGroup, LaunchTemplateSpecification, RefreshPreferences, RefreshStrategy, Tag,
};
use aws_sdk_autoscaling::Client;

use crate::aws::error::api_error;
use crate::aws::iam::PROPAGATION_WINDOW;
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::waiter::{wait_for, Poll};
use crate::aws::{AwsError, Deadline, RegionCtx, Role};

use super::{part, tag_changes, ObservedGroup, TierSpec};

const GROUP: &str = "Auto Scaling group";
const RESOURCE_TYPE: &str = "auto-scaling-group";
const HEALTH_CHECK_TYPE: &str = "ELB";
/// Time for a new instance to boot and pass its first load balancer health checks.
const GRACE_SECONDS: i32 = 300;
/// A refresh replaces instances while keeping this share of the group in service.
const MIN_HEALTHY_PERCENT: i32 = 90;

/// Auto Scaling answers `ValidationError … not found` for a group that does not exist.
fn is_missing(e: &AwsError) -> bool {
    e.is_not_found()
        || match e {
            AwsError::Api(f) => {
                f.code.as_deref() == Some("ValidationError") && f.message.contains("not found")
            }
            _ => false,
        }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
    set(a) == set(b)
}

/// The new instance profile is not visible to Auto Scaling yet (IAM is eventually consistent):
/// `ValidationError: You must use a valid fully-formed launch template. Value (…) for parameter
/// iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`, which
/// terraform-provider-aws retries (on "Invalid IAM Instance Profile") when it creates a group.
fn is_profile_propagation(e: &AwsError) -> bool {
    match e {
        AwsError::Api(f) => {
            let message = f.message.to_ascii_lowercase().replace(' ', "");
            f.code.as_deref() == Some("ValidationError")
                && message.contains("invalid")
                && message.contains("instanceprofile")
        }
        _ => false,
    }
}

/// Runs `call` (a create or update of the group that hands Auto Scaling the launch template)
/// again while Auto Scaling does not see the template's instance profile yet, for at most
/// [`PROPAGATION_WINDOW`] (a profile still refused after that does not exist) and never past
/// `deadline`.
async fn retry_profile_propagation<F, Fut>(
    deadline: Deadline,
    name: &str,
    region: &str,
    mut call: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), AwsError>>,
{
    let window = Deadline::after(PROPAGATION_WINDOW.min(deadline.remaining()));
    wait_for(deadline, GROUP, name, region, || {
        let attempt = call();
        async move {
            match attempt.await {
                Ok(()) => Ok(Poll::Ready(())),
                Err(e) if is_profile_propagation(&e) && !window.expired() => Ok(Poll::Pending(
                    format!("waiting for the instance profile: {e}"),
                )),
                Err(e) => Err(e),
            }
        }
    })
    .await
}

fn observe(g: &AutoScalingGroup) -> ObservedGroup {
    let lt = g.launch_template();
    let subnet_ids: Vec<String> = g
        .vpc_zone_identifier()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let mut target_group_arns = g.target_group_arns().to_vec();
    target_group_arns.sort();
    ObservedGroup {
        name: g.auto_scaling_group_name().unwrap_or_default().to_owned(),
        min_size: g.min_size().unwrap_or_default(),
        max_size: g.max_size().unwrap_or_default(),
        desired_capacity: g.desired_capacity().unwrap_or_default(),
        launch_template_id: lt
            .and_then(|l| l.launch_template_id())
            .unwrap_or_default()
            .to_owned(),
        launch_template_version: lt.and_then(|l| l.version()).unwrap_or_default().to_owned(),
        target_group_arns,
        subnet_ids,
        health_check_type: g.health_check_type().unwrap_or_default().to_owned(),
        tags: g
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect(),
        deleting: g
            .status()
            .is_some_and(|s| s.to_ascii_lowercase().contains("delete")),
    }
}

pub(super) async fn find(rc: &RegionCtx, name: &str) -> Result<Option<ObservedGroup>, AwsError> {
    let out = rc
        .autoscaling()
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .map_err(api_error("describing", GROUP, name, &rc.region))?;
    Ok(out
        .auto_scaling_groups()
        .iter()
        .find(|g| g.auto_scaling_group_name() == Some(name))
        .map(observe))
}

fn asg_tags(name: &str, tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .resource_id(name)
                .resource_type(RESOURCE_TYPE)
                .key(k)
                .value(v)
                // Instances get their tags from the launch template.
                .propagate_at_launch(false)
                .build()
        })
        .collect()
}

/// The desired capacity to set: the spec's, except that a DR group scaled up beyond what
/// drpair last set (`last_set`), towards the primary's capacity, is left where it is: that is
/// a failover's doing, and an apply during a disaster must not scale the serving region down.
pub fn capacity_to_set(
    role: Role,
    wanted: i32,
    full: i32,
    existing: Option<i32>,
    last_set: Option<i32>,
) -> i32 {
    match existing {
        Some(have)
            if role == Role::Dr
                && have > wanted
                && have <= full
                && last_set.is_none_or(|last| have > last) =>
        {
            have
        }
        _ => wanted,
    }
}

/// The group exists with the spec's sizes, subnets, template version and target group; starts
/// an instance refresh when the template version changed. Returns the group's name.
#[allow(clippy::too_many_arguments)]
pub(super) async fn ensure(
    rc: &RegionCtx,
    spec: &TierSpec,
    existing: Option<&ObservedGroup>,
    template_id: &str,
    template_version: i64,
    target_group_arn: &str,
    deadline: Deadline,
) -> Result<String, AwsError> {
    let asg = rc.autoscaling();
    let region = rc.region.as_str();
    let name = spec.id.clone();
    let side = spec.region(rc.role);
    let tags = spec.tags(rc.role, part::GROUP);
    let subnets = side.private_subnet_ids.clone();
    let version = template_version.to_string();
    let template = LaunchTemplateSpecification::builder()
        .launch_template_id(template_id)
        .version(&version)
        .build();

    let existing = match existing {
        Some(g) if g.deleting => {
            wait_deleted(rc, &name, deadline).await?;
            None
        }
        other => other,
    };
    let Some(group) = existing else {
        retry_profile_propagation(deadline, &name, region, || async {
            asg.create_auto_scaling_group()
                .auto_scaling_group_name(&name)
                .launch_template(template.clone())
                .min_size(side.min_size)
                .max_size(spec.max_size)
                .desired_capacity(side.desired_capacity)
                .vpc_zone_identifier(subnets.join(","))
                .target_group_arns(target_group_arn)
                .health_check_type(HEALTH_CHECK_TYPE)
                .health_check_grace_period(GRACE_SECONDS)
                .set_tags(Some(asg_tags(&name, &tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(api_error("creating", GROUP, &name, region))
        })
        .await?;
        tracing::info!("created Auto Scaling group {name} in {region}");
        return Ok(name);
    };

    if group.tags.get(OWNER_TAG) != Some(&spec.owner()) {
        return Err(AwsError::api(
            "adopting",
            GROUP,
            &name,
            region,
            None,
            format!("it exists but is not tagged {OWNER_TAG} = {}; delete or rename it, or choose another `name`.", spec.owner()),
        ));
    }
    let desired = capacity_to_set(
        rc.role,
        side.desired_capacity,
        spec.full_capacity,
        Some(group.desired_capacity),
        side.last_desired_capacity,
    );
    let template_changed =
        group.launch_template_id != template_id || group.launch_template_version != version;
    if template_changed
        || group.min_size != side.min_size
        || group.max_size != spec.max_size
        || group.desired_capacity != desired
        || !same_set(&group.subnet_ids, &subnets)
        || group.health_check_type != HEALTH_CHECK_TYPE
    {
        retry_profile_propagation(deadline, &name, region, || async {
            asg.update_auto_scaling_group()
                .auto_scaling_group_name(&name)
                .launch_template(template.clone())
                .min_size(side.min_size)
                .max_size(spec.max_size)
                .desired_capacity(desired)
                .vpc_zone_identifier(subnets.join(","))
                .health_check_type(HEALTH_CHECK_TYPE)
                .health_check_grace_period(GRACE_SECONDS)
                .send()
                .await
                .map(|_| ())
                .map_err(api_error("updating", GROUP, &name, region))
        })
        .await?;
        tracing::info!("updated Auto Scaling group {name} in {region}");
    }
    if !group
        .target_group_arns
        .iter()
        .any(|a| a == target_group_arn)
    {
        asg.attach_load_balancer_target_groups()
            .auto_scaling_group_name(&name)
            .target_group_arns(target_group_arn)
            .send()
            .await
            .map_err(api_error(
                "attaching the target group to",
                GROUP,
                &name,
                region,
            ))?;
    }
    retag(&asg, &name, &group.tags, &tags, region).await?;
    if template_changed && spec.instance_refresh && desired > 0 {
        start_refresh(rc, &name, deadline).await?;
    }
    Ok(name)
}

async fn retag(
    asg: &Client,
    name: &str,
    actual: &Tags,
    desired: &Tags,
    region: &str,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(actual, desired);
    if !set.is_empty() {
        asg.create_or_update_tags()
            .set_tags(Some(asg_tags(name, &set)))
            .send()
            .await
            .map_err(api_error("tagging", GROUP, name, region))?;
    }
    if !remove.is_empty() {
        let keys: Tags = remove.into_iter().map(|k| (k, String::new())).collect();
        asg.delete_tags()
            .set_tags(Some(asg_tags(name, &keys)))
            .send()
            .await
            .map_err(api_error("untagging", GROUP, name, region))?;
    }
    Ok(())
}

/// Starts a rolling instance refresh; one already running (for an older version) is cancelled
/// first, so the group ends on the newest version.
async fn start_refresh(rc: &RegionCtx, name: &str, deadline: Deadline) -> Result<(), AwsError> {
    let asg = rc.autoscaling();
    let region = rc.region.as_str();
    let mut attempts = 0;
    wait_for(deadline, "instance refresh", name, region, || {
        let asg = asg.clone();
        attempts += 1;
        let first_attempt = attempts == 1;
        async move {
            let result = asg
                .start_instance_refresh()
                .auto_scaling_group_name(name)
                .strategy(RefreshStrategy::Rolling)
                .preferences(
                    RefreshPreferences::builder()
                        .min_healthy_percentage(MIN_HEALTHY_PERCENT)
                        .instance_warmup(GRACE_SECONDS)
                        .build(),
                )
                .send()
                .await
                .map_err(api_error(
                    "starting an instance refresh of",
                    GROUP,
                    name,
                    region,
                ));
            match result {
                Ok(out) => {
                    tracing::info!(
                        "instance refresh {} of {name} in {region} started",
                        out.instance_refresh_id().unwrap_or_default()
                    );
                    Ok(Poll::Ready(()))
                }
                Err(e) if e.code() == Some("InstanceRefreshInProgress") => {
                    if first_attempt {
                        let cancel = asg
                            .cancel_instance_refresh()
                            .auto_scaling_group_name(name)
                            .send()
                            .await
                            .map_err(api_error(
                                "cancelling the instance refresh of",
                                GROUP,
                                name,
                                region,
                            ));
                        if let Err(e) = cancel {
                            if e.code() != Some("ActiveInstanceRefreshNotFound") {
                                return Err(e);
                            }
                        }
                    }
                    Ok(Poll::Pending(
                        "an earlier instance refresh is being cancelled".into(),
                    ))
                }
                Err(e) => Err(e),
            }
        }
    })
    .await
}

async fn wait_deleted(rc: &RegionCtx, name: &str, deadline: Deadline) -> Result<(), AwsError> {
    wait_for(deadline, GROUP, name, &rc.region, || async {
        Ok(match find(rc, name).await? {
            None => Poll::Ready(()),
            Some(_) => Poll::Pending("Delete in progress".into()),
        })
    })
    .await
}

/// Deletes the group with its instances (if the tier owns it) and waits until it is gone.
pub(super) async fn destroy(
    rc: &RegionCtx,
    name: &str,
    owner: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let Some(group) = find(rc, name).await? else {
        return Ok(());
    };
    if group.tags.get(OWNER_TAG).map(String::as_str) != Some(owner) {
        return Ok(());
    }
    if !group.deleting {
        let result = rc
            .autoscaling()
            .delete_auto_scaling_group()
            .auto_scaling_group_name(name)
            .force_delete(true)
            .send()
            .await
            .map_err(api_error("deleting", GROUP, name, &rc.region));
        match result {
            Ok(_) => {}
            Err(e) if is_missing(&e) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    wait_deleted(rc, name, deadline).await?;
    tracing::info!(
        "deleted Auto Scaling group {name} and its instances in {}",
        rc.region
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_over_dr_group_keeps_its_capacity() {
        let cases = [
            // Scaled up by a failover after drpair set 1: kept.
            (Role::Dr, 1, 4, Some(4), Some(1), 4),
            (Role::Dr, 1, 4, Some(2), Some(1), 2),
            (Role::Dr, 1, 4, Some(6), Some(1), 1),
            (Role::Dr, 2, 4, Some(1), Some(2), 2),
            (Role::Dr, 1, 4, None, None, 1),
            // The user lowers DR from 4 (which drpair set) to warm 1: applied.
            (Role::Dr, 1, 4, Some(4), Some(4), 1),
            (Role::Primary, 2, 2, Some(3), Some(2), 2),
        ];
        for (role, wanted, full, existing, last, expect) in cases {
            assert_eq!(
                capacity_to_set(role, wanted, full, existing, last),
                expect,
                "{role:?} {wanted} {full} {existing:?} {last:?}"
            );
        }
    }

    #[test]
    fn missing_group_errors() {
        let e = AwsError::api(
            "deleting",
            GROUP,
            "x",
            "us-east-1",
            Some("ValidationError".into()),
            "AutoScalingGroup name not found - x",
        );
        assert!(is_missing(&e));
        let p = AwsError::api(
            "creating",
            GROUP,
            "x",
            "us-east-1",
            Some("ValidationError".into()),
            "Invalid IamInstanceProfile: x",
        );
        assert!(is_profile_propagation(&p));
        // AWS's answer (terraform-provider-aws's autoscaling group.go quotes it).
        let aws = AwsError::api(
            "creating",
            GROUP,
            "x",
            "us-east-1",
            Some("ValidationError".into()),
            "You must use a valid fully-formed launch template. Value (web-us-east-1) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
        );
        assert!(is_profile_propagation(&aws));
        let other = AwsError::api(
            "creating",
            GROUP,
            "x",
            "us-east-1",
            Some("ValidationError".into()),
            "Max bound, 1, must be greater than or equal to min bound, 2",
        );
        assert!(!is_profile_propagation(&other));
        assert!(!is_profile_propagation(&e));
    }
}
