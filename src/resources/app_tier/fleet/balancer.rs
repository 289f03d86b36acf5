//! The region's Application Load Balancer (`{id}`, internet-facing, across the public subnets),
//! its target group (`{id}`, HTTP on `app_port` with the health check path) and its listeners:
//! HTTP on 80 forwarding to the target group, or, with a certificate, HTTPS on 443 forwarding
//! and HTTP on 80 redirecting to HTTPS.

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, Listener, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum, Matcher, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum, Tag, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;

use crate::aws::error::api_error;
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::waiter::{wait_for, Poll};
use crate::aws::{AwsError, Deadline, RegionCtx};

use super::{
    part, tag_changes, HealthCheckTiming, ObservedBalancer, ObservedListener, ObservedTargetGroup,
    TierSpec,
};

const BALANCER: &str = "load balancer";
const TARGET_GROUP: &str = "target group";
const LISTENER: &str = "listener";
/// The security policy of the HTTPS listener: TLS 1.3 and 1.2 only, the policy AWS recommends
/// ("Security policies for your Application Load Balancer",
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html).
/// Always sent: a listener created without one through the API gets ELBSecurityPolicy-2016-08,
/// which still accepts TLS 1.0 and 1.1 ("Create an HTTPS listener for your Application Load
/// Balancer", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/create-https-listener.html;
/// terraform-provider-aws's `aws_lb_listener` requires `ssl_policy` for HTTPS for the same
/// reason, website/docs/r/lb_listener.html.markdown). A listener changed to another policy
/// outside Terraform is drift and set back.
pub(super) const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
const HEALTHY_CODES: &str = "200-399";
/// Requests with header names that are not valid HTTP tokens are dropped by the load balancer
/// instead of reaching the application (request smuggling, header injection).
pub(super) const DROP_INVALID_HEADERS: &str = "routing.http.drop_invalid_header_fields.enabled";
/// The load balancer cannot be deleted while this is true (DeleteLoadBalancer is refused).
pub(super) const DELETION_PROTECTION: &str = "deletion_protection.enabled";

/// Access logs to S3 ("Enable access logs for your Application Load Balancer",
/// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html).
pub(super) const ACCESS_LOGS_ENABLED: &str = "access_logs.s3.enabled";
pub(super) const ACCESS_LOGS_BUCKET: &str = "access_logs.s3.bucket";
pub(super) const ACCESS_LOGS_PREFIX: &str = "access_logs.s3.prefix";
const MANAGED_KEYS: [&str; 5] = [
    DROP_INVALID_HEADERS,
    DELETION_PROTECTION,
    ACCESS_LOGS_ENABLED,
    ACCESS_LOGS_BUCKET,
    ACCESS_LOGS_PREFIX,
];

/// The load balancer attributes drpair sets, by key ("Load balancer attributes", Elastic Load
/// Balancing User Guide for Application Load Balancers): invalid header fields always dropped,
/// deletion protection as the tier's `deletion_protection` says, access logs on to
/// `access_logs` (bucket, prefix) or off (the bucket and prefix of logging that is off are not
/// drpair's concern).
pub(super) fn managed_attributes(
    deletion_protection: bool,
    access_logs: Option<(&str, &str)>,
) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::from([
        (DROP_INVALID_HEADERS.to_owned(), "true".to_owned()),
        (
            DELETION_PROTECTION.to_owned(),
            deletion_protection.to_string(),
        ),
        (
            ACCESS_LOGS_ENABLED.to_owned(),
            access_logs.is_some().to_string(),
        ),
    ]);
    if let Some((bucket, prefix)) = access_logs {
        attrs.insert(ACCESS_LOGS_BUCKET.to_owned(), bucket.to_owned());
        attrs.insert(ACCESS_LOGS_PREFIX.to_owned(), prefix.to_owned());
    }
    attrs
}

/// The managed attributes whose value differs from `wanted`, as (key, actual, wanted).
pub(super) fn attribute_drift(
    actual: &BTreeMap<String, String>,
    wanted: &BTreeMap<String, String>,
) -> Vec<(String, String, String)> {
    wanted
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(k, v)| {
            (
                k.clone(),
                actual.get(k).cloned().unwrap_or_else(|| "unset".into()),
                v.clone(),
            )
        })
        .collect()
}

