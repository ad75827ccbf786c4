"""Invoke a real lakepipe handler in-process the way the Lambda runtime would: its environment, a context.

Used by the demo; the handler code is the code that ships in the image, unchanged.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lakepipe.adapters.aws import reset_clients


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
    os.environ.update(variables)
    reset_clients()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_clients()


def invoke(
    handler: Callable[[dict[str, Any], Any], Any],
    event: dict[str, Any],
    *,
    function_name: str,
    environment: Mapping[str, str],
    memory_limit_in_mb: int = 1024,
) -> Any:
    """Call ``handler`` with ``event`` in ``environment`` and a fresh context, as one Lambda invocation."""
    with function_environment(environment):
        return handler(event, LocalLambdaContext(function_name=function_name, memory_limit_in_mb=memory_limit_in_mb))
