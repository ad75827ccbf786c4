"""Fixtures shared by every tier.

Every test runs with fake credentials and no endpoint, so nothing can reach a real AWS account; integration
tests opt in to a moto server (one per test session, state reset per test) with the ``local_aws`` fixture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

_SAFE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "eu-west-3",
    "AWS_DEFAULT_REGION": "eu-west-3",
    "POWERTOOLS_SERVICE_NAME": "lakepipe",
    "POWERTOOLS_METRICS_NAMESPACE": "lakepipe-test",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
# Powertools reads its variables when lakepipe.observability is imported (as Lambda does at cold start), which
# happens at collection, before any fixture: set them for the whole process first.
os.environ.update(_SAFE_ENVIRONMENT)

from lakepipe.adapters.aws import reset_clients  # noqa: E402
from lakepipe_cli.local_aws import LocalStack, local_aws_environment, moto_server, provision_from_template  # noqa: E402
from tools.sam_translate import translate  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in _SAFE_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    yield
    reset_clients()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test session (per xdist worker)."""
    with moto_server() as endpoint_url:
        yield endpoint_url


@pytest.fixture
def local_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """A clean moto server with the template's data-plane resources, and the environment pointed at it."""
    return provision_local_aws(moto_endpoint, monkeypatch)


def provision_local_aws(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, parameters: Mapping[str, str] | None = None
) -> LocalStack:
    """``local_aws`` with template parameters other than the defaults (e.g. ``{"InputPrefix": "input data/"}``)."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    for name, value in local_aws_environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    reset_clients()
    stack = provision_from_template(moto_endpoint, parameters)
    # Every function's variables as the template gives them (names, queues, limits), the endpoint kept local.
    for environment in stack.function_environments.values():
        for name, value in environment.items():
            if not name.startswith(("AWS_", "POWERTOOLS_")):
                monkeypatch.setenv(name, value)
    return stack


@pytest.fixture(scope="session")
def translated_template() -> dict[str, Any]:
    """template.yaml expanded to CloudFormation, as CloudFormation's SAM transform would."""
    return translate(REPO_ROOT / "template.yaml")


def load_event(name: str) -> dict[str, Any]:
    """An event from events/, the same file `sam local invoke -e` uses."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event
