"""IngestWeatherFunction settings: validated at cold start, defaults equal to the template's."""

from __future__ import annotations

import re

import pytest

from lakepipe.domain.weather.cities import DEFAULT_CITIES_SPEC, parse_cities
from lakepipe.domain.weather.open_meteo import DEFAULT_ARCHIVE_API_URL, DEFAULT_FORECAST_API_URL
from lakepipe.settings import SettingsError, parse_settings
from lakepipe.settings.ingest_weather import IngestWeatherSettings, OpenMeteoSettings
from tests.conftest import REPO_ROOT
from tests.unit.weather.open_meteo_bodies import FOUR_CITIES
from tools.sam_translate import load_sam_template

REQUIRED = {"DATA_BUCKET": "lakepipe-dev-data-123456789012-eu-west-3", "IDEMPOTENCY_TABLE": "lakepipe-idempotency"}


def test_template_variables_are_parsed() -> None:
    settings = parse_settings(
        IngestWeatherSettings,
        REQUIRED
        | {
            "WEATHER_CITIES": "Paris:48.8566:2.3522;Saint Malo:48.6493:-2.0257",
            "OPEN_METEO_FORECAST_URL": "http://open-meteo.internal:8080/v1/forecast/",
            "WEATHER_PAST_DAYS": "3",
            "WEATHER_FORECAST_DAYS": "1",
        },
    )

    assert [city.name for city in settings.cities] == ["Paris", "Saint Malo"]
    assert settings.cities[1].longitude == -2.0257
    assert settings.forecast_api_url == "http://open-meteo.internal:8080/v1/forecast"
    assert (settings.past_days, settings.forecast_days) == (3, 1)
    assert settings.data_bucket == REQUIRED["DATA_BUCKET"]


def test_defaults_are_the_four_cities_and_open_meteo() -> None:
    settings = parse_settings(IngestWeatherSettings, REQUIRED)

    assert settings.cities == FOUR_CITIES
    assert (settings.forecast_api_url, settings.archive_api_url) == (DEFAULT_FORECAST_API_URL, DEFAULT_ARCHIVE_API_URL)
    assert (settings.past_days, settings.forecast_days, settings.max_attempts) == (2, 7, 4)


def test_a_bad_city_entry_fails_at_cold_start_naming_the_variable_and_the_entry() -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings(IngestWeatherSettings, REQUIRED | {"WEATHER_CITIES": "Paris:48.8566:2.3522;Lyon:45.764:184"})

    message = str(error.value)
    assert "invalid IngestWeatherSettings environment" in message
    assert "WEATHER_CITIES" in message
    assert "entry 2 'Lyon:45.764:184': longitude 184 is outside -180..180" in message


@pytest.mark.parametrize(
    ("variables", "failing"),
    [
        ({"WEATHER_PAST_DAYS": "0", "WEATHER_FORECAST_DAYS": "0"}, "must cover at least one day"),
        ({"WEATHER_PAST_DAYS": "93"}, "WEATHER_PAST_DAYS"),
        ({"WEATHER_FORECAST_DAYS": "17"}, "WEATHER_FORECAST_DAYS"),
        ({"OPEN_METEO_FORECAST_URL": "api.open-meteo.com/v1/forecast"}, "OPEN_METEO_FORECAST_URL"),
        ({"OPEN_METEO_MAX_ATTEMPTS": "0"}, "OPEN_METEO_MAX_ATTEMPTS"),
        ({"OPEN_METEO_MAX_BODY_BYTES": "100"}, "OPEN_METEO_MAX_BODY_BYTES"),
        ({"OPEN_METEO_ATTEMPT_TIMEOUT_SECONDS": "0"}, "OPEN_METEO_ATTEMPT_TIMEOUT_SECONDS"),
        ({"INGEST_LANDING_RESERVE_SECONDS": "0"}, "INGEST_LANDING_RESERVE_SECONDS"),
        ({"DATA_BUCKET": ""}, "DATA_BUCKET"),
    ],
)
def test_out_of_range_values_are_named(variables: dict[str, str], failing: str) -> None:
    with pytest.raises(SettingsError, match=failing):
        parse_settings(IngestWeatherSettings, REQUIRED | variables)


def test_the_fetch_bounds_default_to_a_derived_cap_a_minute_long_wait_and_a_20_s_landing_reserve() -> None:
    settings = parse_settings(IngestWeatherSettings, REQUIRED)

    assert settings.max_body_bytes is None  # derived from each request
    assert settings.attempt_timeout_seconds == 60.0
    assert settings.max_retry_delay_seconds == 65.0  # Open-Meteo's minute window, plus margin
    assert settings.landing_reserve_seconds == 20.0


@pytest.mark.parametrize(("value", "parsed"), [("", None), ("  ", None), ("5000000", 5_000_000)])
def test_an_empty_body_cap_means_derived(value: str, parsed: int | None) -> None:
    assert parse_settings(OpenMeteoSettings, {"OPEN_METEO_MAX_BODY_BYTES": value}).max_body_bytes == parsed


def test_the_backfill_needs_no_bucket_or_table() -> None:
    assert parse_settings(OpenMeteoSettings, {}).archive_api_url == DEFAULT_ARCHIVE_API_URL


