"""The DR story of scripts/demo, against the emulator: an emulated outage of
the primary region, the automatic failover the orchestrator performs, and what
it changed (DNS answer, database writer, DR capacity, notifications).

    .venv/bin/python scripts/demo_outage.py ENDPOINT OUTPUTS_JSON

OUTPUTS_JSON is `terraform output -json` of examples/complete. Only the
emulator's documented controls (docs/EMULATOR.md) simulate the outage; the
orchestrator is the Lambda code drpair deployed, invoked as its EventBridge
schedule would invoke it.
"""

import json
import sys
import time
import urllib.request

import boto3

endpoint, outputs_path = sys.argv[1:3]
outputs = {k: v["value"] for k, v in json.load(open(outputs_path)).items()}
PRIMARY, DR = "us-east-1", "us-east-2"


def client(service, region):
    return boto3.client(service, region_name=region, endpoint_url=endpoint,
                        aws_access_key_id="demo", aws_secret_access_key="demo")


def control(path, body):
    req = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(),
                                 method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"{}")


def step(text):
    print(f"\n  -> {text}", flush=True)


def writer_region():
    g = client("rds", DR).describe_global_clusters(
        GlobalClusterIdentifier=outputs["global_cluster_identifier"])["GlobalClusters"][0]
    arn = next(m["DBClusterArn"] for m in g["GlobalClusterMembers"] if m.get("IsWriter"))
    return arn.split(":")[3]


def dns_answer():
    zone = outputs["zone_id"]
    fqdn = outputs["api_fqdn"].rstrip(".")
    ans = client("route53", PRIMARY).test_dns_answer(HostedZoneId=zone, RecordName=fqdn, RecordType="A")
    return ", ".join(ans.get("RecordData", [])) or ans.get("ResponseCode")


def dr_capacity():
    asg = client("autoscaling", DR).describe_auto_scaling_groups(
        AutoScalingGroupNames=[outputs["dr_asg_name"]])["AutoScalingGroups"][0]
    return f"min {asg['MinSize']}, desired {asg['DesiredCapacity']}, max {asg['MaxSize']}"


def probe(n):
    event = {"version": "0", "id": f"demo-probe-{n}-{time.time()}", "detail-type": "Scheduled Event",
             "source": "aws.events", "account": "123456789012", "region": DR,
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "resources": [], "detail": {}}
    out = client("lambda", DR).invoke(FunctionName=outputs["orchestrator_function_name"],
                                      Payload=json.dumps(event).encode())
    return json.loads(out["Payload"].read() or b"null")


print("Before the outage:")
print(f"    writer region     {writer_region()}")
print(f"    DNS answer        {dns_answer()}")
print(f"    DR capacity       {dr_capacity()}")

step("Emulated outage of us-east-1: the primary's Route 53 health check fails and its database stops answering")
control(f"/_drpair/health-checks/{outputs['primary_health_check_id']}", {"healthy": False})
control("/_drpair/faults", {"service": "rds", "region": PRIMARY, "error": "internal", "status": 503,
                            "code": "ServiceUnavailable", "message": "emulated regional outage"})
control(f"/_drpair/lambda/{DR}/{outputs['orchestrator_function_name']}", {"execute": True})

started = time.monotonic()
for n in range(1, 4):
    step(f"The orchestrator's scheduled probe {n} runs in {DR}")
    result = probe(n)
    print("     " + json.dumps(result)[:400])
    if writer_region() == DR:
        break

print(f"\nAfter the automatic failover ({time.monotonic() - started:.1f} s):")
print(f"    writer region     {writer_region()}")
print(f"    DNS answer        {dns_answer()}")
print(f"    DR capacity       {dr_capacity()}")

step("us-east-1 recovers: its health check passes again and its API answers")
control(f"/_drpair/health-checks/{outputs['primary_health_check_id']}", {"healthy": True})
urllib.request.urlopen(urllib.request.Request(endpoint + "/_drpair/faults", method="DELETE"))
