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
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
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


# Open-Meteo's free API limits each client IP to 600 calls a minute, 5,000 an hour and 10,000 a day (its terms; the
# server's RateLimiter.swift): counters are emptied on the wall clock's minute, hour and UTC day boundaries, a 429
# carries no Retry-After, and its JSON "reason" says which limit was hit (texts below, from that source). A request
# weighs max(1, variables / 10 x max(1, days / 14)) calls per location: one run of the 4 default cities is 4 calls.
MINUTE_RESET_MARGIN_SECONDS = 1.0  # wait this much past the boundary: our clock and the server's are not one
# A generous bound on what one location-hour can take in a body: its "YYYY-MM-DDTHH:MM" timestamp and, per
# variable, one number as Open-Meteo prints it (at most ~12 characters, e.g. -1234.56789,), each with room to spare;
# plus a fixed allowance per location for its header (coordinates, units, location_id).
BODY_BYTES_PER_HOUR = 32
BODY_BYTES_PER_VALUE = 32
BODY_BYTES_PER_LOCATION = 4096
MIN_BODY_CAP_BYTES = 1024 * 1024


class WeatherApiError(RuntimeError):
    """The API could not be reached, or refused the request, after the client's retries."""


class RateLimit(StrEnum):
    """Which of Open-Meteo's limits a 429 names, and so when it lifts."""

    MINUTELY = "minutely"
    HOURLY = "hourly"
    DAILY = "daily"
    CONCURRENCY = "concurrency"  # more than one request at a time per IP (a queue of 6): clears in seconds
    UNKNOWN = "unknown"  # another server (self-hosted, a proxy) or another text: treated like the minutely limit


_RATE_LIMIT_REASONS = (
    ("Minutely API request limit exceeded", RateLimit.MINUTELY),
    ("Hourly API request limit exceeded", RateLimit.HOURLY),
    ("Daily API request limit exceeded", RateLimit.DAILY),
    ("Too many concurrent requests", RateLimit.CONCURRENCY),
)


class RateLimitedError(WeatherApiError):
    """Open-Meteo answered 429 and waiting within this run was not possible or did not help.

    ``lifts_at`` is when the limit is lifted (UTC), if known.
    """

    def __init__(self, message: str, *, limit: RateLimit, lifts_at: datetime | None) -> None:
        super().__init__(message)
        self.limit = limit
        self.lifts_at = lifts_at

    @property
    def lifts_within_the_hour(self) -> bool:
        """A limit that a retry a few minutes later can get past (the state machine retries those)."""
        return self.limit not in {RateLimit.HOURLY, RateLimit.DAILY}


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


def rate_limit_named(reason: str) -> RateLimit:
    """The limit a 429's reason names."""
    for text, limit in _RATE_LIMIT_REASONS:
        if text.lower() in reason.lower():
            return limit
    return RateLimit.UNKNOWN


def rate_limit_lifts_at(limit: RateLimit, now: datetime) -> datetime | None:
    """When ``limit`` is lifted, reached at ``now``: the next minute, hour or UTC day; None for concurrency."""
    moment = now.astimezone(UTC)
    if limit in {RateLimit.MINUTELY, RateLimit.UNKNOWN}:
        return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if limit is RateLimit.HOURLY:
        return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if limit is RateLimit.DAILY:
        return moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return None


def body_cap_bytes(request: ApiRequest) -> int:
    """The most bytes a sane answer to ``request`` can take, with wide margins (at least 1 MiB).

    About six times a real body's size (a body of the four default cities over four days is 22 KB against a
    cap of 127 KB before the floor): enough for any answer, small enough to refuse a runaway one early.
    """
    query = request.query
    locations = len(query.get("latitude", "").split(","))
    variables = len([name for name in query.get("hourly", "").split(",") if name])
    try:
        days = (date.fromisoformat(query["end_date"]) - date.fromisoformat(query["start_date"])).days + 1
    except (KeyError, ValueError):
        days = 16  # the forecast API's longest horizon
    hours = 24 * max(days, 1)
    per_location = BODY_BYTES_PER_LOCATION + hours * (BODY_BYTES_PER_HOUR + variables * BODY_BYTES_PER_VALUE)
    return max(MIN_BODY_CAP_BYTES, locations * per_location)


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
