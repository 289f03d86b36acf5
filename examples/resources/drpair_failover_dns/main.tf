# Route 53 failover between the regions' load balancers, sized to the RTO: a public hosted zone,
# a health check per region and PRIMARY/SECONDARY alias records. Failover happens by health
# status alone (no record is edited), so it works while us-east-1, where Route 53's control
# plane lives, is down. Plan fails if the health check timing cannot meet rto_target_seconds:
# 10 s × 3 checks + 60 s alias TTL + 120 s DR promotion = 210 s <= 300 s.

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

variable "primary_alb_dns_name" { type = string }
variable "primary_alb_zone_id" { type = string }
variable "dr_alb_dns_name" { type = string }
variable "dr_alb_zone_id" { type = string }

resource "drpair_failover_dns" "api" {
  zone_name   = "payments.example.com" # creates the zone; or zone_id = "Z0123456789ABC" (an existing one)
  record_name = "api"

  # Usually drpair_app_tier.web.primary.alb_dns_name / .alb_zone_id, and the same for dr.
  primary = { alb_dns_name = var.primary_alb_dns_name, alb_zone_id = var.primary_alb_zone_id }
  dr      = { alb_dns_name = var.dr_alb_dns_name, alb_zone_id = var.dr_alb_zone_id }

  health_check = {
    protocol          = "HTTP" # or HTTPS (with port = 443)
    port              = 80
    path              = "/health"
    request_interval  = 10 # or 30
    failure_threshold = 3  # 1-10
  }
  rto_target_seconds = 300

  # tags = { Team = "payments-sre" }
}

output "name_servers" {
  description = "Delegate payments.example.com to these at the registrar."
  value       = drpair_failover_dns.api.name_servers
}

output "rto_budget_seconds" {
  value = drpair_failover_dns.api.rto_budget_seconds # 210
}

output "dns_failover_seconds" {
  # Detection 10 s x 3 + 60 s alias TTL: give it to drpair_failover_orchestrator's
  # dns_failover_seconds, whose rto_budget adds the database promotion and the DR scale-up.
  value = drpair_failover_dns.api.dns_failover_seconds # 90
}

output "endpoint_urls" {
  value = {
    primary = drpair_failover_dns.api.primary.endpoint_url
    dr      = drpair_failover_dns.api.dr.endpoint_url
  }
}
