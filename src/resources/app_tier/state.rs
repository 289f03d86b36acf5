//! Between Terraform's model and AWS: the plan refinements, the spec built from a plan, and the
//! state built from what exists.

use std::collections::BTreeSet;

use crate::aws::tags::{is_managed_key, user_tags, Tags};
use crate::aws::{Deadline, Role};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::provider::DrClient;

use super::fleet::{self, ObservedTier, RegionSpec, TierSpec};
use super::{validate, AppTierModel, RegionModel, DEFAULT_INSTANCE_TYPE};

fn side(m: &AppTierModel, role: Role) -> &Val<RegionModel> {
    match role {
        Role::Primary => &m.primary,
        Role::Dr => &m.dr,
    }
}

fn side_mut(m: &mut AppTierModel, role: Role) -> &mut Val<RegionModel> {
    match role {
        Role::Primary => &mut m.primary,
        Role::Dr => &mut m.dr,
    }
}

/// (min size, desired capacity) of a region's group, from the configuration.
fn capacity(m: &AppTierModel, role: Role) -> Option<(i64, i64)> {
    let min = *m.min_size.known()?;
    let desired = *m.desired_capacity.known()?;
    match role {
        Role::Primary => Some((min, desired)),
        Role::Dr => {
            let dr = match &m.dr_desired_capacity {
                Val::Known(n) => *n,
                Val::Null => desired,
                Val::Unknown => return None,
            };
            Some((min.min(dr), dr))
        }
    }
}

/// The plan: names and capacities known now, the AMI kept unless its source changed, and what
/// a template change or a repair will rewrite marked unknown.
pub fn plan(
    client: &DrClient,
    prior: Option<&AppTierModel>,
    mut planned: AppTierModel,
    diags: &mut Diagnostics,
) -> AppTierModel {
    let root = AttributePath::root();
    let id = planned
        .name
        .known()
        .map(|n| format!("{n}-{}", client.environment));
    if let Some(id) = &id {
        validate::id_length(id, &root.attr("name"), diags);
        planned.id = Val::Known(id.clone());
    }
    planned.tags_all = match &planned.tags {
        Val::Unknown => Val::Unknown,
        tags => Val::Known(client.tags_all(tags)),
    };
    let image_source_changed =
        prior.is_some_and(|p| p.image_ssm_parameter != planned.image_ssm_parameter);
    for role in Role::BOTH {
        let region = client.aws.region(role).region.clone();
        let capacity = capacity(&planned, role);
        let prior_side = prior.and_then(|p| side(p, role).known()).cloned();
        let Val::Known(r) = side_mut(&mut planned, role) else {
            continue;
        };
        if let Val::Known(arn) = &r.certificate_arn {
            let path = root
                .attr(if role == Role::Primary {
                    "primary"
                } else {
                    "dr"
                })
                .attr("certificate_arn");
            validate::arn_region(arn, &region, &path, diags);
        }
        r.region = Val::Known(region);
        if let Some(id) = &id {
            r.asg_name = Val::Known(id.clone());
        }
        (r.min_size, r.desired_capacity) = match capacity {
            Some((min, desired)) => (Val::Known(min), Val::Known(desired)),
            None => (Val::Unknown, Val::Unknown),
        };
        r.ami_id = match &r.image_id {
            Val::Known(ami) => Val::Known(ami.clone()),
            Val::Unknown => Val::Unknown,
            Val::Null => match prior_side {
                Some(p)
                    if !image_source_changed
                        && p.image_id.is_null()
                        && p.ami_id.known().is_some_and(|a| !a.is_empty()) =>
                {
                    p.ami_id
                }
                _ => Val::Unknown,
            },
        };
    }
    let Some(prior) = prior else {
        planned.drift = Val::Known(Vec::new());
        return planned;
    };
    let repair = prior.drift.known().is_some_and(|d| !d.is_empty());
    let definition_changed = prior.instance_type != planned.instance_type
        || prior.user_data != planned.user_data
        || prior.root_volume_size != planned.root_volume_size
        || prior.tags_all != planned.tags_all;
    let ami_changed = Role::BOTH.iter().any(|role| {
        let before = side(prior, *role).known().map(|r| r.ami_id.clone());
        let after = side(&planned, *role).known().map(|r| r.ami_id.clone());
        before != after
    });
    if repair {
        planned.drift = Val::Known(Vec::new());
    }
    if repair || definition_changed {
        planned.launch_template_fingerprint = Val::Unknown;
    }
    for role in Role::BOTH {
        let Val::Known(r) = side_mut(&mut planned, role) else {
            continue;
        };
        if repair || definition_changed || ami_changed {
            r.launch_template_version = Val::Unknown;
        }
        if repair {
            // Whatever was missing is rebuilt with new ids.
            for v in [
                &mut r.alb_arn,
                &mut r.alb_dns_name,
                &mut r.alb_zone_id,
                &mut r.alb_security_group_id,
                &mut r.instance_security_group_id,
                &mut r.target_group_arn,
                &mut r.launch_template_id,
                &mut r.instance_profile_arn,
            ] {
                *v = Val::Unknown;
            }
            if r.ami_id.known().is_some_and(|a| a.is_empty()) {
                r.ami_id = Val::Unknown;
            }
        }
    }
    planned
}

