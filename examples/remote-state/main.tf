# The complete two-region DR stack (examples/complete, used as a module) with its state in S3,
# shared by a team: every plan and apply takes the state lock, a lock file next to the state
# written with an S3 conditional write (use_lockfile, Terraform >= 1.10). No DynamoDB table.
#
#   terraform init -backend-config="bucket=YOUR-STATE-BUCKET"                # real AWS
#   terraform init -backend-config=emulator.s3.tfbackend                     # the local emulator
#
# See README.md for the bucket, the permissions and the emulator's backend settings.

terraform {
  # examples/complete needs >= 1.14 (actions); the S3 lock file needs >= 1.10.
  required_version = ">= 1.14"

  backend "s3" {
    # Partial configuration: the bucket (and, for the emulator, its endpoint and skip_* flags)
    # are given to `terraform init -backend-config=...`, so this block stays the one real AWS
    # uses.
    key = "drpair/payments/terraform.tfstate"
    # The state lives in the DR region: during an outage of the primary region the team can
    # still plan, apply and run the failover actions.
    region       = "us-east-2"
    encrypt      = true
    use_lockfile = true # <key>.tflock, created with If-None-Match: *, deleted on unlock
  }
}

module "dr" {
  source = "../complete"

  environment         = var.environment
  zone_name           = var.zone_name
  alert_emails        = var.alert_emails
  deletion_protection = var.deletion_protection
  certificate_arns    = var.certificate_arns
  allow_plain_http    = var.allow_plain_http
  endpoint_url        = var.endpoint_url
}
