//! The functions' CloudWatch Logs log groups, `/aws/lambda/{function}`, and the KMS key that
//! encrypts them.
//!
//! Lambda creates a function's log group on its first invocation when it is missing, with no
//! tags, no retention (kept forever) and AWS's default encryption, and nothing deletes it with
//! the function ("Configuring CloudWatch log groups" in the Lambda developer guide). drpair
//! creates both groups before the functions instead: encrypted with its own key, kept for the
//! configured retention, tagged, deleted on destroy. A group Lambda made earlier (a deployment
//! of an older provider) is adopted and brought to the spec; the functions' roles may write to
//! their group but not create one, so no other group appears.
//!
//! CloudWatch Logs may use the key only when the key policy allows the regional service
//! principal `logs.{region}.amazonaws.com` with the encryption context
//! `kms:EncryptionContext:aws:logs:arn` of the group ("Encrypt log data in CloudWatch Logs using
//! AWS Key Management Service"); the policy names exactly the two groups.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::aws::error::{api_error, ok_if_not_found};
use crate::aws::iam::{Account, NOT_OWNED_CODE};
use crate::aws::kms::{key_policy_for, KeySpec};
use crate::aws::tags::{tag_changes, Tags, OWNER_TAG};
use crate::aws::{AwsError, Deadline, RegionCtx};

use super::parts::Function;
use super::Spec;

pub const LOG_GROUP: &str = "CloudWatch Logs log group";
/// CloudWatch Logs' retention values (PutRetentionPolicy's `Days`).
pub const RETENTION_DAYS: [i64; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
/// A year of failover audit trail.
pub const DEFAULT_RETENTION_DAYS: i64 = 365;
/// How long a key just created or given its policy may still be refused: KMS, like IAM, is
/// eventually consistent.
const KEY_PROPAGATION: Duration = Duration::from_secs(60);
const KEY_RETRY_EVERY: Duration = Duration::from_secs(2);

/// The log group Lambda writes a function's logs to.
pub fn log_group_name(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// What one log group should be.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogGroupSpec {
    pub name: String,
    pub retention_days: i64,
    /// The ARN of the key encrypting it; empty when the key is not known (drift only).
    pub kms_key_arn: String,
    pub tags: Tags,
    pub owner: String,
}

/// A log group as CloudWatch Logs has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedLogGroup {
    pub name: String,
    /// Without the `:*` of DescribeLogGroups' `arn`: what tagging and KMS contexts use.
    pub arn: String,
    /// None: never expires.
    pub retention_days: Option<i64>,
    pub kms_key_id: Option<String>,
    pub tags: Tags,
}

impl Spec {
    pub fn log_group_arn(&self, account: &Account, function: Function) -> String {
        format!(
            "arn:{}:logs:{}:{}:log-group:{}",
            account.partition,
            self.dr_region,
            account.id,
            log_group_name(function.name(&self.names))
        )
    }

    pub fn log_group_spec(&self, function: Function, kms_key_arn: &str) -> LogGroupSpec {
        let name = log_group_name(function.name(&self.names));
        LogGroupSpec {
            tags: self.tags(&format!("{}-log-group", function.part()), &name),
            name,
            retention_days: self.log_retention_days,
            kms_key_arn: kms_key_arn.to_owned(),
            owner: self.owner(),
        }
    }

    /// The key of the log groups: the account administers it; CloudWatch Logs of the DR region
    /// may use it for the two groups only.
    pub fn logs_key_spec(&self, account: &Account) -> KeySpec {
        let groups: Vec<String> = Function::BOTH
            .iter()
            .map(|f| self.log_group_arn(account, *f))
            .collect();
        let name = self.names.logs_key_alias.trim_start_matches("alias/");
        KeySpec {
            alias: self.names.logs_key_alias.clone(),
            owner: self.owner(),
            description: format!(
                "Encryption at rest of the failover orchestrator's Lambda log groups in {}, managed by {}",
                self.dr_region,
                self.owner()
            ),
            tags: self.tags("logs-key", name),
            policy: Some(logs_key_policy(account, &self.dr_region, &groups)),
        }
    }
}

