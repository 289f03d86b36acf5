//! The two security groups of a region: the load balancer's (80 and 443 from anywhere) and the
//! instances' (`app_port` from the load balancer's group only). Found by owner and part tags.
//!
//! Those are the only ingress rules the groups may have: any other (port 22 from anywhere on the
//! instances, another port on the load balancer, an IPv6 range, a prefix list) is drift and
//! revoked by the next apply. Egress is left as EC2 creates it (all traffic out): drpair does
//! not manage it.

use std::fmt;

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, Ipv6Range, PrefixListId, ResourceType, SecurityGroup, Tag,
    UserIdGroupPair,
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

/// Where an ingress rule lets traffic in from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Source {
    Cidr(String),
    Ipv6(String),
    Group(String),
    PrefixList(String),
}

/// One ingress rule: a protocol, a port range and one source (an `IpPermission` of EC2 holds
/// several; it is split so that each source is kept or revoked on its own).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Rule {
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: Source,
}

impl Rule {
    fn tcp(port: i32, source: Source) -> Rule {
        Rule {
            protocol: "tcp".into(),
            from_port: Some(port),
            to_port: Some(port),
            source,
        }
    }

    /// The rule as RevokeSecurityGroupIngress takes it: protocol, ports and source, without the
    /// description ("If the security group rule has a description, you do not need to specify
    /// the description to revoke the rule").
    fn permission(&self) -> IpPermission {
        let builder = IpPermission::builder()
            .ip_protocol(&self.protocol)
            .set_from_port(self.from_port)
            .set_to_port(self.to_port);
        match &self.source {
            Source::Cidr(c) => builder.ip_ranges(IpRange::builder().cidr_ip(c).build()),
            Source::Ipv6(c) => builder.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(c).build()),
            Source::Group(g) => {
                builder.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build())
            }
            Source::PrefixList(p) => {
                builder.prefix_list_ids(PrefixListId::builder().prefix_list_id(p).build())
            }
        }
        .build()
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.protocol.as_str(), self.from_port, self.to_port) {
            ("-1", _, _) => write!(f, "all traffic")?,
            (p, Some(a), Some(b)) if a == b => write!(f, "{p} port {a}")?,
            (p, Some(a), Some(b)) => write!(f, "{p} ports {a}-{b}")?,
            (p, _, _) => write!(f, "protocol {p}")?,
        }
        match &self.source {
            Source::Cidr(c) | Source::Ipv6(c) => write!(f, " from {c}"),
            Source::Group(g) => write!(f, " from security group {g}"),
            Source::PrefixList(p) => write!(f, " from prefix list {p}"),
        }
    }
}

