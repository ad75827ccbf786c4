"""Weather integration fixtures: the moto stand-in from the template, and Open-Meteo faked with `responses`."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
import responses

from lakepipe.adapters.aws import reset_clients
from lakepipe_cli.lambda_runtime import LocalLambdaContext
from lakepipe_cli.local_aws import LocalStack

# One IngestWeatherFunction invocation's context, as the Lambda runtime gives it.
LambdaContext = partial(
    LocalLambdaContext, function_name="lakepipe-dev-IngestWeatherFunction", memory_limit_in_mb=512, timeout_seconds=300
)


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
