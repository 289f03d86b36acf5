"""Serve moto's AWS API emulator on 127.0.0.1 for drpair's tests (run through scripts/emulator).

moto (pinned in requirements.txt) with the project's extensions (scripts/emulator_ext/): CloudWatch
over rpc-v2-cbor, metric streams, Aurora global database failover, DynamoDB global tables, AWS
Backup selections, Route 53 health status and TestDNSAnswer, Lambda without Docker, and run-time
controls under /_drpair/ (see docs/EMULATOR.md). Refuses to start on another moto version.
"""

import argparse
import importlib
import os
import re
import signal
import sys
import threading

# Settings moto reads from the environment, some at import time: set them before importing it.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

HERE = os.path.dirname(os.path.abspath(__file__))
# The moto version the extensions were written against (they patch its internals).
MOTO_VERSION = "5.2.5"


def check_moto_version():
    """Exits with a clear message unless the installed moto is the one the extensions expect."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("moto")
    except PackageNotFoundError:
        installed = None
    if installed != MOTO_VERSION:
        print(
            f"scripts/emulator: refusing to start: its extensions are written for moto {MOTO_VERSION}, "
            f"but {'moto ' + installed if installed else 'no moto'} is installed in {sys.prefix}. "
            "Run scripts/bootstrap --force to install the pinned requirements.txt.",
            file=sys.stderr,
            flush=True,
        )
        sys.exit(2)


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

    # Lambda and Batch without Docker: functions are stored; what Invoke answers is set per function
    # at /_drpair/lambda/ (emulator_ext/lambda_iam.py).
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


_ERROR_CODE = re.compile(rb"<Code>([^<]+)</Code>|\"__type\"\s*:\s*\"(?:[^\"#]*#)?([^\"]+)\"|\"[Cc]ode\"\s*:\s*\"([^\"]+)\"")


def _operation(environ):
    """Region, service and operation of a request, as far as the request tells them."""
    from emulator_ext.common import classify, is_aws_request

    if not is_aws_request(environ):
        return "-", "-", f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '')}"
    service, operation, region, _ = classify(environ)
    return region, service, operation


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
        status, error_header = [], []

        def record_status(code, headers, exc_info=None):
            status.append(code)
            for name, value in headers:
                if name.lower() in ("x-amzn-query-error", "x-amzn-errortype") and value:
                    error_header.append(value.split(";", 1)[0].split(":", 1)[0])
            return start_response(code, headers, exc_info)

        try:
            result = self.app(environ, record_status)
        except ConnectionAbortedError as exc:
            print(f"{what} -> connection dropped ({exc})", file=self.stream, flush=True)
            raise
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
            if error_header:
                detail = " " + error_header[0]
            elif found:
                detail = " " + next(g for g in found.groups() if g).decode("utf-8", "replace")
        if environ.get("drpair.fault"):
            detail += f" [{environ['drpair.fault']}]"
        print(f"{what} -> {code.split(' ', 1)[0]}{detail}", file=self.stream, flush=True)
        return result


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    check_moto_version()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    if HERE not in sys.path:
        sys.path.insert(0, HERE)

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
