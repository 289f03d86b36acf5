//! Finders: one object by its deterministic name, "not found" mapped to `None` at this level,
//! and conversions from the SDK's types to the small `*Info` structs the rest works with.

use std::collections::BTreeSet;
use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_ec2::types::{Filter, IpPermission, SecurityGroup};
use aws_sdk_rds::types::{DbCluster, DbInstance, GlobalCluster};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::aws::error::{ok_if_not_found, AwsError};
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::RegionCtx;

use super::{
    ClusterInfo, GlobalInfo, GlobalMember, Ingress, InstanceInfo, KeyInfo, ParameterGroupInfo,
    SecurityGroupInfo, Source, SubnetGroupInfo, FORCE_SSL_PARAMETER, RPO_PARAMETER,
};

pub(super) const KMS_KEY: &str = "KMS key";
pub(super) const SECRET: &str = "secret";
pub(super) const SUBNET_GROUP: &str = "DB subnet group";
pub(super) const PARAMETER_GROUP: &str = "DB cluster parameter group";
pub(super) const SECURITY_GROUP: &str = "security group";
pub(super) const GLOBAL_CLUSTER: &str = "Aurora global cluster";
pub(super) const CLUSTER: &str = "Aurora cluster";
pub(super) const INSTANCE: &str = "Aurora instance";
pub(super) const SUBNETS: &str = "subnets";

/// Like [`crate::aws::error::api_error`], with not-found answers (RDS's
/// `DBClusterNotFoundFault`, `GlobalClusterNotFoundFault`, …) mapped to `NotFound`.
pub(super) fn aws_error<'a, E, R>(
    verb: &'a str,
    what: &'a str,
    id: &'a str,
    region: &'a str,
) -> impl FnOnce(SdkError<E, R>) -> AwsError + 'a
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug,
{
    move |err| AwsError::from_sdk(verb, what, id, region, err).classify_not_found()
}

