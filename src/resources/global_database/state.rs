//! Between the Terraform model and the AWS side: the spec a plan asks for, and the state of
//! what exists. Inputs AWS cannot report (or reports differently) are kept from the plan or
//! the prior state.

use std::collections::BTreeSet;

use crate::aws::tags::is_managed_key;
use crate::aws::Role;
use crate::framework::Val;
use crate::provider::DrClient;

use super::rds::{
    version_covers, DatabaseSpec, Names, Observed, RegionObserved, RegionSpec, RPO_PARAMETER,
};
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
            client_security_group_ids: match &r.client_security_group_ids {
                Val::Null => Vec::new(),
                groups => known_strings(groups)?,
            },
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

    let rpo_target_seconds = rpo_target(&names, base, o, &mut drift);

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
        // The groups the security group lets in: what AWS has, in the configuration's order
        // when they are the same set; null stays null while none is let in.
        let base_clients = base_side
            .map(|b| b.client_security_group_ids.clone())
            .unwrap_or(Val::Null);
        let client_security_group_ids = match (&r.security_group, &base_clients) {
            (None, _) => base_clients.clone(),
            (Some(sg), base) => {
                let groups = sg.client_groups();
                match known_strings(base) {
                    Some(b) if same_set(&groups, &b) => base.clone(),
                    _ if groups.is_empty() && matches!(base, Val::Null) => Val::Null,
                    _ => Val::Known(groups.into_iter().map(Val::Known).collect()),
                }
            }
        };
        let cluster = r.cluster.as_ref();
        let text = |s: Option<&String>| Val::Known(s.cloned().unwrap_or_default());
        Val::Known(RegionModel {
            subnet_ids: Val::Known(subnet_ids.into_iter().map(Val::Known).collect()),
            instance_count: Val::Known(i64::from(count)),
            client_security_group_ids,
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
        secret_recovery_window_days: base
            .secret_recovery_window_days
            .clone()
            .or(Val::Known(super::rds::DEFAULT_RECOVERY_WINDOW_DAYS)),
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
        global_writer_endpoint: Val::Known(
            o.global
                .as_ref()
                .and_then(|g| g.endpoint.clone())
                .unwrap_or_default(),
        ),
        drift: Val::Known(drift),
        timeouts: base.timeouts.clone(),
    }
}

/// Why the managed RPO is held off the writer now (no secondary is synchronized), when the
/// writer's group does not carry it: a warning for the user, not drift (there is nothing an
/// apply may do until a secondary is back in sync).
pub fn rpo_held_off(o: &Observed) -> Option<String> {
    let why = o.global.as_ref()?.rpo_blocker()?;
    let writer = writer_side(o)?;
    if writer.parameter_group.as_ref()?.rpo_seconds.is_some() {
        return None;
    }
    Some(format!("{RPO_PARAMETER} is not set on the writer's parameter group in {}: {why}. With it, Aurora would pause the writer's commits until a secondary is within the RPO, and none can be now. The first apply after a secondary is synchronized again sets it; until then the RPO is not enforced.", writer.region))
}

fn writer_side(o: &Observed) -> Option<&RegionObserved> {
    let region = o.writer_region.as_deref()?;
    [&o.primary, &o.dr].into_iter().find(|r| r.region == region)
}

