//! `drpair_session_table`: a DynamoDB global table (version 2019.11.21) for sessions, the
//! source table in the primary region and a replica in the DR region, on-demand, with streams,
//! TTL, point-in-time recovery, a customer-managed KMS key per region and tags on both tables.
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update, delete, import.
//! The AWS work is in [`dynamo`], the plan-time checks in [`validate`].

pub mod dynamo;
pub mod validate;

use crate::aws::tags::{user_tags, Tags};
use crate::aws::{Deadline, Role};
use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::value::Value;
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::provider::DrClient;
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use dynamo::{Adoption, KeySchema, ObservedTable, TableSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The table's name before `-{name_version}-{environment}`.
pub const BASE_NAME: &str = "session-table";
/// Adding a replica to a table with data takes a while on AWS.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SessionTableModel {
    pub id: Val<String>,
    pub name: Val<String>,
    pub hash_key: Val<String>,
    pub hash_key_type: Val<String>,
    pub range_key: Val<String>,
    pub range_key_type: Val<String>,
    pub ttl_attribute: Val<String>,
    pub point_in_time_recovery: Val<bool>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub primary: Val<RegionModel>,
    pub dr: Val<RegionModel>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionModel {
    pub region: Val<String>,
    pub arn: Val<String>,
    pub stream_arn: Val<String>,
    pub kms_key_arn: Val<String>,
}

pub struct SessionTable;

fn region_attribute(name: &str, what: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::string("region").computed().description("The AWS region of this side."),
            Attribute::string("arn").computed().description(format!("ARN of the {what}.")),
            Attribute::string("stream_arn").computed().description(format!("ARN of the DynamoDB stream (new and old images) of the {what}.")),
            Attribute::string("kms_key_arn").computed().description("ARN of the customer-managed KMS key that encrypts this region's table (alias `alias/{name}`)."),
        ],
    )
    .computed()
    .description(format!("The {what}: its region, ARN, stream ARN and KMS key."))
}

fn key_type_attribute(name: &str, key: &str) -> Attribute {
    Attribute::string(name)
        .default(Value::String("S".into()))
        .requires_replace()
        .description(format!("Type of `{key}`: `S` (string, default), `N` (number) or `B` (binary). Changing it replaces the table."))
}