pub(super) fn tags_of(list: &[aws_sdk_rds::types::Tag]) -> Tags {
    list.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The key under `alias` (or a key id), with its tags, rotation and policy.
pub(super) async fn find_key(rc: &RegionCtx, alias: &str) -> Result<Option<KeyInfo>, AwsError> {
    crate::aws::kms::find_key(rc, alias).await
}

/// Customer keys tagged with this owner and part that no alias points to: what a create
/// interrupted between CreateKey and CreateAlias leaves. Costs a call per key of the account,
/// so it only runs when the alias is missing.
pub(super) async fn find_unaliased_keys(
    rc: &RegionCtx,
    owner: &str,
    part: &str,
) -> Result<Vec<KeyInfo>, AwsError> {
    let kms = rc.kms();
    let mut found = Vec::new();
    let mut marker = None;
    loop {
        let page = kms
            .list_keys()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(aws_error("listing", KMS_KEY, owner, &rc.region))?;
        for key in page.keys() {
            let Some(id) = key.key_id() else { continue };
            // Keys this caller may not read (another account's, or gone meanwhile) are not ours.
            let info = match find_key(rc, id).await {
                Ok(Some(info)) => info,
                Ok(None) => continue,
                Err(e) if e.code() == Some("AccessDeniedException") => continue,
                Err(e) => return Err(e),
            };
            if info.state == "PendingDeletion" {
                continue;
            }
            let has = |k: &str, v: &str| info.tags.get(k).map(String::as_str) == Some(v);
            if has(OWNER_TAG, owner) && has(crate::aws::tags::PART_TAG, part) {
                found.push(info);
            }
        }
        match page.next_marker() {
            Some(m) if page.truncated() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(found)
}

pub(super) async fn find_subnet_group(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<SubnetGroupInfo>, AwsError> {
    let out = rc
        .rds()
        .describe_db_subnet_groups()
        .db_subnet_group_name(name)
        .send()
        .await
        .map_err(aws_error("reading", SUBNET_GROUP, name, &rc.region));
    Ok(ok_if_not_found(out)?.and_then(|o| {
        let g = o.db_subnet_groups().first()?;
        Some(SubnetGroupInfo {
            arn: g.db_subnet_group_arn().unwrap_or_default().to_owned(),
            vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
            subnet_ids: g
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_identifier().map(str::to_owned))
                .collect(),
        })
    }))
}

pub(super) async fn find_parameter_group(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<ParameterGroupInfo>, AwsError> {
    let rds = rc.rds();
    let out = rds
        .describe_db_cluster_parameter_groups()
        .db_cluster_parameter_group_name(name)
        .send()
        .await
        .map_err(aws_error("reading", PARAMETER_GROUP, name, &rc.region));
    let Some(group) =
        ok_if_not_found(out)?.and_then(|o| o.db_cluster_parameter_groups().first().cloned())
    else {
        return Ok(None);
    };
    let mut rpo_seconds = None;
    let mut force_ssl = false;
    let mut marker = None;
    loop {
        let page = rds
            .describe_db_cluster_parameters()
            .db_cluster_parameter_group_name(name)
            .source("user")
            .set_marker(marker.take())
            .send()
            .await
            .map_err(aws_error(
                "reading parameters of",
                PARAMETER_GROUP,
                name,
                &rc.region,
            ));
        let Some(page) = ok_if_not_found(page)? else {
            return Ok(None);
        };
        for p in page.parameters() {
            if p.parameter_name() == Some(RPO_PARAMETER) {
                rpo_seconds = p.parameter_value().and_then(|v| v.trim().parse().ok());
            }
            if p.parameter_name() == Some(FORCE_SSL_PARAMETER) {
                force_ssl = p.parameter_value().map(str::trim) == Some("1");
            }
        }
        match page.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(Some(ParameterGroupInfo {
        arn: group
            .db_cluster_parameter_group_arn()
            .unwrap_or_default()
            .to_owned(),
        rpo_seconds,
        force_ssl,
    }))
}

/// The security group with this name that this database owns.
pub(super) async fn find_security_group(
    rc: &RegionCtx,
    name: &str,
    owner: &str,
) -> Result<Option<SecurityGroupInfo>, AwsError> {
    let out = rc
        .ec2()
        .describe_security_groups()
        .filters(Filter::builder().name("group-name").values(name).build())
        .filters(
            Filter::builder()
                .name(format!("tag:{OWNER_TAG}"))
                .values(owner)
                .build(),
        )
        .send()
        .await
        .map_err(aws_error("reading", SECURITY_GROUP, name, &rc.region))?;
    Ok(out.security_groups().first().map(security_group_info))
}

fn security_group_info(sg: &SecurityGroup) -> SecurityGroupInfo {
    SecurityGroupInfo {
        id: sg.group_id().unwrap_or_default().to_owned(),
        vpc_id: sg.vpc_id().unwrap_or_default().to_owned(),
        ingress: ingress_rules(sg.ip_permissions()),
    }
}

/// A group's ingress permissions, one [`Ingress`] per source, sorted.
pub(super) fn ingress_rules(permissions: &[IpPermission]) -> Vec<Ingress> {
    let mut rules = Vec::new();
    for p in permissions {
        let rule = |source| Ingress {
            protocol: p.ip_protocol().unwrap_or("-1").to_owned(),
            from_port: p.from_port().unwrap_or(-1),
            to_port: p.to_port().unwrap_or(-1),
            source,
        };
        rules.extend(
            p.ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip())
                .map(|c| rule(Source::Cidr(c.to_owned()))),
        );
        rules.extend(
            p.ipv6_ranges()
                .iter()
                .filter_map(|r| r.cidr_ipv6())
                .map(|c| rule(Source::Ipv6(c.to_owned()))),
        );
        rules.extend(
            p.user_id_group_pairs()
                .iter()
                .filter_map(|g| g.group_id())
                .map(|g| rule(Source::Group(g.to_owned()))),
        );
        rules.extend(
            p.prefix_list_ids()
                .iter()
                .filter_map(|l| l.prefix_list_id())
                .map(|l| rule(Source::PrefixList(l.to_owned()))),
        );
    }
    rules.sort();
    rules.dedup();
    rules
}

/// The CIDR blocks of these subnets (those that exist), sorted. One call: a `subnet-id` filter
/// ignores unknown ids where the SubnetIds parameter would fail the whole call.
pub(super) async fn find_subnet_cidrs(
    rc: &RegionCtx,
    subnet_ids: &[String],
) -> Result<Vec<String>, AwsError> {
    if subnet_ids.is_empty() {
        return Ok(Vec::new());
    }
    let out = rc
        .ec2()
        .describe_subnets()
        .filters(
            Filter::builder()
                .name("subnet-id")
                .set_values(Some(subnet_ids.to_vec()))
                .build(),
        )
        .send()
        .await
        .map_err(aws_error(
            "reading",
            SUBNETS,
            &subnet_ids.join(","),
            &rc.region,
        ))?;
    let cidrs: BTreeSet<String> = out
        .subnets()
        .iter()
        .filter_map(|s| s.cidr_block().map(str::to_owned))
        .collect();
    Ok(cidrs.into_iter().collect())
}

/// Where a region's subnets are: their VPCs and availability zones, and the ids that do not
/// exist. Used at plan time and before creating anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubnetsLayout {
    pub vpc_ids: Vec<String>,
    pub availability_zones: Vec<String>,
    pub missing: Vec<String>,
}

pub async fn subnets_layout(
    rc: &RegionCtx,
    subnet_ids: &[String],
) -> Result<SubnetsLayout, AwsError> {
    let ec2 = rc.ec2();
    let mut layout = SubnetsLayout::default();
    let mut vpcs = BTreeSet::new();
    let mut zones = BTreeSet::new();
    // One describe per id: a batch fails as a whole when one id is unknown.
    for id in subnet_ids {
        let out = ec2
            .describe_subnets()
            .subnet_ids(id)
            .send()
            .await
            .map_err(aws_error("reading", "subnet", id, &rc.region));
        match ok_if_not_found(out)?.and_then(|o| o.subnets().first().cloned()) {
            Some(s) => {
                vpcs.extend(s.vpc_id().map(str::to_owned));
                zones.extend(s.availability_zone().map(str::to_owned));
            }
            None => layout.missing.push(id.clone()),
        }
    }
    layout.vpc_ids = vpcs.into_iter().collect();
    layout.availability_zones = zones.into_iter().collect();
    Ok(layout)
}

/// Finds the global cluster by identifier. Filters the answer too: some implementations
/// return every global cluster for an identifier they do not know.
pub(super) async fn find_global_cluster(
    rc: &RegionCtx,
    id: &str,
) -> Result<Option<GlobalInfo>, AwsError> {
    let out = rc
        .rds()
        .describe_global_clusters()
        .global_cluster_identifier(id)
        .send()
        .await
        .map_err(aws_error("reading", GLOBAL_CLUSTER, id, &rc.region));
    Ok(ok_if_not_found(out)?.and_then(|o| {
        o.global_clusters()
            .iter()
            .find(|g| g.global_cluster_identifier() == Some(id))
            .map(global_info)
    }))
}

fn global_info(g: &GlobalCluster) -> GlobalInfo {
    GlobalInfo {
        id: g.global_cluster_identifier().unwrap_or_default().to_owned(),
        arn: g.global_cluster_arn().unwrap_or_default().to_owned(),
        status: g.status().unwrap_or_default().to_owned(),
        engine_version: g.engine_version().unwrap_or_default().to_owned(),
        database_name: g.database_name().map(str::to_owned),
        deletion_protection: g.deletion_protection().unwrap_or(false),
        storage_encrypted: g.storage_encrypted().unwrap_or(false),
        endpoint: g.endpoint().filter(|e| !e.is_empty()).map(str::to_owned),
        members: g
            .global_cluster_members()
            .iter()
            .map(|m| GlobalMember {
                cluster_arn: m.db_cluster_arn().unwrap_or_default().to_owned(),
                is_writer: m.is_writer().unwrap_or(false),
                synchronization_status: m.synchronization_status().map(|s| s.as_str().to_owned()),
            })
            .collect(),
    }
}

pub(super) async fn find_cluster(
    rc: &RegionCtx,
    id: &str,
) -> Result<Option<ClusterInfo>, AwsError> {
    let out = rc
        .rds()
        .describe_db_clusters()
        .db_cluster_identifier(id)
        .send()
        .await
        .map_err(aws_error("reading", CLUSTER, id, &rc.region));
    Ok(ok_if_not_found(out)?.and_then(|o| {
        o.db_clusters()
            .iter()
            .find(|c| c.db_cluster_identifier() == Some(id))
            .map(cluster_info)
    }))
}

fn cluster_info(c: &DbCluster) -> ClusterInfo {
    let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
    ClusterInfo {
        id: text(c.db_cluster_identifier()),
        arn: text(c.db_cluster_arn()),
        status: text(c.status()),
        endpoint: text(c.endpoint()),
        reader_endpoint: text(c.reader_endpoint()),
        global_cluster_id: c
            .global_cluster_identifier()
            .filter(|g| !g.is_empty())
            .map(str::to_owned),
        storage_encrypted: c.storage_encrypted().unwrap_or(false),
        kms_key_id: text(c.kms_key_id()),
        deletion_protection: c.deletion_protection().unwrap_or(false),
        engine_version: text(c.engine_version()),
        pending_engine_version: c
            .pending_modified_values()
            .and_then(|p| p.engine_version())
            .map(str::to_owned),
        pending_master_password: c
            .pending_modified_values()
            .is_some_and(|p| p.master_user_password().is_some()),
        database_name: c.database_name().map(str::to_owned),
        master_username: c.master_username().map(str::to_owned),
        parameter_group: text(c.db_cluster_parameter_group()),
        subnet_group: text(c.db_subnet_group()),
        security_group_ids: c
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
            .collect(),
        writer_instances: c
            .db_cluster_members()
            .iter()
            .filter(|m| m.is_cluster_writer().unwrap_or(false))
            .filter_map(|m| m.db_instance_identifier().map(str::to_owned))
            .collect(),
        tags: tags_of(c.tag_list()),
    }
}

/// Every instance of a cluster, deleting ones included.
pub(super) async fn find_instances(
    rc: &RegionCtx,
    cluster_id: &str,
) -> Result<Vec<DbInstance>, AwsError> {
    let rds = rc.rds();
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let page = rds
            .describe_db_instances()
            .filters(
                aws_sdk_rds::types::Filter::builder()
                    .name("db-cluster-id")
                    .values(cluster_id)
                    .build(),
            )
            .set_marker(marker.take())
            .send()
            .await
            .map_err(aws_error(
                "listing instances of",
                CLUSTER,
                cluster_id,
                &rc.region,
            ))?;
        all.extend(
            page.db_instances()
                .iter()
                .filter(|i| i.db_cluster_identifier() == Some(cluster_id))
                .cloned(),
        );
        match page.marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(all)
}

pub(super) async fn find_instance(
    rc: &RegionCtx,
    id: &str,
) -> Result<Option<DbInstance>, AwsError> {
    let out = rc
        .rds()
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(aws_error("reading", INSTANCE, id, &rc.region));
    Ok(ok_if_not_found(out)?.and_then(|o| o.db_instances().first().cloned()))
}

pub(super) fn instance_info(i: &DbInstance, number: Option<u32>) -> InstanceInfo {
    InstanceInfo {
        id: i.db_instance_identifier().unwrap_or_default().to_owned(),
        arn: i.db_instance_arn().unwrap_or_default().to_owned(),
        class: i.db_instance_class().unwrap_or_default().to_owned(),
        status: i.db_instance_status().unwrap_or_default().to_owned(),
        number,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::types::IpRange;

    fn rule(proto: &str, from: i32, to: i32, cidr: &str) -> IpPermission {
        IpPermission::builder()
            .ip_protocol(proto)
            .from_port(from)
            .to_port(to)
            .ip_ranges(IpRange::builder().cidr_ip(cidr).build())
            .build()
    }

    #[test]
    fn ingress_rules_one_source_each() {
        let mut with_group = rule("tcp", 5432, 5432, "10.10.1.0/24");
        with_group.user_id_group_pairs = Some(vec![aws_sdk_ec2::types::UserIdGroupPair::builder()
            .group_id("sg-app")
            .build()]);
        let rules = ingress_rules(&[
            with_group,
            rule("-1", 0, 0, "0.0.0.0/0"),
            rule("tcp", 22, 22, "0.0.0.0/0"),
        ]);
        let shown: Vec<String> = rules.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "all traffic from 0.0.0.0/0",
                "tcp 22 from 0.0.0.0/0",
                "PostgreSQL from 10.10.1.0/24",
                "PostgreSQL from security group sg-app",
            ]
        );
        let info = SecurityGroupInfo {
            ingress: rules,
            ..SecurityGroupInfo::default()
        };
        assert_eq!(info.client_groups(), vec!["sg-app"]);
    }
}
