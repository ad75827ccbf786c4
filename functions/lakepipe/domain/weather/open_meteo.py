"""Open-Meteo's contract: how a request for every city is built and how its response is checked and split.

One request serves all cities (comma-separated latitudes and longitudes). The API answers a JSON object for one
location and a JSON array of such objects, in request order, for several. The landing layer keeps each
location's bytes exactly as received, so the array is split on element boundaries found by the JSON decoder
rather than parsed and re-serialised.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from lakepipe.domain.weather.cities import City, format_degrees

HOURLY_VARIABLES: tuple[str, ...] = (
    "temperature_2m",
    "relative_humidity_2m",
    "precipitation",
    "wind_speed_10m",
    "wind_direction_10m",
    "pressure_msl",
    "cloud_cover",
    "weather_code",
)
DEFAULT_FORECAST_API_URL = "https://api.open-meteo.com/v1/forecast"
DEFAULT_ARCHIVE_API_URL = "https://archive-api.open-meteo.com/v1/archive"
# The API answers for the nearest cell of its model grid (a few km to ~0.25 degrees): an answer further than this
# from the requested point is not that city's (e.g. the array came back in another order).
COORDINATE_TOLERANCE_DEGREES = 0.5
_HOURLY_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_WHITESPACE = " \t\r\n"


class WeatherApiError(RuntimeError):
    """The API could not be reached, or refused the request, after the client's retries."""


class ResponseShapeError(ValueError):
    """The response body as a whole is unusable (not JSON, not an array of the expected length...)."""


class LocationShapeError(ValueError):
    """One location of an otherwise usable response is not what was asked for."""


@dataclass(frozen=True)
class ApiRequest:
    """A GET request: base URL and query parameters, in a stable order (readable URLs, exact test matching)."""

    base_url: str
    params: tuple[tuple[str, str], ...]

    @property
    def query(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True)
class ApiResponse:
    """What the client got back: the body untouched, and where, when and how it was fetched."""

    body: bytes
    status: int
    url: str
    fetched_at: datetime
    latency_ms: float
    attempts: int = 1


@dataclass(frozen=True)
class RawLocation:
    """One location of a response: its exact bytes and the decoded document."""

    raw: bytes
    document: Any


def forecast_request(
    *,
    base_url: str,
    cities: Sequence[City],
    start_date: date,
    end_date: date,
    variables: Sequence[str] = HOURLY_VARIABLES,
) -> ApiRequest:
    """The forecast API request for ``cities`` over ``start_date..end_date`` (UTC days, both included).

    Explicit dates rather than ``past_days``/``forecast_days``: the API would count those from its own clock,
    so a re-delivered event would fetch another window than the original run.
    """
    return _hourly_request(base_url, cities, variables, start_date, end_date)


def archive_request(
    *,
    base_url: str,
    cities: Sequence[City],
    start_date: date,
    end_date: date,
    variables: Sequence[str] = HOURLY_VARIABLES,
) -> ApiRequest:
    """The historical (archive) API request for ``cities`` over ``start_date..end_date`` (UTC, both included)."""
    return _hourly_request(base_url, cities, variables, start_date, end_date)


def _hourly_request(
    base_url: str, cities: Sequence[City], variables: Sequence[str], start_date: date, end_date: date
) -> ApiRequest:
    if not cities:
        raise ValueError("a request needs at least one city")
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    return ApiRequest(
        base_url=base_url,
        params=(
            ("latitude", ",".join(format_degrees(city.latitude) for city in cities)),
            ("longitude", ",".join(format_degrees(city.longitude) for city in cities)),
            ("hourly", ",".join(variables)),
            ("timezone", "UTC"),
            ("timeformat", "iso8601"),
            ("start_date", start_date.isoformat()),
            ("end_date", end_date.isoformat()),
        ),
    )


