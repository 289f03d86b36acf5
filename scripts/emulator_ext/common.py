"""Helpers shared by the extensions: what a request is, AWS-style errors, control routes.

Every AWS SDK request is classified once (`classify`): its service (as boto3 names the client,
e.g. ``cloudwatch`` rather than the signing name ``monitoring``), operation (``PutMetricAlarm``,
also for REST services, through moto's own router), region (from the SigV4 credential scope) and
wire protocol. Errors are rendered the way AWS renders them for that protocol (`aws_error`), so
an SDK parses the code and message instead of choking on an HTML page.
"""

import gzip
import io
import json
import re
import uuid
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from . import cbor

CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/,]+)/([^/,]+)/")
CBOR_PATH = re.compile(r"^/service/([^/]+)/operation/([^/]+)$")

# Signing names (credential scope) that differ from boto3's client names.
SIGNING_TO_CLIENT = {
    "monitoring": "cloudwatch",
    "elasticloadbalancing": "elbv2",
    "states": "stepfunctions",
    "email": "ses",
    "execute-api": "apigateway",
}
# Smithy service shape names of rpc-v2-cbor services -> boto3 client names.
CBOR_SERVICES = {"GraniteServiceVersion20100801": "cloudwatch"}

# Default throttling error (code, HTTP status) per service; others get ThrottlingException/400
# (JSON-family protocols) or Throttling/400 (query and rest-xml protocols).
THROTTLING = {
    "ec2": ("RequestLimitExceeded", 503),
    "lambda": ("TooManyRequestsException", 429),
    "s3": ("SlowDown", 503),
    "dynamodb": ("ThrottlingException", 400),
}


def client_name(signing_name):
    return SIGNING_TO_CLIENT.get(signing_name, signing_name)


def read_body(environ):
    """The request body as bytes (gunzipped if gzip-encoded); puts an identical stream back for
    the next reader."""
    if "drpair.body" in environ:
        return environ["drpair.body"]
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    body = b""
    if stream is not None:
        if length:
            try:
                body = stream.read(int(length))
            except ValueError:
                body = b""
        elif environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            body = stream.read()
    if environ.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
        # SDKs gzip large PutMetricData bodies (the requestCompression trait).
        try:
            body = gzip.decompress(body)
            del environ["HTTP_CONTENT_ENCODING"]
        except (OSError, EOFError):
            pass
    set_body(environ, body)
    return body


def set_body(environ, body):
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["drpair.body"] = body


def _service_model(service):
    try:
        from moto.core.utils import get_service_model

        return get_service_model(service)
    except Exception:  # unknown to botocore
        return None


def protocol_of(environ, service):
    """One of cbor, json, query, ec2, rest-json, rest-xml (best guess for unknown services)."""
    if environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor" or CBOR_PATH.match(environ.get("PATH_INFO", "")):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded") or "Action=" in environ.get("QUERY_STRING", ""):
        return "ec2" if service == "ec2" else "query"
    model = _service_model(service) if service != "-" else None
    protocol = str(model.protocol) if model is not None else "rest-json"
    return protocol if protocol in ("rest-json", "rest-xml") else "rest-json"


def _operation_name(environ, service, protocol):
    if protocol == "cbor":
        found = CBOR_PATH.match(environ.get("PATH_INFO", ""))
        return found.group(2) if found else None
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    if protocol in ("query", "ec2"):
        action = parse_qs(read_body(environ).decode("utf-8", "replace")).get("Action")
        return action[0] if action else None
    if service == "-" or _service_model(service) is None:
        return None
    try:
        from moto.core.request import Request
        from moto.core.routing import get_service_router

        read_body(environ)
        probe = dict(environ)
        probe["wsgi.input"] = io.BytesIO(environ["drpair.body"])
        operation, _ = get_service_router(service).match(Request(probe))
        return operation.name
    except Exception:
        return None


def classify(environ):
    """(service, operation, region, protocol) of an AWS request, computed once per request."""
    if "drpair.call" in environ:
        return environ["drpair.call"]
    region, service = "-", "-"
    scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope:
        region, service = scope.group(1), client_name(scope.group(2))
    found = CBOR_PATH.match(environ.get("PATH_INFO", ""))
    if found and found.group(1) in CBOR_SERVICES:
        service = CBOR_SERVICES[found.group(1)]
    protocol = protocol_of(environ, service)
    operation = _operation_name(environ, service, protocol)
    if not operation:
        operation = f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"
    call = (service, operation, region, protocol)
    environ["drpair.call"] = call
    return call


def is_aws_request(environ):
    """Signed SDK requests (and CBOR ones), not /moto-api/ or /_drpair/ calls."""
    path = environ.get("PATH_INFO", "")
    if path.startswith("/_drpair") or path.startswith("/moto-api"):
        return False
    return "AWS4-HMAC-SHA256" in environ.get("HTTP_AUTHORIZATION", "") or bool(CBOR_PATH.match(path))


def throttling_error(service, protocol):
    if service in THROTTLING:
        return THROTTLING[service]
    if protocol in ("query", "rest-xml"):
        return ("Throttling", 400)
    return ("ThrottlingException", 400)


def aws_error(environ, status, code, message, sender=None):
    """(status line, headers, body) of an AWS error in the request's protocol."""
    service, _, _, protocol = classify(environ)
    request_id = str(uuid.uuid4())
    if sender is None:
        sender = status < 500
    kind = "Sender" if sender else "Receiver"
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "cbor":
        body = cbor.dumps({"__type": code, "message": message})
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        headers.append(("x-amzn-query-error", f"{code};{kind}"))
    elif protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        model = _service_model(service)
        version = model.metadata.get("jsonVersion", "1.1") if model is not None else "1.1"
        headers.append(("Content-Type", f"application/x-amz-json-{version}"))
        headers.append(("x-amzn-query-error", f"{code};{kind}"))
    elif protocol == "ec2":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    elif protocol in ("query", "rest-xml"):
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>{kind}</Type>"
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    else:  # rest-json
        body = json.dumps({"message": message, "Message": message, "Code": code}).encode()
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    headers.append(("Content-Length", str(len(body))))
    return f"{status} {STATUS_TEXT.get(status, 'Error')}", headers, body


STATUS_TEXT = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def respond(start_response, status, headers, body):
    start_response(status, headers)
    return [body]


class ControlError(Exception):
    """A control endpoint's refusal: HTTP status and message, answered as JSON."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# Control endpoints under /_drpair/: (method, compiled path regex, handler(match, body, query)).
CONTROL_ROUTES = []


def control(method, pattern):
    """Decorator registering a control endpoint; the handler returns (status, JSON value)."""

    def register(handler):
        CONTROL_ROUTES.append((method, re.compile("^/_drpair" + pattern + "$"), handler))
        return handler

    return register


def moto_account():
    from moto.core import DEFAULT_ACCOUNT_ID

    return DEFAULT_ACCOUNT_ID


def call_app(app, environ):
    """Runs a WSGI app to completion: (status line, headers list, body bytes)."""
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = status
        captured["headers"] = list(headers)
        return lambda data: captured.setdefault("written", []).append(data)

    result = app(environ, start_response)
    try:
        body = b"".join(captured.get("written", [])) + b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured.get("status", "500 Internal Server Error"), captured.get("headers", []), body


def header(headers, name, default=None):
    lowered = name.lower()
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return default
