output "rto_breakdown" {
  # 2 failed probes, Route 53 10 s checks x 3 failures + 60 s TTL = 90 s DNS:
  # detection 120 + confirmation 10 + max(promotion 60, scale-up 90) = 220 s total
  value = provider::drpair::rto_breakdown(2, 90)
}
