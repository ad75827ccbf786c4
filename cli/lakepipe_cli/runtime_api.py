"""Lambda's side of the Runtime API, on 127.0.0.1, for one function container: invoke the image as Lambda does.

The image's entrypoint runs the runtime alone when ``AWS_LAMBDA_RUNTIME_API`` is set (the path Lambda takes); the
runtime interface client then polls ``/next`` for an event and posts the result back. Unlike the runtime
interface emulator (which drops the trace header), this side gives each invocation a sampled
``Lambda-Runtime-Trace-Id``, as Lambda does with ``Tracing: Active``, so the function's X-Ray SDK traces it and
the function segment Lambda would record is recorded in the X-Ray daemon stand-in.

Endpoints (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html): ``GET /2018-06-01/runtime/invocation/
next``, ``POST …/invocation/{id}/response``, ``POST …/invocation/{id}/error``, ``POST /2018-06-01/runtime/init/error``.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lakepipe_cli.xray_local import TraceHeader, XRayDaemonStandIn

_PREFIX = "/2018-06-01/runtime"


@dataclass
class InvocationResult:
    request_id: str
    trace_id: str
    payload: Any = None
    error: dict[str, Any] | None = None  # the runtime's errorType / errorMessage / stackTrace

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class _Pending:
    event: bytes
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    header: TraceHeader = field(default_factory=TraceHeader.new)
    started: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: InvocationResult | None = None


class LocalRuntimeApi:
    """Serves one function's Runtime API; :meth:`invoke` hands it an event and waits for the runtime's answer."""

    def __init__(self, *, function_name: str, timeout_seconds: int, xray: XRayDaemonStandIn | None = None) -> None:
        self.function_name = function_name
        self.function_arn = f"arn:aws:lambda:eu-west-3:123456789012:function:{function_name}"
        self.timeout_seconds = timeout_seconds
        self.init_error: dict[str, Any] | None = None
        self._xray = xray
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._in_flight: dict[str, _Pending] = {}
        self._stopping = threading.Event()
        self._init_failed = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="runtime-api", daemon=True)

    @property
    def address(self) -> str:
        """The value of ``AWS_LAMBDA_RUNTIME_API`` for the container."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> LocalRuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def invoke(self, event: Any, *, wait_seconds: float | None = None) -> InvocationResult:
        """Hand ``event`` to the runtime and wait for its response or error (or its failure to start)."""
        pending = _Pending(json.dumps(event).encode())
        self._queue.put(pending)
        deadline = time.monotonic() + (wait_seconds or self.timeout_seconds + 30)
        while not pending.done.wait(0.1):
            if self._init_failed.is_set() and pending.started is None:
                return InvocationResult(pending.request_id, pending.header.root, error=self.init_error)
            if time.monotonic() > deadline:
                return InvocationResult(
                    pending.request_id,
                    pending.header.root,
                    error={"errorType": "Sandbox.Timedout", "errorMessage": "the runtime never answered"},
                )
        assert pending.result is not None
        return pending.result

    def _next(self) -> _Pending | None:
        while not self._stopping.is_set():
            try:
                pending = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            pending.started = time.time()
            self._in_flight[pending.request_id] = pending
            return pending
        return None

    def _finish(self, request_id: str, payload: Any = None, error: dict[str, Any] | None = None) -> bool:
        pending = self._in_flight.pop(request_id, None)
        if pending is None:
            return False
        pending.result = InvocationResult(request_id, pending.header.root, payload=payload, error=error)
        if self._xray is not None:
            self._xray.record_invocation(
                function_name=self.function_name,
                header=pending.header,
                request_id=request_id,
                start_time=pending.started or time.time(),
                end_time=time.time(),
                failed=error is not None,
                function_arn=self.function_arn,
            )
        pending.done.set()
        return True

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class RuntimeApiHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open between polls

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _reply(self, status: HTTPStatus, body: bytes = b"{}", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                try:
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the container stopped while its runtime was polling

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                if self.path != f"{_PREFIX}/invocation/next":
                    self._reply(HTTPStatus.NOT_FOUND)
                    return
                pending = api._next()
                if pending is None:
                    self._reply(HTTPStatus.SERVICE_UNAVAILABLE)
                    return
                deadline_ms = int((time.time() + api.timeout_seconds) * 1000)
                self._reply(
                    HTTPStatus.OK,
                    pending.event,
                    {
                        "Lambda-Runtime-Aws-Request-Id": pending.request_id,
                        "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                        "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                        "Lambda-Runtime-Trace-Id": str(pending.header),
                    },
                )

            def do_POST(self) -> None:
                body = self._body()
                parts = self.path.removeprefix(_PREFIX).strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = _error_document(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
                    api._init_failed.set()
                    self._reply(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
                elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in {"response", "error"}:
                    if parts[2] == "response":
                        finished = api._finish(parts[1], payload=json.loads(body or b"null"))
                    else:
                        error = _error_document(body, self.headers.get("Lambda-Runtime-Function-Error-Type"))
                        finished = api._finish(parts[1], error=error)
                    self._reply(HTTPStatus.ACCEPTED if finished else HTTPStatus.BAD_REQUEST, b'{"status":"OK"}')
                else:
                    self._reply(HTTPStatus.NOT_FOUND)

        return RuntimeApiHandler


def _error_document(body: bytes, error_type: str | None) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except json.JSONDecodeError:
        document = {"errorMessage": body.decode(errors="replace")}
    if not isinstance(document, dict):
        document = {"errorMessage": str(document)}
    document.setdefault("errorType", error_type or "Unknown")
    return document
