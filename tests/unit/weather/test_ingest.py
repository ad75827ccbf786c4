"""One run end to end in the domain: real HTTP client on `responses`, real local landing store, no AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from lakepipe.adapters.landing_store import LocalLandingStore
from lakepipe.adapters.open_meteo import OpenMeteoClient, RetryPolicy
from lakepipe.domain.weather.ingest import MAX_METADATA_URL_LENGTH, ingest, landing_metadata, plan_scheduled_run
from lakepipe.domain.weather.open_meteo import DEFAULT_FORECAST_API_URL, ApiResponse, split_locations
from tests.unit.weather.open_meteo_bodies import FORECAST_4_CITIES, FOUR_CITIES, body, compact, with_element

EVENT_TIME = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
PLAN = plan_scheduled_run(
    event_time=EVENT_TIME, cities=FOUR_CITIES, forecast_api_url=DEFAULT_FORECAST_API_URL, past_days=2, forecast_days=2
)
PREFIX = "landing/weather/source=open-meteo/ingest_date=2026-11-22/run=20261122T030000Z/"


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def api() -> OpenMeteoClient:
    return OpenMeteoClient(retry=RetryPolicy(max_attempts=2), sleep=lambda _: None)


def landed_files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.json")) if path.is_file()}


def test_each_city_lands_as_the_exact_bytes_the_api_sent(
    http: responses.RequestsMock, api: OpenMeteoClient, tmp_path: Path
) -> None:
    raw = body(FORECAST_4_CITIES)
    http.get(DEFAULT_FORECAST_API_URL, body=raw)

    outcome = ingest(plan=PLAN, cities=FOUR_CITIES, api=api, store=LocalLandingStore(tmp_path))

    expected = {
        PREFIX + f"city={city.name}.json": loc.raw
        for city, loc in zip(FOUR_CITIES, split_locations(raw, 4), strict=True)
    }
    assert landed_files(tmp_path) == expected
    manifest = outcome.manifest.to_dict()
    assert manifest["keys"] == list(expected)
    assert [c["status"] for c in manifest["cities"]] == ["ok"] * 4
    assert [c["bytes"] for c in manifest["cities"]] == [len(content) for content in expected.values()]
    assert (manifest["window_start"], manifest["window_end"]) == ("2026-11-20", "2026-11-23")
    assert outcome.api_latency_ms is not None


def test_a_city_with_a_bad_element_fails_alone_and_the_others_land(
    http: responses.RequestsMock, api: OpenMeteoClient, tmp_path: Path
) -> None:
    nice = json.loads(body(FORECAST_4_CITIES))[2]
    del nice["hourly"]["wind_speed_10m"]
    http.get(DEFAULT_FORECAST_API_URL, body=with_element(body(FORECAST_4_CITIES), 2, compact(nice)))

    manifest = ingest(plan=PLAN, cities=FOUR_CITIES, api=api, store=LocalLandingStore(tmp_path)).manifest

    assert sorted(landed_files(tmp_path)) == sorted(
        PREFIX + f"city={name}.json" for name in ("Paris", "Marseille", "Lyon")
    )
    assert [(o.city, o.status) for o in manifest.cities] == [
        ("Paris", "ok"),
        ("Marseille", "ok"),
        ("Nice", "failed"),
        ("Lyon", "ok"),
    ]
    assert manifest.cities[2].error == "hourly variable 'wind_speed_10m' is missing"
    assert manifest.cities[2].key is None


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ((200, b"<html>maintenance</html>"), "unusable response: response is not JSON"),
        ((200, b"[" + b",".join([b'{"latitude":48.86}'] * 3) + b"]"), "expected 4 location(s)"),
        (
            (503, b"Service Unavailable"),
            "fetch failed: Open-Meteo request failed: still failing after 2 attempts: HTTP 503",
        ),
    ],
)
def test_a_response_unusable_as_a_whole_writes_nothing_and_fails_every_city(
    http: responses.RequestsMock, api: OpenMeteoClient, tmp_path: Path, reply: tuple[int, bytes], error: str
) -> None:
    status, raw = reply
    http.get(DEFAULT_FORECAST_API_URL, status=status, body=raw)

    manifest = ingest(plan=PLAN, cities=FOUR_CITIES, api=api, store=LocalLandingStore(tmp_path)).manifest

    assert landed_files(tmp_path) == {}
    assert manifest.keys == []
    assert [o.status for o in manifest.cities] == ["failed"] * 4
    assert all(o.error is not None and error in o.error for o in manifest.cities)


def test_a_store_that_refuses_one_object_fails_that_city_only(
    http: responses.RequestsMock, api: OpenMeteoClient, tmp_path: Path
) -> None:
    http.get(DEFAULT_FORECAST_API_URL, body=body(FORECAST_4_CITIES))
    # A directory where Marseille's file should go: the write fails with an OSError, as a full disk would.
    (tmp_path / PREFIX / "city=Marseille.json").mkdir(parents=True)

    manifest = ingest(plan=PLAN, cities=FOUR_CITIES, api=api, store=LocalLandingStore(tmp_path)).manifest

    assert [o.status for o in manifest.cities] == ["ok", "failed", "ok", "ok"]
    assert "city=Marseille.json" in (manifest.cities[1].error or "")
    assert sorted(landed_files(tmp_path)) == sorted(PREFIX + f"city={n}.json" for n in ("Paris", "Nice", "Lyon"))
    assert not list(tmp_path.rglob(".*.tmp"))  # the failed write left nothing half-written behind


def test_rerunning_the_same_event_rewrites_the_same_keys(
    http: responses.RequestsMock, api: OpenMeteoClient, tmp_path: Path
) -> None:
    http.get(DEFAULT_FORECAST_API_URL, body=body(FORECAST_4_CITIES))
    store = LocalLandingStore(tmp_path)

    first = ingest(plan=PLAN, cities=FOUR_CITIES, api=api, store=store).manifest
    again = plan_scheduled_run(
        event_time=EVENT_TIME,
        cities=FOUR_CITIES,
        forecast_api_url=DEFAULT_FORECAST_API_URL,
        past_days=2,
        forecast_days=2,
    )
    second = ingest(plan=again, cities=FOUR_CITIES, api=api, store=store).manifest

    assert second.keys == first.keys
    assert len(landed_files(tmp_path)) == 4
    assert not list(tmp_path.rglob(".*.tmp"))


def test_metadata_records_url_fetch_time_and_status_within_s3_limits() -> None:
    response = ApiResponse(
        body=b"{}",
        status=200,
        url="https://api.open-meteo.com/v1/forecast?latitude=" + "48.8566," * 300,
        fetched_at=datetime(2026, 11, 22, 3, 0, 2, 500000, tzinfo=UTC),
        latency_ms=412.0,
    )

    metadata = landing_metadata(response)

    assert metadata["fetched-at"] == "2026-11-22T03:00:02Z"
    assert metadata["http-status"] == "200"
    assert len(metadata["request-url"]) == MAX_METADATA_URL_LENGTH
    assert metadata["request-url"].endswith("...")
    assert all(value.isascii() for value in metadata.values())
