//! `drpair_metric_stream`: each region's CloudWatch metrics (filtered to `namespaces`) streamed
//! through Kinesis Data Firehose into an S3 bucket in the other region, so they survive the
//! loss of their region whichever region writes; with the KMS keys, the buckets' protection and
//! lifecycle, and per direction two IAM roles, each scoped to exactly the resources it serves.
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update, delete, import.
//! The AWS work is in [`stream`], the state mapping in [`state`].

mod state;
pub mod stream;

use crate::aws::iam::caller_account;
use crate::aws::Role;
use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::types::Type;
use crate::framework::value::{Number, Value};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::provider::DrClient;
use crate::resources::monitoring::validate::{name_prefix, tags as validate_tags};
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use state::{from_observed, imported, spec, stream_name, Converged};

pub const DEFAULT_PREFIX: &str = "drpair";
pub const OUTPUT_FORMATS: [&str; 3] = ["json", "opentelemetry0.7", "opentelemetry1.0"];
const DEFAULT_RETENTION_DAYS: i64 = 90;
/// Creating and deleting a Firehose stream takes a minute or two on AWS.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MetricStreamModel {
    pub id: Val<String>,
    pub name_prefix: Val<String>,
    pub namespaces: Val<Vec<String>>,
    pub output_format: Val<String>,
    pub retention_days: Val<i64>,
    pub stream_arn: Val<String>,
    pub firehose_arn: Val<String>,
    pub dr_bucket_name: Val<String>,
    pub dr_bucket_arn: Val<String>,
    pub stream_role_arn: Val<String>,
    pub firehose_role_arn: Val<String>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub primary: Val<RegionModel>,
    pub dr: Val<RegionModel>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

/// What was built in one region: its key, the metric stream of its metrics with its Firehose
/// stream and roles, and the bucket keeping the other region's metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionModel {
    pub region: Val<String>,
    pub kms_key_arn: Val<String>,
    pub stream_arn: Val<String>,
    pub firehose_arn: Val<String>,
    pub stream_role_arn: Val<String>,
    pub firehose_role_arn: Val<String>,
    pub bucket_name: Val<String>,
    pub bucket_arn: Val<String>,
}

pub struct MetricStream;

fn region_attribute(name: &str) -> Attribute {
    let (this, other) = if name == "primary" {
        ("primary", "DR")
    } else {
        ("DR", "primary")
    };
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::string("region").computed().description("The AWS region of this side."),
            Attribute::string("kms_key_arn").computed().description(format!("ARN of the {this} region's customer-managed KMS key (alias `alias/{{stream name}}`), encrypting its Firehose stream's buffer and its bucket's objects.")),
            Attribute::string("stream_arn").computed().description(format!("ARN of the CloudWatch metric stream streaming the {this} region's metrics.")),
            Attribute::string("firehose_arn").computed().description(format!("ARN of the Firehose stream in the {this} region, delivering them to the {other} region's bucket.")),
            Attribute::string("stream_role_arn").computed().description("ARN of the role CloudWatch assumes for this stream (firehose:PutRecord and PutRecordBatch on its Firehose stream only)."),
            Attribute::string("firehose_role_arn").computed().description(format!("ARN of the role that Firehose stream assumes (object writes to the {other} region's bucket, with that region's key through S3 only).")),
            Attribute::string("bucket_name").computed().description(format!("The S3 bucket in the {this} region keeping the {other} region's metrics (under `metrics/`).")),
            Attribute::string("bucket_arn").computed().description("ARN of that bucket."),
        ],
    )
    .computed()
    .description(format!("What was built in the {this} region: its key, the metric stream of its metrics with their Firehose stream and roles, and the bucket keeping the {other} region's metrics."))
}

