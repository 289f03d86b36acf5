//! [`read`]: what exists in both regions, and how it differs from a complete database.

use crate::aws::kms;
use crate::aws::{AwsContext, AwsError, RegionCtx, Role};

use super::find::{
    find_cluster, find_global_cluster, find_instances, find_key, find_parameter_group,
    find_security_group, find_subnet_cidrs, find_subnet_group, instance_info,
};
use super::foundation::key_policy;
use super::secret::{find_secret, names_key, not_ours};
use super::{
    arn_region, Ingress, Names, Observed, RegionObserved, SecurityGroupInfo, Source,
    FORCE_SSL_PARAMETER,
};

/// Reads the database from both regions. `None` only when nothing destroy would remove is left:
/// a database whose clusters are gone while its keys, secret or groups remain (a destroy that
/// stopped half-way, or a deletion out of band) stays in state with its drift, so the next
/// destroy finishes the work and the next apply repairs it; dropping it would leak them.
pub async fn read(ctx: &AwsContext, names: &Names) -> Result<Option<Observed>, AwsError> {
    let observed = Box::pin(load(ctx, names)).await?;
    Ok((!observed.is_empty()).then_some(observed))
}

/// The database to import: `None` when the database itself is gone (no global cluster and no
/// cluster in either region); keys or groups alone are nothing to import.
pub async fn find_database(ctx: &AwsContext, names: &Names) -> Result<Option<Observed>, AwsError> {
    let observed = Box::pin(load(ctx, names)).await?;
    Ok((!observed.database_gone()).then_some(observed))
}

/// Everything the database owns in both regions, gone or not, with the drift computed.
pub(super) async fn load(ctx: &AwsContext, names: &Names) -> Result<Observed, AwsError> {
    let global_id = names.global_cluster();
    let secret_name = names.secret();
    let (primary, dr, global, secret) = tokio::try_join!(
        Box::pin(load_region(&ctx.primary, names)),
        Box::pin(load_region(&ctx.dr, names)),
        find_global_cluster(&ctx.primary, &global_id),
        find_secret(&ctx.primary, &secret_name),
    )?;
    let mut observed = Observed {
        writer_region: global
            .as_ref()
            .and_then(|g| g.writer())
            .and_then(|w| arn_region(&w.cluster_arn))
            .map(str::to_owned),
        global,
        secret,
        primary,
        dr,
        drift: Vec::new(),
    };
    observed.drift = drift(ctx, names, &observed);
    Ok(observed)
}

async fn load_region(rc: &RegionCtx, names: &Names) -> Result<RegionObserved, AwsError> {
    let role = rc.role;
    let cluster_id = names.cluster(role);
    let owner = names.owner();
    let (alias, subnet_group, parameter_group, security_group) = (
        names.key_alias(role),
        names.subnet_group(role),
        names.parameter_group(role),
        names.security_group(role),
    );
    let (key, subnet_group, parameter_group, security_group, cluster) = tokio::try_join!(
        find_key(rc, &alias),
        find_subnet_group(rc, &subnet_group),
        find_parameter_group(rc, &parameter_group),
        find_security_group(rc, &security_group, &owner),
        find_cluster(rc, &cluster_id),
    )?;
    let instances = match &cluster {
        Some(_) => find_instances(rc, &cluster_id)
            .await?
            .iter()
            .map(|i| {
                let id = i.db_instance_identifier().unwrap_or_default();
                instance_info(i, names.instance_number(role, id))
            })
            .filter(|i| !i.is_deleting())
            .collect(),
        None => Vec::new(),
    };
    let subnet_cidrs = match &subnet_group {
        Some(g) => find_subnet_cidrs(rc, &g.subnet_ids).await?,
        None => Vec::new(),
    };
    Ok(RegionObserved {
        region: rc.region.clone(),
        key,
        subnet_group,
        parameter_group,
        security_group,
        subnet_cidrs,
        cluster,
        instances,
    })
}

