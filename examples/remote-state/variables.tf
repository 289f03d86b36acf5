variable "environment" {
  description = "Environment name: the Environment tag and part of database-related names ({name}-v2-{environment})."
  type        = string
  default     = "dev"
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

variable "deletion_protection" {
  description = "Protect the database from destroy (turn off, apply, then destroy to tear down)."
  type        = bool
  default     = false
}

variable "endpoint_url" {
  description = "Empty for real AWS; the emulator's URL (http://127.0.0.1:PORT) to run locally. The state backend's endpoint is given separately, at init."
  type        = string
  default     = ""
}
