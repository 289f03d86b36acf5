//! Plan-time checks of a `drpair_global_database` configuration, each naming its attribute.

use crate::framework::{AttributePath, Diagnostics, Val};
use crate::resources::timeouts;

use super::{GlobalDatabaseModel, RegionModel};

pub const MIN_RPO_SECONDS: i64 = 20;
/// Aurora allows 15 replicas besides the writer, in the primary and in a secondary cluster.
pub const MAX_INSTANCES: i64 = 16;
/// RDS identifiers (clusters, instances, global clusters) are at most 63 characters.
pub const MAX_IDENTIFIER: usize = 63;

pub fn validate(config: &GlobalDatabaseModel, diags: &mut Diagnostics) {
    let root = AttributePath::root();
    if let Val::Known(v) = &config.engine_version {
        if let Err(detail) = engine_version(v) {
            diags.error_at(
                root.attr("engine_version"),
                "Unsupported engine version",
                detail,
            );
        }
    }
    if let Val::Known(v) = &config.database_name {
        if let Err(detail) = postgres_name(v, "database_name") {
            diags.error_at(root.attr("database_name"), "Invalid database name", detail);
        }
    }
    if let Val::Known(v) = &config.master_username {
        if let Err(detail) = master_username(v) {
            diags.error_at(
                root.attr("master_username"),
                "Invalid master username",
                detail,
            );
        }
    }
    if let Val::Known(v) = &config.instance_class {
        if let Err(detail) = instance_class(v) {
            diags.error_at(
                root.attr("instance_class"),
                "Invalid instance class",
                detail,
            );
        }
    }
    if let Val::Known(n) = &config.rpo_target_seconds {
        if *n < MIN_RPO_SECONDS || *n > i64::from(i32::MAX) {
            diags.error_at(
                root.attr("rpo_target_seconds"),
                "RPO target out of range",
                format!("rpo_target_seconds is {n}; Aurora PostgreSQL's managed RPO (rds.global_db_rpo) accepts {MIN_RPO_SECONDS} seconds or more."),
            );
        }
    }
    if let Val::Known(n) = &config.secret_recovery_window_days {
        if *n != 0 && !(7..=30).contains(n) {
            diags.error_at(
                root.attr("secret_recovery_window_days"),
                "Invalid secret recovery window",
                format!("secret_recovery_window_days is {n}; Secrets Manager keeps a deleted secret recoverable for 7 to 30 days, or 0 to delete it at once without recovery."),
            );
        }
    }
    for (side, region) in [("primary", &config.primary), ("dr", &config.dr)] {
        if let Val::Known(r) = region {
            validate_region(r, &root.attr(side), diags);
        }
    }
    crate::resources::monitoring::validate::tags(&config.tags, root.attr("tags"), diags);
    timeouts::validate(&config.timeouts, &root.attr("timeouts"), diags);
}

fn validate_region(r: &RegionModel, path: &AttributePath, diags: &mut Diagnostics) {
    if let Val::Known(n) = &r.instance_count {
        if !(1..=MAX_INSTANCES).contains(n) {
            diags.error_at(
                path.attr("instance_count"),
                "Invalid instance count",
                format!("instance_count is {n}; each cluster needs 1 to {MAX_INSTANCES} instances (a writer, or in a secondary region a reader that can be promoted, plus up to 15 replicas)."),
            );
        }
    }
    if let Val::Known(ids) = &r.subnet_ids {
        if ids.len() < 2 {
            diags.error_at(
                path.attr("subnet_ids"),
                "Not enough subnets",
                format!("subnet_ids has {} subnet(s); Aurora needs subnets in at least two availability zones of the region (for example the network's private_subnet_ids).", ids.len()),
            );
        }
        for id in ids.iter().filter_map(|id| id.known()) {
            if !id.starts_with("subnet-") {
                diags.error_at(
                    path.attr("subnet_ids"),
                    "Invalid subnet id",
                    format!("{id:?} is not a subnet id (subnet-…)."),
                );
            }
        }
    }
    if let Val::Known(ids) = &r.client_security_group_ids {
        for id in ids.iter().filter_map(|id| id.known()) {
            if !id.starts_with("sg-") {
                diags.error_at(
                    path.attr("client_security_group_ids"),
                    "Invalid security group id",
                    format!("{id:?} is not a security group id (sg-…): client_security_group_ids takes the groups of this region whose members may connect to the database (for example the app tier's instance_security_group_id)."),
                );
            }
        }
    }
}

/// Aurora PostgreSQL 14.x: `14.<minor>`.
pub fn engine_version(v: &str) -> Result<(), String> {
    let ok = v
        .strip_prefix("14.")
        .is_some_and(|minor| !minor.is_empty() && minor.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!("engine_version is {v:?}; drpair builds Aurora PostgreSQL 14 global databases, so it must be a 14.x version such as \"14.9\". Other major versions would need a replacement and a different parameter family."))
    }
}

/// PostgreSQL identifiers as RDS accepts them: a letter, then letters, digits or underscores,
/// at most 63 characters.
fn postgres_name(v: &str, what: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= 63
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!("{what} is {v:?}; it must start with a letter and hold 1-63 letters, digits or underscores."));
    }
    if matches!(
        v.to_ascii_lowercase().as_str(),
        "template0" | "template1" | "rdsadmin"
    ) {
        return Err(format!("{what} {v:?} is reserved by PostgreSQL or RDS."));
    }
    Ok(())
}

