# The import id is the record's name (the zone is the public zone that holds it), or
# {zone_id}/{name} to pick the zone.
terraform import drpair_failover_dns.api api.payments.example.com
