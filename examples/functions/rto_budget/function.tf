output "rto_budget" {
  # 10 s checks x 3 failures + 60 s alias TTL + 120 s promotion = 210 s
  value = provider::drpair::rto_budget(10, 3, 60, 120)
}
