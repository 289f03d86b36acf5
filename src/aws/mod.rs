//! Shared AWS plumbing: per-region clients from one SDK configuration, error classification,
//! waiters sharing one deadline, and the tags every drpair object carries.

pub mod clients;
pub mod error;
pub mod iam;
pub mod kms;
pub mod tags;
pub mod waiter;

pub use clients::{AwsContext, AwsSettings, RegionCtx, Role};
pub use error::AwsError;
pub use waiter::{retry_while, wait_for, Deadline, Poll};