/// What the AWS side should build, from a plan or state with known inputs.
pub fn spec(client: &DrClient, m: &AppTierModel) -> Option<TierSpec> {
    let num = |v: &Val<i64>| v.known().map(|n| *n as i32);
    let region = |role: Role| -> Option<RegionSpec> {
        let r = side(m, role).known()?;
        let (min, desired) = capacity(m, role)?;
        Some(RegionSpec {
            vpc_id: r.vpc_id.known()?.clone(),
            public_subnet_ids: r.public_subnet_ids.known()?.clone(),
            private_subnet_ids: r.private_subnet_ids.known()?.clone(),
            ami_id: r.ami_id.known().filter(|a| !a.is_empty()).cloned(),
            certificate_arn: r.certificate_arn.known().cloned(),
            access_logs_bucket: r.access_logs_bucket.known().cloned(),
            desired_capacity: desired as i32,
            min_size: min as i32,
            last_desired_capacity: None,
        })
    };
    Some(TierSpec {
        id: m.id.known()?.clone(),
        name: m.name.known()?.clone(),
        environment: client.environment.clone(),
        instance_type: m.instance_type.known()?.clone(),
        image_parameter: m.image_ssm_parameter.known()?.clone(),
        user_data: m.user_data.known().cloned(),
        root_volume_size: num(&m.root_volume_size)?,
        max_size: num(&m.max_size)?,
        full_capacity: num(&m.desired_capacity)?,
        app_port: num(&m.app_port)?,
        health_check_path: m.health_check_path.known()?.clone(),
        instance_refresh: m.instance_refresh.known().copied().unwrap_or(true),
        deletion_protection: m.deletion_protection.known().copied().unwrap_or(false),
        access_logs_prefix: m.access_logs_prefix.known().cloned().unwrap_or_default(),
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
        primary: region(Role::Primary)?,
        dr: region(Role::Dr)?,
    })
}

/// Records what drpair set last time (the capacities in `recorded`, a state), so a DR group a
/// failover scaled up beyond it is recognized and left alone.
pub fn with_recorded_capacity(mut spec: TierSpec, recorded: &AppTierModel) -> TierSpec {
    for role in Role::BOTH {
        let last = side(recorded, role)
            .known()
            .and_then(|r| r.desired_capacity.known())
            .map(|n| *n as i32);
        match role {
            Role::Primary => spec.primary.last_desired_capacity = last,
            Role::Dr => spec.dr.last_desired_capacity = last,
        }
    }
    spec
}