pub fn master_username(v: &str) -> Result<(), String> {
    postgres_name(v, "master_username")?;
    let lower = v.to_ascii_lowercase();
    if lower.starts_with("rds") || lower.starts_with("pg_") {
        return Err(format!("master_username {v:?} is reserved: RDS keeps names starting with \"rds\" and PostgreSQL those starting with \"pg_\"."));
    }
    Ok(())
}

/// `db.<family>.<size>`, e.g. `db.r6g.large`, of a memory-optimized family an Aurora global
/// database can run: "An Aurora global database requires DB instance classes that are optimized
/// for memory-intensive applications ... We recommend that you use a db.r5 or higher instance
/// class" (Configuration requirements of an Amazon Aurora global database,
/// <https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database.configuration.requirements.html>).
/// Anything else fails on AWS only at apply, half-way, with `InvalidParameterCombination` "The
/// requested instance class is not supported by global databases" when its instances are created.
pub fn instance_class(v: &str) -> Result<(), String> {
    if v == "db.serverless" {
        return Err("db.serverless (Aurora Serverless v2) needs a capacity range drpair does not manage yet; use a provisioned class such as \"db.r6g.large\".".into());
    }
    let parts: Vec<&str> = v.split('.').collect();
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    let family = match parts.as_slice() {
        ["db", family, size] if word(family) && word(size) => *family,
        _ => return Err(format!("instance_class is {v:?}; it must look like db.<family>.<size>, for example \"db.r6g.large\".")),
    };
    if memory_optimized(family) {
        Ok(())
    } else {
        Err(format!("instance_class is {v:?}; Aurora global databases run only memory-optimized instance classes, db.r5 or newer (db.r5, db.r6g, db.r6i, db.r7g, db.r8g, their Optimized Reads variants such as db.r6gd) or db.x2g, for example \"db.r6g.large\". AWS refuses burstable (db.t*) and other classes in a global database only when the instances are created, half-way through an apply."))
    }
}

/// `r<generation>…` from db.r5 on, or `x<generation>…` from db.x2 on (db.x2g).
fn memory_optimized(family: &str) -> bool {
    let mut chars = family.chars();
    let min = match chars.next() {
        Some('r') => 5,
        Some('x') => 2,
        _ => return false,
    };
    let rest = chars.as_str();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let suffix = &rest[digits.len()..];
    digits
        .parse::<u32>()
        .is_ok_and(|generation| generation >= min)
        && suffix.chars().all(|c| c.is_ascii_lowercase())
}

/// An RDS identifier: a letter first, letters, digits and hyphens, no two hyphens in a row, no
/// trailing hyphen, at most 63 characters.
pub fn rds_identifier(v: &str) -> Result<(), String> {
    let ok = !v.is_empty()
        && v.len() <= MAX_IDENTIFIER
        && v.starts_with(|c: char| c.is_ascii_alphabetic())
        && !v.ends_with('-')
        && !v.contains("--")
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!("{v:?} is not a valid RDS identifier (1-{MAX_IDENTIFIER} letters, digits and single hyphens, starting with a letter); shorten the provider's environment or name_version."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_versions() {
        for (v, ok) in [
            ("14.9", true),
            ("14.12", true),
            ("15.4", false),
            ("14", false),
            ("14.", false),
            ("14.x", false),
            ("13.9", false),
        ] {
            assert_eq!(engine_version(v).is_ok(), ok, "{v}");
        }
    }

    #[test]
    fn instance_classes() {
        for (v, ok) in [
            ("db.r6g.large", true),
            ("db.r7g.2xlarge", true),
            ("db.r5.large", true),
            ("db.r6gd.xlarge", true),
            ("db.r6id.large", true),
            ("db.r8g.large", true),
            ("db.x2g.large", true),
            ("db.t4g.medium", false),
            ("db.t3.large", false),
            ("db.r4.large", false),
            ("db.r3.large", false),
            ("db.m5.large", false),
            ("db.x1.large", false),
            ("db.r.large", false),
            ("db.rg.large", false),
            ("r6g.large", false),
            ("db.r6g", false),
            ("db.R6G.large", false),
            ("db.serverless", false),
            ("db.r6g.large.x", false),
        ] {
            assert_eq!(instance_class(v).is_ok(), ok, "{v}");
        }
    }

    #[test]
    fn names() {
        for (v, ok) in [
            ("payments_admin", true),
            ("postgres", true),
            ("1admin", false),
            ("rdsadmin", false),
            ("rds_x", false),
            ("pg_user", false),
            ("has-dash", false),
            ("", false),
        ] {
            assert_eq!(master_username(v).is_ok(), ok, "{v}");
        }
        assert!(postgres_name("payments", "database_name").is_ok());
        assert!(postgres_name("template1", "database_name").is_err());
        assert!(postgres_name(&"a".repeat(64), "database_name").is_err());
    }

    #[test]
    fn identifiers() {
        for (v, ok) in [
            ("primary-db-cluster-v2-dev", true),
            ("primary-db-cluster-v2-dev-16", true),
            ("a--b", false),
            ("a-", false),
            ("1a", false),
            (&"a".repeat(64) as &str, false),
        ] {
            assert_eq!(rds_identifier(v).is_ok(), ok, "{v}");
        }
    }
}
