//! [`update_tags`]: re-tag every object of the database in both regions in place.

use aws_sdk_ec2::types::Tag as Ec2Tag;
use futures::future::try_join_all;

use crate::aws::tags::{is_managed_key, to_ec2_tags, Tags};
use crate::aws::{AwsContext, AwsError, RegionCtx};

use super::find::{aws_error, KMS_KEY, SECRET, SECURITY_GROUP};
use super::observe::load;
use super::{part, DatabaseSpec, RegionObserved, GLOBAL_ROLE};

const OBJECT: &str = "RDS object";

/// Applies the spec's tags to everything that exists and removes the keys that were in the old
/// tags (`default_tags` merged with the resource's `tags`) and are no longer wanted.
pub async fn update_tags(
    ctx: &AwsContext,
    spec: &DatabaseSpec,
    old_tags_all: &Tags,
) -> Result<(), AwsError> {
    let observed = Box::pin(load(ctx, &spec.names)).await?;
    let mut wanted = spec.default_tags.clone();
    wanted.extend(spec.user_tags.clone());
    let removed: Vec<String> = old_tags_all
        .keys()
        .filter(|k| !wanted.contains_key(*k) && !is_managed_key(k))
        .cloned()
        .collect();

    let mut rds_objects: Vec<(&RegionCtx, String, Tags)> = Vec::new();
    if let Some(g) = &observed.global {
        let id = spec.names.global_cluster();
        rds_objects.push((
            &ctx.primary,
            g.arn.clone(),
            spec.tags(GLOBAL_ROLE, part::GLOBAL_CLUSTER, &id),
        ));
    }
    for rc in [&ctx.primary, &ctx.dr] {
        let r = observed.region(rc.role);
        rds_objects.extend(regional_rds_objects(rc, spec, r));
        if let Some(key) = &r.key {
            let alias = spec.names.key_alias(rc.role);
            let tags = spec.tags(
                rc.role.tag_value(),
                part::KMS_KEY,
                alias.trim_start_matches("alias/"),
            );
            retag_key(rc, &key.key_id, &tags, &removed).await?;
        }
        if let Some(sg) = &r.security_group {
            let name = spec.names.security_group(rc.role);
            let tags = spec.tags(rc.role.tag_value(), part::SECURITY_GROUP, &name);
            retag_security_group(rc, &sg.id, &tags, &removed).await?;
        }
    }
    try_join_all(
        rds_objects
            .iter()
            .map(|(rc, arn, tags)| retag_rds(rc, arn, tags, &removed)),
    )
    .await?;
    if let Some(secret) = &observed.secret {
        let name = spec.names.secret();
        retag_secret(
            ctx,
            &secret.arn,
            &spec.tags(GLOBAL_ROLE, part::SECRET, &name),
            &removed,
        )
        .await?;
    }
    tracing::info!(
        "re-tagged Aurora global database {}",
        spec.names.global_cluster()
    );
    Ok(())
}

fn regional_rds_objects<'a>(
    rc: &'a RegionCtx,
    spec: &DatabaseSpec,
    r: &RegionObserved,
) -> Vec<(&'a RegionCtx, String, Tags)> {
    let role = rc.role.tag_value();
    let names = &spec.names;
    let mut objects = Vec::new();
    if let Some(g) = &r.subnet_group {
        let name = names.subnet_group(rc.role);
        objects.push((
            rc,
            g.arn.clone(),
            spec.tags(role, part::SUBNET_GROUP, &name),
        ));
    }
    if let Some(g) = &r.parameter_group {
        let name = names.parameter_group(rc.role);
        objects.push((
            rc,
            g.arn.clone(),
            spec.tags(role, part::PARAMETER_GROUP, &name),
        ));
    }
    if let Some(c) = &r.cluster {
        objects.push((rc, c.arn.clone(), spec.tags(role, part::CLUSTER, &c.id)));
    }
    for i in &r.instances {
        objects.push((rc, i.arn.clone(), spec.tags(role, part::INSTANCE, &i.id)));
    }
    objects.retain(|(_, arn, _)| !arn.is_empty());
    objects
}

async fn retag_rds(
    rc: &RegionCtx,
    arn: &str,
    tags: &Tags,
    removed: &[String],
) -> Result<(), AwsError> {
    let rds = rc.rds();
    rds.add_tags_to_resource()
        .resource_name(arn)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(aws_error("tagging", OBJECT, arn, &rc.region))?;
    if !removed.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(removed.to_vec()))
            .send()
            .await
            .map_err(aws_error("untagging", OBJECT, arn, &rc.region))?;
    }
    Ok(())
}

async fn retag_key(
    rc: &RegionCtx,
    key_id: &str,
    tags: &Tags,
    removed: &[String],
) -> Result<(), AwsError> {
    let kms = rc.kms();
    let kms_tags = tags
        .iter()
        .map(|(k, v)| {
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .map_err(|e| AwsError::Config(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    kms.tag_resource()
        .key_id(key_id)
        .set_tags(Some(kms_tags))
        .send()
        .await
        .map_err(aws_error("tagging", KMS_KEY, key_id, &rc.region))?;
    if !removed.is_empty() {
        kms.untag_resource()
            .key_id(key_id)
            .set_tag_keys(Some(removed.to_vec()))
            .send()
            .await
            .map_err(aws_error("untagging", KMS_KEY, key_id, &rc.region))?;
    }
    Ok(())
}

async fn retag_security_group(
    rc: &RegionCtx,
    id: &str,
    tags: &Tags,
    removed: &[String],
) -> Result<(), AwsError> {
    let ec2 = rc.ec2();
    ec2.create_tags()
        .resources(id)
        .set_tags(Some(to_ec2_tags(tags)))
        .send()
        .await
        .map_err(aws_error("tagging", SECURITY_GROUP, id, &rc.region))?;
    if !removed.is_empty() {
        ec2.delete_tags()
            .resources(id)
            .set_tags(Some(
                removed
                    .iter()
                    .map(|k| Ec2Tag::builder().key(k).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(aws_error("untagging", SECURITY_GROUP, id, &rc.region))?;
    }
    Ok(())
}

/// Tags the primary secret; Secrets Manager copies them to the replica.
async fn retag_secret(
    ctx: &AwsContext,
    arn: &str,
    tags: &Tags,
    removed: &[String],
) -> Result<(), AwsError> {
    let rc = &ctx.primary;
    let sm = rc.secretsmanager();
    sm.tag_resource()
        .secret_id(arn)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| {
                    aws_sdk_secretsmanager::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                })
                .collect(),
        ))
        .send()
        .await
        .map_err(aws_error("tagging", SECRET, arn, &rc.region))?;
    if !removed.is_empty() {
        sm.untag_resource()
            .secret_id(arn)
            .set_tag_keys(Some(removed.to_vec()))
            .send()
            .await
            .map_err(aws_error("untagging", SECRET, arn, &rc.region))?;
    }
    Ok(())
}
