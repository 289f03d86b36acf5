# The import id is the metric streams' name (the same in both regions),
# {name_prefix}-metrics-{name_version}-{environment}.
terraform import drpair_metric_stream.metrics drpair-metrics-v2-dev
