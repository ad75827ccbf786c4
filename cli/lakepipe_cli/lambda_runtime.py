"""Invoke a real lakepipe handler in-process the way the Lambda runtime would: its environment, a context.

Used by the demo; the handler code is the code that ships in the image, unchanged.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from typing import Any, TextIO

from lakepipe.adapters.aws import reset_clients
from lakepipe.observability import logger, metrics


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


def invoke(
    handler: Callable[[dict[str, Any], Any], Any],
    event: dict[str, Any],
    *,
    function_name: str,
    environment: Mapping[str, str],
    memory_limit_in_mb: int = 1024,
    log_file: TextIO | None = None,
) -> Any:
    """Call ``handler`` with ``event`` in ``environment`` and a fresh context, as one Lambda invocation."""
    context = LocalLambdaContext(function_name=function_name, memory_limit_in_mb=memory_limit_in_mb)
    with function_environment(environment), function_output(log_file):
        return handler(event, context)
