//! The two security groups of a region: the load balancer's (80 and 443 from anywhere) and the
//! instances' (`app_port` from the load balancer's group only). Found by owner and part tags.

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, ResourceType, SecurityGroup, Tag, UserIdGroupPair,
};
use aws_sdk_ec2::Client;

use crate::aws::error::api_error;
use crate::aws::tags::PART_TAG;
use crate::aws::tags::{from_ec2_tags, tag_specification, tag_value, to_ec2_tags, OWNER_TAG};
use crate::aws::waiter::{wait_for, Poll};
use crate::aws::{AwsError, Deadline, RegionCtx};

use super::{part, tag_changes, TierSpec};

const GROUP: &str = "security group";
const ANYWHERE: &str = "0.0.0.0/0";

/// Every security group the tier owns in the region (in any VPC).
pub(super) async fn find_owned(
    rc: &RegionCtx,
    owner: &str,
) -> Result<Vec<SecurityGroup>, AwsError> {
    let out = rc
        .ec2()
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name(format!("tag:{OWNER_TAG}"))
                .values(owner)
                .build(),
        )
        .send()
        .await
        .map_err(api_error("listing", "security groups", owner, &rc.region))?;
    Ok(out.security_groups.unwrap_or_default())
}

pub(super) fn group_part(sg: &SecurityGroup) -> Option<&str> {
    tag_value(sg.tags(), PART_TAG)
}

/// The group with this part tag in this VPC.
pub(super) fn by_part<'a>(
    groups: &'a [SecurityGroup],
    vpc_id: &str,
    part: &str,
) -> Option<&'a SecurityGroup> {
    groups
        .iter()
        .find(|g| group_part(g) == Some(part) && g.vpc_id() == Some(vpc_id))
}

fn allows_tcp_from_anywhere(sg: &SecurityGroup, port: i32) -> bool {
    sg.ip_permissions().iter().any(|p| {
        p.ip_protocol() == Some("tcp")
            && p.from_port() == Some(port)
            && p.to_port() == Some(port)
            && p.ip_ranges().iter().any(|r| r.cidr_ip() == Some(ANYWHERE))
    })
}

fn allows_tcp_from_group(sg: &SecurityGroup, port: i32, source: &str) -> bool {
    sg.ip_permissions().iter().any(|p| {
        p.ip_protocol() == Some("tcp")
            && p.from_port() == Some(port)
            && p.to_port() == Some(port)
            && p.user_id_group_pairs()
                .iter()
                .any(|g| g.group_id() == Some(source))
    })
}

/// The ingress rules a region is missing, in words, for drift.
pub(super) fn missing_rules(
    alb: Option<&SecurityGroup>,
    app: Option<&SecurityGroup>,
    app_port: i32,
) -> Vec<String> {
    let mut missing = Vec::new();
    if let Some(alb) = alb {
        for port in [80, 443] {
            if !allows_tcp_from_anywhere(alb, port) {
                missing.push(format!(
                    "load balancer security group does not allow port {port} from anywhere"
                ));
            }
        }
    }
    if let (Some(alb), Some(app)) = (alb, app) {
        let source = alb.group_id().unwrap_or_default();
        if !allows_tcp_from_group(app, app_port, source) {
            missing.push(format!(
                "instance security group does not allow port {app_port} from the load balancer"
            ));
        }
    }
    missing
}

