//! Between Terraform's model and Route 53: the plan refinements (zone lookups, the RTO budget),
//! the spec built from a plan, and the state built from what exists.

use crate::aws::tags::{is_managed_key, user_tags, Tags};
use crate::aws::{Deadline, Role};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::functions::rto::dns_failover_seconds;
use crate::provider::DrClient;
use crate::resources::app_tier::fleet::is_aws_tag;

use super::route53::{self, normalize, CheckSpec, DnsSpec, Endpoint, ObservedDns, ZoneSource};
use super::{validate, EndpointModel, FailoverDnsModel, HealthCheckModel};

fn side(m: &FailoverDnsModel, role: Role) -> &Val<EndpointModel> {
    match role {
        Role::Primary => &m.primary,
        Role::Dr => &m.dr,
    }
}

fn side_mut(m: &mut FailoverDnsModel, role: Role) -> &mut Val<EndpointModel> {
    match role {
        Role::Primary => &mut m.primary,
        Role::Dr => &mut m.dr,
    }
}

/// `api` + `payments.example.com` → `api.payments.example.com`; `@` is the apex.
pub fn fqdn(record_name: &str, zone_name: &str) -> String {
    let zone = normalize(zone_name);
    match record_name.trim_end_matches('.') {
        "@" | "" => zone,
        r => format!("{}.{zone}", r.to_ascii_lowercase()),
    }
}

/// The load balancer's own URL, bypassing DNS failover.
pub fn endpoint_url(dns_name: &str, protocol: &str, port: i64) -> String {
    let https = protocol.eq_ignore_ascii_case("HTTPS");
    let scheme = if https { "https" } else { "http" };
    let default_port = if https { 443 } else { 80 };
    let host = normalize(dns_name);
    if port == default_port {
        format!("{scheme}://{host}")
    } else {
        format!("{scheme}://{host}:{port}")
    }
}

fn check_spec(m: &Val<HealthCheckModel>) -> Option<CheckSpec> {
    let c = m.known()?;
    Some(CheckSpec {
        protocol: c.protocol.known()?.clone(),
        port: *c.port.known()? as i32,
        path: c.path.known()?.clone(),
        request_interval: *c.request_interval.known()? as i32,
        failure_threshold: *c.failure_threshold.known()? as i32,
    })
}

/// The plan: the zone looked up when it exists, the name, the RTO budget and the endpoint URLs
/// known now; new health checks (a changed interval or protocol, a rename, a repair) unknown.
pub async fn plan(
    client: &DrClient,
    prior: Option<&FailoverDnsModel>,
    mut planned: FailoverDnsModel,
    diags: &mut Diagnostics,
) -> FailoverDnsModel {
    let root = AttributePath::root();
    match validate::timing(&planned.health_check) {
        Some((interval, threshold)) => {
            planned.detection_seconds =
                Val::Known(validate::detection_seconds(interval, threshold));
            planned.rto_budget_seconds =
                Val::Known(validate::rto_budget_seconds(interval, threshold));
            planned.dns_failover_seconds = Val::Known(dns_failover_seconds(interval, threshold));
            validate::rto(&planned, diags);
        }
        None => {
            planned.detection_seconds = Val::Unknown;
            planned.rto_budget_seconds = Val::Unknown;
            planned.dns_failover_seconds = Val::Unknown;
        }
    }
    if prior.is_none() {
        if let Val::Known(id) = &planned.zone_id {
            match route53::find_zone(&client.aws, id).await {
                Ok(Some(zone)) => {
                    if let Val::Known(name) = &planned.zone_name {
                        if normalize(name) != zone.name {
                            diags.error_at(root.attr("zone_name"), "Zone name does not match zone_id", format!("zone_id {id} is the zone {:?}, not {name:?}. Set one of them.", zone.name));
                        }
                    }
                    planned.zone_name = Val::Known(zone.name);
                    planned.name_servers = Val::Known(zone.name_servers);
                    planned.zone_managed = Val::Known(false);
                }
                Ok(None) => diags.error_at(root.attr("zone_id"), "No such hosted zone", format!("No Route 53 hosted zone has the id {id:?}. Use an existing zone's id, or zone_name to create one.")),
                Err(e) => diags.error("Reading the hosted zone", e.to_string()),
            }
        }
    }
    planned.fqdn = match (&planned.record_name, &planned.zone_name) {
        (Val::Known(r), Val::Known(z)) => Val::Known(fqdn(r, z)),
        _ => Val::Unknown,
    };
    planned.id = planned.fqdn.clone();
    planned.tags_all = match &planned.tags {
        Val::Unknown => Val::Unknown,
        tags => Val::Known(client.tags_all(tags)),
    };
    let check = check_spec(&planned.health_check);
    let repair = prior.is_some_and(|p| p.drift.known().is_some_and(|d| !d.is_empty()));
    let new_checks = prior.is_some_and(|p| {
        let before = check_spec(&p.health_check);
        let replaced = match (&before, &check) {
            (Some(b), Some(a)) => {
                !b.protocol.eq_ignore_ascii_case(&a.protocol)
                    || b.request_interval != a.request_interval
            }
            _ => true,
        };
        replaced || repair || p.fqdn != planned.fqdn
    });
    for role in Role::BOTH {
        let region = client.aws.region(role).region.clone();
        let Val::Known(e) = side_mut(&mut planned, role) else {
            continue;
        };
        e.region = Val::Known(region);
        e.endpoint_url = match (&e.alb_dns_name, &check) {
            (Val::Known(dns), Some(c)) => {
                Val::Known(endpoint_url(dns, &c.protocol, i64::from(c.port)))
            }
            _ => Val::Unknown,
        };
        if new_checks {
            e.health_check_id = Val::Unknown;
        }
    }
    match prior {
        None => planned.drift = Val::Known(Vec::new()),
        Some(_) if repair => planned.drift = Val::Known(Vec::new()),
        Some(_) => {}
    }
    planned
}

