//! The global cluster, the regional clusters and their instances: create what is missing, bring
//! what exists in line with the spec (deletion protection, parameter and security groups,
//! engine minor version, instance count and class), and keep the managed RPO on the writer's
//! parameter group.

use aws_sdk_rds::types::{ApplyMethod, Parameter};
use futures::future::try_join_all;

use crate::aws::error::ok_if_not_found;
use crate::aws::{retry_while, AwsError, Deadline, RegionCtx};

use super::find::{
    aws_error, find_cluster, find_instances, instance_info, CLUSTER, GLOBAL_CLUSTER, INSTANCE,
    PARAMETER_GROUP,
};
use super::foundation::{tags_for, Foundation};
use super::secret::Password;
use super::{
    part, wait, ClusterInfo, DatabaseSpec, GlobalInfo, InstanceInfo, ENGINE, GLOBAL_ROLE,
    RPO_PARAMETER,
};

/// Whether an engine version satisfies the configured one: same major version, and a minor
/// version at least as new (AWS applies minor upgrades by itself when allowed).
pub fn version_covers(actual: &str, configured: &str) -> bool {
    let parse = |v: &str| -> Option<(u32, u32)> {
        let mut parts = v.trim().split('.');
        Some((
            parts.next()?.parse().ok()?,
            parts.next().unwrap_or("0").parse().ok()?,
        ))
    };
    match (parse(actual), parse(configured)) {
        (Some((a_major, a_minor)), Some((c_major, c_minor))) => {
            a_major == c_major && a_minor >= c_minor
        }
        _ => actual == configured,
    }
}

/// Whether a ModifyDBCluster / ModifyDBInstance failed only because the object (or another member
/// of its global cluster) is still busy with an earlier change: worth trying again until the
/// deadline, as terraform-provider-aws does (`resourceClusterUpdate` and
/// `globalClusterUpgradeMinorEngineVersion` in internal/service/rds retry
/// InvalidDBClusterStateFault, and try a member again after "is upgrading" or "upgrade global
/// replicas first"). A cluster without a writer instance will not heal by waiting.
fn busy(e: &AwsError) -> bool {
    let message = match e {
        AwsError::Api(f) => f.message.as_str(),
        _ => return false,
    };
    match e.code() {
        Some("InvalidDBClusterStateFault") => !message.contains("without a primary instance"),
        Some("InvalidDBInstanceState") => true,
        Some("InvalidGlobalClusterStateFault") => message.contains("is upgrading"),
        Some("InvalidParameterValue") => message.contains("upgrade global replicas first"),
        _ => false,
    }
}

/// Creates the global cluster if it is missing (from a standalone cluster of ours when one
/// survived, so its data is kept), or aligns its deletion protection.
pub(super) async fn ensure_global(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    existing: Option<&GlobalInfo>,
    standalone_source: Option<&ClusterInfo>,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let id = spec.names.global_cluster();
    let rds = rc.rds();
    if let Some(global) = existing {
        if global.deletion_protection != spec.deletion_protection {
            rds.modify_global_cluster()
                .global_cluster_identifier(&id)
                .deletion_protection(spec.deletion_protection)
                .send()
                .await
                .map_err(aws_error("updating", GLOBAL_CLUSTER, &id, &rc.region))?;
        }
        return Ok(());
    }
    let request = rds
        .create_global_cluster()
        .global_cluster_identifier(&id)
        .deletion_protection(spec.deletion_protection)
        .set_tags(Some(tags_for(spec, GLOBAL_ROLE, part::GLOBAL_CLUSTER, &id)));
    let request = match standalone_source {
        Some(source) => {
            tracing::info!("re-creating global cluster {id} from {}", source.arn);
            request.source_db_cluster_identifier(&source.arn)
        }
        None => request
            .engine(ENGINE)
            .engine_version(&spec.engine_version)
            .database_name(&spec.database_name)
            .storage_encrypted(true),
    };
    match request
        .send()
        .await
        .map_err(aws_error("creating", GLOBAL_CLUSTER, &id, &rc.region))
    {
        Ok(_) => tracing::info!("created global cluster {id}"),
        Err(e) if e.code() == Some("GlobalClusterAlreadyExistsFault") => {}
        Err(e) => return Err(e),
    }
    wait::global_available(rc, &id, deadline).await
}

