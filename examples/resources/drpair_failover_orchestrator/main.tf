# Failover automation in the DR region (us-east-2): every minute the orchestrator Lambda probes
# the primary's endpoint directly from there (no Route 53 API, no primary-region API); after
# `consecutive_failures` failed probes in a row it confirms with live probes and with the DR
# region's own view of replication (stopped), fails the Aurora global database over to the DR
# cluster exactly once, scales the DR Auto Scaling group up to `scale_to` in parallel with the
# promotion, and publishes a JSON event (steps, durations) to every topic. The notifier Lambda
# turns DR alarm state changes into readable messages.
#
# `rto_budget` is known at plan time; the plan fails when its total exceeds rto_target_seconds:
#   detection 2 x 60 = 120 s + confirmation 10 s + max(promotion 60 s, scale-up 60 + 10 x 3 = 90 s)
#   = 220 s, against DNS 10 x 3 + 60 = 90 s: total 220 s.
#
# The inputs usually come from the other drpair resources (see examples/complete):
#   global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
#   dr_cluster_identifier     = drpair_global_database.main.dr.cluster_identifier
#   primary_health_check_id   = drpair_failover_dns.api.primary.health_check_id
#   dr_asg_name               = drpair_app_tier.web.dr.asg_name
#   topic_arns                = [drpair_monitoring.alerts.primary.topic_arn, drpair_monitoring.alerts.dr.topic_arn]
#   dns_failover_seconds      = drpair_failover_dns.api.dns_failover_seconds

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
  # consecutive_failures         = 2         # failed probes in a row (one a minute) before it confirms and acts
  # replication_lag_threshold_ms = 1000      # lag that, held for the stall window, counts as stopped replication
  # alarm_name_prefix            = "drpair-" # DR alarms named {prefix}*-v2-dev (drpair_monitoring's)
  # rto_target_seconds           = 300       # the plan fails when rto_budget.total_seconds exceeds it
  # dns_failover_seconds         = 90        # drpair_failover_dns's dns_failover_seconds
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

output "rto_budget" {
  # { detection_seconds = 120, confirmation_seconds = 10, promotion_seconds = 60,
  #   scale_up_seconds = 90, dns_seconds = 90, total_seconds = 220 }
  value = drpair_failover_orchestrator.auto.rto_budget
}
