//! Plan-time checks of a `drpair_app_tier` configuration, each naming the attribute at fault.

use crate::aws::tags::is_managed_key;
use crate::framework::{AttributePath, Diagnostics, Val};

use super::{AppTierModel, RegionModel};

/// Load balancer and target group names are at most 32 characters.
pub const MAX_RESOURCE_NAME: usize = 32;
/// Launch template user data is at most 16 KiB.
const MAX_USER_DATA: usize = 16 * 1024;

pub fn all(config: &AppTierModel, diags: &mut Diagnostics) {
    let root = AttributePath::root();
    if let Val::Known(name) = &config.name {
        name_chars(name, &root.attr("name"), diags);
    }
    if let Val::Known(t) = &config.instance_type {
        instance_type(t, &root.attr("instance_type"), diags);
    }
    if let Val::Known(p) = &config.image_ssm_parameter {
        if !p.starts_with('/') {
            diags.error_at(
                root.attr("image_ssm_parameter"),
                "Invalid SSM parameter name",
                format!("{p:?} is not an SSM parameter path; public AMI parameters look like /aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64."),
            );
        }
    }
    if let Val::Known(u) = &config.user_data {
        if u.len() > MAX_USER_DATA {
            diags.error_at(
                root.attr("user_data"),
                "User data too long",
                format!("user_data is {} bytes; EC2 accepts at most {MAX_USER_DATA}. Fetch a larger script from S3 in a short bootstrap instead.", u.len()),
            );
        }
    }
    range(
        &config.root_volume_size,
        8,
        16_384,
        "root_volume_size",
        "GiB",
        diags,
    );
    range(&config.app_port, 1, 65_535, "app_port", "", diags);
    sizes(config, diags);
    if let Val::Known(p) = &config.health_check_path {
        if !p.starts_with('/') || p.len() > 1024 {
            diags.error_at(
                root.attr("health_check_path"),
                "Invalid health check path",
                format!("{p:?} must start with / and be at most 1024 characters, e.g. /health."),
            );
        }
    }
    if let Val::Known(tags) = &config.tags {
        for key in tags
            .keys()
            .filter(|k| is_managed_key(k) || k.starts_with("aws:"))
        {
            diags.error_at(
                root.attr("tags").key(key),
                "Reserved tag key",
                format!("The tag {key:?} is set by drpair (or AWS) on every object and cannot be set in tags."),
            );
        }
    }
    let sides = [("primary", &config.primary), ("dr", &config.dr)];
    for (side, region) in sides {
        if let Val::Known(r) = region {
            region_inputs(r, &root.attr(side), diags);
        }
    }
    both_or_neither(config, "image_id", |r| &r.image_id, diags);
    both_or_neither(config, "certificate_arn", |r| &r.certificate_arn, diags);
    both_or_neither(
        config,
        "access_logs_bucket",
        |r| &r.access_logs_bucket,
        diags,
    );
    access_logs_prefix(config, diags);
    https_or_opt_out(config, diags);
}

/// Whether one side's certificate is set: `None` while that is not known (a value of another
/// resource, or the whole side not known yet at plan time; a missing side is Terraform's error).
fn certificate_set(side: &Val<RegionModel>) -> Option<bool> {
    match side.known()?.certificate_arn {
        Val::Known(_) => Some(true),
        Val::Null => Some(false),
        Val::Unknown => None,
    }
}

/// A payment API is served over HTTPS: both certificates, or `allow_plain_http = true` said out
/// loud, never both. Only known values are judged; a certificate set in one region only is
/// [`both_or_neither`]'s error.
fn https_or_opt_out(c: &AppTierModel, diags: &mut Diagnostics) {
    let root = AttributePath::root();
    let allow = match &c.allow_plain_http {
        Val::Known(b) => *b,
        // Unset: the default, false.
        Val::Null => false,
        Val::Unknown => return,
    };
    let primary = certificate_set(&c.primary);
    let dr = certificate_set(&c.dr);
    if allow {
        if primary == Some(true) || dr == Some(true) {
            diags.error_at(
                root.attr("allow_plain_http"),
                "Conflicting HTTPS settings",
                "allow_plain_http = true opts out of HTTPS, but certificate_arn is set, so the load balancers serve HTTPS (and redirect HTTP to it). Remove allow_plain_http (or set it to false) to keep HTTPS, or remove primary.certificate_arn and dr.certificate_arn to serve plain HTTP.",
            );
        }
        return;
    }
    if primary == Some(false) && dr == Some(false) {
        // At the certificate the configuration lacks (Terraform quotes the `primary` block).
        diags.error_at(
            root.attr("primary").attr("certificate_arn"),
            "HTTPS certificate required",
            "The payment API would be served in plain HTTP: set primary.certificate_arn and dr.certificate_arn to an ACM certificate of each region (the load balancers then serve HTTPS on 443 and redirect HTTP on 80 to it), or, for development and tests only, opt out with allow_plain_http = true.",
        );
    }
}

