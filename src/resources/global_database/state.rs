//! Between the Terraform model and the AWS side: the spec a plan asks for, and the state of
//! what exists. Inputs AWS cannot report (or reports differently) are kept from the plan or
//! the prior state.

use std::collections::{BTreeMap, BTreeSet};

use crate::aws::tags::is_managed_key;
use crate::aws::Role;
use crate::framework::Val;
use crate::provider::DrClient;

use super::rds::{version_covers, DatabaseSpec, Names, Observed, RegionObserved, RegionSpec};
use super::{GlobalDatabaseModel, RegionModel};

pub const DEFAULT_RPO_SECONDS: i64 = 60;

pub fn names(client: &DrClient) -> Names {
    Names::new(&client.environment, &client.name_version)
}

/// The list when it and every element are known.
pub fn known_strings(v: &Val<Vec<Val<String>>>) -> Option<Vec<String>> {
    v.known()?.iter().map(|s| s.known().cloned()).collect()
}

pub fn side(m: &GlobalDatabaseModel, role: Role) -> &Val<RegionModel> {
    match role {
        Role::Primary => &m.primary,
        Role::Dr => &m.dr,
    }
}

pub fn side_mut(m: &mut GlobalDatabaseModel, role: Role) -> &mut Val<RegionModel> {
    match role {
        Role::Primary => &mut m.primary,
        Role::Dr => &mut m.dr,
    }
}

/// The spec of a plan whose inputs are all known.
pub fn spec(client: &DrClient, m: &GlobalDatabaseModel) -> Option<DatabaseSpec> {
    let region = |r: &Val<RegionModel>| {
        let r = r.known()?;
        Some(RegionSpec {
            subnet_ids: known_strings(&r.subnet_ids)?,
            instance_count: u32::try_from(*r.instance_count.known()?).ok()?,
        })
    };
    Some(DatabaseSpec {
        names: names(client),
        engine_version: m.engine_version.known()?.clone(),
        database_name: m.database_name.known()?.clone(),
        master_username: m.master_username.known()?.clone(),
        instance_class: m.instance_class.known()?.clone(),
        primary: region(&m.primary)?,
        dr: region(&m.dr)?,
        rpo_target_seconds: m
            .rpo_target_seconds
            .known()
            .copied()
            .unwrap_or(DEFAULT_RPO_SECONDS),
        deletion_protection: m.deletion_protection.known().copied().unwrap_or(true),
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
    })
}

pub fn merged_tags(
    client: &DrClient,
    tags: &Val<BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut all = client.default_tags.clone();
    if let Val::Known(t) = tags {
        all.extend(t.clone());
    }
    all
}

