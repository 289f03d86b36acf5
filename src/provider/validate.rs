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

/// A managed policy ARN, `arn:{partition}:iam::{account}:policy/{path/}name` (an AWS managed
/// policy's account is `aws`).
pub fn validate_policy_arn(arn: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource] => {
            partition.starts_with("aws")
                && (*account == "aws"
                    || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())))
                && resource
                    .strip_prefix("policy/")
                    .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
        }
        _ => false,
    };
    if !ok {
        diags.error_at(
            path.clone(),
            "Invalid policy ARN",
            format!("{arn:?} is not a managed IAM policy ARN such as \"arn:aws:iam::123456789012:policy/drpair-boundary\"."),
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

/// The AWS endpoint override: an `https://` URL, or `http://` to a loopback address only
/// (`127.0.0.0/8`, `[::1]`, `localhost`): every call carries a SigV4 signature and, for
/// Secrets Manager, the database password, which plain HTTP would show to the network.
pub fn validate_endpoint_url(url: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let problem = if let Some(rest) = url.strip_prefix("https://") {
        host_of(rest)
            .is_empty()
            .then(|| format!("{url:?} names no host."))
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = host_of(rest);
        (!is_loopback(host)).then(|| format!("{url:?} is plain HTTP to {host:?}: AWS calls are signed and carry secrets, so http:// is only accepted for a loopback address (127.0.0.1, [::1] or localhost, e.g. a local emulator). Use https://."))
    } else {
        Some(format!("{url:?} is not an http:// or https:// URL."))
    };
    if let Some(detail) = problem {
        diags.error_at(path.clone(), "Invalid endpoint URL", detail);
    }
}

/// The host of a URL after its scheme: without user info, port, path, query or fragment.
fn host_of(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default();
    }
    host_port.split(':').next().unwrap_or_default()
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_http_only_to_loopback() {
        use super::*;
        let check = |url: &str| {
            let mut diags = Diagnostics::default();
            validate_endpoint_url(url, &AttributePath::root().attr("endpoint_url"), &mut diags);
            !diags.has_errors()
        };
        for ok in [
            "http://127.0.0.1:4566",
            "http://127.1.2.3",
            "http://localhost:4566/",
            "http://[::1]:4566",
            "https://emulator.example.com",
            "https://10.0.0.5:443/path",
        ] {
            assert!(check(ok), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:4566",
            "http://emulator.example.com",
            "http://127.0.0.1.evil.example:80",
            "http://localhost.evil.example",
            "http://127.0.0.1@evil.example",
            "http://[::2]:4566",
            "https://",
            "127.0.0.1:4566",
            "ftp://127.0.0.1",
        ] {
            assert!(!check(bad), "{bad}");
        }
    }

    use super::*;

    fn errors(f: fn(&str, &AttributePath, &mut Diagnostics), v: &str) -> bool {
        let mut d = Diagnostics::new();
        f(v, &AttributePath::root().attr("x"), &mut d);
        d.has_errors()
    }

    #[test]
    fn policy_arns() {
        for ok in [
            "arn:aws:iam::123456789012:policy/drpair-boundary",
            "arn:aws:iam::123456789012:policy/boundaries/deployer",
            "arn:aws:iam::aws:policy/PowerUserAccess",
        ] {
            assert!(!errors(validate_policy_arn, ok), "{ok}");
        }
        for bad in [
            "",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:iam::12345:policy/x",
            "arn:aws:iam::123456789012:policy/",
            "drpair-boundary",
        ] {
            assert!(errors(validate_policy_arn, bad), "{bad}");
        }
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
