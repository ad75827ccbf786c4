"""The demo's X-Ray traces: every function invocation traced, checked, written as X-Ray documents and drawn.

``recording_traces`` starts the X-Ray daemon stand-in and traces every ``lambda_runtime.invoke`` inside it.
``TraceRecorder.report`` then checks each invocation's trace against what that kind of invocation must show
(the CSV pipeline's read/convert/write spans with their S3 and Glue calls, the idempotency records in
DynamoDB, the Open-Meteo request and its status) and writes, per invocation, the trace as BatchGetTraces returns
it (``NN-<function>.json``) and its waterfall (``NN-<function>.png``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lakepipe_cli.lambda_runtime import tracing_every_invocation
from lakepipe_cli.trace_waterfall import render_png
from lakepipe_cli.xray_local import Span, Trace, XRayDaemonStandIn


@dataclass(frozen=True)
class Expected:
    """A subsegment a trace must (or, with ``present=False``, must not) hold."""

    description: str
    name: str | None = None
    operation: str | None = None
    namespace: str | None = None
    status: int | None = None
    inside: str | None = None  # the name of an ancestor it must be under
    present: bool = True

    def matches(self, span: Span, trace: Trace) -> bool:
        return (
            (self.name is None or span.name == self.name)
            and (self.operation is None or span.aws_operation == self.operation)
            and (self.namespace is None or span.namespace == self.namespace)
            and (self.status is None or span.http_status == self.status)
            and (self.inside is None or any(parent.name == self.inside for parent in span.ancestors(trace)))
        )

    def holds_in(self, trace: Trace) -> bool:
        found = any(self.matches(span, trace) for span in trace.spans() if not span.is_segment)
        return found == self.present


HANDLER = Expected("the handler's subsegment", name="## lambda_handler")
IDEMPOTENCY_CLAIM = Expected("DynamoDB PutItem (idempotency record)", name="dynamodb", operation="PutItem")
CSV_CONVERSION: tuple[Expected, ...] = (
    HANDLER,
    IDEMPOTENCY_CLAIM,
    Expected("read", name="read", inside="## lambda_handler"),
    Expected("convert", name="convert", inside="## lambda_handler"),
    Expected("write", name="write", inside="## lambda_handler"),
    Expected("S3 GetObject in read", name="s3", operation="GetObject", inside="read"),
    Expected("Glue GetTable in read", name="glue", operation="GetTable", inside="read"),
    Expected("a Glue call in write", name="glue", inside="write"),
    Expected("DynamoDB UpdateItem (record completed)", name="dynamodb", operation="UpdateItem"),
)
# S3's s3:TestEvent (sent when the bucket's notification is set): the queue's first message, no object.
CSV_TEST_EVENT: tuple[Expected, ...] = (
    HANDLER,
    Expected("no idempotency record", name="dynamodb", present=False),
    Expected("no conversion", name="convert", present=False),
)
CSV_DUPLICATE: tuple[Expected, ...] = (
    HANDLER,
    IDEMPOTENCY_CLAIM,
    Expected("no conversion", name="convert", present=False),
)
WEATHER_INGEST: tuple[Expected, ...] = (
    HANDLER,
    IDEMPOTENCY_CLAIM,
    Expected("the Open-Meteo request, HTTP 200", namespace="remote", status=200),
    Expected("S3 PutObject (landing)", name="s3", operation="PutObject"),
    Expected("DynamoDB UpdateItem (record completed)", name="dynamodb", operation="UpdateItem"),
)


@dataclass
class TraceReport:
    function_name: str
    trace_id: str
    document: Path
    waterfall: Path
    subsegments: int
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing


@dataclass
class TraceRecorder:
    directory: Path
    xray: XRayDaemonStandIn
    traces: list[Trace] = field(default_factory=list)

    def report(self, expectations: Sequence[Sequence[Expected]]) -> list[TraceReport]:
        """Check, write and draw each invocation's trace; ``expectations`` lists what each must hold, in order."""
        self.xray.settle()
        shutil.rmtree(self.directory, ignore_errors=True)
        reports = []
        invocations = self.xray.invocations
        for number, invocation in enumerate(invocations, start=1):
            trace = self.xray.trace(invocation.trace_id)
            self.traces.append(trace)
            stem = f"{number:02d}-{invocation.function_name}"
            expected = expectations[number - 1] if number <= len(expectations) else ()
            missing = [item.description for item in expected if not item.holds_in(trace)]
            missing += [f"orphan subsegment {span.name}" for span in trace.orphans]
            reports.append(
                TraceReport(
                    function_name=invocation.function_name,
                    trace_id=invocation.trace_id,
                    document=trace.write(self.directory / f"{stem}.json"),
                    waterfall=render_png(trace, self.directory / f"{stem}.png"),
                    subsegments=len(trace.spans()) - 1,
                    missing=missing,
                )
            )
        if len(invocations) != len(expectations):
            reports.append(
                TraceReport(
                    "(all)",
                    "",
                    self.directory,
                    self.directory,
                    0,
                    [f"{len(invocations)} traces, {len(expectations)} expected"],
                )
            )
        return reports


@contextmanager
def recording_traces(directory: Path) -> Iterator[TraceRecorder]:
    """Trace every function invocation in the block into an X-Ray daemon stand-in on 127.0.0.1."""
    with XRayDaemonStandIn() as xray, tracing_every_invocation(xray):
        yield TraceRecorder(directory, xray)
