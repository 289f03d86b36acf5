output "primary_endpoint_url" {
  description = "The payment API through the primary region's load balancer."
  value       = drpair_failover_dns.api.primary.endpoint_url
}

output "dr_endpoint_url" {
  description = "The payment API through the DR region's load balancer."
  value       = drpair_failover_dns.api.dr.endpoint_url
}

output "api_fqdn" {
  description = "The failover record clients use: the primary while healthy, the DR region otherwise."
  value       = drpair_failover_dns.api.fqdn
}

output "health_check_status" {
  value = {
    primary = data.drpair_replication_status.now.primary.healthy
    dr      = data.drpair_replication_status.now.dr.healthy
  }
}

output "replication_lag_ms" {
  description = "The secondary's latest AuroraGlobalDBReplicationLag (null until Aurora has published one; see replication_lag)."
  value       = data.drpair_replication_status.now.replication_lag_ms
}

output "rpo_lag_ms" {
  description = "The secondary's latest AuroraGlobalDBRPOLag: what an unplanned failover would lose."
  value       = data.drpair_replication_status.now.rpo_lag_ms
}

output "replication_lag" {
  description = "The lag in words, with when it was measured, or \"no datapoint yet\" while a new secondary has published none."
  value       = data.drpair_replication_status.now.replication_lag
}

output "global_writer_endpoint" {
  description = "The database connection string that survives failovers: Aurora points it at the current writer."
  value       = drpair_global_database.main.global_writer_endpoint
}

output "writer_region" {
  value = data.drpair_replication_status.now.writer_region
}

output "rto_budget_seconds" {
  description = "Worst-case recovery time of an automatic failover (the orchestrator's rto_budget.total_seconds), checked against the 300 s RTO at plan time."
  value       = drpair_failover_orchestrator.auto.rto_budget.total_seconds
}

output "rto_budget" {
  description = "The RTO budget stage by stage: detection (failed probes), confirmation, promotion and scale-up in parallel, and the DNS path; total = max(DNS, detection + confirmation + max(promotion, scale-up))."
  value       = drpair_failover_orchestrator.auto.rto_budget
}

output "database_secret_arn" {
  description = "Master credentials (the password itself is never in Terraform state)."
  value       = drpair_global_database.main.secret_arn
}

# Identifiers the outage drill of scripts/demo uses.
output "global_cluster_identifier" {
  value = drpair_global_database.main.global_cluster_identifier
}

output "zone_id" {
  value = drpair_failover_dns.api.zone_id
}

output "primary_health_check_id" {
  value = drpair_failover_dns.api.primary.health_check_id
}

output "dr_asg_name" {
  value = drpair_app_tier.web.dr.asg_name
}

output "orchestrator_function_name" {
  value = drpair_failover_orchestrator.auto.id
}
