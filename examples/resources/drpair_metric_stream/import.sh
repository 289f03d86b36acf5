# The import id is the metric stream's name, {name_prefix}-metrics-{name_version}-{environment}.
terraform import drpair_metric_stream.metrics drpair-metrics-v2-dev