/// Both groups exist with their rules and tags; returns (load balancer group, instance group).
pub(super) async fn ensure(
    rc: &RegionCtx,
    spec: &TierSpec,
    owned: &[SecurityGroup],
) -> Result<(String, String), AwsError> {
    let ec2 = rc.ec2();
    let vpc_id = &spec.region(rc.role).vpc_id;
    let alb = ensure_group(
        rc,
        &ec2,
        spec,
        owned,
        vpc_id,
        part::ALB_SECURITY_GROUP,
        "Load balancer of",
    )
    .await?;
    let app = ensure_group(
        rc,
        &ec2,
        spec,
        owned,
        vpc_id,
        part::INSTANCE_SECURITY_GROUP,
        "Instances of",
    )
    .await?;
    let existing = |id: &str| owned.iter().find(|g| g.group_id() == Some(id));

    let alb_rules: Vec<IpPermission> = [80, 443]
        .into_iter()
        .filter(|port| !existing(&alb).is_some_and(|g| allows_tcp_from_anywhere(g, *port)))
        .map(|port| {
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .ip_ranges(
                    IpRange::builder()
                        .cidr_ip(ANYWHERE)
                        .description(if port == 80 { "HTTP" } else { "HTTPS" })
                        .build(),
                )
                .build()
        })
        .collect();
    authorize(rc, &ec2, &alb, alb_rules).await?;

    if !existing(&app).is_some_and(|g| allows_tcp_from_group(g, spec.app_port, &alb)) {
        let rule = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(spec.app_port)
            .to_port(spec.app_port)
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(&alb)
                    .description("From the load balancer")
                    .build(),
            )
            .build();
        authorize(rc, &ec2, &app, vec![rule]).await?;
    }
    Ok((alb, app))
}

async fn ensure_group(
    rc: &RegionCtx,
    ec2: &Client,
    spec: &TierSpec,
    owned: &[SecurityGroup],
    vpc_id: &str,
    part: &str,
    purpose: &str,
) -> Result<String, AwsError> {
    let tags = spec.tags(rc.role, part);
    if let Some(sg) = by_part(owned, vpc_id, part) {
        let id = sg.group_id().unwrap_or_default().to_owned();
        let (set, remove) = tag_changes(&from_ec2_tags(sg.tags()), &tags);
        if !set.is_empty() {
            ec2.create_tags()
                .resources(&id)
                .set_tags(Some(to_ec2_tags(&set)))
                .send()
                .await
                .map_err(api_error("tagging", GROUP, &id, &rc.region))?;
        }
        if !remove.is_empty() {
            ec2.delete_tags()
                .resources(&id)
                .set_tags(Some(
                    remove
                        .iter()
                        .map(|k| Tag::builder().key(k).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(api_error("untagging", GROUP, &id, &rc.region))?;
        }
        return Ok(id);
    }
    let name = spec.name_of(part);
    let out = ec2
        .create_security_group()
        .group_name(&name)
        .description(format!("{purpose} {}", spec.owner()))
        .vpc_id(vpc_id)
        .tag_specifications(tag_specification(ResourceType::SecurityGroup, &tags))
        .send()
        .await
        .map_err(api_error("creating", GROUP, &name, &rc.region))?;
    let id = out.group_id.unwrap_or_default();
    tracing::info!("created security group {name} ({id}) in {}", rc.region);
    Ok(id)
}

async fn authorize(
    rc: &RegionCtx,
    ec2: &Client,
    group_id: &str,
    rules: Vec<IpPermission>,
) -> Result<(), AwsError> {
    if rules.is_empty() {
        return Ok(());
    }
    let result = ec2
        .authorize_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(rules))
        .send()
        .await
        .map_err(api_error(
            "authorizing ingress to",
            GROUP,
            group_id,
            &rc.region,
        ));
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("InvalidPermission.Duplicate") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes the instance group, then the load balancer's (the instance group's rule refers to
/// it), retrying while network interfaces of deleted instances and load balancers are released.
pub(super) async fn destroy(
    rc: &RegionCtx,
    owner: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let groups = find_owned(rc, owner).await?;
    let mut ordered: Vec<&SecurityGroup> = groups.iter().collect();
    ordered.sort_by_key(|g| group_part(g) != Some(part::INSTANCE_SECURITY_GROUP));
    let ec2 = rc.ec2();
    for sg in ordered {
        let id = sg.group_id().unwrap_or_default();
        wait_for(deadline, GROUP, id, &rc.region, || async {
            let result = ec2
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .map_err(api_error("deleting", GROUP, id, &rc.region));
            match result {
                Ok(_) => Ok(Poll::Ready(())),
                Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                Err(e) if e.is_dependency_violation() => {
                    Ok(Poll::Pending("still in use by network interfaces".into()))
                }
                Err(e) => Err(e),
            }
        })
        .await?;
        tracing::info!("deleted security group {id} in {}", rc.region);
    }
    Ok(())
}
