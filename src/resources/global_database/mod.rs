//! `drpair_global_database`: an Aurora PostgreSQL 14 global database across the primary and
//! the DR region: KMS keys, the replicated master secret, subnet, security and parameter
//! groups, the global cluster and a cluster with instances in each region.
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update, delete, import.
//! The AWS work is in [`rds`], the checks in [`validate`], the model ↔ AWS mapping in [`state`].

pub mod rds;
pub mod state;
pub mod validate;

use crate::aws::Role;
use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::value::{Number, Value};
use crate::framework::{AttributePath, Diagnostics, Type, Val};
use crate::provider::DrClient;
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use state::{from_observed, known_strings, names, side, side_mut, spec};
use std::collections::BTreeMap;
use std::time::Duration;

/// Creating a global cluster with instances in two regions takes 30-60 minutes on AWS.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct GlobalDatabaseModel {
    pub id: Val<String>,
    pub engine_version: Val<String>,
    pub database_name: Val<String>,
    pub master_username: Val<String>,
    pub instance_class: Val<String>,
    pub primary: Val<RegionModel>,
    pub dr: Val<RegionModel>,
    pub rpo_target_seconds: Val<i64>,
    pub deletion_protection: Val<bool>,
    pub skip_final_snapshot: Val<bool>,
    pub secret_recovery_window_days: Val<i64>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub global_cluster_identifier: Val<String>,
    pub secret_arn: Val<String>,
    pub writer_region: Val<String>,
    pub global_writer_endpoint: Val<String>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionModel {
    pub subnet_ids: Val<Vec<Val<String>>>,
    pub instance_count: Val<i64>,
    pub client_security_group_ids: Val<Vec<Val<String>>>,
    pub region: Val<String>,
    pub cluster_identifier: Val<String>,
    pub cluster_arn: Val<String>,
    pub endpoint: Val<String>,
    pub reader_endpoint: Val<String>,
    pub kms_key_arn: Val<String>,
    pub security_group_id: Val<String>,
}

pub struct GlobalDatabase;

fn region_attribute(name: &str, what: &str, cluster: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::new("subnet_ids", Type::Set(Box::new(Type::String))).required().description(format!(
                "Subnets of the {what} region for the DB subnet group (a set: order does not matter): at least two, in at least two availability zones of one VPC (typically the network's `private_subnet_ids`). The other region's security group lets PostgreSQL in from these subnets' CIDR blocks (clients that reach this database across the VPC peering after a failover). Changed in place."
            )),
            Attribute::number("instance_count").required().description(format!(
                "Instances in the {what} cluster, 1 to 16, named `{cluster}-1` … `{cluster}-N`. Changed in place: higher numbers are removed first."
            )),
            Attribute::new("client_security_group_ids", Type::Set(Box::new(Type::String))).optional().description(format!(
                "Security groups in the {what} region's VPC whose members may connect to this cluster on PostgreSQL's port (typically the app tier's `instance_security_group_id`). The cluster's security group lets in these groups and the other region's database subnets, nothing else: any other ingress rule (a CIDR block, another port, a group added outside Terraform) is reported in `drift` (groups show as a change of this attribute) and removed by apply. Unset: no group of this region may connect. Changed in place."
            )),
            Attribute::string("region").computed().description("The AWS region of this side."),
            Attribute::string("cluster_identifier").computed().description(format!("`{cluster}`. It keeps meaning this region's cluster after a failover; see `writer_region` for the current writer.")),
            Attribute::string("cluster_arn").computed().description("ARN of the cluster."),
            Attribute::string("endpoint").computed().description("The cluster endpoint (the writer while this region is the writer)."),
            Attribute::string("reader_endpoint").computed().description("The cluster's reader endpoint."),
            Attribute::string("kms_key_arn").computed().description("The customer-managed KMS key encrypting this region's storage (and, in the primary, the secret)."),
            Attribute::string("security_group_id").computed().description("The security group of the cluster: PostgreSQL (5432) from `client_security_group_ids` and the other region's database subnets only."),
        ],
    )
    .required()
    .description(format!("The {what} region's cluster: its subnets and instance count in, the ids and endpoints of what was built there out."))
}

