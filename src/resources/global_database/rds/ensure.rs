//! [`ensure`]: create, adopt and repair. Everything is looked up first and only what is
//! missing or different is changed, so re-running completes an interrupted create, repairs
//! out-of-band deletions and applies in-place updates.
//!
//! Order, with one deadline: subnets checked → per region (in parallel) KMS key, subnet group,
//! security group, parameter group → secret (replicated with the DR key) → global cluster →
//! the writer's cluster and instances → the secondary's cluster and instances → engine minor
//! upgrades (secondary first) → managed RPO on the writer's parameter group.

use crate::aws::{AwsContext, AwsError, Deadline, RegionCtx, Role};

use super::clusters::{
    ensure_cluster, ensure_global, ensure_instances, set_master_password, set_rpo, upgrade_cluster,
    version_covers, Joining,
};
use super::find::{find_cluster, find_global_cluster, find_subnet_cidrs, subnets_layout, SUBNETS};
use super::foundation::{ensure_foundation, Placement};
use super::observe::load;
use super::secret::{check_secret_owner, ensure_secret, read_password, Password};
use super::{arn_region, wanted_rpo, DatabaseSpec, Observed, RPO_PARAMETER};

/// Brings the database to the spec in both regions and returns what exists afterwards. On
/// failure the error comes with what exists at that point, for the state and a later destroy.
pub async fn ensure(
    ctx: &AwsContext,
    spec: &DatabaseSpec,
    deadline: Deadline,
) -> Result<Observed, (AwsError, Option<Observed>)> {
    let global_id = spec.names.global_cluster();
    tracing::info!(
        "ensuring Aurora global database {global_id} in {} and {}",
        ctx.primary.region,
        ctx.dr.region
    );
    let result = match Box::pin(converge(ctx, spec, deadline)).await {
        Ok(()) => Box::pin(load(ctx, &spec.names)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(observed) => {
            tracing::info!("Aurora global database {global_id} is complete");
            Ok(observed)
        }
        Err(e) => {
            tracing::warn!("Aurora global database {global_id} is incomplete: {e}");
            let partial = Box::pin(load(ctx, &spec.names)).await.ok();
            Err((e, partial))
        }
    }
}

async fn converge(
    ctx: &AwsContext,
    spec: &DatabaseSpec,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let observed = Box::pin(load(ctx, &spec.names)).await?;
    // A secret of the database's name that is not its own stops the apply before anything is
    // created (ensure_secret would refuse it later, after the keys and groups).
    if let Some(secret) = &observed.secret {
        check_secret_owner(&ctx.primary, spec, secret)?;
    }
    let (primary_vpc, dr_vpc) =
        tokio::try_join!(subnets_vpc(&ctx.primary, spec), subnets_vpc(&ctx.dr, spec))?;
    // Each region lets in the other region's database subnets (clients across the peering).
    let (primary_cidrs, dr_cidrs) = tokio::try_join!(
        find_subnet_cidrs(&ctx.primary, &spec.primary.subnet_ids),
        find_subnet_cidrs(&ctx.dr, &spec.dr.subnet_ids)
    )?;
    let primary_placement = Placement {
        vpc_id: &primary_vpc,
        peer_cidrs: &dr_cidrs,
    };
    let dr_placement = Placement {
        vpc_id: &dr_vpc,
        peer_cidrs: &primary_cidrs,
    };
    let (primary, dr) = tokio::try_join!(
        Box::pin(ensure_foundation(
            &ctx.primary,
            spec,
            &observed.primary,
            &primary_placement
        )),
        Box::pin(ensure_foundation(
            &ctx.dr,
            spec,
            &observed.dr,
            &dr_placement
        )),
    )?;
    let (_, secret_created) = Box::pin(ensure_secret(
        ctx,
        spec,
        observed.secret.as_ref(),
        &primary.key_arn,
        &dr.key_arn,
        deadline,
    ))
    .await?;

    let standalone = Role::BOTH.into_iter().find_map(|role| {
        let c = observed.region(role).cluster.as_ref()?;
        (c.global_cluster_id.is_none() && c.status != "deleting").then_some((role, c))
    });
    let source = standalone.filter(|_| observed.global.is_none());
    Box::pin(ensure_global(
        &ctx.primary,
        spec,
        observed.global.as_ref(),
        source.map(|(_, c)| c),
        deadline,
    ))
    .await?;

    let global = find_global_cluster(&ctx.primary, &spec.names.global_cluster()).await?;
    // A missing cluster joins at the version the global database runs, which AWS may have
    // raised (minor upgrades) past the configured one: CreateDBCluster refuses any other
    // ("Value for engineVersion should match setting for global cluster"). `upgrade_engine`
    // brings everyone to the configured version afterwards if it is newer.
    let join_version = global
        .as_ref()
        .map(|g| g.engine_version.clone())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| spec.engine_version.clone());
    let writer_role = global
        .as_ref()
        .and_then(|g| g.writer())
        .and_then(|w| role_of(ctx, &w.cluster_arn))
        .or(source.map(|(role, _)| role))
        .unwrap_or(Role::Primary);
    let foundation = |role: Role| match role {
        Role::Primary => &primary,
        Role::Dr => &dr,
    };

    let mut password: Option<Password> = None;
    for role in [writer_role, writer_role.peer()] {
        let rc = ctx.region(role);
        let existing = find_cluster(rc, &spec.names.cluster(role)).await?;
        let creating_writer = role == writer_role && existing.is_none();
        if creating_writer || (role == writer_role && secret_created) {
            password = Some(master_password(ctx, spec, rc).await?);
        }
        let joining = match (&password, creating_writer) {
            (Some(p), true) => Joining::Writer(p),
            _ => Joining::Secondary,
        };
        let cluster = Box::pin(ensure_cluster(
            rc,
            spec,
            existing.as_ref(),
            foundation(role),
            joining,
            &join_version,
            deadline,
        ))
        .await?;
        if role == writer_role && existing.is_some() && secret_created {
            if let Some(p) = &password {
                set_master_password(rc, &cluster.id, p, deadline).await?;
            }
        }
        Box::pin(ensure_instances(
            rc,
            spec,
            &cluster.writer_instances,
            deadline,
        ))
        .await?;
    }
    drop(password);

    Box::pin(upgrade_engine(ctx, spec, writer_role, deadline)).await?;
    Box::pin(align_rpo(ctx, spec, &observed, writer_role)).await
}

