# The full two-region DR deployment of the payment system, composed from
# drpair resources: us-east-1 serves, us-east-2 stands by and takes over
# automatically (RPO < 1 minute, RTO < 5 minutes).
#
#   endpoint_url = ""                        -> real AWS, standard credential chain
#   endpoint_url = "http://127.0.0.1:PORT"   -> the local emulator (scripts/emulator)
#
# The payment API is served over HTTPS: give certificate_arns (an ACM certificate for
# api.<zone_name> in each region). Without them the plan fails, unless allow_plain_http = true
# says out loud that the API may go over the internet unencrypted (development, the emulator's
# game day).

terraform {
  required_version = ">= 1.14"
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

# 1. Networks in both regions, 3 AZs each, peered.
resource "drpair_network" "main" {
  name     = var.name
  az_count = var.az_count
  primary  = { cidr_block = var.primary_cidr }
  dr       = { cidr_block = var.dr_cidr }
}

# 2. Aurora PostgreSQL 14 global database; credentials in Secrets Manager, KMS everywhere.
resource "drpair_global_database" "main" {
  engine_version      = "14.9"
  database_name       = "payments"
  master_username     = "payments_admin"
  instance_class      = var.db_instance_class
  # PostgreSQL only from the app tier's instances (and, across the peering, the other region's
  # database subnets); TLS is forced.
  primary = {
    subnet_ids                = drpair_network.main.primary.private_subnet_ids
    instance_count            = 2
    client_security_group_ids = [drpair_app_tier.web.primary.instance_security_group_id]
  }
  dr = {
    subnet_ids                = drpair_network.main.dr.private_subnet_ids
    instance_count            = 1
    client_security_group_ids = [drpair_app_tier.web.dr.instance_security_group_id]
  }
  rpo_target_seconds  = 60
  deletion_protection = var.deletion_protection
  skip_final_snapshot = !var.deletion_protection
}

# 3. DynamoDB global table for sessions.
resource "drpair_session_table" "sessions" {
  hash_key      = "session_id"
  ttl_attribute = "expires_at"
}

# 4 and 5. Identical Auto Scaling groups behind an ALB in each region.
resource "drpair_app_tier" "web" {
  name                = "${var.name}-web"
  instance_type       = "t3.medium"
  min_size            = var.min_size
  max_size            = var.max_size
  desired_capacity    = var.desired_capacity
  dr_desired_capacity = var.dr_desired_capacity # warm standby, scaled up on failover
  app_port          = 8080
  health_check_path = "/health"
  # HTTPS on 443 with these certificates (HTTP on 80 redirects to it); plain HTTP only when
  # allow_plain_http says so, and never both (the provider refuses either mistake at plan).
  allow_plain_http = var.allow_plain_http
  primary = {
    vpc_id             = drpair_network.main.primary.vpc_id
    public_subnet_ids  = drpair_network.main.primary.public_subnet_ids
    private_subnet_ids = drpair_network.main.primary.private_subnet_ids
    certificate_arn    = local.https ? var.certificate_arns.primary : null
  }
  dr = {
    vpc_id             = drpair_network.main.dr.vpc_id
    public_subnet_ids  = drpair_network.main.dr.public_subnet_ids
    private_subnet_ids = drpair_network.main.dr.private_subnet_ids
    certificate_arn    = local.https ? var.certificate_arns.dr : null
  }
}

locals {
  https = var.certificate_arns != null
}

# 6. Route 53 zone, health checks and failover records.
resource "drpair_failover_dns" "api" {
  zone_name   = var.zone_name
  record_name = "api"
  primary     = { alb_dns_name = drpair_app_tier.web.primary.alb_dns_name, alb_zone_id = drpair_app_tier.web.primary.alb_zone_id }
  dr          = { alb_dns_name = drpair_app_tier.web.dr.alb_dns_name, alb_zone_id = drpair_app_tier.web.dr.alb_zone_id }
  # The check goes where clients go: HTTPS on 443 when the API serves HTTPS (port 80 only
  # redirects, which Route 53 counts as healthy whatever the targets).
  health_check = {
    protocol          = local.https ? "HTTPS" : "HTTP"
    port              = local.https ? 443 : 80
    path              = "/health"
    request_interval  = 10
    failure_threshold = 3
  }
  rto_target_seconds = var.rto_target_seconds
}

# 7. CloudWatch metrics of each region streamed to the other (whichever region writes).
resource "drpair_metric_stream" "metrics" {
  namespaces    = ["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB", "AWS/Route53"]
  output_format = "json"
}

# 8. Aurora backups in both regions, each copied to the other: whichever region writes is
#    backed up.
resource "drpair_backup_plan" "db" {
  resource_arns       = [drpair_global_database.main.primary.cluster_arn]
  dr_resource_arns    = [drpair_global_database.main.dr.cluster_arn]
  schedule            = "cron(0 * * * ? *)"
  retention_days      = 35
  copy_retention_days = 35
}

# 9 and 11. SNS topics in both regions and the DR alarms.
resource "drpair_monitoring" "alerts" {
  email_addresses              = var.alert_emails
  global_cluster_identifier    = drpair_global_database.main.global_cluster_identifier
  health_check_ids             = [drpair_failover_dns.api.primary.health_check_id]
  session_table_name           = drpair_session_table.sessions.name
  replication_lag_threshold_ms = var.replication_lag_threshold_ms
}

# 10. Failover automation in the DR region.
resource "drpair_failover_orchestrator" "auto" {
  global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
  dr_cluster_identifier     = drpair_global_database.main.dr.cluster_identifier
  primary_health_check_id   = drpair_failover_dns.api.primary.health_check_id
  dr_asg_name               = drpair_app_tier.web.dr.asg_name
  topic_arns                = [drpair_monitoring.alerts.primary.topic_arn, drpair_monitoring.alerts.dr.topic_arn]
  mode                      = var.failover_mode
  # The orchestrator's own probe of the primary verifies the certificate against the API's name
  # (the load balancer's own DNS name is not on it).
  primary_endpoint_tls_name = local.https ? drpair_failover_dns.api.fqdn : null
  # On failover the DR group takes over the primary's full load.
  scale_to = { min_size = var.min_size, desired_capacity = var.desired_capacity }
  # The RTO budget (rto_budget) weighs the DNS path against detection, confirmation, the
  # database promotion and the DR scale-up; the plan fails when it exceeds the target.
  rto_target_seconds           = var.rto_target_seconds
  dns_failover_seconds         = drpair_failover_dns.api.dns_failover_seconds
  replication_lag_threshold_ms = var.replication_lag_threshold_ms
}

# 12. Live status for the outputs.
data "drpair_replication_status" "now" {
  global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
  health_check_ids          = [drpair_failover_dns.api.primary.health_check_id, drpair_failover_dns.api.dr.health_check_id]
}

# Operator actions: terraform apply -invoke=action.drpair_failover.<name>
action "drpair_failover" "drill" {
  config {
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "drill"
  }
}

action "drpair_failover" "failback" {
  config {
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "failback"
  }
}
