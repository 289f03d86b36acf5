//! `drpair_app_tier`: identical Auto Scaling groups behind an Application Load Balancer in each
//! region, launched from one launch template definition applied in both.
//!
//! Reads top to bottom: model, schema, validate, plan, create, read, update, delete, import.
//! The AWS work is in [`fleet`], the plan-time checks in [`validate`], the mapping between
//! state and AWS in [`state`].

pub mod fleet;
mod state;
pub mod validate;

use crate::aws::Role;
use crate::framework::resource::Resource;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::value::{Number, Value};
use crate::framework::{AttributePath, Diagnostics, Val};
use crate::functions::rto;
use crate::provider::DrClient;
use crate::resources::timeouts::{self, Operation, Timeouts};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Instance refreshes and load balancer deletion take minutes on AWS.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.medium";
const DEFAULT_ROOT_VOLUME_GIB: i64 = 20;
const DEFAULT_APP_PORT: i64 = 80;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AppTierModel {
    pub id: Val<String>,
    pub name: Val<String>,
    pub instance_type: Val<String>,
    pub image_ssm_parameter: Val<String>,
    pub user_data: Val<String>,
    pub root_volume_size: Val<i64>,
    pub min_size: Val<i64>,
    pub max_size: Val<i64>,
    pub desired_capacity: Val<i64>,
    pub dr_desired_capacity: Val<i64>,
    pub app_port: Val<i64>,
    pub health_check_path: Val<String>,
    pub instance_refresh: Val<bool>,
    pub deletion_protection: Val<bool>,
    pub allow_plain_http: Val<bool>,
    pub access_logs_prefix: Val<String>,
    pub tags: Val<BTreeMap<String, String>>,
    pub tags_all: Val<BTreeMap<String, String>>,
    pub primary: Val<RegionModel>,
    pub dr: Val<RegionModel>,
    pub launch_template_fingerprint: Val<String>,
    pub drift: Val<Vec<String>>,
    pub timeouts: Val<Timeouts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionModel {
    pub vpc_id: Val<String>,
    pub public_subnet_ids: Val<Vec<String>>,
    pub private_subnet_ids: Val<Vec<String>>,
    pub image_id: Val<String>,
    pub certificate_arn: Val<String>,
    pub access_logs_bucket: Val<String>,
    pub region: Val<String>,
    pub ami_id: Val<String>,
    pub alb_arn: Val<String>,
    pub alb_dns_name: Val<String>,
    pub alb_zone_id: Val<String>,
    pub alb_security_group_id: Val<String>,
    pub instance_security_group_id: Val<String>,
    pub target_group_arn: Val<String>,
    pub asg_name: Val<String>,
    pub launch_template_id: Val<String>,
    pub launch_template_version: Val<i64>,
    pub instance_profile_arn: Val<String>,
    pub min_size: Val<i64>,
    pub desired_capacity: Val<i64>,
}

pub struct AppTier;

fn region_attribute(name: &str, what: &str) -> Attribute {
    Attribute::nested(
        name,
        Nesting::Single,
        vec![
            Attribute::string("vpc_id").required().requires_replace().description(format!("The {what} VPC (e.g. `drpair_network.main.{name}.vpc_id`). Changing it replaces the tier.")),
            Attribute::string_list("public_subnet_ids").required().description("Subnets of the load balancer, in at least two availability zones. Changed in place."),
            Attribute::string_list("private_subnet_ids").required().description("Subnets of the instances. Changed in place."),
            Attribute::string("image_id").optional().description("An AMI of this region to launch instead of the one `image_ssm_parameter` names. AMIs are regional: set it for both regions or neither."),
            Attribute::string("certificate_arn").optional().description("An ACM certificate of this region: the load balancer then serves HTTPS on 443 with the security policy `ELBSecurityPolicy-TLS13-1-2-2021-06` (TLS 1.3 and 1.2 only; changed outside Terraform, it shows in `drift` and is set back) and redirects HTTP on 80 to it. Set it for both regions; without certificates the tier needs `allow_plain_http = true`."),
            Attribute::string("access_logs_bucket").optional().description(format!("An S3 bucket of this region to receive the load balancer's access logs (`access_logs.s3.enabled`, `.bucket` and `.prefix` attributes, read back and drift-checked: logging turned off or pointed elsewhere outside Terraform shows in `drift` and is set back; removing it turns logging off). Set it for both regions or neither. Application Load Balancers deliver access logs only to a bucket of their own region encrypted with SSE-S3 (AES256), not SSE-KMS: drpair checks the bucket's region (GetBucketLocation) and default encryption (GetBucketEncryption) before every apply and refuses otherwise. The bucket policy must let Elastic Load Balancing write: allow `s3:PutObject` on `arn:aws:s3:::BUCKET/PREFIX/AWSLogs/ACCOUNT_ID/*` to the Elastic Load Balancing account of the region (us-east-1: `arn:aws:iam::{}:root`, us-east-2: `arn:aws:iam::{}:root`, Regions available before August 2022) or, in any region, to the service principal `{}` (\"Enable access logs for your Application Load Balancer\", https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html); without it AWS refuses with `InvalidConfigurationRequest` \"Access Denied for bucket\".", fleet::ELB_LOG_ACCOUNT_US_EAST_1, fleet::ELB_LOG_ACCOUNT_US_EAST_2, fleet::ELB_LOG_SERVICE_PRINCIPAL)),
            Attribute::string("region").computed().description("The AWS region of this side."),
            Attribute::string("ami_id").computed().description("The AMI the launch template uses here: `image_id`, or what `image_ssm_parameter` named when the template was made. It stays until `image_id` or `image_ssm_parameter` changes, so new AMI releases never cause a plan by themselves."),
            Attribute::string("alb_arn").computed().description("ARN of the Application Load Balancer."),
            Attribute::string("alb_dns_name").computed().description("DNS name of the load balancer (for `drpair_failover_dns`)."),
            Attribute::string("alb_zone_id").computed().description("Route 53 zone id of the load balancer, for alias records."),
            Attribute::string("alb_security_group_id").computed().description("Security group of the load balancer: TCP 80 and 443 from anywhere."),
            Attribute::string("instance_security_group_id").computed().description("Security group of the instances: `app_port` from the load balancer's group only."),
            Attribute::string("target_group_arn").computed().description("ARN of the target group the Auto Scaling group is attached to."),
            Attribute::string("asg_name").computed().description("Name of the Auto Scaling group, `{name}-{environment}`."),
            Attribute::string("launch_template_id").computed().description("Id of this region's launch template."),
            Attribute::number("launch_template_version").computed().description("The launch template version the group launches (the template's default)."),
            Attribute::string("instance_profile_arn").computed().description("The instances' IAM instance profile, `{name}-{environment}-{region}`."),
            Attribute::number("min_size").computed().description("The group's minimum size here: `min_size`, lowered to `dr_desired_capacity` in the DR region when that is smaller."),
            Attribute::number("desired_capacity").computed().description("The group's desired capacity here: `desired_capacity`, or `dr_desired_capacity` in the DR region."),
        ],
    )
    .required()
    .description(format!("The {what} region: its VPC and subnets in, and the ids of what was built there out."))
}

#[async_trait]
impl Resource for AppTier {
    type Model = AppTierModel;
    type Client = DrClient;

    fn type_name(&self) -> &'static str {
        "drpair_app_tier"
    }

    fn schema(&self) -> Schema {
        let int = |n: i64| Value::Number(Number::Int(n));
        Schema::new(
            0,
            Block::new(format!("The application tier in both regions, from one definition: per region an internet-facing Application Load Balancer across the public subnets (security group: 80 and 443 from anywhere), a target group on `app_port` with the health check path (checked every {interval} s; a target is healthy after {healthy} and unhealthy after {unhealthy} checks in a row, instead of AWS's 30 s × 5 and 2: a new DR instance takes traffic {health} s after it is in service, a figure drpair_failover_orchestrator's `rto_budget` counts; changed outside Terraform, the timing shows in `drift` and is repaired in place), HTTPS listeners with a certificate per region (HTTP on 80 redirected; plain HTTP only with the explicit `allow_plain_http`), and an Auto Scaling group in the private subnets attached to the target group with ELB health checks. Instances launch from a launch template made identically in both regions — IMDSv2 required, encrypted gp3 root volume, an instance profile that may only register with Session Manager and publish metrics to `drpair/{{name}}-{{environment}}` — and `launch_template_fingerprint` proves it: it hashes what AWS holds in each region (ids and the regional AMI aside) and apply fails if the regions differ. Both groups get the same `min_size`, `max_size` and `desired_capacity`; with `dr_desired_capacity` the DR region runs warm and is scaled up on failover (a DR group scaled up that way is not scaled back down by apply). Instance type, user data, sizes and tags change in place: a new template version is rolled into both groups with an instance refresh. Destroy removes groups (and instances), listeners, load balancers, target groups, templates, security groups and IAM objects, in order, in one run.", interval = rto::TARGET_HEALTH_INTERVAL_SECONDS, healthy = rto::TARGET_HEALTHY_THRESHOLD, unhealthy = rto::TARGET_UNHEALTHY_THRESHOLD, health = rto::target_health_seconds()))
                .attr(Attribute::string("id").computed().description("`{name}-{environment}`: the name of the load balancers, target groups, launch templates and groups; the import id."))
                .attr(Attribute::string("name").required().requires_replace().description("Name of the tier: lowercase letters, digits and hyphens; with `-{environment}` at most 32 characters. Changing it replaces the tier."))
                .attr(Attribute::string("instance_type").default(Value::String(DEFAULT_INSTANCE_TYPE.into())).description("EC2 instance type in both regions (default `t3.medium`). Changed in place with a new template version."))
                .attr(Attribute::string("image_ssm_parameter").default(Value::String(fleet::DEFAULT_IMAGE_PARAMETER.into())).description("Public SSM parameter naming the AMI in each region (default: the newest Amazon Linux 2023, x86_64). Resolved when the template is made or this value changes."))
                .attr(Attribute::string("user_data").optional().description("User data script (plain text, at most 16 KiB), the same in both regions. Do not put secrets here: read them from Secrets Manager at boot."))
                .attr(Attribute::number("root_volume_size").default(int(DEFAULT_ROOT_VOLUME_GIB)).description("Size of the encrypted gp3 root volume in GiB (default 20)."))
                .attr(Attribute::number("min_size").required().description("Minimum size of the group in both regions."))
                .attr(Attribute::number("max_size").required().description("Maximum size of the group in both regions."))
                .attr(Attribute::number("desired_capacity").required().description("Desired capacity, identical in both regions unless `dr_desired_capacity` is set."))
                .attr(Attribute::number("dr_desired_capacity").optional().description("A smaller, warm capacity for the DR region (0 to `desired_capacity`); the failover orchestrator scales it up to `desired_capacity`. Leave out for identical capacity."))
                .attr(Attribute::number("app_port").default(int(DEFAULT_APP_PORT)).requires_replace().description("Port the instances serve on, reached only from the load balancer (default 80). Changing it replaces the tier."))
                .attr(Attribute::string("health_check_path").default(Value::String("/".into())).description(format!("Path of the target group's HTTP health check (default `/`); 200-399 is healthy. The check runs every {} s; {} successes in a row make a target healthy, {} failures unhealthy.", rto::TARGET_HEALTH_INTERVAL_SECONDS, rto::TARGET_HEALTHY_THRESHOLD, rto::TARGET_UNHEALTHY_THRESHOLD)))
                .attr(Attribute::bool("instance_refresh").default(Value::Bool(true)).description("Roll a new template version into running instances with a rolling instance refresh (90% kept healthy) in both regions (default true). False leaves running instances until they are replaced."))
                .attr(Attribute::bool("deletion_protection").default(Value::Bool(false)).description("Turn on the load balancers' deletion protection in both regions (default false, as on AWS: a tier is created and destroyed in development and tests). Set it to true in production: AWS then refuses to delete either load balancer, so `terraform destroy` fails until it is set back to false and applied. Read back from AWS; a change made outside Terraform shows in `drift` and is set back. Whatever this says, both load balancers drop HTTP headers whose names are not valid (`routing.http.drop_invalid_header_fields.enabled = true`), also drift-checked."))
                .attr(Attribute::bool("allow_plain_http").default(Value::Bool(false)).description("The explicit opt-out from HTTPS (default false). A payment API must not be served in plain text, so a tier needs `primary.certificate_arn` and `dr.certificate_arn` (HTTPS on 443, HTTP on 80 redirected to it) unless this is true; with it true and no certificates, both load balancers serve plain HTTP on 80 only. What that costs: requests, card data, session cookies and credentials cross the internet unencrypted and can be read or changed on the way, and nothing proves to clients that the answer comes from this API; PCI DSS (v4.0.1, requirement 4.2.1) requires strong cryptography for cardholder data sent over open, public networks. For development, tests and emulators only. Setting it together with certificates is an error (the two contradict each other). Changing it (with the certificates) changes the listeners in place. On import it is true when no load balancer has an HTTPS listener."))
                .attr(Attribute::string("access_logs_prefix").optional().description("A key prefix for the access logs in `primary.access_logs_bucket` and `dr.access_logs_bucket` (logs land under `PREFIX/AWSLogs/ACCOUNT_ID/elasticloadbalancing/REGION/`); without it they start at `AWSLogs/`. It must not contain `AWSLogs` (AWS adds that part itself) nor start or end with `/`, and needs the buckets to be set."))
                .attr(Attribute::string_map("tags").optional().description("Tags for every object of the tier (instances and volumes included), on top of the provider's `default_tags`."))
                .attr(Attribute::string_map("tags_all").computed().volatile().description("All tags of the tier's objects except those drpair manages: `default_tags` merged with `tags`."))
                .attr(region_attribute("primary", "primary"))
                .attr(region_attribute("dr", "DR"))
                .attr(Attribute::string("launch_template_fingerprint").computed().description("Hash of the launch template as AWS holds it in both regions, leaving out ids, the AMI, the instance profile's regional name and the DR-Role tag. One value means the regions are identical; apply fails if they are not."))
                .attr(Attribute::string_list("drift").computed().description("Differences found outside Terraform at the last refresh (a deleted target group or listener, a target group health check timing changed, a group detached from its target group, templates that differ between regions, a DR group resized). A non-empty list plans a repair; apply restores what is missing and leaves it empty."))
                .attr(timeouts::attribute("create 30m, update 30m, delete 30m")),
        )
    }

    fn validate(&self, config: &AppTierModel, diags: &mut Diagnostics) {
        validate::all(config, diags);
        timeouts::validate(
            &config.timeouts,
            &AttributePath::root().attr("timeouts"),
            diags,
        );
    }

    async fn modify_plan(
        &self,
        client: &DrClient,
        prior: Option<&AppTierModel>,
        planned: AppTierModel,
        diags: &mut Diagnostics,
    ) -> AppTierModel {
        state::plan(client, prior, planned, diags)
    }

    async fn create(
        &self,
        client: &DrClient,
        planned: AppTierModel,
        diags: &mut Diagnostics,
    ) -> Option<AppTierModel> {
        let spec = state::spec(client, &planned)?;
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Create, DEFAULT_TIMEOUT);
        let model = state::converge(
            client,
            &spec,
            &planned,
            deadline,
            "Creating app tier",
            diags,
        )
        .await;
        // Nothing readable exists: keep the id so destroy finds whatever was made.
        Some(model.unwrap_or_else(|| state::empty(client, planned)))
    }

    async fn read(
        &self,
        client: &DrClient,
        state: AppTierModel,
        diags: &mut Diagnostics,
    ) -> Option<AppTierModel> {
        let id = state.id.known()?.clone();
        match fleet::read(&client.aws, &id).await {
            Ok(Some(observed)) => {
                let drift = state::spec(client, &state)
                    .map(|s| state::with_recorded_capacity(s, &state))
                    .map(|s| fleet::observe_drift(&s, &observed))
                    .unwrap_or_else(|| observed.drift.clone());
                Some(state::from_observed(&state, &observed, drift))
            }
            Ok(None) => None,
            Err(e) => {
                diags.error("Reading app tier", e.to_string());
                None
            }
        }
    }

    async fn update(
        &self,
        client: &DrClient,
        prior: AppTierModel,
        planned: AppTierModel,
        diags: &mut Diagnostics,
    ) -> Option<AppTierModel> {
        let spec = state::with_recorded_capacity(state::spec(client, &planned)?, &prior);
        let deadline = timeouts::deadline(&planned.timeouts, Operation::Update, DEFAULT_TIMEOUT);
        state::converge(
            client,
            &spec,
            &planned,
            deadline,
            "Updating app tier",
            diags,
        )
        .await
        .or(Some(prior))
    }

    async fn delete(&self, client: &DrClient, prior: AppTierModel, diags: &mut Diagnostics) {
        let Some(id) = prior.id.known() else { return };
        let deadline = timeouts::deadline(&prior.timeouts, Operation::Delete, DEFAULT_TIMEOUT);
        if let Err(e) = fleet::destroy(&client.aws, id, deadline).await {
            diags.error("Deleting app tier", e.to_string());
        }
    }

    async fn import(
        &self,
        client: &DrClient,
        id: &str,
        diags: &mut Diagnostics,
    ) -> Option<AppTierModel> {
        let suffix = format!("-{}", client.environment);
        let Some(name) = id.strip_suffix(&suffix).filter(|n| !n.is_empty()) else {
            diags.error(
                "Invalid import id",
                format!("{id:?} is not `{{name}}-{}`: the import id of drpair_app_tier is its name followed by the provider's environment.", client.environment),
            );
            return None;
        };
        match fleet::read(&client.aws, id).await {
            Ok(Some(observed)) => Some(state::imported(client, name, id, &observed)),
            Ok(None) => {
                diags.error(
                    "Cannot import non-existent app tier",
                    format!(
                        "Nothing named {id:?} and tagged drpair:owner = {} exists in {} or {}.",
                        fleet::owner_tag_value(id),
                        client.aws.region(Role::Primary).region,
                        client.aws.region(Role::Dr).region
                    ),
                );
                None
            }
            Err(e) => {
                diags.error("Importing app tier", e.to_string());
                None
            }
        }
    }
}
