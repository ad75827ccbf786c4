"""Cities configuration: one string, parsed and validated with every problem named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakepipe.domain.weather.cities import (
    DEFAULT_CITIES_SPEC,
    CitiesConfigError,
    City,
    format_cities,
    format_degrees,
    parse_cities,
)


def test_default_configuration_holds_the_four_cities_in_order() -> None:
    cities = parse_cities(DEFAULT_CITIES_SPEC)

    assert cities == (
        City("Paris", 48.8566, 2.3522),
        City("Marseille", 43.2965, 5.3698),
        City("Nice", 43.7102, 7.262),
        City("Lyon", 45.764, 4.8357),
    )


def test_whitespace_and_a_trailing_separator_are_tolerated() -> None:
    cities = parse_cities("  Saint Etienne : 45.4397 : 4.3872 ;\n Le-Havre:49.4944:0.1079; ")

    assert [city.name for city in cities] == ["Saint Etienne", "Le-Havre"]
    assert cities[0].key_name == "Saint_Etienne"
    assert cities[1].longitude == pytest.approx(0.1079)


def test_southern_and_western_coordinates_and_the_limits_are_accepted() -> None:
    cities = parse_cities("Ushuaia:-54.8019:-68.3030;Pole:-90:180;Dateline:0:-180")

    assert [(city.latitude, city.longitude) for city in cities] == [(-54.8019, -68.303), (-90, 180), (0, -180)]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Paris:48.8566", "entry 1 'Paris:48.8566': expected Name:latitude:longitude"),
        ("Paris:48.8566:2.3522:9", "expected Name:latitude:longitude"),
        ("Paris:91:2.3522", "latitude 91 is outside -90..90"),
        ("Paris:48.8566:-180.5", "longitude -180.5 is outside -180..180"),
        ("Paris:north:2.3522", "latitude 'north' is not a decimal number of degrees"),
        ("Paris:nan:2.3522", "latitude 'nan' is not a decimal number"),
        ("Paris:1e1:2.3522", "latitude '1e1' is not a decimal number"),
        ("Par/is:48.8566:2.3522", "name must be 1-64 ASCII letters"),
        ("Orléans:47.9029:1.9093", "name must be 1-64 ASCII letters"),
        (":48.8566:2.3522", "name must be"),
        ("", "no city given"),
        (" ; ", "no city given"),
    ],
)
def test_a_bad_entry_is_reported_with_its_position_and_reason(spec: str, message: str) -> None:
    with pytest.raises(CitiesConfigError, match="invalid cities configuration") as error:
        parse_cities(spec)

    assert message in str(error.value)


def test_every_bad_entry_is_reported_at_once() -> None:
    with pytest.raises(CitiesConfigError) as error:
        parse_cities("Paris:48.8566:2.3522;Marseille:95:5.3698;Nice;Lyon:45.7640:4.8357")

    message = str(error.value)
    assert "entry 2 'Marseille:95:5.3698': latitude 95 is outside -90..90" in message
    assert "entry 3 'Nice': expected Name:latitude:longitude" in message
    assert "Paris" not in message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("Paris:48.8566:2.3522;paris:48.85:2.35", "'paris' duplicates 'Paris' (same landing key)"),
        ("New York:40.7128:-74.006;New_York:40.71:-74.0", "'New_York' duplicates 'New York'"),
        ("Paris:48.8566:2.3522;Lutece:48.85660:2.35220", "'Lutece' has the same coordinates as 'Paris'"),
    ],
)
def test_duplicates_are_rejected(spec: str, message: str) -> None:
    with pytest.raises(CitiesConfigError) as error:
        parse_cities(spec)

    assert message in str(error.value)


def test_more_cities_than_one_request_carries_are_rejected() -> None:
    spec = ";".join(f"C{index}:{index % 90}.{index:03d}:{index % 180}.5" for index in range(101))

    with pytest.raises(CitiesConfigError, match="101 cities given, at most 100"):
        parse_cities(spec)


@pytest.mark.parametrize(("value", "text"), [(48.8566, "48.8566"), (7.262, "7.262"), (2.0, "2"), (-0.00001, "0")])
def test_coordinates_are_sent_with_at_most_four_decimals(value: float, text: str) -> None:
    assert format_degrees(value) == text


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,20}", fullmatch=True)
points = st.tuples(
    st.decimals(min_value=-90, max_value=90, places=4), st.decimals(min_value=-180, max_value=180, places=4)
)


def _point_key(entry: tuple[str, tuple[object, object]]) -> tuple[str, str]:
    latitude, longitude = entry[1]
    return format_degrees(float(str(latitude))), format_degrees(float(str(longitude)))


@given(st.lists(st.tuples(names, points), min_size=1, max_size=8, unique_by=(lambda c: c[0].lower(), _point_key)))
def test_formatting_then_parsing_gives_back_the_same_cities(entries: list[tuple[str, tuple[object, object]]]) -> None:
    cities = tuple(City(name, float(str(lat)), float(str(lon))) for name, (lat, lon) in entries)

    assert parse_cities(format_cities(cities)) == cities


@given(st.text(max_size=80))
def test_any_text_is_either_cities_or_a_configuration_error(spec: str) -> None:
    try:
        cities = parse_cities(spec)
    except CitiesConfigError:
        return
    assert all(-90 <= city.latitude <= 90 and -180 <= city.longitude <= 180 for city in cities)
