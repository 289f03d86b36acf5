//! The customer-managed KMS key of each region, found through the alias `alias/{table}`, by way
//! of the shared key helpers (`crate::aws::kms`): a key created just before a crash (no alias
//! yet) is adopted by its owner tag, a key scheduled for deletion out of band is revived, and
//! destroy schedules the deletion (30 days) and removes the alias. Rotation is on and the key
//! policy lets the account use the key only through DynamoDB ([`key_policy`]).

use serde_json::Value;

use crate::aws::iam::{caller_account, Account};
use crate::aws::kms::{self, KeySpec, RegionKey};
use crate::aws::{AwsError, RegionCtx};

use super::{part, TableSpec};

pub(super) use crate::aws::kms::{destroy_key, find_key};

/// The table key's policy: administered by the account, used only through DynamoDB in the
/// key's region (which encrypts the table, its stream, its backups and the replica's data).
pub(super) fn key_policy(account: &Account, region: &str) -> Value {
    kms::key_policy_for(account, region, &["dynamodb"], Vec::new())
}

pub(super) async fn ensure_key(rc: &RegionCtx, spec: &TableSpec) -> Result<RegionKey, AwsError> {
    let account = caller_account(rc).await?;
    let key = KeySpec {
        alias: spec.key_alias(),
        owner: spec.owner(),
        description: format!(
            "Encryption at rest of DynamoDB table {} in {} ({} side), managed by {}",
            spec.name,
            rc.region,
            rc.role.label(),
            spec.owner()
        ),
        tags: spec.tags(rc.role, part::KMS_KEY),
        policy: Some(key_policy(&account, &rc.region)),
    };
    // A key already under the table's alias without an owner tag is the table's own key from
    // before tagging; another owner's key is refused by the shared helper.
    kms::ensure_key(rc, &key, true).await
}
