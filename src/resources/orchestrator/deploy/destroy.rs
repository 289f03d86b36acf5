//! Removes the deployment in reverse order: the rules first (nothing invokes the functions any
//! more), the functions (their permissions go with them), their log groups, the roles, the state
//! table, and last the log groups' KMS key (scheduled for deletion). Each step treats "not
//! found" as done, so a destroy interrupted at any point is finished by the next.

use crate::aws::iam::delete_role;
use crate::aws::kms::destroy_key;
use crate::aws::{AwsContext, AwsError, Deadline};

use super::functions::delete_function;
use super::logs::{delete_log_group, log_group_name};
use super::parts::Function;
use super::rules::delete_rule;
use super::table::delete_table;
use super::Names;

pub async fn destroy(
    aws: &AwsContext,
    names: &Names,
    owner: &str,
    deadline: Deadline,
) -> Result<(), AwsError> {
    let rc = &aws.dr;
    delete_rule(rc, &names.probe_rule, owner).await?;
    delete_rule(rc, &names.alarm_rule, owner).await?;
    for f in Function::BOTH {
        delete_function(rc, f.name(names), owner).await?;
    }
    for f in Function::BOTH {
        delete_log_group(rc, &log_group_name(f.name(names)), owner).await?;
    }
    for f in Function::BOTH {
        delete_role(rc, f.role_name(names), owner).await?;
    }
    delete_table(rc, &names.table, owner, deadline).await?;
    destroy_key(rc, &names.logs_key_alias, owner, None).await
}
