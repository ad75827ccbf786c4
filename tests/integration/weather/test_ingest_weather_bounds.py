"""IngestWeatherFunction on moto against misbehaving Open-Meteo stand-ins on 127.0.0.1: the run's deadline comes
from the invocation's remaining time, and oversized, redirected and rate-limited answers fail the run cleanly.

Each case checks the three things an operator relies on: the invocation ends (within the function's time, with
room left to report), nothing half-fetched is landed, and no idempotency record blocks the retry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
import responses

from lakepipe.adapters.aws import reset_clients
from lakepipe.domain.weather.ingest import CitiesFailedError, OpenMeteoQuotaExhaustedError, OpenMeteoRateLimitedError
from lakepipe.domain.weather.open_meteo import DEFAULT_FORECAST_API_URL
from lakepipe.handlers.ingest_weather import lambda_handler
from lakepipe_cli.lambda_runtime import LocalLambdaContext
from lakepipe_cli.local_aws import LocalStack
from tests.conftest import load_event
from tests.integration.weather.loopback_http import (
    answer,
    endless_body,
    head,
    loopback_server,
    then_trickle,
)
from tests.integration.weather.test_ingest_weather_handler import emitted_metrics
from tests.unit.weather.open_meteo_bodies import FORECAST_4_CITIES, body

pytestmark = pytest.mark.integration

RESERVE_SECONDS = 20  # INGEST_LANDING_RESERVE_SECONDS' default
SLACK_SECONDS = 1.5


PointApi = Callable[[str], None]


def context(timeout_seconds: int) -> LocalLambdaContext:
    """A fresh invocation's context: ``timeout_seconds`` remain."""
    return LocalLambdaContext(
        function_name="lakepipe-dev-IngestWeatherFunction", memory_limit_in_mb=512, timeout_seconds=timeout_seconds
    )