/// Human-readable differences from a complete database; empty when nothing needs repair.
fn drift(ctx: &AwsContext, names: &Names, o: &Observed) -> Vec<String> {
    let mut drift = Vec::new();
    let global_id = names.global_cluster();
    let secret = names.secret();
    for role in Role::BOTH {
        let r = o.region(role);
        let region = &ctx.region(role).region;
        let alias = names.key_alias(role);
        match r.key.as_ref().map(|k| k.state.as_str()) {
            None => drift.push(format!("{region}: KMS key {alias} is missing")),
            Some("Enabled") => {
                let key = r.key.as_ref();
                let policy = key
                    .and_then(|k| kms::account_of(&k.arn))
                    .map(|account| key_policy(&account, region));
                drift.extend(kms::key_drift_with_policy(
                    region,
                    &alias,
                    key,
                    policy.as_ref(),
                ));
            }
            Some("PendingDeletion") => drift.push(format!(
                "{region}: KMS key {alias} is scheduled for deletion"
            )),
            Some(state) => drift.push(format!("{region}: KMS key {alias} is {state}")),
        }
        if r.subnet_group.is_none() {
            drift.push(format!(
                "{region}: DB subnet group {} is missing",
                names.subnet_group(role)
            ));
        }
        if r.parameter_group.is_none() {
            drift.push(format!(
                "{region}: DB cluster parameter group {} is missing",
                names.parameter_group(role)
            ));
        }
        let sg_name = names.security_group(role);
        match &r.security_group {
            None => drift.push(format!("{region}: security group {sg_name} is missing")),
            Some(sg) => {
                let peer = o.region(role.peer());
                drift.extend(ingress_drift(region, &sg_name, sg, peer));
            }
        }
        match &r.parameter_group {
            Some(g) if !g.force_ssl => drift.push(format!(
                "{region}: DB cluster parameter group {} does not force TLS ({FORCE_SSL_PARAMETER} is not 1)",
                names.parameter_group(role)
            )),
            _ => {}
        }
        let cluster_id = names.cluster(role);
        match &r.cluster {
            None => drift.push(format!("{region}: Aurora cluster {cluster_id} is missing")),
            Some(c) => {
                let member = o.global.as_ref().is_some_and(|g| g.is_member(&c.arn));
                if o.global.is_some() && !member {
                    drift.push(format!(
                        "{region}: Aurora cluster {cluster_id} is not a member of global cluster {global_id}"
                    ));
                }
                if let Some(sg) = &r.security_group {
                    if !c.security_group_ids.contains(&sg.id) {
                        drift.push(format!(
                            "{region}: Aurora cluster {cluster_id} does not use security group {sg_name}"
                        ));
                    }
                }
                let group = names.parameter_group(role);
                if r.parameter_group.is_some() && c.parameter_group != group {
                    drift.push(format!(
                        "{region}: Aurora cluster {cluster_id} does not use parameter group {group}"
                    ));
                }
            }
        }
    }
    if o.global.is_none() {
        drift.push(format!("Aurora global cluster {global_id} is missing"));
    }
    match &o.secret {
        None => drift.push(format!("secret {secret} is missing")),
        Some(s) if s.deleted => drift.push(format!("secret {secret} is scheduled for deletion")),
        Some(s) => {
            if let Some(why) = not_ours(s, &names.owner()) {
                drift.push(format!("secret {secret} is not this database's: {why}"));
            }
            let dr_region = &ctx.dr.region;
            match s.replicas.get(dr_region).map(String::as_str) {
                None => drift.push(format!("secret {secret} has no replica in {dr_region}")),
                Some("Failed") => drift.push(format!(
                    "secret {secret}: replication to {dr_region} failed"
                )),
                Some(_) => {}
            }
            let keys = [
                (Role::Primary, Some(&s.kms_key_id)),
                (Role::Dr, s.replica_keys.get(dr_region)),
            ];
            for (role, found) in keys {
                let (Some(key), Some(found)) = (o.region(role).key.as_ref(), found) else {
                    continue;
                };
                let alias = names.key_alias(role);
                if !names_key(found, &key.arn, &alias) {
                    let region = &ctx.region(role).region;
                    let by = if found.is_empty() {
                        "the AWS managed key aws/secretsmanager"
                    } else {
                        found.as_str()
                    };
                    drift.push(format!(
                        "{region}: secret {secret} is encrypted with {by}, not {alias}"
                    ));
                }
            }
        }
    }
    drift
}

/// How the database's security group differs from "PostgreSQL from the client groups and the
/// peer region's database subnets, nothing else": every other rule (a CIDR block that is not a
/// peer subnet, another port or protocol, an IPv6 range or prefix list) and every peer subnet
/// not let in. Client groups are not drift: state reports them in `client_security_group_ids`,
/// compared with the configuration by the plan.
pub(super) fn ingress_drift(
    region: &str,
    sg_name: &str,
    sg: &SecurityGroupInfo,
    peer: &RegionObserved,
) -> Vec<String> {
    let mut drift = Vec::new();
    for rule in &sg.ingress {
        let expected = rule.is_postgres()
            && match &rule.source {
                Source::Group(_) => true,
                Source::Cidr(c) => peer.subnet_cidrs.contains(c),
                _ => false,
            };
        if !expected {
            drift.push(format!(
                "{region}: security group {sg_name} allows {rule}, which drpair does not manage"
            ));
        }
    }
    for cidr in &peer.subnet_cidrs {
        let wanted = Ingress::postgres(Source::Cidr(cidr.clone()));
        if !sg.ingress.contains(&wanted) {
            drift.push(format!(
                "{region}: security group {sg_name} does not allow PostgreSQL from {cidr} (a database subnet of {})",
                peer.region
            ));
        }
    }
    drift
}
