"""Route 53: deleting a failover record deletes only that name's record set."""


def failover(name, role, target):
    return {
        "Name": name,
        "Type": "A",
        "SetIdentifier": role,
        "Failover": "PRIMARY" if role == "primary" else "SECONDARY",
        "AliasTarget": {"HostedZoneId": "Z35SXDOTRQ7X7K", "DNSName": target, "EvaluateTargetHealth": True},
    }


def test_delete_by_set_identifier_keeps_other_names(emulator, unique):
    r53 = emulator.client("route53")
    zone = r53.create_hosted_zone(Name=f"{unique}.example.com", CallerReference=unique)["HostedZone"]["Id"]
    sets = [failover(f"{name}.{unique}.example.com.", role, f"{role}.elb.amazonaws.com") for name in ("api", "www") for role in ("primary", "dr")]
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": s} for s in sets]})
    r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": s} for s in sets[:2]]})
    left = [(r["Name"], r["SetIdentifier"]) for r in r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"] if r["Type"] == "A"]
    assert sorted(left) == [(f"www.{unique}.example.com.", "dr"), (f"www.{unique}.example.com.", "primary")]
