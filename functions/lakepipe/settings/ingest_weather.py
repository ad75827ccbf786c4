"""Settings of IngestWeatherFunction (and of ``lakepipe backfill``, which shares the API part).

Every value comes from the template (Parameters → Environment). ``WEATHER_CITIES`` is parsed and validated here,
at cold start, so a bad entry fails the first invocation with its position and reason instead of a run.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from lakepipe.domain.weather.cities import DEFAULT_CITIES_SPEC, CitiesConfigError, City, parse_cities, select_cities
from lakepipe.domain.weather.open_meteo import DEFAULT_ARCHIVE_API_URL, DEFAULT_FORECAST_API_URL
from lakepipe.settings import FunctionSettings

_HTTP_URL = r"^https?://[^\s/?#]+[^\s?#]*$"


class OpenMeteoSettings(FunctionSettings):
    """Which cities, which API endpoints, which days, and how patiently to call them."""

    cities: tuple[City, ...] = Field(default_factory=lambda: parse_cities(DEFAULT_CITIES_SPEC), alias="WEATHER_CITIES")
    forecast_api_url: str = Field(default=DEFAULT_FORECAST_API_URL, alias="OPEN_METEO_FORECAST_URL", pattern=_HTTP_URL)
    archive_api_url: str = Field(default=DEFAULT_ARCHIVE_API_URL, alias="OPEN_METEO_ARCHIVE_URL", pattern=_HTTP_URL)
    # The forecast API serves up to 92 past days and 16 forecast days.
    past_days: int = Field(default=2, alias="WEATHER_PAST_DAYS", ge=0, le=92)
    forecast_days: int = Field(default=7, alias="WEATHER_FORECAST_DAYS", ge=0, le=16)
    # Connect and read timeouts apply per socket operation; an attempt as a whole ends within its own timeout
    # and the run's deadline, whatever the server sends.
    connect_timeout_seconds: float = Field(default=5.0, alias="OPEN_METEO_CONNECT_TIMEOUT_SECONDS", gt=0, le=60)
    read_timeout_seconds: float = Field(default=30.0, alias="OPEN_METEO_READ_TIMEOUT_SECONDS", gt=0, le=300)
    attempt_timeout_seconds: float = Field(default=60.0, alias="OPEN_METEO_ATTEMPT_TIMEOUT_SECONDS", gt=0, le=900)
    max_attempts: int = Field(default=4, alias="OPEN_METEO_MAX_ATTEMPTS", ge=1, le=10)
    backoff_seconds: float = Field(default=1.0, alias="OPEN_METEO_BACKOFF_SECONDS", ge=0, le=60)
    # Also the longest explicit wait (Retry-After, the minutely limit lifting): 65 s lets a minute boundary pass.
    max_retry_delay_seconds: float = Field(default=65.0, alias="OPEN_METEO_MAX_RETRY_DELAY_SECONDS", ge=0, le=300)
    # Unset: derived from each request (cities x days x variables, with wide margins; see body_cap_bytes).
    max_body_bytes: int | None = Field(default=None, alias="OPEN_METEO_MAX_BODY_BYTES", ge=1024, le=1024 * 1024 * 1024)

    @model_validator(mode="before")
    @classmethod
    def _only_the_named_cities(cls, data: Any) -> Any:
        """With WEATHER_CITY_NAMES (the template's Cities: what Athena projects), WEATHER_CITIES only places them:
        exactly those cities are fetched, in that order, or the cold start fails naming the odd one out."""
        if not isinstance(data, dict) or not data.get("WEATHER_CITY_NAMES"):
            return data
        coordinates = data.get("WEATHER_CITIES")
        if not isinstance(coordinates, str) or not coordinates:
            raise ValueError("WEATHER_CITY_NAMES is set, WEATHER_CITIES (their coordinates) is not")
        try:
            cities = select_cities(parse_cities(coordinates), data["WEATHER_CITY_NAMES"])
        except CitiesConfigError as error:
            raise ValueError(f"WEATHER_CITY_NAMES / WEATHER_CITIES: {error}") from error
        return data | {"WEATHER_CITIES": cities}

    @field_validator("cities", mode="before")
    @classmethod
    def _parse_cities(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return parse_cities(value)
            except CitiesConfigError as error:
                raise ValueError(str(error)) from error
        return value

    @field_validator("max_body_bytes", mode="before")
    @classmethod
    def _empty_means_derived(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("forecast_api_url", "archive_api_url", mode="after")
    @classmethod
    def _without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _covers_at_least_one_day(self) -> Self:
        if self.past_days + self.forecast_days < 1:
            raise ValueError("WEATHER_PAST_DAYS + WEATHER_FORECAST_DAYS must cover at least one day")
        return self


class IngestWeatherSettings(OpenMeteoSettings):
    """The function's settings: the API part, plus where runs land and where idempotency records live."""

    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    # A re-delivered event within this window returns the first run's manifest; EventBridge retries for up to 6 h.
    idempotency_ttl_seconds: int = Field(default=86_400, alias="IDEMPOTENCY_TTL_SECONDS", ge=300)
    # Kept back from the invocation's remaining time for what follows the fetch: landing each city (one PutObject
    # each), the idempotency record and the metrics. The fetch, its retries and waits end before it.
    landing_reserve_seconds: float = Field(default=20.0, alias="INGEST_LANDING_RESERVE_SECONDS", ge=1, le=600)