/// The tags that are the resource's own rather than the provider's defaults.
pub fn own_tags(client: &DrClient, all: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    all.iter()
        .filter(|(k, v)| client.default_tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// State from what exists in AWS, with `base` (plan, prior state or an import seed) for what
/// AWS cannot tell.
pub fn from_observed(
    client: &DrClient,
    base: &GlobalDatabaseModel,
    o: &Observed,
) -> GlobalDatabaseModel {
    let names = names(client);
    let mut drift = o.drift.clone();
    let clusters = || {
        [&o.primary, &o.dr]
            .into_iter()
            .filter_map(|r| r.cluster.as_ref())
    };

    let actual_version = o
        .global
        .as_ref()
        .map(|g| g.engine_version.clone())
        .filter(|v| !v.is_empty())
        .or_else(|| clusters().map(|c| c.engine_version.clone()).next());
    let engine_version = match (&base.engine_version, actual_version) {
        (Val::Known(configured), Some(actual)) if version_covers(&actual, configured) => {
            Val::Known(configured.clone())
        }
        (_, Some(actual)) => Val::Known(actual),
        (base, None) => base.clone(),
    };
    let database_name = o
        .global
        .as_ref()
        .and_then(|g| g.database_name.clone())
        .or_else(|| clusters().find_map(|c| c.database_name.clone()))
        .map_or_else(|| base.database_name.clone(), Val::Known);
    let master_username = clusters()
        .find_map(|c| c.master_username.clone())
        .map_or_else(|| base.master_username.clone(), Val::Known);

    let classes: Vec<&String> = [&o.primary, &o.dr]
        .iter()
        .flat_map(|r| r.instances.iter().map(|i| &i.class))
        .collect();
    let instance_class = match &base.instance_class {
        Val::Known(c) => Val::Known(
            classes
                .iter()
                .find(|k| **k != c)
                .map_or_else(|| c.clone(), |k| (*k).clone()),
        ),
        other => classes
            .first()
            .map_or_else(|| other.clone(), |k| Val::Known((*k).clone())),
    };

    let protections: Vec<bool> = o
        .global
        .iter()
        .map(|g| g.deletion_protection)
        .chain(clusters().map(|c| c.deletion_protection))
        .collect();
    let deletion_protection = match &base.deletion_protection {
        Val::Known(p) => Val::Known(protections.iter().find(|x| *x != p).copied().unwrap_or(*p)),
        other => protections
            .first()
            .map_or_else(|| other.clone(), |p| Val::Known(*p)),
    };

    let writer_group = |r: &RegionObserved| r.parameter_group.as_ref().and_then(|g| g.rpo_seconds);
    let writer_first = match o.writer_region.as_deref() {
        Some(r) if r == o.dr.region => [&o.dr, &o.primary],
        _ => [&o.primary, &o.dr],
    };
    let rpo_target_seconds = Val::from_option(writer_first.iter().find_map(|r| writer_group(r)));

    let tags_all = clusters()
        .next()
        .map(|c| {
            c.tags
                .iter()
                .filter(|(k, _)| !is_managed_key(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .map_or_else(|| base.tags_all.clone(), Val::Known);
    let tags = match &base.tags {
        Val::Known(_) => base.tags.clone(),
        _ => Val::Null,
    };

    let mut region_model = |role: Role| {
        let r = o.region(role);
        let base_side = side(base, role).known();
        let numbers: BTreeSet<u32> = r.instances.iter().filter_map(|i| i.number).collect();
        let count = numbers.len() as u32;
        if numbers != (1..=count).collect() {
            drift.push(format!(
                "{}: the instances of {} are not numbered 1 to {count}",
                r.region,
                names.cluster(role)
            ));
        }
        let base_subnets = base_side.and_then(|b| known_strings(&b.subnet_ids));
        let subnet_ids = match (&r.subnet_group, base_subnets) {
            (Some(g), Some(b)) if same_set(&g.subnet_ids, &b) => b,
            (Some(g), _) => {
                let mut ids = g.subnet_ids.clone();
                ids.sort();
                ids
            }
            (None, Some(b)) => b,
            (None, None) => Vec::new(),
        };
        let cluster = r.cluster.as_ref();
        let text = |s: Option<&String>| Val::Known(s.cloned().unwrap_or_default());
        Val::Known(RegionModel {
            subnet_ids: Val::Known(subnet_ids.into_iter().map(Val::Known).collect()),
            instance_count: Val::Known(i64::from(count)),
            region: Val::Known(client.aws.region(role).region.clone()),
            cluster_identifier: Val::Known(names.cluster(role)),
            cluster_arn: text(cluster.map(|c| &c.arn)),
            endpoint: text(cluster.map(|c| &c.endpoint)),
            reader_endpoint: text(cluster.map(|c| &c.reader_endpoint)),
            kms_key_arn: text(r.key.as_ref().map(|k| &k.arn)),
            security_group_id: text(r.security_group.as_ref().map(|s| &s.id)),
        })
    };
    let primary = region_model(Role::Primary);
    let dr = region_model(Role::Dr);

    GlobalDatabaseModel {
        id: Val::Known(names.global_cluster()),
        engine_version,
        database_name,
        master_username,
        instance_class,
        primary,
        dr,
        rpo_target_seconds,
        deletion_protection,
        skip_final_snapshot: base.skip_final_snapshot.clone().or(Val::Known(false)),
        tags,
        tags_all,
        global_cluster_identifier: Val::Known(names.global_cluster()),
        secret_arn: Val::Known(o.secret.as_ref().map(|s| s.arn.clone()).unwrap_or_default()),
        writer_region: Val::Known(
            o.writer_region
                .clone()
                .or_else(|| base.writer_region.known().cloned())
                .unwrap_or_default(),
        ),
        drift: Val::Known(drift),
        timeouts: base.timeouts.clone(),
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let a: BTreeSet<&String> = a.iter().collect();
    let b: BTreeSet<&String> = b.iter().collect();
    a == b
}