/// How a missing cluster is created: as the writer (with the master credentials) or as a
/// secondary that replicates from it.
pub(super) enum Joining<'a> {
    Writer(&'a Password),
    Secondary,
}

/// Creates the region's cluster in the global cluster, or aligns an existing one.
pub(super) async fn ensure_cluster(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    existing: Option<&ClusterInfo>,
    foundation: &Foundation,
    joining: Joining<'_>,
    join_version: &str,
    deadline: Deadline,
) -> Result<ClusterInfo, AwsError> {
    let id = spec.names.cluster(rc.role);
    let global_id = spec.names.global_cluster();
    let existing = match existing {
        Some(c) if c.status == "deleting" => {
            wait::cluster_deleted(rc, &id, deadline).await?;
            None
        }
        other => other,
    };
    if let Some(cluster) = existing {
        if cluster.global_cluster_id.as_deref() != Some(global_id.as_str()) {
            return Err(AwsError::api(
                "joining",
                CLUSTER,
                &id,
                &rc.region,
                None,
                format!(
                    "the cluster exists but is not a member of global cluster {global_id} (it was detached or promoted outside Terraform). Aurora cannot add a cluster that holds data to a global database: delete or rename {id} and apply again to rebuild it as a secondary"
                ),
            ));
        }
        align_cluster(rc, spec, cluster, foundation, deadline).await?;
        return find_cluster(rc, &id)
            .await?
            .ok_or_else(|| AwsError::not_found(CLUSTER, &id, &rc.region));
    }
    let role_tag = rc.role.tag_value();
    let request = rc
        .rds()
        .create_db_cluster()
        .db_cluster_identifier(&id)
        .global_cluster_identifier(&global_id)
        .engine(ENGINE)
        .engine_version(join_version)
        .db_subnet_group_name(spec.names.subnet_group(rc.role))
        .vpc_security_group_ids(&foundation.security_group_id)
        .db_cluster_parameter_group_name(spec.names.parameter_group(rc.role))
        .storage_encrypted(true)
        .kms_key_id(&foundation.key_arn)
        .deletion_protection(spec.deletion_protection)
        .copy_tags_to_snapshot(true)
        .set_tags(Some(tags_for(spec, role_tag, part::CLUSTER, &id)));
    let request = match joining {
        Joining::Writer(password) => request
            .database_name(&spec.database_name)
            .master_username(&spec.master_username)
            .master_user_password(password.expose()),
        Joining::Secondary => request,
    };
    match request
        .send()
        .await
        .map_err(aws_error("creating", CLUSTER, &id, &rc.region))
    {
        Ok(_) => tracing::info!("creating Aurora cluster {id} in {}", rc.region),
        Err(e) if e.code() == Some("DBClusterAlreadyExistsFault") => {}
        Err(e) => return Err(e),
    }
    wait::cluster_available(rc, &id, deadline).await?;
    find_cluster(rc, &id)
        .await?
        .ok_or_else(|| AwsError::not_found(CLUSTER, &id, &rc.region))
}

async fn align_cluster(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    cluster: &ClusterInfo,
    foundation: &Foundation,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let group = spec.names.parameter_group(rc.role);
    let wrong_sg = cluster.security_group_ids != [foundation.security_group_id.clone()];
    let wrong_group = cluster.parameter_group != group;
    let wrong_protection = cluster.deletion_protection != spec.deletion_protection;
    if !(wrong_sg || wrong_group || wrong_protection) {
        return Ok(());
    }
    retry_while(deadline, busy, || {
        let mut request = rc
            .rds()
            .modify_db_cluster()
            .db_cluster_identifier(&cluster.id)
            .apply_immediately(true);
        if wrong_sg {
            request = request.vpc_security_group_ids(&foundation.security_group_id);
        }
        if wrong_group {
            request = request.db_cluster_parameter_group_name(&group);
        }
        if wrong_protection {
            request = request.deletion_protection(spec.deletion_protection);
        }
        async move {
            request
                .send()
                .await
                .map_err(aws_error("updating", CLUSTER, &cluster.id, &rc.region))
        }
    })
    .await?;
    tracing::info!("updating Aurora cluster {} in {}", cluster.id, rc.region);
    let wanted_sg = [foundation.security_group_id.clone()];
    wait::cluster_modified(
        rc,
        &cluster.id,
        "its security group, parameter group and deletion protection",
        |c| {
            c.security_group_ids == wanted_sg
                && c.parameter_group == group
                && c.deletion_protection == spec.deletion_protection
        },
        deadline,
    )
    .await
    .map(drop)
}

