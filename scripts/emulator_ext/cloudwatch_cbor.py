"""CloudWatch over Smithy rpc-v2-cbor, the protocol aws-sdk-cloudwatch (Rust) speaks.

Requests are ``POST /service/GraniteServiceVersion20100801/operation/<Operation>`` with the
header ``smithy-protocol: rpc-v2-cbor`` and a CBOR body. moto 5.2.5 only routes CloudWatch's
query and awsJson1.0 protocols, so each CBOR request is translated into the equivalent
awsJson1.0 request (``X-Amz-Target: GraniteServiceVersion20100801.<Operation>``), handed to moto
(and the extensions below it), and the JSON answer is translated back:

- success: a CBOR map shaped by the operation's output shape from botocore's model: timestamps as
  tag 1 (epoch seconds), blobs as byte strings, integers/doubles typed per the model; operations
  without output answer an empty body;
- errors: a CBOR map ``{"__type": Code, "message": ...}`` with the same HTTP status, plus the
  ``x-amzn-query-error: Code;Sender`` header CloudWatch sends (it is awsQueryCompatible);
- every response carries ``smithy-protocol: rpc-v2-cbor`` and ``Content-Type: application/cbor``.

Malformed CBOR gets ``SerializationException`` (400); an unknown operation gets
``UnknownOperationException`` (400); another HTTP method than POST gets 405 with the same shape.
"""

import base64
import datetime
import functools
import json

from . import cbor
from .common import CBOR_PATH, CBOR_SERVICES, aws_error, call_app, header, read_body, respond, set_body


@functools.cache
def _model(service):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _to_json(value):
    """CBOR request values -> JSON-ready values (timestamps become epoch numbers)."""
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, cbor.EpochTime):
        return float(value)
    return value


def _epoch(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return cbor.EpochTime(value)
    if isinstance(value, str):
        try:
            return cbor.EpochTime(float(value))
        except ValueError:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=datetime.timezone.utc)
            return cbor.EpochTime(parsed.timestamp())
    return value


def _shaped(value, shape):
    """A JSON response value -> the CBOR value its botocore shape calls for."""
    if value is None or shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _shaped(v, members.get(k)) for k, v in value.items() if v is not None}
    if kind == "list" and isinstance(value, list):
        return [_shaped(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _shaped(v, shape.value) for k, v in value.items()}
    if kind == "timestamp":
        return _epoch(value)
    if kind == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if kind in ("integer", "long") and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return int(float(value))
    if kind in ("double", "float") and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return float(value)
    if kind == "boolean" and isinstance(value, str):
        return value.lower() == "true"
    return value


class CborProtocol:
    """WSGI middleware serving rpc-v2-cbor requests through moto's awsJson1.0 handling."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        found = CBOR_PATH.match(environ.get("PATH_INFO", ""))
        if not found:
            return self.app(environ, start_response)
        target_prefix, operation = found.group(1), found.group(2)
        service = CBOR_SERVICES.get(target_prefix)
        if service is None:
            return respond(start_response, *aws_error(environ, 404, "UnknownServiceException", f"Unknown service {target_prefix}"))
        if environ.get("REQUEST_METHOD") != "POST":
            return respond(start_response, *aws_error(environ, 405, "MethodNotAllowed", "rpc-v2-cbor requests must use POST"))
        model = _model(service)
        if operation not in model.operation_names:
            return respond(
                start_response,
                *aws_error(environ, 400, "UnknownOperationException", f"Operation {operation} is not supported by {target_prefix}"),
            )
        body = read_body(environ)
        try:
            params = cbor.loads(body) if body else {}
        except cbor.CBORError as exc:
            return respond(start_response, *aws_error(environ, 400, "SerializationException", f"Malformed CBOR request body: {exc}"))
        if not isinstance(params, dict):
            return respond(start_response, *aws_error(environ, 400, "SerializationException", "The request body must be a CBOR map"))

        inner = {k: v for k, v in environ.items() if not k.startswith("drpair.")}
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        inner["PATH_INFO"] = "/"
        inner["RAW_URI"] = "/"
        inner["QUERY_STRING"] = ""
        inner["CONTENT_TYPE"] = "application/x-amz-json-1.0"
        inner["HTTP_X_AMZ_TARGET"] = f"{target_prefix}.{operation}"
        set_body(inner, json.dumps(_to_json(params)).encode())
        status, headers, payload = call_app(self.app, inner)
        code = int(status.split(" ", 1)[0])
        out_headers = [("smithy-protocol", "rpc-v2-cbor"), ("Content-Type", "application/cbor")]
        for name in ("x-amzn-RequestId", "x-amzn-query-error"):
            value = header(headers, name)
            if value:
                out_headers.append((name, value))
        try:
            answer = json.loads(payload) if payload.strip() else {}
        except ValueError:
            answer = {"__type": "InternalFailure", "message": payload.decode("utf-8", "replace")[:500]}
            code = 500 if code < 400 else code
        if code >= 300:
            error_type = str(answer.get("__type") or answer.get("code") or "InternalFailure").rsplit("#", 1)[-1]
            message = answer.get("message") or answer.get("Message") or ""
            out = cbor.dumps({"__type": error_type, "message": message})
        else:
            output_shape = model.operation_model(operation).output_shape
            out = b"" if output_shape is None else cbor.dumps(_shaped(answer if isinstance(answer, dict) else {}, output_shape))
        out_headers.append(("Content-Length", str(len(out))))
        start_response(status, out_headers)
        return [out]


def register(app):
    return CborProtocol(app)
