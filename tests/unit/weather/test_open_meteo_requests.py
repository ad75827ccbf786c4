"""Requests: one per run for every city, explicit UTC dates, the variables the refined layer needs."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lakepipe.domain.weather.ingest import plan_scheduled_run
from lakepipe.domain.weather.open_meteo import (
    DEFAULT_ARCHIVE_API_URL,
    DEFAULT_FORECAST_API_URL,
    HOURLY_VARIABLES,
    archive_request,
    forecast_request,
)
from tests.unit.weather.open_meteo_bodies import FOUR_CITIES

HOURLY = (
    "temperature_2m,relative_humidity_2m,precipitation,wind_speed_10m,wind_direction_10m,pressure_msl,"
    "cloud_cover,weather_code"
)


def test_forecast_request_asks_for_every_city_at_once_in_utc() -> None:
    request = forecast_request(
        base_url=DEFAULT_FORECAST_API_URL,
        cities=FOUR_CITIES,
        start_date=date(2026, 11, 20),
        end_date=date(2026, 11, 23),
    )

    assert request.base_url == "https://api.open-meteo.com/v1/forecast"
    assert request.query == {
        "latitude": "48.8566,43.2965,43.7102,45.764",
        "longitude": "2.3522,5.3698,7.262,4.8357",
        "hourly": HOURLY,
        "timezone": "UTC",
        "timeformat": "iso8601",
        "start_date": "2026-11-20",
        "end_date": "2026-11-23",
    }
    assert [name for name, _ in request.params][:2] == ["latitude", "longitude"]


def test_archive_request_covers_the_chunk() -> None:
    request = archive_request(
        base_url=DEFAULT_ARCHIVE_API_URL,
        cities=FOUR_CITIES[:1],
        start_date=date(2024, 1, 1),
        end_date=date(2024, 1, 31),
    )

    assert request.base_url == "https://archive-api.open-meteo.com/v1/archive"
    assert request.query["latitude"] == "48.8566"
    assert (request.query["start_date"], request.query["end_date"]) == ("2024-01-01", "2024-01-31")
    assert request.query["hourly"].split(",") == list(HOURLY_VARIABLES)


def test_a_request_needs_cities_and_an_ordered_range() -> None:
    with pytest.raises(ValueError, match="at least one city"):
        forecast_request(base_url="http://x", cities=(), start_date=date(2026, 1, 1), end_date=date(2026, 1, 1))
    with pytest.raises(ValueError, match="before start_date"):
        archive_request(base_url="http://x", cities=FOUR_CITIES, start_date=date(2026, 1, 2), end_date=date(2026, 1, 1))


def test_scheduled_run_window_counts_from_the_event_date_not_the_clock() -> None:
    plan = plan_scheduled_run(
        event_time=datetime(2026, 11, 22, 3, 0, tzinfo=UTC),
        cities=FOUR_CITIES,
        forecast_api_url=DEFAULT_FORECAST_API_URL,
        past_days=2,
        forecast_days=2,
    )

    assert (plan.window_start, plan.window_end) == (date(2026, 11, 20), date(2026, 11, 23))
    assert (plan.request.query["start_date"], plan.request.query["end_date"]) == ("2026-11-20", "2026-11-23")
    assert plan.run.run_id == "20261122T030000Z"


@pytest.mark.parametrize(
    ("past_days", "forecast_days", "window"),
    [(0, 1, ("2026-11-22", "2026-11-22")), (3, 0, ("2026-11-19", "2026-11-21")), (2, 7, ("2026-11-20", "2026-11-28"))],
)
def test_scheduled_run_window_edges(past_days: int, forecast_days: int, window: tuple[str, str]) -> None:
    plan = plan_scheduled_run(
        event_time=datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC),
        cities=FOUR_CITIES,
        forecast_api_url=DEFAULT_FORECAST_API_URL,
        past_days=past_days,
        forecast_days=forecast_days,
    )

    assert (plan.window_start.isoformat(), plan.window_end.isoformat()) == window


def test_a_run_covering_no_day_is_refused() -> None:
    with pytest.raises(ValueError, match="cover no day"):
        plan_scheduled_run(
            event_time=datetime(2026, 11, 22, tzinfo=UTC),
            cities=FOUR_CITIES,
            forecast_api_url=DEFAULT_FORECAST_API_URL,
            past_days=0,
            forecast_days=0,
        )