/// What Route 53 should hold, from a plan (at apply time, when every input is known).
pub async fn spec(
    client: &DrClient,
    m: &FailoverDnsModel,
    diags: &mut Diagnostics,
) -> Option<DnsSpec> {
    let (zone, zone_name) = match (&m.zone_id, &m.zone_name) {
        (Val::Known(id), _) => match route53::find_zone(&client.aws, id).await {
            Ok(Some(z)) => (ZoneSource::Existing { id: z.id }, z.name),
            Ok(None) => {
                diags.error_at(
                    AttributePath::root().attr("zone_id"),
                    "No such hosted zone",
                    format!("No Route 53 hosted zone has the id {id:?}."),
                );
                return None;
            }
            Err(e) => {
                diags.error("Reading the hosted zone", e.to_string());
                return None;
            }
        },
        (_, Val::Known(name)) => (
            ZoneSource::Create {
                name: normalize(name),
            },
            normalize(name),
        ),
        _ => {
            diags.error(
                "Hosted zone not known",
                "Neither zone_id nor zone_name is known at apply time.",
            );
            return None;
        }
    };
    build(client, m, zone, &zone_name)
}

/// The spec of a resource in state (for drift): its zone and name as recorded.
pub fn spec_from_state(client: &DrClient, m: &FailoverDnsModel) -> Option<DnsSpec> {
    let zone = match m.zone_managed.known() {
        Some(true) => ZoneSource::Create {
            name: m.zone_name.known()?.clone(),
        },
        _ => ZoneSource::Existing {
            id: m.zone_id.known()?.clone(),
        },
    };
    build(client, m, zone, m.zone_name.known()?)
}

fn build(
    client: &DrClient,
    m: &FailoverDnsModel,
    zone: ZoneSource,
    zone_name: &str,
) -> Option<DnsSpec> {
    let endpoint = |role: Role| -> Option<Endpoint> {
        let e = side(m, role).known()?;
        Some(Endpoint {
            alb_dns_name: e.alb_dns_name.known()?.clone(),
            alb_zone_id: e.alb_zone_id.known()?.clone(),
        })
    };
    Some(DnsSpec {
        fqdn: fqdn(m.record_name.known()?, zone_name),
        zone,
        environment: client.environment.clone(),
        check: check_spec(&m.health_check)?,
        primary: endpoint(Role::Primary)?,
        dr: endpoint(Role::Dr)?,
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
    })
}

