//! The AWS side of `drpair_app_tier`: per region an IAM role and instance profile, two security
//! groups, a launch template, an Application Load Balancer with its target group and listeners,
//! and an Auto Scaling group in the private subnets attached to the target group.
//!
//! Names are deterministic (`{id}` for the load balancer, target group, launch template and
//! group; `{id}-{region}` for the IAM role and instance profile, IAM being global) and every
//! object carries the owner tag `drpair_app_tier/{id}`, so an interrupted apply is completed by
//! the next one, and an object of the same name that drpair does not own is never taken over.
//!
//! Layout: [`iam`], [`security`] (security groups), [`template`] (launch template and its
//! fingerprint), [`balancer`] (ALB, target group, listeners), [`group`] (Auto Scaling group and
//! instance refresh), [`ensure`] (one region's pass), [`observe`] ([`read`] and drift) and
//! [`destroy`].

mod balancer;
mod destroy;
mod ensure;
pub mod fingerprint;
mod group;
mod iam;
mod logs;
mod observe;
mod security;
mod template;

use std::collections::BTreeMap;

use crate::aws::tags::{standard_tags, Tags};
use crate::aws::Role;
use crate::functions::rto;

pub use destroy::destroy;
pub use ensure::ensure;
pub use logs::{ELB_LOG_ACCOUNT_US_EAST_1, ELB_LOG_ACCOUNT_US_EAST_2, ELB_LOG_SERVICE_PRINCIPAL};
pub use observe::{drift as observe_drift, read};
pub use template::TemplateData;

/// The owner tag's prefix: the Terraform resource type.
pub const OWNER_KIND: &str = "drpair_app_tier";

/// The public SSM parameter holding the newest Amazon Linux 2023 AMI of each region.
pub const DEFAULT_IMAGE_PARAMETER: &str =
    "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/// One region's inputs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionSpec {
    pub vpc_id: String,
    pub public_subnet_ids: Vec<String>,
    pub private_subnet_ids: Vec<String>,
    /// The AMI to launch; `None` resolves `image_parameter` in this region.
    pub ami_id: Option<String>,
    /// An ACM certificate of this region: HTTPS on 443 and a redirect on 80.
    pub certificate_arn: Option<String>,
    /// An S3 bucket of this region for the load balancer's access logs; `None`: logging off.
    pub access_logs_bucket: Option<String>,
    /// The group's desired capacity in this region.
    pub desired_capacity: i32,
    /// The group's minimum size in this region.
    pub min_size: i32,
    /// The desired capacity drpair set last time (from state), if any.
    pub last_desired_capacity: Option<i32>,
}

/// What the application tier should be.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierSpec {
    /// `{name}-{environment}`: the name of the load balancers, target groups, launch templates
    /// and groups, and the owner id.
    pub id: String,
    pub name: String,
    pub environment: String,
    pub instance_type: String,
    pub image_parameter: String,
    pub user_data: Option<String>,
    pub root_volume_size: i32,
    pub max_size: i32,
    /// The primary's desired capacity: a DR group scaled up to it (by a failover) is left so.
    pub full_capacity: i32,
    pub app_port: i32,
    pub health_check_path: String,
    pub instance_refresh: bool,
    /// `deletion_protection.enabled` on both load balancers.
    pub deletion_protection: bool,
    /// The key prefix of the access logs (empty: none).
    pub access_logs_prefix: String,
    pub default_tags: BTreeMap<String, String>,
    pub user_tags: BTreeMap<String, String>,
    pub primary: RegionSpec,
    pub dr: RegionSpec,
}

/// The launch template as read back from one region, normalized.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedTemplate {
    pub id: String,
    pub default_version: i64,
    pub data: TemplateData,
    pub tags: Tags,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedBalancer {
    pub arn: String,
    pub dns_name: String,
    pub zone_id: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub tags: Tags,
    /// The load balancer attributes drpair manages ([`balancer::managed_attributes`]), as
    /// DescribeLoadBalancerAttributes returns them.
    pub attributes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedTargetGroup {
    pub arn: String,
    pub port: i32,
    pub vpc_id: String,
    pub health_check_path: String,
    pub health_check: HealthCheckTiming,
}

/// How often the load balancer checks a target and how many results in a row flip it. drpair
/// sets [`HealthCheckTiming::WANTED`] (faster than AWS's 30 s × 5) because the time a new DR
/// instance takes to become healthy is part of the RTO budget.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HealthCheckTiming {
    pub interval_seconds: i32,
    pub healthy_threshold: i32,
    pub unhealthy_threshold: i32,
}