async fn attributes_of(
    elb: &Client,
    arn: &str,
    region: &str,
) -> Result<BTreeMap<String, String>, AwsError> {
    let out = elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(arn)
        .send()
        .await
        .map_err(api_error(
            "reading the attributes of",
            BALANCER,
            arn,
            region,
        ))?;
    Ok(out
        .attributes()
        .iter()
        .filter_map(|a| Some((a.key()?.to_owned(), a.value()?.to_owned())))
        .filter(|(k, _)| MANAGED_KEYS.contains(&k.as_str()))
        .collect())
}

async fn set_attributes(
    elb: &Client,
    arn: &str,
    wanted: &BTreeMap<String, String>,
    region: &str,
) -> Result<(), AwsError> {
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(arn)
        .set_attributes(Some(
            wanted
                .iter()
                .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .map_err(api_error(
            "setting the attributes of",
            BALANCER,
            arn,
            region,
        ))?;
    Ok(())
}

fn elb_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

async fn tags_of(elb: &Client, arn: &str, region: &str) -> Result<Tags, AwsError> {
    let out = elb
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(api_error("reading the tags of", BALANCER, arn, region))?;
    Ok(out
        .tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect())
}

async fn retag(
    elb: &Client,
    arn: &str,
    actual: &Tags,
    desired: &Tags,
    region: &str,
) -> Result<(), AwsError> {
    let (set, remove) = tag_changes(actual, desired);
    if !set.is_empty() {
        elb.add_tags()
            .resource_arns(arn)
            .set_tags(Some(elb_tags(&set)))
            .send()
            .await
            .map_err(api_error("tagging", BALANCER, arn, region))?;
    }
    if !remove.is_empty() {
        elb.remove_tags()
            .resource_arns(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(api_error("untagging", BALANCER, arn, region))?;
    }
    Ok(())
}

fn not_owned(what: &str, name: &str, region: &str, owner: &str) -> AwsError {
    AwsError::api(
        "adopting",
        what,
        name,
        region,
        None,
        format!("it exists but is not tagged {OWNER_TAG} = {owner}; delete or rename it, or choose another `name`."),
    )
}

pub(super) async fn find_balancer(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<ObservedBalancer>, AwsError> {
    let elb = rc.elbv2();
    let out = elb
        .describe_load_balancers()
        .names(name)
        .send()
        .await
        .map_err(api_error("describing", BALANCER, name, &rc.region));
    let out = match out {
        Ok(o) => o,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(lb) = out.load_balancers().first() else {
        return Ok(None);
    };
    let arn = lb.load_balancer_arn().unwrap_or_default().to_owned();
    let (tags, attributes) = tokio::try_join!(
        tags_of(&elb, &arn, &rc.region),
        attributes_of(&elb, &arn, &rc.region)
    )?;
    // In availability-zone order, as drpair_network lists its subnets.
    let mut zones: Vec<(&str, &str)> = lb
        .availability_zones()
        .iter()
        .filter_map(|z| Some((z.zone_name().unwrap_or_default(), z.subnet_id()?)))
        .collect();
    zones.sort();
    let subnet_ids = zones.into_iter().map(|(_, s)| s.to_owned()).collect();
    Ok(Some(ObservedBalancer {
        arn,
        dns_name: lb.dns_name().unwrap_or_default().to_owned(),
        zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_owned(),
        vpc_id: lb.vpc_id().unwrap_or_default().to_owned(),
        subnet_ids,
        tags,
        attributes,
    }))
}

pub(super) async fn find_target_group(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<(ObservedTargetGroup, Tags)>, AwsError> {
    let elb = rc.elbv2();
    let out = elb
        .describe_target_groups()
        .names(name)
        .send()
        .await
        .map_err(api_error("describing", TARGET_GROUP, name, &rc.region));
    let out = match out {
        Ok(o) => o,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(tg) = out.target_groups().first() else {
        return Ok(None);
    };
    let arn = tg.target_group_arn().unwrap_or_default().to_owned();
    let tags = tags_of(&elb, &arn, &rc.region).await?;
    Ok(Some((
        ObservedTargetGroup {
            arn,
            port: tg.port().unwrap_or_default(),
            vpc_id: tg.vpc_id().unwrap_or_default().to_owned(),
            health_check_path: tg.health_check_path().unwrap_or_default().to_owned(),
            health_check: HealthCheckTiming {
                interval_seconds: tg.health_check_interval_seconds().unwrap_or_default(),
                healthy_threshold: tg.healthy_threshold_count().unwrap_or_default(),
                unhealthy_threshold: tg.unhealthy_threshold_count().unwrap_or_default(),
            },
        },
        tags,
    )))
}

fn observe_listener(l: &Listener) -> ObservedListener {
    let forward = l
        .default_actions()
        .iter()
        .find(|a| a.r#type() == Some(&ActionTypeEnum::Forward));
    ObservedListener {
        arn: l.listener_arn().unwrap_or_default().to_owned(),
        port: l.port().unwrap_or_default(),
        protocol: l
            .protocol()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        certificate_arn: l
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn())
            .map(str::to_owned),
        ssl_policy: l.ssl_policy().map(str::to_owned),
        forwards_to: forward
            .and_then(|a| a.target_group_arn())
            .map(str::to_owned),
    }
}

pub(super) async fn find_listeners(
    rc: &RegionCtx,
    balancer_arn: &str,
) -> Result<Vec<ObservedListener>, AwsError> {
    let out = rc
        .elbv2()
        .describe_listeners()
        .load_balancer_arn(balancer_arn)
        .send()
        .await
        .map_err(api_error(
            "listing the listeners of",
            BALANCER,
            balancer_arn,
            &rc.region,
        ));
    match out {
        Ok(o) => Ok(o.listeners().iter().map(observe_listener).collect()),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The target group exists with the spec's health check (path, and drpair's timing) and tags;
/// returns its ARN.
pub(super) async fn ensure_target_group(
    rc: &RegionCtx,
    spec: &TierSpec,
    existing: Option<&(ObservedTargetGroup, Tags)>,
) -> Result<String, AwsError> {
    let elb = rc.elbv2();
    let region = rc.region.as_str();
    let name = &spec.id;
    let tags = spec.tags(rc.role, part::TARGET_GROUP);
    let vpc_id = &spec.region(rc.role).vpc_id;
    let Some((tg, actual_tags)) = existing else {
        let out = elb
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Http)
            .port(spec.app_port)
            .vpc_id(vpc_id)
            .target_type(TargetTypeEnum::Instance)
            .health_check_enabled(true)
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_path(&spec.health_check_path)
            .health_check_interval_seconds(HealthCheckTiming::WANTED.interval_seconds)
            .healthy_threshold_count(HealthCheckTiming::WANTED.healthy_threshold)
            .unhealthy_threshold_count(HealthCheckTiming::WANTED.unhealthy_threshold)
            .matcher(Matcher::builder().http_code(HEALTHY_CODES).build())
            .set_tags(Some(elb_tags(&tags)))
            .send()
            .await
            .map_err(api_error("creating", TARGET_GROUP, name, region))?;
        let arn = out
            .target_groups()
            .first()
            .and_then(|t| t.target_group_arn())
            .unwrap_or_default()
            .to_owned();
        tracing::info!("created target group {name} in {region}");
        return Ok(arn);
    };
    if actual_tags.get(OWNER_TAG) != Some(&spec.owner()) {
        return Err(not_owned(TARGET_GROUP, name, region, &spec.owner()));
    }
    if tg.vpc_id != *vpc_id || tg.port != spec.app_port {
        return Err(AwsError::api(
            "updating",
            TARGET_GROUP,
            name,
            region,
            None,
            format!("it is in {} on port {}, but the tier wants {vpc_id} on port {}; a target group cannot move, replace the tier", tg.vpc_id, tg.port, spec.app_port),
        ));
    }
    if tg.health_check_path != spec.health_check_path
        || tg.health_check != HealthCheckTiming::WANTED
    {
        let wanted = HealthCheckTiming::WANTED;
        elb.modify_target_group()
            .target_group_arn(&tg.arn)
            .health_check_path(&spec.health_check_path)
            .health_check_interval_seconds(wanted.interval_seconds)
            .healthy_threshold_count(wanted.healthy_threshold)
            .unhealthy_threshold_count(wanted.unhealthy_threshold)
            .send()
            .await
            .map_err(api_error(
                "updating the health check of",
                TARGET_GROUP,
                &tg.arn,
                region,
            ))?;
    }
    retag(&elb, &tg.arn, actual_tags, &tags, region).await?;
    Ok(tg.arn.clone())
}

/// The load balancer exists across the public subnets behind its security group; returns it.
pub(super) async fn ensure_balancer(
    rc: &RegionCtx,
    spec: &TierSpec,
    existing: Option<&ObservedBalancer>,
    security_group_id: &str,
) -> Result<ObservedBalancer, AwsError> {
    let elb = rc.elbv2();
    let region = rc.region.as_str();
    let name = &spec.id;
    let tags = spec.tags(rc.role, part::LOAD_BALANCER);
    let subnets = spec.region(rc.role).public_subnet_ids.clone();
    let attributes = managed_attributes(spec.deletion_protection, spec.access_logs(rc.role));
    let Some(lb) = existing else {
        let out = elb
            .create_load_balancer()
            .name(name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .set_subnets(Some(subnets.clone()))
            .security_groups(security_group_id)
            .set_tags(Some(elb_tags(&tags)))
            .send()
            .await
            .map_err(api_error("creating", BALANCER, name, region))?;
        let lb = out.load_balancers().first();
        tracing::info!("created load balancer {name} in {region}");
        let arn = lb
            .and_then(|l| l.load_balancer_arn())
            .unwrap_or_default()
            .to_owned();
        set_attributes(&elb, &arn, &attributes, region).await?;
        return Ok(ObservedBalancer {
            arn,
            dns_name: lb.and_then(|l| l.dns_name()).unwrap_or_default().to_owned(),
            zone_id: lb
                .and_then(|l| l.canonical_hosted_zone_id())
                .unwrap_or_default()
                .to_owned(),
            vpc_id: spec.region(rc.role).vpc_id.clone(),
            subnet_ids: subnets,
            tags,
            attributes,
        });
    };
    if lb.tags.get(OWNER_TAG) != Some(&spec.owner()) {
        return Err(not_owned(BALANCER, name, region, &spec.owner()));
    }
    let set = |v: &[String]| v.iter().cloned().collect::<std::collections::BTreeSet<_>>();
    if set(&lb.subnet_ids) != set(&subnets) {
        elb.set_subnets()
            .load_balancer_arn(&lb.arn)
            .set_subnets(Some(subnets.clone()))
            .send()
            .await
            .map_err(api_error(
                "setting the subnets of",
                BALANCER,
                &lb.arn,
                region,
            ))?;
    }
    elb.set_security_groups()
        .load_balancer_arn(&lb.arn)
        .security_groups(security_group_id)
        .send()
        .await
        .map_err(api_error(
            "setting the security group of",
            BALANCER,
            &lb.arn,
            region,
        ))?;
    if !attribute_drift(&lb.attributes, &attributes).is_empty() {
        set_attributes(&elb, &lb.arn, &attributes, region).await?;
    }
    retag(&elb, &lb.arn, &lb.tags, &tags, region).await?;
    Ok(ObservedBalancer {
        tags,
        attributes,
        ..lb.clone()
    })
}

/// One listener the tier wants.
#[derive(Clone, Debug, PartialEq)]
struct WantedListener {
    port: i32,
    protocol: ProtocolEnum,
    certificate_arn: Option<String>,
    /// Forward to the target group, or redirect to HTTPS.
    forward: bool,
}

fn wanted_listeners(certificate_arn: Option<&str>) -> Vec<WantedListener> {
    match certificate_arn {
        None => vec![WantedListener {
            port: 80,
            protocol: ProtocolEnum::Http,
            certificate_arn: None,
            forward: true,
        }],
        Some(cert) => vec![
            WantedListener {
                port: 443,
                protocol: ProtocolEnum::Https,
                certificate_arn: Some(cert.to_owned()),
                forward: true,
            },
            WantedListener {
                port: 80,
                protocol: ProtocolEnum::Http,
                certificate_arn: None,
                forward: false,
            },
        ],
    }
}

impl WantedListener {
    /// The security policy it must have: drpair's for HTTPS, none to check for HTTP.
    fn ssl_policy(&self) -> Option<&'static str> {
        (self.protocol == ProtocolEnum::Https).then_some(SSL_POLICY)
    }
}

/// The listener is what `want` describes, its security policy aside.
fn same_route(have: &ObservedListener, want: &WantedListener, target_group_arn: &str) -> bool {
    have.protocol == want.protocol.as_str()
        && have.certificate_arn == want.certificate_arn
        && (have.forwards_to.as_deref() == Some(target_group_arn)) == want.forward
}

fn matches(have: &ObservedListener, want: &WantedListener, target_group_arn: &str) -> bool {
    same_route(have, want, target_group_arn)
        && want
            .ssl_policy()
            .is_none_or(|p| have.ssl_policy.as_deref() == Some(p))
}

fn action(want: &WantedListener, target_group_arn: &str) -> Action {
    if want.forward {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(target_group_arn)
            .build()
    } else {
        Action::builder()
            .r#type(ActionTypeEnum::Redirect)
            .redirect_config(
                RedirectActionConfig::builder()
                    .protocol("HTTPS")
                    .port("443")
                    .status_code(RedirectActionStatusCodeEnum::Http301)
                    .build(),
            )
            .build()
    }
}

/// What is wrong with the listeners, in words, for drift.
pub(super) fn listener_drift(
    listeners: &[ObservedListener],
    certificate_arn: Option<&str>,
    target_group_arn: &str,
) -> Vec<String> {
    let mut drift = Vec::new();
    for w in wanted_listeners(certificate_arn) {
        let have = listeners.iter().find(|l| l.port == w.port);
        match have {
            Some(l) if matches(l, &w, target_group_arn) => {}
            Some(l) if same_route(l, &w, target_group_arn) => drift.push(format!(
                "{} listener on port {} uses security policy {} instead of {}",
                w.protocol.as_str(),
                w.port,
                l.ssl_policy.as_deref().unwrap_or("none"),
                w.ssl_policy().unwrap_or("none")
            )),
            _ => drift.push(format!(
                "{} listener on port {} is missing or changed",
                w.protocol.as_str(),
                w.port
            )),
        }
    }
    drift
}

/// The listeners are exactly those the tier wants.
pub(super) async fn ensure_listeners(
    rc: &RegionCtx,
    spec: &TierSpec,
    balancer_arn: &str,
    target_group_arn: &str,
) -> Result<(), AwsError> {
    let elb = rc.elbv2();
    let region = rc.region.as_str();
    let existing = find_listeners(rc, balancer_arn).await?;
    let wanted = wanted_listeners(spec.region(rc.role).certificate_arn.as_deref());
    for l in existing
        .iter()
        .filter(|l| !wanted.iter().any(|w| w.port == l.port))
    {
        elb.delete_listener()
            .listener_arn(&l.arn)
            .send()
            .await
            .map_err(api_error("deleting", LISTENER, &l.arn, region))?;
    }
    for want in &wanted {
        let certificates = want
            .certificate_arn
            .as_ref()
            .map(|c| vec![Certificate::builder().certificate_arn(c).build()]);
        let ssl_policy = want.certificate_arn.as_ref().map(|_| SSL_POLICY.to_owned());
        match existing.iter().find(|l| l.port == want.port) {
            Some(have) if matches(have, want, target_group_arn) => {}
            Some(have) => {
                elb.modify_listener()
                    .listener_arn(&have.arn)
                    .protocol(want.protocol.clone())
                    .port(want.port)
                    .set_certificates(certificates)
                    .set_ssl_policy(ssl_policy)
                    .default_actions(action(want, target_group_arn))
                    .send()
                    .await
                    .map_err(api_error("updating", LISTENER, &have.arn, region))?;
            }
            None => {
                let label = format!("{}/{}", spec.id, want.port);
                elb.create_listener()
                    .load_balancer_arn(balancer_arn)
                    .protocol(want.protocol.clone())
                    .port(want.port)
                    .set_certificates(certificates)
                    .set_ssl_policy(ssl_policy)
                    .default_actions(action(want, target_group_arn))
                    .set_tags(Some(elb_tags(&spec.tags(rc.role, part::LISTENER))))
                    .send()
                    .await
                    .map_err(api_error("creating", LISTENER, &label, region))?;
            }
        }
    }
    Ok(())
}

/// Deletes the load balancer (its listeners go with it) and waits until it is gone, then the
/// target group; only what the tier owns. Idempotent.
pub(super) async fn destroy(
    rc: &RegionCtx,
    name: &str,
    owner: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let elb = rc.elbv2();
    let region = rc.region.as_str();
    if let Some(lb) = find_balancer(rc, name).await? {
        if lb.tags.get(OWNER_TAG).map(String::as_str) == Some(owner) {
            let result = elb
                .delete_load_balancer()
                .load_balancer_arn(&lb.arn)
                .send()
                .await
                .map_err(api_error("deleting", BALANCER, &lb.arn, region));
            match result {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
            wait_for(deadline, BALANCER, name, region, || async {
                Ok(match find_balancer(rc, name).await? {
                    None => Poll::Ready(()),
                    Some(_) => Poll::Pending("deleting".into()),
                })
            })
            .await?;
            tracing::info!("deleted load balancer {name} in {region}");
        }
    }
    if let Some((tg, tags)) = find_target_group(rc, name).await? {
        if tags.get(OWNER_TAG).map(String::as_str) == Some(owner) {
            wait_for(deadline, TARGET_GROUP, name, region, || async {
                let result = elb
                    .delete_target_group()
                    .target_group_arn(&tg.arn)
                    .send()
                    .await
                    .map_err(api_error("deleting", TARGET_GROUP, &tg.arn, region));
                match result {
                    Ok(_) => Ok(Poll::Ready(())),
                    Err(e) if e.is_not_found() => Ok(Poll::Ready(())),
                    Err(e) if e.code() == Some("ResourceInUse") => {
                        Ok(Poll::Pending("in use".into()))
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
            tracing::info!("deleted target group {name} in {region}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listener(
        port: i32,
        protocol: &str,
        cert: Option<&str>,
        tg: Option<&str>,
    ) -> ObservedListener {
        ObservedListener {
            arn: format!("arn:{port}"),
            port,
            protocol: protocol.into(),
            certificate_arn: cert.map(str::to_owned),
            ssl_policy: cert.map(|_| SSL_POLICY.to_owned()),
            forwards_to: tg.map(str::to_owned),
        }
    }

    #[test]
    fn http_only_wants_one_forwarding_listener() {
        let ok = [listener(80, "HTTP", None, Some("tg"))];
        assert!(listener_drift(&ok, None, "tg").is_empty());
        assert_eq!(listener_drift(&[], None, "tg").len(), 1);
        let wrong_target = [listener(80, "HTTP", None, Some("other"))];
        assert_eq!(listener_drift(&wrong_target, None, "tg").len(), 1);
    }

    #[test]
    fn https_forwards_and_http_redirects() {
        let ok = [
            listener(443, "HTTPS", Some("cert"), Some("tg")),
            listener(80, "HTTP", None, None),
        ];
        assert!(listener_drift(&ok, Some("cert"), "tg").is_empty());
        let http_only = [listener(80, "HTTP", None, Some("tg"))];
        assert_eq!(listener_drift(&http_only, Some("cert"), "tg").len(), 2);
    }

    #[test]
    fn https_security_policy_is_drift() {
        let mut weak = listener(443, "HTTPS", Some("cert"), Some("tg"));
        weak.ssl_policy = Some("ELBSecurityPolicy-2016-08".into());
        let listeners = [weak, listener(80, "HTTP", None, None)];
        assert_eq!(
            listener_drift(&listeners, Some("cert"), "tg"),
            vec![format!("HTTPS listener on port 443 uses security policy ELBSecurityPolicy-2016-08 instead of {SSL_POLICY}")]
        );
        // An HTTP listener's policy (moto and AWS may report one) is not drpair's concern.
        let mut http = listener(80, "HTTP", None, Some("tg"));
        http.ssl_policy = Some("ELBSecurityPolicy-2016-08".into());
        assert!(listener_drift(&[http], None, "tg").is_empty());
    }
}