/// The access-log prefix: AWS adds `AWSLogs/...` after it and forbids it inside ("The prefix
/// that you specify must not include AWSLogs", "Enable access logs for your Application Load
/// Balancer", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html);
/// a leading or trailing `/` would make keys with empty path segments (`bucket//AWSLogs/...`),
/// refused here too. It needs the buckets.
fn access_logs_prefix(c: &AppTierModel, diags: &mut Diagnostics) {
    let path = AttributePath::root().attr("access_logs_prefix");
    let Val::Known(prefix) = &c.access_logs_prefix else {
        return;
    };
    if prefix.is_empty()
        || prefix.contains("AWSLogs")
        || prefix.starts_with('/')
        || prefix.ends_with('/')
        || prefix.len() > 1024
    {
        diags.error_at(
            path.clone(),
            "Invalid access log prefix",
            format!("{prefix:?} is not a usable access log prefix: it must be non-empty, must not contain AWSLogs (Elastic Load Balancing adds AWSLogs/ACCOUNT_ID/... after it), must not start or end with /, and is at most 1024 characters, e.g. \"payments/alb\"."),
        );
    }
    let bucket_set = |side: &Val<RegionModel>| match side {
        Val::Known(r) => r.access_logs_bucket.is_null().then_some(false),
        _ => None,
    };
    if bucket_set(&c.primary) == Some(false) && bucket_set(&c.dr) == Some(false) {
        diags.error_at(
            path,
            "Access log prefix without buckets",
            "access_logs_prefix is set, but primary.access_logs_bucket and dr.access_logs_bucket are not: set the buckets to turn access logs on, or remove the prefix.",
        );
    }
}

/// An S3 general purpose bucket name ("General purpose bucket naming rules", Amazon S3 User
/// Guide, https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): 3 to 63
/// lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, no
/// two adjacent dots, not an IP address, none of the reserved prefixes and suffixes.
pub fn bucket_name_ok(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&name.len())
        && name.bytes().all(|c| edge(c) || c == b'.' || c == b'-')
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err()
        && !["xn--", "sthree-", "amzn-s3-demo-"]
            .iter()
            .any(|p| name.starts_with(p))
        && !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| name.ends_with(s))
}

pub fn name_chars(name: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let ok = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        diags.error_at(
            path.clone(),
            "Invalid name",
            format!("{name:?} must be lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen (it names load balancers and target groups)."),
        );
    }
}

/// `{name}-{environment}` must fit the 32 characters of a load balancer name.
pub fn id_length(id: &str, path: &AttributePath, diags: &mut Diagnostics) {
    if id.len() > MAX_RESOURCE_NAME {
        diags.error_at(
            path.clone(),
            "Name too long",
            format!("The load balancer and target group are named {id:?} ({{name}}-{{environment}}), {} characters; AWS allows {MAX_RESOURCE_NAME}. Shorten name by {}.", id.len(), id.len() - MAX_RESOURCE_NAME),
        );
    }
}

