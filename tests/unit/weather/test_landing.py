"""Landing keys and the manifest: the two contracts the Glue job and the state machine build against."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from lakepipe.domain.weather.cities import City
from lakepipe.domain.weather.landing import CityOutcome, IngestManifest, LandingRun, RunPlan
from lakepipe.domain.weather.open_meteo import ApiRequest
from tests.conftest import load_event
from tests.unit.weather.open_meteo_bodies import FOUR_CITIES

PREFIX = "landing/weather/source=open-meteo/ingest_date=2026-11-22/run=20261122T030000Z/"


def test_keys_follow_the_landing_layout() -> None:
    run = LandingRun.at(datetime(2026, 11, 22, 3, 0, tzinfo=UTC))

    assert run.run_id == "20261122T030000Z"
    assert run.prefix == PREFIX
    assert [run.key_for(city) for city in FOUR_CITIES] == [
        PREFIX + "city=Paris.json",
        PREFIX + "city=Marseille.json",
        PREFIX + "city=Nice.json",
        PREFIX + "city=Lyon.json",
    ]
    assert ":" not in run.prefix  # Hadoop paths choke on colons


def test_a_city_name_with_spaces_becomes_url_safe() -> None:
    run = LandingRun.at(datetime(2026, 11, 22, 3, 0, tzinfo=UTC))

    assert run.key_for(City("Saint Etienne", 45.4397, 4.3872)).endswith("/city=Saint_Etienne.json")


@pytest.mark.parametrize(
    ("moment", "run_id", "ingest_date"),
    [
        (datetime(2026, 11, 22, 3, 0, 0, 987654, tzinfo=UTC), "20261122T030000Z", "2026-11-22"),
        (datetime(2026, 11, 22, 0, 30, tzinfo=timezone(timedelta(hours=1))), "20261121T233000Z", "2026-11-21"),
        (datetime(2026, 11, 22, 23, 59, 59), "20261122T235959Z", "2026-11-22"),  # naive means UTC
    ],
)
def test_run_identity_is_the_event_time_in_utc(moment: datetime, run_id: str, ingest_date: str) -> None:
    run = LandingRun.at(moment)

    assert run.run_id == run_id
    assert run.ingest_date.isoformat() == ingest_date


def test_the_scheduled_event_file_maps_to_the_documented_run() -> None:
    event = parse(event=load_event("scheduled-event.json"), model=EventBridgeModel)

    run = LandingRun.at(event.time)

    assert event.detail_type == "Scheduled Event"
    assert run.prefix == PREFIX


def test_a_naive_run_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        LandingRun(run_time=datetime(2026, 11, 22, 3))


def test_manifest_is_the_json_contract_with_failed_cities_and_no_datetimes() -> None:
    run = LandingRun.at(datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    plan = RunPlan(
        run=run, window_start=date(2026, 11, 20), window_end=date(2026, 11, 29), request=ApiRequest("http://x", ())
    )
    paris, marseille = FOUR_CITIES[:2]
    manifest = IngestManifest(
        plan=plan,
        cities=(
            CityOutcome.landed(paris, run.key_for(paris), 5525),
            CityOutcome.failed(marseille, "hourly variable 'pressure_msl' is missing"),
        ),
    )

    document = manifest.to_dict()

    assert document == {
        "run_id": "20261122T030000Z",
        "ingest_date": "2026-11-22",
        "source": "open-meteo",
        "landing_prefix": PREFIX,
        "keys": [PREFIX + "city=Paris.json"],
        "cities": [
            {"city": "Paris", "status": "ok", "key": PREFIX + "city=Paris.json", "bytes": 5525, "error": None},
            {
                "city": "Marseille",
                "status": "failed",
                "key": None,
                "bytes": 0,
                "error": "hourly variable 'pressure_msl' is missing",
            },
        ],
        "window_start": "2026-11-20",
        "window_end": "2026-11-29",
    }
    assert json.loads(json.dumps(document)) == document
    assert manifest.bytes_landed == 5525
    assert manifest.summary() == (
        "run 20261122T030000Z: 1 of 2 cities failed: Marseille (hourly variable 'pressure_msl' is missing); "
        "landed: Paris"
    )


def test_a_run_failed_for_every_city_for_one_reason_is_summarised_once() -> None:
    run = LandingRun.at(datetime(2026, 11, 22, 3, 0, tzinfo=UTC))
    plan = RunPlan(
        run=run, window_start=date(2026, 11, 20), window_end=date(2026, 11, 23), request=ApiRequest("http://x", ())
    )
    manifest = IngestManifest(
        plan=plan, cities=tuple(CityOutcome.failed(c, "fetch failed: HTTP 503") for c in FOUR_CITIES)
    )

    assert manifest.summary() == "run 20261122T030000Z: all 4 cities failed: fetch failed: HTTP 503"
    assert manifest.to_dict()["keys"] == []