/// `rpo_target_seconds` as AWS holds it: the writer's group, else the other group (after a
/// switchover or failover the managed RPO stays where it was until an apply moves it, which is
/// not a change); held at `base` while no secondary is synchronized and no group sets it (an
/// apply could not set it anyway). A writer's group that sets it while no secondary is
/// synchronized is drift: Aurora pauses that writer's commits, and apply removes it.
fn rpo_target(
    names: &Names,
    base: &GlobalDatabaseModel,
    o: &Observed,
    drift: &mut Vec<String>,
) -> Val<i64> {
    let group = |r: &RegionObserved| r.parameter_group.as_ref().and_then(|g| g.rpo_seconds);
    let writer = writer_side(o);
    let peer = [&o.primary, &o.dr]
        .into_iter()
        .find(|r| writer.is_none_or(|w| w.region != r.region));
    let blocker = o.global.as_ref().and_then(|g| g.rpo_blocker());
    match (writer.and_then(group), peer.and_then(group), blocker) {
        (Some(v), _, Some(why)) => {
            let w = writer.map(|w| w.region.as_str()).unwrap_or_default();
            let role = if o.primary.region == w {
                Role::Primary
            } else {
                Role::Dr
            };
            drift.push(format!(
                "{w}: {RPO_PARAMETER} is set on the writer's parameter group {} although {why}: Aurora pauses the writer's commits while no secondary is within the RPO; apply removes it until a secondary is synchronized",
                names.parameter_group(role)
            ));
            Val::Known(v)
        }
        (Some(v), _, None) | (None, Some(v), _) => Val::Known(v),
        (None, None, Some(_)) => base.rpo_target_seconds.clone(),
        (None, None, None) => Val::Null,
    }
}

