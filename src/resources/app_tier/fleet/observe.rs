//! [`read`]: what the tier has in both regions (only objects it owns), and [`drift`]: how that
//! differs from a spec, in words.

use std::collections::BTreeSet;

use crate::aws::tags::OWNER_TAG;
use crate::aws::{AwsContext, AwsError, RegionCtx, Role};

use super::fingerprint::{comparable_fields, differences, fingerprint};
use super::{
    balancer, group, iam, owner_tag_value, part, security, template, HealthCheckTiming,
    ObservedTier, RegionTier, TemplateData, TierSpec,
};

/// Everything the tier with this id owns in both regions; `None` when nothing exists at all.
pub async fn read(ctx: &AwsContext, id: &str) -> Result<Option<ObservedTier>, AwsError> {
    let (primary, dr) = tokio::try_join!(read_region(&ctx.primary, id), read_region(&ctx.dr, id))?;
    let mut tier = ObservedTier {
        primary,
        dr,
        fingerprint: None,
        drift: Vec::new(),
    };
    if tier.is_empty() {
        return Ok(None);
    }
    let primary_template = tier.primary.template.as_ref();
    let dr_template = tier.dr.template.as_ref();
    tier.fingerprint = primary_template
        .or(dr_template)
        .map(|t| fingerprint(&t.data));
    if let (Some(p), Some(d)) = (primary_template, dr_template) {
        let differ = differences(&p.data, &d.data);
        if !differ.is_empty() {
            tier.drift.push(format!(
                "launch templates differ between {} and {} in {}",
                ctx.primary.region,
                ctx.dr.region,
                differ.join(", ")
            ));
        }
    }
    Ok(Some(tier))
}

async fn read_region(rc: &RegionCtx, id: &str) -> Result<RegionTier, AwsError> {
    let owner = owner_tag_value(id);
    let owns = |tags: &crate::aws::tags::Tags| tags.get(OWNER_TAG) == Some(&owner);
    let (identity, groups, template, target_group, balancer, group) = tokio::try_join!(
        iam::read(rc, id, &owner),
        security::find_owned(rc, &owner),
        template::find(rc, id),
        balancer::find_target_group(rc, id),
        balancer::find_balancer(rc, id),
        group::find(rc, id),
    )?;
    let template = template.filter(|t| owns(&t.tags));
    let target_group = target_group
        .filter(|(_, tags)| owns(tags))
        .map(|(tg, _)| tg);
    let balancer = balancer.filter(|lb| owns(&lb.tags));
    let group = group.filter(|g| owns(&g.tags) && !g.deleting);
    let listeners = match &balancer {
        Some(lb) => balancer::find_listeners(rc, &lb.arn).await?,
        None => Vec::new(),
    };
    // The groups of the tier's VPC: the load balancer's, else the target group's, else any.
    let vpc = balancer
        .as_ref()
        .map(|b| b.vpc_id.clone())
        .or_else(|| target_group.as_ref().map(|t| t.vpc_id.clone()));
    let pick = |part: &str| {
        groups
            .iter()
            .filter(|g| security::group_part(g) == Some(part))
            .find(|g| vpc.is_none() || g.vpc_id() == vpc.as_deref())
    };
    let alb_sg = pick(part::ALB_SECURITY_GROUP);
    let app_sg = pick(part::INSTANCE_SECURITY_GROUP);
    let mut problems = match &target_group {
        Some(tg) => {
            let mut p = security::missing_rules(alb_sg, app_sg, tg.port);
            p.extend(security::unexpected_rules(alb_sg, app_sg, tg.port));
            p
        }
        None => Vec::new(),
    };
    problems.extend(identity.role_drift);
    Ok(RegionTier {
        region: rc.region.clone(),
        role_arn: identity.role_arn,
        instance_profile_arn: identity.instance_profile_arn,
        alb_security_group_id: alb_sg.and_then(|g| g.group_id()).map(str::to_owned),
        instance_security_group_id: app_sg.and_then(|g| g.group_id()).map(str::to_owned),
        template,
        target_group,
        balancer,
        listeners,
        group,
        problems,
    })
}

fn sorted(v: &[String]) -> BTreeSet<&str> {
    v.iter().map(String::as_str).collect()
}

