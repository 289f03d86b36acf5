# Failover automation in the DR region (us-east-2): every minute the orchestrator Lambda probes
# the primary's Route 53 health check from there; after `consecutive_failures` failed probes in
# a row, confirmed by the replication-lag alarm or an unreachable primary writer, it fails the
# Aurora global database over to the DR cluster exactly once, scales the DR Auto Scaling group
# up to `scale_to`, and publishes a JSON event (steps, durations, lag at failover) to every
# topic. The notifier Lambda turns DR alarm state changes into readable messages.
#
# The inputs usually come from the other drpair resources (see examples/complete):
#   global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
#   dr_cluster_identifier     = drpair_global_database.main.dr.cluster_identifier
#   primary_health_check_id   = drpair_failover_dns.api.primary.health_check_id
#   dr_asg_name               = drpair_app_tier.web.dr.asg_name
#   topic_arns                = [drpair_monitoring.alerts.primary.topic_arn, drpair_monitoring.alerts.dr.topic_arn]

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

variable "primary_health_check_id" {
  type        = string
  description = "The Route 53 health check of the primary region's endpoint."
}

resource "drpair_failover_orchestrator" "auto" {
  global_cluster_identifier = "global-db-cluster-v2-dev"
  dr_cluster_identifier     = "dr-db-cluster-v2-dev"
  primary_health_check_id   = var.primary_health_check_id
  dr_asg_name               = "payments-web-dev-dr"
  topic_arns = [
    "arn:aws:sns:us-east-1:123456789012:drpair-alerts-v2-dev",
    "arn:aws:sns:us-east-2:123456789012:drpair-alerts-v2-dev",
  ]
  mode = "automatic" # or "notify_only": detect and notify, an operator fails over

  # Optional:
  # consecutive_failures = 2          # probes in a row (one a minute) before the primary is judged down
  # alarm_name_prefix    = "drpair-"  # DR alarms named {prefix}*-v2-dev (drpair_monitoring's)
  scale_to = { min_size = 2, desired_capacity = 2 } # the primary's capacity
  # tags     = { Team = "payments-sre" }
  # timeouts = { create = "15m" }
}

output "orchestrator_function_arn" {
  value = drpair_failover_orchestrator.auto.orchestrator_function_arn
}

output "failover_state_table" {
  # Past failovers are kept there as timeline#{started_at} items.
  value = drpair_failover_orchestrator.auto.state_table_name # "failover-state-v2-dev"
}
