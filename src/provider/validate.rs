//! Checks of provider-level values, shared with the resources.

use crate::framework::{AttributePath, Diagnostics};

/// Environment names end up in RDS identifiers (letters, digits, hyphens,
/// starting with a letter) and S3 bucket names (lowercase).
pub fn validate_environment(env: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let ok = !env.is_empty()
        && env.len() <= 20
        && env.starts_with(|c: char| c.is_ascii_lowercase())
        && !env.ends_with('-')
        && !env.contains("--")
        && env
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        diags.error_at(
            path.clone(),
            "Invalid environment name",
            format!("{env:?} must be 1-20 lowercase letters, digits or single hyphens, start with a letter and not end with a hyphen (it becomes part of names such as primary-db-cluster-v2-{env})."),
        );
    }
}

/// An AWS region code such as `us-east-1` or `us-gov-west-1`.
pub fn validate_region(region: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok();
    if !ok {
        diags.error_at(
            path.clone(),
            "Invalid AWS region",
            format!("{region:?} is not an AWS region code such as \"us-east-1\"."),
        );
    }
}

/// An IAM role ARN, `arn:PARTITION:iam::ACCOUNT:role/NAME` (the name may have a path).
pub fn validate_role_arn(arn: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            partition.starts_with("aws")
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && resource
                    .strip_prefix("role/")
                    .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
        }
        _ => false,
    };
    if !ok {
        diags.error_at(
            path.clone(),
            "Invalid role ARN",
            format!("{arn:?} is not an IAM role ARN such as \"arn:aws:iam::123456789012:role/deployer\"."),
        );
    }
}

pub fn validate_name_version(v: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let ok = v.len() >= 2
        && v.len() <= 5
        && v.starts_with('v')
        && v[1..].chars().all(|c| c.is_ascii_digit());
    if !ok {
        diags.error_at(
            path.clone(),
            "Invalid name version",
            format!("{v:?} must be \"v\" followed by digits, such as \"v2\"."),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(f: fn(&str, &AttributePath, &mut Diagnostics), v: &str) -> bool {
        let mut d = Diagnostics::new();
        f(v, &AttributePath::root().attr("x"), &mut d);
        d.has_errors()
    }

    #[test]
    fn environments() {
        for ok in ["dev", "prod", "qa-2", "a"] {
            assert!(!errors(validate_environment, ok), "{ok}");
        }
        for bad in [
            "",
            "Dev",
            "2dev",
            "dev-",
            "de--v",
            "dev_1",
            "abcdefghijklmnopqrstu",
        ] {
            assert!(errors(validate_environment, bad), "{bad}");
        }
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "us-gov-west-1",
            "eu-central-2",
            "ap-southeast-5",
        ] {
            assert!(!errors(validate_region, ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "useast1",
            "US-EAST-1",
            "us-east-x",
            "u-east-1",
        ] {
            assert!(errors(validate_region, bad), "{bad}");
        }
    }

    #[test]
    fn role_arns() {
        for ok in [
            "arn:aws:iam::123456789012:role/deployer",
            "arn:aws-us-gov:iam::123456789012:role/ci/deployer",
        ] {
            assert!(!errors(validate_role_arn, ok), "{ok}");
        }
        for bad in [
            "",
            "not-an-arn",
            "deployer",
            "arn:aws:iam::123456789012:user/deployer",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::12345:role/deployer",
            "arn:aws:iam:us-east-1:123456789012:role/deployer",
            "arn:aws:sts::123456789012:assumed-role/deployer/session",
        ] {
            assert!(errors(validate_role_arn, bad), "{bad}");
        }
    }

    #[test]
    fn name_versions() {
        assert!(!errors(validate_name_version, "v2"));
        assert!(!errors(validate_name_version, "v10"));
        assert!(errors(validate_name_version, "2"));
        assert!(errors(validate_name_version, "v"));
        assert!(errors(validate_name_version, "vx"));
    }
}
