"""The orchestrator's state, in the DynamoDB table drpair creates beside it in the DR region.

Items (partition key ``pk``):

- ``probes``: the latest counted probes of the primary's endpoint (``body``: JSON list, newest
  last). A probe is counted only when it comes from the schedule and at least MIN_PROBE_SPACING
  after the previous counted one. Anyone allowed to write the table can write this item, so it is
  a hint: a streak of failures in it only makes the orchestrator confirm live.
- ``lock``: the failover under way or done. Created with a conditional write, so exactly one
  invocation decides to fail over; ``status`` is ``in_progress`` or ``completed``; ``attempt``
  and ``owner`` fence every later write (an invocation whose lease expired and was taken over
  cannot write any more); ``lease_until`` (epoch seconds) tells others whether its holder is still
  at work (0: released after a failure, to be resumed at once; a lease further away than any
  invocation can run is not believed). ``body`` (JSON) holds the decision, the steps with their
  progress and durations, the topics notified and the errors. What the lock says is never
  evidence of an outage or of a failover: the steps read AWS, and FailoverGlobalCluster is called
  only after a live confirmation in the same invocation.
- ``timeline#{started_at}``: the record of each completed failover, kept after the lock is
  released for the next one.
- ``abandoned#{at}``: a lock given up because the live confirmation did not confirm the outage
  (or an item that was not a lock), kept for the record.
"""

import json
import time
import uuid
from dataclasses import dataclass, field

PROBES_KEY = "probes"
LOCK_KEY = "lock"
TIMELINE_PREFIX = "timeline#"
ABANDONED_PREFIX = "abandoned#"
HISTORY_LENGTH = 20
CONTENTION_RETRIES = 10
LOCK_STATUSES = ("in_progress", "completed")
# Probes stamped later than now (clock skew allowance): not believed.
FUTURE_SKEW_SECONDS = 5


class LostLock(Exception):
    """Another invocation took the lock over (this one's lease had expired)."""


class MalformedLock(Exception):
    """The lock item is not one the orchestrator wrote (a hand-written or damaged item)."""

    def __init__(self, item, why):
        super().__init__(why)
        self.item = item


@dataclass
class Lock:
    status: str
    attempt: int
    owner: str
    lease_until: float
    body: dict = field(default_factory=dict)

    def step(self, name):
        return next(s for s in self.body["steps"] if s["name"] == name)


def _fenced(lock):
    """The condition that a write is still this holder's: the attempt and owner it took."""
    return {
        "ConditionExpression": "attempt = :a AND #o = :o",
        "ExpressionAttributeNames": {"#o": "owner"},
        "ExpressionAttributeValues": {":a": {"N": str(lock.attempt)}, ":o": {"S": lock.owner}},
    }


def _conditional_failure(exc):
    return getattr(exc, "response", {}).get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _history(item):
    if not item or "S" not in item.get("body", {}):
        return []
    try:
        history = json.loads(item["body"]["S"])
    except ValueError:
        return []
    return history if isinstance(history, list) else []


def clean_history(history, now):
    """The entries that look like probes, oldest first; none stamped in the future."""
    clean = []
    for probe in history:
        if not isinstance(probe, dict) or not isinstance(probe.get("healthy"), (bool, type(None))):
            continue
        epoch = probe.get("epoch")
        if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or epoch > now + FUTURE_SKEW_SECONDS:
            continue
        clean.append(probe)
    clean.sort(key=lambda p: p["epoch"])
    return clean


