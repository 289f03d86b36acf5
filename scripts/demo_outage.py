"""The DR story of scripts/demo, against the emulator: an outage of the primary region on the
emulator's modeled clock (AWS's timing, 30 modeled seconds per real second), the automatic
failover that the deployed orchestrator performs on its own EventBridge schedule, what it
changed (DNS answer, database writer, DR capacity), and the recovery of the region.

    .venv/bin/python scripts/demo_outage.py ENDPOINT SHOW_JSON

SHOW_JSON is `terraform show -json` of examples/complete. Only the emulator's documented
controls (docs/EMULATOR.md) make the outage; nothing invokes the orchestrator by hand. The
measured game day, with payments, a brownout and forged signals, is scripts/gameday.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gameday  # noqa: E402

SPEED = 30

endpoint, show_path = sys.argv[1:3]
with open(show_path) as handle:
    shown = json.load(handle)
resources = {r["address"]: r["values"] for r in shown.get("values", {}).get("root_module", {}).get("resources", [])}
emulator = gameday.Emulator.attach(endpoint)
stack = gameday.Stack(resources)


def status(title):
    region, cluster_status, global_status = gameday.writer(emulator, stack)
    answer = gameday.dns_answer(emulator, stack)
    in_service, healthy, desired = gameday.dr_capacity(emulator, stack)
    print(title)
    print(f"    writer region     {region} (global cluster {global_status})")
    print(f"    DNS answer        {', '.join(answer.get('answer', [])) or answer.get('rcode')}")
    print(f"    DR capacity       desired {desired}, {in_service} in service, {healthy} healthy targets")


status("Before the outage:")
timeline = []
print(f"\n  -> AWS's timing on the modeled clock ({SPEED} modeled seconds per real second); the orchestrator probes every modeled minute")
gameday.steady_state(emulator, stack, timeline)
emulator.set_clock(speed=SPEED)
print("  -> us-east-1 goes down right after a scheduled probe: its APIs, load balancers and database replication")
t0, figures = gameday.outage(emulator, stack, SPEED, timeline, None)
gameday.print_timeline(timeline, figures)
status(f"After the automatic failover (RTO {figures['rto_seconds']:.0f} modeled seconds, {figures['failovers']} FailoverGlobalCluster call):")
print("\n  -> us-east-1 recovers; Aurora rebuilds the old primary as a secondary")
gameday.recovery(emulator, stack, None, timeline)
emulator.set_clock(timing="instant", speed=1)
status("After the recovery:")
