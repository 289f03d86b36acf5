"""drpair's failover automation, run by AWS Lambda in the DR region.

Shipped inside the drpair Terraform provider and zipped at apply time (the Lambda runtime brings
boto3; nothing else is needed). Two handlers:

- ``drpair_failover.orchestrator.handler``: every minute (an EventBridge schedule) it GETs the
  primary's endpoint directly from the DR region and counts the result (one counted probe per
  MIN_PROBE_SPACING at most); a DR alarm's state change makes it look again at once, and counts
  for nothing else. When CONSECUTIVE_FAILURES counted probes in a row failed, it confirms the
  outage live, in the same invocation, right before it acts: the DR cluster's replication has
  stopped per the DR region's CloudWatch (no AuroraGlobalDBReplicationLag datapoint for 120 s, or
  the lag above LAG_THRESHOLD_MS for as long), and three more direct probes 5 s apart fail. Then,
  exactly once (a conditional write takes a lock in the DynamoDB state table), it fails the
  Aurora global database over to the DR cluster (never twice: not while the DR cluster writes or
  a failover to it is pending or under way), scales the DR Auto Scaling group to the primary's
  capacity while Aurora promotes, waits until the DR cluster writes and is available and the DR
  group runs its capacity (not for the global cluster, which stays failing-over until the old
  region recovers), publishes a JSON event to every topic (each once; a topic down with its
  region is told later) and records the timeline. Every step reads AWS before it acts and its
  progress is in the lock, so a failure part-way is resumed by the next invocation. Only DR-region
  APIs are used during the event; nothing in the state table, and no alarm state, can make it
  fail over without the live confirmation.
- ``drpair_failover.notifier.handler``: turns CloudWatch alarm state changes into readable
  messages for every topic.

Configuration comes from environment variables set by the provider (see ``config.py``).
"""
