"""The emulator's modeled clock: AWS's timing on a clock that can run faster than real time.

A disaster-recovery tool is judged by how long things take: Route 53 needs
``RequestInterval × FailureThreshold`` seconds to call an endpoint unhealthy, an Aurora global
failover takes a minute or two, an instance boots before its target turns healthy. Every timed
behaviour of the emulator (asynchronous state transitions, Route 53 health checkers, EventBridge
schedules, CloudWatch alarm evaluation, Aurora's replication metrics, the time a Lambda function's
code sees) runs on this one clock, so a test can run a ten-minute outage in ten seconds and still
report what happened in modeled seconds.

- ``GET /_drpair/clock``: ``{"now": ISO-8601, "epoch": seconds, "speed": 60, "timing": "aws"}``.
- ``POST /_drpair/clock`` ``{"speed": 60}``: one real second is a modeled minute from now on
  (speed 0.01 to 3600). ``{"timing": "aws"}`` gives state transitions AWS's typical durations;
  ``{"timing": "instant"}`` (the default) completes them at once (one transitional read), which is
  what the acceptance tests of resources want. ``{"advance": 300}`` jumps the clock forward by
  that many modeled seconds, running every timer that falls due on the way, in order.

The modeled clock starts at the real time when the emulator starts and at speed 1. moto's own
timestamps (creation times and the like) stay real; everything this project's extensions time is
modeled.
"""

import datetime
import heapq
import itertools
import json
import threading
import time
import traceback

from .common import ControlError, control

TIMINGS = ("instant", "aws")
MIN_SPEED, MAX_SPEED = 0.01, 3600.0
# The ticker never sleeps longer than this (real seconds), so a speed change is taken up at once.
MAX_TICK = 0.2

_lock = threading.RLock()
_wake = threading.Condition(_lock)
_state = {"origin_real": time.time(), "origin_modeled": time.time(), "speed": 1.0, "timing": "instant"}
_timers = []  # heap of (due modeled epoch, seq, Timer)
_seq = itertools.count()
_ticker = None


class Timer:
    """A callback due at a modeled time; `period` makes it repeat."""

    def __init__(self, due, callback, name, period=None):
        self.due = due
        self.callback = callback
        self.name = name
        self.period = period
        self.cancelled = False

    def cancel(self):
        self.cancelled = True


def now():
    """The modeled time, as epoch seconds."""
    with _lock:
        return _state["origin_modeled"] + (time.time() - _state["origin_real"]) * _state["speed"]


def utcnow():
    """The modeled time as an aware UTC datetime."""
    return datetime.datetime.fromtimestamp(now(), tz=datetime.timezone.utc)