/// Runs the idempotent ensure and maps the outcome to state; on failure the state records what
/// exists, so destroy can remove it.
pub async fn converge(
    client: &DrClient,
    spec: &DnsSpec,
    planned: &FailoverDnsModel,
    deadline: Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Option<FailoverDnsModel> {
    let managed = matches!(spec.zone, ZoneSource::Create { .. });
    let base = FailoverDnsModel {
        zone_managed: planned.zone_managed.clone().or(Val::Known(managed)),
        fqdn: Val::Known(spec.fqdn.clone()),
        ..planned.clone()
    };
    match route53::ensure(&client.aws, spec, deadline).await {
        Ok(observed) => {
            let left = route53::drift(spec, &observed);
            if !left.is_empty() {
                tracing::warn!(
                    "failover records {} still differ after apply: {left:?}",
                    spec.fqdn
                );
            }
            let mut model = from_observed(client, &base, &observed, Vec::new());
            // Tags are written exactly as planned; reading them back is for drift.
            model.tags_all = planned.tags_all.clone();
            Some(model)
        }
        Err((e, partial)) => {
            diags.error(verb, e.to_string());
            partial.map(|o| {
                let drift = route53::drift(spec, &o);
                from_observed(client, &base, &o, drift)
            })
        }
    }
}

/// After a rename: the old name's records and health checks go (the zone stays).
pub async fn remove_renamed(
    client: &DrClient,
    prior: &FailoverDnsModel,
    spec: &DnsSpec,
    deadline: Deadline,
    diags: &mut Diagnostics,
) {
    let (Val::Known(zone_id), Val::Known(old)) = (&prior.zone_id, &prior.fqdn) else {
        return;
    };
    if normalize(old) == normalize(&spec.fqdn) {
        return;
    }
    if let Err(e) = route53::destroy(&client.aws, zone_id, old, false, deadline).await {
        diags.error("Removing the records of the old name", e.to_string());
    }
}

fn unmanaged(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| !is_managed_key(k) && !is_aws_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// State from what Route 53 has. The primary check's settings and the records' targets are
/// read from AWS (out-of-band changes show as changes); other inputs are kept from `base`.
pub fn from_observed(
    client: &DrClient,
    base: &FailoverDnsModel,
    o: &ObservedDns,
    drift: Vec<String>,
) -> FailoverDnsModel {
    let health_check = match &o.primary_check {
        Some(c) => Val::Known(HealthCheckModel {
            protocol: Val::Known(c.check.protocol.clone()),
            port: Val::Known(i64::from(c.check.port)),
            path: Val::Known(c.check.path.clone()),
            request_interval: Val::Known(i64::from(c.check.request_interval)),
            failure_threshold: Val::Known(i64::from(c.check.failure_threshold)),
        }),
        None => base.health_check.clone(),
    };
    let check = check_spec(&health_check);
    let endpoint = |role: Role| {
        let b = side(base, role).known().cloned().unwrap_or_default();
        let record = o.record(role);
        let dns = match (record, &b.alb_dns_name) {
            (Some(r), Val::Known(d)) if normalize(d) == r.alias_dns_name => Val::Known(d.clone()),
            (Some(r), _) => Val::Known(r.alias_dns_name.clone()),
            (None, d) => d.clone(),
        };
        let zone_id = match record {
            Some(r) if !r.alias_zone_id.is_empty() => Val::Known(r.alias_zone_id.clone()),
            _ => b.alb_zone_id.clone(),
        };
        let url = match (&dns, &check) {
            (Val::Known(d), Some(c)) => endpoint_url(d, &c.protocol, i64::from(c.port)),
            _ => String::new(),
        };
        Val::Known(EndpointModel {
            alb_dns_name: dns,
            alb_zone_id: zone_id,
            region: Val::Known(client.aws.region(role).region.clone()),
            health_check_id: Val::Known(o.check(role).map(|c| c.id.clone()).unwrap_or_default()),
            endpoint_url: Val::Known(url),
        })
    };
    let timing = check.as_ref().map(|c| {
        (
            i64::from(c.request_interval),
            i64::from(c.failure_threshold),
        )
    });
    let fqdn = match (&base.fqdn, &base.record_name) {
        (Val::Known(f), _) => Val::Known(f.clone()),
        (_, Val::Known(r)) => Val::Known(fqdn(r, &o.zone.name)),
        _ => Val::Known(String::new()),
    };
    FailoverDnsModel {
        id: fqdn.clone(),
        zone_name: Val::Known(o.zone.name.clone()),
        zone_id: Val::Known(o.zone.id.clone()),
        zone_managed: match &base.zone_managed {
            Val::Known(b) => Val::Known(*b),
            _ => Val::Known(o.zone.managed),
        },
        record_name: base.record_name.clone(),
        fqdn,
        name_servers: Val::Known(o.zone.name_servers.clone()),
        primary: endpoint(Role::Primary),
        dr: endpoint(Role::Dr),
        health_check,
        rto_target_seconds: match &base.rto_target_seconds {
            Val::Known(t) => Val::Known(*t),
            _ => Val::Known(validate::DEFAULT_RTO_TARGET),
        },
        detection_seconds: Val::Known(timing.map_or(0, |(i, t)| validate::detection_seconds(i, t))),
        rto_budget_seconds: Val::Known(
            timing.map_or(0, |(i, t)| validate::rto_budget_seconds(i, t)),
        ),
        dns_failover_seconds: Val::Known(timing.map_or(0, |(i, t)| dns_failover_seconds(i, t))),
        tags: match &base.tags {
            Val::Known(_) => base.tags.clone(),
            _ => Val::Null,
        },
        tags_all: match &o.primary_check {
            Some(c) => Val::Known(unmanaged(&c.tags)),
            None => Val::Known(base.tags_all.known().cloned().unwrap_or_default()),
        },
        drift: Val::Known(drift),
        timeouts: base.timeouts.clone(),
    }
}

/// `terraform import` by `{fqdn}` or `{zone_id}/{fqdn}`.
pub async fn import(
    client: &DrClient,
    id: &str,
    diags: &mut Diagnostics,
) -> Option<FailoverDnsModel> {
    let (zone_hint, name) = match id.split_once('/') {
        Some((zone, name)) => (Some(zone), normalize(name)),
        None => (None, normalize(id)),
    };
    let zone = match zone_hint {
        Some(z) => route53::find_zone(&client.aws, z).await,
        None => route53::find_zone_for(&client.aws, &name).await,
    };
    let zone = match zone {
        Ok(Some(z)) => z,
        Ok(None) => {
            diags.error("Cannot import failover DNS", format!("No public hosted zone holds {name:?}. The import id is the record's name (api.example.com), or {{zone_id}}/{{name}}."));
            return None;
        }
        Err(e) => {
            diags.error("Importing failover DNS", e.to_string());
            return None;
        }
    };
    let observed = match route53::read(&client.aws, &zone.id, &name).await {
        Ok(Some(o)) if o.primary_record.is_some() || o.dr_record.is_some() => o,
        Ok(_) => {
            diags.error(
                "Cannot import failover DNS",
                format!(
                    "The zone {} ({}) has no failover records named {name:?}.",
                    zone.name, zone.id
                ),
            );
            return None;
        }
        Err(e) => {
            diags.error("Importing failover DNS", e.to_string());
            return None;
        }
    };
    let record_name = if name == zone.name {
        "@".to_owned()
    } else {
        name.strip_suffix(&format!(".{}", zone.name))
            .unwrap_or(&name)
            .to_owned()
    };
    let endpoint = |role: Role| {
        let r = observed.record(role).cloned().unwrap_or_default();
        Val::Known(EndpointModel {
            alb_dns_name: Val::Known(r.alias_dns_name),
            alb_zone_id: Val::Known(r.alias_zone_id),
            ..EndpointModel::default()
        })
    };
    let own = observed
        .primary_check
        .as_ref()
        .map(|c| user_tags(&unmanaged(&c.tags), &client.default_tags))
        .unwrap_or_default();
    let seed = FailoverDnsModel {
        zone_name: Val::Known(zone.name.clone()),
        zone_id: Val::Known(zone.id.clone()),
        zone_managed: Val::Known(zone.managed),
        record_name: Val::Known(record_name),
        fqdn: Val::Known(name),
        primary: endpoint(Role::Primary),
        dr: endpoint(Role::Dr),
        health_check: Val::Known(HealthCheckModel {
            protocol: Val::Known("HTTP".into()),
            port: Val::Known(80),
            path: Val::Known("/".into()),
            request_interval: Val::Known(validate::DEFAULT_INTERVAL),
            failure_threshold: Val::Known(validate::DEFAULT_THRESHOLD),
        }),
        rto_target_seconds: Val::Known(validate::DEFAULT_RTO_TARGET),
        tags: if own.is_empty() {
            Val::Null
        } else {
            Val::Known(own)
        },
        ..FailoverDnsModel::default()
    };
    let first = from_observed(client, &seed, &observed, Vec::new());
    let drift = spec_from_state(client, &first)
        .map(|s| route53::drift(&s, &observed))
        .unwrap_or_default();
    Some(FailoverDnsModel {
        drift: Val::Known(drift),
        ..first
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls() {
        assert_eq!(
            fqdn("api", "Payments.Example.com."),
            "api.payments.example.com"
        );
        assert_eq!(fqdn("@", "payments.example.com"), "payments.example.com");
        assert_eq!(
            endpoint_url("web-1.us-east-1.elb.amazonaws.com.", "HTTP", 80),
            "http://web-1.us-east-1.elb.amazonaws.com"
        );
        assert_eq!(endpoint_url("lb", "HTTPS", 443), "https://lb");
        assert_eq!(endpoint_url("lb", "HTTP", 8080), "http://lb:8080");
    }
}
