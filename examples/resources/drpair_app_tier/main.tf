# The application tier in both regions from one definition: per region an internet-facing ALB
# across the public subnets, a target group on app_port with the health check, and an Auto
# Scaling group in the private subnets attached to it. Both regions launch from an identical
# launch template (t3.medium, Amazon Linux 2023 from the region's public SSM parameter, IMDSv2
# required, encrypted root volume, a least-privilege instance profile); the fingerprint proves it.
# The load balancers serve HTTPS with an ACM certificate of each region and redirect HTTP to it;
# plain HTTP needs the explicit opt-out `allow_plain_http = true` (development only).

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

variable "certificate_arns" {
  description = "An issued ACM certificate for the API's name in each region (certificates are regional)."
  type = object({
    primary = string # arn:aws:acm:us-east-1:…
    dr      = string # arn:aws:acm:us-east-2:…
  })
}

resource "drpair_network" "main" {
  name    = "payments"
  primary = { cidr_block = "10.10.0.0/16" }
  dr      = { cidr_block = "10.20.0.0/16" }
}

resource "drpair_app_tier" "web" {
  name              = "payments-web"
  instance_type     = "t3.medium"
  min_size          = 2
  max_size          = 6
  desired_capacity  = 2 # identical in both regions
  app_port          = 8080
  health_check_path = "/health"
  user_data         = <<-EOT
    #!/bin/bash
    # Serve /health on the app port until the application is deployed.
    mkdir -p /srv/app && echo ok > /srv/app/health
    cd /srv/app && nohup python3 -m http.server 8080 >/var/log/app.log 2>&1 &
  EOT

  primary = {
    vpc_id             = drpair_network.main.primary.vpc_id
    public_subnet_ids  = drpair_network.main.primary.public_subnet_ids
    private_subnet_ids = drpair_network.main.primary.private_subnet_ids
    certificate_arn    = var.certificate_arns.primary # HTTPS on 443 (TLS 1.2+), 80 redirects
  }
  dr = {
    vpc_id             = drpair_network.main.dr.vpc_id
    public_subnet_ids  = drpair_network.main.dr.public_subnet_ids
    private_subnet_ids = drpair_network.main.dr.private_subnet_ids
    certificate_arn    = var.certificate_arns.dr # both regions or neither
  }

  # Production: AWS refuses to delete the load balancers until this is set back to false.
  deletion_protection = true

  # Optional:
  # allow_plain_http    = true    # instead of the certificates: plain HTTP on 80, unencrypted (development only)
  # dr_desired_capacity = 1       # run the DR region warm; the failover orchestrator scales it up
  # image_ssm_parameter = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
  # root_volume_size    = 20
  # instance_refresh    = true    # roll new template versions into running instances
  # tags                = { Team = "payments-web" }
  # timeouts            = { create = "45m", update = "45m", delete = "45m" }

  # Access logs of both load balancers: set primary.access_logs_bucket and dr.access_logs_bucket
  # (inside the primary/dr objects above) to a bucket of each region, and optionally
  #   access_logs_prefix = "payments/alb"  # not containing AWSLogs, no leading or trailing /
  # Each bucket must be in its load balancer's region with SSE-S3 (AES256) default encryption:
  # ALBs deliver no logs to SSE-KMS buckets, so drpair refuses them. Its bucket policy must let
  # Elastic Load Balancing write, or AWS refuses with "Access Denied for bucket":
  #   { "Effect": "Allow", "Action": "s3:PutObject",
  #     "Principal": { "AWS": "arn:aws:iam::127311923021:root" },   # us-east-1; us-east-2: 033677994240
  #     # or, in any region: "Principal": { "Service": "logdelivery.elasticloadbalancing.amazonaws.com" }
  #     "Resource": "arn:aws:s3:::BUCKET/payments/alb/AWSLogs/ACCOUNT_ID/*" }
  # https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html
}

output "load_balancers" {
  value = {
    primary = drpair_app_tier.web.primary.alb_dns_name
    dr      = drpair_app_tier.web.dr.alb_dns_name
  }
}

output "launch_template_fingerprint" {
  description = "One value: the launch templates of both regions are identical but for ids and the AMI."
  value       = drpair_app_tier.web.launch_template_fingerprint
}
