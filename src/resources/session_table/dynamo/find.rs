//! Finders and waiters: DescribeTable, DescribeTimeToLive, DescribeContinuousBackups and
//! ListTagsOfResource turned into plain facts, "not found" mapped to `None` here at the lowest
//! level, and the waits for a table or replica to reach a state.

use aws_sdk_dynamodb::types::{TableDescription, TableStatus};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::{wait_for, AwsError, Deadline, Poll, RegionCtx};

use super::{KeySchema, RegionTable, ReplicaMember, Ttl};
use crate::aws::tags::Tags;

pub(super) const TABLE: &str = "DynamoDB table";
pub(super) const REPLICA: &str = "DynamoDB replica";

/// DescribeTable; None when the table does not exist in this region.
pub(super) async fn describe_table(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<TableDescription>, AwsError> {
    let result = rc
        .dynamodb()
        .describe_table()
        .table_name(name)
        .send()
        .await
        .map_err(api_error("describing", TABLE, name, &rc.region));
    Ok(ok_if_not_found(result)?.and_then(|out| out.table))
}

pub(super) fn status(t: &TableDescription) -> String {
    t.table_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}

/// The key schema of a table, with its attributes' types.
pub(super) fn key_schema(t: &TableDescription) -> KeySchema {
    let type_of = |name: &str| {
        t.attribute_definitions()
            .iter()
            .find(|d| d.attribute_name() == name)
            .map(|d| d.attribute_type().as_str().to_owned())
            .unwrap_or_else(|| "S".into())
    };
    let key = |kind: &str| {
        t.key_schema()
            .iter()
            .find(|k| k.key_type().as_str() == kind)
            .map(|k| k.attribute_name().to_owned())
    };
    let hash_key = key("HASH").unwrap_or_default();
    let range_key = key("RANGE");
    KeySchema {
        hash_key_type: type_of(&hash_key),
        range_key_type: range_key
            .as_deref()
            .map(type_of)
            .unwrap_or_else(|| "S".into()),
        hash_key,
        range_key,
    }
}

/// The DR region's entry in a table's replica list.
pub(super) fn replica_member(t: &TableDescription, region: &str) -> Option<ReplicaMember> {
    t.replicas()
        .iter()
        .find(|r| r.region_name() == Some(region))
        .map(|r| ReplicaMember {
            status: r
                .replica_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            kms_key: r.kms_master_key_id().map(str::to_owned),
        })
}

/// Everything about one region's table: the description plus TTL, PITR and tags.
pub(super) async fn region_table(
    rc: &RegionCtx,
    name: &str,
    t: &TableDescription,
) -> Result<RegionTable, AwsError> {
    let arn = t.table_arn().unwrap_or_default().to_owned();
    let (ttl, pitr, tags) = tokio::try_join!(
        describe_ttl(rc, name),
        describe_pitr(rc, name),
        list_tags(rc, &arn),
    )?;
    let stream = t.stream_specification().filter(|s| s.stream_enabled());
    let sse = t
        .sse_description()
        .filter(|s| s.status().is_some_and(|s| s.as_str() == "ENABLED"));
    Ok(RegionTable {
        arn,
        status: status(t),
        stream_arn: t.latest_stream_arn().map(str::to_owned),
        stream_view_type: stream
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_owned()),
        sse_kms_key_arn: sse.and_then(|s| s.kms_master_key_arn()).map(str::to_owned),
        billing_mode: t
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str().to_owned())
            .unwrap_or_else(|| "PROVISIONED".into()),
        ttl,
        point_in_time_recovery: pitr,
        tags,
    })
}

pub(super) async fn describe_ttl(rc: &RegionCtx, name: &str) -> Result<Ttl, AwsError> {
    let out = rc
        .dynamodb()
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(api_error("reading TTL of", TABLE, name, &rc.region))?;
    let d = out.time_to_live_description();
    Ok(Ttl {
        status: d
            .and_then(|d| d.time_to_live_status())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "DISABLED".into()),
        attribute: d.and_then(|d| d.attribute_name()).map(str::to_owned),
    })
}

pub(super) async fn describe_pitr(rc: &RegionCtx, name: &str) -> Result<bool, AwsError> {
    let out = rc
        .dynamodb()
        .describe_continuous_backups()
        .table_name(name)
        .send()
        .await
        .map_err(api_error(
            "reading point-in-time recovery of",
            TABLE,
            name,
            &rc.region,
        ))?;
    Ok(out
        .continuous_backups_description()
        .and_then(|d| d.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .is_some_and(|s| s.as_str() == "ENABLED"))
}

pub(super) async fn list_tags(rc: &RegionCtx, arn: &str) -> Result<Tags, AwsError> {
    let mut tags = Tags::new();
    let mut token: Option<String> = None;
    loop {
        let out = rc
            .dynamodb()
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error("listing tags of", TABLE, arn, &rc.region))?;
        tags.extend(
            out.tags()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned())),
        );
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(tags),
        }
    }
}

/// Waits until the table exists and is ACTIVE.
pub(super) async fn wait_table_active(
    rc: &RegionCtx,
    name: &str,
    deadline: Deadline,
) -> Result<TableDescription, AwsError> {
    wait_for(deadline, TABLE, name, &rc.region, || async {
        Ok(match describe_table(rc, name).await? {
            Some(t) if t.table_status() == Some(&TableStatus::Active) => Poll::Ready(t),
            Some(t) => Poll::Pending(status(&t)),
            None => Poll::Pending("not found".into()),
        })
    })
    .await
}

/// Waits until the table is gone from the region.
pub(super) async fn wait_table_gone(
    rc: &RegionCtx,
    name: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    wait_for(deadline, TABLE, name, &rc.region, || async {
        Ok(match describe_table(rc, name).await? {
            Some(t) => Poll::Pending(status(&t)),
            None => Poll::Ready(()),
        })
    })
    .await
}

/// Waits until the source table is ACTIVE and its replica in `region` is ACTIVE (`present`) or
/// no longer listed (`!present`). A replica that failed ends the wait with its status.
pub(super) async fn wait_replica(
    source: &RegionCtx,
    name: &str,
    region: &str,
    present: bool,
    deadline: Deadline,
) -> Result<TableDescription, AwsError> {
    wait_for(deadline, REPLICA, name, region, || async {
        let Some(t) = describe_table(source, name).await? else {
            return Err(AwsError::not_found(TABLE, name, &source.region));
        };
        let member = replica_member(&t, region);
        let table_active = t.table_status() == Some(&TableStatus::Active);
        Ok(match (&member, present) {
            (Some(m), true) if m.status == "ACTIVE" && table_active => Poll::Ready(t),
            (Some(m), true) if m.status == "CREATION_FAILED" => {
                return Err(AwsError::api(
                    "creating",
                    REPLICA,
                    name,
                    region,
                    Some(m.status.clone()),
                    "the replica could not be created; check the DR KMS key and the replica's status description",
                ));
            }
            (None, false) if table_active => Poll::Ready(t),
            (Some(m), _) => Poll::Pending(format!("replica {}, table {}", m.status, status(&t))),
            (None, _) => Poll::Pending(format!("no replica, table {}", status(&t))),
        })
    })
    .await
}