/// The single VPC of a region's subnets, which must span at least two availability zones.
async fn subnets_vpc(rc: &RegionCtx, spec: &DatabaseSpec) -> Result<String, AwsError> {
    let ids = &spec.region(rc.role).subnet_ids;
    let label = format!("{}.subnet_ids", rc.role.tag_value());
    let fail =
        |message: String| AwsError::api("checking", SUBNETS, &label, &rc.region, None, message);
    let layout = subnets_layout(rc, ids).await?;
    if !layout.missing.is_empty() {
        return Err(fail(format!(
            "subnets {} do not exist",
            layout.missing.join(", ")
        )));
    }
    match layout.vpc_ids.as_slice() {
        [vpc] if layout.availability_zones.len() >= 2 => Ok(vpc.clone()),
        [_] => Err(fail(format!(
            "the subnets are all in {}; Aurora needs subnets in at least two availability zones",
            layout.availability_zones.join(", ")
        ))),
        vpcs => Err(fail(format!(
            "the subnets must all be in one VPC, they are in {}",
            vpcs.join(", ")
        ))),
    }
}

fn role_of(ctx: &AwsContext, cluster_arn: &str) -> Option<Role> {
    let region = arn_region(cluster_arn)?;
    Role::BOTH
        .into_iter()
        .find(|r| ctx.region(*r).region == region)
}

/// The password from the secret, read where the writer is (the replica there) and, failing
/// that, from the primary secret.
async fn master_password(
    ctx: &AwsContext,
    spec: &DatabaseSpec,
    rc: &RegionCtx,
) -> Result<Password, AwsError> {
    let name = spec.names.secret();
    match read_password(rc, &name).await {
        Ok(p) => Ok(p),
        Err(_) if rc.role != Role::Primary => read_password(&ctx.primary, &name).await,
        Err(e) => Err(e),
    }
}

/// Minor version upgrades, secondary first, as Aurora global databases require.
async fn upgrade_engine(
    ctx: &AwsContext,
    spec: &DatabaseSpec,
    writer_role: Role,
    deadline: Deadline,
) -> Result<(), AwsError> {
    for role in [writer_role.peer(), writer_role] {
        let rc = ctx.region(role);
        let id = spec.names.cluster(role);
        if let Some(c) = find_cluster(rc, &id).await? {
            if !version_covers(&c.engine_version, &spec.engine_version) {
                upgrade_cluster(rc, spec, &id, deadline).await?;
            }
        }
    }
    Ok(())
}

/// The managed RPO lives on the writer's parameter group only, and only while a secondary is
/// synchronized ([`super::GlobalInfo::rpo_blocker`]): read from the global cluster as it is now, after
/// the clusters were ensured, so that the first apply after a failover does not set it on the
/// new writer while the old primary is still out or being rebuilt. A secondary's group never
/// carries it: a secondary promoted later must not start out pausing its commits.
async fn align_rpo(
    ctx: &AwsContext,
    spec: &DatabaseSpec,
    observed: &Observed,
    writer_role: Role,
) -> Result<(), AwsError> {
    let global_id = spec.names.global_cluster();
    let blocker = match find_global_cluster(&ctx.primary, &global_id).await? {
        Some(g) => g.rpo_blocker(),
        None => Some(format!("global cluster {global_id} is missing")),
    };
    if let Some(why) = &blocker {
        tracing::warn!(
            "{RPO_PARAMETER} stays off the writer's parameter group ({}): {why}; Aurora would pause the writer's commits",
            spec.names.parameter_group(writer_role)
        );
    }
    for role in Role::BOTH {
        let current = observed
            .region(role)
            .parameter_group
            .as_ref()
            .and_then(|g| g.rpo_seconds);
        let wanted = wanted_rpo(
            role,
            writer_role,
            blocker.is_some(),
            spec.rpo_target_seconds,
        );
        if current != wanted {
            set_rpo(ctx.region(role), &spec.names.parameter_group(role), wanted).await?;
        }
    }
    Ok(())
}