#[async_trait]
impl Resource for MetricStream {
    type Model = MetricStreamModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_metric_stream"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("Each region's metrics kept in the other region, so they survive the loss of either region whichever one writes. In each region a CloudWatch metric stream `{name_prefix}-metrics-{name_version}-{environment}`, filtered to `namespaces`, delivers through a Kinesis Data Firehose stream of the same name (encrypted with that region's KMS key) into an S3 bucket in the other region: the primary region's metrics into `{name_prefix}-metrics-{account}-{name_version}-{environment}` in the DR region, the DR region's into `{name_prefix}-dr-metrics-{account}-{name_version}-{environment}` in the primary region. Buckets: SSE-KMS with their region's key and an S3 Bucket Key, versioned, all public access blocked, a bucket-policy statement (`Sid` `DenyRequestsWithoutTLS`) denying every request made without TLS (`aws:SecureTransport` false; other statements of the bucket policy are left alone), objects and old versions expiring after `retention_days`. Per direction two IAM roles, each trusted by one service on behalf of this account only (CloudWatch with `aws:SourceAccount`, Firehose with `sts:ExternalId` = the account, as each service documents) and allowed only named actions on named resources: CloudWatch may put records into that Firehose stream, Firehose may write objects into that bucket with that key (for the Bucket Key's encryption context, the bucket ARN) through S3 in the bucket's region; the DR direction's roles start with `{name_prefix}-dr-`. The streams run after apply; one stopped or changed outside Terraform shows in `drift` and is repaired by the next apply. Destroy removes the streams, Firehose streams, roles, and the buckets after deleting every object version in them, in both regions.")
                .attr(Attribute::string("id").computed().description("The metric streams' name (the same in both regions), `{name_prefix}-metrics-{name_version}-{environment}`; the import id."))
                .attr(Attribute::string("name_prefix").default(Value::String(DEFAULT_PREFIX.into())).requires_replace().description("Start of every name: 1-24 lowercase letters, digits or hyphens (default `drpair`). Changing it replaces everything."))
                .attr(Attribute::new("namespaces", Type::Set(Box::new(Type::String))).required().description("The CloudWatch namespaces to stream, e.g. `AWS/RDS`, `AWS/ApplicationELB`, `AWS/DynamoDB`, `AWS/Route53`. Changed in place."))
                .attr(Attribute::string("output_format").default(Value::String("json".into())).description("`json` (default), `opentelemetry0.7` or `opentelemetry1.0`. Changed in place."))
                .attr(Attribute::number("retention_days").default(Value::Number(Number::Int(DEFAULT_RETENTION_DAYS))).description("Days after which the buckets' objects (and their noncurrent versions) expire, at least 1 (default 90). Changed in place."))
                .attr(Attribute::string("stream_arn").computed().description("ARN of the CloudWatch metric stream of the primary region's metrics (as `primary.stream_arn`)."))
                .attr(Attribute::string("firehose_arn").computed().description("ARN of the Firehose stream in the primary region (as `primary.firehose_arn`)."))
                .attr(Attribute::string("dr_bucket_name").computed().description("The S3 bucket in the DR region the primary region's metrics land in, under `metrics/` (as `dr.bucket_name`)."))
                .attr(Attribute::string("dr_bucket_arn").computed().description("ARN of that bucket."))
                .attr(Attribute::string("stream_role_arn").computed().description("ARN of the role CloudWatch assumes for the primary region's stream (as `primary.stream_role_arn`)."))
                .attr(Attribute::string("firehose_role_arn").computed().description("ARN of the role the primary region's Firehose stream assumes (as `primary.firehose_role_arn`)."))
                .attr(Attribute::string_map("tags").optional().description("Tags for every object, on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the metric streams except those drpair manages: `default_tags` merged with `tags`."))
                .attr(region_attribute("primary"))
                .attr(region_attribute("dr"))
                .attr(Attribute::string_list("drift").computed().description("Differences found outside Terraform at the last refresh (a stream stopped or deleted, a bucket's protection changed, a role's policy edited, a key disabled), each naming its region. A non-empty list plans a repair; apply restores it and leaves it empty."))
                .attr(timeouts::attribute("create 20m, update 20m, delete 20m")),
        )
    }

    fn validate(&self, config: &MetricStreamModel, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        name_prefix(&config.name_prefix, root.attr("name_prefix"), diags);
        if let Val::Known(namespaces) = &config.namespaces {
            if namespaces.is_empty() {
                diags.error_at(
                    root.attr("namespaces"),
                    "No namespaces to stream",
                    "namespaces is empty; list at least one CloudWatch namespace, such as AWS/RDS.",
                );
            }
            for ns in namespaces {
                let ok = (1..=255).contains(&ns.len())
                    && ns.trim() == ns
                    && !ns.starts_with(':')
                    && !ns.chars().any(|c| c.is_control());
                if !ok {
                    diags.error_at(root.attr("namespaces"), "Invalid namespace", format!("{ns:?} is not a CloudWatch namespace (1-255 characters, such as AWS/RDS)."));
                }
            }
        }
        if let Val::Known(f) = &config.output_format {
            if !OUTPUT_FORMATS.contains(&f.as_str()) {
                diags.error_at(
                    root.attr("output_format"),
                    "Invalid output format",
                    format!("{f:?} is not one of {}.", OUTPUT_FORMATS.join(", ")),
                );
            }
        }
        if let Val::Known(n) = &config.retention_days {
            if !(1..=i64::from(i32::MAX)).contains(n) {
                diags.error_at(
                    root.attr("retention_days"),
                    "Invalid retention",
                    format!("retention_days is {n}; objects must be kept at least 1 day."),
                );
            }
        }
        validate_tags(&config.tags, root.attr("tags"), diags);
        timeouts::validate(&config.timeouts, &root.attr("timeouts"), diags);
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&MetricStreamModel>,
        mut planned: MetricStreamModel,
        diags: &mut Diagnostics,
    ) -> MetricStreamModel {
        if let Val::Known(prefix) = &planned.name_prefix {
            planned.id = Val::Known(stream_name(client, prefix));
            // S3 and IAM cap names at 63 and 64 characters; the account id takes 12. The DR
            // direction's names are the longest.
            let longest = [
                stream::bucket_name(
                    prefix,
                    "123456789012",
                    &client.name_version,
                    &client.environment,
                    Role::Dr,
                ),
                stream::delivery_role_name(
                    prefix,
                    &client.name_version,
                    &client.environment,
                    Role::Dr,
                ),
            ];
            if longest[0].len() > 63 || longest[1].len() > 64 {
                diags.error_at(
                    AttributePath::root().attr("name_prefix"),
                    "Name prefix too long",
                    format!("With this environment a bucket would be named like {:?} ({} characters, S3 allows 63) and a Firehose role {:?} ({} characters, IAM allows 64); choose a shorter name_prefix.", longest[0], longest[0].len(), longest[1], longest[1].len()),
                );
            }
        }
        planned.tags_all = match &planned.tags {
            Val::Unknown => Val::Unknown,
            tags => Val::Known(client.tags_all(tags)),
        };
        let repair = prior.is_some_and(|p| p.drift.known().is_some_and(|d| !d.is_empty()));
        let prior = prior.map(with_top_level);
        let prior_side = |role: Role| prior.as_ref().and_then(|p| side(p, role).known());
        // What is rebuilt keeps its name, hence its ARN: a value once known stays. Only the
        // keys may be new in a repair.
        let kept = |role: Role, field: fn(&RegionModel) -> &Val<String>| {
            prior_side(role)
                .and_then(|s| field(s).known())
                .filter(|v| !v.is_empty())
                .cloned()
        };
        // The bucket names carry the account id: known now, so the plan can show them.
        let needs_account = Role::BOTH
            .into_iter()
            .any(|role| kept(role, |s| &s.bucket_name).is_none());
        let buckets = match (&planned.name_prefix, needs_account) {
            (Val::Known(prefix), true) => match caller_account(&client.aws.primary).await {
                Ok(account) => {
                    let bucket = |source: Role| {
                        let name = stream::bucket_name(
                            prefix,
                            &account.id,
                            &client.name_version,
                            &client.environment,
                            source,
                        );
                        (format!("arn:{}:s3:::{name}", account.partition), name)
                    };
                    Some([bucket(Role::Primary), bucket(Role::Dr)])
                }
                Err(_) => None,
            },
            _ => None,
        };
        for role in Role::BOTH {
            // The bucket in `role`'s region keeps the other region's metrics.
            let computed_bucket = buckets.as_ref().map(|b| match role.peer() {
                Role::Primary => b[0].clone(),
                Role::Dr => b[1].clone(),
            });
            let or_unknown = |v: Option<String>| v.map_or(Val::Unknown, Val::Known);
            *side_mut(&mut planned, role) = Val::Known(RegionModel {
                region: Val::Known(client.aws.region(role).region.clone()),
                kms_key_arn: or_unknown(kept(role, |s| &s.kms_key_arn).filter(|_| !repair)),
                stream_arn: or_unknown(kept(role, |s| &s.stream_arn)),
                firehose_arn: or_unknown(kept(role, |s| &s.firehose_arn)),
                stream_role_arn: or_unknown(kept(role, |s| &s.stream_role_arn)),
                firehose_role_arn: or_unknown(kept(role, |s| &s.firehose_role_arn)),
                bucket_name: or_unknown(
                    kept(role, |s| &s.bucket_name)
                        .or_else(|| computed_bucket.clone().map(|(_, name)| name)),
                ),
                bucket_arn: or_unknown(
                    kept(role, |s| &s.bucket_arn).or_else(|| computed_bucket.map(|(arn, _)| arn)),
                ),
            });
        }
        // The top-level attributes repeat the primary's stream and the DR bucket.
        let (primary, dr) = (
            planned.primary.known().cloned().unwrap_or_default(),
            planned.dr.known().cloned().unwrap_or_default(),
        );
        planned.stream_arn = primary.stream_arn;
        planned.firehose_arn = primary.firehose_arn;
        planned.stream_role_arn = primary.stream_role_arn;
        planned.firehose_role_arn = primary.firehose_role_arn;
        planned.dr_bucket_name = dr.bucket_name;
        planned.dr_bucket_arn = dr.bucket_arn;
        if prior.is_none() || repair {
            planned.drift = Val::Known(Vec::new());
        }
        planned
    }

    async fn create(
        &self,
        client: &DrClient,
        planned: MetricStreamModel,
        diags: &mut Diagnostics,
    ) -> Option<MetricStreamModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        match state::converge(
            client,
            &spec,
            &planned,
            false,
            deadline,
            "Creating metric stream",
            diags,
        )
        .await
        {
            Converged::Applied(m) | Converged::Failed(Some(m)) => Some(m),
            // Nothing readable exists: keep the names in state so destroy can sweep.
            Converged::Failed(None) => Some(state::empty_state(client, planned)),
            Converged::Refused => None,
        }
    }

    async fn read(
        &self,
        client: &DrClient,
        state: MetricStreamModel,
        diags: &mut Diagnostics,
    ) -> Option<MetricStreamModel> {
        let spec = spec(client, &state)?;
        match stream::observe(&client.aws, &spec).await {
            Ok(observed) if observed.exists() => {
                let drift = stream::drift(&spec, &observed);
                Some(from_observed(client, &state, &observed, drift))
            }
            Ok(_) => None,
            Err(e) => {
                diags.error("Reading metric stream", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        _prior: MetricStreamModel,
        planned: MetricStreamModel,
        diags: &mut Diagnostics,
    ) -> Option<MetricStreamModel> {
        let spec = spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        match state::converge(
            client,
            &spec,
            &planned,
            true,
            deadline,
            "Updating metric stream",
            diags,
        )
        .await
        {
            Converged::Applied(m) | Converged::Failed(Some(m)) => Some(m),
            Converged::Failed(None) | Converged::Refused => None,
        }
    }

    async fn delete(&self, client: &DrClient, prior: MetricStreamModel, diags: &mut Diagnostics) {
        let Some(spec) = state::names_only(client, &prior) else {
            return;
        };
        let key = |role: Role| {
            side(&prior, role)
                .known()
                .and_then(|s| s.kms_key_arn.known())
                .map(String::as_str)
        };
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        if let Err(e) = stream::destroy(
            &client.aws,
            &spec,
            [key(Role::Primary), key(Role::Dr)],
            deadline,
        )
        .await
        {
            diags.error("Deleting metric stream", e.to_string());
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<MetricStreamModel> {
        let suffix = format!("-metrics-{}-{}", client.name_version, client.environment);
        let Some(prefix) = id.strip_suffix(&suffix).filter(|p| !p.is_empty()) else {
            diags.error(
                "Cannot import this metric stream",
                format!("The import id is the metric stream's name, `{{name_prefix}}{suffix}` for this provider (e.g. `{DEFAULT_PREFIX}{suffix}`); {id:?} is not of that form."),
            );
            return None;
        };
        let seed = MetricStreamModel {
            id: Val::Known(id.to_owned()),
            name_prefix: Val::Known(prefix.to_owned()),
            ..MetricStreamModel::default()
        };
        let spec = state::names_only(client, &seed)?;
        match stream::observe(&client.aws, &spec).await {
            Ok(observed) if observed.primary.stream.is_some() || observed.dr.stream.is_some() => {
                Some(imported(client, &seed, &observed))
            }
            Ok(_) => {
                diags.error(
                    "Cannot import non-existent metric stream",
                    format!("No CloudWatch metric stream named {id:?} exists in {} or {}. The import id is the streams' name, `{{name_prefix}}-metrics-{{name_version}}-{{environment}}`.", client.aws.primary.region, client.aws.dr.region),
                );
                None
            }
            Err(e) => {
                diags.error("Importing metric stream", e.to_string());
                None
            }
        }
    }
}

// ---- helpers below the resource ----

/// State written before `primary`/`dr` carried the streams and buckets (one direction only)
/// has them at the top level: moved into the sides, so a plan keeps what is known.
fn with_top_level(m: &MetricStreamModel) -> MetricStreamModel {
    let mut m = m.clone();
    let fill = |to: &mut Val<String>, from: &Val<String>| {
        if !to.is_known() {
            *to = from.clone();
        }
    };
    if let Val::Known(p) = &mut m.primary {
        fill(&mut p.stream_arn, &m.stream_arn);
        fill(&mut p.firehose_arn, &m.firehose_arn);
        fill(&mut p.stream_role_arn, &m.stream_role_arn);
        fill(&mut p.firehose_role_arn, &m.firehose_role_arn);
    }
    if let Val::Known(d) = &mut m.dr {
        fill(&mut d.bucket_name, &m.dr_bucket_name);
        fill(&mut d.bucket_arn, &m.dr_bucket_arn);
    }
    m
}

fn side(m: &MetricStreamModel, role: Role) -> &Val<RegionModel> {
    match role {
        Role::Primary => &m.primary,
        Role::Dr => &m.dr,
    }
}

fn side_mut(m: &mut MetricStreamModel, role: Role) -> &mut Val<RegionModel> {
    match role {
        Role::Primary => &mut m.primary,
        Role::Dr => &mut m.dr,
    }
}
