//! The orchestrator's state table in the DR region (probe history, the failover lock, the
//! timelines): on-demand, encrypted with KMS, partition key `pk`.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    SseSpecification, SseStatus, SseType, TableStatus, Tag,
};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::NOT_OWNED_CODE;
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{wait_for, AwsError, Deadline, Poll, RegionCtx};

pub const TABLE: &str = "DynamoDB table";
const KEY: &str = "pk";

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedTable {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub encrypted_with_kms: bool,
    pub tags: Tags,
}

/// The table with its tags; None when it does not exist.
pub async fn find_table(rc: &RegionCtx, name: &str) -> Result<Option<ObservedTable>, AwsError> {
    let ddb = rc.dynamodb();
    let got = ddb
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(api_error("reading", TABLE, name, &rc.region));
    let Some(t) = ok_if_not_found(got)?.and_then(|o| o.table) else {
        return Ok(None);
    };
    let arn = t.table_arn().unwrap_or_default().to_owned();
    let status = t
        .table_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    if status == TableStatus::Deleting.as_str() {
        return Ok(None);
    }
    let tags = ddb
        .list_tags_of_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(api_error("listing the tags of", TABLE, name, &rc.region));
    let Some(tags) = ok_if_not_found(tags)? else {
        return Ok(None);
    };
    Ok(Some(ObservedTable {
        name: name.to_owned(),
        arn,
        status,
        encrypted_with_kms: t
            .sse_description()
            .and_then(|s| s.status())
            .is_some_and(|s| {
                matches!(
                    s,
                    SseStatus::Enabled | SseStatus::Enabling | SseStatus::Updating
                )
            }),
        tags: tags
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
    }))
}

pub fn table_drift(name: &str, observed: Option<&ObservedTable>) -> Vec<String> {
    match observed {
        None => vec![format!("{TABLE} {name} is missing")],
        Some(t) if !t.encrypted_with_kms => {
            vec![format!("{TABLE} {name} is not encrypted with KMS")]
        }
        Some(_) => Vec::new(),
    }
}

fn dynamodb_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
        .collect()
}

async fn wait_active(
    rc: &RegionCtx,
    name: &str,
    deadline: Deadline,
) -> Result<ObservedTable, AwsError> {
    wait_for(deadline, TABLE, name, &rc.region, || async {
        Ok(match find_table(rc, name).await? {
            Some(t) if t.status == TableStatus::Active.as_str() => Poll::Ready(t),
            Some(t) => Poll::Pending(t.status),
            None => Poll::Pending("not visible yet".into()),
        })
    })
    .await
}

/// Creates the table or brings it to the spec (KMS encryption, tags). One tagged with another
/// owner is refused; an untagged one unless `adopt_untagged`.
pub async fn ensure_table(
    rc: &RegionCtx,
    name: &str,
    tags: &Tags,
    owner: &str,
    adopt_untagged: bool,
    deadline: Deadline,
) -> Result<ObservedTable, AwsError> {
    let ddb = rc.dynamodb();
    let refuse = |detail: String| {
        AwsError::api(
            "adopting",
            TABLE,
            name,
            &rc.region,
            Some(NOT_OWNED_CODE.to_owned()),
            detail,
        )
    };
    let kms = SseSpecification::builder()
        .enabled(true)
        .sse_type(SseType::Kms)
        .build();
    match find_table(rc, name).await? {
        Some(t) => match t.tags.get(OWNER_TAG) {
            Some(other) if other != owner => {
                return Err(refuse(format!("the table is owned by {other}, not {owner}")))
            }
            None if !adopt_untagged => return Err(refuse(format!("a table of this name exists and is not managed by drpair (no {OWNER_TAG} tag); delete or rename it, or import the resource that should own it"))),
            _ => {}
        },
        None => {
            let key = KeySchemaElement::builder()
                .attribute_name(KEY)
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| AwsError::Config(e.to_string()))?;
            let attribute = AttributeDefinition::builder()
                .attribute_name(KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| AwsError::Config(e.to_string()))?;
            let created = ddb
                .create_table()
                .table_name(name)
                .key_schema(key)
                .attribute_definitions(attribute)
                .billing_mode(BillingMode::PayPerRequest)
                .sse_specification(kms.clone())
                .set_tags(Some(dynamodb_tags(tags)))
                .send()
                .await;
            match created {
                Ok(_) => tracing::info!("created {TABLE} {}/{name}", rc.region),
                // Created meanwhile by a concurrent or retried apply.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {}
                Err(e) => return Err(api_error("creating", TABLE, name, &rc.region)(e)),
            }
        }
    }
    let mut table = wait_active(rc, name, deadline).await?;
    if !table.encrypted_with_kms {
        ddb.update_table()
            .table_name(name)
            .sse_specification(kms)
            .send()
            .await
            .map_err(api_error("encrypting", TABLE, name, &rc.region))?;
        table = wait_active(rc, name, deadline).await?;
        table.encrypted_with_kms = true;
    }
    let (set, remove) = tag_changes(&table.tags, tags);
    if !set.is_empty() {
        ddb.tag_resource()
            .resource_arn(&table.arn)
            .set_tags(Some(dynamodb_tags(&set)))
            .send()
            .await
            .map_err(api_error("tagging", TABLE, name, &rc.region))?;
    }
    if !remove.is_empty() {
        ddb.untag_resource()
            .resource_arn(&table.arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(api_error("untagging", TABLE, name, &rc.region))?;
    }
    table.tags = tags.clone();
    Ok(table)
}

/// Deletes the table (the probe history and timelines go with it) and waits until it is gone.
/// One tagged with another owner is left alone; a missing one is success.
pub async fn delete_table(
    rc: &RegionCtx,
    name: &str,
    owner: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let Some(table) = find_table(rc, name).await? else {
        return Ok(());
    };
    if let Some(other) = table.tags.get(OWNER_TAG).filter(|o| *o != owner) {
        tracing::warn!("leaving {TABLE} {name}: owned by {other}, not {owner}");
        return Ok(());
    }
    if table.status != TableStatus::Active.as_str() {
        // DynamoDB refuses to delete a table that is being created or updated.
        wait_active(rc, name, deadline).await?;
    }
    let deleted = rc
        .dynamodb()
        .delete_table()
        .table_name(name)
        .send()
        .await
        .map_err(api_error("deleting", TABLE, name, &rc.region));
    ok_if_not_found(deleted)?;
    wait_for(deadline, TABLE, name, &rc.region, || async {
        Ok(match find_table(rc, name).await? {
            None => Poll::Ready(()),
            Some(t) => Poll::Pending(t.status),
        })
    })
    .await?;
    tracing::info!("deleted {TABLE} {}/{name}", rc.region);
    Ok(())
}
