data "drpair_replication_status" "now" {
  global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
  health_check_ids = [
    drpair_failover_dns.api.primary.health_check_id,
    drpair_failover_dns.api.dr.health_check_id,
  ]
}

output "writer_region" { value = data.drpair_replication_status.now.writer_region }
output "replication_lag_ms" { value = data.drpair_replication_status.now.replication_lag_ms }
output "replication_lag" { value = data.drpair_replication_status.now.replication_lag }
output "global_writer_endpoint" { value = data.drpair_replication_status.now.global_writer_endpoint }
output "health_check_status" {
  value = {
    primary = data.drpair_replication_status.now.primary.healthy
    dr      = data.drpair_replication_status.now.dr.healthy
  }
}
