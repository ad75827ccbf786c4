"""X-Ray, locally: a daemon endpoint on 127.0.0.1 that receives what Powertools' tracer sends, and the traces it makes.

On Lambda the X-Ray SDK (under Powertools' Tracer) sends every finished subsegment as one UDP datagram to the
daemon at ``AWS_XRAY_DAEMON_ADDRESS``: the header line ``{"format":"json","version":1}``, a newline, then the
segment document. Lambda itself records the function's segment, whose id the runtime passes to the SDK as the
``Parent`` of the trace header (``_X_AMZN_TRACE_ID``); the SDK's subsegments name it as their ``parent_id``.

:class:`XRayDaemonStandIn` plays the daemon (receives and keeps the documents); whoever plays Lambda (the
in-process runtime in ``lambda_runtime``, the Runtime API for containers in ``runtime_api``) records the function
segment with :meth:`XRayDaemonStandIn.record_invocation`. :class:`Trace` assembles one trace's documents into the
tree the X-Ray console draws, and writes it the way X-Ray's BatchGetTraces returns it.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DAEMON_HEADER: dict[str, Any] = {"format": "json", "version": 1}
_MAX_DATAGRAM = 65536


class DaemonProtocolError(ValueError):
    """A datagram that is not the X-Ray daemon protocol (header line, newline, one JSON document)."""


def parse_datagram(data: bytes) -> dict[str, Any]:
    """The segment document carried by one datagram of the daemon protocol."""
    header, newline, body = data.partition(b"\n")
    try:
        if not newline or json.loads(header) != DAEMON_HEADER:
            raise DaemonProtocolError(f"not an X-Ray daemon header: {header[:80]!r}")
        document = json.loads(body)
    except json.JSONDecodeError as error:
        raise DaemonProtocolError(f"not JSON: {error}") from error
    if not isinstance(document, dict) or not {"id", "name", "start_time"} <= document.keys():
        raise DaemonProtocolError("a segment document needs id, name and start_time")
    return document


@dataclass(frozen=True)
class TraceHeader:
    """The trace header Lambda gives the runtime for one sampled invocation (``_X_AMZN_TRACE_ID``)."""

    root: str
    parent: str

    @classmethod
    def new(cls) -> TraceHeader:
        # X-Ray's trace id format: version 1, the epoch second in 8 hex digits, 96 random bits.
        return cls(root=f"1-{int(time.time()):08x}-{secrets.token_hex(12)}", parent=secrets.token_hex(8))

    def __str__(self) -> str:
        return f"Root={self.root};Parent={self.parent};Sampled=1"


@dataclass(frozen=True)
class TracedInvocation:
    function_name: str
    trace_id: str
    request_id: str
    failed: bool


class XRayDaemonStandIn:
    """Receives X-Ray segment documents on a UDP port of 127.0.0.1, as the X-Ray daemon does, and keeps them."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._documents: list[dict[str, Any]] = []
        self._rejected: list[bytes] = []
        self._last_arrival = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="xray-daemon-stand-in", daemon=True)
        self.invocations: list[TracedInvocation] = []

    @property
    def address(self) -> str:
        """What ``AWS_XRAY_DAEMON_ADDRESS`` must say for the SDK to send here."""
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def __enter__(self) -> XRayDaemonStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def _receive(self) -> None:
        while not self._stopping.is_set():
            try:
                data = self._socket.recv(_MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._last_arrival = time.monotonic()
                try:
                    self._documents.append(parse_datagram(data))
                except DaemonProtocolError:
                    self._rejected.append(data)

    @property
    def rejected(self) -> list[bytes]:
        """Datagrams that were not the daemon protocol (a test asserts there are none)."""
        with self._lock:
            return list(self._rejected)

    def record_invocation(
        self,
        *,
        function_name: str,
        header: TraceHeader,
        request_id: str,
        start_time: float,
        end_time: float,
        failed: bool,
        function_arn: str,
    ) -> None:
        """Record the function segment Lambda itself would send for one invocation (the SDK never sends it)."""
        document: dict[str, Any] = {
            "name": function_name,
            "id": header.parent,
            "trace_id": header.root,
            "start_time": start_time,
            "end_time": end_time,
            "origin": "AWS::Lambda::Function",
            "resource_arn": function_arn,
            "aws": {"request_id": request_id},
        }
        if failed:
            document["fault"] = True  # an unhandled function error; X-Ray draws it red
        with self._lock:
            self._documents.append(document)
            self.invocations.append(TracedInvocation(function_name, header.root, request_id, failed))

    def documents(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(doc) for doc in self._documents if trace_id is None or doc.get("trace_id") == trace_id]

    def settle(self, quiet_seconds: float = 0.3, timeout: float = 5.0) -> None:
        """Wait until no datagram has arrived for ``quiet_seconds`` since the call (UDP delivery is asynchronous)."""
        called = time.monotonic()
        deadline = called + timeout
        while time.monotonic() < deadline:
            with self._lock:
                quiet_for = time.monotonic() - max(self._last_arrival, called)
            if quiet_for >= quiet_seconds:
                return
            time.sleep(quiet_seconds - quiet_for)

    def trace(self, trace_id: str) -> Trace:
        self.settle()
        return Trace.assemble(trace_id, self.documents(trace_id))


@dataclass
class Span:
    """One segment or subsegment, with its children in start order."""

    document: dict[str, Any]
    children: list[Span] = field(default_factory=list)
    nested: bool = False  # arrived inside another entity's document (a subsegment, whatever its fields say)

    @property
    def id(self) -> str:
        return str(self.document["id"])

    @property
    def name(self) -> str:
        return str(self.document["name"])

    @property
    def start(self) -> float:
        return float(self.document["start_time"])

    @property
    def end(self) -> float | None:
        end = self.document.get("end_time")
        return None if end is None else float(end)

    @property
    def namespace(self) -> str | None:
        namespace = self.document.get("namespace")
        return None if namespace is None else str(namespace)

    @property
    def is_segment(self) -> bool:
        return not self.nested and self.document.get("type") != "subsegment"

    @property
    def http_status(self) -> int | None:
        status = self.document.get("http", {}).get("response", {}).get("status")
        return None if status is None else int(status)

    @property
    def aws_operation(self) -> str | None:
        operation = self.document.get("aws", {}).get("operation")
        return None if operation is None else str(operation)

    @property
    def flag(self) -> str:
        """X-Ray's failure flag: fault (5xx, unhandled error), error (4xx), throttle (429), or "" when none."""
        return next((flag for flag in ("fault", "throttle", "error") if self.document.get(flag)), "")

    @property
    def failed(self) -> bool:
        return bool(self.flag)

    def ancestors(self, trace: Trace) -> list[Span]:
        """This entity's parents up to the root, nearest first."""
        chain: list[Span] = []
        for root in trace.roots:
            if _path_to(root, self, chain):
                return chain[::-1][1:]
        return []

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Span]]:
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)

    def full_document(self) -> dict[str, Any]:
        """This entity with its subtree nested under ``subsegments``, as X-Ray stores a segment."""
        document = dict(self.document)
        if self.children:
            document["subsegments"] = [child.full_document() for child in self.children]
        return document


