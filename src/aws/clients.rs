//! One SDK configuration per region, built from the standard AWS credential chain.

use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::SdkConfig;
use std::sync::Arc;
use tokio::sync::OnceCell;

use super::error::AwsError;
use super::iam::Account;

/// Attempts per AWS call (the first try plus retries with exponential backoff on throttling
/// and transient errors).
const MAX_ATTEMPTS: u32 = 5;

/// Session name recorded in CloudTrail when the provider assumes a role.
const ASSUME_ROLE_SESSION_NAME: &str = "drpair";

/// The provider's AWS settings, as configured by the user.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub primary_region: String,
    pub dr_region: String,
    /// One endpoint for every service (a local emulator).
    pub endpoint_url: Option<String>,
    /// A named profile of the shared config and credentials files.
    pub profile: Option<String>,
    /// A role assumed on top of the credentials the chain found.
    pub assume_role_arn: Option<String>,
    /// The managed policy set as the permissions boundary of every IAM role drpair creates.
    pub permissions_boundary_arn: Option<String>,
}

/// Which side of the disaster-recovery pair a region plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Primary,
    Dr,
}

impl Role {
    pub const BOTH: [Role; 2] = [Role::Primary, Role::Dr];

    /// The value of the `DR-Role` tag.
    pub fn tag_value(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Dr => "dr",
        }
    }

    /// How messages name this side.
    pub fn label(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Dr => "DR",
        }
    }

    pub fn peer(self) -> Role {
        match self {
            Role::Primary => Role::Dr,
            Role::Dr => Role::Primary,
        }
    }
}

/// One region's SDK configuration and the clients built from it.
#[derive(Clone, Debug)]
pub struct RegionCtx {
    pub region: String,
    pub role: Role,
    pub config: SdkConfig,
    /// The permissions boundary of every IAM role drpair creates (the provider's
    /// `permissions_boundary_arn`); None: no boundary.
    pub permissions_boundary: Option<String>,
    /// The caller's account, read once per process (STS GetCallerIdentity) and shared by both
    /// regions: the credentials, hence the account, do not change while the provider runs.
    pub(crate) account: Arc<OnceCell<Account>>,
}

impl RegionCtx {
    pub fn new(region: impl Into<String>, role: Role, config: SdkConfig) -> Self {
        Self {
            region: region.into(),
            role,
            config,
            permissions_boundary: None,
            account: Arc::default(),
        }
    }

    /// The same region with `boundary` as the roles' permissions boundary.
    pub fn with_permissions_boundary(mut self, boundary: Option<String>) -> Self {
        self.permissions_boundary = boundary;
        self
    }

    /// S3 needs path-style addressing behind a custom endpoint (an emulator
    /// has no per-bucket DNS names).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.config.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

/// One method per AWS service: a client for this region. Clients share the
/// configuration's HTTP connection pool and credentials cache, so building
/// one per operation is cheap.
macro_rules! region_clients {
    ($($method:ident => $krate:ident),* $(,)?) => {
        impl RegionCtx {
            $(
                pub fn $method(&self) -> $krate::Client {
                    $krate::Client::new(&self.config)
                }
            )*
        }
    };
}

region_clients! {
    autoscaling => aws_sdk_autoscaling,
    backup => aws_sdk_backup,
    cloudwatch => aws_sdk_cloudwatch,
    logs => aws_sdk_cloudwatchlogs,
    dynamodb => aws_sdk_dynamodb,
    ec2 => aws_sdk_ec2,
    elbv2 => aws_sdk_elasticloadbalancingv2,
    eventbridge => aws_sdk_eventbridge,
    firehose => aws_sdk_firehose,
    iam => aws_sdk_iam,
    kms => aws_sdk_kms,
    lambda => aws_sdk_lambda,
    rds => aws_sdk_rds,
    route53 => aws_sdk_route53,
    secretsmanager => aws_sdk_secretsmanager,
    sns => aws_sdk_sns,
    ssm => aws_sdk_ssm,
    sts => aws_sdk_sts,
}

/// Both regions of the pair.
#[derive(Clone, Debug)]
pub struct AwsContext {
    pub primary: RegionCtx,
    pub dr: RegionCtx,
}

impl AwsContext {
    /// Resolves credentials through the standard chain (environment, profile, SSO, web
    /// identity, container and instance metadata), optionally assuming a role on top, and
    /// derives one configuration per region from it. Credentials are resolved lazily, on the
    /// first call, and cached across both regions.
    pub async fn load(settings: &AwsSettings) -> Result<Self, AwsError> {
        validate(settings)?;
        let base = base_config(settings).await?;
        let region_config = |region: &str| {
            base.clone()
                .into_builder()
                .region(Region::new(region.to_owned()))
                .build()
        };
        Ok(Self {
            primary: RegionCtx::new(
                &settings.primary_region,
                Role::Primary,
                region_config(&settings.primary_region),
            )
            .with_permissions_boundary(settings.permissions_boundary_arn.clone()),
            dr: RegionCtx::new(
                &settings.dr_region,
                Role::Dr,
                region_config(&settings.dr_region),
            )
            .with_permissions_boundary(settings.permissions_boundary_arn.clone()),
        }
        .sharing_the_account())
    }