def split_locations(body: bytes, expected: int) -> list[RawLocation]:
    """Split a response body into its ``expected`` locations, each as the exact bytes received.

    Raises :class:`ResponseShapeError` for anything but one JSON object (when one location was asked for) or a
    JSON array of exactly ``expected`` elements: nothing may be written from a body that is wrong as a whole.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ResponseShapeError(f"response is not UTF-8 text: {error}") from error
    start = _skip_whitespace(text, 0)
    if start == len(text):
        raise ResponseShapeError("response body is empty")
    if text[start] == "{":
        document, end = _decode_value(text, start)
        _expect_end(text, end)
        if isinstance(document, Mapping) and document.get("error") is True:
            raise ResponseShapeError(f"API error: {document.get('reason', 'no reason given')}")
        spans = [(start, end, document)]
    elif text[start] == "[":
        spans = _array_spans(text, start)
    else:
        raise ResponseShapeError(f"response is not JSON: starts with {_excerpt(text[start:])!r}")
    if len(spans) != expected:
        shape = "one object" if text[start] == "{" else f"an array of {len(spans)}"
        raise ResponseShapeError(f"expected {expected} location(s), the response holds {shape}")
    return _cut(body, text, spans)


def check_location(
    location: RawLocation, city: City, *, position: int, variables: Sequence[str] = HOURLY_VARIABLES
) -> int:
    """Check that ``location`` is hourly UTC data for ``city`` with every variable; return its number of hours.

    ``position`` is the location's index in the request; Open-Meteo tags elements after the first with a
    ``location_id``, checked when present.
    """
    document = location.document
    if not isinstance(document, Mapping):
        raise LocationShapeError(f"location {position} is a JSON {type(document).__name__}, not an object")
    if document.get("error") is True:
        raise LocationShapeError(f"API error: {document.get('reason', 'no reason given')}")
    location_id = document.get("location_id", position)
    if location_id != position:
        raise LocationShapeError(f"element {position} carries location_id {location_id}")
    latitude, longitude = _number(document, "latitude"), _number(document, "longitude")
    if (
        abs(latitude - city.latitude) > COORDINATE_TOLERANCE_DEGREES
        or _longitude_gap(longitude, city.longitude) > COORDINATE_TOLERANCE_DEGREES
    ):
        raise LocationShapeError(
            f"answer for {latitude},{longitude} is not near {city.name} ({city.latitude},{city.longitude})"
        )
    if document.get("utc_offset_seconds") != 0:
        raise LocationShapeError(f"utc_offset_seconds is {document.get('utc_offset_seconds')!r}, expected 0 (UTC)")
    hourly, units = document.get("hourly"), document.get("hourly_units")
    if not isinstance(hourly, Mapping) or not isinstance(units, Mapping):
        raise LocationShapeError("no 'hourly' and 'hourly_units' objects")
    times = hourly.get("time")
    if not isinstance(times, list) or not times:
        raise LocationShapeError("'hourly.time' is missing or empty")
    if not all(isinstance(value, str) and _HOURLY_TIME.fullmatch(value) for value in times):
        raise LocationShapeError("'hourly.time' holds values that are not YYYY-MM-DDTHH:MM")
    if any(later <= earlier for earlier, later in itertools.pairwise(times)):
        raise LocationShapeError("'hourly.time' is not strictly increasing")
    for variable in variables:
        _check_series(hourly.get(variable), variable, len(times))
        if not isinstance(units.get(variable), str):
            raise LocationShapeError(f"no unit for {variable!r} in 'hourly_units'")
    return len(times)


def hourly_time_span(raw: bytes) -> tuple[datetime, datetime] | None:
    """First and last hour (UTC) of a stored location body, or None if it is not a readable location."""
    try:
        document = json.loads(raw)
        times = document["hourly"]["time"]
        first, last = times[0], times[-1]
        return _hour(first), _hour(last)
    except (ValueError, TypeError, KeyError, IndexError):
        return None


def _hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)


def _check_series(values: object, variable: str, hours: int) -> None:
    if not isinstance(values, list):
        raise LocationShapeError(f"hourly variable {variable!r} is missing")
    if len(values) != hours:
        raise LocationShapeError(f"hourly variable {variable!r} has {len(values)} values for {hours} hours")
    for value in values:
        # null is a legitimate gap (a model's horizon, a missing observation); anything else must be a number.
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise LocationShapeError(f"hourly variable {variable!r} holds {value!r}, not a number or null")


def _number(document: Mapping[str, Any], field: str) -> float:
    value = document.get(field)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LocationShapeError(f"{field!r} is {value!r}, not a number")
    return float(value)


def _longitude_gap(first: float, second: float) -> float:
    gap = abs(first - second) % 360
    return min(gap, 360 - gap)


def _array_spans(text: str, start: int) -> list[tuple[int, int, Any]]:
    spans: list[tuple[int, int, Any]] = []
    position = _skip_whitespace(text, start + 1)
    if position < len(text) and text[position] == "]":
        _expect_end(text, position + 1)
        return spans
    while True:
        document, end = _decode_value(text, position)
        spans.append((position, end, document))
        position = _skip_whitespace(text, end)
        if position == len(text):
            raise ResponseShapeError("response array is not closed (truncated body?)")
        if text[position] == "]":
            _expect_end(text, position + 1)
            return spans
        if text[position] != ",":
            raise ResponseShapeError(f"unexpected {_excerpt(text[position:])!r} between array elements")
        position = _skip_whitespace(text, position + 1)


_DECODER = json.JSONDecoder()


def _decode_value(text: str, position: int) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, position)
    except json.JSONDecodeError as error:
        raise ResponseShapeError(f"response is not valid JSON: {error.msg} at character {error.pos}") from error


def _expect_end(text: str, position: int) -> None:
    rest = _skip_whitespace(text, position)
    if rest != len(text):
        raise ResponseShapeError(f"unexpected data after the JSON document: {_excerpt(text[rest:])!r}")


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def _cut(body: bytes, text: str, spans: list[tuple[int, int, Any]]) -> list[RawLocation]:
    """Slice ``body`` at the character spans found in ``text`` (its decoding): byte and character offsets differ
    past any non-ASCII character (the API's units hold a "°"), so offsets are carried forward span by span."""
    locations: list[RawLocation] = []
    character, byte = 0, 0
    for begin, end, document in spans:
        byte += len(text[character:begin].encode("utf-8"))
        length = len(text[begin:end].encode("utf-8"))
        locations.append(RawLocation(raw=body[byte : byte + length], document=document))
        character, byte = end, byte + length
    return locations


def _excerpt(text: str, limit: int = 40) -> str:
    return text[:limit] + ("..." if len(text) > limit else "")
