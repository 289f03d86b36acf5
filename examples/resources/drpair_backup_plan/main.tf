# AWS Backup for the Aurora global database, protecting whichever region writes: vaults
# drpair-backup-vault-v2-dev in us-east-1 and us-east-2 (each encrypted with a KMS key of its
# region), and the plan drpair-backup-plan-v2-dev in both regions: in us-east-1 backing up the
# primary cluster every hour into the primary vault and copying each recovery point to the DR
# vault; in us-east-2 backing up the DR cluster (the writer after a failover) into the DR vault
# and copying to the primary vault. Recovery points are kept 35 days, copies 35 days. One IAM
# role AWS Backup assumes in both regions (the AWS-managed backup and restore policies only).
#
# The ARNs usually come from the database:
#   resource_arns    = [drpair_global_database.main.primary.cluster_arn]
#   dr_resource_arns = [drpair_global_database.main.dr.cluster_arn]

terraform {
  required_providers {
    drpair = {
      source = "drpair/drpair"
    }
  }
}

provider "drpair" {
  environment  = "dev"
  default_tags = { CostCenter = "payments" }
}

variable "primary_cluster_arn" {
  type        = string
  description = "ARN of the primary Aurora cluster (in the primary region)."
}

variable "dr_cluster_arn" {
  type        = string
  description = "ARN of the DR Aurora cluster (in the DR region)."
}

resource "drpair_backup_plan" "db" {
  resource_arns       = [var.primary_cluster_arn]
  dr_resource_arns    = [var.dr_cluster_arn]
  schedule            = "cron(0 * * * ? *)" # AWS cron, UTC; at most hourly
  retention_days      = 35
  copy_retention_days = 35

  # Optional:
  # name_prefix       = "drpair"
  # continuous_backup = false  # true: PITR in each region; cross-region copies are snapshots
  # force_destroy     = false  # true: destroy deletes the vaults' recovery points (else it is
  #                            # refused, deleting nothing, while the vaults hold any)
  # tags              = { Team = "payments-sre" }
  # timeouts          = { delete = "1h" }
}

output "backup_plan_id" {
  value = drpair_backup_plan.db.plan_id
}

output "dr_vault_arn" {
  value = drpair_backup_plan.db.dr.vault_arn
}

output "dr_backup_plan_id" {
  value = drpair_backup_plan.db.dr.plan_id
}
