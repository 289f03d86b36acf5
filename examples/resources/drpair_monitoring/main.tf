# SNS topics in both regions (drpair-alerts-v2-dev, each encrypted with a KMS key of its region
# and publishable by CloudWatch alarms and EventBridge rules of this account) and the alarms of
# the DR stack, each notifying the topic of its own region on ALARM and on OK:
#   us-east-2 (DR): Aurora replication lag > replication_lag_threshold_ms, RPO lag, DR cluster
#                   availability; DynamoDB replication latency back towards the primary;
#   us-east-1:      Route 53 HealthCheckStatus < 1 per health check (Route 53 publishes these
#                   metrics only in us-east-1); DynamoDB replication latency towards the DR region.
# Email subscriptions stay pending until each recipient confirms the mail AWS sends.
#
# The inputs usually come from the other drpair resources (see examples/complete):
#   global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
#   health_check_ids          = [drpair_failover_dns.api.primary.health_check_id]
#   session_table_name        = drpair_session_table.sessions.name

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

variable "health_check_id" {
  type        = string
  description = "The Route 53 health check of the primary region's endpoint."
}

resource "drpair_monitoring" "alerts" {
  email_addresses              = ["oncall@example.com"]
  global_cluster_identifier    = "global-db-cluster-v2-dev"
  health_check_ids             = [var.health_check_id]
  session_table_name           = "session-table-v2-dev"
  replication_lag_threshold_ms = 1000

  # Optional:
  # name_prefix                              = "drpair"  # names start with it
  # dr_cluster_identifier                    = "dr-db-cluster-v2-dev"
  # rpo_lag_threshold_ms                     = 60000
  # session_replication_latency_threshold_ms = 1000
  # subscriptions = [
  #   { protocol = "https", endpoint = "https://hooks.example.com/alerts" },
  #   { protocol = "sqs", endpoint = "arn:aws:sqs:us-east-2:123456789012:dr-alerts" },
  # ]
  # tags = { Team = "payments-sre" }
}

output "alarm_names" {
  value = drpair_monitoring.alerts.alarm_names
}

output "topic_arns" {
  value = {
    primary = drpair_monitoring.alerts.primary.topic_arn
    dr      = drpair_monitoring.alerts.dr.topic_arn
  }
}
