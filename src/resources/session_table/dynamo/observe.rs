//! [`observe`]: what exists in both regions, as plain facts; [`drift`]: how that differs from
//! what the resource should be, one human-readable line per difference.

use crate::aws::tags::{is_managed_key, Tags, OWNER_TAG};
use crate::aws::{AwsContext, AwsError, Role};

use super::find;
use super::kms;
use super::{is_aws_tag, ObservedTable, RegionKey, RegionTable, TableSpec};

const NEW_AND_OLD: &str = "NEW_AND_OLD_IMAGES";

/// Reads the source table, its replica and both keys. None when the source table does not
/// exist (the resource is gone); a missing replica or key is reported, not an error.
pub async fn observe(ctx: &AwsContext, name: &str) -> Result<Option<ObservedTable>, AwsError> {
    let Some(source) = find::describe_table(&ctx.primary, name).await? else {
        return Ok(None);
    };
    let alias = super::key_alias(name);
    let (primary, dr_description, primary_key, dr_key) = tokio::try_join!(
        find::region_table(&ctx.primary, name, &source),
        find::describe_table(&ctx.dr, name),
        kms::find_key(&ctx.primary, &alias),
        kms::find_key(&ctx.dr, &alias),
    )?;
    let dr = match &dr_description {
        Some(t) => Some(find::region_table(&ctx.dr, name, t).await?),
        None => None,
    };
    Ok(Some(ObservedTable {
        name: name.to_owned(),
        keys: find::key_schema(&source),
        global_table_version: source.global_table_version().map(str::to_owned),
        replica: find::replica_member(&source, &ctx.dr.region),
        primary,
        dr,
        primary_key,
        dr_key,
    }))
}

/// What a destroy would still remove once the source table is gone, one line each: the DR
/// table left on its own, and either region's key still under the table's alias (whatever its
/// state: a destroy stopped between scheduling the deletion and removing the alias leaves the
/// alias) when it is tagged as this table's or is the one state records (`known_keys`:
/// primary, DR). Empty when the resource is really gone. Only asked when [`observe`] found no
/// source table, so a table that exists costs nothing more.
pub async fn leftovers(
    ctx: &AwsContext,
    name: &str,
    known_keys: [Option<&str>; 2],
) -> Result<Vec<String>, AwsError> {
    let alias = super::key_alias(name);
    let owner = super::owner_tag_value(name);
    let (dr_table, primary_key, dr_key) = tokio::try_join!(
        find::describe_table(&ctx.dr, name),
        kms::find_key(&ctx.primary, &alias),
        kms::find_key(&ctx.dr, &alias),
    )?;
    let mut out = Vec::new();
    if dr_table.is_some() {
        out.push(format!(
            "{}: table {name} is left on its own",
            ctx.dr.region
        ));
    }
    for ((rc, key), known) in [(&ctx.primary, primary_key), (&ctx.dr, dr_key)]
        .into_iter()
        .zip(known_keys)
    {
        let ours =
            |k: &RegionKey| k.tags.get(OWNER_TAG) == Some(&owner) || known == Some(k.arn.as_str());
        if let Some(k) = key.filter(ours) {
            out.push(format!(
                "{}: KMS key {alias} is left ({})",
                rc.region, k.state
            ));
        }
    }
    Ok(out)
}

