# The import id is the global cluster identifier, global-db-cluster-{name_version}-{environment}.
# skip_final_snapshot and timeouts are not stored in AWS: after an import they take their
# defaults (false, and the default timeouts) until the next apply.
terraform import drpair_global_database.main global-db-cluster-v2-dev
