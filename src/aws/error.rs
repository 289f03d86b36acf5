//! The one error type of the AWS layer, worded like terraform-provider-aws:
//! `creating VPC (us-east-1/payments-test): InvalidParameterValue: ...`.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// The object does not exist (or no longer exists).
    #[error("{what} ({region}/{id}) not found")]
    NotFound {
        what: String,
        id: String,
        region: String,
    },

    /// An AWS call failed: the service answered with an error, or no answer came. Boxed to
    /// keep `Result<T, AwsError>` small.
    #[error(transparent)]
    Api(Box<ApiFailure>),

    /// A waiter ran out of time.
    #[error(
        "waiting for {what} ({region}/{id}): timed out after {waited_secs}s (last state: {last_state})"
    )]
    Timeout {
        what: String,
        id: String,
        region: String,
        waited_secs: u64,
        last_state: String,
    },

    /// The AWS configuration (regions, credentials, settings) is unusable.
    #[error("AWS configuration: {0}")]
    Config(String),
}

/// A failed AWS call: what was being done to which object, and what AWS answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{verb} {what} ({region}/{id}): {}", code_and_message(code.as_deref(), message))]
pub struct ApiFailure {
    pub verb: String,
    pub what: String,
    pub id: String,
    pub region: String,
    /// The AWS error code (`InvalidVpcID.NotFound`), when the service answered with one.
    pub code: Option<String>,
    pub message: String,
}

fn code_and_message(code: Option<&str>, message: &str) -> String {
    match code {
        Some(code) if !message.is_empty() => format!("{code}: {message}"),
        Some(code) => code.to_owned(),
        None => message.to_owned(),
    }
}

impl AwsError {
    /// Turns a failed SDK call into [`AwsError::Api`], keeping the service's error code and
    /// message, or describing the transport failure (timeout, dispatch, unparsable answer).
    pub fn from_sdk<E, R>(
        verb: &str,
        what: &str,
        id: &str,
        region: &str,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + 'static,
        R: Debug,
    {
        let (code, message) = match &err {
            SdkError::ServiceError(_) => (
                err.code().map(str::to_owned),
                err.message()
                    .map(str::to_owned)
                    .unwrap_or_else(|| DisplayErrorContext(&err).to_string()),
            ),
            _ => (None, DisplayErrorContext(&err).to_string()),
        };
        AwsError::api(verb, what, id, region, code, message)
    }

    /// An API failure built by hand, e.g. for a waiter that found the object failed.
    pub fn api(
        verb: &str,
        what: &str,
        id: &str,
        region: &str,
        code: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        AwsError::Api(Box::new(ApiFailure {
            verb: verb.to_owned(),
            what: what.to_owned(),
            id: id.to_owned(),
            region: region.to_owned(),
            code,
            message: message.into(),
        }))
    }

    pub fn not_found(what: &str, id: &str, region: &str) -> Self {
        AwsError::NotFound {
            what: what.to_owned(),
            id: id.to_owned(),
            region: region.to_owned(),
        }
    }

    /// The AWS error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Api(failure) => failure.code.as_deref(),
            _ => None,
        }
    }

    /// True for [`AwsError::NotFound`] and for API errors whose code says "not found".
    pub fn is_not_found(&self) -> bool {
        match self {
            AwsError::NotFound { .. } => true,
            _ => self.code().is_some_and(is_not_found_code),
        }
    }

    /// True when the call failed because another object still depends on this one (a
    /// condition AWS clears by itself once the dependant is gone, e.g. a NAT gateway's network
    /// interface being released).
    pub fn is_dependency_violation(&self) -> bool {
        self.code() == Some("DependencyViolation")
    }

    /// Maps "not found" to `NotFound`, keeping every other error as it is.
    pub fn classify_not_found(self) -> Self {
        match self {
            AwsError::Api(failure) if failure.code.as_deref().is_some_and(is_not_found_code) => {
                let ApiFailure {
                    what, id, region, ..
                } = *failure;
                AwsError::NotFound { what, id, region }
            }
            other => other,
        }
    }
}

