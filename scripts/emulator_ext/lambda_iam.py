"""Lambda without Docker: functions run their deployed Python code on the modeled clock;
AWS-managed IAM policies.

moto runs here with ``lambda.use_docker = False`` (scripts/emulator.py), so CreateFunction stores
the function and moto alone would run nothing. This module makes Invoke run it, as Lambda does
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-invocation.html):

- A Python function's deployment package is unpacked and ``module.handler(event, context)`` runs
  in a worker process (the emulator's own interpreter, whatever the declared ``python3.x``), with
  the function's environment variables, ``AWS_REGION``/``AWS_DEFAULT_REGION``,
  ``AWS_LAMBDA_FUNCTION_NAME``/``_MEMORY_SIZE``/``_VERSION``, ``LAMBDA_TASK_ROOT``, fake
  credentials, ``AWS_ENDPOINT_URL`` pointing at this emulator, ``HTTP_PROXY``/``http_proxy`` =
  the emulator (so an HTTP GET of a load balancer's DNS name reaches the emulator, which answers
  as that endpoint: ``endpoints.py``) and ``NO_PROXY``/``no_proxy`` = ``127.0.0.1,localhost``.
  Workers are reused between invocations of the same function version and configuration, as Lambda
  reuses execution environments (module-level state survives; "Understanding the Lambda execution
  environment lifecycle": https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html).
  A spare worker with boto3 already imported waits for the next cold start, and the workers share
  botocore's service-model cache between sessions: the emulator's own start-up costs are not
  AWS's and would be magnified by the clock's speed.
- The code follows the modeled clock (``clock.py``): before the handler's module is imported the
  worker replaces ``time.time``/``time_ns``/``monotonic``/``perf_counter``/``sleep``/``gmtime``/
  ``localtime``/``strftime`` and ``datetime.datetime.now``/``utcnow``/``today`` and
  ``datetime.date.today`` with modeled ones (``DRPAIR_CLOCK``; speed changes and jumps reach a
  running function). ``time.sleep(5)`` at speed 60 lasts 1/12 of a real second. ``threading`` and
  socket timeouts stay real.
- The function's ``Timeout`` is modeled: past it (modeled seconds from the start of the
  invocation) the worker is killed and the invocation fails with ``Sandbox.Timedout`` ("Task timed
  out after 3.00 seconds"); ``context.get_remaining_time_in_millis()`` counts down on the modeled
  clock. Errors raised by the handler answer ``X-Amz-Function-Error: Unhandled`` with
  ``{"errorMessage", "errorType", "requestId", "stackTrace"}``; an import failure is
  ``Runtime.ImportModuleError``, a missing handler ``Runtime.HandlerNotFound``, a result that is
  not JSON ``Runtime.MarshalError``, a process that exits ``Runtime.ExitError``. Other runtimes
  cannot be executed (``Runtime.InvalidEntrypoint``). ``LogType=Tail`` returns the last 4 KB of the
  invocation's log (``START``/``END``/``REPORT`` lines and what the code printed).
- ``InvocationType=Event`` answers 202 at once and runs the function in a background thread; a
  function error (timeouts included) is retried twice, one modeled minute and then two modeled
  minutes later, or ``MaximumRetryAttempts`` of PutFunctionEventInvokeConfig times ("How Lambda
  handles errors and retries with asynchronous invocation":
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html). Its payload
  is at most 256 KB (``RequestEntityTooLargeException``, 413; "Lambda quotas"). ``DryRun`` runs
  nothing (204).
- Every invocation is recorded on the event log as ``lambda.invoke`` (``timeline.py``):
  ``function``, ``region``, ``trigger`` (``invoke`` for the Invoke API, ``schedule`` for an
  EventBridge scheduled rule, ``event`` for an EventBridge event pattern rule), ``invocation_type``,
  ``rule`` (EventBridge), ``attempt``, ``request_id``, ``started``/``ended`` (modeled epoch),
  ``duration``, ``outcome`` (``ok``, ``error``, ``timeout``), ``error_type`` and ``summary``
  (the start of the result).

What Invoke does can be overridden per function (tests of failure paths):

- ``POST /_drpair/lambda/{region}/{FunctionName}`` ``{"payload": <JSON>}`` answers that payload
  without running the code; ``{"error": {"errorType": "...", "errorMessage": "..."}}`` answers a
  function error (``X-Amz-Function-Error: Unhandled``, the object as payload; asynchronous
  invocations are retried as for any function error); ``{}`` (or ``{"execute": true}``) goes back
  to the default: run the code.
- ``GET`` on the same path returns the setting, the events of the last 100 invocations
  (``Invocations``) and their outcomes (``Runs``: request id, trigger, modeled start and end,
  outcome, log lines).
- An unknown function is ``ResourceNotFoundException`` on Invoke (moto) and 404 on the control.

Other extensions call ``invoke_async(region, function_name_or_arn, event, trigger, **fields)``
(EventBridge targets) and ``run(fn, event, region, trigger, **fields)``.

AWS-managed IAM policies (``arn:aws:iam::aws:policy/...``) are loaded at start
(``MOTO_IAM_LOAD_MANAGED_POLICIES``/``iam.load_aws_managed_policies``), so attaching e.g.
``service-role/AWSBackupServiceRolePolicyForBackup`` works as on AWS.

The execution role must have propagated (``iam_propagation.py``; IAM User Guide, "Changes that I
make are not always immediately visible"): CreateFunction, and UpdateFunctionConfiguration with a
``Role``, answer ``InvalidParameterValueException`` "The role defined for the function cannot be
assumed by Lambda." while the role's creation or trust policy is still propagating (AWS's answer,
which terraform-provider-aws retries in ``internal/service/lambda/function.go``). The refusal is
recorded (``iam_propagation.refused``).

Lambda's log groups ("Sending Lambda function logs to CloudWatch Logs",
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html, and "Configuring
CloudWatch log groups",
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html: "By default,
CloudWatch automatically creates a log group named /aws/lambda/<function name> for your function
when it's first invoked"; "Working with Lambda function logs",
https://docs.aws.amazon.com/lambda/latest/dg/monitoring-logs.html: "As long as your function's
execution role has the necessary permissions, Lambda captures logs ... and sends them to
Amazon CloudWatch Logs"): every invocation creates ``/aws/lambda/{FunctionName}`` when it is
missing, as Lambda creates it, with no tags, no retention (never expires) and no KMS key, provided
the execution role's policies allow ``logs:CreateLogGroup`` on the group
(``arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{FunctionName}``); then the invocation's
log lines go to a new stream ``YYYY/MM/DD/[$LATEST]{id}`` when the role allows
``logs:CreateLogStream`` and ``logs:PutLogEvents`` on it and the group's KMS key (if any) still lets
CloudWatch Logs encrypt. What is not delivered is recorded as ``lambda.logs.dropped`` (with the
reason); a group Lambda created as ``lambda.logs.group_created``. The role's policies are evaluated
by ``iam_policy.py``.

CloudWatch Logs and KMS ("Encrypt log data in CloudWatch Logs using AWS Key Management Service",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html): moto stores a
log group's ``kmsKeyId`` without looking at the key and has no AssociateKmsKey. Here CreateLogGroup
with ``kmsKeyId`` and AssociateKmsKey (added, with DisassociateKmsKey) check the key as CloudWatch
Logs does: a key that does not exist in the region is ``InvalidParameterException`` "The specified
KMS Key Id could not be found." (API reference: "If you attempt to associate a KMS key with the log
group but the KMS key does not exist or the KMS key is disabled, you receive an
InvalidParameterException error"; the wording as AWS answered it in hashicorp/terraform#24194), a
disabled or not symmetric key ``InvalidParameterException`` too; a key whose key policy does not
allow the service principal ``logs.{region}.amazonaws.com`` both ``kms:GenerateDataKey`` and
``kms:Decrypt`` with the encryption context ``kms:EncryptionContext:aws:logs:arn`` = the group's ARN
(``arn:aws:logs:{region}:{account}:log-group:{name}``; the user guide's step 2 and its
"encryption context" section) is ``AccessDeniedException`` "The specified KMS key does not exist or
is not allowed to be used with Arn 'arn:aws:logs:...:log-group:NAME'" (AWS's answer,
hashicorp/terraform-provider-aws#29282 for CreateLogGroup, ministryofjustice/modernisation-platform#7870
for AssociateKmsKey). AssociateKmsKey on a missing group is ``ResourceNotFoundException``.
PutRetentionPolicy accepts only CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120,
150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653: the ``Days`` shape of the
API reference, API_PutRetentionPolicy) and answers ``InvalidParameterException`` otherwise.
DeleteLogGroup removes the group's tags with it (moto kept them for a later group of the same
name).
"""

