//! The drpair provider: its configuration, validated at plan time, and the
//! configured client every resource receives.

mod validate;

use crate::aws::tags::is_managed_key;
use crate::aws::{AwsContext, AwsSettings};
use crate::framework::action::DynAction;
use crate::framework::function::Function;
use crate::framework::provider::Provider;
use crate::framework::resource::{DynDataSource, DynResource, ProviderData};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::{AttributePath, Diagnostics, Val};
use async_trait::async_trait;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use validate::{validate_environment, validate_region};

pub const DEFAULT_PRIMARY_REGION: &str = "us-east-1";
pub const DEFAULT_DR_REGION: &str = "us-east-2";
pub const DEFAULT_NAME_VERSION: &str = "v2";
/// The registry address Terraform knows drpair by.
pub const SOURCE_ADDRESS: &str = "registry.terraform.io/drpair/drpair";

#[derive(Debug, Deserialize)]
pub struct ProviderModel {
    pub environment: Val<String>,
    pub primary_region: Val<String>,
    pub dr_region: Val<String>,
    pub name_version: Val<String>,
    pub default_tags: Val<BTreeMap<String, String>>,
    pub endpoint_url: Val<String>,
    pub profile: Val<String>,
    pub assume_role_arn: Val<String>,
    pub permissions_boundary_arn: Val<String>,
}

/// What a configured drpair hands to each resource.
pub struct DrClient {
    pub aws: AwsContext,
    pub environment: String,
    pub name_version: String,
    pub default_tags: BTreeMap<String, String>,
}

impl DrClient {
    /// `{name}-{name_version}-{environment}`: the naming scheme of
    /// database-related objects (MIGRATION.md).
    pub fn versioned_name(&self, name: &str) -> String {
        format!("{name}-{}-{}", self.name_version, self.environment)
    }

    /// `tags_all`: the provider's `default_tags` merged with a resource's own
    /// `tags` (its own win).
    pub fn tags_all(&self, tags: &Val<BTreeMap<String, String>>) -> BTreeMap<String, String> {
        let mut all = self.default_tags.clone();
        if let Val::Known(t) = tags {
            all.extend(t.clone());
        }
        all
    }

    /// The part of `all` that is a resource's own rather than the provider's
    /// defaults (what import reports as `tags`).
    pub fn own_tags(&self, all: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        all.iter()
            .filter(|(k, v)| self.default_tags.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

#[derive(Default)]
pub struct DrPair;

#[async_trait]
impl Provider for DrPair {
    type Model = ProviderModel;

    fn type_name(&self) -> &'static str {
        "drpair"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new("drpair manages a two-region AWS disaster-recovery stack: each resource owns one capability in both the primary and the DR region.")
                .attr(Attribute::string("environment").required().description(
                    "Environment name (e.g. `dev`, `prod`): part of every database-related name (`{name}-v2-{environment}`) and the `Environment` tag of every AWS object. Lowercase letters, digits and hyphens, starting with a letter, at most 20 characters.",
                ))
                .attr(Attribute::string("primary_region").optional().description(
                    "The region that serves traffic and writes in normal operation. Default `us-east-1`.",
                ))
                .attr(Attribute::string("dr_region").optional().description(
                    "The disaster-recovery region; must differ from `primary_region`. Default `us-east-2`.",
                ))
                .attr(Attribute::string("name_version").optional().description(
                    "Version segment of database-related names (`{name}-{name_version}-{environment}`). Default `v2`; see MIGRATION.md for side-by-side migrations.",
                ))
                .attr(Attribute::string_map("default_tags").optional().description(
                    "Tags added to every AWS object drpair creates. `Environment`, `DR-Role`, `Name` and `drpair:*` are managed by drpair and cannot be set here.",
                ))
                .attr(Attribute::string("endpoint_url").optional().description(
                    "Send every AWS API call to this endpoint instead of AWS (a local emulator such as `http://127.0.0.1:4566`). `https://`, or `http://` to a loopback address only: the calls are signed and carry secrets.",
                ))
                .attr(Attribute::string("profile").optional().description(
                    "Named profile of the shared AWS configuration. Credentials otherwise come from the standard AWS chain (environment, profile, SSO, instance role).",
                ))
                .attr(Attribute::string("assume_role_arn").optional().description(
                    "IAM role to assume, on top of the base credentials, for every call in both regions.",
                ))
                .attr(Attribute::string("permissions_boundary_arn").optional().description(
                    "ARN of a managed IAM policy set as the permissions boundary of every IAM role drpair creates (the orchestrator's and notifier's, the app tier's instance roles, the backup and metric stream roles), for accounts whose deployers may only create roles under a boundary. A role whose boundary is removed or changed outside Terraform shows in `drift` and is set back by apply; changing this setting updates every role in place on the next apply.",
                )),
        )
    }

    fn validate(&self, config: &ProviderModel, diags: &mut Diagnostics) {
        let root = AttributePath::root();
        if let Val::Known(env) = &config.environment {
            validate_environment(env, &root.attr("environment"), diags);
        }
        let primary = config.primary_region.known().map(String::as_str);
        let dr = config.dr_region.known().map(String::as_str);
        if let Some(r) = primary {
            validate_region(r, &root.attr("primary_region"), diags);
        }
        if let Some(r) = dr {
            validate_region(r, &root.attr("dr_region"), diags);
        }
        let effective = |v: &Val<String>, default: &'static str| match v {
            Val::Known(s) => Some(s.clone()),
            Val::Null => Some(default.to_string()),
            Val::Unknown => None,
        };
        if let (Some(p), Some(d)) = (
            effective(&config.primary_region, DEFAULT_PRIMARY_REGION),
            effective(&config.dr_region, DEFAULT_DR_REGION),
        ) {
            if p == d {
                diags.error_at(
                    root.attr("dr_region"),
                    "DR region must differ from the primary region",
                    format!("Both primary_region and dr_region are {p:?}. A DR region in the same region as the primary does not survive a regional outage; choose another region (for example us-east-2 for us-east-1)."),
                );
            }
        }
        if let Val::Known(v) = &config.name_version {
            validate::validate_name_version(v, &root.attr("name_version"), diags);
        }
        if let Val::Known(tags) = &config.default_tags {
            for key in tags.keys().filter(|k| is_managed_key(k)) {
                diags.error_at(
                    root.attr("default_tags").key(key),
                    "Reserved tag key",
                    format!("The tag {key:?} is set by drpair on every object it creates and cannot be overridden in default_tags."),
                );
            }
        }
        if let Val::Known(arn) = &config.assume_role_arn {
            validate::validate_role_arn(arn, &root.attr("assume_role_arn"), diags);
        }
        if let Val::Known(arn) = &config.permissions_boundary_arn {
            validate::validate_policy_arn(arn, &root.attr("permissions_boundary_arn"), diags);
        }
        if let Val::Known(url) = &config.endpoint_url {
            validate::validate_endpoint_url(url, &root.attr("endpoint_url"), diags);
        }
    }