fn instance_type(t: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let ok = t.split_once('.').is_some_and(|(family, size)| {
        family.starts_with(|c: char| c.is_ascii_lowercase())
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !size.is_empty()
            && size
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if !ok {
        diags.error_at(
            path.clone(),
            "Invalid instance type",
            format!("{t:?} is not an EC2 instance type such as t3.medium or m6i.large."),
        );
    }
}

fn range(v: &Val<i64>, min: i64, max: i64, name: &str, unit: &str, diags: &mut Diagnostics) {
    if let Val::Known(n) = v {
        if !(min..=max).contains(n) {
            diags.error_at(
                AttributePath::root().attr(name),
                format!("Invalid {name}"),
                format!(
                    "{name} is {n}; it must be from {min} to {max}{}.",
                    if unit.is_empty() {
                        String::new()
                    } else {
                        format!(" {unit}")
                    }
                ),
            );
        }
    }
}

fn sizes(c: &AppTierModel, diags: &mut Diagnostics) {
    let root = AttributePath::root();
    let (Val::Known(min), Val::Known(max), Val::Known(desired)) =
        (&c.min_size, &c.max_size, &c.desired_capacity)
    else {
        return;
    };
    if *min < 0 || *max < 1 || min > max {
        diags.error_at(
            root.attr("max_size"),
            "Invalid group sizes",
            format!("min_size is {min} and max_size is {max}; they need 0 <= min_size <= max_size and max_size >= 1."),
        );
        return;
    }
    if desired < min || desired > max {
        diags.error_at(
            root.attr("desired_capacity"),
            "Desired capacity out of range",
            format!("desired_capacity is {desired}; it must be from min_size ({min}) to max_size ({max})."),
        );
    }
    if let Val::Known(dr) = &c.dr_desired_capacity {
        if *dr < 0 || dr > max {
            diags.error_at(
                root.attr("dr_desired_capacity"),
                "DR capacity out of range",
                format!("dr_desired_capacity is {dr}; it must be from 0 to max_size ({max}). Below min_size the DR group's minimum is lowered to it, so the DR region runs warm."),
            );
        } else if dr > desired {
            diags.error_at(
                root.attr("dr_desired_capacity"),
                "DR capacity above the primary's",
                format!("dr_desired_capacity ({dr}) is above desired_capacity ({desired}); the DR region runs at most what the primary runs. Leave it out for identical capacity."),
            );
        }
    }
}

fn region_inputs(r: &RegionModel, path: &AttributePath, diags: &mut Diagnostics) {
    if let Val::Known(vpc) = &r.vpc_id {
        if !vpc.starts_with("vpc-") {
            diags.error_at(
                path.attr("vpc_id"),
                "Invalid VPC id",
                format!("{vpc:?} is not a VPC id (vpc-…)."),
            );
        }
    }
    for (name, min) in [("public_subnet_ids", 2), ("private_subnet_ids", 1)] {
        let list = if name == "public_subnet_ids" {
            &r.public_subnet_ids
        } else {
            &r.private_subnet_ids
        };
        let Val::Known(ids) = list else { continue };
        if ids.len() < min {
            diags.error_at(
                path.attr(name),
                "Too few subnets",
                format!(
                    "{name} has {} subnet(s); at least {min} are needed{}.",
                    ids.len(),
                    if min == 2 {
                        " (an Application Load Balancer spans two or more availability zones)"
                    } else {
                        ""
                    }
                ),
            );
        }
        for (i, id) in ids.iter().enumerate() {
            if !id.starts_with("subnet-") {
                diags.error_at(
                    path.attr(name).index(i as i64),
                    "Invalid subnet id",
                    format!("{id:?} is not a subnet id (subnet-…)."),
                );
            }
        }
    }
    if let Val::Known(ami) = &r.image_id {
        if !ami.starts_with("ami-") {
            diags.error_at(
                path.attr("image_id"),
                "Invalid AMI id",
                format!("{ami:?} is not an AMI id (ami-…)."),
            );
        }
    }
    if let Val::Known(bucket) = &r.access_logs_bucket {
        if !bucket_name_ok(bucket) {
            diags.error_at(
                path.attr("access_logs_bucket"),
                "Invalid S3 bucket name",
                format!("{bucket:?} is not an S3 bucket name: 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit (a name, not an ARN or s3:// URL)."),
            );
        }
    }
    if let Val::Known(arn) = &r.certificate_arn {
        if !arn.starts_with("arn:") || !arn.contains(":acm:") {
            diags.error_at(
                path.attr("certificate_arn"),
                "Invalid certificate ARN",
                format!("{arn:?} is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/…)."),
            );
        }
    }
}

/// A per-region setting the other region must have too, or the regions would differ.
fn both_or_neither(
    c: &AppTierModel,
    name: &str,
    get: impl Fn(&RegionModel) -> &Val<String>,
    diags: &mut Diagnostics,
) {
    let (Val::Known(p), Val::Known(d)) = (&c.primary, &c.dr) else {
        return;
    };
    let (a, b) = (get(p), get(d));
    if a.is_unknown() || b.is_unknown() || a.is_null() == b.is_null() {
        return;
    }
    let missing = if a.is_null() { "primary" } else { "dr" };
    diags.error_at(
        AttributePath::root().attr(missing).attr(name),
        format!("{name} set in one region only"),
        format!("{name} is set for one region but not for {missing}. The regions must serve identically: set {missing}.{name} too (it is regional, so each region has its own value), or remove both."),
    );
}

/// A regional ARN (`arn:aws:acm:us-east-2:…`) must be in the side's region.
pub fn arn_region(arn: &str, region: &str, path: &AttributePath, diags: &mut Diagnostics) {
    let arn_region = arn.split(':').nth(3).unwrap_or_default();
    if !arn_region.is_empty() && arn_region != region {
        diags.error_at(
            path.clone(),
            "Certificate in the wrong region",
            format!("{arn:?} is in {arn_region}, but this side's load balancer is in {region}; ACM certificates are regional, request or import one in {region}."),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(v: i64) -> Val<i64> {
        Val::Known(v)
    }

    fn errors(c: &AppTierModel) -> Vec<String> {
        let mut d = Diagnostics::new();
        all(c, &mut d);
        d.iter().map(|d| d.summary.clone()).collect()
    }

    #[test]
    fn size_rules() {
        let base = AppTierModel {
            min_size: n(2),
            max_size: n(6),
            desired_capacity: n(2),
            ..AppTierModel::default()
        };
        assert!(errors(&base).is_empty());
        let cases = [
            (n(1), n(6), n(7), Val::Null, "Desired capacity out of range"),
            (n(4), n(2), n(3), Val::Null, "Invalid group sizes"),
            (n(2), n(6), n(2), n(7), "DR capacity out of range"),
            (n(2), n(6), n(2), n(3), "DR capacity above the primary's"),
        ];
        for (min, max, desired, dr, want) in cases {
            let c = AppTierModel {
                min_size: min,
                max_size: max,
                desired_capacity: desired,
                dr_desired_capacity: dr,
                ..AppTierModel::default()
            };
            assert_eq!(errors(&c), vec![want.to_string()]);
        }
        let warm = AppTierModel {
            dr_desired_capacity: n(1),
            ..base
        };
        assert!(errors(&warm).is_empty());
    }

    #[test]
    fn names_and_types() {
        for (name, ok) in [
            ("payments-web", true),
            ("Web", false),
            ("web-", false),
            ("9web", false),
            ("a--b", false),
        ] {
            let mut d = Diagnostics::new();
            name_chars(name, &AttributePath::root().attr("name"), &mut d);
            assert_eq!(d.is_empty(), ok, "{name}");
        }
        for (t, ok) in [
            ("t3.medium", true),
            ("m6i.large", true),
            ("t3", false),
            ("T3.medium", false),
            ("t3.", false),
        ] {
            let mut d = Diagnostics::new();
            instance_type(t, &AttributePath::root(), &mut d);
            assert_eq!(d.is_empty(), ok, "{t}");
        }
        let mut d = Diagnostics::new();
        id_length(
            "a-very-long-application-name-test",
            &AttributePath::root(),
            &mut d,
        );
        assert!(!d.is_empty());
    }

    #[test]
    fn https_unless_plain_http_is_asked_for() {
        let cert = |arn: Val<String>| {
            Val::Known(RegionModel {
                certificate_arn: arn,
                ..RegionModel::default()
            })
        };
        let arn = |region: &str| {
            Val::Known(format!(
                "arn:aws:acm:{region}:123456789012:certificate/0a0a0a0a-1111-2222-3333-444444444444"
            ))
        };
        let tier =
            |allow: Val<bool>, primary: Val<RegionModel>, dr: Val<RegionModel>| AppTierModel {
                allow_plain_http: allow,
                primary,
                dr,
                ..AppTierModel::default()
            };
        let required = vec!["HTTPS certificate required".to_string()];
        let conflict = vec!["Conflicting HTTPS settings".to_string()];
        let none: Vec<String> = Vec::new();
        let cases = [
            // Neither certificates nor the opt-out: refused, whether the opt-out is unset or false.
            (
                Val::Null,
                cert(Val::Null),
                cert(Val::Null),
                required.clone(),
            ),
            (
                Val::Known(false),
                cert(Val::Null),
                cert(Val::Null),
                required,
            ),
            // Either one, not both.
            (
                Val::Known(true),
                cert(Val::Null),
                cert(Val::Null),
                none.clone(),
            ),
            (
                Val::Null,
                cert(arn("us-east-1")),
                cert(arn("us-east-2")),
                none.clone(),
            ),
            (
                Val::Known(true),
                cert(arn("us-east-1")),
                cert(arn("us-east-2")),
                conflict.clone(),
            ),
            (
                Val::Known(true),
                cert(Val::Unknown),
                cert(arn("us-east-2")),
                conflict,
            ),
            // Unknown at plan time: not judged.
            (Val::Unknown, cert(Val::Null), cert(Val::Null), none.clone()),
            (
                Val::Null,
                cert(Val::Unknown),
                cert(Val::Unknown),
                none.clone(),
            ),
            (Val::Null, Val::Unknown, cert(Val::Null), none.clone()),
            (Val::Null, Val::Null, Val::Null, none.clone()),
            (
                Val::Known(true),
                cert(Val::Unknown),
                cert(Val::Unknown),
                none,
            ),
        ];
        for (i, (allow, primary, dr, want)) in cases.into_iter().enumerate() {
            assert_eq!(errors(&tier(allow, primary, dr)), want, "case {i}");
        }
        let mut d = Diagnostics::new();
        https_or_opt_out(&tier(Val::Null, cert(Val::Null), cert(Val::Null)), &mut d);
        let detail = &d.iter().next().unwrap().detail;
        for name in [
            "primary.certificate_arn",
            "dr.certificate_arn",
            "allow_plain_http = true",
        ] {
            assert!(detail.contains(name), "{detail}");
        }
    }

    #[test]
    fn access_log_bucket_and_prefix() {
        for (name, ok) in [
            ("payments-alb-logs-us-east-1", true),
            ("logs.example", true),
            ("ab", false),
            ("Logs", false),
            ("s3://logs", false),
            ("arn:aws:s3:::logs", false),
            ("logs-", false),
            ("a..b", false),
            ("192.168.5.4", false),
            ("xn--logs", false),
        ] {
            assert_eq!(bucket_name_ok(name), ok, "{name}");
        }
        let side = |bucket: Option<&str>| {
            Val::Known(RegionModel {
                access_logs_bucket: Val::from_option(bucket.map(str::to_owned)),
                ..RegionModel::default()
            })
        };
        let tier = |prefix: &str, p: Option<&str>, d: Option<&str>| AppTierModel {
            access_logs_prefix: Val::Known(prefix.to_owned()),
            allow_plain_http: Val::Known(true),
            primary: side(p),
            dr: side(d),
            ..AppTierModel::default()
        };
        assert!(errors(&tier("payments/alb", Some("a-logs"), Some("b-logs"))).is_empty());
        for bad in ["AWSLogs", "x/AWSLogs/y", "/alb", "alb/", ""] {
            assert_eq!(
                errors(&tier(bad, Some("a-logs"), Some("b-logs"))),
                vec!["Invalid access log prefix".to_string()],
                "{bad}"
            );
        }
        assert_eq!(
            errors(&tier("alb", None, None)),
            vec!["Access log prefix without buckets".to_string()]
        );
        assert_eq!(
            errors(&tier("alb", Some("a-logs"), None)),
            vec!["access_logs_bucket set in one region only".to_string()]
        );
    }

    #[test]
    fn regional_settings_in_both_regions() {
        let side = |ami: Option<&str>| {
            Val::Known(RegionModel {
                image_id: Val::from_option(ami.map(str::to_owned)),
                ..RegionModel::default()
            })
        };
        let c = AppTierModel {
            primary: side(Some("ami-1")),
            dr: side(None),
            allow_plain_http: Val::Known(true),
            ..AppTierModel::default()
        };
        assert_eq!(
            errors(&c),
            vec!["image_id set in one region only".to_string()]
        );
        let mut d = Diagnostics::new();
        arn_region(
            "arn:aws:acm:us-east-1:1:certificate/x",
            "us-east-2",
            &AttributePath::root(),
            &mut d,
        );
        assert!(!d.is_empty());
    }
}
