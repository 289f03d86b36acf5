# The full two-region DR deployment, composed from drpair resources.
# Today it holds the network; the data, traffic, observability and failover
# tiers join it as they land.
#
#   endpoint_url = ""                        -> real AWS, standard credential chain
#   endpoint_url = "http://127.0.0.1:PORT"   -> the local emulator (scripts/emulator)

terraform {
  required_version = ">= 1.5"
  required_providers {
    drpair = {
      source = "drpair/drpair"
    }
  }
}

provider "drpair" {
  environment    = var.environment
  primary_region = var.primary_region
  dr_region      = var.dr_region
  default_tags   = var.default_tags
  endpoint_url   = var.endpoint_url == "" ? null : var.endpoint_url
}

resource "drpair_network" "main" {
  name     = var.name
  az_count = var.az_count
  primary  = { cidr_block = var.primary_cidr }
  dr       = { cidr_block = var.dr_cidr }
}