/// Gives the writer cluster the password of a secret that had to be re-created.
pub(super) async fn set_master_password(
    rc: &RegionCtx,
    cluster_id: &str,
    password: &Password,
    deadline: Deadline,
) -> Result<(), AwsError> {
    retry_while(deadline, busy, || async {
        rc.rds()
            .modify_db_cluster()
            .db_cluster_identifier(cluster_id)
            .master_user_password(password.expose())
            .apply_immediately(true)
            .send()
            .await
            .map_err(aws_error(
                "setting the master password of",
                CLUSTER,
                cluster_id,
                &rc.region,
            ))
    })
    .await?;
    tracing::info!("setting the master password of {cluster_id} from the re-created secret");
    wait::cluster_modified(
        rc,
        cluster_id,
        "the new master password",
        |_| true,
        deadline,
    )
    .await
    .map(drop)
}

/// Upgrades a cluster to the configured minor version and waits until it runs it, so that the
/// next member (the writer after its secondaries) is upgraded only once this one is done.
pub(super) async fn upgrade_cluster(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    cluster_id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let version = &spec.engine_version;
    retry_while(deadline, busy, || async {
        rc.rds()
            .modify_db_cluster()
            .db_cluster_identifier(cluster_id)
            .engine_version(version)
            .allow_major_version_upgrade(false)
            .apply_immediately(true)
            .send()
            .await
            .map_err(aws_error("upgrading", CLUSTER, cluster_id, &rc.region))
    })
    .await?;
    tracing::info!("upgrading {cluster_id} in {} to {version}", rc.region);
    wait::cluster_modified(
        rc,
        cluster_id,
        &format!("engine version {version}"),
        |c| c.engine_version == *version,
        deadline,
    )
    .await
    .map(drop)
}

/// Makes the cluster's instances `{cluster}-1` … `{cluster}-{count}` of the configured class:
/// creates the missing ones, deletes higher numbers, and changes the class of readers before
/// the writer so the cluster keeps serving.
pub(super) async fn ensure_instances(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    writer_instances: &[String],
    deadline: Deadline,
) -> Result<(), AwsError> {
    let role = rc.role;
    let cluster_id = spec.names.cluster(role);
    let count = spec.region(role).instance_count;
    let all: Vec<InstanceInfo> = find_instances(rc, &cluster_id)
        .await?
        .iter()
        .map(|i| {
            let id = i.db_instance_identifier().unwrap_or_default();
            instance_info(i, spec.names.instance_number(role, id))
        })
        .collect();
    let live = |n: u32| all.iter().find(|i| i.number == Some(n) && !i.is_deleting());
    let missing: Vec<u32> = (1..=count).filter(|n| live(*n).is_none()).collect();
    let extra: Vec<&InstanceInfo> = all
        .iter()
        .filter(|i| i.number.is_some_and(|n| n > count) && !i.is_deleting())
        .collect();
    let (writers, readers): (Vec<&InstanceInfo>, Vec<&InstanceInfo>) = (1..=count)
        .filter_map(live)
        .filter(|i| i.class != spec.instance_class)
        .partition(|i| writer_instances.contains(&i.id));

    try_join_all(
        missing
            .iter()
            .map(|n| create_instance(rc, spec, *n, deadline)),
    )
    .await?;
    try_join_all(extra.iter().map(|i| delete_instance(rc, &i.id, deadline))).await?;
    for batch in [readers, writers] {
        try_join_all(
            batch
                .iter()
                .map(|i| modify_class(rc, spec, &i.id, deadline)),
        )
        .await?;
    }
    Ok(())
}