#[async_trait]
impl Resource for SessionTable {
    type Model = SessionTableModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_session_table"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("A DynamoDB global table for sessions (global tables version 2019.11.21): `session-table-{name_version}-{environment}` in the primary region, on-demand, with a stream of new and old images, and its replica in the DR region. Each region's table is encrypted with a customer-managed KMS key of that region (alias `alias/{name}`), has TTL on `ttl_attribute` and point-in-time recovery, and carries `Environment`, `DR-Role`, the provider's `default_tags` and `drpair:owner` — the replica included. A replica deleted or changed outside Terraform shows in `drift` and is repaired by the next apply.")
                .attr(Attribute::string("id").computed().description("The table name; the import id."))
                .attr(Attribute::string("name").computed().description("`session-table-{name_version}-{environment}`, e.g. `session-table-v2-dev`: the table's name in both regions."))
                .attr(Attribute::string("hash_key").required().requires_replace().description(
                    "Partition key attribute, e.g. `session_id`: 1-255 letters, digits, `_`, `-` or `.`. Changing it replaces the table.",
                ))
                .attr(key_type_attribute("hash_key_type", "hash_key"))
                .attr(Attribute::string("range_key").optional().requires_replace().description(
                    "Sort key attribute, if the table has one; same naming rules as `hash_key`. Changing it replaces the table.",
                ))
                .attr(key_type_attribute("range_key_type", "range_key"))
                .attr(Attribute::string("ttl_attribute").optional().description(
                    "Attribute holding each item's expiry time (epoch seconds); DynamoDB deletes expired items in both regions. Leave out to keep TTL off. Changed in place (AWS may take up to an hour to switch TTL to another attribute).",
                ))
                .attr(Attribute::bool("point_in_time_recovery").default(Value::Bool(true)).description(
                    "Point-in-time recovery in both regions (default true). Changed in place.",
                ))
                .attr(Attribute::string_map("tags").optional().description("Tags for both tables and both KMS keys, on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the table except those drpair manages: `default_tags` merged with `tags`."))
                .attr(region_attribute("primary", "source table in the primary region"))
                .attr(region_attribute("dr", "replica in the DR region"))
                .attr(Attribute::string_list("drift").computed().description(
                    "Differences found outside Terraform at the last refresh (a missing replica, point-in-time recovery or TTL switched off, a KMS key disabled or scheduled for deletion, replica tags changed). A non-empty list plans a repair; apply restores what is missing and leaves it empty.",
                ))
                .attr(timeouts::attribute("create 30m, update 30m, delete 30m")),
        )
    }

    fn validate(&self, config: &SessionTableModel, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        validate::attribute_name(&config.hash_key, root.attr("hash_key"), diags);
        validate::attribute_name(&config.range_key, root.attr("range_key"), diags);
        validate::attribute_name(&config.ttl_attribute, root.attr("ttl_attribute"), diags);
        validate::key_type(&config.hash_key_type, root.attr("hash_key_type"), diags);
        validate::key_type(&config.range_key_type, root.attr("range_key_type"), diags);
        if let (Val::Known(hash), Val::Known(range)) = (&config.hash_key, &config.range_key) {
            if hash == range {
                diags.error_at(
                    root.attr("range_key"),
                    "Sort key repeats the partition key",
                    format!("range_key and hash_key are both {hash:?}; a sort key must be a different attribute, or left out."),
                );
            }
        }
        if config.range_key.is_null() && config.range_key_type.known().is_some_and(|t| t != "S") {
            diags.error_at(
                root.attr("range_key_type"),
                "Sort key type without a sort key",
                "range_key_type only applies to range_key; set range_key as well, or remove range_key_type.",
            );
        }
        validate::tags(&config.tags, root.attr("tags"), diags);
        timeouts::validate(&config.timeouts, &root.attr("timeouts"), diags);
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&SessionTableModel>,
        mut planned: SessionTableModel,
        diags: &mut Diagnostics,
    ) -> SessionTableModel {
        let name = client.versioned_name(BASE_NAME);
        match prior.and_then(|p| p.name.known()) {
            // A table cannot be renamed: keep the name, and say how to move.
            Some(old) if *old != name => diags.warning_at(
                AttributePath::root().attr("name"),
                "Table name out of date",
                format!("The provider's environment or name_version now names the table {name:?}, but it is {old:?}. A DynamoDB table cannot be renamed: run `terraform apply -replace=<this resource>` to create {name:?} (its data is not copied)."),
            ),
            _ => {
                planned.id = Val::Known(name.clone());
                planned.name = Val::Known(name);
            }
        }
        planned.tags_all = match &planned.tags {
            Val::Unknown => Val::Unknown,
            tags => Val::Known(client.tags_all(tags)),
        };
        for role in Role::BOTH {
            let region = Val::Known(client.aws.region(role).region.clone());
            let side = side_mut(&mut planned, role);
            match side {
                Val::Known(r) => r.region = region,
                _ => {
                    *side = Val::Known(RegionModel {
                        region,
                        arn: Val::Unknown,
                        stream_arn: Val::Unknown,
                        kms_key_arn: Val::Unknown,
                    })
                }
            }
        }
        match prior {
            None => planned.drift = Val::Known(Vec::new()),
            Some(prior) if prior.drift.known().is_some_and(|d| !d.is_empty()) => {
                // Repair: a re-created replica has a new stream, a replaced key a new ARN.
                planned.drift = Val::Known(Vec::new());
                for role in Role::BOTH {
                    if let Val::Known(r) = side_mut(&mut planned, role) {
                        if r.arn.known().is_none_or(|a| a.is_empty()) {
                            r.arn = Val::Unknown;
                        }
                        r.stream_arn = Val::Unknown;
                        r.kms_key_arn = Val::Unknown;
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
        planned: SessionTableModel,
        diags: &mut Diagnostics,
    ) -> Option<SessionTableModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        let adoption = Adoption::OwnedOnly;
        let model = converge(
            client,
            &spec,
            &planned,
            adoption,
            deadline,
            "Creating session table",
            diags,
        )
        .await;
        match model {
            Converged::Applied(model) | Converged::Failed(Some(model)) => Some(model),
            // Nothing readable exists: keep the name in state so destroy removes the keys.
            Converged::Failed(None) => Some(empty_state(client, planned)),
            Converged::Refused => None,
        }
    }

    async fn read(
        &self,
        client: &DrClient,
        state: SessionTableModel,
        diags: &mut Diagnostics,
    ) -> Option<SessionTableModel> {
        let name = state.name.known().or(state.id.known())?.clone();
        match dynamo::observe(&client.aws, &name).await {
            Ok(Some(observed)) => {
                let drift = spec(client, &state)
                    .map(|s| dynamo::drift(&s, &observed, regions(client)))
                    .unwrap_or_default();
                Some(from_observed(client, &state, &observed, drift))
            }
            // The table is gone: the resource stays in state while anything destroy removes
            // is left (a destroy stopped half-way), so the next destroy finishes the work and
            // the next apply repairs it instead of leaking the keys.
            Ok(None) => {
                let keys = [kms_key_arn(&state.primary), kms_key_arn(&state.dr)];
                match dynamo::leftovers(&client.aws, &name, keys).await {
                    Ok(left) if left.is_empty() => None,
                    Ok(left) => {
                        let mut drift = vec![table_missing(client)];
                        drift.extend(left);
                        Some(SessionTableModel {
                            drift: Val::Known(drift),
                            ..state
                        })
                    }
                    Err(e) => {
                        diags.error("Reading session table", e.to_string());
                        None
                    }
                }
            }
            Err(e) => {
                diags.error("Reading session table", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        _prior: SessionTableModel,
        planned: SessionTableModel,
        diags: &mut Diagnostics,
    ) -> Option<SessionTableModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        match converge(
            client,
            &spec,
            &planned,
            Adoption::Any,
            deadline,
            "Updating session table",
            diags,
        )
        .await
        {
            Converged::Applied(model) | Converged::Failed(Some(model)) => Some(model),
            Converged::Failed(None) | Converged::Refused => None,
        }
    }

    async fn delete(&self, client: &DrClient, prior: SessionTableModel, diags: &mut Diagnostics) {
        let Some(name) = prior.name.known().or(prior.id.known()) else {
            return;
        };
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        let keys = [kms_key_arn(&prior.primary), kms_key_arn(&prior.dr)];
        if let Err(e) = dynamo::destroy(&client.aws, name, keys, deadline).await {
            diags.error("Deleting session table", e.to_string());
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<SessionTableModel> {
        let expected = client.versioned_name(BASE_NAME);
        if id != expected {
            diags.error(
                "Cannot import this table",
                format!("drpair_session_table manages the table {expected:?} (from the provider's name_version and environment); {id:?} is not it. Import {expected:?}, or configure the provider whose environment names this table."),
            );
            return None;
        }
        match dynamo::observe(&client.aws, id).await {
            Ok(Some(observed)) => Some(imported(client, &observed)),
            Ok(None) => {
                diags.error(
                    "Cannot import non-existent session table",
                    format!("No DynamoDB table {id:?} exists in {}. The import id is the table name, `session-table-{{name_version}}-{{environment}}`.", client.aws.primary.region),
                );
                None
            }
            Err(e) => {
                diags.error("Importing session table", e.to_string());
                None
            }
        }
    }
}

// ---- helpers below the resource ----

fn regions(client: &DrClient) -> [&str; 2] {
    [
        client.aws.primary.region.as_str(),
        client.aws.dr.region.as_str(),
    ]
}

/// The tags of an object other than drpair's own and AWS's.
fn unmanaged(tags: &Tags) -> Tags {
    user_tags(tags, &Tags::new())
        .into_iter()
        .filter(|(k, _)| !dynamo::is_aws_tag(k))
        .collect()
}

fn kms_key_arn(side: &Val<RegionModel>) -> Option<&str> {
    side.known()
        .and_then(|r| r.kms_key_arn.known())
        .map(String::as_str)
}

fn side_mut(m: &mut SessionTableModel, role: Role) -> &mut Val<RegionModel> {
    match role {
        Role::Primary => &mut m.primary,
        Role::Dr => &mut m.dr,
    }
}

fn spec(client: &DrClient, m: &SessionTableModel) -> Option<TableSpec> {
    let or_s = |v: &Val<String>| v.known().cloned().unwrap_or_else(|| "S".into());
    Some(TableSpec {
        name: m.name.known()?.clone(),
        environment: client.environment.clone(),
        keys: KeySchema {
            hash_key: m.hash_key.known()?.clone(),
            hash_key_type: or_s(&m.hash_key_type),
            range_key: m.range_key.known().cloned(),
            range_key_type: or_s(&m.range_key_type),
        },
        ttl_attribute: m.ttl_attribute.known().cloned(),
        point_in_time_recovery: m.point_in_time_recovery.known().copied().unwrap_or(true),
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
    })
}

/// What an apply leaves for state.
enum Converged {
    Applied(SessionTableModel),
    /// Failed: what exists (None when nothing readable does), so destroy can remove it.
    Failed(Option<SessionTableModel>),
    /// The table is someone else's: nothing may be recorded, or destroy would delete it.
    Refused,
}

/// Runs the idempotent ensure and maps the outcome to state.
async fn converge(
    client: &DrClient,
    spec: &TableSpec,
    planned: &SessionTableModel,
    adoption: Adoption,
    deadline: Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Converged {
    match dynamo::ensure(&client.aws, spec, adoption, deadline).await {
        Ok(observed) => {
            let left = dynamo::drift(spec, &observed, regions(client));
            if !left.is_empty() {
                tracing::warn!(
                    "session table {} still differs after apply: {left:?}",
                    spec.name
                );
            }
            let mut model = from_observed(client, planned, &observed, Vec::new());
            // Tags are written exactly as planned; reading them back is for drift.
            model.tags_all = planned.tags_all.clone();
            Converged::Applied(model)
        }
        Err(e) if e.code() == Some(dynamo::NOT_OWNED) => {
            diags.error(verb, e.to_string());
            Converged::Refused
        }
        Err(e) => {
            diags.error(verb, e.to_string());
            Converged::Failed(match dynamo::observe(&client.aws, &spec.name).await {
                Ok(Some(o)) => {
                    let drift = dynamo::drift(spec, &o, regions(client));
                    Some(from_observed(client, planned, &o, drift))
                }
                _ => None,
            })
        }
    }
}

/// The state of a create that failed before the source table existed: names known, ids empty.
fn empty_state(client: &DrClient, planned: SessionTableModel) -> SessionTableModel {
    let side = |role: Role| {
        Val::Known(RegionModel {
            region: Val::Known(client.aws.region(role).region.clone()),
            arn: Val::Known(String::new()),
            stream_arn: Val::Known(String::new()),
            kms_key_arn: Val::Known(String::new()),
        })
    };
    SessionTableModel {
        primary: side(Role::Primary),
        dr: side(Role::Dr),
        drift: Val::Known(vec![table_missing(client)]),
        ..planned
    }
}

fn table_missing(client: &DrClient) -> String {
    format!("{}: table is missing", client.aws.primary.region)
}

/// State from what exists in AWS. Inputs AWS cannot tell apart from drift (TTL attribute, PITR,
/// the user's tags) are kept from `base` (prior state or plan); the key schema is AWS's.
fn from_observed(
    client: &DrClient,
    base: &SessionTableModel,
    o: &ObservedTable,
    drift: Vec<String>,
) -> SessionTableModel {
    let side = |role: Role| {
        let table = o.table(role);
        let text = |v: Option<&str>| Val::Known(v.unwrap_or_default().to_owned());
        Val::Known(RegionModel {
            region: Val::Known(client.aws.region(role).region.clone()),
            arn: text(table.map(|t| t.arn.as_str())),
            stream_arn: text(table.and_then(|t| t.stream_arn.as_deref())),
            kms_key_arn: text(o.key(role).map(|k| k.arn.as_str())),
        })
    };
    SessionTableModel {
        id: Val::Known(o.name.clone()),
        name: Val::Known(o.name.clone()),
        hash_key: Val::Known(o.keys.hash_key.clone()),
        hash_key_type: Val::Known(o.keys.hash_key_type.clone()),
        range_key: Val::from_option(o.keys.range_key.clone()),
        range_key_type: Val::Known(o.keys.range_key_type.clone()),
        ttl_attribute: base.ttl_attribute.clone(),
        point_in_time_recovery: match &base.point_in_time_recovery {
            Val::Known(b) => Val::Known(*b),
            _ => Val::Known(true),
        },
        tags: match &base.tags {
            Val::Known(_) => base.tags.clone(),
            _ => Val::Null,
        },
        tags_all: Val::Known(unmanaged(&o.primary.tags)),
        primary: side(Role::Primary),
        dr: side(Role::Dr),
        drift: Val::Known(drift),
        timeouts: base.timeouts.clone(),
    }
}

/// State for `terraform import`: the inputs are what the source table has.
fn imported(client: &DrClient, o: &ObservedTable) -> SessionTableModel {
    let own: Tags = user_tags(&o.primary.tags, &client.default_tags)
        .into_iter()
        .filter(|(k, _)| !dynamo::is_aws_tag(k))
        .collect();
    let seed = SessionTableModel {
        name: Val::Known(o.name.clone()),
        hash_key: Val::Known(o.keys.hash_key.clone()),
        hash_key_type: Val::Known(o.keys.hash_key_type.clone()),
        range_key: Val::from_option(o.keys.range_key.clone()),
        range_key_type: Val::Known(o.keys.range_key_type.clone()),
        ttl_attribute: Val::from_option(o.primary.ttl.effective_attribute().map(str::to_owned)),
        point_in_time_recovery: Val::Known(o.primary.point_in_time_recovery),
        tags: if own.is_empty() {
            Val::Null
        } else {
            Val::Known(own)
        },
        ..SessionTableModel::default()
    };
    let drift = spec(client, &seed)
        .map(|s| dynamo::drift(&s, o, regions(client)))
        .unwrap_or_default();
    from_observed(client, &seed, o, drift)
}