impl HealthCheckTiming {
    pub const WANTED: HealthCheckTiming = HealthCheckTiming {
        interval_seconds: rto::TARGET_HEALTH_INTERVAL_SECONDS as i32,
        healthy_threshold: rto::TARGET_HEALTHY_THRESHOLD as i32,
        unhealthy_threshold: rto::TARGET_UNHEALTHY_THRESHOLD as i32,
    };
}

impl std::fmt::Display for HealthCheckTiming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "every {} s, healthy after {} and unhealthy after {} checks",
            self.interval_seconds, self.healthy_threshold, self.unhealthy_threshold
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedListener {
    pub arn: String,
    pub port: i32,
    pub protocol: String,
    pub certificate_arn: Option<String>,
    /// The security policy of an HTTPS listener (AWS also reports one for some HTTP listeners,
    /// where it does nothing).
    pub ssl_policy: Option<String>,
    /// The target group it forwards to, if it forwards.
    pub forwards_to: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedGroup {
    pub name: String,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_capacity: i32,
    pub launch_template_id: String,
    pub launch_template_version: String,
    pub target_group_arns: Vec<String>,
    pub subnet_ids: Vec<String>,
    pub health_check_type: String,
    pub tags: Tags,
    /// AWS is deleting the group (`Delete in progress`).
    pub deleting: bool,
}

/// What exists in one region. A missing part is `None` (and named in the drift).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegionTier {
    pub region: String,
    pub role_arn: Option<String>,
    pub instance_profile_arn: Option<String>,
    pub alb_security_group_id: Option<String>,
    pub instance_security_group_id: Option<String>,
    pub template: Option<ObservedTemplate>,
    pub target_group: Option<ObservedTargetGroup>,
    pub balancer: Option<ObservedBalancer>,
    pub listeners: Vec<ObservedListener>,
    pub group: Option<ObservedGroup>,
    /// What is wrong beyond missing parts (security group rules), in words.
    pub problems: Vec<String>,
}

impl RegionTier {
    pub fn is_empty(&self) -> bool {
        self.role_arn.is_none()
            && self.instance_profile_arn.is_none()
            && self.alb_security_group_id.is_none()
            && self.instance_security_group_id.is_none()
            && self.template.is_none()
            && self.target_group.is_none()
            && self.balancer.is_none()
            && self.group.is_none()
    }

    /// The (bucket, prefix) the load balancer writes access logs to, when logging is on.
    pub fn access_logs(&self) -> Option<(&str, &str)> {
        let attrs = &self.balancer.as_ref()?.attributes;
        if attrs.get(balancer::ACCESS_LOGS_ENABLED).map(String::as_str) != Some("true") {
            return None;
        }
        Some((
            attrs
                .get(balancer::ACCESS_LOGS_BUCKET)
                .map_or("", String::as_str),
            attrs
                .get(balancer::ACCESS_LOGS_PREFIX)
                .map_or("", String::as_str),
        ))
    }

    /// The HTTPS listener's certificate, if the load balancer has one.
    pub fn certificate_arn(&self) -> Option<&str> {
        self.listeners
            .iter()
            .find_map(|l| l.certificate_arn.as_deref())
    }
}

/// What exists in both regions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObservedTier {
    pub primary: RegionTier,
    pub dr: RegionTier,
    /// The fingerprint of the launch template both regions share, or of the primary's when
    /// they differ (which is then named in `drift`).
    pub fingerprint: Option<String>,
    /// Human-readable differences from the complete tier, e.g. `us-east-2: target group is
    /// missing`. Empty when nothing needs repair.
    pub drift: Vec<String>,
}

impl ObservedTier {
    pub fn region(&self, role: Role) -> &RegionTier {
        match role {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.primary.is_empty() && self.dr.is_empty()
    }
}

/// The value of the owner tag for the tier with this id.
pub fn owner_tag_value(id: &str) -> String {
    format!("{OWNER_KIND}/{id}")
}

/// The IAM role and instance profile name of one region (IAM names are global).
pub fn iam_name(id: &str, region: &str) -> String {
    format!("{id}-{region}")
}

impl TierSpec {
    pub fn owner(&self) -> String {
        owner_tag_value(&self.id)
    }

    /// Where this region's load balancer writes access logs: (bucket, prefix), or `None`.
    pub fn access_logs(&self, role: Role) -> Option<(&str, &str)> {
        let bucket = self.region(role).access_logs_bucket.as_deref()?;
        Some((bucket, self.access_logs_prefix.as_str()))
    }