def test_template_defaults_are_the_code_defaults_and_reach_the_function() -> None:
    template = load_sam_template(REPO_ROOT / "template.yaml")
    parameters = template["Parameters"]
    function = template["Resources"]["IngestWeatherFunction"]["Properties"]

    assert parameters["CityCoordinates"]["Default"] == DEFAULT_CITIES_SPEC
    assert parameters["Cities"]["Default"] == ",".join(city.key_name for city in FOUR_CITIES)
    assert (
        parse_settings(
            OpenMeteoSettings,
            {
                "WEATHER_CITY_NAMES": parameters["Cities"]["Default"],
                "WEATHER_CITIES": parameters["CityCoordinates"]["Default"],
            },
        ).cities
        == FOUR_CITIES
    )
    assert parameters["ForecastApiUrl"]["Default"] == DEFAULT_FORECAST_API_URL
    assert parameters["ArchiveApiUrl"]["Default"] == DEFAULT_ARCHIVE_API_URL
    assert parameters["ScheduleExpression"]["Default"] == "rate(1 hour)"
    assert function["Environment"]["Variables"] == {
        "WEATHER_CITY_NAMES": {"Ref": "Cities"},
        "WEATHER_CITIES": {"Ref": "CityCoordinates"},
        "OPEN_METEO_FORECAST_URL": {"Ref": "ForecastApiUrl"},
        "OPEN_METEO_ARCHIVE_URL": {"Ref": "ArchiveApiUrl"},
        "WEATHER_PAST_DAYS": {"Ref": "PastDays"},
        "WEATHER_FORECAST_DAYS": {"Ref": "ForecastDays"},
    }
    assert "Events" not in function  # the schedule starts the state machine, which invokes the function


@pytest.mark.parametrize(
    ("spec", "accepted"),
    [
        (DEFAULT_CITIES_SPEC, True),
        ("Saint Etienne:45.4397:4.3872;", True),
        (" Ushuaia : -54.8019 : -68.303 ", True),
        ("Paris:48.8566", False),
        ("Paris;Lyon", False),
        ("Paris:48,8566:2,3522", False),
    ],
)
def test_the_template_refuses_malformed_cities_at_deploy_time(spec: str, accepted: bool) -> None:
    pattern = load_sam_template(REPO_ROOT / "template.yaml")["Parameters"]["CityCoordinates"]["AllowedPattern"]

    assert bool(re.fullmatch(pattern, spec)) is accepted
    if accepted:
        assert parse_cities(spec)  # ranges and duplicates are left to the cold-start check


# ---------------------------------------------------------------- one list of cities (Cities = WEATHER_CITY_NAMES)
COORDINATES = "Paris:48.8566:2.3522;Saint Malo:48.6493:-2.0257;Lyon:45.764:4.8357"


def test_the_named_cities_are_fetched_in_their_order_with_their_coordinates() -> None:
    settings = parse_settings(
        OpenMeteoSettings, {"WEATHER_CITY_NAMES": "Lyon,Saint_Malo,Paris", "WEATHER_CITIES": COORDINATES}
    )

    assert [(city.key_name, city.latitude) for city in settings.cities] == [
        ("Lyon", 45.764),
        ("Saint_Malo", 48.6493),
        ("Paris", 48.8566),
    ]


@pytest.mark.parametrize(
    ("names", "named_in_the_error"),
    [
        # a city Athena would project but nobody fetches: refused, not an empty partition forever
        ("Paris,Saint_Malo,Lyon,Nice", "'Nice' has no coordinates"),
        # a city fetched but missing from the projection (the silent loss this design removes): refused
        ("Paris,Lyon", "'Saint_Malo' has coordinates but is not a listed city"),
        ("Paris,Saint_Malo,Lyon,Paris", "'Paris' is listed twice"),
        ("Paris,,Saint_Malo,Lyon", "empty name at position 2"),
    ],
)
def test_names_and_coordinates_that_disagree_fail_the_cold_start_naming_the_city(
    names: str, named_in_the_error: str
) -> None:
    with pytest.raises(SettingsError, match="WEATHER_CITY_NAMES / WEATHER_CITIES") as error:
        parse_settings(IngestWeatherSettings, REQUIRED | {"WEATHER_CITY_NAMES": names, "WEATHER_CITIES": COORDINATES})

    assert named_in_the_error in str(error.value)


def test_names_without_coordinates_fail_the_cold_start() -> None:
    with pytest.raises(SettingsError, match="WEATHER_CITIES \\(their coordinates\\) is not"):
        parse_settings(IngestWeatherSettings, REQUIRED | {"WEATHER_CITY_NAMES": "Paris"})


def test_every_name_the_template_accepts_is_its_own_partition_value() -> None:
    # The names are the projection enum verbatim: a space (which becomes _ in keys) must not get through.
    pattern = load_sam_template(REPO_ROOT / "template.yaml")["Parameters"]["Cities"]["AllowedPattern"]

    assert re.fullmatch(pattern, "Paris,Saint_Malo,Aix-en-Provence")
    assert not re.fullmatch(pattern, "Paris,Saint Malo")
    assert not re.fullmatch(pattern, "Paris,")
    assert not re.fullmatch(pattern, "Paris:48.8566:2.3522")