/// The differences between what exists and `spec`, e.g. `us-east-2: replica is missing`.
/// Empty when nothing needs repair. Differences in the source table's own tags are left out:
/// `tags_all` shows them.
pub fn drift(spec: &TableSpec, o: &ObservedTable, regions: [&str; 2]) -> Vec<String> {
    let mut out = Vec::new();
    let [primary_region, dr_region] = regions;
    match &o.replica {
        None => out.push(format!("{dr_region}: replica is missing")),
        Some(m) if !matches!(m.status.as_str(), "ACTIVE" | "CREATING" | "UPDATING") => {
            out.push(format!("{dr_region}: replica is {}", m.status))
        }
        Some(_) => {}
    }
    if o.replica.is_some() && o.dr.is_none() {
        out.push(format!("{dr_region}: replica table is missing"));
    }
    if o.primary.billing_mode != "PAY_PER_REQUEST" {
        out.push(format!(
            "{primary_region}: billing mode is {}, not on-demand",
            o.primary.billing_mode
        ));
    }
    if o.primary.stream_view_type.as_deref() != Some(NEW_AND_OLD) {
        out.push(format!(
            "{primary_region}: stream is {}, not {NEW_AND_OLD}",
            o.primary.stream_view_type.as_deref().unwrap_or("off")
        ));
    }
    for (role, region) in [(Role::Primary, primary_region), (Role::Dr, dr_region)] {
        let key = o.key(role);
        match key {
            None => out.push(format!("{region}: KMS key {} is missing", spec.key_alias())),
            Some(k) if k.state != "Enabled" => {
                out.push(format!("{region}: KMS key {} is {}", k.arn, k.state))
            }
            Some(k) => {
                let desired = spec.tags(role, super::part::KMS_KEY);
                if !same_tags(&k.tags, &desired) {
                    out.push(format!("{region}: KMS key tags differ"));
                }
                let policy = crate::aws::kms::account_of(&k.arn)
                    .map(|account| super::kms::key_policy(&account, region));
                out.extend(crate::aws::kms::key_drift_with_policy(
                    region,
                    &spec.key_alias(),
                    Some(k),
                    policy.as_ref(),
                ));
            }
        }
        let Some(table) = o.table(role) else { continue };
        region_drift(
            spec,
            role,
            region,
            table,
            key.map(|k| k.arn.as_str()),
            &mut out,
        );
    }
    out
}

fn region_drift(
    spec: &TableSpec,
    role: Role,
    region: &str,
    t: &RegionTable,
    key_arn: Option<&str>,
    out: &mut Vec<String>,
) {
    if let Some(key_arn) = key_arn {
        if t.sse_kms_key_arn.as_deref() != Some(key_arn) {
            out.push(format!(
                "{region}: table is encrypted with {}, not the drpair KMS key",
                t.sse_kms_key_arn.as_deref().unwrap_or("an AWS-owned key")
            ));
        }
    }
    let ttl = t.ttl.effective_attribute();
    if ttl != spec.ttl_attribute.as_deref() {
        out.push(match (ttl, &spec.ttl_attribute) {
            (None, Some(want)) => format!("{region}: TTL is off, expected on {want}"),
            (Some(have), None) => format!("{region}: TTL is on {have}, expected off"),
            (have, want) => format!(
                "{region}: TTL is on {}, expected on {}",
                have.unwrap_or_default(),
                want.as_deref().unwrap_or_default()
            ),
        });
    }
    if t.point_in_time_recovery != spec.point_in_time_recovery {
        let state = |on: bool| if on { "on" } else { "off" };
        out.push(format!(
            "{region}: point-in-time recovery is {}, expected {}",
            state(t.point_in_time_recovery),
            state(spec.point_in_time_recovery)
        ));
    }
    let desired = spec.table_tags(role);
    let differs = match role {
        // The source table's user tags show in tags_all; only the managed ones count here.
        Role::Primary => desired
            .iter()
            .filter(|(k, _)| is_managed_key(k))
            .any(|(k, v)| t.tags.get(k) != Some(v)),
        Role::Dr => !same_tags(&t.tags, &desired),
    };
    if differs {
        out.push(format!("{region}: {} tags differ", super::table_part(role)));
    }
}

