//! What each region needs before a cluster can live there: a KMS key (with its alias), a DB
//! subnet group, a security group letting PostgreSQL in from both VPCs, and a cluster parameter
//! group. Each is found by its name and created, repaired or adopted as needed.

use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, UserIdGroupPair,
};
use aws_sdk_rds::types::{ApplyMethod, Parameter};
use serde_json::Value;

use crate::aws::error::ok_if_not_found;
use crate::aws::iam::{caller_account, Account};
use crate::aws::kms::{self, KeySpec as KmsKeySpec};
use crate::aws::tags::{tag_specification, Tags};
use crate::aws::{AwsError, RegionCtx};

use super::find::{aws_error, PARAMETER_GROUP, SECURITY_GROUP, SUBNET_GROUP};
use super::{
    part, DatabaseSpec, Ingress, RegionObserved, Source, FORCE_SSL_PARAMETER, PARAMETER_FAMILY,
};

/// What the clusters of a region are built on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Foundation {
    pub key_arn: String,
    pub security_group_id: String,
}

/// Where a region's database goes: the subnets' VPC, and the other region's database subnets
/// (CIDR blocks) let in across the peering.
pub(super) struct Placement<'a> {
    pub vpc_id: &'a str,
    pub peer_cidrs: &'a [String],
}

pub(super) async fn ensure_foundation(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    observed: &RegionObserved,
    placement: &Placement<'_>,
) -> Result<Foundation, AwsError> {
    let (key_arn, security_group_id, (), ()) = tokio::try_join!(
        ensure_key(rc, spec),
        ensure_security_group(rc, spec, observed, placement),
        ensure_subnet_group(rc, spec, observed),
        ensure_parameter_group(rc, spec, observed),
    )?;
    Ok(Foundation {
        key_arn,
        security_group_id,
    })
}

fn role_tag(rc: &RegionCtx) -> &'static str {
    rc.role.tag_value()
}

/// The database key's policy: the account administers it and uses it only through RDS (the
/// cluster's storage, snapshots and replication) and Secrets Manager (the master secret and its
/// replica) in the key's region ([`kms::key_policy_for`]).
pub(super) fn key_policy(account: &Account, region: &str) -> Value {
    kms::key_policy_for(account, region, &["rds", "secretsmanager"], Vec::new())
}

/// The region's key through the shared helper: created with rotation and [`key_policy`], an
/// orphan of an interrupted create adopted by its owner tag (if its policy names no stranger),
/// a key disabled or scheduled for deletion out of band revived (it still encrypts the
/// cluster's storage), rotation and policy repaired, and a key under the alias that is not this
/// database's refused.
async fn ensure_key(rc: &RegionCtx, spec: &DatabaseSpec) -> Result<String, AwsError> {
    let alias = spec.names.key_alias(rc.role);
    let account = caller_account(rc).await?;
    let key = KmsKeySpec {
        owner: spec.names.owner(),
        description: format!(
            "Encrypts Aurora global database {} and its master secret in {} (drpair)",
            spec.names.global_cluster(),
            rc.region
        ),
        tags: spec.tags(
            role_tag(rc),
            part::KMS_KEY,
            alias.trim_start_matches("alias/"),
        ),
        policy: Some(key_policy(&account, &rc.region)),
        alias,
    };
    Ok(kms::ensure_key(rc, &key, false).await?.arn)
}

fn rds_tags(tags: &Tags) -> Vec<aws_sdk_rds::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
        .collect()
}

pub(super) fn tags_for(
    spec: &DatabaseSpec,
    dr_role: &str,
    part: &str,
    name: &str,
) -> Vec<aws_sdk_rds::types::Tag> {
    rds_tags(&spec.tags(dr_role, part, name))
}

async fn ensure_subnet_group(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    observed: &RegionObserved,
) -> Result<(), AwsError> {
    let name = spec.names.subnet_group(rc.role);
    let wanted = &spec.region(rc.role).subnet_ids;
    let rds = rc.rds();
    match &observed.subnet_group {
        None => {
            rds.create_db_subnet_group()
                .db_subnet_group_name(&name)
                .db_subnet_group_description(format!(
                    "Subnets of {} (drpair)",
                    spec.names.cluster(rc.role)
                ))
                .set_subnet_ids(Some(wanted.clone()))
                .set_tags(Some(tags_for(
                    spec,
                    role_tag(rc),
                    part::SUBNET_GROUP,
                    &name,
                )))
                .send()
                .await
                .map_err(aws_error("creating", SUBNET_GROUP, &name, &rc.region))?;
            tracing::info!("created DB subnet group {name} in {}", rc.region);
        }
        Some(group) if !same_set(&group.subnet_ids, wanted) => {
            rds.modify_db_subnet_group()
                .db_subnet_group_name(&name)
                .set_subnet_ids(Some(wanted.clone()))
                .send()
                .await
                .map_err(aws_error("updating", SUBNET_GROUP, &name, &rc.region))?;
            tracing::info!(
                "updated the subnets of DB subnet group {name} in {}",
                rc.region
            );
        }
        Some(_) => {}
    }
    Ok(())
}

