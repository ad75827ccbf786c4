"""Open-Meteo's limits as the domain models them: which limit a 429 names, when it lifts, how big an answer may be.

The reason texts are Open-Meteo's own (``RateLimitError.reason`` in open-meteo/open-meteo's RateLimiter.swift),
as are the boundaries: its counters are emptied every wall-clock minute, at each hour (``now % 3600 < 60``) and
each UTC day (``now % 86400 < 60``). The body cap is checked against the recorded-format fixtures' real sizes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lakepipe.domain.weather.cities import parse_cities
from lakepipe.domain.weather.open_meteo import (
    DEFAULT_FORECAST_API_URL,
    HOURLY_VARIABLES,
    MIN_BODY_CAP_BYTES,
    RateLimit,
    body_cap_bytes,
    forecast_request,
    rate_limit_lifts_at,
    rate_limit_named,
)
from tests.unit.weather.open_meteo_bodies import (
    ARCHIVE_4_CITIES,
    FORECAST_4_CITIES,
    FORECAST_NICE_WITH_NULLS,
    FORECAST_PARIS,
    FOUR_CITIES,
    body,
)


@pytest.mark.parametrize(
    ("reason", "limit"),
    [
        ("Minutely API request limit exceeded. Please try again in one minute.", RateLimit.MINUTELY),
        ("Hourly API request limit exceeded. Please try again in the next hour.", RateLimit.HOURLY),
        ("Daily API request limit exceeded. Please try again tomorrow.", RateLimit.DAILY),
        ("Too many concurrent requests", RateLimit.CONCURRENCY),
        ("Too Many Requests", RateLimit.UNKNOWN),
        ("", RateLimit.UNKNOWN),
    ],
)
def test_the_limit_is_read_from_open_meteos_reason(reason: str, limit: RateLimit) -> None:
    assert rate_limit_named(reason) is limit


@pytest.mark.parametrize(
    ("limit", "now", "lifts_at"),
    [
        (RateLimit.MINUTELY, datetime(2026, 11, 22, 3, 0, 1), datetime(2026, 11, 22, 3, 1)),
        (RateLimit.MINUTELY, datetime(2026, 11, 22, 23, 59, 59, 900000), datetime(2026, 11, 23, 0, 0)),
        (RateLimit.UNKNOWN, datetime(2026, 11, 22, 3, 0, 59), datetime(2026, 11, 22, 3, 1)),
        (RateLimit.HOURLY, datetime(2026, 11, 22, 3, 0, 1), datetime(2026, 11, 22, 4, 0)),
        (RateLimit.HOURLY, datetime(2026, 11, 22, 23, 10), datetime(2026, 11, 23, 0, 0)),
        (RateLimit.DAILY, datetime(2026, 11, 22, 3, 0, 1), datetime(2026, 11, 23, 0, 0)),
        (RateLimit.DAILY, datetime(2026, 12, 31, 12, 0), datetime(2027, 1, 1, 0, 0)),
    ],
)
def test_a_limit_lifts_on_the_next_utc_boundary_of_its_window(
    limit: RateLimit, now: datetime, lifts_at: datetime
) -> None:
    assert rate_limit_lifts_at(limit, now.replace(tzinfo=UTC)) == lifts_at.replace(tzinfo=UTC)


def test_a_limit_reached_at_a_local_time_lifts_at_the_utc_boundary() -> None:
    paris_winter = datetime.fromisoformat("2026-11-22T01:30:00+01:00")  # 00:30 UTC

    assert rate_limit_lifts_at(RateLimit.DAILY, paris_winter) == datetime(2026, 11, 23, tzinfo=UTC)


def test_the_concurrency_limit_has_no_boundary() -> None:
    assert rate_limit_lifts_at(RateLimit.CONCURRENCY, datetime(2026, 11, 22, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("fixture", "cities", "first_day", "last_day"),
    [
        (FORECAST_4_CITIES, FOUR_CITIES, date(2026, 11, 20), date(2026, 11, 23)),
        (FORECAST_PARIS, FOUR_CITIES[:1], date(2026, 11, 20), date(2026, 11, 23)),
        (FORECAST_NICE_WITH_NULLS, FOUR_CITIES[2:3], date(2026, 11, 20), date(2026, 11, 23)),
        (ARCHIVE_4_CITIES, FOUR_CITIES, date(2024, 11, 1), date(2024, 11, 2)),
    ],
)
def test_the_uncapped_bound_is_several_times_a_real_answer_to_the_same_request(
    fixture: str, cities: tuple[object, ...], first_day: date, last_day: date
) -> None:
    # The cap's formula before its 1 MiB floor, against the real bytes of an answer to exactly that request
    request = forecast_request(
        base_url=DEFAULT_FORECAST_API_URL,
        cities=cities,  # type: ignore[arg-type]
        start_date=first_day,
        end_date=last_day,
    )
    hours = 24 * ((last_day - first_day).days + 1)
    formula = len(cities) * (4096 + hours * (32 + len(HOURLY_VARIABLES) * 32))
    actual = len(body(fixture))

    assert body_cap_bytes(request) == max(MIN_BODY_CAP_BYTES, formula)
    assert 4 * actual < formula < 12 * actual


def test_the_cap_grows_with_cities_days_and_variables_and_never_drops_below_one_mib() -> None:
    many = parse_cities(";".join(f"C{index}:{index % 80}:{index % 170}" for index in range(100)))

    def cap(cities: tuple[object, ...], days: int, variables: tuple[str, ...] = HOURLY_VARIABLES) -> int:
        request = forecast_request(
            base_url=DEFAULT_FORECAST_API_URL,
            cities=cities,  # type: ignore[arg-type]
            start_date=date(2026, 11, 1),
            end_date=date(2026, 11, days),
            variables=variables,
        )
        return body_cap_bytes(request)

    assert cap(FOUR_CITIES, 9) == MIN_BODY_CAP_BYTES  # the scheduled run's default: 4 cities, 9 days
    assert cap(many, 30) == 100 * (4096 + 720 * (32 + 8 * 32))
    assert cap(many, 30) > cap(many, 29) > cap(many[:50], 29)
    assert cap(many, 30, HOURLY_VARIABLES[:4]) < cap(many, 30)