/// EC2 and most other services signal a missing object with a code such as
/// `InvalidVpcID.NotFound`, `InvalidRouteTableID.NotFound`, `NatGatewayNotFound` or
/// `ResourceNotFoundException`.
pub fn is_not_found_code(code: &str) -> bool {
    // EC2: InvalidVpcID.NotFound; most JSON services: ResourceNotFoundException;
    // RDS: DBClusterNotFoundFault; Route 53: NoSuchHealthCheck.
    code.ends_with("NotFound")
        || code.ends_with("NotFoundException")
        || code.ends_with("NotFoundFault")
        || code.starts_with("NoSuch")
}

/// A `map_err` adapter naming the verb and the object: `.map_err(api_error("creating", "VPC",
/// id, region))`.
pub fn api_error<'a, E, R>(
    verb: &'a str,
    what: &'a str,
    id: &'a str,
    region: &'a str,
) -> impl FnOnce(SdkError<E, R>) -> AwsError + 'a
where
    E: ProvideErrorMetadata + StdError + 'static,
    R: Debug,
{
    move |err| AwsError::from_sdk(verb, what, id, region, err)
}

/// Treats "not found" as `None`, for deletes and lookups where absence is a valid answer.
pub fn ok_if_not_found<T>(result: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(err) if err.is_not_found() => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_codes() {
        for (code, expected) in [
            ("InvalidVpcID.NotFound", true),
            ("InvalidVpcPeeringConnectionID.NotFound", true),
            ("InvalidVpcPeeringConnectionId.NotFound", true),
            ("InvalidAllocationID.NotFound", true),
            ("NatGatewayNotFound", true),
            ("InvalidRouteTableID.NotFound", true),
            ("ResourceNotFoundException", true),
            ("InvalidRoute.NotFound", true),
            ("DependencyViolation", false),
            ("InvalidParameterValue", false),
            ("RequestLimitExceeded", false),
        ] {
            assert_eq!(is_not_found_code(code), expected, "{code}");
        }
    }

    fn api(code: Option<&str>, message: &str) -> AwsError {
        AwsError::api(
            "creating",
            "VPC",
            "payments-test",
            "us-east-1",
            code.map(str::to_owned),
            message,
        )
    }

    #[test]
    fn display_like_terraform_provider_aws() {
        for (err, expected) in [
            (
                api(Some("InvalidParameterValue"), "bad CIDR"),
                "creating VPC (us-east-1/payments-test): InvalidParameterValue: bad CIDR",
            ),
            (
                api(None, "dispatch failure: connection refused"),
                "creating VPC (us-east-1/payments-test): dispatch failure: connection refused",
            ),
            (
                AwsError::not_found("NAT gateway", "nat-123", "us-east-2"),
                "NAT gateway (us-east-2/nat-123) not found",
            ),
            (
                AwsError::Timeout {
                    what: "NAT gateway".into(),
                    id: "nat-123".into(),
                    region: "us-east-2".into(),
                    waited_secs: 600,
                    last_state: "pending".into(),
                },
                "waiting for NAT gateway (us-east-2/nat-123): timed out after 600s (last state: pending)",
            ),
        ] {
            assert_eq!(err.to_string(), expected);
        }
    }

    #[test]
    fn stays_small() {
        assert!(std::mem::size_of::<AwsError>() < 128);
    }

    #[test]
    fn classification() {
        let missing = api(Some("InvalidVpcID.NotFound"), "gone");
        assert!(missing.is_not_found());
        assert!(matches!(
            missing.classify_not_found(),
            AwsError::NotFound { .. }
        ));
        assert!(!api(Some("DependencyViolation"), "").is_not_found());
        assert!(api(Some("DependencyViolation"), "").is_dependency_violation());
        assert_eq!(
            ok_if_not_found::<()>(Err(api(Some("X.NotFound"), ""))).unwrap(),
            None
        );
        assert!(ok_if_not_found::<()>(Err(api(Some("Throttling"), ""))).is_err());
    }
}