async fn ensure_parameter_group(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    observed: &RegionObserved,
) -> Result<(), AwsError> {
    let name = spec.names.parameter_group(rc.role);
    match &observed.parameter_group {
        Some(group) if group.force_ssl => return Ok(()),
        Some(_) => return force_ssl(rc, &name).await,
        None => {}
    }
    rc.rds()
        .create_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(&name)
        .db_parameter_group_family(PARAMETER_FAMILY)
        .description(format!(
            "Parameters of {} (drpair); the writer's group carries the managed RPO",
            spec.names.cluster(rc.role)
        ))
        .set_tags(Some(tags_for(
            spec,
            role_tag(rc),
            part::PARAMETER_GROUP,
            &name,
        )))
        .send()
        .await
        .map_err(aws_error("creating", PARAMETER_GROUP, &name, &rc.region))?;
    tracing::info!("created DB cluster parameter group {name} in {}", rc.region);
    force_ssl(rc, &name).await
}

/// Sets `rds.force_ssl = 1`: the cluster refuses connections without TLS. A dynamic parameter,
/// applied at once.
async fn force_ssl(rc: &RegionCtx, group: &str) -> Result<(), AwsError> {
    rc.rds()
        .modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(group)
        .parameters(
            Parameter::builder()
                .parameter_name(FORCE_SSL_PARAMETER)
                .parameter_value("1")
                .apply_method(ApplyMethod::Immediate)
                .build(),
        )
        .send()
        .await
        .map_err(aws_error(
            "forcing TLS in",
            PARAMETER_GROUP,
            group,
            &rc.region,
        ))?;
    tracing::info!("{group} in {}: {FORCE_SSL_PARAMETER} = 1", rc.region);
    Ok(())
}

async fn ensure_security_group(
    rc: &RegionCtx,
    spec: &DatabaseSpec,
    observed: &RegionObserved,
    placement: &Placement<'_>,
) -> Result<String, AwsError> {
    let name = spec.names.security_group(rc.role);
    let ec2 = rc.ec2();
    let (id, current) = match &observed.security_group {
        Some(sg) if sg.vpc_id != placement.vpc_id => {
            return Err(AwsError::api(
                "using",
                SECURITY_GROUP,
                &name,
                &rc.region,
                None,
                format!(
                    "the security group is in {} but the subnets are in {}; a database cannot move to another VPC in place",
                    sg.vpc_id, placement.vpc_id
                ),
            ));
        }
        Some(sg) => (sg.id.clone(), sg.ingress.clone()),
        None => {
            let out = ec2
                .create_security_group()
                .group_name(&name)
                .description(format!(
                    "PostgreSQL to {} from its client groups and the other region's database subnets (drpair)",
                    spec.names.cluster(rc.role)
                ))
                .vpc_id(placement.vpc_id)
                .tag_specifications(tag_specification(
                    ResourceType::SecurityGroup,
                    &spec.tags(role_tag(rc), part::SECURITY_GROUP, &name),
                ))
                .send()
                .await
                .map_err(aws_error("creating", SECURITY_GROUP, &name, &rc.region))?;
            let id = out.group_id().unwrap_or_default().to_owned();
            tracing::info!("created security group {id} ({name}) in {}", rc.region);
            (id, Vec::new())
        }
    };
    let wanted = wanted_ingress(
        &spec.region(rc.role).client_security_group_ids,
        placement.peer_cidrs,
    );
    let extra: Vec<&Ingress> = current.iter().filter(|r| !wanted.contains(r)).collect();
    let missing: Vec<&Ingress> = wanted.iter().filter(|r| !current.contains(r)).collect();
    if !extra.is_empty() {
        let out = ec2
            .revoke_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(extra.iter().map(|r| permission(r, None)).collect()))
            .send()
            .await
            .map_err(aws_error(
                "revoking unexpected rules of",
                SECURITY_GROUP,
                &id,
                &rc.region,
            ));
        match out {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidPermission.NotFound") => {}
            Err(e) => return Err(e),
        }
        for rule in &extra {
            tracing::info!("{name} in {}: revoked {rule}", rc.region);
        }
    }
    if !missing.is_empty() {
        let out = ec2
            .authorize_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(
                missing
                    .iter()
                    .map(|r| permission(r, Some("PostgreSQL (drpair)")))
                    .collect(),
            ))
            .send()
            .await
            .map_err(aws_error(
                "authorizing PostgreSQL into",
                SECURITY_GROUP,
                &id,
                &rc.region,
            ));
        match out {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidPermission.Duplicate") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(id)
}

