//! Create, adopt and repair: every part is looked up by its deterministic name (or owner and
//! part tags), and only what is missing or different is created or changed, so a re-run
//! completes an interrupted create and repairs out-of-band changes.

use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx};

use super::fingerprint::differences;
use super::{
    balancer, group, iam, logs, observe, security, template, ObservedTier, TemplateData, TierSpec,
};

/// Makes both regions match the spec and returns what exists afterwards. On failure the error
/// comes with what exists at that point (if anything), so the caller can record it.
pub async fn ensure(
    ctx: &AwsContext,
    spec: &TierSpec,
    deadline: Deadline,
) -> Result<ObservedTier, (AwsError, Option<ObservedTier>)> {
    tracing::info!(
        "ensuring app tier {} in {} and {}",
        spec.owner(),
        ctx.primary.region,
        ctx.dr.region
    );
    // Before anything is made: a bucket AWS would not deliver to is refused up front.
    if let Err(e) = logs::check_buckets(ctx, spec).await {
        return Err((e, observe::read(ctx, &spec.id).await.ok().flatten()));
    }
    let converged = tokio::try_join!(
        ensure_region(&ctx.primary, spec, deadline),
        ensure_region(&ctx.dr, spec, deadline),
    );
    let observed = observe::read(ctx, &spec.id).await;
    match (converged, observed) {
        (Ok(_), Ok(Some(o))) => match template_mismatch(ctx, &o) {
            None => Ok(o),
            Some(err) => Err((err, Some(o))),
        },
        (Ok(_), Ok(None)) => Err((
            AwsError::not_found("app tier", &spec.id, &ctx.primary.region),
            None,
        )),
        (Ok(_), Err(e)) => Err((e, None)),
        (Err(e), observed) => {
            tracing::warn!("app tier {} is incomplete: {e}", spec.owner());
            Err((e, observed.ok().flatten()))
        }
    }
}

/// The templates of both regions must be identical but for their regional fields.
fn template_mismatch(ctx: &AwsContext, o: &ObservedTier) -> Option<AwsError> {
    let (Some(p), Some(d)) = (&o.primary.template, &o.dr.template) else {
        return None;
    };
    let differ = differences(&p.data, &d.data);
    (!differ.is_empty()).then(|| {
        AwsError::api(
            "checking",
            "launch templates",
            &p.id,
            &format!("{}+{}", ctx.primary.region, ctx.dr.region),
            None,
            format!(
                "the launch templates of {} ({}) and {} ({}) differ in {}; they must be identical but for ids and the AMI",
                ctx.primary.region,
                p.id,
                ctx.dr.region,
                d.id,
                differ.join(", ")
            ),
        )
    })
}

/// One region's pass: identity and network first, then the template, the load balancer and
/// finally the group that needs them all.
async fn ensure_region(
    rc: &RegionCtx,
    spec: &TierSpec,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let owner = spec.owner();
    let (profile, groups, target_group, balancer, existing_template, existing_group) = tokio::try_join!(
        iam::ensure(rc, spec),
        async {
            let owned = security::find_owned(rc, &owner).await?;
            security::ensure(rc, spec, &owned).await
        },
        async {
            let existing = balancer::find_target_group(rc, &spec.id).await?;
            balancer::ensure_target_group(rc, spec, existing.as_ref()).await
        },
        balancer::find_balancer(rc, &spec.id),
        template::find(rc, &spec.id),
        group::find(rc, &spec.id),
    )?;
    let (alb_group, instance_group) = groups;

    let root_device = existing_template
        .as_ref()
        .map(|t| t.data.root_device_name.clone())
        .filter(|d| !d.is_empty());
    let (image_id, root_device) = template::resolve_image(rc, spec, root_device.as_deref()).await?;
    let desired = TemplateData::desired(
        spec,
        rc.role,
        &image_id,
        &root_device,
        &profile,
        &instance_group,
    );
    let ((template_id, version), balancer) = tokio::try_join!(
        template::ensure(rc, spec, existing_template.as_ref(), &desired),
        async {
            let lb = balancer::ensure_balancer(rc, spec, balancer.as_ref(), &alb_group).await?;
            balancer::ensure_listeners(rc, spec, &lb.arn, &target_group).await?;
            Ok(lb)
        },
    )?;
    group::ensure(
        rc,
        spec,
        existing_group.as_ref(),
        &template_id,
        version,
        &target_group,
        deadline,
    )
    .await?;
    tracing::info!(
        "app tier {} is complete in {} behind {}",
        spec.owner(),
        rc.region,
        balancer.dns_name
    );
    Ok(())
}