import base64
import io
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zipfile
from dataclasses import dataclass, field

from . import clock, iam_policy, iam_propagation, timeline
from .common import ControlError, control, moto_account

MAX_EVENTS = 100
ASYNC_PAYLOAD_LIMIT = 256 * 1024
# Lambda's asynchronous retries: waits (modeled seconds) before the 2nd and 3rd attempts.
ASYNC_RETRY_DELAYS = (60, 120)
DEFAULT_RETRY_ATTEMPTS = 2
# The emulator's process management (real seconds; not AWS behaviour).
INIT_REAL_LIMIT = 60.0
IDLE_REAL_SECONDS = 300.0
MAX_IDLE_PER_FUNCTION = 2
MAX_IDLE_TOTAL = 6
LOG_TAIL_BYTES = 4096
LOG_LINES_KEPT = 200
# Services whose models the spare worker loads before a function needs them.
WARM_SERVICES = ("sts", "dynamodb", "rds", "cloudwatch", "autoscaling", "sns", "elbv2", "route53", "lambda", "events", "ec2")

# The worker process: follows the modeled clock, imports the handler once, runs invocations.
# Protocol (JSON lines): in {"clock": snapshot} | {"init": {...}} | {"invoke": {...}};
# out {"ready": true} | {"init_error": {...}} | {"ok": "<json>"} | {"error": {...}}.
RUNTIME = r'''
import datetime as _datetime, importlib, json, os, queue, sys, threading, traceback
import time as _time

_proto = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # what the code prints goes to the log (stderr), not the protocol
_clock = json.loads(os.environ["DRPAIR_CLOCK"])
_real_time, _real_sleep = _time.time, _time.sleep
_real_gmtime, _real_localtime, _real_strftime = _time.gmtime, _time.localtime, _time.strftime


def _now():
    c = _clock
    return c["origin_modeled"] + (_real_time() - c["origin_real"]) * c["speed"]


_boot = _now()


def _monotonic():
    return _now() - _boot + 1000.0


def _sleep(seconds):
    seconds = float(seconds)
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    target = _now() + seconds
    while True:
        left = target - _now()
        if left <= 0:
            return
        _real_sleep(min(left / _clock["speed"], 0.05))


_time.time = _now
_time.time_ns = lambda: int(_now() * 1e9)
_time.monotonic = _monotonic
_time.monotonic_ns = lambda: int(_monotonic() * 1e9)
_time.perf_counter = _monotonic
_time.perf_counter_ns = lambda: int(_monotonic() * 1e9)
_time.sleep = _sleep
_time.gmtime = lambda secs=None: _real_gmtime(_now() if secs is None else secs)
_time.localtime = lambda secs=None: _real_localtime(_now() if secs is None else secs)
_time.strftime = lambda fmt, t=None: _real_strftime(fmt, _time.localtime() if t is None else t)
_time.ctime = lambda secs=None: _time.asctime(_time.localtime(secs))

_RealDatetime, _RealDate = _datetime.datetime, _datetime.date


class _DatetimeType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _RealDatetime)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, _RealDatetime)


class _DateType(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, _RealDate)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, _RealDate)


class datetime(_RealDatetime, metaclass=_DatetimeType):
    @classmethod
    def now(cls, tz=None):
        return _RealDatetime.fromtimestamp(_now(), tz)

    @classmethod
    def utcnow(cls):
        return _RealDatetime.fromtimestamp(_now(), _datetime.timezone.utc).replace(tzinfo=None)

    @classmethod
    def today(cls):
        return _RealDatetime.fromtimestamp(_now())


class date(_RealDate, metaclass=_DateType):
    @classmethod
    def today(cls):
        return _RealDate.fromtimestamp(_now())


_datetime.datetime, _datetime.date = datetime, date

try:  # what the Lambda runtime brings, imported before any function needs it
    import boto3
    import botocore.session

    _loaders = {}
    _create_loader = botocore.session.create_loader

    def _shared_loader(search_paths_envvar=None):
        if search_paths_envvar not in _loaders:
            _loaders[search_paths_envvar] = _create_loader(search_paths_envvar)
        return _loaders[search_paths_envvar]

    botocore.session.create_loader = _shared_loader
    _warm = botocore.session.get_session()
    for _service in sys.argv[1].split(","):
        try:
            _warm.get_service_model(_service)
        except Exception:
            pass
except ImportError:
    pass

_inbox = queue.Queue()


def _read():
    global _clock
    for line in sys.stdin:
        message = json.loads(line)
        if "clock" in message:
            _clock = message["clock"]
        else:
            _inbox.put(message)
    os._exit(0)


threading.Thread(target=_read, daemon=True).start()


def _send(message):
    _proto.write(json.dumps(message) + "\n")
    _proto.flush()


def _end_of_log(request_id):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os.write(2, ("\x00END " + request_id + "\n").encode())


class _Context:
    def __init__(self, spec):
        self.function_name = spec["name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec["arn"]
        self.memory_limit_in_mb = spec["memory"]
        self.aws_request_id = spec["request_id"]
        self.log_group_name = "/aws/lambda/" + spec["name"]
        self.log_stream_name = spec["log_stream"]
        self.identity = None
        self.client_context = None
        self._deadline = spec["deadline"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - _now()) * 1000))


init = _inbox.get()["init"]
os.environ.update(init["env"])
os.chdir(init["code_dir"])
sys.path.insert(0, init["code_dir"])
try:
    _module = importlib.import_module(init["module"])
except SyntaxError as exc:
    _send({"init_error": {"errorMessage": f"Syntax error in module '{init['module']}': {exc}", "errorType": "Runtime.UserCodeSyntaxError"}})
    sys.exit(0)
except Exception as exc:
    _send({"init_error": {"errorMessage": f"Unable to import module '{init['module']}': {exc}", "errorType": "Runtime.ImportModuleError"}})
    sys.exit(0)
_handler = getattr(_module, init["handler"], None)
if not callable(_handler):
    _send({"init_error": {"errorMessage": f"Handler '{init['handler']}' missing on module '{init['module']}'", "errorType": "Runtime.HandlerNotFound"}})
    sys.exit(0)
_send({"ready": True})

while True:
    spec = _inbox.get()["invoke"]
    try:
        result = _handler(spec["event"], _Context(spec))
    except Exception as exc:
        _end_of_log(spec["request_id"])
        _send({"error": {"errorMessage": str(exc), "errorType": type(exc).__name__, "requestId": spec["request_id"],
                         "stackTrace": traceback.format_tb(exc.__traceback__.tb_next)}})
        continue
    _end_of_log(spec["request_id"])
    try:
        payload = json.dumps(result)
    except (TypeError, ValueError) as exc:
        _send({"error": {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError", "requestId": spec["request_id"]}})
        continue
    _send({"ok": payload})
'''