async fn create_instance(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    n: u32,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let id = spec.names.instance(rc.role, n);
    // A previous instance of this name may still be on its way out.
    wait::instance_deleted(rc, &id, deadline).await?;
    let out = rc
        .rds()
        .create_db_instance()
        .db_instance_identifier(&id)
        .db_cluster_identifier(spec.names.cluster(rc.role))
        .engine(ENGINE)
        .db_instance_class(&spec.instance_class)
        .publicly_accessible(false)
        .copy_tags_to_snapshot(true)
        .set_tags(Some(tags_for(
            spec,
            rc.role.tag_value(),
            part::INSTANCE,
            &id,
        )))
        .send()
        .await
        .map_err(aws_error("creating", INSTANCE, &id, &rc.region));
    match out {
        Ok(_) => tracing::info!("creating Aurora instance {id} in {}", rc.region),
        Err(e) if e.code() == Some("DBInstanceAlreadyExists") => {}
        Err(e) => return Err(e),
    }
    wait::instance_available(rc, &id, deadline).await
}

pub(super) async fn delete_instance(
    rc: &RegionCtx,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let out = rc
        .rds()
        .delete_db_instance()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(aws_error("deleting", INSTANCE, id, &rc.region));
    match ok_if_not_found(out) {
        Ok(_) => {}
        // Already being deleted.
        Err(e) if e.code() == Some("InvalidDBInstanceState") => {}
        Err(e) => return Err(e),
    }
    tracing::info!("deleting Aurora instance {id} in {}", rc.region);
    wait::instance_deleted(rc, id, deadline).await
}

async fn modify_class(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    id: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let class = &spec.instance_class;
    retry_while(deadline, busy, || async {
        rc.rds()
            .modify_db_instance()
            .db_instance_identifier(id)
            .db_instance_class(class)
            .apply_immediately(true)
            .send()
            .await
            .map_err(aws_error("changing the class of", INSTANCE, id, &rc.region))
    })
    .await?;
    tracing::info!("changing {id} in {} to {class}", rc.region);
    wait::instance_resized(rc, id, class, deadline).await
}

/// Sets the managed RPO on a parameter group (`Some`), or removes it (`None`).
pub(super) async fn set_rpo(
    rc: &RegionCtx,
    group: &str,
    rpo_seconds: Option<i64>,
) -> Result<(), AwsError> {
    let rds = rc.rds();
    match rpo_seconds {
        Some(seconds) => {
            rds.modify_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(group)
                .parameters(
                    Parameter::builder()
                        .parameter_name(RPO_PARAMETER)
                        .parameter_value(seconds.to_string())
                        .apply_method(ApplyMethod::Immediate)
                        .build(),
                )
                .send()
                .await
                .map_err(aws_error(
                    "setting the RPO in",
                    PARAMETER_GROUP,
                    group,
                    &rc.region,
                ))?;
            tracing::info!("{group} in {}: {RPO_PARAMETER} = {seconds}", rc.region);
        }
        None => {
            rds.reset_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(group)
                .parameters(
                    Parameter::builder()
                        .parameter_name(RPO_PARAMETER)
                        .apply_method(ApplyMethod::Immediate)
                        .build(),
                )
                .send()
                .await
                .map_err(aws_error(
                    "resetting the RPO in",
                    PARAMETER_GROUP,
                    group,
                    &rc.region,
                ))?;
            tracing::info!("{group} in {}: {RPO_PARAMETER} reset", rc.region);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for (actual, configured, covers) in [
            ("14.9", "14.9", true),
            ("14.12", "14.9", true),
            ("14.6", "14.9", false),
            ("15.4", "14.9", false),
            ("14", "14.0", true),
            ("x", "x", true),
        ] {
            assert_eq!(
                version_covers(actual, configured),
                covers,
                "{actual} vs {configured}"
            );
        }
    }
}
