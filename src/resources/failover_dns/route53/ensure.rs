//! Create, adopt and repair: the zone, a health check per side (kept when it can be updated in
//! place, replaced when its interval or protocol changed) and both records, each only written
//! when it differs from what Route 53 has.

use crate::aws::{AwsContext, AwsError, Deadline, Role};

use super::checks;
use super::records;
use super::zone::{self, GLOBAL, ZONE};
use super::{observe, part, DnsSpec, ObservedDns, ObservedZone, ZoneSource, GLOBAL_ROLE};

/// Makes the zone, checks and records match the spec and returns what exists afterwards. On
/// failure the error comes with what exists at that point, if anything.
pub async fn ensure(
    ctx: &AwsContext,
    spec: &DnsSpec,
    deadline: Deadline,
) -> Result<ObservedDns, (AwsError, Option<ObservedDns>)> {
    tracing::info!("ensuring failover records {}", spec.fqdn);
    let zone = resolve_zone(ctx, spec).await.map_err(|e| (e, None))?;
    let result = converge(ctx, spec, &zone, deadline).await;
    let observed = observe::read(ctx, &zone.id, &spec.fqdn).await;
    match (result, observed) {
        (Ok(()), Ok(Some(o))) => Ok(o),
        (Ok(()), Ok(None)) => Err((AwsError::not_found(ZONE, &zone.id, GLOBAL), None)),
        (Ok(()), Err(e)) => Err((e, None)),
        (Err(e), observed) => Err((e, observed.ok().flatten())),
    }
}

async fn resolve_zone(ctx: &AwsContext, spec: &DnsSpec) -> Result<ObservedZone, AwsError> {
    match &spec.zone {
        ZoneSource::Existing { id } => zone::find_zone(ctx, id)
            .await?
            .ok_or_else(|| AwsError::not_found(ZONE, id, GLOBAL)),
        ZoneSource::Create { name } => {
            let tags = spec.tags(GLOBAL_ROLE, part::ZONE);
            match zone::find_managed_by_name(ctx, name).await? {
                Some(z) => {
                    let r53 = ctx.primary.route53();
                    zone::retag(
                        &r53,
                        aws_sdk_route53::types::TagResourceType::Hostedzone,
                        &z.id,
                        &tags,
                    )
                    .await?;
                    Ok(z)
                }
                None => zone::create(ctx, name, &spec.owner(), &tags).await,
            }
        }
    }
}

async fn converge(
    ctx: &AwsContext,
    spec: &DnsSpec,
    zone: &ObservedZone,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let ((primary, primary_stale), (dr, dr_stale)) = tokio::try_join!(
        ensure_check(ctx, spec, Role::Primary),
        ensure_check(ctx, spec, Role::Dr),
    )?;
    let existing = records::list(ctx, &zone.id, &spec.fqdn).await?;
    let up_to_date = [(Role::Primary, &primary), (Role::Dr, &dr)]
        .iter()
        .all(|(role, check)| {
            let endpoint = spec.endpoint(*role);
            records::of_role(&existing, *role).is_some_and(|r| {
                r.alias_dns_name == super::normalize(&endpoint.alb_dns_name)
                    && r.alias_zone_id == endpoint.alb_zone_id
                    && r.evaluate_target_health
                    && r.health_check_id.as_deref() == Some(check.as_str())
                    && r.set_identifier == super::set_identifier(*role)
            })
        });
    if !up_to_date {
        records::upsert(ctx, &zone.id, spec, [&primary, &dr], deadline).await?;
    }
    // Only now that no record refers to them.
    for id in primary_stale.iter().chain(&dr_stale) {
        checks::delete(ctx, id).await?;
    }
    tracing::info!("failover records {} are complete", spec.fqdn);
    Ok(())
}

/// The side's check id, and the ids of the side's other checks (replaced or duplicated).
async fn ensure_check(
    ctx: &AwsContext,
    spec: &DnsSpec,
    role: Role,
) -> Result<(String, Vec<String>), AwsError> {
    let own = checks::list_own(ctx, &spec.fqdn, role).await?;
    let keep = own
        .iter()
        .find(|c| checks::matches(c, spec, role))
        .or_else(|| own.iter().find(|c| checks::updatable(c, &spec.check)));
    let id = match keep {
        Some(check) => {
            checks::update(ctx, check, spec, role).await?;
            check.id.clone()
        }
        None => checks::create(ctx, spec, role).await?,
    };
    let stale = own.into_iter().map(|c| c.id).filter(|c| *c != id).collect();
    Ok((id, stale))
}