class Store:
    def __init__(self, cfg, clients):
        self.table = cfg.state_table
        self.ddb = clients.get("dynamodb")

    def _get(self, key):
        out = self.ddb.get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)
        return out.get("Item")

    # --- probes --------------------------------------------------------------------------------

    def probes(self, now=None):
        item = self._get(PROBES_KEY)
        return clean_history(_history(item), time.time() if now is None else now)

    def record_probe(self, entry, now, min_spacing):
        """Appends a counted probe: once per event id (EventBridge may deliver an event twice),
        and only when at least `min_spacing` seconds after the newest counted one. Returns
        (history newest last, whether this probe was counted)."""
        for _ in range(CONTENTION_RETRIES):
            item = self._get(PROBES_KEY)
            history = clean_history(_history(item), now)
            if entry.get("event_id") and any(p.get("event_id") == entry["event_id"] for p in history):
                return history, False
            if history and entry["epoch"] - history[-1]["epoch"] < min_spacing:
                return history, False
            history = (history + [entry])[-HISTORY_LENGTH:]
            new = {"pk": {"S": PROBES_KEY}, "body": {"S": json.dumps(history)}}
            try:
                if item is None:
                    self.ddb.put_item(TableName=self.table, Item=new, ConditionExpression="attribute_not_exists(pk)")
                elif "body" in item:
                    # Optimistic concurrency on the body itself: whatever wrote it.
                    self.ddb.put_item(
                        TableName=self.table,
                        Item=new,
                        ConditionExpression="body = :seen",
                        ExpressionAttributeValues={":seen": item["body"]},
                    )
                else:
                    self.ddb.put_item(TableName=self.table, Item=new, ConditionExpression="attribute_exists(pk) AND attribute_not_exists(body)")
                return history, True
            except Exception as exc:
                if not _conditional_failure(exc):
                    raise
            time.sleep(0.05)
        raise RuntimeError(f"could not record the probe in {self.table}: too many concurrent writers")

    # --- the lock ------------------------------------------------------------------------------

    def lock(self):
        """The lock, None, or MalformedLock when the item is not one this code wrote."""
        item = self._get(LOCK_KEY)
        return self._lock(item) if item else None

    @staticmethod
    def _lock(item):
        try:
            lock = Lock(
                status=item["status"]["S"],
                attempt=int(item["attempt"]["N"]),
                owner=item["owner"]["S"],
                lease_until=float(item["lease_until"]["N"]),
                body=json.loads(item["body"]["S"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedLock(item, f"the lock item lacks or mangles {exc}") from None
        if lock.status not in LOCK_STATUSES or not isinstance(lock.body, dict):
            raise MalformedLock(item, f"the lock item's status is {lock.status!r}")
        return lock

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

    def take_over(self, seen, owner, lease_until, now, lease_cap):
        """Takes a lock whose holder failed or vanished (lease over, or further away than any
        invocation runs: `lease_cap`): to resume a failover, or to tell the topics a completed one
        did not reach. None when another invocation was quicker (or the holder is at work)."""
        lock = Lock(seen.status, seen.attempt + 1, owner, lease_until, seen.body)
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=self._item(lock),
                ConditionExpression="#s = :seen_status AND attempt = :seen AND (lease_until < :now OR lease_until > :cap)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":seen_status": {"S": seen.status},
                    ":seen": {"N": str(seen.attempt)},
                    ":now": {"N": repr(float(now))},
                    ":cap": {"N": repr(float(lease_cap))},
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
                **_fenced(lock),
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

    def abandon(self, lock, reason, at):
        """Gives up a lock this invocation holds (fenced), keeping it for the record."""
        try:
            self.ddb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": LOCK_KEY}},
                **_fenced(lock),
            )
        except Exception as exc:
            if _conditional_failure(exc):
                raise LostLock(f"attempt {lock.attempt} of the failover lock was taken over") from exc
            raise
        record = {"reason": reason, "lock": {"status": lock.status, "attempt": lock.attempt, "body": lock.body}}
        self._archive(at, record)

    def clear_malformed(self, item, why, at):
        """Deletes a lock item this code did not write, if it is still exactly that item."""
        names, values, conditions = {}, {}, []
        for i, (key, value) in enumerate(sorted(item.items())):
            names[f"#k{i}"] = key
            values[f":v{i}"] = value
            conditions.append(f"#k{i} = :v{i}")
        for j, key in enumerate(k for k in ("status", "attempt", "owner", "lease_until", "body") if k not in item):
            names[f"#m{j}"] = key
            conditions.append(f"attribute_not_exists(#m{j})")
        try:
            self.ddb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": LOCK_KEY}},
                ConditionExpression=" AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if _conditional_failure(exc):
                return False
            raise
        self._archive(at, {"reason": why, "item": {k: v for k, v in item.items() if k != "pk"}})
        return True

    def _archive(self, at, record):
        self.ddb.put_item(
            TableName=self.table,
            Item={"pk": {"S": f"{ABANDONED_PREFIX}{at}#{uuid.uuid4().hex[:8]}"}, "body": {"S": json.dumps(record, default=str)}},
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