fn same_set(a: &[String], b: &[String]) -> bool {
    let a: BTreeSet<&String> = a.iter().collect();
    let b: BTreeSet<&String> = b.iter().collect();
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::{AwsContext, AwsSettings};
    use crate::resources::global_database::rds::{
        ClusterInfo, GlobalInfo, GlobalMember, InstanceInfo, ParameterGroupInfo, SubnetGroupInfo,
    };

    async fn client() -> DrClient {
        let aws = AwsContext::load(&AwsSettings {
            primary_region: "us-east-1".into(),
            dr_region: "us-east-2".into(),
            endpoint_url: Some("http://127.0.0.1:1".into()),
            ..AwsSettings::default()
        })
        .await
        .unwrap();
        DrClient {
            aws,
            environment: "dev".into(),
            name_version: "v2".into(),
            default_tags: [("CostCenter".to_string(), "payments".to_string())].into(),
        }
    }

    fn region_model(subnets: &[&str], count: i64) -> Val<RegionModel> {
        Val::Known(RegionModel {
            subnet_ids: Val::Known(subnets.iter().map(|s| Val::Known(s.to_string())).collect()),
            instance_count: Val::Known(count),
            ..RegionModel::default()
        })
    }

    fn planned() -> GlobalDatabaseModel {
        GlobalDatabaseModel {
            engine_version: Val::Known("14.9".into()),
            database_name: Val::Known("payments".into()),
            master_username: Val::Known("payments_admin".into()),
            instance_class: Val::Known("db.r6g.large".into()),
            primary: region_model(&["subnet-b", "subnet-a"], 2),
            dr: region_model(&["subnet-c", "subnet-d"], 1),
            rpo_target_seconds: Val::Known(60),
            deletion_protection: Val::Known(true),
            skip_final_snapshot: Val::Known(false),
            ..GlobalDatabaseModel::default()
        }
    }

    fn region(region: &str, role: Role, count: u32, rpo: Option<i64>) -> RegionObserved {
        let names = Names::new("dev", "v2");
        let id = names.cluster(role);
        RegionObserved {
            region: region.into(),
            subnet_group: Some(SubnetGroupInfo {
                subnet_ids: match role {
                    Role::Primary => vec!["subnet-a".into(), "subnet-b".into()],
                    Role::Dr => vec!["subnet-d".into(), "subnet-c".into()],
                },
                ..SubnetGroupInfo::default()
            }),
            parameter_group: Some(ParameterGroupInfo {
                rpo_seconds: rpo,
                ..ParameterGroupInfo::default()
            }),
            cluster: Some(ClusterInfo {
                id: id.clone(),
                arn: format!("arn:aws:rds:{region}:1:cluster:{id}"),
                engine_version: "14.9".into(),
                deletion_protection: true,
                database_name: Some("payments".into()),
                master_username: Some("payments_admin".into()),
                tags: [
                    ("CostCenter".to_string(), "payments".to_string()),
                    ("DR-Role".to_string(), role.tag_value().to_string()),
                ]
                .into(),
                ..ClusterInfo::default()
            }),
            instances: (1..=count)
                .map(|n| InstanceInfo {
                    id: names.instance(role, n),
                    class: "db.r6g.large".into(),
                    status: "available".into(),
                    number: Some(n),
                    ..InstanceInfo::default()
                })
                .collect(),
            ..RegionObserved::default()
        }
    }

    const GLOBAL_ENDPOINT: &str =
        "global-db-cluster-v2-dev.global-abc123def456.global.rds.amazonaws.com";

    fn observed(writer: &str) -> Observed {
        Observed {
            global: Some(GlobalInfo {
                engine_version: "14.9".into(),
                database_name: Some("payments".into()),
                deletion_protection: true,
                members: vec![
                    GlobalMember {
                        cluster_arn: format!("arn:aws:rds:{writer}:1:cluster:x"),
                        is_writer: true,
                        synchronization_status: None,
                    },
                    GlobalMember {
                        cluster_arn: "arn:aws:rds:elsewhere:1:cluster:y".into(),
                        is_writer: false,
                        synchronization_status: Some("connected".into()),
                    },
                ],
                endpoint: Some(GLOBAL_ENDPOINT.into()),
                ..GlobalInfo::default()
            }),
            primary: region("us-east-1", Role::Primary, 2, Some(60)),
            dr: region("us-east-2", Role::Dr, 1, None),
            writer_region: Some(writer.into()),
            ..Observed::default()
        }
    }

    #[tokio::test]
    async fn a_complete_database_reads_back_as_planned() {
        let client = client().await;
        let plan = planned();
        let state = from_observed(&client, &plan, &observed("us-east-1"));
        assert_eq!(state.engine_version, plan.engine_version);
        assert_eq!(state.rpo_target_seconds, Val::Known(60));
        assert_eq!(state.deletion_protection, Val::Known(true));
        assert_eq!(state.writer_region, Val::Known("us-east-1".into()));
        assert_eq!(
            state.global_writer_endpoint,
            Val::Known(GLOBAL_ENDPOINT.into())
        );
        assert_eq!(state.drift, Val::Known(vec![]));
        let primary = state.primary.known().unwrap();
        // Same set, the plan's order kept: no perpetual diff.
        assert_eq!(primary.subnet_ids, plan.primary.known().unwrap().subnet_ids);
        assert_eq!(primary.instance_count, Val::Known(2));
        assert_eq!(
            primary.cluster_identifier,
            Val::Known("primary-db-cluster-v2-dev".into())
        );
        assert_eq!(
            state.tags_all,
            Val::Known([("CostCenter".to_string(), "payments".to_string())].into())
        );
    }

    #[tokio::test]
    async fn after_a_failover_nothing_but_the_writer_changes() {
        let client = client().await;
        let plan = planned();
        let before = from_observed(&client, &plan, &observed("us-east-1"));
        let after = from_observed(&client, &before, &observed("us-east-2"));
        assert_eq!(after.writer_region, Val::Known("us-east-2".into()));
        // Applications keep the global writer endpoint: it follows the writer.
        assert_eq!(after.global_writer_endpoint, before.global_writer_endpoint);
        // The RPO is still read from the former writer's group until an apply moves it.
        assert_eq!(after.rpo_target_seconds, before.rpo_target_seconds);
        assert_eq!(after.primary, before.primary);
        assert_eq!(after.dr, before.dr);
        // Once moved, the new writer's group is the one that counts.
        let mut moved = observed("us-east-2");
        moved.primary.parameter_group.as_mut().unwrap().rpo_seconds = None;
        moved.dr.parameter_group.as_mut().unwrap().rpo_seconds = Some(45);
        assert_eq!(
            from_observed(&client, &before, &moved).rpo_target_seconds,
            Val::Known(45)
        );
    }

    /// After a failover while the old primary is out (or being rebuilt): no secondary in sync.
    fn failed_over(dr_rpo: Option<i64>, primary_rpo: Option<i64>) -> Observed {
        let mut o = observed("us-east-2");
        o.global.as_mut().unwrap().members[1].synchronization_status =
            Some("pending-resync".into());
        o.dr.parameter_group.as_mut().unwrap().rpo_seconds = dr_rpo;
        o.primary.parameter_group.as_mut().unwrap().rpo_seconds = primary_rpo;
        o
    }

    #[tokio::test]
    async fn the_managed_rpo_is_held_off_a_lone_writer_without_a_change() {
        let client = client().await;
        let plan = planned();
        // Right after the failover: the old primary's group still says 60; nothing to do.
        let o = failed_over(None, Some(60));
        let state = from_observed(&client, &plan, &o);
        assert_eq!(state.rpo_target_seconds, Val::Known(60));
        assert_eq!(state.drift, Val::Known(vec![]));
        let why = rpo_held_off(&o).unwrap();
        assert!(
            why.contains("us-east-2") && why.contains("pending-resync"),
            "{why}"
        );
        // After an apply took it off every group: still the configured value, no perpetual diff.
        let o = failed_over(None, None);
        assert_eq!(
            from_observed(&client, &plan, &o).rpo_target_seconds,
            Val::Known(60)
        );
        // Set on the lone writer (by hand, or by an older provider): drift to remove it.
        let o = failed_over(Some(60), None);
        let drift = from_observed(&client, &plan, &o)
            .drift
            .known()
            .cloned()
            .unwrap();
        assert!(
            drift.iter().any(|d| d.starts_with("us-east-2: rds.global_db_rpo is set on the writer's parameter group dr-db-cluster-params-v2-dev although no secondary")),
            "{drift:?}"
        );
        assert_eq!(rpo_held_off(&o), None);
        // In sync again and set on no group: a change, which the next apply makes.
        let mut o = observed("us-east-2");
        o.primary.parameter_group.as_mut().unwrap().rpo_seconds = None;
        assert_eq!(
            from_observed(&client, &plan, &o).rpo_target_seconds,
            Val::Null
        );
        assert_eq!(rpo_held_off(&o), None);
    }

    #[tokio::test]
    async fn differences_show_as_changes_or_drift() {
        let client = client().await;
        let plan = planned();
        let mut o = observed("us-east-1");
        o.global.as_mut().unwrap().engine_version = "14.12".into();
        o.dr.cluster.as_mut().unwrap().deletion_protection = false;
        o.primary.instances[1].class = "db.r6g.xlarge".into();
        o.primary.instances.remove(0);
        o.dr.cluster = None;
        o.dr.instances.clear();
        let state = from_observed(&client, &plan, &o);
        // A newer minor version AWS applied is not a change.
        assert_eq!(state.engine_version, Val::Known("14.9".into()));
        assert_eq!(state.instance_class, Val::Known("db.r6g.xlarge".into()));
        let primary = state.primary.known().unwrap();
        assert_eq!(primary.instance_count, Val::Known(1));
        let dr = state.dr.known().unwrap();
        assert_eq!(dr.instance_count, Val::Known(0));
        assert_eq!(dr.cluster_arn, Val::Known(String::new()));
        let drift = state.drift.known().unwrap();
        assert!(
            drift.iter().any(|d| d.contains("not numbered 1 to 1")),
            "{drift:?}"
        );
        // A major version is reported as it is.
        let mut o = observed("us-east-1");
        o.global.as_mut().unwrap().engine_version = "15.4".into();
        assert_eq!(
            from_observed(&client, &plan, &o).engine_version,
            Val::Known("15.4".into())
        );
    }

    #[tokio::test]
    async fn spec_needs_every_input_known() {
        let client = client().await;
        let mut plan = planned();
        let spec = spec(&client, &plan).unwrap();
        assert_eq!(spec.primary.subnet_ids, vec!["subnet-b", "subnet-a"]);
        assert_eq!(spec.names.global_cluster(), "global-db-cluster-v2-dev");
        if let Val::Known(r) = &mut plan.dr {
            r.subnet_ids = Val::Known(vec![Val::Known("subnet-c".into()), Val::Unknown]);
        }
        assert!(super::spec(&client, &plan).is_none());
    }
}