    /// Both regions answer the caller's account from one cache.
    fn sharing_the_account(mut self) -> Self {
        self.dr.account = Arc::clone(&self.primary.account);
        self
    }

    pub fn region(&self, role: Role) -> &RegionCtx {
        match role {
            Role::Primary => &self.primary,
            Role::Dr => &self.dr,
        }
    }
}

fn validate(settings: &AwsSettings) -> Result<(), AwsError> {
    if settings.primary_region.is_empty() || settings.dr_region.is_empty() {
        return Err(AwsError::Config(
            "both primary_region and dr_region must be set".into(),
        ));
    }
    if settings.primary_region == settings.dr_region {
        return Err(AwsError::Config(format!(
            "primary_region and dr_region must differ (both are {})",
            settings.primary_region
        )));
    }
    Ok(())
}

async fn base_config(settings: &AwsSettings) -> Result<SdkConfig, AwsError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(settings.primary_region.clone()))
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(profile) = &settings.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let config = loader.load().await;

    let Some(role_arn) = &settings.assume_role_arn else {
        return Ok(config);
    };
    if config.credentials_provider().is_none() {
        return Err(AwsError::Config(format!(
            "no credentials to assume role {role_arn} with"
        )));
    }
    // The base configuration authenticates the AssumeRole call (and sends it to the same
    // endpoint, so an emulator works too); the assumed credentials sign everything else.
    let provider = AssumeRoleProvider::builder(role_arn)
        .session_name(ASSUME_ROLE_SESSION_NAME)
        .configure(&config)
        .build()
        .await;
    Ok(config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(primary: &str, dr: &str) -> AwsSettings {
        AwsSettings {
            primary_region: primary.into(),
            dr_region: dr.into(),
            endpoint_url: Some("http://127.0.0.1:1".into()),
            ..AwsSettings::default()
        }
    }

    #[tokio::test]
    async fn one_config_per_region() {
        let ctx = AwsContext::load(&settings("us-east-1", "us-east-2"))
            .await
            .unwrap();
        assert_eq!(ctx.region(Role::Primary).region, "us-east-1");
        assert_eq!(ctx.region(Role::Dr).region, "us-east-2");
        assert_eq!(
            ctx.dr.config.region().map(|r| r.as_ref()),
            Some("us-east-2")
        );
        assert_eq!(
            ctx.primary.config.endpoint_url(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(ctx.dr.role, Role::Dr);
    }

    #[tokio::test]
    async fn rejects_the_same_region_twice() {
        let err = AwsContext::load(&settings("us-east-1", "us-east-1"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("must differ"), "{err}");
    }

    #[test]
    fn role_tag_values() {
        assert_eq!(Role::Primary.tag_value(), "primary");
        assert_eq!(Role::Dr.tag_value(), "dr");
        assert_eq!(Role::Primary.peer(), Role::Dr);
    }
}
