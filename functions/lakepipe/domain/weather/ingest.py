"""One ingestion run: fetch every city in one request, check the answer, land each city's raw bytes.

The API client and the landing store are injected (:class:`WeatherApi`, :class:`LandingStore`), so the scheduled
Lambda, the backfill command and the tests run this same code against Open-Meteo or ``responses``, and S3, moto
or a local directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from lakepipe.domain.weather.cities import City
from lakepipe.domain.weather.deadline import Deadline
from lakepipe.domain.weather.landing import CityOutcome, IngestManifest, LandingRun, RunPlan
from lakepipe.domain.weather.open_meteo import (
    HOURLY_VARIABLES,
    ApiRequest,
    ApiResponse,
    LocationShapeError,
    RateLimitedError,
    ResponseShapeError,
    WeatherApiError,
    check_location,
    forecast_request,
    split_locations,
)

# S3 caps all user metadata of an object at 2 KB; a request URL for many cities could exceed it on its own.
MAX_METADATA_URL_LENGTH = 1024


class WeatherApi(Protocol):
    def fetch(self, request: ApiRequest, deadline: Deadline | None = None) -> ApiResponse: ...


class LandingStore(Protocol):
    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> None: ...

    def read(self, key: str) -> bytes | None: ...


class LandingWriteError(RuntimeError):
    """The store refused an object; the store adapter translates its own errors into this one."""


class CitiesFailedError(RuntimeError):
    """Raised after a run that landed what it could but not every city, so retries and alarms see the run fail."""

    def __init__(self, manifest: IngestManifest, detail: str | None = None) -> None:
        super().__init__(manifest.summary() + (f"; {detail}" if detail else ""))
        self.manifest = manifest


class OpenMeteoRateLimitedError(CitiesFailedError):
    """The run failed on an Open-Meteo rate limit that lifts within minutes: retrying the run then can succeed.

    The state machine retries this error by name (statemachine/weather_pipeline.asl.json, IngestWeather).
    """


class OpenMeteoQuotaExhaustedError(CitiesFailedError):
    """The run failed on Open-Meteo's hourly or daily limit: no retry within this run's execution can succeed;
    the next scheduled run (which re-fetches the past days) is the retry."""


@dataclass(frozen=True)
class IngestOutcome:
    manifest: IngestManifest
    api_latency_ms: float | None
    fetch_error: WeatherApiError | None = None


def run_failure(outcome: IngestOutcome) -> CitiesFailedError | None:
    """The error a failed run ends with, named for what can be done about it; None if every city landed."""
    if not outcome.manifest.failed:
        return None
    error = outcome.fetch_error
    if isinstance(error, RateLimitedError):
        lifts = "" if error.lifts_at is None else f" (lifts at {error.lifts_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ})"
        detail = f"Open-Meteo {error.limit} rate limit{lifts}"
        if error.lifts_within_the_hour:
            return OpenMeteoRateLimitedError(outcome.manifest, detail)
        return OpenMeteoQuotaExhaustedError(outcome.manifest, detail)
    return CitiesFailedError(outcome.manifest)


def plan_scheduled_run(
    *, event_time: datetime, cities: Sequence[City], forecast_api_url: str, past_days: int, forecast_days: int
) -> RunPlan:
    """The run for a scheduled event at ``event_time``: from ``past_days`` before its UTC date (re-fetched so a
    short outage heals) through ``forecast_days`` days counting that date."""
    if past_days < 0 or forecast_days < 0 or past_days + forecast_days < 1:
        raise ValueError(f"past_days={past_days}, forecast_days={forecast_days} cover no day")
    run = LandingRun.at(event_time)
    window_start = run.ingest_date - timedelta(days=past_days)
    window_end = run.ingest_date + timedelta(days=forecast_days - 1)
    request = forecast_request(base_url=forecast_api_url, cities=cities, start_date=window_start, end_date=window_end)
    return RunPlan(run=run, window_start=window_start, window_end=window_end, request=request)


def ingest(
    *,
    plan: RunPlan,
    cities: Sequence[City],
    api: WeatherApi,
    store: LandingStore,
    deadline: Deadline | None = None,
    variables: Sequence[str] = HOURLY_VARIABLES,
) -> IngestOutcome:
    """Fetch ``plan.request`` by ``deadline`` and land one object per city; a city that fails does not stop the
    others.

    A fetch that fails (including on the deadline), or a body that is wrong as a whole (not JSON, fewer locations
    than cities), fails every city and writes nothing.
    """
    try:
        response = api.fetch(plan.request, deadline)
    except WeatherApiError as error:
        return IngestOutcome(
            _all_failed(plan, cities, f"fetch failed: {error}"), api_latency_ms=None, fetch_error=error
        )
    try:
        locations = split_locations(response.body, expected=len(cities))
    except ResponseShapeError as error:
        return IngestOutcome(_all_failed(plan, cities, f"unusable response: {error}"), response.latency_ms)
    metadata = landing_metadata(response)
    outcomes: list[CityOutcome] = []
    for position, (city, location) in enumerate(zip(cities, locations, strict=True)):
        key = plan.run.key_for(city)
        try:
            check_location(location, city, position=position, variables=variables)
            store.put(key, location.raw, metadata)
        except (LocationShapeError, LandingWriteError) as error:
            outcomes.append(CityOutcome.failed(city, str(error)))
        else:
            outcomes.append(CityOutcome.landed(city, key, len(location.raw)))
    return IngestOutcome(IngestManifest(plan=plan, cities=tuple(outcomes)), response.latency_ms)


def landing_metadata(response: ApiResponse) -> dict[str, str]:
    """Object metadata recording where, when and with what status the bytes were fetched."""
    url = response.url
    if len(url) > MAX_METADATA_URL_LENGTH:
        url = url[: MAX_METADATA_URL_LENGTH - 3] + "..."
    return {
        "request-url": url,
        "fetched-at": response.fetched_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "http-status": str(response.status),
    }


def _all_failed(plan: RunPlan, cities: Sequence[City], error: str) -> IngestManifest:
    return IngestManifest(plan=plan, cities=tuple(CityOutcome.failed(city, error) for city in cities))