def iso(epoch=None):
    moment = datetime.datetime.fromtimestamp(now() if epoch is None else epoch, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def speed():
    with _lock:
        return _state["speed"]


def aws_timing():
    """Whether state transitions take AWS's typical durations (else they complete at once)."""
    with _lock:
        return _state["timing"] == "aws"


def duration(aws_seconds):
    """How long (modeled seconds) a transition whose typical AWS duration is `aws_seconds` takes."""
    return float(aws_seconds) if aws_timing() else 0.0


def real_seconds(modeled_seconds):
    """Real seconds that `modeled_seconds` take at the current speed."""
    return max(0.0, modeled_seconds) / speed()


def sleep(modeled_seconds):
    time.sleep(real_seconds(modeled_seconds))


def snapshot():
    """What a child process (a Lambda function's code) needs to follow the modeled clock."""
    with _lock:
        return {"origin_real": _state["origin_real"], "origin_modeled": _state["origin_modeled"], "speed": _state["speed"]}


def lambda_environment():
    return {"DRPAIR_CLOCK": json.dumps(snapshot())}


def _rebase_locked():
    t = _state["origin_modeled"] + (time.time() - _state["origin_real"]) * _state["speed"]
    _state["origin_real"], _state["origin_modeled"] = time.time(), t


def configure(speed=None, timing=None, advance=None):
    """Sets the speed and timing and/or jumps forward; returns the clock's view."""
    due = []
    with _lock:
        _rebase_locked()
        if speed is not None:
            _state["speed"] = float(speed)
        if timing is not None:
            _state["timing"] = timing
        if advance:
            target = _state["origin_modeled"] + advance
            # Timers due on the way run in order, each seeing the clock at its own due time.
            while _timers and _timers[0][0] <= target:
                due_at, _, timer = heapq.heappop(_timers)
                if timer.cancelled:
                    continue
                _state["origin_modeled"] = max(_state["origin_modeled"], due_at)
                _state["origin_real"] = time.time()
                due.append(timer)
                _reschedule_locked(timer)
                _lock.release()
                try:
                    _run(timer)
                finally:
                    _lock.acquire()
            _state["origin_modeled"], _state["origin_real"] = target, time.time()
        _wake.notify_all()
        return view()


def view():
    with _lock:
        t = now()
        return {"now": iso(t), "epoch": round(t, 3), "speed": _state["speed"], "timing": _state["timing"]}


def at(due, callback, name):
    """Runs `callback()` once at modeled time `due` (epoch seconds), on the ticker thread."""
    return _add(Timer(due, callback, name))


def after(delay, callback, name):
    return at(now() + max(0.0, delay), callback, name)


def every(period, callback, name, first=None):
    """Runs `callback()` every `period` modeled seconds, first at `first` (default: now + period)."""
    if period <= 0:
        raise ValueError("period must be positive")
    return _add(Timer(now() + period if first is None else first, callback, name, period))


def _add(timer):
    _ensure_ticker()
    with _lock:
        heapq.heappush(_timers, (timer.due, next(_seq), timer))
        _wake.notify_all()
    return timer


def _reschedule_locked(timer):
    if timer.period and not timer.cancelled:
        timer.due += timer.period
        heapq.heappush(_timers, (timer.due, next(_seq), timer))


def _run(timer):
    try:
        timer.callback()
    except Exception:  # a failing timer must not stop the clock
        print(f"emulator clock: timer {timer.name} failed:\n{traceback.format_exc()}", flush=True)


def _tick_forever():
    while True:
        with _lock:
            while _timers and _timers[0][2].cancelled:
                heapq.heappop(_timers)
            if not _timers:
                _wake.wait(MAX_TICK)
                continue
            wait = (_timers[0][0] - now()) / _state["speed"]
            if wait > 0:
                _wake.wait(min(wait, MAX_TICK))
                continue
            _, _, timer = heapq.heappop(_timers)
            _reschedule_locked(timer)
        _run(timer)


def _ensure_ticker():
    global _ticker
    with _lock:
        if _ticker is None:
            _ticker = threading.Thread(target=_tick_forever, name="drpair-clock", daemon=True)
            _ticker.start()


@control("GET", "/clock")
def get_clock(match, body, query):
    return 200, view()


@control("POST", "/clock")
def set_clock(match, body, query):
    if not isinstance(body, dict) or not body or set(body) - {"speed", "timing", "advance"}:
        raise ControlError(400, 'body must be a JSON object with "speed", "timing" and/or "advance"')
    new_speed, timing, advance = body.get("speed"), body.get("timing"), body.get("advance")
    if new_speed is not None and (
        not isinstance(new_speed, (int, float)) or isinstance(new_speed, bool) or not MIN_SPEED <= new_speed <= MAX_SPEED
    ):
        raise ControlError(400, f"'speed' must be a number from {MIN_SPEED} to {MAX_SPEED:.0f}")
    if timing is not None and timing not in TIMINGS:
        raise ControlError(400, f"'timing' must be one of {', '.join(TIMINGS)}")
    if advance is not None and (not isinstance(advance, (int, float)) or isinstance(advance, bool) or advance < 0):
        raise ControlError(400, "'advance' must be a number of modeled seconds >= 0")
    return 200, configure(new_speed, timing, advance)


def register(app):
    _ensure_ticker()
    return app
