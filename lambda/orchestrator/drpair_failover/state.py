"""The orchestrator's state, in the DynamoDB table drpair creates beside it in the DR region.

Items (partition key ``pk``):

- ``probes``: the latest probes of the primary's health (``body``: JSON list, newest last), with
  a ``version`` for optimistic concurrency.
- ``lock``: the failover under way or done. Created with a conditional write, so exactly one
  invocation decides to fail over; ``status`` is ``in_progress`` or ``completed``; ``attempt``
  and ``owner`` fence every later write (an invocation whose lease expired and was taken over
  cannot write any more); ``lease_until`` (epoch seconds) tells others whether its holder is still
  at work (0: released after a failure, to be resumed at once). ``body`` (JSON) holds the
  decision, the steps with their progress and durations, the topics notified and the errors.
- ``timeline#{started_at}``: the record of each completed failover, kept after the lock is
  released for the next one.
"""

import json
import time
from dataclasses import dataclass, field

PROBES_KEY = "probes"
LOCK_KEY = "lock"
TIMELINE_PREFIX = "timeline#"
HISTORY_LENGTH = 20
CONTENTION_RETRIES = 10


class LostLock(Exception):
    """Another invocation took the lock over (this one's lease had expired)."""


@dataclass
class Lock:
    status: str
    attempt: int
    owner: str
    lease_until: float
    body: dict = field(default_factory=dict)

    def step(self, name):
        return next(s for s in self.body["steps"] if s["name"] == name)


def _conditional_failure(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Store:
    def __init__(self, cfg, clients):
        self.table = cfg.state_table
        self.ddb = clients.get("dynamodb")

    def _get(self, key):
        out = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        return out.get("Item")

    # --- probes --------------------------------------------------------------------------------

    def probes(self):
        item = self._get(PROBES_KEY)
        return json.loads(item["body"]["S"]) if item else []

    def record_probe(self, entry):
        """Appends a probe (once per event id: EventBridge may deliver an event twice) and returns
        the history, newest last."""
        for _ in range(CONTENTION_RETRIES):
            item = self._get(PROBES_KEY)
            version = int(item["version"]["N"]) if item else 0
            history = json.loads(item["body"]["S"]) if item else []
            if entry.get("event_id") and any(p.get("event_id") == entry["event_id"] for p in history):
                return history
            history = (history + [entry])[-HISTORY_LENGTH:]
            new = {
                "pk": {"S": PROBES_KEY},
                "version": {"N": str(version + 1)},
                "body": {"S": json.dumps(history)},
            }
            try:
                if item:
                    self.ddb.put_item(
                        TableName=self.table,
                        Item=new,
                        ConditionExpression="version = :v",
                        ExpressionAttributeValues={":v": {"N": str(version)}},
                    )
                else:
                    self.ddb.put_item(TableName=self.table, Item=new, ConditionExpression="attribute_not_exists(pk)")
                return history
            except Exception as exc:
                if not _conditional_failure(exc):
                    raise
            time.sleep(0.05)
        raise RuntimeError(f"could not record the probe in {self.table}: too many concurrent writers")

    # --- the lock ------------------------------------------------------------------------------

    def lock(self):
        item = self._get(LOCK_KEY)
        return self._lock(item) if item else None

    @staticmethod
    def _lock(item):
        return Lock(
            status=item["status"]["S"],
            attempt=int(item["attempt"]["N"]),
            owner=item["owner"]["S"],
            lease_until=float(item["lease_until"]["N"]),
            body=json.loads(item["body"]["S"]),
        )

    @staticmethod
    def _item(lock):
        return {
            "pk": {"S": LOCK_KEY},
            "status": {"S": lock.status},
            "attempt": {"N": str(lock.attempt)},
            "owner": {"S": lock.owner},
            "lease_until": {"N": repr(float(lock.lease_until))},
            "body": {"S": json.dumps(lock.body)},
        }

    def acquire(self, owner, body, lease_until):
        """Takes the lock for a new failover; None when another invocation holds it."""
        lock = Lock("in_progress", 1, owner, lease_until, body)
        try:
            self.ddb.put_item(TableName=self.table, Item=self._item(lock), ConditionExpression="attribute_not_exists(pk)")
        except Exception as exc:
            if _conditional_failure(exc):
                return None
            raise
        return lock

    def take_over(self, seen, owner, lease_until, now):
        """Resumes a failover whose holder failed or vanished; None when another invocation was
        quicker (or the holder is still at work)."""
        lock = Lock(seen.status, seen.attempt + 1, owner, lease_until, seen.body)
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=self._item(lock),
                ConditionExpression="#s = :in_progress AND attempt = :seen AND lease_until < :now",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": "in_progress"},
                    ":seen": {"N": str(seen.attempt)},
                    ":now": {"N": repr(float(now))},
                },
            )
        except Exception as exc:
            if _conditional_failure(exc):
                return None
            raise
        return lock

    def save(self, lock):
        """Writes the lock's progress, fenced by attempt and owner."""
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=self._item(lock),
                ConditionExpression="attempt = :a AND #o = :o",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":a": {"N": str(lock.attempt)}, ":o": {"S": lock.owner}},
            )
        except Exception as exc:
            if _conditional_failure(exc):
                raise LostLock(f"attempt {lock.attempt} of the failover lock was taken over") from exc
            raise

    def record_timeline(self, lock):
        key = TIMELINE_PREFIX + lock.body["started_at"]
        self.ddb.put_item(
            TableName=self.table,
            Item={"pk": {"S": key}, "body": {"S": json.dumps(lock.body)}},
        )

    def rearm(self, lock):
        """Releases a completed failover's lock, so the next outage can be acted on. False when
        the lock changed meanwhile."""
        try:
            self.ddb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": LOCK_KEY}},
                ConditionExpression="#s = :completed AND attempt = :a",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":completed": {"S": "completed"}, ":a": {"N": str(lock.attempt)}},
            )
        except Exception as exc:
            if _conditional_failure(exc):
                return False
            raise
        return True