/// The group's ingress rules, one per source.
pub(super) fn ingress_rules(sg: &SecurityGroup) -> Vec<Rule> {
    let mut rules = Vec::new();
    for p in sg.ip_permissions() {
        let rule = |source| Rule {
            protocol: p.ip_protocol().unwrap_or("-1").to_owned(),
            from_port: p.from_port(),
            to_port: p.to_port(),
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
    rules
}

/// The load balancer group's rules: HTTP and HTTPS from anywhere.
fn wanted_alb_rules() -> [Rule; 2] {
    [80, 443].map(|port| Rule::tcp(port, Source::Cidr(ANYWHERE.into())))
}

/// The instance group's rule: `app_port` from the load balancer's group.
fn wanted_app_rules(alb_group_id: &str, app_port: i32) -> [Rule; 1] {
    [Rule::tcp(app_port, Source::Group(alb_group_id.into()))]
}

/// The group's ingress rules that are not in `wanted`.
fn unexpected(sg: &SecurityGroup, wanted: &[Rule]) -> Vec<Rule> {
    let mut extra: Vec<Rule> = ingress_rules(sg)
        .into_iter()
        .filter(|r| !wanted.contains(r))
        .collect();
    extra.sort();
    extra.dedup();
    extra
}

/// The ingress rules drpair did not put on the region's groups, in words, for drift.
pub(super) fn unexpected_rules(
    alb: Option<&SecurityGroup>,
    app: Option<&SecurityGroup>,
    app_port: i32,
) -> Vec<String> {
    let mut drift = Vec::new();
    if let Some(alb) = alb {
        drift.extend(
            unexpected(alb, &wanted_alb_rules())
                .iter()
                .map(|r| format!("load balancer security group allows unexpected {r}")),
        );
    }
    // Without the load balancer's group the instance group's rule is not known; its absence
    // is reported on its own.
    if let (Some(alb), Some(app)) = (alb, app) {
        let wanted = wanted_app_rules(alb.group_id().unwrap_or_default(), app_port);
        drift.extend(
            unexpected(app, &wanted)
                .iter()
                .map(|r| format!("instance security group allows unexpected {r}")),
        );
    }
    drift
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
    if let Some(group) = existing(&alb) {
        revoke(rc, &ec2, &alb, unexpected(group, &wanted_alb_rules())).await?;
    }
    if let Some(group) = existing(&app) {
        revoke(
            rc,
            &ec2,
            &app,
            unexpected(group, &wanted_app_rules(&alb, spec.app_port)),
        )
        .await?;
    }

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

/// Revokes rules drpair did not put there; a rule already gone is fine.
async fn revoke(
    rc: &RegionCtx,
    ec2: &Client,
    group_id: &str,
    rules: Vec<Rule>,
) -> Result<(), AwsError> {
    if rules.is_empty() {
        return Ok(());
    }
    let result = ec2
        .revoke_security_group_ingress()
        .group_id(group_id)
        .set_ip_permissions(Some(rules.iter().map(Rule::permission).collect()))
        .send()
        .await
        .map_err(api_error(
            "revoking unexpected ingress of",
            GROUP,
            group_id,
            &rc.region,
        ));
    match result {
        Ok(_) => {}
        Err(e) if e.code() == Some("InvalidPermission.NotFound") => {}
        Err(e) => return Err(e),
    }
    for rule in &rules {
        tracing::info!(
            "security group {group_id} in {}: revoked unexpected {rule}",
            rc.region
        );
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: &str, permissions: Vec<IpPermission>) -> SecurityGroup {
        SecurityGroup::builder()
            .group_id(id)
            .set_ip_permissions(Some(permissions))
            .build()
    }

    fn tcp_from(port: i32, cidr: &str, description: &str) -> IpPermission {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip(cidr)
                    .description(description)
                    .build(),
            )
            .build()
    }

    #[test]
    fn only_drpairs_rules_are_expected() {
        let alb = group(
            "sg-alb",
            vec![
                tcp_from(80, ANYWHERE, "HTTP"),
                tcp_from(443, ANYWHERE, "HTTPS"),
            ],
        );
        let from_alb = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(8080)
            .to_port(8080)
            .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-alb").build())
            .build();
        let app = group("sg-app", vec![from_alb.clone()]);
        assert!(unexpected_rules(Some(&alb), Some(&app), 8080).is_empty());
        assert!(missing_rules(Some(&alb), Some(&app), 8080).is_empty());

        let alb = group(
            "sg-alb",
            vec![
                tcp_from(80, ANYWHERE, "HTTP"),
                tcp_from(443, ANYWHERE, "HTTPS"),
                tcp_from(8443, ANYWHERE, ""),
                IpPermission::builder()
                    .ip_protocol("tcp")
                    .from_port(443)
                    .to_port(443)
                    .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                    .build(),
            ],
        );
        let app = group(
            "sg-app",
            vec![
                from_alb,
                tcp_from(22, ANYWHERE, "ssh"),
                IpPermission::builder().ip_protocol("-1").build(),
            ],
        );
        // Without a source an "all traffic" permission names nobody: nothing to report.
        assert_eq!(
            unexpected_rules(Some(&alb), Some(&app), 8080),
            vec![
                "load balancer security group allows unexpected tcp port 443 from ::/0",
                "load balancer security group allows unexpected tcp port 8443 from 0.0.0.0/0",
                "instance security group allows unexpected tcp port 22 from 0.0.0.0/0",
            ]
        );
        // A changed app port leaves the old rule unexpected.
        assert_eq!(
            unexpected_rules(None, Some(&app), 9090),
            Vec::<String>::new()
        );
        let moved = unexpected(&group("sg-app", vec![tcp_from(22, "10.0.0.0/8", "")]), &[]);
        assert_eq!(moved[0].to_string(), "tcp port 22 from 10.0.0.0/8");
        let revoke = moved[0].permission();
        assert_eq!(revoke.ip_ranges()[0].description(), None);
    }
}
