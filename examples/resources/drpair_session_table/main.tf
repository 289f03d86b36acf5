# A DynamoDB global table for sessions: session-table-v2-dev in us-east-1 with its replica in
# us-east-2 (global tables 2019.11.21), on-demand, streams on, a KMS key per region, TTL and
# point-in-time recovery in both regions, and tags on the table and the replica alike.

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

resource "drpair_session_table" "sessions" {
  hash_key      = "session_id"
  ttl_attribute = "expires_at"

  # Optional:
  # hash_key_type          = "S"     # S, N or B
  # range_key              = "created_at"
  # range_key_type         = "N"
  # point_in_time_recovery = true
  # tags                   = { Team = "payments-sre" }
  # timeouts               = { create = "45m", delete = "45m" }
}

output "session_table_name" {
  value = drpair_session_table.sessions.name # "session-table-v2-dev"
}

output "session_table_stream_arns" {
  value = {
    primary = drpair_session_table.sessions.primary.stream_arn
    dr      = drpair_session_table.sessions.dr.stream_arn
  }
}
