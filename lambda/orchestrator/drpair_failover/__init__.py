"""drpair's failover automation, run by AWS Lambda in the DR region.

Shipped inside the drpair Terraform provider and zipped at apply time (the Lambda runtime brings
boto3; nothing else is needed). Two handlers:

- ``drpair_failover.orchestrator.handler``: probes the primary region's health every minute (an
  EventBridge schedule) and re-evaluates on every DR alarm state change. When the primary is judged
  down (its Route 53 health check failed for CONSECUTIVE_FAILURES probes in a row, confirmed by a
  second signal: a replication-lag alarm in ALARM or the primary writer unreachable) it takes a
  lock in the DynamoDB state table, fails the Aurora global database over to the DR cluster,
  waits until that cluster writes, scales the DR Auto Scaling group up, publishes a JSON event to
  every topic and records the timeline. Every step is idempotent and its progress is in the lock,
  so a failure part-way is resumed by the next invocation, and the failover happens once.
- ``drpair_failover.notifier.handler``: turns CloudWatch alarm state changes into readable
  messages for every topic.

Configuration comes from environment variables set by the provider (see ``config.py``).
"""
