"""Responses: checked before anything is written, split into each location's exact bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakepipe.domain.weather.cities import City
from lakepipe.domain.weather.open_meteo import (
    LocationShapeError,
    RawLocation,
    ResponseShapeError,
    check_location,
    hourly_time_span,
    split_locations,
)
from tests.unit.weather.open_meteo_bodies import (
    ARCHIVE_4_CITIES,
    ERROR_BODY,
    FORECAST_4_CITIES,
    FORECAST_LYON_IMPERIAL,
    FORECAST_NICE_WITH_NULLS,
    FORECAST_PARIS,
    FOUR_CITIES,
    body,
    compact,
)

PARIS, MARSEILLE, NICE, LYON = FOUR_CITIES


def test_a_four_city_response_splits_into_four_locations_in_request_order() -> None:
    raw = body(FORECAST_4_CITIES)

    locations = split_locations(raw, expected=4)

    assert [(loc.document["latitude"], loc.document["longitude"]) for loc in locations] == [
        (48.86, 2.3400002),
        (43.3, 5.3700004),
        (43.72, 7.26),
        (45.76, 4.84),
    ]
    assert [len(loc.document["hourly"]["time"]) for loc in locations] == [96, 96, 96, 96]
    assert [
        check_location(loc, city, position=i) for i, (loc, city) in enumerate(zip(locations, FOUR_CITIES, strict=True))
    ] == [
        96,
        96,
        96,
        96,
    ]


def test_split_keeps_each_location_byte_for_byte() -> None:
    raw = body(FORECAST_4_CITIES)

    locations = split_locations(raw, expected=4)

    # The compact array is exactly "[" + elements joined by "," + "]": nothing re-serialised, nothing lost.
    assert b"[" + b",".join(loc.raw for loc in locations) + b"]" == raw
    assert all(json.loads(loc.raw) == loc.document for loc in locations)
    assert "°C".encode() in locations[3].raw  # offsets stay right past multi-byte characters


def test_split_of_a_pretty_printed_array_returns_the_elements_as_sent() -> None:
    elements = [b'{\n  "latitude": 48.86,\n  "unit": "\xc2\xb0C"\n}', b'{"latitude":43.3,"unit":"\xc2\xb0F"}']
    raw = b"\n[ " + elements[0] + b" ,\r\n\t" + elements[1] + b"\n]\n"

    assert [loc.raw for loc in split_locations(raw, expected=2)] == elements


def test_a_single_location_response_is_one_object() -> None:
    raw = body(FORECAST_PARIS)

    (location,) = split_locations(raw, expected=1)

    assert location.raw == raw
    assert check_location(location, PARIS, position=0) == 96


@pytest.mark.parametrize(
    ("raw", "expected", "message"),
    [
        (b"", 4, "response body is empty"),
        (b"<html><body>502 Bad Gateway</body></html>", 4, "response is not JSON: starts with '<html>"),
        (b"\xff\xfe[]", 4, "response is not UTF-8"),
        (b'[{"latitude":48.86},{"latitude":43.3}', 2, "array is not closed"),
        (b'[{"latitude":48.86} {"latitude":43.3}]', 2, "unexpected '{\"latitude\":43.3}]' between array elements"),
        (b'[{"latitude":48.86,}]', 1, "response is not valid JSON"),
        (b'{"latitude":48.86} trailing', 1, "unexpected data after the JSON document"),
        (b'"just a string"', 1, "response is not JSON: starts with"),
        (b"[]", 4, "expected 4 location(s), the response holds an array of 0"),
        (b'{"latitude":48.86}', 4, "expected 4 location(s), the response holds one object"),
    ],
)
def test_a_body_wrong_as_a_whole_is_refused_before_anything_is_written(raw: bytes, expected: int, message: str) -> None:
    with pytest.raises(ResponseShapeError) as error:
        split_locations(raw, expected=expected)

    assert message in str(error.value)


def test_a_response_missing_a_city_is_refused() -> None:
    three_of_four = b"[" + b",".join(loc.raw for loc in split_locations(body(FORECAST_4_CITIES), 4)[:3]) + b"]"

    with pytest.raises(ResponseShapeError, match=r"expected 4 location\(s\), the response holds an array of 3"):
        split_locations(three_of_four, expected=4)


def test_the_api_error_body_is_reported_with_its_reason() -> None:
    with pytest.raises(
        ResponseShapeError, match=r"API error: Latitude must be in range of -90 to 90°\. Given: 95\.0\."
    ):
        split_locations(body(ERROR_BODY), expected=1)


def test_nulls_in_series_are_valid_data() -> None:
    (location,) = split_locations(body(FORECAST_NICE_WITH_NULLS), expected=1)

    assert check_location(location, NICE, position=0) == 96
    hourly = location.document["hourly"]
    assert hourly["temperature_2m"][-5:] == [None] * 5
    assert hourly["wind_speed_10m"][38:40] == [None, None]


def test_other_units_are_accepted_and_kept_as_sent() -> None:
    (location,) = split_locations(body(FORECAST_LYON_IMPERIAL), expected=1)

    assert check_location(location, LYON, position=0) == 96
    assert location.document["hourly_units"]["temperature_2m"] == "°F"
    assert location.document["hourly_units"]["wind_speed_10m"] == "mp/h"
    assert location.document["hourly_units"]["precipitation"] == "inch"
    lyon_metric = json.loads(body(FORECAST_4_CITIES))[3]["hourly"]["temperature_2m"]
    assert location.document["hourly"]["temperature_2m"][0] == pytest.approx(lyon_metric[0] * 9 / 5 + 32, abs=0.06)


def test_the_archive_fixture_is_two_days_for_four_cities() -> None:
    locations = split_locations(body(ARCHIVE_4_CITIES), expected=4)

    assert [
        check_location(loc, city, position=i) for i, (loc, city) in enumerate(zip(locations, FOUR_CITIES, strict=True))
    ] == [48] * 4
    assert locations[0].document["hourly"]["time"][0] == "2024-11-01T00:00"
    assert locations[0].document["hourly"]["time"][-1] == "2024-11-02T23:00"


def _paris_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(body(FORECAST_PARIS))
    return document


def _location(document: Any) -> RawLocation:
    return RawLocation(raw=compact(document), document=document)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["hourly"].pop("pressure_msl"), "hourly variable 'pressure_msl' is missing"),
        (lambda d: d["hourly"]["cloud_cover"].pop(), "'cloud_cover' has 95 values for 96 hours"),
        (lambda d: d["hourly"]["temperature_2m"].__setitem__(5, "7.1"), "'temperature_2m' holds '7.1'"),
        (lambda d: d["hourly"]["weather_code"].__setitem__(0, True), "'weather_code' holds True"),
        (lambda d: d["hourly_units"].pop("precipitation"), "no unit for 'precipitation'"),
        (lambda d: d["hourly"].__setitem__("time", []), "'hourly.time' is missing or empty"),
        (lambda d: d["hourly"]["time"].__setitem__(1, "2026-11-20 01:00"), "not YYYY-MM-DDTHH:MM"),
        (lambda d: d["hourly"]["time"].__setitem__(1, "2026-11-20T00:00"), "not strictly increasing"),
        (lambda d: d.__setitem__("utc_offset_seconds", 3600), "utc_offset_seconds is 3600, expected 0"),
        (lambda d: d.pop("hourly"), "no 'hourly' and 'hourly_units' objects"),
        (lambda d: d.__setitem__("latitude", None), "'latitude' is None, not a number"),
        (lambda d: d.__setitem__("longitude", 5.37), "answer for 48.86,5.37 is not near Paris"),
        (lambda d: d.__setitem__("location_id", 2), "element 0 carries location_id 2"),
    ],
)
def test_a_location_not_as_asked_is_refused_with_the_reason(mutate: Any, message: str) -> None:
    document = _paris_document()
    mutate(document)

    with pytest.raises(LocationShapeError) as error:
        check_location(_location(document), PARIS, position=0)

    assert message in str(error.value)


def test_an_element_that_is_not_an_object_or_is_an_error_is_refused() -> None:
    with pytest.raises(LocationShapeError, match="location 2 is a JSON NoneType"):
        check_location(RawLocation(raw=b"null", document=None), NICE, position=2)
    with pytest.raises(LocationShapeError, match="API error: No data is available for this location"):
        check_location(_location({"error": True, "reason": "No data is available for this location"}), NICE, position=2)


def test_longitude_near_the_antimeridian_is_compared_across_it() -> None:
    document = _paris_document() | {"latitude": -16.5, "longitude": 179.9}

    assert check_location(_location(document), City("Fiji", -16.5, -179.9), position=0) == 96


def test_time_span_of_a_stored_body() -> None:
    span = hourly_time_span(body(FORECAST_PARIS))

    assert span is not None
    assert (span[0].isoformat(), span[1].isoformat()) == ("2026-11-20T00:00:00+00:00", "2026-11-23T23:00:00+00:00")
    assert hourly_time_span(b"not json") is None
    assert hourly_time_span(b"[]") is None
    assert hourly_time_span(b'{"hourly":{"time":[]}}') is None


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_objects = st.dictionaries(st.text(max_size=5), st.recursive(json_scalars, st.lists, max_leaves=6), max_size=4)
whitespace = st.text(alphabet=" \t\r\n", max_size=3)


@given(st.lists(json_objects, min_size=1, max_size=5), st.data())
def test_any_array_of_objects_splits_into_the_exact_bytes_of_each(documents: list[dict[str, Any]], data: Any) -> None:
    elements = [
        json.dumps(
            document, ensure_ascii=data.draw(st.booleans()), indent=data.draw(st.none() | st.integers(0, 2))
        ).encode("utf-8")
        for document in documents
    ]
    raw = data.draw(whitespace).encode() + b"["
    for index, element in enumerate(elements):
        separator = b"" if index == 0 else b","
        raw += data.draw(whitespace).encode() + separator + data.draw(whitespace).encode() + element
    raw += data.draw(whitespace).encode() + b"]" + data.draw(whitespace).encode()

    locations = split_locations(raw, expected=len(elements))

    assert [location.raw for location in locations] == elements
    assert [location.document for location in locations] == documents


@given(st.binary(max_size=200))
def test_arbitrary_bytes_split_or_raise_a_shape_error(raw: bytes) -> None:
    try:
        locations = split_locations(raw, expected=1)
    except ResponseShapeError:
        return
    assert len(locations) == 1
    assert locations[0].raw in raw
