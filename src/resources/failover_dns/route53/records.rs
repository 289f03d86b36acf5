//! The two failover alias records of the name: PRIMARY and SECONDARY, A records aliasing the
//! regions' load balancers, each with its region's health check and target health evaluated.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecordSet,
    ResourceRecordSetFailover, RrType,
};

use crate::aws::error::api_error;
use crate::aws::waiter::{wait_for, Poll};
use crate::aws::{AwsContext, AwsError, Deadline, Role};

use super::zone::{classify, GLOBAL};
use super::{normalize, set_identifier, DnsSpec, ObservedRecord};

const RECORDS: &str = "failover records";

fn failover(role: Role) -> ResourceRecordSetFailover {
    match role {
        Role::Primary => ResourceRecordSetFailover::Primary,
        Role::Dr => ResourceRecordSetFailover::Secondary,
    }
}

/// The name's failover A records in the zone.
pub(super) async fn list(
    ctx: &AwsContext,
    zone_id: &str,
    fqdn: &str,
) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let wanted = normalize(fqdn);
    let out = ctx
        .primary
        .route53()
        .list_resource_record_sets()
        .hosted_zone_id(zone_id)
        .start_record_name(format!("{wanted}."))
        .start_record_type(RrType::A)
        .max_items(10)
        .send()
        .await
        .map_err(api_error(
            "listing the records of",
            "hosted zone",
            zone_id,
            GLOBAL,
        ))
        .map_err(classify);
    let out = match out {
        Ok(o) => o,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(out
        .resource_record_sets()
        .iter()
        .filter(|r| {
            normalize(r.name()) == wanted && *r.r#type() == RrType::A && r.failover().is_some()
        })
        .cloned()
        .collect())
}

/// The record of one side among the listed ones.
pub(super) fn of_role(records: &[ResourceRecordSet], role: Role) -> Option<ObservedRecord> {
    let wanted = failover(role);
    records
        .iter()
        .find(|r| r.failover() == Some(&wanted))
        .map(|r| ObservedRecord {
            set_identifier: r.set_identifier().unwrap_or_default().to_owned(),
            alias_dns_name: r
                .alias_target()
                .map(|a| normalize(a.dns_name()))
                .unwrap_or_default(),
            alias_zone_id: r
                .alias_target()
                .map(|a| a.hosted_zone_id().to_owned())
                .unwrap_or_default(),
            evaluate_target_health: r.alias_target().is_some_and(|a| a.evaluate_target_health()),
            health_check_id: r.health_check_id().map(str::to_owned),
        })
}

fn record(
    spec: &DnsSpec,
    role: Role,
    health_check_id: &str,
) -> Result<ResourceRecordSet, AwsError> {
    let endpoint = spec.endpoint(role);
    let build_error = |e: aws_smithy_types::error::operation::BuildError| {
        AwsError::Config(format!("record {} ({}): {e}", spec.fqdn, role.label()))
    };
    ResourceRecordSet::builder()
        .name(format!("{}.", spec.fqdn))
        .r#type(RrType::A)
        .set_identifier(set_identifier(role))
        .failover(failover(role))
        .health_check_id(health_check_id)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id(&endpoint.alb_zone_id)
                .dns_name(&endpoint.alb_dns_name)
                .evaluate_target_health(true)
                .build()
                .map_err(build_error)?,
        )
        .build()
        .map_err(build_error)
}

async fn apply(
    ctx: &AwsContext,
    zone_id: &str,
    fqdn: &str,
    changes: Vec<Change>,
    deadline: Deadline,
) -> Result<(), AwsError> {
    if changes.is_empty() {
        return Ok(());
    }
    let r53 = ctx.primary.route53();
    let batch = ChangeBatch::builder()
        .comment(format!("drpair failover records of {fqdn}"))
        .set_changes(Some(changes))
        .build()
        .map_err(|e| AwsError::Config(format!("records of {fqdn}: {e}")))?;
    let out = r53
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(batch)
        .send()
        .await
        .map_err(api_error("changing", RECORDS, fqdn, GLOBAL))?;
    let Some(change_id) = out.change_info().map(|c| c.id().to_owned()) else {
        return Ok(());
    };
    // INSYNC: every Route 53 name server answers with the change.
    wait_for(deadline, "record change", &change_id, GLOBAL, || async {
        let out = r53
            .get_change()
            .id(&change_id)
            .send()
            .await
            .map_err(api_error("reading", "record change", &change_id, GLOBAL))?;
        Ok(match out.change_info().map(|c| c.status()) {
            Some(ChangeStatus::Insync) | None => Poll::Ready(()),
            Some(other) => Poll::Pending(other.as_str().to_owned()),
        })
    })
    .await
}

/// Writes both records (UPSERT), pointing each at its side's health check.
pub(super) async fn upsert(
    ctx: &AwsContext,
    zone_id: &str,
    spec: &DnsSpec,
    check_ids: [&str; 2],
    deadline: Deadline,
) -> Result<(), AwsError> {
    let changes = [(Role::Primary, check_ids[0]), (Role::Dr, check_ids[1])]
        .into_iter()
        .map(|(role, check)| {
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(record(spec, role, check)?)
                .build()
                .map_err(|e| AwsError::Config(format!("records of {}: {e}", spec.fqdn)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    apply(ctx, zone_id, &spec.fqdn, changes, deadline).await?;
    tracing::info!("wrote the failover records of {}", spec.fqdn);
    Ok(())
}

/// Deletes the name's failover records, as they are now. Idempotent.
pub(super) async fn delete_all(
    ctx: &AwsContext,
    zone_id: &str,
    fqdn: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let existing = list(ctx, zone_id, fqdn).await?;
    let changes = existing
        .into_iter()
        .map(|set| {
            Change::builder()
                .action(ChangeAction::Delete)
                .resource_record_set(set)
                .build()
                .map_err(|e| AwsError::Config(format!("records of {fqdn}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    match apply(ctx, zone_id, fqdn, changes, deadline).await {
        // Deleted meanwhile: what matters is that they are gone.
        Err(e) if e.code() == Some("InvalidChangeBatch") => Ok(()),
        other => other,
    }
}