fn same_tags(actual: &Tags, desired: &Tags) -> bool {
    let ours: Tags = actual
        .iter()
        .filter(|(k, _)| !is_aws_tag(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ours == *desired
}

#[cfg(test)]
mod tests {
    use super::super::tests::spec;
    use super::super::{RegionKey, ReplicaMember, Ttl};
    use super::*;

    const REGIONS: [&str; 2] = ["us-east-1", "us-east-2"];

    fn table(spec: &TableSpec, role: Role, key: &str) -> RegionTable {
        RegionTable {
            arn: format!("arn:{key}"),
            status: "ACTIVE".into(),
            stream_arn: Some("stream".into()),
            stream_view_type: Some(NEW_AND_OLD.into()),
            sse_kms_key_arn: Some(key.into()),
            billing_mode: "PAY_PER_REQUEST".into(),
            ttl: Ttl {
                status: "ENABLED".into(),
                attribute: Some("expires_at".into()),
            },
            point_in_time_recovery: true,
            tags: spec.table_tags(role),
        }
    }

    fn healthy(spec: &TableSpec) -> ObservedTable {
        let key = |role: Role, arn: &str| RegionKey {
            arn: arn.into(),
            key_id: arn.into(),
            state: "Enabled".into(),
            tags: spec.tags(role, super::super::part::KMS_KEY),
            ..RegionKey::default()
        };
        ObservedTable {
            name: spec.name.clone(),
            keys: spec.keys.clone(),
            global_table_version: Some("2019.11.21".into()),
            replica: Some(ReplicaMember {
                status: "ACTIVE".into(),
                kms_key: Some("k2".into()),
            }),
            primary: table(spec, Role::Primary, "k1"),
            dr: Some(table(spec, Role::Dr, "k2")),
            primary_key: Some(key(Role::Primary, "k1")),
            dr_key: Some(key(Role::Dr, "k2")),
        }
    }

    #[test]
    fn a_complete_table_has_no_drift() {
        let s = spec();
        assert_eq!(drift(&s, &healthy(&s), REGIONS), Vec::<String>::new());
    }

    #[test]
    fn each_difference_is_reported_with_its_region() {
        let s = spec();
        type Break = fn(&mut ObservedTable);
        let cases: Vec<(Break, &str)> = vec![
            (
                |o| {
                    o.replica = None;
                    o.dr = None
                },
                "us-east-2: replica is missing",
            ),
            (|o| o.dr = None, "us-east-2: replica table is missing"),
            (
                |o| o.replica.as_mut().unwrap().status = "CREATION_FAILED".into(),
                "us-east-2: replica is CREATION_FAILED",
            ),
            (
                |o| o.dr.as_mut().unwrap().point_in_time_recovery = false,
                "us-east-2: point-in-time recovery is off, expected on",
            ),
            (
                |o| o.dr.as_mut().unwrap().ttl.status = "DISABLED".into(),
                "us-east-2: TTL is off, expected on expires_at",
            ),
            (
                |o| o.primary.ttl.attribute = Some("other".into()),
                "us-east-1: TTL is on other, expected on expires_at",
            ),
            (
                |o| o.primary.stream_view_type = None,
                "us-east-1: stream is off, not NEW_AND_OLD_IMAGES",
            ),
            (
                |o| o.primary.billing_mode = "PROVISIONED".into(),
                "us-east-1: billing mode is PROVISIONED, not on-demand",
            ),
            (
                |o| o.dr.as_mut().unwrap().sse_kms_key_arn = None,
                "us-east-2: table is encrypted with an AWS-owned key, not the drpair KMS key",
            ),
            (
                |o| o.dr_key.as_mut().unwrap().state = "PendingDeletion".into(),
                "us-east-2: KMS key k2 is PendingDeletion",
            ),
            (
                |o| o.primary_key = None,
                "us-east-1: KMS key alias/session-table-v2-test is missing",
            ),
            (
                |o| {
                    o.dr.as_mut().unwrap().tags.remove("Environment");
                },
                "us-east-2: replica tags differ",
            ),
            (
                |o| {
                    o.primary.tags.insert("DR-Role".into(), "dr".into());
                },
                "us-east-1: table tags differ",
            ),
        ];
        for (break_it, expected) in cases {
            let mut o = healthy(&s);
            break_it(&mut o);
            let found = drift(&s, &o, REGIONS);
            assert!(
                found.iter().any(|d| d == expected),
                "expected {expected:?} in {found:?}"
            );
        }
    }

    #[test]
    fn user_tags_on_the_source_table_are_not_drift() {
        let s = spec();
        let mut o = healthy(&s);
        o.primary.tags.insert("Extra".into(), "x".into());
        o.dr.as_mut()
            .unwrap()
            .tags
            .insert("aws:rep:x".into(), "y".into());
        assert_eq!(drift(&s, &o, REGIONS), Vec::<String>::new());
    }

    #[test]
    fn pitr_and_ttl_off_as_wanted() {
        let mut s = spec();
        s.point_in_time_recovery = false;
        s.ttl_attribute = None;
        let mut o = healthy(&s);
        for t in [&mut o.primary, o.dr.as_mut().unwrap()] {
            t.point_in_time_recovery = false;
            t.ttl.status = "DISABLING".into();
        }
        assert_eq!(drift(&s, &o, REGIONS), Vec::<String>::new());
    }
}
