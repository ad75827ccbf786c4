"""Backfill planning: month chunks, stable keys per chunk end, resume decided from what is landed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from lakepipe.adapters.landing_store import LocalLandingStore
from lakepipe.domain.weather.backfill import backfill_chunks, backfill_run, is_landed, plan_backfill
from lakepipe.domain.weather.open_meteo import DEFAULT_ARCHIVE_API_URL, split_locations
from tests.unit.weather.open_meteo_bodies import ARCHIVE_4_CITIES, FOUR_CITIES, body, compact

TODAY = date(2026, 11, 22)


def test_a_year_is_cut_into_calendar_months() -> None:
    chunks = backfill_chunks(date(2024, 1, 1), date(2024, 12, 31))

    assert len(chunks) == 12
    assert chunks[0] == (date(2024, 1, 1), date(2024, 1, 31))
    assert chunks[1] == (date(2024, 2, 1), date(2024, 2, 29))  # leap year
    assert chunks[-1] == (date(2024, 12, 1), date(2024, 12, 31))
    assert sum((end - start).days + 1 for start, end in chunks) == 366


def test_partial_months_at_both_ends_and_a_year_boundary() -> None:
    assert backfill_chunks(date(2023, 12, 15), date(2024, 2, 10)) == [
        (date(2023, 12, 15), date(2023, 12, 31)),
        (date(2024, 1, 1), date(2024, 1, 31)),
        (date(2024, 2, 1), date(2024, 2, 10)),
    ]


def test_fixed_size_chunks_and_a_single_day() -> None:
    assert backfill_chunks(date(2024, 11, 1), date(2024, 11, 10), chunk_days=4) == [
        (date(2024, 11, 1), date(2024, 11, 4)),
        (date(2024, 11, 5), date(2024, 11, 8)),
        (date(2024, 11, 9), date(2024, 11, 10)),
    ]
    assert backfill_chunks(date(2024, 11, 1), date(2024, 11, 1)) == [(date(2024, 11, 1), date(2024, 11, 1))]


def test_invalid_ranges_are_refused() -> None:
    with pytest.raises(ValueError, match="before start"):
        backfill_chunks(date(2024, 2, 1), date(2024, 1, 1))
    with pytest.raises(ValueError, match="chunk_days must be at least 1"):
        backfill_chunks(date(2024, 1, 1), date(2024, 1, 2), chunk_days=0)
    with pytest.raises(ValueError, match="not in the past"):
        plan_backfill(start=date(2026, 11, 1), end=TODAY, cities=FOUR_CITIES, archive_api_url="http://x", today=TODAY)
    with pytest.raises(ValueError, match="before the archive's first day 1940-01-01"):
        plan_backfill(
            start=date(1939, 12, 31), end=date(1940, 1, 5), cities=FOUR_CITIES, archive_api_url="http://x", today=TODAY
        )


def test_a_chunk_lands_at_its_last_day_as_ingest_date_and_end_of_day_as_run() -> None:
    run = backfill_run(date(2024, 1, 31))

    assert run.run_id == "20240131T235959Z"
    assert run.key_for(FOUR_CITIES[0]) == (
        "landing/weather/source=open-meteo/ingest_date=2024-01-31/run=20240131T235959Z/city=Paris.json"
    )


def test_plans_request_the_archive_for_every_city_per_chunk() -> None:
    plans = plan_backfill(
        start=date(2024, 1, 20),
        end=date(2024, 3, 5),
        cities=FOUR_CITIES,
        archive_api_url=DEFAULT_ARCHIVE_API_URL,
        today=TODAY,
    )

    assert [(p.window_start.isoformat(), p.window_end.isoformat(), p.run.run_id) for p in plans] == [
        ("2024-01-20", "2024-01-31", "20240131T235959Z"),
        ("2024-02-01", "2024-02-29", "20240229T235959Z"),
        ("2024-03-01", "2024-03-05", "20240305T235959Z"),
    ]
    assert all(p.request.base_url == DEFAULT_ARCHIVE_API_URL for p in plans)
    assert plans[1].request.query["start_date"] == "2024-02-01"
    assert plans[1].request.query["end_date"] == "2024-02-29"
    assert plans[1].request.query["latitude"] == "48.8566,43.2965,43.7102,45.764"


def _land(store: LocalLandingStore, start: date, end: date, locations: list[bytes]) -> None:
    plan = plan_backfill(start=start, end=end, cities=FOUR_CITIES, archive_api_url="http://x", today=TODAY)[0]
    for city, raw in zip(FOUR_CITIES, locations, strict=True):
        store.put(plan.run.key_for(city), raw, {})


def test_a_chunk_is_landed_only_when_every_city_covers_every_hour(tmp_path: Path) -> None:
    store = LocalLandingStore(tmp_path)
    chunk = plan_backfill(
        start=date(2024, 11, 1), end=date(2024, 11, 2), cities=FOUR_CITIES, archive_api_url="http://x", today=TODAY
    )[0]
    locations = [loc.raw for loc in split_locations(body(ARCHIVE_4_CITIES), 4)]

    assert not is_landed(chunk, FOUR_CITIES, store)
    _land(store, date(2024, 11, 1), date(2024, 11, 2), [*locations[:3], b"truncated {"])
    assert not is_landed(chunk, FOUR_CITIES, store)
    _land(store, date(2024, 11, 1), date(2024, 11, 2), locations)
    assert is_landed(chunk, FOUR_CITIES, store)


def test_an_object_covering_less_than_the_chunk_is_not_landed(tmp_path: Path) -> None:
    store = LocalLandingStore(tmp_path)
    # A previous backfill started on 2024-11-02: same chunk end (same keys), but 2024-11-01 is missing.
    second_day_only = []
    for location in json.loads(body(ARCHIVE_4_CITIES)):
        location["hourly"] = {name: values[24:] for name, values in location["hourly"].items()}
        second_day_only.append(compact(location))
    _land(store, date(2024, 11, 2), date(2024, 11, 2), second_day_only)

    wider = plan_backfill(
        start=date(2024, 11, 1), end=date(2024, 11, 2), cities=FOUR_CITIES, archive_api_url="http://x", today=TODAY
    )[0]
    narrower = plan_backfill(
        start=date(2024, 11, 2), end=date(2024, 11, 2), cities=FOUR_CITIES, archive_api_url="http://x", today=TODAY
    )[0]

    assert wider.run == narrower.run
    assert not is_landed(wider, FOUR_CITIES, store)
    assert is_landed(narrower, FOUR_CITIES, store)
