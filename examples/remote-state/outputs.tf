output "api_fqdn" {
  description = "The failover record clients use: the primary while healthy, the DR region otherwise."
  value       = module.dr.api_fqdn
}

output "primary_endpoint_url" {
  value = module.dr.primary_endpoint_url
}

output "dr_endpoint_url" {
  value = module.dr.dr_endpoint_url
}

output "writer_region" {
  value = module.dr.writer_region
}

output "rto_budget_seconds" {
  value = module.dr.rto_budget_seconds
}