/// Runs the idempotent ensure and maps the outcome to state. On failure the state records what
/// exists (None when nothing readable does), so destroy can remove it.
pub async fn converge(
    client: &DrClient,
    spec: &TierSpec,
    planned: &AppTierModel,
    deadline: Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Option<AppTierModel> {
    match fleet::ensure(&client.aws, spec, deadline).await {
        Ok(observed) => {
            let left = fleet::observe_drift(spec, &observed);
            if !left.is_empty() {
                tracing::warn!("app tier {} still differs after apply: {left:?}", spec.id);
            }
            let mut model = from_observed(planned, &observed, Vec::new());
            // Tags are written exactly as planned; reading them back is for drift.
            model.tags_all = planned.tags_all.clone();
            Some(model)
        }
        Err((e, partial)) => {
            diags.error(verb, e.to_string());
            partial.map(|o| {
                let drift = fleet::observe_drift(spec, &o);
                from_observed(planned, &o, drift)
            })
        }
    }
}

/// The state of a create that made nothing readable: the id known, every output empty.
pub fn empty(client: &DrClient, planned: AppTierModel) -> AppTierModel {
    let o = ObservedTier {
        primary: fleet::RegionTier {
            region: client.aws.primary.region.clone(),
            ..Default::default()
        },
        dr: fleet::RegionTier {
            region: client.aws.dr.region.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let drift = vec![format!(
        "{}: nothing was created",
        client.aws.primary.region
    )];
    from_observed(&planned, &o, drift)
}

/// Keeps the configured order of a list when AWS holds the same set.
fn same_set_or(base: &Val<Vec<String>>, observed: Vec<String>) -> Val<Vec<String>> {
    match base {
        Val::Known(b)
            if b.iter().collect::<BTreeSet<_>>() == observed.iter().collect::<BTreeSet<_>>() =>
        {
            base.clone()
        }
        Val::Known(b) if observed.is_empty() => Val::Known(b.clone()),
        _ => Val::Known(observed),
    }
}

/// The tags of an object other than drpair's own and AWS's.
fn unmanaged(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(k, _)| !is_managed_key(k) && !fleet::is_aws_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// State from what exists. The primary's sizes, instance type and health check path are read
/// from AWS (so out-of-band changes show as changes); other inputs are kept from `base`.
pub fn from_observed(base: &AppTierModel, o: &ObservedTier, drift: Vec<String>) -> AppTierModel {
    let text = |v: Option<&str>| Val::Known(v.unwrap_or_default().to_owned());
    let region_model = |role: Role| {
        let r = o.region(role);
        let b = side(base, role).known().cloned().unwrap_or_default();
        let vpc = r
            .balancer
            .as_ref()
            .map(|l| l.vpc_id.clone())
            .or_else(|| r.target_group.as_ref().map(|t| t.vpc_id.clone()));
        let (min, desired) = match capacity(base, role) {
            Some((min, desired)) => (Val::Known(min), Val::Known(desired)),
            None => (
                Val::Known(r.group.as_ref().map_or(0, |g| i64::from(g.min_size))),
                Val::Known(
                    r.group
                        .as_ref()
                        .map_or(0, |g| i64::from(g.desired_capacity)),
                ),
            ),
        };
        let template = r.template.as_ref();
        Val::Known(RegionModel {
            vpc_id: match &b.vpc_id {
                Val::Known(v) => Val::Known(v.clone()),
                _ => text(vpc.as_deref()),
            },
            public_subnet_ids: same_set_or(
                &b.public_subnet_ids,
                r.balancer
                    .as_ref()
                    .map(|l| l.subnet_ids.clone())
                    .unwrap_or_default(),
            ),
            private_subnet_ids: same_set_or(
                &b.private_subnet_ids,
                r.group
                    .as_ref()
                    .map(|g| g.subnet_ids.clone())
                    .unwrap_or_default(),
            ),
            image_id: if b.image_id.is_unknown() {
                Val::Null
            } else {
                b.image_id.clone()
            },
            certificate_arn: if b.certificate_arn.is_unknown() {
                Val::Null
            } else {
                b.certificate_arn.clone()
            },
            access_logs_bucket: if b.access_logs_bucket.is_unknown() {
                Val::Null
            } else {
                b.access_logs_bucket.clone()
            },
            region: Val::Known(r.region.clone()),
            ami_id: match template {
                Some(t) => Val::Known(t.data.image_id.clone()),
                None => Val::Known(b.ami_id.known().cloned().unwrap_or_default()),
            },
            alb_arn: text(r.balancer.as_ref().map(|l| l.arn.as_str())),
            alb_dns_name: text(r.balancer.as_ref().map(|l| l.dns_name.as_str())),
            alb_zone_id: text(r.balancer.as_ref().map(|l| l.zone_id.as_str())),
            alb_security_group_id: text(r.alb_security_group_id.as_deref()),
            instance_security_group_id: text(r.instance_security_group_id.as_deref()),
            target_group_arn: text(r.target_group.as_ref().map(|t| t.arn.as_str())),
            asg_name: text(r.group.as_ref().map(|g| g.name.as_str())),
            launch_template_id: text(template.map(|t| t.id.as_str())),
            launch_template_version: Val::Known(template.map_or(0, |t| t.default_version)),
            instance_profile_arn: text(r.instance_profile_arn.as_deref()),
            min_size: min,
            desired_capacity: desired,
        })
    };
    let primary_group = o.primary.group.as_ref();
    let from_group = |f: fn(&fleet::ObservedGroup) -> i32, b: &Val<i64>| match primary_group {
        Some(g) => Val::Known(i64::from(f(g))),
        None => b.clone(),
    };
    let primary_template = o
        .primary
        .template
        .as_ref()
        .filter(|t| !t.data.instance_type.is_empty());
    let tags_source = o
        .primary
        .balancer
        .as_ref()
        .map(|b| &b.tags)
        .or(primary_group.map(|g| &g.tags));
    AppTierModel {
        id: base.id.clone(),
        name: base.name.clone(),
        instance_type: match primary_template {
            Some(t) => Val::Known(t.data.instance_type.clone()),
            None => base.instance_type.clone(),
        },
        image_ssm_parameter: base.image_ssm_parameter.clone(),
        user_data: base.user_data.clone(),
        root_volume_size: base.root_volume_size.clone(),
        min_size: from_group(|g| g.min_size, &base.min_size),
        max_size: from_group(|g| g.max_size, &base.max_size),
        desired_capacity: from_group(|g| g.desired_capacity, &base.desired_capacity),
        dr_desired_capacity: base.dr_desired_capacity.clone(),
        app_port: base.app_port.clone(),
        health_check_path: match &o.primary.target_group {
            Some(tg) if !tg.health_check_path.is_empty() => {
                Val::Known(tg.health_check_path.clone())
            }
            _ => base.health_check_path.clone(),
        },
        instance_refresh: base.instance_refresh.clone(),
        deletion_protection: base.deletion_protection.clone(),
        access_logs_prefix: match &base.access_logs_prefix {
            Val::Unknown => Val::Null,
            v => v.clone(),
        },
        // Not an AWS setting: what the listeners are follows from the certificates.
        allow_plain_http: match &base.allow_plain_http {
            Val::Unknown => Val::Known(false),
            v => v.clone(),
        },
        tags: match &base.tags {
            Val::Known(_) => base.tags.clone(),
            _ => Val::Null,
        },
        tags_all: match tags_source {
            Some(tags) => Val::Known(unmanaged(tags)),
            None => base
                .tags_all
                .known()
                .cloned()
                .map_or(Val::Known(Tags::new()), Val::Known),
        },
        primary: region_model(Role::Primary),
        dr: region_model(Role::Dr),
        launch_template_fingerprint: Val::Known(o.fingerprint.clone().unwrap_or_default()),
        drift: Val::Known(drift),
        timeouts: base.timeouts.clone(),
    }
}

/// State for `terraform import`: the inputs are what the primary region has.
pub fn imported(client: &DrClient, name: &str, id: &str, o: &ObservedTier) -> AppTierModel {
    let p = &o.primary;
    let d = &o.dr;
    let template = p.template.as_ref().or(d.template.as_ref());
    let group = p.group.as_ref().or(d.group.as_ref());
    let target_group = p.target_group.as_ref().or(d.target_group.as_ref());
    let int = |v: Option<i32>, default: i64| Val::Known(v.map_or(default, i64::from));
    let dr_desired = match (p.group.as_ref(), d.group.as_ref()) {
        (Some(pg), Some(dg)) if dg.desired_capacity < pg.desired_capacity => {
            Val::Known(i64::from(dg.desired_capacity))
        }
        _ => Val::Null,
    };
    let own = user_tags(
        &p.balancer
            .as_ref()
            .map(|b| unmanaged(&b.tags))
            .unwrap_or_default(),
        &client.default_tags,
    );
    let region_seed = |r: &fleet::RegionTier| {
        Val::Known(RegionModel {
            vpc_id: Val::Known(
                r.balancer
                    .as_ref()
                    .map(|b| b.vpc_id.clone())
                    .or_else(|| r.target_group.as_ref().map(|t| t.vpc_id.clone()))
                    .unwrap_or_default(),
            ),
            public_subnet_ids: Val::Known(
                r.balancer
                    .as_ref()
                    .map(|b| b.subnet_ids.clone())
                    .unwrap_or_default(),
            ),
            private_subnet_ids: Val::Known(
                r.group
                    .as_ref()
                    .map(|g| g.subnet_ids.clone())
                    .unwrap_or_default(),
            ),
            image_id: Val::Null,
            certificate_arn: Val::from_option(r.certificate_arn().map(str::to_owned)),
            access_logs_bucket: Val::from_option(r.access_logs().map(|(b, _)| b.to_owned())),
            ..RegionModel::default()
        })
    };
    let seed = AppTierModel {
        id: Val::Known(id.to_owned()),
        name: Val::Known(name.to_owned()),
        instance_type: Val::Known(template.map_or_else(
            || DEFAULT_INSTANCE_TYPE.to_owned(),
            |t| t.data.instance_type.clone(),
        )),
        image_ssm_parameter: Val::Known(fleet::DEFAULT_IMAGE_PARAMETER.to_owned()),
        user_data: Val::from_option(template.and_then(|t| t.data.user_data_text())),
        root_volume_size: int(
            template.map(|t| t.data.root_volume_size),
            super::DEFAULT_ROOT_VOLUME_GIB,
        ),
        min_size: int(group.map(|g| g.min_size), 0),
        max_size: int(group.map(|g| g.max_size), 1),
        desired_capacity: int(group.map(|g| g.desired_capacity), 0),
        dr_desired_capacity: dr_desired,
        app_port: int(target_group.map(|t| t.port), super::DEFAULT_APP_PORT),
        health_check_path: Val::Known(
            target_group.map_or_else(|| "/".to_owned(), |t| t.health_check_path.clone()),
        ),
        instance_refresh: Val::Known(true),
        deletion_protection: Val::Known(
            p.balancer
                .as_ref()
                .or(d.balancer.as_ref())
                .and_then(|b| b.attributes.get("deletion_protection.enabled"))
                .is_some_and(|v| v == "true"),
        ),
        access_logs_prefix: Val::from_option(
            p.access_logs()
                .or(d.access_logs())
                .map(|(_, prefix)| prefix.to_owned())
                .filter(|prefix| !prefix.is_empty()),
        ),
        // The opt-out is what a tier serving plain HTTP only says; with an HTTPS listener in
        // either region the certificates are imported instead.
        allow_plain_http: Val::Known(
            p.certificate_arn().is_none() && d.certificate_arn().is_none(),
        ),
        tags: if own.is_empty() {
            Val::Null
        } else {
            Val::Known(own)
        },
        tags_all: Val::Null,
        primary: region_seed(p),
        dr: region_seed(d),
        launch_template_fingerprint: Val::Null,
        drift: Val::Null,
        timeouts: Val::Null,
    };
    let drift = spec(client, &seed)
        .map(|s| fleet::observe_drift(&s, o))
        .unwrap_or_else(|| o.drift.clone());
    from_observed(&seed, o, drift)
}
