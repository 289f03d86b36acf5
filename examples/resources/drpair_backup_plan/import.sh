# The import id is the plan name, {name_prefix}-backup-plan-{name_version}-{environment}.
terraform import drpair_backup_plan.db drpair-backup-plan-v2-dev