/// The key policy CloudWatch Logs needs ("Encrypt log data in CloudWatch Logs using AWS KMS",
/// step 2), restricted to `group_arns` by the encryption context.
/// The account administers the key and uses it only through CloudWatch Logs
/// ([`key_policy_for`]); no one may encrypt or decrypt with it directly.
pub fn logs_key_policy(account: &Account, region: &str, group_arns: &[String]) -> Value {
    key_policy_for(
        account,
        region,
        &["logs"],
        vec![json!({
            "Sid": "CloudWatchLogsEncryptsTheLogGroups",
            "Effect": "Allow",
            "Principal": { "Service": format!("logs.{region}.amazonaws.com") },
            "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            "Resource": "*",
            // The encryption context names the exact groups, account included.
            "Condition": { "ArnEquals": { "kms:EncryptionContext:aws:logs:arn": group_arns } }
        })],
    )
}

/// The log group of this exact name, with its tags; None when there is none.
pub async fn find_log_group(
    rc: &RegionCtx,
    name: &str,
) -> Result<Option<ObservedLogGroup>, AwsError> {
    let logs = rc.logs();
    let mut token: Option<String> = None;
    let group = loop {
        let out = logs
            .describe_log_groups()
            .log_group_name_prefix(name)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(api_error("reading", LOG_GROUP, name, &rc.region))?;
        if let Some(g) = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(name))
        {
            break g.clone();
        }
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(None),
        }
    };
    let arn = group
        .log_group_arn()
        .map(str::to_owned)
        .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_owned()))
        .unwrap_or_default();
    let tags = logs
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(api_error("listing tags of", LOG_GROUP, name, &rc.region));
    // A group deleted between the two calls reads as gone.
    let Some(tags) = ok_if_not_found(tags)? else {
        return Ok(None);
    };
    Ok(Some(ObservedLogGroup {
        name: name.to_owned(),
        arn,
        retention_days: group.retention_in_days().map(i64::from),
        kms_key_id: group.kms_key_id().map(str::to_owned),
        tags: tags
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }))
}

/// How the group differs from the spec, one phrase per difference.
pub fn log_group_drift(spec: &LogGroupSpec, observed: Option<&ObservedLogGroup>) -> Vec<String> {
    let name = &spec.name;
    let Some(g) = observed else {
        return vec![format!("{LOG_GROUP} {name} is missing")];
    };
    let mut drift = Vec::new();
    if g.retention_days != Some(spec.retention_days) {
        let have = g
            .retention_days
            .map_or("never expires".to_owned(), |d| format!("keeps {d} days"));
        drift.push(format!(
            "{LOG_GROUP} {name}: {have}, expected {} days",
            spec.retention_days
        ));
    }
    if !spec.kms_key_arn.is_empty() && g.kms_key_id.as_deref() != Some(spec.kms_key_arn.as_str()) {
        let have = g
            .kms_key_id
            .as_deref()
            .map_or("not encrypted with KMS".to_owned(), |k| {
                format!("encrypted with {k}")
            });
        drift.push(format!(
            "{LOG_GROUP} {name}: {have}, expected {}",
            spec.kms_key_arn
        ));
    }
    drift
}

fn not_owned(rc: &RegionCtx, name: &str, detail: String) -> AwsError {
    AwsError::api(
        "adopting",
        LOG_GROUP,
        name,
        &rc.region,
        Some(NOT_OWNED_CODE.to_owned()),
        detail,
    )
}

/// CloudWatch Logs refuses a key it may not (yet) use.
fn is_key_refusal(e: &AwsError) -> bool {
    let AwsError::Api(f) = e else { return false };
    f.code.as_deref() == Some("AccessDeniedException") && f.message.contains("KMS key")
}

/// `call` again while CloudWatch Logs refuses the key, for at most [`KEY_PROPAGATION`].
async fn retry_key_propagation<T, F, Fut>(deadline: Deadline, mut call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let window = Deadline::after(KEY_PROPAGATION.min(deadline.remaining()));
    loop {
        match call().await {
            Err(e) if is_key_refusal(&e) && !window.expired() => {
                tracing::info!("waiting for the KMS key's policy to propagate: {e}");
                tokio::time::sleep(KEY_RETRY_EVERY.min(window.remaining())).await;
            }
            other => return other,
        }
    }
}

