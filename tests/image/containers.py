"""Running the built image: through `sam local invoke` (the user's command), or as Lambda runs it (`docker run`
with the image's own entrypoint, behind a local Runtime API that traces the invocation).

`sam local invoke` exits 0 even when the function raised or never answered, so its verdict is read from the
response it prints, never from its exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakepipe_cli.local_aws import LOCAL_REGION
from lakepipe_cli.runtime_api import LocalRuntimeApi
from lakepipe_cli.xray_local import XRayDaemonStandIn

REPO_ROOT = Path(__file__).resolve().parents[2]
SAM = REPO_ROOT / ".venv" / "bin" / "sam"
# Credentials for moto only: the subprocesses get these and nothing from the developer's own environment.
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


class InvocationFailedError(AssertionError):
    """The function answered with an error, or not at all."""


def docker_host() -> str:
    """The Docker API the image tier talks to (the proxy that gives containers the host's loopback)."""
    return os.environ.get("LAKEPIPE_DOCKER_HOST") or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def clean_environment(**extra: str) -> dict[str, str]:
    """A minimal environment for docker and sam: nothing of this process's AWS or Powertools variables, which
    SAM CLI would otherwise pass into the container for every variable the template declares."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "DOCKER_HOST": docker_host(),
        "SAM_CLI_TELEMETRY": "0",
        **FAKE_CREDENTIALS,
        **extra,
    }


@dataclass
class SamInvocation:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def response(self) -> Any:
        """The function's response as `sam local invoke` prints it; raises when the function did not succeed."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise InvocationFailedError(f"no response (exit code {self.exit_code}); stderr:\n{self.stderr[-3000:]}")
        try:
            response = json.loads(lines[-1])
        except json.JSONDecodeError as error:
            raise InvocationFailedError(f"not a JSON response: {lines[-1][:500]}") from error
        if isinstance(response, dict) and {"errorType", "errorMessage"} & response.keys():
            raise InvocationFailedError(f"the function failed: {json.dumps(response)[:2000]}")
        return response


def sam_local_invoke(function_id: str, *, template: Path, event: Path, env_vars: Path) -> SamInvocation:
    """`sam local invoke FUNCTION -e EVENT --env-vars ENV`, as the README tells a user to run it."""
    completed = subprocess.run(
        [
            str(SAM),
            "local",
            "invoke",
            function_id,
            "--template",
            str(template),
            "--event",
            str(event),
            "--env-vars",
            str(env_vars),
            "--region",
            LOCAL_REGION,
            "--skip-pull-image",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_environment(),
        cwd=REPO_ROOT,
        check=False,
    )
    return SamInvocation(completed.returncode, completed.stdout, completed.stderr)


def lambda_environment(
    function_id: str, function_variables: Mapping[str, str], *, memory_mb: int, runtime_api: str, xray: str
) -> dict[str, str]:
    """The variables Lambda sets in a function's environment (the reserved ones), plus the function's own."""
    host, port = xray.split(":")
    return {
        **function_variables,
        "AWS_LAMBDA_FUNCTION_NAME": function_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local/image-test",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_XRAY_DAEMON_ADDRESS": xray,
        "_AWS_XRAY_DAEMON_ADDRESS": host,
        "_AWS_XRAY_DAEMON_PORT": port,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_REGION": LOCAL_REGION,
        "AWS_DEFAULT_REGION": LOCAL_REGION,
        **FAKE_CREDENTIALS,
    }


@dataclass
class RunningFunction:
    container_id: str
    api: LocalRuntimeApi

    def logs(self) -> str:
        completed = subprocess.run(
            ["docker", "logs", self.container_id], capture_output=True, text=True, env=clean_environment(), check=False
        )
        return completed.stdout + completed.stderr


@contextmanager
def function_container(
    image: str,
    command: list[str] | None,
    *,
    function_id: str,
    function_variables: Mapping[str, str],
    memory_mb: int,
    timeout_seconds: int,
    xray: XRayDaemonStandIn,
) -> Iterator[RunningFunction]:
    """The image started as Lambda starts it: its entrypoint, ``command`` (None: the image's own CMD), the
    Lambda environment, on the host's network (loopback only: every listener here binds 127.0.0.1)."""
    with LocalRuntimeApi(function_name=function_id, timeout_seconds=timeout_seconds, xray=xray) as api:
        environment = lambda_environment(
            function_id, function_variables, memory_mb=memory_mb, runtime_api=api.address, xray=xray.address
        )
        arguments = ["docker", "run", "--detach", "--network", "host", f"--memory={memory_mb}m"]
        for name, value in environment.items():
            arguments += ["--env", f"{name}={value}"]
        started = subprocess.run(
            [*arguments, image, *(command or [])], capture_output=True, text=True, env=clean_environment(), check=True
        )
        running = RunningFunction(started.stdout.strip(), api)
        try:
            yield running
        finally:
            subprocess.run(
                ["docker", "rm", "--force", running.container_id],
                capture_output=True,
                env=clean_environment(),
                check=False,
            )
