"""The 429 policy end to end in definitions: which error a rate-limited run ends with, and what the state machine
does with it.

Lambda's Python runtime reports an unhandled exception with ``errorType`` = the exception class's name, and
Step Functions matches Retry/Catch ``ErrorEquals`` against it, so the names below come from the classes the
handler raises, never from a copy of the string. moto's Step Functions interpreter cannot make a function raise a
chosen error type (tests/integration/orchestration says why), so this retrier is checked against the definition.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from lakepipe.domain.weather.ingest import (
    CitiesFailedError,
    IngestOutcome,
    OpenMeteoQuotaExhaustedError,
    OpenMeteoRateLimitedError,
    plan_scheduled_run,
    run_failure,
)
from lakepipe.domain.weather.landing import CityOutcome, IngestManifest
from lakepipe.domain.weather.open_meteo import DEFAULT_FORECAST_API_URL, RateLimit, RateLimitedError, WeatherApiError
from tests.conftest import REPO_ROOT
from tests.unit.weather.open_meteo_bodies import FOUR_CITIES

PLAN = plan_scheduled_run(
    event_time=datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
    cities=FOUR_CITIES,
    forecast_api_url=DEFAULT_FORECAST_API_URL,
    past_days=2,
    forecast_days=7,
)
ONE_MINUTE = 60


def failed_outcome(error: WeatherApiError) -> IngestOutcome:
    manifest = IngestManifest(
        plan=PLAN, cities=tuple(CityOutcome.failed(city, f"fetch failed: {error}") for city in FOUR_CITIES)
    )
    return IngestOutcome(manifest, api_latency_ms=None, fetch_error=error)


@pytest.mark.parametrize(
    ("limit", "raised"),
    [
        (RateLimit.MINUTELY, OpenMeteoRateLimitedError),
        (RateLimit.UNKNOWN, OpenMeteoRateLimitedError),
        (RateLimit.CONCURRENCY, OpenMeteoRateLimitedError),
        (RateLimit.HOURLY, OpenMeteoQuotaExhaustedError),
        (RateLimit.DAILY, OpenMeteoQuotaExhaustedError),
    ],
)
def test_a_rate_limited_run_ends_with_an_error_named_for_what_can_be_done(
    limit: RateLimit, raised: type[CitiesFailedError]
) -> None:
    error = RateLimitedError("429", limit=limit, lifts_at=datetime(2026, 11, 22, 4, 0, tzinfo=UTC))

    failure = run_failure(failed_outcome(error))

    assert type(failure) is raised
    assert failure is not None
    assert failure.manifest.keys == []
    assert f"Open-Meteo {limit} rate limit (lifts at 2026-11-22T04:00:00Z)" in str(failure)


def test_any_other_failure_stays_a_plain_cities_failed_error() -> None:
    assert type(run_failure(failed_outcome(WeatherApiError("HTTP 503")))) is CitiesFailedError


def test_a_run_that_landed_every_city_has_no_failure() -> None:
    manifest = IngestManifest(plan=PLAN, cities=(CityOutcome.landed(FOUR_CITIES[0], "k", 10),))

    assert run_failure(IngestOutcome(manifest, api_latency_ms=1.0)) is None


def ingest_state() -> dict[str, Any]:
    definition = json.loads((REPO_ROOT / "statemachine" / "weather_pipeline.asl.json").read_text())
    return {"definition": definition, "state": definition["States"]["IngestWeather"]}


def retriers_of(error_name: str) -> list[dict[str, Any]]:
    """The IngestWeather retriers that would match ``error_name`` (wildcards included)."""
    retry = ingest_state()["state"].get("Retry", [])
    wildcards = {"States.ALL", "States.TaskFailed"}
    return [rule for rule in retry if error_name in rule["ErrorEquals"] or wildcards & set(rule["ErrorEquals"])]


def test_the_state_machine_retries_a_minutely_rate_limit_minutes_later_without_jitter() -> None:
    (retrier,) = retriers_of(OpenMeteoRateLimitedError.__name__)
    definition = ingest_state()["definition"]

    waits = [
        retrier["IntervalSeconds"] * retrier.get("BackoffRate", 2.0) ** attempt
        for attempt in range(retrier["MaxAttempts"])
    ]
    # Each wait outlasts the one-minute window the limit counts (jitter would shorten it, possibly to ~0 s)...
    assert "JitterStrategy" not in retrier or retrier["JitterStrategy"] == "NONE"
    assert min(waits) >= 2 * ONE_MINUTE
    # ...and every retry, with the invocations themselves (at most the function's 300 s each), fits the execution
    invocations = (retrier["MaxAttempts"] + 1) * 300
    assert sum(waits) + invocations < definition["TimeoutSeconds"]
    assert waits == [120.0, 240.0, 480.0]


def test_the_state_machine_does_not_retry_an_hourly_or_daily_quota_within_the_execution() -> None:
    # The hourly limit lifts on the hour, when the next scheduled run starts anyway; the daily one at midnight.
    assert retriers_of(OpenMeteoQuotaExhaustedError.__name__) == []
    assert retriers_of(CitiesFailedError.__name__) == []
