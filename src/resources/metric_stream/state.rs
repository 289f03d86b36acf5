//! Between the Terraform model and the AWS side: the spec a model asks for, the state what
//! exists maps to, and the inputs an import recovers from the stream and the bucket.

use crate::aws::tags::{is_aws_tag, user_tags, Tags};
use crate::aws::{Deadline, Role};
use crate::framework::{Diagnostics, Val};
use crate::provider::DrClient;

use super::stream::{self, ObservedMetrics, StreamSpec};
use super::{MetricStreamModel, RegionModel, DEFAULT_PREFIX, DEFAULT_RETENTION_DAYS};

/// `{prefix}-metrics-{name_version}-{environment}`.
pub(super) fn stream_name(client: &DrClient, prefix: &str) -> String {
    client.versioned_name(&format!("{prefix}-metrics"))
}

fn prefix(m: &MetricStreamModel) -> Option<String> {
    match &m.name_prefix {
        Val::Known(p) => Some(p.clone()),
        Val::Null => Some(DEFAULT_PREFIX.to_owned()),
        Val::Unknown => None,
    }
}

/// The names of everything, from the prefix alone (inputs left empty).
pub(super) fn names_only(client: &DrClient, m: &MetricStreamModel) -> Option<StreamSpec> {
    let prefix = prefix(m)?;
    Some(StreamSpec {
        name: m
            .id
            .known()
            .cloned()
            .unwrap_or_else(|| stream_name(client, &prefix)),
        prefix,
        name_version: client.name_version.clone(),
        environment: client.environment.clone(),
        output_format: "json".into(),
        retention_days: DEFAULT_RETENTION_DAYS,
        default_tags: client.default_tags.clone(),
        user_tags: m.tags.known().cloned().unwrap_or_default(),
        ..StreamSpec::default()
    })
}

/// What a model asks for; None while an input is unknown.
pub(super) fn spec(client: &DrClient, m: &MetricStreamModel) -> Option<StreamSpec> {
    let mut namespaces = m.namespaces.known()?.clone();
    namespaces.sort();
    namespaces.dedup();
    Some(StreamSpec {
        namespaces,
        output_format: match &m.output_format {
            Val::Known(f) => f.clone(),
            Val::Null => "json".into(),
            Val::Unknown => return None,
        },
        retention_days: match &m.retention_days {
            Val::Known(n) => *n,
            Val::Null => DEFAULT_RETENTION_DAYS,
            Val::Unknown => return None,
        },
        ..names_only(client, m)?
    })
}

/// What an apply leaves for state.
pub(super) enum Converged {
    Applied(MetricStreamModel),
    /// Failed: what exists (None when nothing readable does), so destroy can remove it.
    Failed(Option<MetricStreamModel>),
    /// An object of a wanted name is someone else's: nothing may be recorded.
    Refused,
}

/// Runs the idempotent ensure and maps the outcome to state.
pub(super) async fn converge(
    client: &DrClient,
    spec: &StreamSpec,
    planned: &MetricStreamModel,
    adopt_untagged: bool,
    deadline: Deadline,
    verb: &str,
    diags: &mut Diagnostics,
) -> Converged {
    match stream::ensure(&client.aws, spec, adopt_untagged, deadline).await {
        Ok(observed) => {
            let left = stream::drift(spec, &observed);
            if !left.is_empty() {
                tracing::warn!(
                    "metric stream {} still differs after apply: {left:?}",
                    spec.name
                );
            }
            let mut model = from_observed(client, planned, &observed, Vec::new());
            // Tags are written exactly as planned; reading them back is for drift.
            model.tags_all = planned.tags_all.clone();
            Converged::Applied(model)
        }
        Err((e, _)) if e.code() == Some(crate::aws::iam::NOT_OWNED_CODE) => {
            diags.error(verb, e.to_string());
            Converged::Refused
        }
        Err((e, partial)) => {
            diags.error(verb, e.to_string());
            Converged::Failed(partial.map(|o| {
                let drift = stream::drift(spec, &o);
                from_observed(client, planned, &o, drift)
            }))
        }
    }
}

/// The state of a create that failed before anything readable existed.
pub(super) fn empty_state(client: &DrClient, planned: MetricStreamModel) -> MetricStreamModel {
    let empty = || Val::Known(String::new());
    let known_or_empty = |v: &Val<String>| if v.is_known() { v.clone() } else { empty() };
    let side = |role: Role| {
        let planned_side = match role {
            Role::Primary => planned.primary.known().cloned(),
            Role::Dr => planned.dr.known().cloned(),
        }
        .unwrap_or_default();
        Val::Known(RegionModel {
            region: Val::Known(client.aws.region(role).region.clone()),
            kms_key_arn: empty(),
            stream_arn: empty(),
            firehose_arn: empty(),
            stream_role_arn: empty(),
            firehose_role_arn: empty(),
            bucket_name: known_or_empty(&planned_side.bucket_name),
            bucket_arn: known_or_empty(&planned_side.bucket_arn),
        })
    };
    MetricStreamModel {
        stream_arn: empty(),
        firehose_arn: empty(),
        dr_bucket_name: known_or_empty(&planned.dr_bucket_name),
        dr_bucket_arn: known_or_empty(&planned.dr_bucket_arn),
        stream_role_arn: empty(),
        firehose_role_arn: empty(),
        primary: side(Role::Primary),
        dr: side(Role::Dr),
        drift: Val::Known(vec!["metric stream is missing".into()]),
        ..planned
    }
}

