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

variable "certificate_arns" {
  description = "The API's ACM certificate in each region (see examples/complete): the load balancers serve HTTPS. Required unless allow_plain_http is true."
  type = object({
    primary = string
    dr      = string
  })
  default = null
}

variable "allow_plain_http" {
  description = "Serve the API in plain HTTP without certificates: for development and the emulator only (see examples/complete)."
  type        = bool
  default     = false
}

variable "endpoint_url" {
  description = "Empty for real AWS; the emulator's URL (http://127.0.0.1:PORT) to run locally. The state backend's endpoint is given separately, at init."
  type        = string
  default     = ""
}
