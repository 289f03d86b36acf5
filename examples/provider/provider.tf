provider "drpair" {
  environment    = "dev"       # names ({name}-v2-dev) and the Environment tag
  primary_region = "us-east-1" # default
  dr_region      = "us-east-2" # default
  default_tags   = { CostCenter = "payments" }
  # endpoint_url = "http://127.0.0.1:4566"  # a local AWS emulator instead of AWS
}
