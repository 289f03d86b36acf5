//! [`destroy`]: the records first (nothing may answer with a dead health check), then both
//! health checks, then the zone if drpair created it. Anything already gone counts as removed.

use crate::aws::{AwsContext, AwsError, Deadline, Role};

use super::{checks, records, zone};

/// Removes this name's records and health checks; the zone too when `delete_zone` and drpair
/// created it (an existing zone is never deleted).
pub async fn destroy(
    ctx: &AwsContext,
    zone_id: &str,
    fqdn: &str,
    delete_zone: bool,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let zone = zone::find_zone(ctx, zone_id).await?;
    if let Some(z) = &zone {
        records::delete_all(ctx, &z.id, fqdn, deadline).await?;
    }
    for role in Role::BOTH {
        for check in checks::list_own(ctx, fqdn, role).await? {
            checks::delete(ctx, &check.id).await?;
        }
    }
    if let Some(z) = zone.filter(|z| delete_zone && z.managed) {
        zone::delete(ctx, &z.id).await?;
    }
    tracing::info!("destroyed failover records {fqdn}");
    Ok(())
}
