"""Fixtures of the orchestration tests: the pipeline on the moto server, and a clock for retry delays."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lakepipe_cli.local_aws import LocalStack
from tests.integration.orchestration.harness import (
    PipelineHarness,
    RetryClock,
    install_retry_clock,
    moto_configured_for_orchestration,
)


@pytest.fixture
def pipeline(
    local_aws: LocalStack, translated_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[PipelineHarness]:
    with moto_configured_for_orchestration(local_aws.endpoint_url, monkeypatch):
        harness = PipelineHarness(local_aws, translated_template)
        harness.provision()
        yield harness


@pytest.fixture
def retry_clock(monkeypatch: pytest.MonkeyPatch) -> RetryClock:
    return install_retry_clock(monkeypatch)