/// How the observed tier differs from the spec, beyond what the model reports as inputs (the
/// primary's sizes and instance type, the health check path). Empty when nothing needs repair.
pub fn drift(spec: &TierSpec, o: &ObservedTier) -> Vec<String> {
    let mut drift = o.drift.clone();
    for role in Role::BOTH {
        let r = o.region(role);
        let side = spec.region(role);
        let region = &r.region;
        let mut missing = |present: bool, what: &str| {
            if !present {
                drift.push(format!("{region}: {what} is missing"));
            }
        };
        missing(r.role_arn.is_some(), "IAM role");
        missing(r.instance_profile_arn.is_some(), "IAM instance profile");
        missing(
            r.alb_security_group_id.is_some(),
            "load balancer security group",
        );
        missing(
            r.instance_security_group_id.is_some(),
            "instance security group",
        );
        missing(r.template.is_some(), "launch template");
        missing(r.target_group.is_some(), "target group");
        missing(r.balancer.is_some(), "load balancer");
        missing(r.group.is_some(), "Auto Scaling group");
        drift.extend(r.problems.iter().map(|p| format!("{region}: {p}")));
        if let Some(tg) = &r.target_group {
            if tg.health_check != HealthCheckTiming::WANTED {
                drift.push(format!(
                    "{region}: target group health check runs {} instead of {}",
                    tg.health_check,
                    HealthCheckTiming::WANTED
                ));
            }
        }
        if let (Some(_), Some(tg)) = (&r.balancer, &r.target_group) {
            drift.extend(
                balancer::listener_drift(&r.listeners, side.certificate_arn.as_deref(), &tg.arn)
                    .into_iter()
                    .map(|p| format!("{region}: {p}")),
            );
        }
        if let Some(t) = &r.template {
            let expected = TemplateData::desired(
                spec,
                role,
                &t.data.image_id,
                &t.data.root_device_name,
                &t.data.instance_profile,
                "",
            );
            let changed: Vec<&str> = comparable_fields(&expected)
                .into_iter()
                .zip(comparable_fields(&t.data))
                .filter(|((k, a), (_, b))| a != b && *k != "instance_type")
                .map(|((k, _), _)| k)
                .collect();
            if !changed.is_empty() {
                drift.push(format!(
                    "{region}: launch template differs from the configuration in {}",
                    changed.join(", ")
                ));
            }
            if r.instance_security_group_id
                .as_ref()
                .is_some_and(|sg| t.data.security_group_ids != [sg.clone()])
            {
                drift.push(format!(
                    "{region}: launch template does not use the instance security group"
                ));
            }
        }
        if let Some(g) = &r.group {
            if let Some(tg) = &r.target_group {
                if !g.target_group_arns.contains(&tg.arn) {
                    drift.push(format!(
                        "{region}: Auto Scaling group is not attached to the target group"
                    ));
                }
            }
            if let Some(t) = &r.template {
                if g.launch_template_id != t.id
                    || g.launch_template_version != t.default_version.to_string()
                {
                    drift.push(format!(
                        "{region}: Auto Scaling group uses launch template version {} instead of {}",
                        g.launch_template_version, t.default_version
                    ));
                }
            }
            if sorted(&g.subnet_ids) != sorted(&side.private_subnet_ids) {
                drift.push(format!(
                    "{region}: Auto Scaling group subnets differ from private_subnet_ids"
                ));
            }
            if g.health_check_type != "ELB" {
                drift.push(format!(
                    "{region}: Auto Scaling group uses {} health checks instead of ELB",
                    g.health_check_type
                ));
            }
            // A failover raises the DR group's minimum up to the primary's; that is
            // its job, not drift.
            let min_ok = g.min_size == side.min_size
                || (role == Role::Dr
                    && g.min_size > side.min_size
                    && g.min_size <= spec.primary.min_size);
            if role == Role::Dr && (!min_ok || g.max_size != spec.max_size) {
                drift.push(format!(
                    "{region}: Auto Scaling group sizes are min {} max {} instead of min {} max {}",
                    g.min_size, g.max_size, side.min_size, spec.max_size
                ));
            }
            let desired = group::capacity_to_set(
                role,
                side.desired_capacity,
                spec.full_capacity,
                Some(g.desired_capacity),
                side.last_desired_capacity,
            );
            if role == Role::Dr && g.desired_capacity != desired {
                drift.push(format!(
                    "{region}: Auto Scaling group desired capacity is {} instead of {}",
                    g.desired_capacity, side.desired_capacity
                ));
            }
        }
        if let Some(lb) = &r.balancer {
            for (key, actual, wanted) in balancer::attribute_drift(
                &lb.attributes,
                &balancer::managed_attributes(spec.deletion_protection, spec.access_logs(role)),
            ) {
                drift.push(format!(
                    "{region}: load balancer attribute {key} is {actual} instead of {wanted}"
                ));
            }
            if sorted(&lb.subnet_ids) != sorted(&side.public_subnet_ids) {
                drift.push(format!(
                    "{region}: load balancer subnets differ from public_subnet_ids"
                ));
            }
        }
    }
    drift
}