fn unmanaged(tags: &Tags) -> Tags {
    user_tags(tags, &Tags::new())
        .into_iter()
        .filter(|(k, _)| !is_aws_tag(k))
        .collect()
}

/// What was built in `role`'s region: its key, the stream of its metrics with their Firehose
/// stream and roles, and the bucket keeping the other region's metrics.
fn side_from_observed(names: &StreamSpec, o: &ObservedMetrics, role: Role) -> RegionModel {
    let known = |v: Option<&str>| Val::Known(v.unwrap_or_default().to_owned());
    let d = o.direction(role);
    RegionModel {
        region: Val::Known(o.region(role).to_owned()),
        kms_key_arn: known(o.key(role).map(|k| k.arn.as_str())),
        stream_arn: known(d.stream.as_ref().map(|s| s.arn.as_str())),
        firehose_arn: known(d.firehose.as_ref().map(|f| f.arn.as_str())),
        stream_role_arn: known(d.stream_role.as_ref().map(|r| r.arn.as_str())),
        firehose_role_arn: known(d.delivery_role.as_ref().map(|r| r.arn.as_str())),
        bucket_name: Val::Known(names.bucket_name(&o.account, role.peer())),
        bucket_arn: Val::Known(names.bucket_arn(&o.account, role.peer())),
    }
}

/// State from what exists. The inputs are kept from `base` (prior state or plan); names and
/// ARNs come from AWS, or from the deterministic names where AWS has nothing (yet).
pub(super) fn from_observed(
    client: &DrClient,
    base: &MetricStreamModel,
    o: &ObservedMetrics,
    drift: Vec<String>,
) -> MetricStreamModel {
    let names = names_only(client, base).unwrap_or_default();
    let (primary, dr) = (
        side_from_observed(&names, o, Role::Primary),
        side_from_observed(&names, o, Role::Dr),
    );
    let mut m = base.clone();
    m.id = Val::Known(names.name.clone());
    m.name_prefix = Val::Known(names.prefix.clone());
    if !m.output_format.is_known() {
        m.output_format = Val::Known("json".into());
    }
    if !m.retention_days.is_known() {
        m.retention_days = Val::Known(DEFAULT_RETENTION_DAYS);
    }
    // The top-level attributes repeat the primary's stream and the DR bucket.
    m.stream_arn = primary.stream_arn.clone();
    m.firehose_arn = primary.firehose_arn.clone();
    m.stream_role_arn = primary.stream_role_arn.clone();
    m.firehose_role_arn = primary.firehose_role_arn.clone();
    m.dr_bucket_name = dr.bucket_name.clone();
    m.dr_bucket_arn = dr.bucket_arn.clone();
    m.tags = match &base.tags {
        Val::Known(_) => base.tags.clone(),
        _ => Val::Null,
    };
    m.tags_all = match o.primary.stream.as_ref().or(o.dr.stream.as_ref()) {
        Some(s) => Val::Known(unmanaged(&s.tags)),
        None => base.tags_all.clone(),
    };
    m.primary = Val::Known(primary);
    m.dr = Val::Known(dr);
    m.drift = Val::Known(drift);
    m
}

/// State for `terraform import`: the inputs are what the streams and the buckets have (the
/// primary's first).
pub(super) fn imported(
    client: &DrClient,
    seed: &MetricStreamModel,
    o: &ObservedMetrics,
) -> MetricStreamModel {
    let mut m = seed.clone();
    let stream = o.primary.stream.as_ref().or(o.dr.stream.as_ref());
    if let Some(s) = stream {
        m.namespaces = Val::Known(s.namespaces.clone());
        m.output_format = Val::Known(s.output_format.clone());
    }
    m.retention_days = Val::Known(
        [&o.primary.bucket, &o.dr.bucket]
            .into_iter()
            .flatten()
            .find_map(|b| b.expiration.and_then(|(days, _)| days))
            .map_or(DEFAULT_RETENTION_DAYS, i64::from),
    );
    let own: Tags = stream
        .map(|s| {
            user_tags(&s.tags, &client.default_tags)
                .into_iter()
                .filter(|(k, _)| !is_aws_tag(k))
                .collect()
        })
        .unwrap_or_default();
    m.tags = if own.is_empty() {
        Val::Null
    } else {
        Val::Known(own)
    };
    let drift = spec(client, &m)
        .map(|s| stream::drift(&s, o))
        .unwrap_or_default();
    from_observed(client, &m, o, drift)
}
