output "dr_cluster_name" {
  value = provider::drpair::dr_name("dr-db-cluster", "dev") # "dr-db-cluster-v2-dev"
}