def _path_to(node: Span, target: Span, path: list[Span]) -> bool:
    path.append(node)
    if node is target or any(_path_to(child, target, path) for child in node.children):
        return True
    path.pop()
    return False


@dataclass
class Trace:
    """The documents of one trace assembled into trees: normally one root, the function's segment."""

    trace_id: str
    roots: list[Span]

    @classmethod
    def assemble(cls, trace_id: str, documents: list[dict[str, Any]]) -> Trace:
        spans: dict[str, Span] = {}
        parents: dict[str, str] = {}

        def add(document: dict[str, Any], parent_id: str | None) -> None:
            nested = document.get("subsegments", [])
            span = Span({key: value for key, value in document.items() if key != "subsegments"}, nested=bool(parent_id))
            spans[span.id] = span
            if parent_id or document.get("parent_id"):
                parents[span.id] = str(parent_id or document["parent_id"])
            for child in nested:
                add(child, span.id)

        for document in documents:
            add(document, None)
        roots: list[Span] = []
        for span in spans.values():
            parent = spans.get(parents.get(span.id, ""))
            (parent.children if parent is not None else roots).append(span)
        for span in spans.values():
            span.children.sort(key=lambda child: child.start)
        roots.sort(key=lambda root: (not root.is_segment, root.start))
        return cls(trace_id, roots)

    @property
    def root(self) -> Span:
        return self.roots[0]

    @property
    def orphans(self) -> list[Span]:
        """Subsegments whose parent never arrived (X-Ray would show the trace incomplete)."""
        return [span for span in self.roots if not span.is_segment]

    def spans(self) -> list[Span]:
        return [span for root in self.roots for _, span in root.walk()]

    def named(self, name: str) -> list[Span]:
        return [span for span in self.spans() if span.name == name]

    @property
    def start(self) -> float:
        return min(span.start for span in self.spans())

    @property
    def end(self) -> float:
        return max(span.end or span.start for span in self.spans())

    def to_batch_get_traces(self) -> dict[str, Any]:
        """The trace as X-Ray's BatchGetTraces returns it: each segment a JSON string with its subtree nested."""
        return {
            "Traces": [
                {
                    "Id": self.trace_id,
                    "Duration": round(self.end - self.start, 3),
                    "LimitExceeded": False,
                    "Segments": [
                        {"Id": root.id, "Document": json.dumps(root.full_document(), sort_keys=True)}
                        for root in self.roots
                    ],
                }
            ],
            "UnprocessedTraceIds": [],
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_batch_get_traces(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> Trace:
        """A trace file written by :meth:`write` (or saved from ``aws xray batch-get-traces``)."""
        (trace,) = json.loads(path.read_text())["Traces"]
        documents = [json.loads(segment["Document"]) for segment in trace["Segments"]]
        return cls.assemble(trace["Id"], documents)
