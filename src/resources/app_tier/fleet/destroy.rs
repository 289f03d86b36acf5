//! [`destroy`]: remove everything the tier owns, dependants first, in both regions at once:
//! the Auto Scaling group with its instances, the load balancer with its listeners, the target
//! group, the launch template, the security groups and the IAM role and profile. Objects are
//! found by name and deleted only when they carry the tier's owner tag; anything already gone
//! counts as removed.

use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx};

use super::{balancer, group, iam, owner_tag_value, security, template};

pub async fn destroy(ctx: &AwsContext, id: &str, deadline: Deadline) -> Result<(), AwsError> {
    tracing::info!(
        "destroying app tier {} in {} and {}",
        owner_tag_value(id),
        ctx.primary.region,
        ctx.dr.region
    );
    tokio::try_join!(
        teardown_region(&ctx.primary, id, deadline),
        teardown_region(&ctx.dr, id, deadline),
    )?;
    tracing::info!("destroyed app tier {}", owner_tag_value(id));
    Ok(())
}

async fn teardown_region(rc: &RegionCtx, id: &str, deadline: Deadline) -> Result<(), AwsError> {
    let owner = owner_tag_value(id);
    group::destroy(rc, id, &owner, deadline).await?;
    balancer::destroy(rc, id, &owner, deadline).await?;
    template::destroy(rc, id, &owner).await?;
    security::destroy(rc, &owner, deadline).await?;
    iam::destroy(rc, id, &owner).await
}
