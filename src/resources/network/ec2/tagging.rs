//! [`update_tags`]: re-tag every part in both regions in place.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::Tag;

use crate::aws::error::api_error;
use crate::aws::tags::{
    is_managed_key, standard_tags, tag_value, to_ec2_tags, Tags, NAME_TAG, PART_TAG,
};
use crate::aws::{AwsContext, AwsError, RegionCtx};

use super::find::{nat_is_live, peering_is_live, Inventory, Tagged};
use super::NetworkSpec;

const RESOURCES: &str = "network resources";

/// Applies the spec's tags to every part in both regions and deletes the keys that were in the
/// old user or default tags and are no longer wanted.
pub async fn update_tags(
    ctx: &AwsContext,
    spec: &NetworkSpec,
    old_user_tags: &BTreeMap<String, String>,
    old_default_tags: &BTreeMap<String, String>,
) -> Result<(), AwsError> {
    tokio::try_join!(
        retag_region(&ctx.primary, spec, old_user_tags, old_default_tags),
        retag_region(&ctx.dr, spec, old_user_tags, old_default_tags),
    )?;
    Ok(())
}

async fn retag_region(
    rc: &RegionCtx,
    spec: &NetworkSpec,
    old_user_tags: &Tags,
    old_default_tags: &Tags,
) -> Result<(), AwsError> {
    let owner = spec.owner();
    let inv = Inventory::load(rc, &owner).await?;
    let objects = taggable(&inv);
    if objects.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = objects.iter().map(|(id, _)| (*id).to_owned()).collect();
    let common = common_tags(spec, rc);
    let ec2 = rc.ec2();
    let removed = removed_keys(&common, old_user_tags, old_default_tags);
    if !removed.is_empty() {
        ec2.delete_tags()
            .set_resources(Some(ids.clone()))
            .set_tags(Some(
                removed
                    .iter()
                    .map(|k| Tag::builder().key(k).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(api_error("untagging", RESOURCES, &owner, &rc.region))?;
    }
    ec2.create_tags()
        .set_resources(Some(ids))
        .set_tags(Some(to_ec2_tags(&common)))
        .send()
        .await
        .map_err(api_error("tagging", RESOURCES, &owner, &rc.region))?;
    // Name tags differ per part; rewrite only those that changed (the network was renamed).
    for (id, tags) in objects {
        let Some(part) = tag_value(tags, PART_TAG) else {
            continue;
        };
        let name = spec.name_of(part);
        if tag_value(tags, NAME_TAG) != Some(name.as_str()) {
            ec2.create_tags()
                .resources(id)
                .tags(Tag::builder().key(NAME_TAG).value(name).build())
                .send()
                .await
                .map_err(api_error("tagging", RESOURCES, id, &rc.region))?;
        }
    }
    tracing::info!("updated tags of {owner} in {}", rc.region);
    Ok(())
}

/// The tags every part of this region shares: all but `Name` and the part.
fn common_tags(spec: &NetworkSpec, rc: &RegionCtx) -> Tags {
    let mut tags = standard_tags(
        &spec.environment,
        rc.role.tag_value(),
        &spec.owner(),
        "",
        None,
        &spec.default_tags,
        &spec.user_tags,
    );
    tags.remove(NAME_TAG);
    tags.remove(PART_TAG);
    tags
}

/// Keys the user or the provider's defaults set before and no longer want.
fn removed_keys(desired: &Tags, old_user_tags: &Tags, old_default_tags: &Tags) -> Vec<String> {
    old_user_tags
        .keys()
        .chain(old_default_tags.keys())
        .filter(|k| !desired.contains_key(*k) && !is_managed_key(k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Every object that can still carry tags, with its current tags.
fn taggable(inv: &Inventory) -> Vec<(&str, &[Tag])> {
    fn entries<'a, T: Tagged + 'a>(
        items: impl IntoIterator<Item = &'a T>,
    ) -> impl Iterator<Item = (&'a str, &'a [Tag])> {
        items
            .into_iter()
            .filter_map(|i| Some((i.object_id()?, i.tag_list())))
    }
    entries(&inv.vpcs)
        .chain(entries(&inv.subnets))
        .chain(entries(&inv.internet_gateways))
        .chain(entries(&inv.addresses))
        .chain(entries(&inv.route_tables))
        .chain(entries(inv.nat_gateways.iter().filter(|n| nat_is_live(n))))
        .chain(entries(inv.peerings.iter().filter(|p| peering_is_live(p))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn removed_keys_are_the_old_ones_no_longer_wanted() {
        let desired = map(&[
            ("Team", "sre"),
            ("CostCenter", "payments"),
            ("Environment", "dev"),
        ]);
        let old_user = map(&[("Team", "core"), ("Owner", "alice"), ("Name", "x")]);
        let old_default = map(&[
            ("CostCenter", "payments"),
            ("Budget", "1"),
            ("Owner", "bob"),
        ]);
        assert_eq!(
            removed_keys(&desired, &old_user, &old_default),
            ["Budget", "Owner"]
        );
    }
}
