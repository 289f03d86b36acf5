"""Lambda without Docker, with a configurable result; AWS-managed IAM policies.

moto runs here with ``lambda.use_docker = False`` (scripts/emulator.py), so CreateFunction stores
the function and Invoke runs nothing. What Invoke answers is set per function:

- ``POST /_drpair/lambda/{region}/{FunctionName}`` with
  ``{"payload": <JSON>}`` answers that payload (status 200);
  ``{"error": {"errorType": "...", "errorMessage": "..."}}`` answers a function error (status 200,
  ``X-Amz-Function-Error: Unhandled``, the error object as payload), as AWS does when the code
  raises; ``{"execute": true}`` runs the function's own code when its runtime is Python: the
  deployment zip is unpacked and ``module.handler(event, context)`` called in a child Python
  process, with the function's environment variables, ``AWS_REGION`` and ``AWS_ENDPOINT_URL``
  pointing at this emulator, within the function's Timeout (exceeded: ``Sandbox.Timedout``);
  ``{}`` goes back to the default: the payload ``{}``.
- ``GET`` on the same path returns the setting and the events of the last 100 invocations.
- An unknown function is ``ResourceNotFoundException`` on Invoke (moto) and 404 on the control.

AWS-managed IAM policies (``arn:aws:iam::aws:policy/...``) are loaded at start
(``MOTO_IAM_LOAD_MANAGED_POLICIES``/``iam.load_aws_managed_policies``), so attaching e.g.
``service-role/AWSBackupServiceRolePolicyForBackup`` works as on AWS.
"""

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile

from .common import ControlError, control, moto_account

RUNNER = r"""
import importlib, json, sys, time, traceback
module_name, function_name, name, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
event = json.loads(sys.stdin.read() or "null")
deadline = time.time() + timeout

class Context:
    function_name = name
    memory_limit_in_mb = 128
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn = ""
    def get_remaining_time_in_millis(self):
        return max(0, int((deadline - time.time()) * 1000))

try:
    result = getattr(importlib.import_module(module_name), function_name)(event, Context())
    out = {"ok": result}
except Exception as exc:
    out = {"error": {"errorMessage": str(exc), "errorType": type(exc).__name__,
                     "stackTrace": traceback.format_exc().splitlines()}}
sys.stdout.write("\n__DRPAIR_RESULT__" + json.dumps(out, default=str))
"""
MAX_EVENTS = 100


def execute(fn, event, region):
    """Runs a Python function's handler in a child process: (payload bytes, errored)."""
    if not str(fn.run_time or "").startswith("python") or not getattr(fn, "code_bytes", b""):
        error = {"errorMessage": f"Runtime {fn.run_time} cannot be executed by the drpair emulator", "errorType": "Runtime.InvalidEntrypoint"}
        return json.dumps(error).encode(), True
    module_name, _, handler_name = (fn.handler or "").rpartition(".")
    with tempfile.TemporaryDirectory(prefix="drpair-lambda-") as workdir:
        try:
            zipfile.ZipFile(io.BytesIO(fn.code_bytes)).extractall(workdir)
        except zipfile.BadZipFile:
            return json.dumps({"errorMessage": "The deployment package is not a zip file", "errorType": "Runtime.InvalidZip"}).encode(), True
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": workdir,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '5000')}",
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            **{str(k): str(v) for k, v in (fn.environment_vars or {}).items()},
        }
        timeout = float(fn.timeout or 3)
        try:
            done = subprocess.run(
                [sys.executable, "-c", RUNNER, module_name.replace("/", "."), handler_name, fn.function_name, str(timeout)],
                input=json.dumps(event).encode(),
                capture_output=True,
                cwd=workdir,
                env=env,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            error = {"errorMessage": f"Task timed out after {timeout:.2f} seconds", "errorType": "Sandbox.Timedout"}
            return json.dumps(error).encode(), True
    marker = done.stdout.rfind(b"__DRPAIR_RESULT__")
    if marker < 0:
        message = done.stderr.decode("utf-8", "replace")[-2000:] or "the handler process exited without a result"
        return json.dumps({"errorMessage": message, "errorType": "Runtime.ExitError"}).encode(), True
    outcome = json.loads(done.stdout[marker + len("__DRPAIR_RESULT__") :])
    if "error" in outcome:
        return json.dumps(outcome["error"]).encode(), True
    return json.dumps(outcome["ok"]).encode(), False


def _patch():
    from moto.awslambda_simple.models import LambdaSimpleBackend

    if getattr(LambdaSimpleBackend, "drpair_results", False):
        return
    LambdaSimpleBackend.drpair_results = True

    def invoke(self, function_name, qualifier, body, headers, response_headers):
        fn = self.get_function(function_name, qualifier)
        try:
            event = json.loads(body) if body else {}
        except ValueError:
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError("InvalidRequestContentException", "Could not parse request body into json")
        events = fn.__dict__.setdefault("drpair_invocations", [])
        events.append(event)
        del events[:-MAX_EVENTS]
        if self.lambda_simple_results_queue:
            return self.lambda_simple_results_queue.pop(0).encode()
        setting = fn.__dict__.get("drpair_result") or {}
        if "payload" in setting:
            return json.dumps(setting["payload"]).encode()
        if "error" in setting:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(setting["error"]).encode()
        if setting.get("execute"):
            payload, errored = execute(fn, event, self.region_name)
            if errored:
                response_headers["x-amz-function-error"] = "Unhandled"
            return payload
        return b"{}"

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
        raise ControlError(400, 'body must be {"payload": ...}, {"error": {...}}, {"execute": true} or {}')
    if "error" in body and not (isinstance(body["error"], dict) and body["error"].get("errorMessage") is not None):
        raise ControlError(400, "'error' must be an object with at least errorMessage (and errorType)")
    if "execute" in body and body["execute"] is not True:
        raise ControlError(400, "'execute' must be true")
    fn = _function(match)
    fn.__dict__["drpair_result"] = body
    return 200, _view(fn)


@control("GET", r"/lambda/(?P<region>[a-z0-9-]+)/(?P<name>[^/]+)")
def get_result(match, body, query):
    return 200, _view(_function(match))


def _view(fn):
    return {
        "FunctionName": fn.function_name,
        "Result": fn.__dict__.get("drpair_result") or {},
        "Invocations": fn.__dict__.get("drpair_invocations", []),
    }


def register(app):
    _patch()
    return app
