"""One emulator (scripts/emulator) per test session on a free port of 127.0.0.1, and helpers.

Tests share that emulator: each uses its own resource names (the `unique` fixture) instead of
resetting moto, and faults/latency rules are cleared after every test.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import boto3
import botocore.session
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The emulator's own CBOR codec, for hand-made malformed requests.
sys.path.insert(0, os.path.join(ROOT, "scripts"))
CREDENTIALS = Credentials("testing", "testing")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Emulator:
    def __init__(self, process, port, log_path):
        self.process = process
        self.port = port
        self.endpoint = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def client(self, service, region="us-east-1", retries=False):
        """A boto3 client; without `retries` one attempt, so injected faults are seen as such."""
        config = Config(retries={"total_max_attempts": 1 if not retries else 4, "mode": "standard"})
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    def control(self, method, path, body=None, expect=None):
        """A /_drpair/ control call; returns (status, JSON answer)."""
        response = requests.request(method, self.endpoint + path, json=body, timeout=30)
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.status_code, response.json()

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def signed(self, method, path, service, region="us-east-1", body=b"", headers=None, query=""):
        """A raw SigV4-signed request (for protocols or malformed bodies boto3 would not send)."""
        url = self.endpoint + path + (f"?{query}" if query else "")
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        SigV4Auth(CREDENTIALS, service, region).add_auth(request)
        return requests.request(method, url, data=body, headers=dict(request.headers), timeout=30)


def started_emulator():
    """A new emulator process on a free port; stop it with `stop_emulator`."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="drpair-emulator-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [os.path.join(ROOT, "scripts", "emulator"), "--port", str(port), "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        cwd=ROOT,
    )
    line = process.stdout.readline().decode()
    if "emulator listening on" not in line:
        process.kill()
        log.close()
        pytest.fail(f"the emulator did not start: {line!r}\n{open(log.name).read()}")
    emulator = Emulator(process, port, log.name)
    emulator.log_file = log
    return emulator


def stop_emulator(emulator):
    emulator.process.stdin.close()
    try:
        emulator.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        emulator.process.kill()
    emulator.log_file.close()


@pytest.fixture(scope="session")
def emulator():
    emulator = started_emulator()
    yield emulator
    stop_emulator(emulator)


@pytest.fixture
def own_emulator():
    """An emulator of the test's own, for a test that advances the modeled clock by days: on the
    shared one that replays, minute by minute, every schedule, alarm and stream earlier tests
    left behind."""
    emulator = started_emulator()
    yield emulator
    stop_emulator(emulator)


@pytest.fixture(autouse=True)
def clear_controls(request):
    yield
    if "emulator" in request.fixturenames:
        emulator = request.getfixturevalue("emulator")
        requests.delete(emulator.endpoint + "/_drpair/faults", timeout=30)
        requests.delete(emulator.endpoint + "/_drpair/latency", timeout=30)
        # Time and outages are the emulator's too: each test starts at speed 1, instant timing,
        # with every region up.
        requests.delete(emulator.endpoint + "/_drpair/outage", timeout=30)
        requests.post(emulator.endpoint + "/_drpair/clock", json={"speed": 1, "timing": "instant"}, timeout=30)


@pytest.fixture
def unique():
    """A short unique name prefix for this test's resources."""
    return "t" + uuid.uuid4().hex[:10]


def error_code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def http_status(exc_info):
    return exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]


_MODELS = {}


def service_model(service):
    if service not in _MODELS:
        _MODELS[service] = botocore.session.get_session().get_service_model(service)
    return _MODELS[service]


class Protocol:
    """Calls an operation in a protocol of the caller's choosing, with botocore's own
    serializers and parsers (so the emulator is tested against AWS's reference encoders)."""

    def __init__(self, emulator, protocol, service="cloudwatch", signing_name="monitoring"):
        self.emulator = emulator
        self.protocol = protocol
        self.service = service
        self.signing_name = signing_name

    def raw(self, operation, params, region="us-east-1"):
        model = service_model(self.service).operation_model(operation)
        serialized = create_serializer(self.protocol, include_validation=False).serialize_to_request(params, model)
        path = serialized["url_path"]
        body = serialized["body"]
        if isinstance(body, dict):
            from urllib.parse import urlencode

            body = urlencode(body)
        if isinstance(body, str):
            body = body.encode()
        headers = dict(serialized["headers"])
        if self.protocol == "query":
            headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        return self.emulator.signed(serialized["method"], path, self.signing_name, region, body, headers)

    def call(self, operation, params=None, region="us-east-1"):
        """(HTTP status, parsed response or error, response headers)."""
        response = self.raw(operation, params or {}, region)
        model = service_model(self.service).operation_model(operation)
        parser = create_parser(self.protocol)
        parsed = parser.parse(
            {"status_code": response.status_code, "headers": response.headers, "body": response.content},
            model.output_shape,
        )
        return response.status_code, parsed, response.headers


@pytest.fixture
def cbor(emulator):
    return Protocol(emulator, "smithy-rpc-v2-cbor")


@pytest.fixture
def query(emulator):
    return Protocol(emulator, "query")


def wait_for(predicate, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()

