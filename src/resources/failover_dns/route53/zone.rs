//! The hosted zone: found by id, or (when drpair creates it) by name and caller reference.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_route53::types::{HostedZoneConfig, Tag, TagResourceType};
use aws_sdk_route53::Client;

use crate::aws::error::api_error;
use crate::aws::tags::Tags;
use crate::aws::{AwsContext, AwsError};
use crate::resources::app_tier::fleet::tag_changes;

use super::{normalize, zone_reference_prefix, ObservedZone};

pub(super) const ZONE: &str = "hosted zone";
/// Route 53 is a global service; errors name it as the region.
pub(super) const GLOBAL: &str = "global";

/// Route 53 says `NoSuchHostedZone`, `NoSuchHealthCheck`, … where other services say
/// `…NotFound`.
pub(super) fn classify(err: AwsError) -> AwsError {
    match err {
        AwsError::Api(f) if f.code.as_deref().is_some_and(|c| c.starts_with("NoSuch")) => {
            AwsError::not_found(&f.what, &f.id, &f.region)
        }
        other => other,
    }
}

/// A unique suffix for caller references: a later create after a deletion must not reuse one.
pub(super) fn nonce() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("{millis}")
}

pub(super) fn bare_zone_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The zone with this id; `None` when it does not exist.
pub async fn find_zone(ctx: &AwsContext, id: &str) -> Result<Option<ObservedZone>, AwsError> {
    let id = bare_zone_id(id);
    let out = ctx
        .primary
        .route53()
        .get_hosted_zone()
        .id(id)
        .send()
        .await
        .map_err(api_error("reading", ZONE, id, GLOBAL))
        .map_err(classify);
    let out = match out {
        Ok(o) => o,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(zone) = out.hosted_zone() else {
        return Ok(None);
    };
    let name = normalize(zone.name());
    Ok(Some(ObservedZone {
        id: bare_zone_id(zone.id()).to_owned(),
        managed: zone
            .caller_reference()
            .starts_with(&zone_reference_prefix(&name)),
        name,
        name_servers: out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
    }))
}

/// The public zone drpair created for this domain, if any.
pub(super) async fn find_managed_by_name(
    ctx: &AwsContext,
    name: &str,
) -> Result<Option<ObservedZone>, AwsError> {
    let wanted = normalize(name);
    let prefix = zone_reference_prefix(&wanted);
    let r53 = ctx.primary.route53();
    let out = r53
        .list_hosted_zones_by_name()
        .dns_name(format!("{wanted}."))
        .max_items(100)
        .send()
        .await
        .map_err(api_error("listing", "hosted zones", &wanted, GLOBAL))?;
    let found = out.hosted_zones().iter().find(|z| {
        normalize(z.name()) == wanted
            && z.caller_reference().starts_with(&prefix)
            && !z.config().is_some_and(|c| c.private_zone())
    });
    match found {
        Some(z) => find_zone(ctx, z.id()).await,
        None => Ok(None),
    }
}

/// Creates the public zone, tagged.
pub(super) async fn create(
    ctx: &AwsContext,
    name: &str,
    owner: &str,
    tags: &Tags,
) -> Result<ObservedZone, AwsError> {
    let name = normalize(name);
    let r53 = ctx.primary.route53();
    let out = r53
        .create_hosted_zone()
        .name(format!("{name}."))
        .caller_reference(format!("{}{}", zone_reference_prefix(&name), nonce()))
        .hosted_zone_config(
            HostedZoneConfig::builder()
                .comment(format!("Managed by drpair ({owner})"))
                .private_zone(false)
                .build(),
        )
        .send()
        .await
        .map_err(api_error("creating", ZONE, &name, GLOBAL))?;
    let id = out
        .hosted_zone()
        .map(|z| bare_zone_id(z.id()).to_owned())
        .unwrap_or_default();
    tracing::info!("created hosted zone {name} ({id})");
    retag(&r53, TagResourceType::Hostedzone, &id, tags).await?;
    Ok(ObservedZone {
        id,
        name,
        name_servers: out
            .delegation_set()
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
        managed: true,
    })
}

pub(super) async fn tags_of(
    r53: &Client,
    kind: TagResourceType,
    id: &str,
) -> Result<Tags, AwsError> {
    let out = r53
        .list_tags_for_resource()
        .resource_type(kind.clone())
        .resource_id(id)
        .send()
        .await
        .map_err(api_error("reading the tags of", kind.as_str(), id, GLOBAL))
        .map_err(classify)?;
    Ok(out
        .resource_tag_set()
        .map(|s| {
            s.tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_owned(),
                        t.value().unwrap_or_default().to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Makes the object's tags exactly `desired` (AWS's own keys aside).
pub(super) async fn retag(
    r53: &Client,
    kind: TagResourceType,
    id: &str,
    desired: &Tags,
) -> Result<(), AwsError> {
    let actual = tags_of(r53, kind.clone(), id).await?;
    let (set, remove) = tag_changes(&actual, desired);
    if set.is_empty() && remove.is_empty() {
        return Ok(());
    }
    r53.change_tags_for_resource()
        .resource_type(kind.clone())
        .resource_id(id)
        .set_add_tags((!set.is_empty()).then(|| {
            set.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect()
        }))
        .set_remove_tag_keys((!remove.is_empty()).then_some(remove))
        .send()
        .await
        .map_err(api_error("tagging", kind.as_str(), id, GLOBAL))?;
    Ok(())
}

/// Deletes a zone drpair created. Records other than its own must be gone already.
pub(super) async fn delete(ctx: &AwsContext, id: &str) -> Result<(), AwsError> {
    let result = ctx
        .primary
        .route53()
        .delete_hosted_zone()
        .id(id)
        .send()
        .await
        .map_err(api_error("deleting", ZONE, id, GLOBAL))
        .map_err(classify);
    match result {
        Ok(_) => {
            tracing::info!("deleted hosted zone {id}");
            Ok(())
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) if e.code() == Some("HostedZoneNotEmpty") => Err(AwsError::api(
            "deleting",
            ZONE,
            id,
            GLOBAL,
            Some("HostedZoneNotEmpty".into()),
            "the zone drpair created still holds records that other tools added; delete them, then destroy again",
        )),
        Err(e) => Err(e),
    }
}

/// The public zone a name belongs to: the zone of the longest suffix of the name.
pub async fn find_zone_for(ctx: &AwsContext, fqdn: &str) -> Result<Option<ObservedZone>, AwsError> {
    let name = normalize(fqdn);
    let r53 = ctx.primary.route53();
    let mut suffix = name.as_str();
    loop {
        let out = r53
            .list_hosted_zones_by_name()
            .dns_name(format!("{suffix}."))
            .max_items(10)
            .send()
            .await
            .map_err(api_error("listing", "hosted zones", suffix, GLOBAL))?;
        let zone = out.hosted_zones().iter().find(|z| {
            normalize(z.name()) == suffix && !z.config().is_some_and(|c| c.private_zone())
        });
        if let Some(z) = zone {
            return find_zone(ctx, z.id()).await;
        }
        match suffix.split_once('.') {
            Some((_, rest)) if rest.contains('.') => suffix = rest,
            _ => return Ok(None),
        }
    }
}