    pub fn region(&self, role: Role) -> &RegionSpec {
        match role {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }

    /// The `Name` tag of a part: `{id}` for the tier's main objects, `{id}-{part}` for the
    /// security groups.
    pub fn name_of(&self, part: &str) -> String {
        match part {
            part::ALB_SECURITY_GROUP | part::INSTANCE_SECURITY_GROUP => {
                format!("{}-{part}", self.id)
            }
            _ => self.id.clone(),
        }
    }

    /// The full tag set of one part on one side.
    pub fn tags(&self, role: Role, part: &str) -> Tags {
        standard_tags(
            &self.environment,
            role.tag_value(),
            &self.owner(),
            part,
            Some(&self.name_of(part)),
            &self.default_tags,
            &self.user_tags,
        )
    }
}

/// Stable part names, the values of the `drpair:part` tag.
pub mod part {
    pub const ROLE: &str = "role";
    pub const INSTANCE_PROFILE: &str = "instance-profile";
    pub const ALB_SECURITY_GROUP: &str = "alb";
    pub const INSTANCE_SECURITY_GROUP: &str = "app";
    pub const LAUNCH_TEMPLATE: &str = "launch-template";
    /// Instances and their volumes, tagged through the launch template.
    pub const INSTANCE: &str = "instance";
    pub const LOAD_BALANCER: &str = "alb-lb";
    pub const TARGET_GROUP: &str = "target-group";
    pub const LISTENER: &str = "listener";
    pub const GROUP: &str = "asg";
}

/// Keys AWS sets on objects itself (`aws:autoscaling:groupName`, …); never ours to remove.
pub fn is_aws_tag(key: &str) -> bool {
    key.starts_with("aws:")
}

/// What to add or change and what to remove so that `actual` becomes `desired` (AWS's own
/// `aws:` keys left alone).
pub fn tag_changes(actual: &Tags, desired: &Tags) -> (Tags, Vec<String>) {
    let set = desired
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove = actual
        .keys()
        .filter(|k| !desired.contains_key(*k) && !is_aws_tag(k))
        .cloned()
        .collect();
    (set, remove)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TierSpec {
        TierSpec {
            id: "payments-web-test".into(),
            name: "payments-web".into(),
            environment: "test".into(),
            default_tags: [("CostCenter".to_string(), "payments".to_string())].into(),
            ..TierSpec::default()
        }
    }

    #[test]
    fn part_tags_and_names() {
        let tags = spec().tags(Role::Dr, part::ALB_SECURITY_GROUP);
        let get = |k: &str| tags.get(k).map(String::as_str);
        assert_eq!(get("Name"), Some("payments-web-test-alb"));
        assert_eq!(get("DR-Role"), Some("dr"));
        assert_eq!(
            get("drpair:owner"),
            Some("drpair_app_tier/payments-web-test")
        );
        assert_eq!(get("CostCenter"), Some("payments"));
        assert_eq!(spec().name_of(part::GROUP), "payments-web-test");
        assert_eq!(
            iam_name("payments-web-test", "us-east-2"),
            "payments-web-test-us-east-2"
        );
    }

    #[test]
    fn health_check_timing_is_the_rto_budgets() {
        let wanted = HealthCheckTiming::WANTED;
        assert_eq!(
            (
                wanted.interval_seconds,
                wanted.healthy_threshold,
                wanted.unhealthy_threshold
            ),
            (10, 3, 3)
        );
        assert_eq!(
            i64::from(wanted.interval_seconds * wanted.healthy_threshold),
            rto::target_health_seconds()
        );
        assert_eq!(
            HealthCheckTiming {
                interval_seconds: 30,
                healthy_threshold: 5,
                unhealthy_threshold: 2
            }
            .to_string(),
            "every 30 s, healthy after 5 and unhealthy after 2 checks"
        );
    }

    #[test]
    fn tag_changes_leave_aws_keys() {
        let actual: Tags = [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
            ("aws:autoscaling:groupName".to_string(), "x".to_string()),
        ]
        .into();
        let desired: Tags = [
            ("a".to_string(), "1".to_string()),
            ("c".to_string(), "3".to_string()),
        ]
        .into();
        let (set, remove) = tag_changes(&actual, &desired);
        assert_eq!(set, [("c".to_string(), "3".to_string())].into());
        assert_eq!(remove, vec!["b".to_string()]);
    }
}
