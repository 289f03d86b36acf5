"""Serve moto's AWS API emulator on 127.0.0.1 for drpair's tests (run through scripts/emulator)."""

import argparse
import importlib
import io
import os
import re
import signal
import sys
import threading
from urllib.parse import parse_qs

# Settings moto reads from the environment, some at import time: set them before importing it.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="scripts/emulator", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument(
        "--extensions",
        default="emulator_ext",
        help="comma-separated modules (importable from scripts/) whose register(app) is called "
        "before serving; '' for none (default: %(default)s)",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="do not log each request (region, service, operation, status, error code) to stderr",
    )
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when standard input closes (so a test run that dies takes the emulator with it)",
    )
    return parser.parse_args(argv)


def configure_moto():
    from moto.core.config import default_user_config

    # Lambda and Batch without Docker: functions are stored, invocations return a canned answer.
    default_user_config["lambda"] = {"use_docker": False}
    default_user_config["batch"] = {"use_docker": False}
    # AWS-managed IAM policies (arn:aws:iam::aws:policy/...) exist, as on real AWS.
    default_user_config["iam"] = {"load_aws_managed_policies": True}


def load_extensions(app, names):
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    for name in filter(None, (n.strip() for n in names.split(","))):
        module = importlib.import_module(name)
        wrapped = module.register(app)
        if wrapped is not None:
            app = wrapped
    return app


_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/([^/,]+)/([^/,]+)/")
_ERROR_CODE = re.compile(rb"<Code>([^<]+)</Code>|\"__type\"\s*:\s*\"(?:[^\"#]*#)?([^\"]+)\"|\"[Cc]ode\"\s*:\s*\"([^\"]+)\"")


def _operation(environ):
    """Region, service and operation of a request, as far as the request tells them."""
    region, service = "-", "-"
    scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope:
        region, service = scope.group(1), scope.group(2)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return region, service, target.rsplit(".", 1)[-1]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return region, service, action[0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        # Query-protocol services (EC2, IAM, STS, RDS) put Action in the form body: read it and
        # hand moto an identical stream.
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = environ["wsgi.input"].read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read()
        else:
            body = None
        if body is not None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            action = parse_qs(body.decode("utf-8", "replace")).get("Action")
            if action:
                return region, service, action[0]
    return region, service, f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"


class RequestLog:
    """WSGI middleware logging one line per request: region, service, operation, status, error code."""

    def __init__(self, app, stream):
        self.app = app
        self.stream = stream

    def __call__(self, environ, start_response):
        try:
            what = "%s %s %s" % _operation(environ)
        except Exception as exc:  # logging must never break a request
            what = f"(unparsed request: {exc!r})"
        status = []

        def record_status(code, headers, exc_info=None):
            status.append(code)
            return start_response(code, headers, exc_info)

        try:
            result = self.app(environ, record_status)
        except BaseException as exc:
            # werkzeug answers 500 and logs the traceback below this line.
            print(f"{what} -> 500 (emulator raised {type(exc).__name__}: {exc})", file=self.stream, flush=True)
            raise
        code = status[0] if status else "?"
        detail = ""
        if code[:1] not in ("1", "2", "3"):
            body = b"".join(result)
            if hasattr(result, "close"):
                result.close()
            result = [body]
            found = _ERROR_CODE.search(body[:8192])
            if found:
                detail = " " + next(g for g in found.groups() if g).decode("utf-8", "replace")
        print(f"{what} -> {code.split(' ', 1)[0]}{detail}", file=self.stream, flush=True)
        return result


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))

    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    configure_moto()
    app = DomainDispatcherApplication(create_backend_app)
    app = load_extensions(app, args.extensions)
    if not args.quiet:
        app = RequestLog(app, sys.stderr)

    # werkzeug's own access log says only "POST / 200"; keep its errors (moto's tracebacks).
    logging.basicConfig(stream=sys.stderr, level=logging.ERROR, format="%(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_port
    if args.port == 0:
        os.environ["MOTO_PORT"] = str(port)

    stopping = threading.Event()

    def stop(*_):
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever to return: call it off the serving thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_on_stdin_eof:

        def watch_stdin():
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            except OSError:
                pass
            stop()

        threading.Thread(target=watch_stdin, daemon=True).start()

    print(f"emulator listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    print("emulator stopped", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Skip the interpreter's teardown of moto's many modules: it takes seconds and saves nothing.
    os._exit(0)


if __name__ == "__main__":
    main()