@dataclass
class Outcome:
    """What an invocation produced: the response payload and how it ended."""

    payload: bytes
    errored: bool
    kind: str  # ok, error, timeout
    logs: list = field(default_factory=list)


def _error_payload(error_type, message, request_id=None):
    error = {"errorMessage": message, "errorType": error_type}
    if request_id:
        error["requestId"] = request_id
    return json.dumps(error).encode()


# --- worker processes ------------------------------------------------------------------------


class Worker:
    """One execution environment: a child Python process that may run many invocations."""

    def __init__(self):
        self.key = None
        self.arn = None
        self.code_dir = None
        self.busy = False
        self.last_used = time.time()
        self.log = []
        self.log_done = threading.Event()
        self._messages = queue.Queue()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            **clock.lambda_environment(),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-c", RUNTIME, ",".join(WARM_SERVICES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tempfile.gettempdir(),
        )
        threading.Thread(target=self._read_protocol, name="drpair-lambda-out", daemon=True).start()
        threading.Thread(target=self._read_log, name="drpair-lambda-log", daemon=True).start()

    def _read_protocol(self):
        try:
            for line in self.proc.stdout:
                try:
                    self._messages.put(json.loads(line))
                except ValueError:
                    continue
        except (OSError, ValueError):  # the pipe was closed by kill()
            pass
        self._messages.put(None)  # the process ended

    def _read_log(self):
        try:
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith("\x00END "):
                    self.log_done.set()
                    continue
                log = self.log
                log.append(line)
                del log[:-LOG_LINES_KEPT]
        except (OSError, ValueError):
            pass

    def send(self, message):
        try:
            self.proc.stdin.write((json.dumps(message) + "\n").encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def receive(self, timeout):
        """The next message; False when none came within `timeout` real seconds; None at exit."""
        try:
            return self._messages.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return False

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        if self.code_dir:
            shutil.rmtree(self.code_dir, ignore_errors=True)
            self.code_dir = None


_pool_lock = threading.Lock()
_idle = []  # idle initialised workers
_spares = []  # started workers waiting for a function
_reaper = {"thread": None}


def _config_key(fn):
    env = json.dumps(fn.environment_vars or {}, sort_keys=True)
    return (fn.function_arn, fn.code_sha_256, fn.handler, str(fn.timeout), str(fn.memory_size), env, str(fn.last_modified), fn.run_time)


_starting = {"count": 0}


def _replenish():
    """Starts a spare worker (boto3 imported, no function yet) unless one waits or starts."""
    with _pool_lock:
        _spares[:] = [w for w in _spares if w.alive()]
        if _spares or _starting["count"]:
            return
        _starting["count"] += 1
    try:
        worker = Worker()
    finally:
        with _pool_lock:
            _starting["count"] -= 1
    with _pool_lock:
        _spares.append(worker)


def _replenish_async():
    threading.Thread(target=_replenish, name="drpair-lambda-spare", daemon=True).start()


def _acquire(fn, region):
    """An initialised idle worker for the function, or a new one: (worker, init error payload)."""
    key = _config_key(fn)
    stale = []
    with _pool_lock:
        worker = None
        for candidate in list(_idle):
            if candidate.arn == fn.function_arn and candidate.key != key:
                _idle.remove(candidate)
                stale.append(candidate)
            elif worker is None and candidate.key == key:
                _idle.remove(candidate)
                if candidate.alive():
                    worker = candidate
                else:
                    stale.append(candidate)
        if worker is not None:
            worker.busy = True
    for old in stale:
        old.kill()
    if worker is not None:
        return worker, None
    with _pool_lock:
        spare = [w for w in _spares if w.alive()]
        worker = spare[0] if spare else None
        if worker is not None:
            _spares.remove(worker)
    if worker is None:
        worker = Worker()
    _replenish_async()
    worker.busy = True
    error = _initialise(worker, fn, region, key)
    if error is not None:
        worker.kill()
        return None, error
    return worker, None


def _initialise(worker, fn, region, key):
    module_name, _, handler_name = (fn.handler or "").rpartition(".")
    worker.code_dir = tempfile.mkdtemp(prefix="drpair-lambda-")
    try:
        zipfile.ZipFile(io.BytesIO(fn.code_bytes)).extractall(worker.code_dir)
    except (zipfile.BadZipFile, ValueError):
        return _error_payload("Runtime.InvalidZip", "The deployment package is not a zip file")
    port = os.environ.get("MOTO_PORT", "5000")
    emulator = f"http://127.0.0.1:{port}"
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{fn.function_name}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
            "LAMBDA_TASK_ROOT": worker.code_dir,
            "AWS_ENDPOINT_URL": emulator,
            "HTTP_PROXY": emulator,
            "http_proxy": emulator,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    init = {"env": env, "code_dir": worker.code_dir, "module": module_name.replace("/", "."), "handler": handler_name}
    if not worker.send({"clock": clock.snapshot()}) or not worker.send({"init": init}):
        return _error_payload("Runtime.ExitError", "Runtime exited before the function was loaded")
    answer = worker.receive(INIT_REAL_LIMIT)
    if not answer:
        tail = "\n".join(worker.log[-20:])
        return _error_payload("Runtime.ExitError", f"Runtime exited while loading the function: {tail}"[:2000])
    if "init_error" in answer:
        return json.dumps(answer["init_error"]).encode()
    worker.key, worker.arn = key, fn.function_arn
    return None


def _release(worker):
    worker.busy = False
    worker.last_used = time.time()
    surplus = []
    with _pool_lock:
        _idle.append(worker)
        same = [w for w in _idle if w.key == worker.key]
        surplus += same[:-MAX_IDLE_PER_FUNCTION]
        rest = [w for w in _idle if w not in surplus]
        surplus += rest[: max(0, len(rest) - MAX_IDLE_TOTAL)]
        for w in surplus:
            _idle.remove(w)
    for w in surplus:
        w.kill()
    _ensure_reaper()


def _ensure_reaper():
    def reap():
        while True:
            time.sleep(10)
            now = time.time()
            with _pool_lock:
                old = [w for w in _idle if now - w.last_used > IDLE_REAL_SECONDS or not w.alive()]
                for w in old:
                    _idle.remove(w)
            for w in old:
                w.kill()

    with _pool_lock:
        if _reaper["thread"] is None:
            _reaper["thread"] = threading.Thread(target=reap, name="drpair-lambda-reaper", daemon=True)
            _reaper["thread"].start()


def _log_tail(lines):
    text = "\n".join(lines) + "\n"
    data = text.encode("utf-8", "replace")[-LOG_TAIL_BYTES:]
    return base64.b64encode(data).decode()


def execute(fn, event, region, request_id=None):
    """Runs a Python function's handler on a worker: an Outcome."""
    request_id = request_id or str(uuid.uuid4())
    if not str(fn.run_time or "").startswith("python") or not getattr(fn, "code_bytes", b""):
        message = f"Runtime {fn.run_time} cannot be executed by the drpair emulator"
        return Outcome(_error_payload("Runtime.InvalidEntrypoint", message, request_id), True, "error")
    worker, init_error = _acquire(fn, region)
    if worker is None:
        return Outcome(init_error, True, "error")
    timeout = float(fn.timeout or 3)
    start = clock.now()
    deadline = start + timeout
    worker.log = [f"START RequestId: {request_id} Version: $LATEST"]
    worker.log_done.clear()
    spec = {
        "event": event,
        "request_id": request_id,
        "deadline": deadline,
        "arn": fn.function_arn,
        "name": fn.function_name,
        "memory": int(fn.memory_size or 128),
        "log_stream": time.strftime("%Y/%m/%d", time.gmtime(start)) + "/[$LATEST]" + uuid.uuid4().hex,
    }
    snapshot = clock.snapshot()
    if not worker.send({"clock": snapshot}) or not worker.send({"invoke": spec}):
        worker.kill()
        return Outcome(_error_payload("Runtime.ExitError", "Runtime exited with an error", request_id), True, "error", worker.log)
    while True:
        left = deadline - clock.now()
        if left <= 0:
            worker.kill()
            logs = worker.log + [f"{clock.iso()} {request_id} Task timed out after {timeout:.2f} seconds"]
            message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
            return Outcome(_error_payload("Sandbox.Timedout", message), True, "timeout", logs)
        answer = worker.receive(min(0.05, max(clock.real_seconds(left), 0.001)))
        if answer is None:
            worker.kill()
            message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {worker.proc.returncode}"
            return Outcome(_error_payload("Runtime.ExitError", message), True, "error", worker.log)
        if answer:
            break
        current = clock.snapshot()
        if current != snapshot:
            snapshot = current
            worker.send({"clock": snapshot})
    duration = (clock.now() - start) * 1000
    worker.log_done.wait(1.0)  # what the code printed, before the END line
    worker.log.append(f"END RequestId: {request_id}")
    worker.log.append(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms\tMemory Size: {spec['memory']} MB")
    logs = list(worker.log)
    _release(worker)
    if "ok" in answer:
        return Outcome(answer["ok"].encode(), False, "ok", logs)
    return Outcome(json.dumps(answer["error"]).encode(), True, "error", logs)


# --- invocations -----------------------------------------------------------------------------


def _summary(payload, limit=200):
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def run(fn, event, region, trigger="invoke", invocation_type="RequestResponse", **fields):
    """One invocation of `fn` with `event` (override, or the function's code): an Outcome.
    Records it on the event log and in the function's recent runs."""
    request_id = fields.pop("request_id", None) or str(uuid.uuid4())
    started = clock.now()
    setting = fn.__dict__.get("drpair_result") or {}
    if "payload" in setting:
        outcome = Outcome(json.dumps(setting["payload"]).encode(), False, "ok")
    elif "error" in setting:
        outcome = Outcome(json.dumps(setting["error"]).encode(), True, "error")
    else:
        try:
            outcome = execute(fn, event, region, request_id)
        except Exception:  # the emulator failed, not the function
            print(f"emulator lambda: {fn.function_name} failed to run:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            outcome = Outcome(_error_payload("ServiceException", "The drpair emulator failed to run the function", request_id), True, "error")
    ended = clock.now()
    _deliver_logs(fn, region, outcome.logs, request_id)
    error_type = None
    if outcome.errored:
        try:
            error_type = json.loads(outcome.payload).get("errorType")
        except (ValueError, AttributeError):
            error_type = None
    record = {
        "function": fn.function_name,
        "region": region,
        "trigger": trigger,
        "invocation_type": invocation_type,
        **fields,
        "request_id": request_id,
        "started": round(started, 3),
        "ended": round(ended, 3),
        "duration": round(ended - started, 3),
        "outcome": outcome.kind,
        "error_type": error_type,
        "summary": _summary(outcome.payload),
    }
    runs = fn.__dict__.setdefault("drpair_runs", [])
    runs.append({**record, "logs": outcome.logs[-50:]})
    del runs[:-MAX_EVENTS]
    timeline.record("lambda.invoke", **record)
    return outcome


def _remember(fn, event):
    events = fn.__dict__.setdefault("drpair_invocations", [])
    events.append(event)
    del events[:-MAX_EVENTS]


def _retry_attempts(fn):
    configs = getattr(fn, "event_invoke_config", None) or []
    if configs:
        value = configs[-1].config.get("MaximumRetryAttempts")
        if value is not None:
            return int(value)
    return DEFAULT_RETRY_ATTEMPTS


def function(region, name_or_arn, qualifier=None):
    """The moto function `name_or_arn` in `region` (None when there is none)."""
    from moto.awslambda.utils import get_backend

    try:
        return get_backend(moto_account(), region).get_function(name_or_arn, qualifier)
    except Exception:
        return None


def invoke_async(region, name_or_arn, event, trigger="invoke", **fields):
    """Queues an asynchronous invocation (retried on function errors, as Lambda does). Returns
    False when there is no such function."""
    name, qualifier = name_or_arn, None
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        region, name = parts[3], parts[6]
        qualifier = parts[7] if len(parts) > 7 else None
    fn = function(region, name, qualifier)
    if fn is None:
        return False
    _remember(fn, event)
    _attempt(fn, event, region, trigger, 1, fields)
    return True


def _attempt(fn, event, region, trigger, attempt, fields):
    def work():
        outcome = run(fn, event, region, trigger, "Event", attempt=attempt, **fields)
        retries = _retry_attempts(fn)
        if outcome.errored and attempt <= retries and attempt <= len(ASYNC_RETRY_DELAYS):
            delay = ASYNC_RETRY_DELAYS[attempt - 1]
            clock.after(delay, lambda: _attempt(fn, event, region, trigger, attempt + 1, fields), f"lambda-retry-{fn.function_name}")

    threading.Thread(target=work, name=f"drpair-lambda-{fn.function_name}", daemon=True).start()


def _patch():
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.exceptions import JsonRESTError

    if getattr(LambdaSimpleBackend, "drpair_results", False):
        return
    LambdaSimpleBackend.drpair_results = True

    class TooLarge(JsonRESTError):
        code = 413

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        fn = self.get_function(function_name, qualifier)
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "Event" and body and len(body) > ASYNC_PAYLOAD_LIMIT:
            raise TooLarge("RequestEntityTooLargeException", f"{len(body)} byte payload is too large for the Event invocation type (limit {ASYNC_PAYLOAD_LIMIT} bytes)")
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            raise JsonRESTError("InvalidRequestContentException", "Could not parse request body into json")
        if invocation_type == "DryRun":
            return b""
        _remember(fn, event)
        if self.lambda_simple_results_queue:
            return self.lambda_simple_results_queue.pop(0).encode()
        if invocation_type == "Event":
            _attempt(fn, event, self.region_name, "invoke", 1, {})
            return b""
        outcome = run(fn, event, self.region_name, "invoke", "RequestResponse")
        if outcome.errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        if str(headers.get("X-Amz-Log-Type", "")).lower() == "tail" and outcome.logs:
            response_headers["x-amz-log-result"] = _log_tail(outcome.logs)
        return outcome.payload

    LambdaSimpleBackend.invoke = invoke


def _function(match):
    from moto.awslambda.utils import get_backend

    try:
        return get_backend(moto_account(), match.group("region")).get_function(match.group("name"))
    except Exception as exc:
        raise ControlError(404, f"no function {match.group('name')} in {match.group('region')}") from exc


@control("POST", r"/lambda/(?P<region>[a-z0-9-]+)/(?P<name>[^/]+)")
def set_result(match, body, query):
    if not isinstance(body, dict) or len(body) > 1 or (body and next(iter(body)) not in ("payload", "error", "execute")):
        raise ControlError(400, 'body must be {"payload": ...}, {"error": {...}}, {} or {"execute": true}')
    if "error" in body and not (isinstance(body["error"], dict) and body["error"].get("errorMessage") is not None):
        raise ControlError(400, "'error' must be an object with at least errorMessage (and errorType)")
    if "execute" in body and body["execute"] is not True:
        raise ControlError(400, "'execute' must be true (running the code is the default; {} also restores it)")
    fn = _function(match)
    fn.__dict__["drpair_result"] = {} if "execute" in body else body
    return 200, _view(fn)


@control("GET", r"/lambda/(?P<region>[a-z0-9-]+)/(?P<name>[^/]+)")
def get_result(match, body, query):
    return 200, _view(_function(match))


def _view(fn):
    return {
        "FunctionName": fn.function_name,
        "Result": fn.__dict__.get("drpair_result") or {},
        "Invocations": fn.__dict__.get("drpair_invocations", []),
        "Runs": fn.__dict__.get("drpair_runs", []),
    }


# --- execution roles that have not propagated ------------------------------------------------

ROLE_NOT_ASSUMABLE = "The role defined for the function cannot be assumed by Lambda."


def _refuse_unpropagated_role(backend, role, operation):
    from moto.awslambda.exceptions import InvalidParameterValueException

    if role and iam_propagation.propagating(role, account_id=backend.account_id):
        iam_propagation.refused("lambda", operation, role, backend.region_name)
        raise InvalidParameterValueException(ROLE_NOT_ASSUMABLE)


def _patch_role_propagation():
    from moto.awslambda.models import LambdaBackend

    if getattr(LambdaBackend.create_function, "drpair_propagation", False):
        return
    create_function = LambdaBackend.create_function
    update_function_configuration = LambdaBackend.update_function_configuration

    def create(self, spec):
        _refuse_unpropagated_role(self, (spec or {}).get("Role"), "CreateFunction")
        return create_function(self, spec)

    def update_configuration(self, function_name, qualifier, body):
        _refuse_unpropagated_role(self, (body or {}).get("Role"), "UpdateFunctionConfiguration")
        return update_function_configuration(self, function_name, qualifier, body)

    create.drpair_propagation = True
    LambdaBackend.create_function = create
    LambdaBackend.update_function_configuration = update_configuration


# --- Lambda's log groups ---------------------------------------------------------------------

# CloudWatch Logs' retention values (the API reference's `Days` shape).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
LOGS_KMS_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


def log_group_arn(account_id, region, name):
    from moto.utilities.utils import get_partition

    return f"arn:{get_partition(region)}:logs:{region}:{account_id}:log-group:{name}"


def logs_key_problem(account_id, region, kms_key_id, group_name):
    """None when CloudWatch Logs may use the KMS key for the log group; otherwise the error
    (code, message) it answers."""
    from moto.kms.models import kms_backends

    group_arn = log_group_arn(account_id, region, group_name)
    try:
        key = kms_backends[account_id][region].describe_key(str(kms_key_id))
    except Exception:
        return "InvalidParameterException", "The specified KMS Key Id could not be found."
    if key.key_state != "Enabled":
        return "InvalidParameterException", f"The specified KMS key {key.arn} is {key.key_state}, not Enabled."
    # moto leaves KeyUsage unset when CreateKey did not give it (AWS: ENCRYPT_DECRYPT).
    if key.key_spec != "SYMMETRIC_DEFAULT" or (key.key_usage or "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT":
        return "InvalidParameterException", "CloudWatch Logs supports only symmetric KMS keys."
    principal = {"Service": [f"logs.{region}.amazonaws.com"]}
    context = {"kms:EncryptionContext:aws:logs:arn": group_arn}
    for action in LOGS_KMS_ACTIONS:
        if iam_policy.decide([key.policy], action, key.arn, context, principal) != iam_policy.ALLOW:
            return "AccessDeniedException", f"The specified KMS key does not exist or is not allowed to be used with Arn '{group_arn}'"
    return None


def _logs_error(code, message):
    from moto.logs.exceptions import LogsClientError

    return LogsClientError(code, message)


def _patch_logs():
    from moto.logs.exceptions import InvalidParameterException, ResourceNotFoundException
    from moto.logs.models import LogsBackend
    from moto.logs.responses import LogsResponse

    if getattr(LogsBackend, "drpair_logs", False):
        return
    LogsBackend.drpair_logs = True
    create_log_group = LogsBackend.create_log_group
    delete_log_group = LogsBackend.delete_log_group
    put_retention_policy = LogsBackend.put_retention_policy

    def create(self, log_group_name, tags, **kwargs):
        key = kwargs.get("kmsKeyId")
        if key and log_group_name not in self.groups:
            problem = logs_key_problem(self.account_id, self.region_name, key, log_group_name)
            if problem:
                raise _logs_error(*problem)
        return create_log_group(self, log_group_name, tags, **kwargs)

    def delete(self, log_group_name):
        group = self.groups.get(log_group_name)
        delete_log_group(self, log_group_name)
        if group is not None:
            self.tagger.delete_all_tags_for_resource(group.arn)

    def retention(self, log_group_name, retention_in_days):
        try:
            days = int(retention_in_days)
        except (TypeError, ValueError):
            days = None
        if days not in RETENTION_DAYS:
            raise InvalidParameterException(
                constraint=f"Member must satisfy enum value set: [{', '.join(map(str, RETENTION_DAYS))}]",
                parameter="retentionInDays",
                value=retention_in_days,
            )
        return put_retention_policy(self, log_group_name, days)

    def group_of(self, operation):
        name = self._get_param("logGroupName")
        resource = self._get_param("resourceIdentifier")
        if bool(name) == bool(resource):
            raise InvalidParameterException(f"{operation} takes either logGroupName or resourceIdentifier, not both and not neither.")
        if resource:
            prefix = log_group_arn(self.current_account, self.region, "")
            if not resource.startswith(prefix):
                raise InvalidParameterException(f"The drpair emulator serves {operation} for log groups only, not {resource}.")
            name = resource[len(prefix):]
        group = self.logs_backend.groups.get(name)
        if group is None:
            raise ResourceNotFoundException()
        return group

    def associate_kms_key(self):
        group = group_of(self, "AssociateKmsKey")
        key = self._get_param("kmsKeyId")
        problem = logs_key_problem(self.current_account, self.region, key, group.name)
        if problem:
            raise _logs_error(*problem)
        group.kms_key_id = key
        return ""

    def disassociate_kms_key(self):
        group_of(self, "DisassociateKmsKey").kms_key_id = None
        return ""

    LogsBackend.create_log_group = create
    LogsBackend.delete_log_group = delete
    LogsBackend.put_retention_policy = retention
    LogsResponse.associate_kms_key = associate_kms_key
    LogsResponse.disassociate_kms_key = disassociate_kms_key


def _dropped(fn, region, group, reason):
    timeline.record("lambda.logs.dropped", function=fn.function_name, region=region, log_group=group, reason=reason)


def _deliver_logs(fn, region, lines, request_id):
    """What Lambda does with an invocation's logs: creates the function's log group when it is
    missing (as the execution role), then writes the lines to a new stream. Never fails the
    invocation."""
    try:
        from moto.logs.models import logs_backends

        account = getattr(fn, "account_id", None) or moto_account()
        backend = logs_backends[account][region]
        name = f"/aws/lambda/{fn.function_name}"
        group_arn = log_group_arn(account, region, name)
        role = iam_policy.find_role(account, fn.role)
        if role is None:
            _dropped(fn, region, name, f"the execution role {fn.role} does not exist")
            return
        if name not in backend.groups:
            if iam_policy.role_decision(role, "logs:CreateLogGroup", group_arn) != iam_policy.ALLOW:
                _dropped(fn, region, name, f"the execution role may not logs:CreateLogGroup on {group_arn}")
                return
            backend.create_log_group(name, {})
            timeline.record("lambda.logs.group_created", function=fn.function_name, region=region, log_group=name)
        if not lines:
            return
        now = clock.now()
        stream = time.strftime("%Y/%m/%d", time.gmtime(now)) + "/[$LATEST]" + uuid.uuid4().hex
        stream_arn = f"{group_arn}:log-stream:{stream}"
        for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
            if iam_policy.role_decision(role, action, stream_arn) != iam_policy.ALLOW:
                _dropped(fn, region, name, f"the execution role may not {action} on {stream_arn}")
                return
        group = backend.groups[name]
        if group.kms_key_id:
            problem = logs_key_problem(account, region, group.kms_key_id, name)
            if problem:
                _dropped(fn, region, name, f"CloudWatch Logs cannot use the group's KMS key: {problem[1]}")
                return
        group.create_log_stream(stream)
        millis = int(now * 1000)
        # The group's own put (moto's backend drops events more than 2 hours ahead of the real
        # clock, which the modeled clock may be).
        group.put_log_events(stream, [{"timestamp": millis, "message": line} for line in lines])
    except Exception:  # the emulator's failure, not the function's
        print(f"emulator lambda: delivering the logs of {fn.function_name} ({request_id}) failed:\n{traceback.format_exc()}", file=sys.stderr, flush=True)


def register(app):
    _patch()
    _patch_role_propagation()
    _patch_logs()
    _replenish_async()
    return app
