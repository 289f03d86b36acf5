# The import id is the topic name, {name_prefix}-alerts-{name_version}-{environment}.
terraform import drpair_monitoring.alerts drpair-alerts-v2-dev
