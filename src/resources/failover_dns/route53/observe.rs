//! [`read`]: the zone, this name's health checks and records as Route 53 has them, and
//! [`drift`]: how they differ from a spec, in words.

use crate::aws::{AwsContext, AwsError, Role};

use super::{checks, normalize, records, zone, DnsSpec, ObservedCheck, ObservedDns};

/// What exists for this name in the zone; `None` when the zone itself is gone.
pub async fn read(
    ctx: &AwsContext,
    zone_id: &str,
    fqdn: &str,
) -> Result<Option<ObservedDns>, AwsError> {
    let Some(zone) = zone::find_zone(ctx, zone_id).await? else {
        return Ok(None);
    };
    let (sides, sets) = tokio::try_join!(
        checks::list_own_sides(ctx, fqdn, &Role::BOTH),
        records::list(ctx, &zone.id, fqdn),
    )?;
    let mut sides = sides.into_iter();
    let (primary, dr) = (
        sides.next().unwrap_or_default(),
        sides.next().unwrap_or_default(),
    );
    let primary_record = records::of_role(&sets, Role::Primary);
    let dr_record = records::of_role(&sets, Role::Dr);
    // The check a record refers to, else any of the side's.
    let pick = |own: Vec<ObservedCheck>, referenced: Option<&str>| {
        let position = own
            .iter()
            .position(|c| Some(c.id.as_str()) == referenced)
            .unwrap_or(0);
        own.into_iter().nth(position)
    };
    let primary_check = pick(
        primary,
        primary_record
            .as_ref()
            .and_then(|r| r.health_check_id.as_deref()),
    );
    let dr_check = pick(
        dr,
        dr_record
            .as_ref()
            .and_then(|r| r.health_check_id.as_deref()),
    );
    Ok(Some(ObservedDns {
        zone,
        primary_check,
        dr_check,
        primary_record,
        dr_record,
    }))
}

/// Differences that need a repair; the primary check's settings and both records' targets are
/// reported as inputs instead (so they show as changes).
pub fn drift(spec: &DnsSpec, o: &ObservedDns) -> Vec<String> {
    let mut drift = Vec::new();
    for role in Role::BOTH {
        let side = role.label();
        match o.check(role) {
            None => drift.push(format!("{side} health check is missing")),
            Some(c) => {
                if c.target != normalize(&spec.endpoint(role).alb_dns_name)
                    && o.record(role).is_some_and(|r| {
                        r.alias_dns_name == normalize(&spec.endpoint(role).alb_dns_name)
                    })
                {
                    drift.push(format!(
                        "{side} health check probes {} instead of the load balancer",
                        c.target
                    ));
                }
                if role == Role::Dr && c.check != spec.check {
                    drift.push(format!(
                        "{side} health check settings differ from health_check"
                    ));
                }
            }
        }
        match o.record(role) {
            None => drift.push(format!("{side} failover record is missing")),
            Some(r) => {
                if r.health_check_id.is_none()
                    || r.health_check_id != o.check(role).map(|c| c.id.clone())
                {
                    drift.push(format!(
                        "{side} failover record is not tied to its health check"
                    ));
                }
                if !r.evaluate_target_health {
                    drift.push(format!(
                        "{side} failover record does not evaluate target health"
                    ));
                }
            }
        }
    }
    drift
}
