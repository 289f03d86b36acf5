//! [`ensure`]: create what is missing, adopt what exists, repair what drifted, in order and
//! under one deadline: the KMS keys, the source table, the DR replica, TTL, point-in-time
//! recovery and tags in both regions. Safe to run again at any point.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateReplicationGroupMemberAction, KeySchemaElement,
    KeyType, PointInTimeRecoverySpecification, ReplicationGroupUpdate, ScalarAttributeType,
    SseSpecification, SseType, StreamSpecification, StreamViewType, TableDescription, Tag,
    TimeToLiveSpecification, UpdateReplicationGroupMemberAction,
};
use aws_smithy_types::error::operation::BuildError;

use crate::aws::error::api_error;
use crate::aws::tags::{Tags, OWNER_TAG};
use crate::aws::{wait_for, AwsContext, AwsError, Deadline, Poll, RegionCtx};

use super::find::{self, REPLICA, TABLE};
use super::{changed_tags, kms, removed_tag_keys, KeySchema, ObservedTable, RegionKey, TableSpec};

/// Whether an existing table without this resource's owner tag may be taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adoption {
    /// Create: a table of the same name that is not ours is an error (import it instead).
    OwnedOnly,
    /// Update after an import: the table is ours, tagged or not.
    Any,
}

const NEW_AND_OLD: &str = "NEW_AND_OLD_IMAGES";

/// Converges both regions on `spec` and returns what exists afterwards.
pub async fn ensure(
    ctx: &AwsContext,
    spec: &TableSpec,
    adoption: Adoption,
    deadline: Deadline,
) -> Result<ObservedTable, AwsError> {
    // Before anything is created: a table of this name that is not ours stops the apply.
    if let Some(existing) = find::describe_table(&ctx.primary, &spec.name).await? {
        check_ownership(&ctx.primary, spec, &existing, adoption).await?;
    }
    let (primary_key, dr_key) = tokio::try_join!(
        kms::ensure_key(&ctx.primary, spec),
        kms::ensure_key(&ctx.dr, spec),
    )?;
    let source = ensure_source_table(&ctx.primary, spec, &primary_key, adoption, deadline).await?;
    ensure_replica(ctx, spec, &source, &dr_key, deadline).await?;
    // TTL settings are synchronised across replicas by DynamoDB: set the source first, so
    // that the replica usually has nothing left to do.
    let ttl = spec.ttl_attribute.as_deref();
    ensure_ttl(&ctx.primary, &spec.name, ttl, deadline).await?;
    ensure_ttl(&ctx.dr, &spec.name, ttl, deadline).await?;
    tokio::try_join!(
        ensure_pitr(
            &ctx.primary,
            &spec.name,
            spec.point_in_time_recovery,
            deadline
        ),
        ensure_pitr(&ctx.dr, &spec.name, spec.point_in_time_recovery, deadline),
    )?;
    tokio::try_join!(
        ensure_table_tags(&ctx.primary, spec),
        ensure_table_tags(&ctx.dr, spec),
    )?;
    super::observe(ctx, &spec.name)
        .await?
        .ok_or_else(|| AwsError::not_found(TABLE, &spec.name, &ctx.primary.region))
}

fn build_error(what: &str) -> impl FnOnce(BuildError) -> AwsError + '_ {
    move |e| AwsError::Config(format!("building {what}: {e}"))
}

fn attribute_definition(name: &str, ty: &str) -> Result<AttributeDefinition, AwsError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::from(ty))
        .build()
        .map_err(build_error("an attribute definition"))
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, AwsError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_error("a key schema element"))
}

fn dynamodb_tags(tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(build_error("a tag"))
        })
        .collect()
}

fn streams_on() -> Result<StreamSpecification, AwsError> {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .map_err(build_error("a stream specification"))
}

fn sse_with(key: &RegionKey) -> SseSpecification {
    SseSpecification::builder()
        .enabled(true)
        .sse_type(SseType::Kms)
        .kms_master_key_id(&key.arn)
        .build()
}

