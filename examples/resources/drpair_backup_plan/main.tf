# AWS Backup for the Aurora cluster: vaults drpair-backup-vault-v2-dev in us-east-1 and
# us-east-2 (each encrypted with a KMS key of its region), the plan drpair-backup-plan-v2-dev
# backing up the primary cluster every hour, keeping recovery points 35 days and copying each
# to the DR vault (kept 35 days there), the selection, and the role AWS Backup assumes (the
# AWS-managed backup and restore policies only).
#
# resource_arns usually comes from the database: [drpair_global_database.main.primary.cluster_arn]

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

resource "drpair_backup_plan" "db" {
  resource_arns       = [var.primary_cluster_arn]
  schedule            = "cron(0 * * * ? *)" # AWS cron, UTC; at most hourly
  retention_days      = 35
  copy_retention_days = 35

  # Optional:
  # name_prefix       = "drpair"
  # continuous_backup = false  # true: PITR in the primary; the DR copies are snapshots
  # force_destroy     = false  # true: destroy deletes the vaults' recovery points
  # tags              = { Team = "payments-sre" }
  # timeouts          = { delete = "1h" }
}

output "backup_plan_id" {
  value = drpair_backup_plan.db.plan_id
}

output "dr_vault_arn" {
  value = drpair_backup_plan.db.dr.vault_arn
}
