//! Route 53 health checks, one per region, probing that region's load balancer by DNS name.
//! Found by caller reference; the request interval and protocol cannot change in place, so a
//! change of either makes a new check (the record is pointed at it, then the old one goes).

use aws_sdk_route53::types::{HealthCheck, HealthCheckConfig, HealthCheckType, TagResourceType};

use crate::aws::error::api_error;
use crate::aws::{AwsContext, AwsError, Role};

use super::zone::{classify, nonce, retag, tags_of, GLOBAL};
use super::{check_reference_prefix, normalize, part, CheckSpec, DnsSpec, ObservedCheck};

const CHECK: &str = "health check";

fn observe(h: &HealthCheck) -> ObservedCheck {
    let c = h.health_check_config();
    ObservedCheck {
        id: h.id().to_owned(),
        version: h.health_check_version(),
        check: CheckSpec {
            protocol: c
                .map(|c| c.r#type().as_str().to_owned())
                .unwrap_or_default(),
            port: c.and_then(|c| c.port()).unwrap_or_default(),
            path: c
                .and_then(|c| c.resource_path())
                .unwrap_or_default()
                .to_owned(),
            request_interval: c.and_then(|c| c.request_interval()).unwrap_or(30),
            failure_threshold: c.and_then(|c| c.failure_threshold()).unwrap_or(3),
        },
        target: normalize(
            c.and_then(|c| c.fully_qualified_domain_name())
                .unwrap_or_default(),
        ),
        tags: Default::default(),
    }
}

/// This owner's health checks of one side (normally one; more after an interrupted create).
pub(super) async fn list_own(
    ctx: &AwsContext,
    fqdn: &str,
    role: Role,
) -> Result<Vec<ObservedCheck>, AwsError> {
    let mut sides = list_own_sides(ctx, fqdn, &[role]).await?;
    Ok(sides.pop().unwrap_or_default())
}

/// This owner's health checks of each of `roles`, in that order, from one listing of the
/// account's health checks (a refresh reads both sides without listing twice).
pub(super) async fn list_own_sides(
    ctx: &AwsContext,
    fqdn: &str,
    roles: &[Role],
) -> Result<Vec<Vec<ObservedCheck>>, AwsError> {
    let prefixes: Vec<String> = roles
        .iter()
        .map(|&role| check_reference_prefix(fqdn, role))
        .collect();
    let r53 = ctx.primary.route53();
    let mut sides: Vec<Vec<ObservedCheck>> = vec![Vec::new(); roles.len()];
    let mut marker: Option<String> = None;
    loop {
        let out = r53
            .list_health_checks()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(api_error("listing", "health checks", fqdn, GLOBAL))?;
        for h in out.health_checks() {
            // The prefixes end in "-primary-" / "-dr-": at most one matches.
            if let Some(side) = prefixes
                .iter()
                .position(|p| h.caller_reference().starts_with(p.as_str()))
            {
                sides[side].push(observe(h));
            }
        }
        match out.next_marker() {
            Some(next) if out.is_truncated() && marker.as_deref() != Some(next) => {
                marker = Some(next.to_owned())
            }
            _ => break,
        }
    }
    for check in sides.iter_mut().flatten() {
        check.tags = match tags_of(&r53, TagResourceType::Healthcheck, &check.id).await {
            Ok(tags) => tags,
            Err(e) if e.is_not_found() => Default::default(),
            Err(e) => return Err(e),
        };
    }
    Ok(sides)
}

fn config(spec: &DnsSpec, role: Role) -> Result<HealthCheckConfig, AwsError> {
    let c = &spec.check;
    let https = c.protocol.eq_ignore_ascii_case("HTTPS");
    HealthCheckConfig::builder()
        .r#type(if https {
            HealthCheckType::Https
        } else {
            HealthCheckType::Http
        })
        .fully_qualified_domain_name(&spec.endpoint(role).alb_dns_name)
        .port(c.port)
        .resource_path(&c.path)
        .request_interval(c.request_interval)
        .failure_threshold(c.failure_threshold)
        .set_enable_sni(https.then_some(true))
        .build()
        .map_err(|e| AwsError::Config(format!("health check of {}: {e}", spec.fqdn)))
}

/// Whether a check can become what the spec wants without being replaced.
pub(super) fn updatable(have: &ObservedCheck, want: &CheckSpec) -> bool {
    have.check.protocol.eq_ignore_ascii_case(&want.protocol)
        && have.check.request_interval == want.request_interval
}

/// Whether a check is exactly what the spec wants for this side.
pub(super) fn matches(have: &ObservedCheck, spec: &DnsSpec, role: Role) -> bool {
    updatable(have, &spec.check)
        && have.check.port == spec.check.port
        && have.check.path == spec.check.path
        && have.check.failure_threshold == spec.check.failure_threshold
        && have.target == normalize(&spec.endpoint(role).alb_dns_name)
}

pub(super) async fn create(
    ctx: &AwsContext,
    spec: &DnsSpec,
    role: Role,
) -> Result<String, AwsError> {
    let r53 = ctx.primary.route53();
    let reference = format!("{}{}", check_reference_prefix(&spec.fqdn, role), nonce());
    let out = r53
        .create_health_check()
        .caller_reference(&reference)
        .health_check_config(config(spec, role)?)
        .send()
        .await
        .map_err(api_error("creating", CHECK, &reference, GLOBAL))?;
    let id = out
        .health_check()
        .map(|h| h.id().to_owned())
        .unwrap_or_default();
    tracing::info!(
        "created the {} health check {id} of {}",
        role.label(),
        spec.fqdn
    );
    retag(
        &r53,
        TagResourceType::Healthcheck,
        &id,
        &spec.tags(role.tag_value(), &part::health_check(role)),
    )
    .await?;
    Ok(id)
}

/// Brings an updatable check to the spec (settings and tags).
pub(super) async fn update(
    ctx: &AwsContext,
    have: &ObservedCheck,
    spec: &DnsSpec,
    role: Role,
) -> Result<(), AwsError> {
    let r53 = ctx.primary.route53();
    if !matches(have, spec, role) {
        let c = &spec.check;
        r53.update_health_check()
            .health_check_id(&have.id)
            .health_check_version(have.version)
            .fully_qualified_domain_name(&spec.endpoint(role).alb_dns_name)
            .port(c.port)
            .resource_path(&c.path)
            .failure_threshold(c.failure_threshold)
            .set_enable_sni(c.protocol.eq_ignore_ascii_case("HTTPS").then_some(true))
            .send()
            .await
            .map_err(api_error("updating", CHECK, &have.id, GLOBAL))?;
        tracing::info!("updated the {} health check {}", role.label(), have.id);
    }
    retag(
        &r53,
        TagResourceType::Healthcheck,
        &have.id,
        &spec.tags(role.tag_value(), &part::health_check(role)),
    )
    .await
}

pub(super) async fn delete(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    let result = ctx
        .primary
        .route53()
        .delete_health_check()
        .health_check_id(id)
        .send()
        .await
        .map_err(api_error("deleting", CHECK, id, GLOBAL))
        .map_err(classify);
    match result {
        Ok(_) => {
            tracing::info!("deleted health check {id}");
            Ok(())
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}
