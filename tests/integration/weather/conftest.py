"""Weather integration fixtures: the moto stand-in from the template, and Open-Meteo faked with `responses`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import responses

from lakepipe.adapters.aws import reset_clients
from lakepipe_cli.local_aws import LocalStack


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of the Lambda context object that Powertools reads."""

    function_name: str = "lakepipe-dev-IngestWeatherFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:lakepipe-dev-IngestWeatherFunction"
    aws_request_id: str = "0f1e2d3c-4b5a-4968-8776-655443322110"
    log_group_name: str = "/aws/lambda/lakepipe-dev-IngestWeatherFunction"
    log_stream_name: str = "2026/11/22/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def weather_aws(local_aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """The stack's environment as the template sets it, with the fixtures' 2 past + 2 forecast days and no waits."""
    monkeypatch.setenv("WEATHER_PAST_DAYS", "2")
    monkeypatch.setenv("WEATHER_FORECAST_DAYS", "2")
    monkeypatch.setenv("OPEN_METEO_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("OPEN_METEO_BACKOFF_SECONDS", "0")
    reset_clients()
    return local_aws


@pytest.fixture
def open_meteo(weather_aws: LocalStack) -> Iterator[responses.RequestsMock]:
    """Open-Meteo, faked; started after the moto server is provisioned (boto3 does not go through requests)."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock
