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

variable "endpoint_url" {
  description = "Empty for real AWS; the emulator's URL (http://127.0.0.1:PORT) to run locally."
  type        = string
  default     = ""
}