fn describe_keys(k: &KeySchema) -> String {
    match &k.range_key {
        Some(r) => format!(
            "hash {} ({}), range {r} ({})",
            k.hash_key, k.hash_key_type, k.range_key_type
        ),
        None => format!("hash {} ({})", k.hash_key, k.hash_key_type),
    }
}

async fn create_table(
    rc: &RegionCtx,
    spec: &TableSpec,
    key: &RegionKey,
    deadline: Deadline,
) -> Result<TableDescription, AwsError> {
    let k = &spec.keys;
    let mut definitions = vec![attribute_definition(&k.hash_key, &k.hash_key_type)?];
    let mut schema = vec![key_element(&k.hash_key, KeyType::Hash)?];
    if let Some(range) = &k.range_key {
        definitions.push(attribute_definition(range, &k.range_key_type)?);
        schema.push(key_element(range, KeyType::Range)?);
    }
    tracing::info!("creating DynamoDB table {} in {}", spec.name, rc.region);
    rc.dynamodb()
        .create_table()
        .table_name(&spec.name)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(schema))
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(streams_on()?)
        .sse_specification(sse_with(key))
        .set_tags(Some(dynamodb_tags(&spec.table_tags(rc.role))?))
        .send()
        .await
        .map_err(api_error("creating", TABLE, &spec.name, &rc.region))?;
    find::wait_table_active(rc, &spec.name, deadline).await
}

/// The error code of [`ensure`] when the table exists and is not this resource's to take: no
/// state may be recorded for it, or a destroy would delete someone else's table.
pub const NOT_OWNED: &str = "TableNotOwned";

/// Refuses a table tagged as another owner's, and (on create) an untagged one.
async fn check_ownership(
    rc: &RegionCtx,
    spec: &TableSpec,
    table: &TableDescription,
    adoption: Adoption,
) -> Result<(), AwsError> {
    let tags = find::list_tags(rc, table.table_arn().unwrap_or_default()).await?;
    let owner = spec.owner();
    let refuse = |message: String| {
        AwsError::api(
            "adopting",
            TABLE,
            &spec.name,
            &rc.region,
            Some(NOT_OWNED.into()),
            message,
        )
    };
    match tags.get(OWNER_TAG) {
        Some(o) if *o == owner => Ok(()),
        Some(other) => Err(refuse(format!("the table is owned by {other}, not {owner}"))),
        None if adoption == Adoption::OwnedOnly => Err(refuse(format!(
            "a table of this name already exists and is not managed by {owner}; bring it under Terraform with `terraform import <address> {}`",
            spec.name
        ))),
        None => Ok(()),
    }
}

/// The source table in the primary region: created, or adopted and repaired (billing mode,
/// streams, encryption). Returns its ACTIVE description.
async fn ensure_source_table(
    rc: &RegionCtx,
    spec: &TableSpec,
    key: &RegionKey,
    adoption: Adoption,
    deadline: Deadline,
) -> Result<TableDescription, AwsError> {
    let Some(existing) = find::describe_table(rc, &spec.name).await? else {
        return create_table(rc, spec, key, deadline).await;
    };
    check_ownership(rc, spec, &existing, adoption).await?;
    let fail =
        |message: String| AwsError::api("adopting", TABLE, &spec.name, &rc.region, None, message);
    let actual = find::key_schema(&existing);
    if actual != spec.keys {
        return Err(fail(format!(
            "its key schema is {} but the configuration asks for {}; a key schema cannot change in place, so the table must be replaced",
            describe_keys(&actual),
            describe_keys(&spec.keys)
        )));
    }
    let mut table = find::wait_table_active(rc, &spec.name, deadline).await?;
    let update = || rc.dynamodb().update_table().table_name(&spec.name);
    let updating = |verb: &'static str| api_error(verb, TABLE, &spec.name, &rc.region);

    let billing = table
        .billing_mode_summary()
        .and_then(|b| b.billing_mode())
        .map(|b| b.as_str().to_owned());
    if billing.as_deref() != Some("PAY_PER_REQUEST") {
        update()
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(updating("switching to on-demand billing"))?;
        table = find::wait_table_active(rc, &spec.name, deadline).await?;
    }
    let stream = table.stream_specification().filter(|s| s.stream_enabled());
    let view = stream
        .and_then(|s| s.stream_view_type())
        .map(|v| v.as_str());
    if view != Some(NEW_AND_OLD) {
        if stream.is_some() {
            let off = StreamSpecification::builder()
                .stream_enabled(false)
                .build()
                .map_err(build_error("a stream specification"))?;
            update()
                .stream_specification(off)
                .send()
                .await
                .map_err(updating("turning off the stream of"))?;
            find::wait_table_active(rc, &spec.name, deadline).await?;
        }
        update()
            .stream_specification(streams_on()?)
            .send()
            .await
            .map_err(updating("turning on the stream of"))?;
        table = find::wait_table_active(rc, &spec.name, deadline).await?;
    }
    let sse_key = table.sse_description().and_then(|s| s.kms_master_key_arn());
    if sse_key != Some(key.arn.as_str()) {
        update()
            .sse_specification(sse_with(key))
            .send()
            .await
            .map_err(updating("setting the KMS key of"))?;
        table = find::wait_table_active(rc, &spec.name, deadline).await?;
    }
    Ok(table)
}

