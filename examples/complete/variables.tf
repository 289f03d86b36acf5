variable "environment" {
  description = "Environment name: the Environment tag and part of database-related names ({name}-v2-{environment})."
  type        = string
  default     = "dev"
}

variable "name" {
  description = "Name of the payment system's stack, used in Name tags."
  type        = string
  default     = "payments"
}

variable "primary_region" {
  type    = string
  default = "us-east-1"
}

variable "dr_region" {
  type    = string
  default = "us-east-2"
}

variable "primary_cidr" {
  description = "CIDR block of the primary VPC; must not overlap dr_cidr."
  type        = string
  default     = "10.10.0.0/16"
}

variable "dr_cidr" {
  description = "CIDR block of the DR VPC."
  type        = string
  default     = "10.20.0.0/16"
}

variable "az_count" {
  description = "Availability zones per region."
  type        = number
  default     = 3
}

variable "default_tags" {
  description = "Tags on every AWS object."
  type        = map(string)
  default     = { CostCenter = "payments" }
}

variable "db_instance_class" {
  type    = string
  default = "db.r6g.large"
}

variable "deletion_protection" {
  description = "Protect the database from destroy (turn off, apply, then destroy to tear down)."
  type        = bool
  default     = false
}

variable "min_size" {
  type    = number
  default = 2
}

variable "max_size" {
  type    = number
  default = 6
}

variable "desired_capacity" {
  type    = number
  default = 2
}

variable "dr_desired_capacity" {
  description = "Instances kept running in the DR region before a failover (warm standby)."
  type        = number
  default     = 1
}

variable "certificate_arns" {
  description = "The API's ACM certificate in each region (certificates are regional), valid for api.<zone_name>: the load balancers serve HTTPS on 443 (TLS 1.2+) and redirect HTTP to it, and the health checks use HTTPS. Required unless allow_plain_http is true."
  type = object({
    primary = string
    dr      = string
  })
  default = null
}

variable "allow_plain_http" {
  description = "Serve the payment API in plain HTTP, without certificates: card data and credentials would cross the internet unencrypted. For development and the emulator only (its endpoints speak plain HTTP to the failover orchestrator's probes); cannot be combined with certificate_arns."
  type        = bool
  default     = false
}

variable "zone_name" {
  description = "Route 53 hosted zone created for the API."
  type        = string
  default     = "payments.example.com"
}

variable "alert_emails" {
  description = "Who is told about failovers and replication alarms."
  type        = list(string)
  default     = ["oncall@example.com"]
}

variable "failover_mode" {
  description = "automatic: the orchestrator fails over by itself; notify_only: it only alerts."
  type        = string
  default     = "automatic"
}

variable "endpoint_url" {
  description = "Empty for real AWS; the emulator's URL (http://127.0.0.1:PORT) to run locally."
  type        = string
  default     = ""
}

variable "rto_target_seconds" {
  description = "Recovery time objective of the payment system (5 minutes): the plan fails when the DNS failover or the orchestrator's RTO budget exceeds it."
  type        = number
  default     = 300
}

variable "replication_lag_threshold_ms" {
  description = "Replication lag above which the DR region alarms, and above which (held for the stall window) the orchestrator counts replication as stopped."
  type        = number
  default     = 1000
}
