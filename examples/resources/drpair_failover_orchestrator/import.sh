# The import id is the orchestrator function's name, failover-orchestrator-{name_version}-{environment}.
# The inputs are read back from the function's environment; timeouts are not stored in AWS and
# take their defaults until the next apply.
terraform import drpair_failover_orchestrator.auto failover-orchestrator-v2-dev