/// The replica in the DR region (global tables version 2019.11.21), encrypted with the DR key.
async fn ensure_replica(
    ctx: &AwsContext,
    spec: &TableSpec,
    source: &TableDescription,
    dr_key: &RegionKey,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let (primary, dr) = (&ctx.primary, &ctx.dr);
    let name = &spec.name;
    let mut member = find::replica_member(source, &dr.region);
    if member.as_ref().is_some_and(|m| m.status == "DELETING") {
        find::wait_replica(primary, name, &dr.region, false, deadline).await?;
        member = None;
    }
    if member.is_none() {
        // A replica removed a moment ago may still be on its way out of the DR region.
        match find::describe_table(dr, name).await? {
            Some(t) if find::status(&t) == "DELETING" => {
                find::wait_table_gone(dr, name, deadline).await?
            }
            Some(_) => {
                return Err(AwsError::api(
                    "creating",
                    REPLICA,
                    name,
                    &dr.region,
                    Some("TableAlreadyExists".into()),
                    "a table of this name already exists in the DR region outside the global table; delete it (or move its data) so the replica can be created",
                ))
            }
            None => {}
        }
        let create = CreateReplicationGroupMemberAction::builder()
            .region_name(&dr.region)
            .kms_master_key_id(&dr_key.arn)
            .build()
            .map_err(build_error("a replica"))?;
        tracing::info!("adding the replica of {name} in {}", dr.region);
        primary
            .dynamodb()
            .update_table()
            .table_name(name)
            .replica_updates(ReplicationGroupUpdate::builder().create(create).build())
            .send()
            .await
            .map_err(api_error("creating", REPLICA, name, &dr.region))?;
    }
    find::wait_replica(primary, name, &dr.region, true, deadline).await?;
    let replica = find::wait_table_active(dr, name, deadline).await?;
    let replica_key = replica
        .sse_description()
        .and_then(|s| s.kms_master_key_arn());
    if replica_key != Some(dr_key.arn.as_str()) {
        let update = UpdateReplicationGroupMemberAction::builder()
            .region_name(&dr.region)
            .kms_master_key_id(&dr_key.arn)
            .build()
            .map_err(build_error("a replica update"))?;
        primary
            .dynamodb()
            .update_table()
            .table_name(name)
            .replica_updates(ReplicationGroupUpdate::builder().update(update).build())
            .send()
            .await
            .map_err(api_error(
                "setting the KMS key of",
                REPLICA,
                name,
                &dr.region,
            ))?;
        find::wait_replica(primary, name, &dr.region, true, deadline).await?;
    }
    Ok(())
}

