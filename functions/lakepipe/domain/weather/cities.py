"""Cities to ingest, parsed from one configuration string and validated before any request is made.

Format (template parameter ``Cities``, variable ``WEATHER_CITIES``, ``lakepipe backfill --cities``)::

    Name:latitude:longitude;Name:latitude:longitude;...

for example ``Paris:48.8566:2.3522;Lyon:45.7640:4.8357``. Coordinates are decimal degrees (latitude -90..90,
longitude -180..180). A name is 1-64 ASCII letters, digits, spaces, ``-`` or ``_`` starting with a letter or digit:
it becomes part of the landing key (``city=<name>.json``, a space becoming ``_``), so it must stay URL-safe.
Two entries may not share a name (compared as keys, ignoring case) nor coordinates.

Deployed, the names come separately (template parameter ``Cities``, variable ``WEATHER_CITY_NAMES``: the city
partitions Athena projects) and this string only gives their coordinates; :func:`select_cities` insists the two
name exactly the same cities.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_CITIES_SPEC = "Paris:48.8566:2.3522;Marseille:43.2965:5.3698;Nice:43.7102:7.2620;Lyon:45.7640:4.8357"
# One request carries every city: past ~100 coordinates the URL outgrows what proxies and S3 metadata accept.
MAX_CITIES = 100

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,63}")
_DEGREES = re.compile(r"-?\d{1,3}(\.\d+)?")


class CitiesConfigError(ValueError):
    """The cities configuration string is malformed; the message lists every bad entry."""


@dataclass(frozen=True)
class City:
    """A named point the API is asked about."""

    name: str
    latitude: float
    longitude: float

    @property
    def key_name(self) -> str:
        """The name as it appears in landing keys: spaces become underscores."""
        return self.name.replace(" ", "_")


def parse_cities(spec: str) -> tuple[City, ...]:
    """Parse ``Name:lat:lon;...`` into cities, in order; raise :class:`CitiesConfigError` naming every problem."""
    entries = [entry.strip() for entry in spec.split(";")]
    cities: list[City] = []
    problems: list[str] = []
    for position, entry in enumerate(entries, start=1):
        if not entry:
            continue  # tolerate a trailing ";" or an empty slot left by editing
        try:
            cities.append(_parse_entry(entry))
        except CitiesConfigError as error:
            problems.append(f"entry {position} {entry!r}: {error}")
    problems += _duplicates(cities)
    if not cities and not problems:
        problems.append("no city given (expected Name:latitude:longitude;...)")
    if len(cities) > MAX_CITIES:
        problems.append(f"{len(cities)} cities given, at most {MAX_CITIES} fit in one request")
    if problems:
        raise CitiesConfigError("invalid cities configuration: " + "; ".join(problems))
    return tuple(cities)


def select_cities(cities: Iterable[City], names: str) -> tuple[City, ...]:
    """The cities listed in ``names`` (``Name,Name,...``, as they appear in landing keys), in that order, each with
    its coordinates from ``cities``.

    Deployed, ``names`` is the template's ``Cities``: the city partitions Athena projects. So a name without
    coordinates, or coordinates of a city not in ``names``, is an error naming that city, never a city that is
    fetched but invisible in Athena (or silently not fetched). Raises :class:`CitiesConfigError`.
    """
    listed = [name.strip() for name in names.split(",")]
    by_key = {city.key_name: city for city in cities}
    problems = [f"empty name at position {position}" for position, name in enumerate(listed, start=1) if not name]
    problems += [f"{name!r} is listed twice" for name in sorted({n for n in listed if n and listed.count(n) > 1})]
    problems += [f"{name!r} has no coordinates" for name in listed if name and name not in by_key]
    problems += [f"{key!r} has coordinates but is not a listed city" for key in by_key if key not in listed]
    if problems:
        raise CitiesConfigError("city names and coordinates do not match: " + "; ".join(problems))
    return tuple(by_key[name] for name in listed)


def format_cities(cities: Iterable[City]) -> str:
    """The configuration string for ``cities`` (inverse of :func:`parse_cities`)."""
    return ";".join(f"{city.name}:{format_degrees(city.latitude)}:{format_degrees(city.longitude)}" for city in cities)


def format_degrees(value: float) -> str:
    """Coordinates as sent to the API: at most 4 decimals (about 10 m), no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def _parse_entry(entry: str) -> City:
    parts = [part.strip() for part in entry.split(":")]
    if len(parts) != 3:
        raise CitiesConfigError("expected Name:latitude:longitude")
    name, latitude_text, longitude_text = parts
    if not _NAME.fullmatch(name):
        raise CitiesConfigError(
            "name must be 1-64 ASCII letters, digits, spaces, '-' or '_', starting with a letter or digit"
        )
    latitude = _degrees(latitude_text, "latitude", 90)
    longitude = _degrees(longitude_text, "longitude", 180)
    return City(name=name, latitude=latitude, longitude=longitude)


def _degrees(text: str, axis: str, limit: int) -> float:
    if not _DEGREES.fullmatch(text):
        raise CitiesConfigError(f"{axis} {text!r} is not a decimal number of degrees")
    value = float(text)
    if not -limit <= value <= limit:
        raise CitiesConfigError(f"{axis} {text} is outside -{limit}..{limit}")
    return value


def _duplicates(cities: list[City]) -> list[str]:
    problems: list[str] = []
    seen_names: dict[str, str] = {}
    seen_points: dict[tuple[str, str], str] = {}
    for city in cities:
        name_key = city.key_name.lower()
        if name_key in seen_names:
            problems.append(f"{city.name!r} duplicates {seen_names[name_key]!r} (same landing key)")
        seen_names.setdefault(name_key, city.name)
        point = (format_degrees(city.latitude), format_degrees(city.longitude))
        if point in seen_points:
            problems.append(f"{city.name!r} has the same coordinates as {seen_points[point]!r}")
        seen_points.setdefault(point, city.name)
    return problems