    async fn configure(
        &self,
        config: ProviderModel,
        _terraform_version: &str,
        diags: &mut Diagnostics,
    ) -> Option<ProviderData> {
        let Val::Known(environment) = config.environment else {
            diags.error_at(
                AttributePath::root().attr("environment"),
                "Environment not known",
                "The provider's environment must be known before planning; it names every object drpair creates.",
            );
            return None;
        };
        // An unknown setting would otherwise be planned with its default (another region, no
        // tags, real AWS) and applied with its value.
        let mut any_unknown = false;
        for (name, unknown) in [
            ("primary_region", config.primary_region.is_unknown()),
            ("dr_region", config.dr_region.is_unknown()),
            ("name_version", config.name_version.is_unknown()),
            ("default_tags", config.default_tags.is_unknown()),
            ("endpoint_url", config.endpoint_url.is_unknown()),
            ("profile", config.profile.is_unknown()),
            ("assume_role_arn", config.assume_role_arn.is_unknown()),
            (
                "permissions_boundary_arn",
                config.permissions_boundary_arn.is_unknown(),
            ),
        ] {
            if unknown {
                any_unknown = true;
                diags.error_at(
                    AttributePath::root().attr(name),
                    format!("{name} not known"),
                    format!("The provider's {name} must be known before planning: drpair plans every object with it (its region, name, tags or credentials). Set it from a value known at plan time, not from a resource that is not created yet."),
                );
            }
        }
        if any_unknown {
            return None;
        }
        let text = |v: Val<String>| v.known().cloned().filter(|s| !s.is_empty());
        let settings = AwsSettings {
            primary_region: text(config.primary_region)
                .unwrap_or_else(|| DEFAULT_PRIMARY_REGION.to_string()),
            dr_region: text(config.dr_region).unwrap_or_else(|| DEFAULT_DR_REGION.to_string()),
            endpoint_url: text(config.endpoint_url),
            profile: text(config.profile),
            assume_role_arn: text(config.assume_role_arn),
            permissions_boundary_arn: text(config.permissions_boundary_arn),
        };
        let aws = match AwsContext::load(&settings).await {
            Ok(aws) => aws,
            Err(e) => {
                diags.error("Configuring AWS clients", e.to_string());
                return None;
            }
        };
        let client = DrClient {
            aws,
            environment,
            name_version: text(config.name_version)
                .unwrap_or_else(|| DEFAULT_NAME_VERSION.to_string()),
            default_tags: config.default_tags.known().cloned().unwrap_or_default(),
        };
        Some(Arc::new(client))
    }

    fn resources(&self) -> Vec<Arc<dyn DynResource>> {
        crate::resources::resources()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DynDataSource>> {
        crate::resources::data_sources()
    }

    fn actions(&self) -> Vec<Arc<dyn DynAction>> {
        crate::resources::actions()
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        crate::functions::functions()
    }
}