/// TTL on `desired` (or off). Changing the attribute means turning TTL off first and waiting
/// until it is off, which AWS may take up to an hour to finish.
async fn ensure_ttl(
    rc: &RegionCtx,
    name: &str,
    desired: Option<&str>,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let current = find::describe_ttl(rc, name).await?;
    if current.effective_attribute() == desired {
        return Ok(());
    }
    if let Some(attribute) = current.effective_attribute() {
        set_ttl(rc, name, attribute, false).await?;
    }
    let Some(attribute) = desired else {
        return Ok(());
    };
    wait_for(
        deadline,
        "TTL of DynamoDB table",
        name,
        &rc.region,
        || async {
            let ttl = find::describe_ttl(rc, name).await?;
            Ok(match ttl.status.as_str() {
                "DISABLED" => Poll::Ready(()),
                other => Poll::Pending(other.to_owned()),
            })
        },
    )
    .await?;
    set_ttl(rc, name, attribute, true).await
}

async fn set_ttl(
    rc: &RegionCtx,
    name: &str,
    attribute: &str,
    enabled: bool,
) -> Result<(), AwsError> {
    let ttl = TimeToLiveSpecification::builder()
        .enabled(enabled)
        .attribute_name(attribute)
        .build()
        .map_err(build_error("a TTL specification"))?;
    let verb = if enabled {
        "turning on TTL of"
    } else {
        "turning off TTL of"
    };
    let sent = rc
        .dynamodb()
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(api_error(verb, TABLE, name, &rc.region));
    match sent {
        Ok(_) => Ok(()),
        // The setting may have reached this replica from the other region meanwhile.
        Err(e) if e.code() == Some("ValidationException") => {
            let now = find::describe_ttl(rc, name).await?;
            let reached = match enabled {
                true => now.effective_attribute() == Some(attribute),
                false => now.effective_attribute().is_none(),
            };
            if reached {
                Ok(())
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

/// Point-in-time recovery on or off. Right after a table or replica is created AWS may answer
/// ContinuousBackupsUnavailableException for a while: retried until the deadline.
async fn ensure_pitr(
    rc: &RegionCtx,
    name: &str,
    enabled: bool,
    deadline: Deadline,
) -> Result<(), AwsError> {
    if find::describe_pitr(rc, name).await? == enabled {
        return Ok(());
    }
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(enabled)
        .build()
        .map_err(build_error("a point-in-time recovery specification"))?;
    wait_for(
        deadline,
        "point-in-time recovery of DynamoDB table",
        name,
        &rc.region,
        || async {
            let sent = rc
                .dynamodb()
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(spec.clone())
                .send()
                .await
                .map_err(api_error(
                    "setting point-in-time recovery of",
                    TABLE,
                    name,
                    &rc.region,
                ));
            match sent {
                Ok(_) => Ok(Poll::Ready(())),
                Err(e) if e.code() == Some("ContinuousBackupsUnavailableException") => {
                    Ok(Poll::Pending("continuous backups being enabled".into()))
                }
                Err(e) => Err(e),
            }
        },
    )
    .await
}

/// Exactly the spec's tags on the region's table (AWS's own `aws:` tags aside).
async fn ensure_table_tags(rc: &RegionCtx, spec: &TableSpec) -> Result<(), AwsError> {
    let Some(table) = find::describe_table(rc, &spec.name).await? else {
        return Err(AwsError::not_found(TABLE, &spec.name, &rc.region));
    };
    let arn = table.table_arn().unwrap_or_default();
    let actual = find::list_tags(rc, arn).await?;
    let desired = spec.table_tags(rc.role);
    let set = changed_tags(&actual, &desired);
    if !set.is_empty() {
        rc.dynamodb()
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(dynamodb_tags(&set)?))
            .send()
            .await
            .map_err(api_error("tagging", TABLE, arn, &rc.region))?;
    }
    let removed = removed_tag_keys(&actual, &desired);
    if !removed.is_empty() {
        rc.dynamodb()
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(removed))
            .send()
            .await
            .map_err(api_error("untagging", TABLE, arn, &rc.region))?;
    }
    Ok(())
}
