"""Invoke a real lakepipe handler in-process the way the Lambda runtime would: its environment, a context, a trace.

Used by the demo and the tests; the handler code is the code that ships in the image, unchanged. Given an
:class:`~lakepipe_cli.xray_local.XRayDaemonStandIn`, an invocation is traced as on Lambda with ``Tracing: Active``:
the SDK is put in the state Lambda's runtime leaves it in, the invocation gets a sampled trace header, and the
function segment Lambda itself records is recorded.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TextIO

import aws_xray_sdk
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.lambda_launcher import LambdaContext

from lakepipe.adapters.aws import reset_clients
from lakepipe.observability import logger, metrics, tracer
from lakepipe_cli.xray_local import TraceHeader, XRayDaemonStandIn

_tracing_to: ContextVar[XRayDaemonStandIn | None] = ContextVar("tracing_to", default=None)


@dataclass
class LocalLambdaContext:
    """The attributes and method the Lambda runtime's context object gives a handler (and Powertools reads)."""

    function_name: str
    memory_limit_in_mb: int = 1024
    timeout_seconds: int = 60
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:eu-west-3:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


@contextmanager
def function_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set a function's environment for the duration of an invocation, then restore the process's."""
    saved = dict(os.environ)
    saved_namespace = metrics.namespace
    os.environ.update(variables)
    _apply_powertools_variables(variables)
    reset_clients()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        metrics.namespace = saved_namespace
        reset_clients()


def _apply_powertools_variables(variables: Mapping[str, str]) -> None:
    """Powertools reads its variables when lakepipe.observability is imported — at cold start on Lambda, but
    before any function environment exists in this process — so apply them to the shared instances here."""
    if "POWERTOOLS_METRICS_NAMESPACE" in variables:
        metrics.namespace = variables["POWERTOOLS_METRICS_NAMESPACE"]
    if "POWERTOOLS_SERVICE_NAME" in variables:
        logger.append_keys(service=variables["POWERTOOLS_SERVICE_NAME"])
    if "POWERTOOLS_LOG_LEVEL" in variables:
        logger.setLevel(variables["POWERTOOLS_LOG_LEVEL"])


@contextmanager
def function_output(log_file: TextIO | None) -> Iterator[None]:
    """Send what a function prints (Powertools JSON logs, EMF metrics) to ``log_file``, as Lambda sends it to
    CloudWatch Logs, instead of the terminal; None leaves it where it goes."""
    if log_file is None:
        yield
        return
    handler = logger.registered_handler
    stream_handler = handler if isinstance(handler, logging.StreamHandler) else None
    previous = stream_handler.setStream(log_file) if stream_handler is not None else None
    try:
        with redirect_stdout(log_file):
            yield
    finally:
        if stream_handler is not None and previous is not None:
            stream_handler.setStream(previous)


@contextmanager
def lambda_tracing(daemon_address: str) -> Iterator[None]:
    """The X-Ray SDK and Powertools' Tracer as they are inside Lambda with active tracing, for the block.

    In Lambda the SDK finds ``LAMBDA_TASK_ROOT`` when it is imported and takes the trace from each invocation's
    ``_X_AMZN_TRACE_ID``, streaming every subsegment as it closes; Powertools patches the AWS SDK and requests.
    Here the process was not started as Lambda (tests import everything first, with tracing off), so the same
    state is set explicitly and undone afterwards.
    """
    saved = (xray_recorder.context, xray_recorder.streaming_threshold, aws_xray_sdk.global_sdk_config.sdk_enabled())
    saved_disabled = tracer.disabled
    xray_recorder.configure(context=LambdaContext(), streaming_threshold=0, daemon_address=daemon_address)
    aws_xray_sdk.global_sdk_config.set_sdk_enabled(True)
    tracer.disabled = False
    tracer.patch()  # Powertools' auto-patch (every library the SDK supports); patching twice is a no-op
    try:
        yield
    finally:
        context, threshold, enabled = saved
        xray_recorder.configure(context=context, streaming_threshold=threshold)
        aws_xray_sdk.global_sdk_config.set_sdk_enabled(enabled)
        tracer.disabled = saved_disabled


@contextmanager
def tracing_every_invocation(xray: XRayDaemonStandIn) -> Iterator[XRayDaemonStandIn]:
    """Trace every :func:`invoke` in the block (that names no daemon itself) to ``xray``."""
    token = _tracing_to.set(xray)
    try:
        yield xray
    finally:
        _tracing_to.reset(token)


def invoke(
    handler: Callable[[dict[str, Any], Any], Any],
    event: dict[str, Any],
    *,
    function_name: str,
    environment: Mapping[str, str],
    memory_limit_in_mb: int = 1024,
    log_file: TextIO | None = None,
    xray: XRayDaemonStandIn | None = None,
) -> Any:
    """Call ``handler`` with ``event`` in ``environment`` and a fresh context, as one Lambda invocation.

    With ``xray`` (or inside :func:`tracing_every_invocation`), the invocation is traced and its trace id is
    in ``xray.invocations``.
    """
    context = LocalLambdaContext(function_name=function_name, memory_limit_in_mb=memory_limit_in_mb)
    xray = xray or _tracing_to.get()
    if xray is None:
        with function_environment(environment), function_output(log_file):
            return handler(event, context)
    header = TraceHeader.new()
    traced_environment = {**environment, "_X_AMZN_TRACE_ID": str(header), "AWS_XRAY_DAEMON_ADDRESS": xray.address}
    failed, started, ended = True, time.time(), None
    try:
        with function_environment(traced_environment), lambda_tracing(xray.address), function_output(log_file):
            started = time.time()
            try:
                response = handler(event, context)
            finally:
                ended = time.time()
        failed = False
        return response
    finally:
        xray.record_invocation(
            function_name=function_name,
            header=header,
            request_id=context.aws_request_id,
            start_time=started,
            end_time=ended or time.time(),
            failed=failed,
            function_arn=context.invoked_function_arn,
        )
