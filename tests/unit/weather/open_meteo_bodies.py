"""The recorded-format Open-Meteo bodies of tests/fixtures/open_meteo, and bodies derived from them for a test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lakepipe.domain.weather.cities import DEFAULT_CITIES_SPEC, parse_cities
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "open_meteo"
FOUR_CITIES = parse_cities(DEFAULT_CITIES_SPEC)  # Paris, Marseille, Nice, Lyon: the order of the array fixtures
FORECAST_4_CITIES = "forecast_4_cities_20261120_20261123.json"
FORECAST_PARIS = "forecast_paris_20261120_20261123.json"
FORECAST_NICE_WITH_NULLS = "forecast_nice_with_nulls_20261120_20261123.json"
FORECAST_LYON_IMPERIAL = "forecast_lyon_imperial_20261120_20261123.json"
ARCHIVE_4_CITIES = "archive_4_cities_20241101_20241102.json"
ERROR_BODY = "error_latitude_out_of_range.json"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_path(name: str) -> Path:
    return FIXTURES / name


def compact(document: Any) -> bytes:
    """JSON the way Open-Meteo writes it: no spaces, raw UTF-8."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def archive_day(day_index: int) -> bytes:
    """A one-day archive body for the 4 cities: day ``day_index`` (0 = 2024-11-01) of the 2-day fixture."""
    locations = json.loads(body(ARCHIVE_4_CITIES))
    hours = slice(24 * day_index, 24 * (day_index + 1))
    for location in locations:
        location["hourly"] = {name: values[hours] for name, values in location["hourly"].items()}
    return compact(locations)


def with_element(array_body: bytes, index: int, replacement: bytes) -> bytes:
    """``array_body`` (a compact JSON array of locations) with element ``index`` replaced by ``replacement``."""
    elements = [compact(location) for location in json.loads(array_body)]
    elements[index] = replacement
    return b"[" + b",".join(elements) + b"]"
