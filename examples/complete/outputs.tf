output "primary_vpc_id" {
  value = drpair_network.main.primary.vpc_id
}

output "dr_vpc_id" {
  value = drpair_network.main.dr.vpc_id
}

output "peering_connection_id" {
  value = drpair_network.main.peering_connection_id
}

output "network_drift" {
  description = "Parts of the network found broken outside Terraform (empty when healthy)."
  value       = drpair_network.main.drift
}