async fn create(rc: &RegionCtx, spec: &LogGroupSpec, deadline: Deadline) -> Result<(), AwsError> {
    let name = spec.name.as_str();
    let tags: HashMap<String, String> = spec.tags.clone().into_iter().collect();
    let created = retry_key_propagation(deadline, || async {
        rc.logs()
            .create_log_group()
            .log_group_name(name)
            .kms_key_id(&spec.kms_key_arn)
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .map_err(api_error("creating", LOG_GROUP, name, &rc.region))
    })
    .await;
    match created {
        Ok(_) => {
            tracing::info!("created {LOG_GROUP} {}/{name}", rc.region);
            Ok(())
        }
        // Made meanwhile (Lambda, or a concurrent apply): adopted below.
        Err(e) if e.code() == Some("ResourceAlreadyExistsException") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates the group, or brings one that exists to the spec (KMS key, retention, tags). A group
/// tagged with another owner is refused; an untagged one is the group Lambda made for the
/// function, which the caller has checked is this deployment's, and is adopted. Idempotent.
pub async fn ensure_log_group(
    rc: &RegionCtx,
    spec: &LogGroupSpec,
    deadline: Deadline,
) -> Result<ObservedLogGroup, AwsError> {
    let name = spec.name.as_str();
    let existing = match find_log_group(rc, name).await? {
        Some(g) => Some(g),
        None => {
            create(rc, spec, deadline).await?;
            None
        }
    };
    let group = match existing {
        Some(g) => g,
        None => find_log_group(rc, name)
            .await?
            .ok_or_else(|| AwsError::not_found(LOG_GROUP, name, &rc.region))?,
    };
    if let Some(other) = group.tags.get(OWNER_TAG).filter(|o| **o != spec.owner) {
        return Err(not_owned(
            rc,
            name,
            format!("the log group is owned by {other}, not {}", spec.owner),
        ));
    }
    let logs = rc.logs();
    if group.kms_key_id.as_deref() != Some(spec.kms_key_arn.as_str()) {
        retry_key_propagation(deadline, || async {
            logs.associate_kms_key()
                .log_group_name(name)
                .kms_key_id(&spec.kms_key_arn)
                .send()
                .await
                .map_err(api_error(
                    "associating the KMS key with",
                    LOG_GROUP,
                    name,
                    &rc.region,
                ))
        })
        .await?;
    }
    if group.retention_days != Some(spec.retention_days) {
        let days = i32::try_from(spec.retention_days).map_err(|_| {
            AwsError::Config(format!(
                "log retention of {} days is out of range",
                spec.retention_days
            ))
        })?;
        logs.put_retention_policy()
            .log_group_name(name)
            .retention_in_days(days)
            .send()
            .await
            .map_err(api_error(
                "setting the retention of",
                LOG_GROUP,
                name,
                &rc.region,
            ))?;
    }
    let (set, remove) = tag_changes(&group.tags, &spec.tags);
    if !set.is_empty() {
        logs.tag_resource()
            .resource_arn(&group.arn)
            .set_tags(Some(set.into_iter().collect()))
            .send()
            .await
            .map_err(api_error("tagging", LOG_GROUP, name, &rc.region))?;
    }
    if !remove.is_empty() {
        logs.untag_resource()
            .resource_arn(&group.arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(api_error("untagging", LOG_GROUP, name, &rc.region))?;
    }
    Ok(ObservedLogGroup {
        retention_days: Some(spec.retention_days),
        kms_key_id: Some(spec.kms_key_arn.clone()),
        tags: spec.tags.clone(),
        ..group
    })
}

/// Deletes the group with its logs. One tagged with another owner is left alone; an untagged one
/// is the group Lambda made for this deployment's function and goes too. A missing one is
/// success.
pub async fn delete_log_group(rc: &RegionCtx, name: &str, owner: &str) -> Result<(), AwsError> {
    let Some(group) = find_log_group(rc, name).await? else {
        return Ok(());
    };
    if let Some(other) = group.tags.get(OWNER_TAG).filter(|o| *o != owner) {
        tracing::warn!("leaving {LOG_GROUP} {name}: owned by {other}, not {owner}");
        return Ok(());
    }
    let deleted = rc
        .logs()
        .delete_log_group()
        .log_group_name(name)
        .send()
        .await
        .map_err(api_error("deleting", LOG_GROUP, name, &rc.region));
    ok_if_not_found(deleted)?;
    tracing::info!("deleted {LOG_GROUP} {}/{name}", rc.region);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{account, spec};
    use super::*;

    #[test]
    fn names_and_policy() {
        let s = spec();
        let a = account();
        assert_eq!(
            log_group_name("failover-notifier-v2-dev"),
            "/aws/lambda/failover-notifier-v2-dev"
        );
        assert_eq!(
            s.log_group_arn(&a, Function::Orchestrator),
            "arn:aws:logs:us-east-2:123456789012:log-group:/aws/lambda/failover-orchestrator-v2-dev"
        );
        let key = s.logs_key_spec(&a);
        assert_eq!(key.alias, "alias/failover-logs-v2-dev");
        assert_eq!(key.tags["drpair:owner"], s.owner());
        assert_eq!(key.tags["DR-Role"], "dr");
        let policy = key.policy.unwrap();
        // The statement's position depends on the shared key policy's layout; find it by its
        // principal.
        let logs = policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Principal"]["Service"] == "logs.us-east-2.amazonaws.com")
            .expect("a statement for CloudWatch Logs");
        assert_eq!(
            logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"],
            json!([
                "arn:aws:logs:us-east-2:123456789012:log-group:/aws/lambda/failover-orchestrator-v2-dev",
                "arn:aws:logs:us-east-2:123456789012:log-group:/aws/lambda/failover-notifier-v2-dev",
            ])
        );
        assert_eq!(policy["Statement"][0]["Principal"]["AWS"], a.root_arn());
        let group = s.log_group_spec(Function::Notifier, "arn:k");
        assert_eq!(group.name, "/aws/lambda/failover-notifier-v2-dev");
        assert_eq!(group.retention_days, DEFAULT_RETENTION_DAYS);
        assert_eq!(group.tags["drpair:part"], "notifier-log-group");
    }

    #[test]
    fn drift_of_a_log_group() {
        let spec = LogGroupSpec {
            name: "/aws/lambda/f".into(),
            retention_days: 365,
            kms_key_arn: "arn:k".into(),
            ..LogGroupSpec::default()
        };
        assert_eq!(
            log_group_drift(&spec, None),
            vec!["CloudWatch Logs log group /aws/lambda/f is missing"]
        );
        let exact = ObservedLogGroup {
            name: "/aws/lambda/f".into(),
            retention_days: Some(365),
            kms_key_id: Some("arn:k".into()),
            ..ObservedLogGroup::default()
        };
        assert!(log_group_drift(&spec, Some(&exact)).is_empty());
        // What Lambda makes by itself.
        let lambdas = ObservedLogGroup {
            retention_days: None,
            kms_key_id: None,
            ..exact.clone()
        };
        assert_eq!(
            log_group_drift(&spec, Some(&lambdas)),
            vec![
                "CloudWatch Logs log group /aws/lambda/f: never expires, expected 365 days",
                "CloudWatch Logs log group /aws/lambda/f: not encrypted with KMS, expected arn:k",
            ]
        );
        let shortened = ObservedLogGroup {
            retention_days: Some(7),
            kms_key_id: Some("arn:other".into()),
            ..exact.clone()
        };
        assert_eq!(
            log_group_drift(&spec, Some(&shortened)),
            vec![
                "CloudWatch Logs log group /aws/lambda/f: keeps 7 days, expected 365 days",
                "CloudWatch Logs log group /aws/lambda/f: encrypted with arn:other, expected arn:k",
            ]
        );
        // The key itself missing is reported on its own; the group is not compared with it.
        let unknown_key = LogGroupSpec {
            kms_key_arn: String::new(),
            ..spec
        };
        assert!(log_group_drift(&unknown_key, Some(&shortened))
            .iter()
            .all(|d| !d.contains("encrypted")));
    }

    #[test]
    fn key_refusals_are_retried_only() {
        let e = |code: &str, msg: &str| {
            AwsError::api(
                "creating",
                LOG_GROUP,
                "g",
                "us-east-2",
                Some(code.into()),
                msg,
            )
        };
        assert!(is_key_refusal(&e(
            "AccessDeniedException",
            "The specified KMS key does not exist or is not allowed to be used with Arn 'arn:aws:logs:us-east-2:1:log-group:g'"
        )));
        assert!(!is_key_refusal(&e(
            "InvalidParameterException",
            "The specified KMS Key Id could not be found."
        )));
        assert!(!is_key_refusal(&e(
            "AccessDeniedException",
            "User is not authorized to perform: logs:CreateLogGroup"
        )));
    }
}