/// The only rules of a database's security group: PostgreSQL from each client group and from
/// each of the other region's database subnets.
pub(super) fn wanted_ingress(client_groups: &[String], peer_cidrs: &[String]) -> Vec<Ingress> {
    let mut rules: Vec<Ingress> = client_groups
        .iter()
        .map(|g| Ingress::postgres(Source::Group(g.clone())))
        .chain(
            peer_cidrs
                .iter()
                .map(|c| Ingress::postgres(Source::Cidr(c.clone()))),
        )
        .collect();
    rules.sort();
    rules.dedup();
    rules
}

/// One rule as the EC2 API takes it; a revoke names the rule without a description (a rule is
/// its protocol, ports and source).
fn permission(rule: &Ingress, description: Option<&str>) -> IpPermission {
    let builder = IpPermission::builder()
        .ip_protocol(&rule.protocol)
        .from_port(rule.from_port)
        .to_port(rule.to_port);
    match &rule.source {
        Source::Cidr(c) => builder.ip_ranges(
            IpRange::builder()
                .cidr_ip(c)
                .set_description(description.map(str::to_owned))
                .build(),
        ),
        Source::Ipv6(c) => builder.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
        Source::Group(g) => builder.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(g)
                .set_description(description.map(str::to_owned))
                .build(),
        ),
        Source::PrefixList(p) => {
            builder.prefix_list_ids(PrefixListId::builder().prefix_list_id(p).build())
        }
    }
    .build()
}

/// Deletes a region's subnet group, parameter group and security group. Idempotent; the
/// security group is retried while AWS still holds network interfaces of deleted instances.
pub(super) async fn delete_foundation(
    rc: &RegionCtx,
    names: &super::Names,
    observed: &RegionObserved,
    deadline: crate::aws::Deadline,
) -> Result<(), AwsError> {
    let rds = rc.rds();
    let subnet_group = names.subnet_group(rc.role);
    if observed.subnet_group.is_some() {
        let out = rds
            .delete_db_subnet_group()
            .db_subnet_group_name(&subnet_group)
            .send()
            .await
            .map_err(aws_error(
                "deleting",
                SUBNET_GROUP,
                &subnet_group,
                &rc.region,
            ));
        ok_if_not_found(out)?;
    }
    let parameter_group = names.parameter_group(rc.role);
    if observed.parameter_group.is_some() {
        let out = rds
            .delete_db_cluster_parameter_group()
            .db_cluster_parameter_group_name(&parameter_group)
            .send()
            .await
            .map_err(aws_error(
                "deleting",
                PARAMETER_GROUP,
                &parameter_group,
                &rc.region,
            ));
        ok_if_not_found(out)?;
    }
    if let Some(sg) = &observed.security_group {
        let ec2 = rc.ec2();
        crate::aws::wait_for(deadline, SECURITY_GROUP, &sg.id, &rc.region, || async {
            let out = ec2
                .delete_security_group()
                .group_id(&sg.id)
                .send()
                .await
                .map_err(aws_error("deleting", SECURITY_GROUP, &sg.id, &rc.region));
            match ok_if_not_found(out) {
                Ok(_) => Ok(crate::aws::Poll::Ready(())),
                Err(e) if e.is_dependency_violation() => {
                    Ok(crate::aws::Poll::Pending("in use".into()))
                }
                Err(e) => Err(e),
            }
        })
        .await?;
    }
    tracing::info!(
        "deleted the subnet, parameter and security groups in {}",
        rc.region
    );
    Ok(())
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&String> = a.iter().collect();
    let mut b: Vec<&String> = b.iter().collect();
    a.sort();
    a.dedup();
    b.sort();
    b.dedup();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_sets() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(same_set(&s(&["a", "b"]), &s(&["b", "a"])));
        assert!(!same_set(&s(&["a", "b"]), &s(&["a", "c"])));
        assert!(!same_set(&s(&["a"]), &s(&["a", "b"])));
    }
}
