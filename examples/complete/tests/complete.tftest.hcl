# terraform test for examples/complete. Against the emulator (with certificates requested from
# its ACM; tests/it/complete_acc.rs does this):
#   terraform test -var endpoint_url=http://127.0.0.1:PORT -var 'certificate_arns={ primary = "arn:aws:acm:us-east-1:…", dr = "arn:aws:acm:us-east-2:…" }'
# Against AWS (creates and destroys real resources, costs money; issued certificates for
# api.<zone_name> in both regions):
#   terraform test -var 'certificate_arns={ primary = "…", dr = "…" }'

run "deploy" {
  command = apply

  assert {
    condition     = length(drpair_network.main.primary.private_subnet_ids) == var.az_count && length(drpair_network.main.dr.private_subnet_ids) == var.az_count
    error_message = "Each region must have one private subnet per availability zone."
  }

  assert {
    condition     = drpair_global_database.main.primary.cluster_identifier == "primary-db-cluster-v2-${var.environment}" && drpair_global_database.main.dr.cluster_identifier == "dr-db-cluster-v2-${var.environment}"
    error_message = "Database clusters must follow the {name}-v2-{environment} naming scheme."
  }

  assert {
    condition     = drpair_session_table.sessions.name == "session-table-v2-${var.environment}"
    error_message = "The session table must be named session-table-v2-{environment}."
  }

  assert {
    condition     = output.writer_region == var.primary_region
    error_message = "The primary region must be the writer after a fresh deployment."
  }

  assert {
    condition     = drpair_failover_dns.api.rto_budget_seconds <= 300
    error_message = "The DNS failover timing must fit the 5-minute RTO."
  }

  assert {
    condition     = output.rto_budget_seconds <= var.rto_target_seconds && output.rto_budget.total_seconds == max(output.rto_budget.dns_seconds, output.rto_budget.detection_seconds + output.rto_budget.confirmation_seconds + max(output.rto_budget.promotion_seconds, output.rto_budget.scale_up_seconds))
    error_message = "The orchestrator's RTO budget must fit the 5-minute RTO and add up."
  }

  assert {
    condition     = output.primary_endpoint_url != output.dr_endpoint_url
    error_message = "Each region must have its own endpoint."
  }

  assert {
    condition     = var.certificate_arns == null ? var.allow_plain_http : (startswith(output.primary_endpoint_url, "https://") && startswith(output.dr_endpoint_url, "https://") && drpair_app_tier.web.primary.certificate_arn == var.certificate_arns.primary && drpair_app_tier.web.dr.certificate_arn == var.certificate_arns.dr)
    error_message = "With certificates the API and its health checks must be HTTPS in both regions."
  }

  assert {
    condition     = startswith(output.global_writer_endpoint, "global-db-cluster-v2-${var.environment}.global-")
    error_message = "The global writer endpoint must be the global database's."
  }

  assert {
    condition     = output.replication_lag != ""
    error_message = "The replication lag must say something: a value with its measurement time, or \"no datapoint yet\"."
  }
}

run "plan_is_stable" {
  command = plan

  assert {
    condition     = length(drpair_network.main.drift) == 0 && length(drpair_global_database.main.drift) == 0
    error_message = "A plan right after apply must find nothing to repair."
  }
}