@pytest.fixture
def forecast_url_at(weather_aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> PointApi:
    """Point OPEN_METEO_FORECAST_URL at a loopback server for the invocation."""

    def point(url: str) -> None:
        monkeypatch.setenv("OPEN_METEO_FORECAST_URL", url)
        reset_clients()  # settings are read once per container: re-read them

    return point


def landed(bucket: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="landing/weather/").get("Contents", [])
    return [item["Key"] for item in listing]


def idempotency_records(stack: LocalStack) -> list[Any]:
    return list(boto3.client("dynamodb").scan(TableName=stack.idempotency_table)["Items"])


def test_a_one_byte_a_second_api_is_cut_off_where_the_invocations_time_minus_the_landing_reserve_ends(
    weather_aws: LocalStack, forecast_url_at: PointApi
) -> None:
    # Given an API that sends its headers, then one byte a second (each read well within the 30 s read timeout),
    # and an invocation with 23 s left, 20 s of which are kept back for landing: a 3 s budget for the fetch
    trickling = then_trickle(
        head("200 OK", {"Content-Length": str(len(body(FORECAST_4_CITIES)))}), body(FORECAST_4_CITIES)
    )
    with loopback_server(trickling) as api:
        forecast_url_at(api.url + "/v1/forecast")

        # When the scheduled event is handled
        started = time.monotonic()
        with pytest.raises(CitiesFailedError) as failed:
            lambda_handler(load_event("scheduled-event.json"), context(timeout_seconds=RESERVE_SECONDS + 3))
        elapsed = time.monotonic() - started

    # Then the fetch ends by its deadline, not at the server's pace (the 22 KB body would take six hours), the run
    # fails every city naming the deadline, nothing is landed, and the retry is not blocked
    assert elapsed <= 3 + SLACK_SECONDS, elapsed
    assert "before the run's deadline" in str(failed.value)
    assert type(failed.value) is CitiesFailedError
    assert len(api.log.paths) == 1
    assert landed(weather_aws.bucket) == []
    assert idempotency_records(weather_aws) == []


def test_an_invocation_with_no_time_beyond_the_reserve_does_not_call_the_api(
    weather_aws: LocalStack, forecast_url_at: PointApi
) -> None:
    with loopback_server(answer("200 OK", body(FORECAST_4_CITIES))) as api:
        forecast_url_at(api.url + "/v1/forecast")

        with pytest.raises(CitiesFailedError, match="no time left for attempt 1"):
            lambda_handler(load_event("scheduled-event.json"), context(timeout_seconds=RESERVE_SECONDS))

    assert api.log.paths == []
    assert landed(weather_aws.bucket) == []


def test_a_runaway_body_is_refused_at_the_cap_derived_from_the_request(
    weather_aws: LocalStack, forecast_url_at: PointApi
) -> None:
    # Given an API answering 200 with a 200 MB body (the 4 default cities x 9 days are worth about 50 KB)
    with loopback_server(endless_body(total_bytes=200 * 1024 * 1024)) as api:
        forecast_url_at(api.url + "/v1/forecast")

        with pytest.raises(CitiesFailedError) as failed:
            lambda_handler(load_event("scheduled-event.json"), context(timeout_seconds=60))

    # Then it is refused at the derived cap (the 1 MiB floor here), having read little more than that
    assert "response body exceeds the 1,048,576 bytes this request may take" in str(failed.value)
    assert api.log.bytes_sent < 64 * 1024 * 1024
    assert landed(weather_aws.bucket) == []


def test_a_redirect_to_another_host_is_refused_and_nothing_lands(
    weather_aws: LocalStack, forecast_url_at: PointApi
) -> None:
    # Given the configured API redirects to another server that would answer with a well-formed body
    with loopback_server(answer("200 OK", body(FORECAST_4_CITIES))) as other:
        redirect = answer("302 Found", b"", {"Location": other.url + "/v1/forecast"})
        with loopback_server(redirect) as api:
            forecast_url_at(api.url + "/v1/forecast")

            with pytest.raises(CitiesFailedError, match="only same-origin redirects"):
                lambda_handler(load_event("scheduled-event.json"), context(timeout_seconds=60))

    assert other.log.paths == []
    assert landed(weather_aws.bucket) == []


@pytest.mark.parametrize(
    "case",
    [
        ("Minutely API request limit exceeded. Please try again in one minute.", OpenMeteoRateLimitedError, "minutely"),
        (
            "Hourly API request limit exceeded. Please try again in the next hour.",
            OpenMeteoQuotaExhaustedError,
            "hourly",
        ),
        ("Daily API request limit exceeded. Please try again tomorrow.", OpenMeteoQuotaExhaustedError, "daily"),
    ],
    ids=["minutely", "hourly", "daily"],
)
def test_open_meteo_rate_limits_end_the_run_with_the_error_the_state_machine_acts_on(
    weather_aws: LocalStack,
    open_meteo: responses.RequestsMock,
    capsys: pytest.CaptureFixture[str],
    case: tuple[str, type[CitiesFailedError], str],
) -> None:
    reason, raised, limit = case
    # Given Open-Meteo's 429 (its JSON body, no Retry-After) and an invocation with less than a second for the fetch
    # beyond the landing reserve: too short to wait for the next minute whatever the clock says (that wait is at
    # least 1 s; with 10 s, as this test once had, the run waited whenever it started in a minute's last 9 s)
    open_meteo.get(DEFAULT_FORECAST_API_URL, status=429, json={"error": True, "reason": reason})

    started = time.monotonic()
    with pytest.raises(CitiesFailedError) as failed:
        lambda_handler(load_event("scheduled-event.json"), context(timeout_seconds=RESERVE_SECONDS + 1))

    # Then the run fails at once (no futile 1-2-4 s retries), with the error named for what can be done: the
    # state machine retries OpenMeteoRateLimitedError minutes later, and leaves the quota ones to the next run
    assert time.monotonic() - started < 5
    assert type(failed.value) is raised
    assert f"Open-Meteo {limit} rate limit (lifts at " in str(failed.value)
    assert len(open_meteo.calls) == 1
    assert landed(weather_aws.bucket) == []
    assert idempotency_records(weather_aws) == []
    (emf,) = emitted_metrics(capsys.readouterr().out)
    assert (emf["CitiesFetched"], emf["CitiesFailed"]) == (0.0, 4.0)
