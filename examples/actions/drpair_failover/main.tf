# terraform apply -invoke=action.drpair_failover.drill
action "drpair_failover" "drill" {
  config {
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "drill" # switchover to the DR region and back, timed
  }
}

# terraform apply -invoke=action.drpair_failover.failover   (the primary region is gone)
action "drpair_failover" "failover" {
  config {
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "failover"
    allow_data_loss           = true # unreplicated writes of the failed region are lost
  }
}

# terraform apply -invoke=action.drpair_failover.failback   (us-east-1 is healthy again)
action "drpair_failover" "failback" {
  config {
    global_cluster_identifier = drpair_global_database.main.global_cluster_identifier
    mode                      = "failback"
  }
}