#[async_trait]
impl Resource for GlobalDatabase {
    type Model = GlobalDatabaseModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_global_database"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("An Aurora PostgreSQL 14 global database: `global-db-cluster-v2-{env}` with `primary-db-cluster-v2-{env}` (writer) in the primary region and `dr-db-cluster-v2-{env}` (secondary) in the DR region, each with its instances, customer-managed KMS key, DB subnet group, security group and cluster parameter group. The master password is generated by Secrets Manager into `db-password-v2-{env}` (replicated to the DR region) and never passes through Terraform state, plan or logs. Role-aware: after a failover `writer_region` changes and the plan stays empty. Destroy detaches the secondary, waits until it stands alone and removes everything in one run.")
                .attr(Attribute::string("id").computed().description("The global cluster identifier; the import id."))
                .attr(Attribute::string("engine_version").required().description(
                    "Aurora PostgreSQL version, 14.x only (e.g. `14.9`). A newer minor version is applied in place (secondary first); minor upgrades AWS applies by itself do not show as a change.",
                ))
                .attr(Attribute::string("database_name").required().requires_replace().description(
                    "Name of the database created in the cluster. Aurora creates it once, with the cluster, and cannot rename it: changing it replaces the database.",
                ))
                .attr(Attribute::string("master_username").required().requires_replace().description(
                    "Master user name. Aurora cannot change the master user of an existing cluster: changing it replaces the database. Its password is in the secret `secret_arn`.",
                ))
                .attr(Attribute::string("instance_class").required().description(
                    "Instance class of every instance in both regions, `db.<family>.<size>` (e.g. `db.r6g.large`). Aurora global databases need a memory-optimized class, db.r5 or newer (`db.r5`, `db.r6g`, `db.r6i`, `db.r7g`, `db.r8g`, `db.r6gd`, ...) or `db.x2g`; burstable `db.t*` and other classes are rejected at plan. Changed in place, readers before writers.",
                ))
                .attr(region_attribute("primary", "primary", "primary-db-cluster-v2-{env}"))
                .attr(region_attribute("dr", "DR", "dr-db-cluster-v2-{env}"))
                .attr(
                    Attribute::number("rpo_target_seconds")
                        .default(Value::Number(Number::Int(state::DEFAULT_RPO_SECONDS)))
                        .description("Recovery point objective enforced by Aurora PostgreSQL's managed RPO (`rds.global_db_rpo`, at least 20, default 60): when no secondary is within it, commits on the writer pause. So drpair sets it on the writer's cluster parameter group only, and only while at least one secondary is synchronized with the writer (`SynchronizationStatus` `connected`): never on a secondary's group (a secondary promoted by a failover must not start out pausing), and not on a writer left alone — after a failover, while the old primary's region is down or its cluster is being rebuilt, an apply leaves it off the new writer (a warning says why; the RPO is not enforced meanwhile) and the first apply after a secondary is back in sync sets it. After a switchover or failover it stays where it was (not a change) until an apply moves it to the new writer. Set on a lone writer outside drpair, it shows in `drift` and apply removes it. Changed in place."),
                )
                .attr(Attribute::bool("deletion_protection").default(Value::Bool(true)).description(
                    "Protects the global cluster and both clusters from deletion (default true); while true, destroy fails with an explanation. Changed in place.",
                ))
                .attr(Attribute::bool("skip_final_snapshot").default(Value::Bool(false)).description(
                    "Skip the final snapshot `{cluster}-final-{timestamp}` of each cluster on destroy (default false). When snapshots are taken, the KMS keys encrypting them are kept so they stay restorable. Not stored in AWS: an import sets it to false.",
                ))
                .attr(Attribute::number("secret_recovery_window_days").default(Value::Number(Number::Int(rds::DEFAULT_RECOVERY_WINDOW_DAYS))).description(
                    "Days Secrets Manager keeps the master secret `db-password-v2-{env}` recoverable after destroy (RestoreSecret), 7 to 30, default 30 (AWS's default); 0 deletes it at once with no recovery (ForceDeleteWithoutRecovery), for short-lived test environments only. While it is recoverable, a new database of the same name restores and reuses it. Destroy deletes the secret only if it carries this database's owner tag. Not stored in AWS: an import sets it to 30.",
                ))
                .attr(Attribute::string_map("tags").optional().description("Tags for every object of the database, on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the database's objects except those drpair manages: `default_tags` merged with `tags`."))
                .attr(Attribute::string("global_cluster_identifier").computed().description("`global-db-cluster-v2-{env}`."))
                .attr(Attribute::string("secret_arn").computed().description("ARN of the Secrets Manager secret `db-password-v2-{env}` holding the master credentials (JSON with `username` and `password`), replicated to the DR region."))
                .attr(Attribute::string("writer_region").computed().description("The region whose cluster currently accepts writes. It changes after a failover or switchover; that is not drift and plans no change."))
                .attr(Attribute::string("global_writer_endpoint").computed().description("The global database's writer endpoint (`global-db-cluster-v2-{env}.global-….global.rds.amazonaws.com`): Aurora points it at the current writer, so applications keep one connection string through switchovers and failovers. It stays the same after a failover (no plan change); it changes only if the global cluster is rebuilt."))
                .attr(Attribute::string_list("drift").computed().description(
                    "Parts found missing or broken outside Terraform at the last refresh (a deleted cluster, key, secret replica, security group rule…). A non-empty list plans a repair; apply rebuilds what is missing and leaves it empty.",
                ))
                .attr(timeouts::attribute("create 120m, update 120m, delete 120m")),
        )
    }

    fn validate(&self, config: &GlobalDatabaseModel, diags: &mut Diagnostics) {
        validate::validate(config, diags);
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&GlobalDatabaseModel>,
        mut planned: GlobalDatabaseModel,
        diags: &mut Diagnostics,
    ) -> GlobalDatabaseModel {
        let names = names(client);
        check_identifiers(client, &planned, diags);
        planned.id = Val::Known(names.global_cluster());
        planned.global_cluster_identifier = Val::Known(names.global_cluster());
        planned.tags_all = match &planned.tags {
            Val::Unknown => Val::Unknown,
            tags => Val::Known(client.tags_all(tags)),
        };
        for role in Role::BOTH {
            if let Val::Known(r) = side_mut(&mut planned, role) {
                r.region = Val::Known(client.aws.region(role).region.clone());
                r.cluster_identifier = Val::Known(names.cluster(role));
            }
            let changed = prior.is_none_or(|p| {
                side(p, role).known().map(|r| &r.subnet_ids)
                    != side(&planned, role).known().map(|r| &r.subnet_ids)
            });
            if changed {
                check_subnets(client, &planned, role, diags).await;
            }
        }
        match prior {
            None => {
                planned.drift = Val::Known(Vec::new());
                planned.writer_region = Val::Known(client.aws.primary.region.clone());
            }
            Some(prior) if prior.drift.known().is_some_and(|d| !d.is_empty()) => {
                // Repair: what is rebuilt may get new ids and endpoints. Drift entries name
                // their region, so a side that lost nothing keeps its values.
                let drift = prior.drift.known().cloned().unwrap_or_default();
                planned.drift = Val::Known(Vec::new());
                if drift
                    .iter()
                    .any(|d| d.starts_with("Aurora global cluster "))
                {
                    planned.global_writer_endpoint = Val::Unknown;
                }
                if drift.iter().any(|d| d.starts_with("secret ")) {
                    planned.secret_arn = Val::Unknown;
                }
                for role in Role::BOTH {
                    let region = format!("{}:", client.aws.region(role).region);
                    if !drift.iter().any(|d| d.starts_with(&region)) {
                        continue;
                    }
                    if let Val::Known(r) = side_mut(&mut planned, role) {
                        r.cluster_arn = Val::Unknown;
                        r.endpoint = Val::Unknown;
                        r.reader_endpoint = Val::Unknown;
                        r.kms_key_arn = Val::Unknown;
                        r.security_group_id = Val::Unknown;
                    }
                }
            }
            Some(_) => {}
        }
        planned
    }

    async fn create(
        &self,
        client: &DrClient,
        planned: GlobalDatabaseModel,
        diags: &mut Diagnostics,
    ) -> Option<GlobalDatabaseModel> {
        let Some(spec) = spec(client, &planned) else {
            diags.error(
                "Creating global database",
                "The plan still holds unknown values; this is a bug in the provider.",
            );
            return None;
        };
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        converge(
            client,
            &spec,
            planned,
            deadline,
            "Creating global database",
            diags,
        )
        .await
    }

    async fn read(
        &self,
        client: &DrClient,
        state: GlobalDatabaseModel,
        diags: &mut Diagnostics,
    ) -> Option<GlobalDatabaseModel> {
        match Box::pin(rds::read(&client.aws, &names(client))).await {
            Ok(Some(observed)) => {
                warn_rpo_held_off(&observed, diags);
                Some(from_observed(client, &state, &observed))
            }
            Ok(None) => None,
            Err(e) => {
                diags.error("Reading global database", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        prior: GlobalDatabaseModel,
        planned: GlobalDatabaseModel,
        diags: &mut Diagnostics,
    ) -> Option<GlobalDatabaseModel> {
        let Some(spec) = spec(client, &planned) else {
            diags.error(
                "Updating global database",
                "The plan still holds unknown values; this is a bug in the provider.",
            );
            return Some(prior);
        };
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        if prior.tags_all != planned.tags_all {
            let old = prior.tags_all.known().cloned().unwrap_or_default();
            if let Err(e) = Box::pin(rds::update_tags(&client.aws, &spec, &old)).await {
                diags.error("Updating global database tags", e.to_string());
                return Some(prior);
            }
        }
        converge(
            client,
            &spec,
            planned,
            deadline,
            "Updating global database",
            diags,
        )
        .await
    }

    async fn delete(&self, client: &DrClient, prior: GlobalDatabaseModel, diags: &mut Diagnostics) {
        let names = names(client);
        if prior.deletion_protection.known() == Some(&true) {
            diags.error_at(
                AttributePath::root().attr("deletion_protection"),
                "Deletion protection is on",
                format!("{} is protected by deletion_protection = true, so it was not destroyed and nothing was deleted. To destroy it, set deletion_protection = false in the configuration, run terraform apply (which turns protection off on the global cluster and both clusters), then run terraform destroy again.", names.global_cluster()),
            );
            return;
        }
        let skip = prior.skip_final_snapshot.known().copied().unwrap_or(false);
        let window = prior
            .secret_recovery_window_days
            .known()
            .copied()
            .unwrap_or(rds::DEFAULT_RECOVERY_WINDOW_DAYS);
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        match Box::pin(rds::destroy(&client.aws, &names, skip, window, deadline)).await {
            Ok(outcome) if !outcome.final_snapshots.is_empty() || !outcome.kept_keys.is_empty() => {
                let (title, taken) = if outcome.final_snapshots.is_empty() {
                    ("KMS keys kept for backups", String::new())
                } else {
                    (
                        "Final snapshots kept",
                        format!(
                            "Final snapshots were taken: {}. ",
                            outcome.final_snapshots.join(", ")
                        ),
                    )
                };
                diags.warning(
                    title,
                    format!(
                        "{taken}The KMS keys encrypting snapshots or AWS Backup recovery points were kept (not scheduled for deletion) so those stay restorable: {}. Delete the snapshots and recovery points, then schedule the keys' deletion, when they are no longer needed.",
                        or_none(&outcome.kept_keys)
                    ),
                );
            }
            Ok(_) => {}
            Err(e) => diags.error("Deleting global database", e.to_string()),
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<GlobalDatabaseModel> {
        let names = names(client);
        let expected = names.global_cluster();
        if id != expected {
            diags.error(
                "Unexpected import id",
                format!("The import id is the global cluster identifier, which this provider's environment and name_version make {expected:?}; got {id:?}."),
            );
            return None;
        }
        match Box::pin(rds::find_database(&client.aws, &names)).await {
            Ok(Some(observed)) => {
                let mut model = from_observed(client, &GlobalDatabaseModel::default(), &observed);
                let own = client.own_tags(model.tags_all.known().unwrap_or(&BTreeMap::new()));
                model.tags = if own.is_empty() {
                    Val::Null
                } else {
                    Val::Known(own)
                };
                Some(model)
            }
            Ok(None) => {
                diags.error(
                    "Cannot import non-existent global database",
                    format!(
                        "Neither the global cluster {expected} nor its clusters exist in {} or {}.",
                        client.aws.primary.region, client.aws.dr.region
                    ),
                );
                None
            }
            Err(e) => {
                diags.error("Importing global database", e.to_string());
                None
            }
        }
    }
}

// ---- helpers below the resource ----

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The names the provider's environment and name_version produce must be valid RDS
/// identifiers, up to the highest instance number.
fn check_identifiers(client: &DrClient, planned: &GlobalDatabaseModel, diags: &mut Diagnostics) {
    let names = names(client);
    let mut ids = vec![names.global_cluster()];
    for role in Role::BOTH {
        let count = side(planned, role)
            .known()
            .and_then(|r| r.instance_count.known().copied())
            .unwrap_or(validate::MAX_INSTANCES)
            .clamp(1, validate::MAX_INSTANCES);
        ids.push(names.cluster(role));
        ids.push(names.instance(role, count as u32));
        ids.push(names.parameter_group(role));
        ids.push(names.subnet_group(role));
    }
    if let Some(detail) = ids.iter().find_map(|id| validate::rds_identifier(id).err()) {
        diags.error("Identifier exceeds RDS limits", detail);
    }
}

/// Checks at plan time, when the subnet ids are known, that they exist in one VPC across at
/// least two availability zones. A failed lookup is left for apply to report.
async fn check_subnets(
    client: &DrClient,
    planned: &GlobalDatabaseModel,
    role: Role,
    diags: &mut Diagnostics,
) {
    let side_name = role.tag_value();
    let Some(ids) = side(planned, role)
        .known()
        .and_then(|r| known_strings(&r.subnet_ids))
    else {
        return;
    };
    if ids.len() < 2 {
        return;
    }
    let rc = client.aws.region(role);
    let layout = match rds::subnets_layout(rc, &ids).await {
        Ok(layout) => layout,
        Err(e) => {
            tracing::debug!("not checking {side_name}.subnet_ids at plan time: {e}");
            return;
        }
    };
    let path = AttributePath::root().attr(side_name).attr("subnet_ids");
    if !layout.missing.is_empty() {
        diags.error_at(
            path,
            "Subnets not found",
            format!(
                "{} do not exist in {}.",
                layout.missing.join(", "),
                rc.region
            ),
        );
    } else if layout.vpc_ids.len() > 1 {
        diags.error_at(
            path,
            "Subnets in several VPCs",
            format!(
                "The subnets are in {}; a DB subnet group takes subnets of one VPC.",
                layout.vpc_ids.join(", ")
            ),
        );
    } else if layout.availability_zones.len() < 2 {
        diags.error_at(
            path,
            "Subnets in one availability zone",
            format!("The subnets are all in {}; Aurora needs subnets in at least two availability zones.", layout.availability_zones.join(", ")),
        );
    }
}

/// Runs the idempotent ensure and maps the outcome to state; on failure the state records
/// what exists, so destroy can remove it.
async fn converge(
    client: &DrClient,
    spec: &rds::DatabaseSpec,
    planned: GlobalDatabaseModel,
    deadline: crate::aws::Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Option<GlobalDatabaseModel> {
    match Box::pin(rds::ensure(&client.aws, spec, deadline)).await {
        Ok(observed) => {
            warn_rpo_held_off(&observed, diags);
            let mut model = from_observed(client, &planned, &observed);
            // Tags are written exactly as planned; reading them back is for drift.
            model.tags_all = planned.tags_all.clone();
            Some(model)
        }
        Err((e, partial)) => {
            diags.error(verb, e.to_string());
            partial.map(|p| from_observed(client, &planned, &p))
        }
    }
}

/// The managed RPO cannot be on the writer now (no secondary in sync): say so, it is not
/// enforced meanwhile.
fn warn_rpo_held_off(observed: &rds::Observed, diags: &mut Diagnostics) {
    if let Some(why) = state::rpo_held_off(observed) {
        diags.warning_at(
            AttributePath::root().attr("rpo_target_seconds"),
            "Managed RPO not enforced",
            why,
        );
    }
}
