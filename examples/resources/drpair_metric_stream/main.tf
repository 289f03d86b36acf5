# The primary region's metrics, kept in the DR region: a CloudWatch metric stream
# drpair-metrics-v2-dev in us-east-1 (these namespaces only) into a Firehose stream of the same
# name, delivering to the bucket drpair-metrics-{account}-v2-dev in us-east-2 (SSE-KMS with a
# us-east-2 key, versioned, public access blocked, objects expiring after retention_days), with
# two IAM roles that name exactly the Firehose stream, the bucket and the key.

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

resource "drpair_metric_stream" "metrics" {
  namespaces    = ["AWS/RDS", "AWS/ApplicationELB", "AWS/DynamoDB", "AWS/Route53"]
  output_format = "json" # or opentelemetry0.7, opentelemetry1.0

  # Optional:
  # name_prefix    = "drpair"
  # retention_days = 90
  # tags           = { Team = "payments-sre" }
}

output "dr_bucket_name" {
  value = drpair_metric_stream.metrics.dr_bucket_name
}

output "stream_arn" {
  value = drpair_metric_stream.metrics.stream_arn
}
