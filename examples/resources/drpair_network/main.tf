resource "drpair_network" "main" {
  name    = "payments"
  primary = { cidr_block = "10.10.0.0/16" }
  dr      = { cidr_block = "10.20.0.0/16" }
  # az_count = 3
  tags = { Team = "payments-platform" }
}

output "primary_private_subnets" {
  value = drpair_network.main.primary.private_subnet_ids
}
