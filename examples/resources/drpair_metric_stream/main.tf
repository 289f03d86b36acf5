# Each region's metrics, kept in the other region: in us-east-1 and in us-east-2 a CloudWatch
# metric stream drpair-metrics-v2-dev (these namespaces only) into a Firehose stream of the same
# name, delivering to a bucket in the other region: drpair-metrics-{account}-v2-dev in us-east-2
# (us-east-1's metrics) and drpair-dr-metrics-{account}-v2-dev in us-east-1 (us-east-2's), each
# SSE-KMS with its region's key through an S3 Bucket Key, versioned, public access blocked,
# objects expiring after retention_days. Per direction two IAM roles that name exactly the
# Firehose stream, the bucket and the key.

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
  value = drpair_metric_stream.metrics.dr_bucket_name # us-east-1's metrics, in us-east-2
}

output "primary_bucket_name" {
  value = drpair_metric_stream.metrics.primary.bucket_name # us-east-2's metrics, in us-east-1
}

output "stream_arn" {
  value = drpair_metric_stream.metrics.stream_arn
}
