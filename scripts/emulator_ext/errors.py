"""AWS-style errors instead of moto's HTML tracebacks.

When moto raises (a malformed request it cannot parse, a missing parameter it indexes blindly, an
operation it does not implement, or a bug of its own), Flask answers a 500 with an HTML page that
no SDK can parse. This middleware answers the way AWS would, in the request's protocol:

- a body that is not valid JSON/XML/form data, or parameters moto's parser rejects: 400
  ``SerializationException`` (JSON and CBOR protocols) or ``MalformedQueryString`` (query/EC2)
  or ``InvalidInput`` (REST-XML), or ``SerializationException`` (REST-JSON);
- a required member missing (checked against botocore's model, AWS's own wording): 400
  ``ValidationException`` (JSON/REST-JSON/CBOR), ``ValidationError`` (query),
  ``MissingParameter`` (EC2), ``InvalidInput`` (REST-XML);
- an operation moto does not implement: 501 ``NotImplemented``, naming the operation;
- a request no operation matches: 404 ``UnknownOperationException``;
- anything else moto raises: 500 ``InternalFailure`` (the traceback goes to the emulator's log).
"""

import io
import json
import sys
import traceback

from .common import aws_error, call_app, classify, is_aws_request, read_body

_PARSE_ERROR_CODE = {
    "json": "SerializationException",
    "cbor": "SerializationException",
    "rest-json": "SerializationException",
    "query": "MalformedQueryString",
    "ec2": "MalformedQueryString",
    "rest-xml": "InvalidInput",
}
_MISSING_CODE = {
    "json": "ValidationException",
    "cbor": "ValidationException",
    "rest-json": "ValidationException",
    "query": "ValidationError",
    "ec2": "MissingParameter",
    "rest-xml": "InvalidInput",
}


def _record_exceptions():
    """Remember in the WSGI environ what moto raised, before Flask turns it into HTML."""
    from moto.core import utils

    original = utils.convert_to_flask_response.__call__
    if getattr(original, "drpair_patched", False):
        return

    def __call__(self, args=None, **kwargs):
        try:
            return original(self, args, **kwargs)
        except Exception as exc:
            from flask import request

            request.environ["drpair.exception"] = exc
            raise

    __call__.drpair_patched = True
    utils.convert_to_flask_response.__call__ = __call__


def _lower_first(name):
    return name[:1].lower() + name[1:]


def _missing_members(params, shape, path=""):
    """AWS-style descriptions of required members absent from `params` (recursively)."""
    missing = []
    if shape is None or shape.type_name != "structure" or not hasattr(params, "get"):
        return missing
    for name in shape.required_members:
        if params.get(name) is None:
            missing.append(f"Value null at '{path}{_lower_first(name)}' failed to satisfy constraint: Member must not be null")
    for name, member in shape.members.items():
        value = params.get(name)
        if member.type_name == "structure" and value is not None:
            missing += _missing_members(value, member, f"{path}{_lower_first(name)}.")
    return missing


def _parse(environ, service, operation, protocol):
    """moto's own parse of the request: the parameters, or raises what its parser raises."""
    from moto.core.parse import PROTOCOL_PARSERS
    from moto.core.request import Request
    from moto.core.routing import get_service_router
    from moto.core.utils import get_service_model

    probe = dict(environ)
    probe["wsgi.input"] = io.BytesIO(read_body(environ))
    request = Request(probe)
    model = get_service_model(service)
    uri_params = {}
    if protocol in ("rest-json", "rest-xml"):
        _, uri_params = get_service_router(service).match(request)
    parser = PROTOCOL_PARSERS[protocol]
    return model.operation_model(operation).input_shape, parser(model.operation_model(operation)).parse(
        {
            "method": request.method,
            "values": request.values,
            "headers": request.headers,
            "body": request.data,
            "url_path": request.path,
            "url_params": uri_params,
        }
    )


def _unknown_operation(service, operation, protocol):
    """(status, code, message) when the request names an operation the service does not have."""
    from moto.core.utils import get_service_model

    if " " in operation or protocol in ("rest-json", "rest-xml"):
        return None
    try:
        names = get_service_model(service).operation_names
    except Exception:
        return None
    if operation in names:
        return None
    if protocol in ("query", "ec2"):
        return 400, "InvalidAction", f"The action {operation} is not valid for this web service."
    return 400, "UnknownOperationException", f"Unknown operation {operation}"


def malformed_json(environ):
    """A JSON-protocol body that is not a JSON object (AWS: SerializationException)."""
    body = read_body(environ)
    if not body.strip():
        return None
    try:
        value = json.loads(body)
    except ValueError as exc:
        return f"Malformed request body: {exc}"
    return None if isinstance(value, dict) else "The request body must be a JSON object"


def _raised_while_parsing(exc):
    frames = traceback.extract_tb(exc.__traceback__) if exc is not None else []
    return any(f.filename.endswith("moto/core/parse.py") or f.name == "parse_parameters" for f in frames)


def explain(environ, exc):
    """(status, code, message) for a request moto failed on."""
    service, operation, _, protocol = classify(environ)
    unknown = _unknown_operation(service, operation, protocol)
    if unknown is not None:
        return unknown
    if isinstance(exc, NotImplementedError):
        return 501, "NotImplemented", f"The drpair emulator (moto 5.2.5) does not implement {service} {operation}: {exc}"
    if isinstance(exc, json.JSONDecodeError) or (exc is not None and _raised_while_parsing(exc)):
        return 400, _PARSE_ERROR_CODE.get(protocol, "SerializationException"), f"Malformed {operation} request: {exc}"
    if protocol != "cbor" and " " not in operation:
        try:
            shape, params = _parse(environ, service, operation, protocol)
        except Exception as parse_exc:
            return 400, _PARSE_ERROR_CODE.get(protocol, "SerializationException"), f"Malformed {operation} request: {parse_exc}"
        missing = _missing_members(params, shape)
        if missing:
            count = len(missing)
            detail = "; ".join(missing)
            return 400, _MISSING_CODE.get(protocol, "ValidationException"), f"{count} validation error{'s' if count > 1 else ''} detected: {detail}"
    if exc is None:
        return 404, "UnknownOperationException", f"No operation matches {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
    return 500, "InternalFailure", f"The drpair emulator failed on {service} {operation}: {type(exc).__name__}: {exc}"


def _is_html(headers, body):
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    return "html" in content_type or body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))


class ErrorGuard:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if not is_aws_request(environ):
            return self.app(environ, start_response)
        read_body(environ)
        _, operation, _, protocol = classify(environ)
        problem = malformed_json(environ) if protocol == "json" else None
        if problem is not None:
            status_line, error_headers, error_body = aws_error(environ, 400, "SerializationException", problem)
            start_response(status_line, error_headers)
            return [error_body]
        try:
            status, headers, body = call_app(self.app, environ)
            exc = environ.pop("drpair.exception", None)
        except Exception as raised:  # moto raised past Flask
            traceback.print_exc(file=sys.stderr)
            status, headers, body, exc = "500 Internal Server Error", [], b"", raised
        code = int(status.split(" ", 1)[0])
        unparsable = code in (404, 405, 500) and environ.get("REQUEST_METHOD") != "HEAD" and (_is_html(headers, body) or not body)
        if exc is None and not unparsable:
            start_response(status, headers)
            return [body]
        http_status, error_code, message = explain(environ, exc)
        status_line, error_headers, error_body = aws_error(environ, http_status, error_code, message)
        start_response(status_line, error_headers)
        return [error_body]


def register(app):
    _record_exceptions()
    return ErrorGuard(app)
