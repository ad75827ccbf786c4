"""The Glue job's transforms, one at a time, on small DataFrames built in the test (local Spark, no files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType, TimestampType

from tests.integration.glue.conftest import SPARK_MARKS
from tests.integration.glue.landing_fixtures import IMPERIAL_UNITS, METRIC_UNITS
from weather_etl import (
    HOURLY_VARIABLES,
    LANDING_SCHEMA,
    REFINED_SCHEMA,
    SOURCE_PATH,
    WRITTEN_AT,
    arrange_for_write,
    convert_units,
    explode_hourly,
    flag_invalid_rows,
    merge_into_partitions,
    object_rejects,
    ranked_candidates,
    refined_rows,
    superseded_rejects,
    with_source_metadata,
)

pytestmark = list(SPARK_MARKS)

LANDING_PREFIX = "landing/weather/source=open-meteo/"
LAKE = "file:///lake/landing/weather/source=open-meteo"
JOB_CLOCK = datetime(2026, 12, 1, tzinfo=UTC)


def object_path(run: str, city: str) -> str:
    return f"{LAKE}/ingest_date={run[:4]}-{run[4:6]}-{run[6:8]}/run={run}/city={city}.json"


def location(path: str, times: list[str], units: dict[str, str] | None = None, **series: Any) -> dict[str, Any]:
    """One location as the API answers it: every requested variable, as long as ``times`` (null values unless
    given); a variable given as None is absent from the body."""
    hourly = {variable: [None] * len(times) for variable in HOURLY_VARIABLES} | series
    return {
        SOURCE_PATH: path,
        "latitude": 48.86,
        "longitude": 2.34,
        "utc_offset_seconds": 0,
        "elevation": 43.0,
        "hourly_units": METRIC_UNITS if units is None else units,
        "hourly": {"time": times, **{name: values for name, values in hourly.items() if values is not None}},
    }


def landing_frame(spark: SparkSession, *objects: dict[str, Any]) -> DataFrame:
    schema = StructType(
        [*LANDING_SCHEMA.fields, StructField(SOURCE_PATH, StringType()), StructField(WRITTEN_AT, TimestampType())]
    )
    return spark.createDataFrame([{field.name: obj.get(field.name) for field in schema} for obj in objects], schema)


def described_objects(spark: SparkSession, *objects: dict[str, Any]) -> DataFrame:
    return with_source_metadata(landing_frame(spark, *objects), LANDING_PREFIX, processed_at=JOB_CLOCK)


def hourly_rows(spark: SparkSession, *objects: dict[str, Any]) -> DataFrame:
    """Landing objects up to checked hours: metadata, explode, units, checks."""
    return flag_invalid_rows(convert_units(explode_hourly(described_objects(spark, *objects))))


def refined(spark: SparkSession, *rows: dict[str, Any]) -> DataFrame:
    defaults = {"latitude": 48.86, "longitude": 2.34, "elevation_m": 43.0, "is_forecast": False}
    return spark.createDataFrame([defaults | row for row in rows], REFINED_SCHEMA)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def naive(text: str) -> datetime:
    """How Spark hands back a timestamp in a UTC session: naive, in UTC."""
    return datetime.fromisoformat(text)


def test_source_metadata_comes_from_the_object_key(spark: SparkSession) -> None:
    # Given an object whose key Spark percent-encodes (a space in the city name)
    path = object_path("20261122T030000Z", "Saint%20Malo")

    # When the key is parsed
    row = described_objects(spark, location(path, ["2026-11-22T00:00"])).first()

    # Then city, ingest date, fetch time and the bucket-relative key come from the path
    assert row is not None
    assert row["city"] == "Saint Malo"
    assert row["ingest_date"] == "2026-11-22"
    assert row["fetched_at"] == naive("2026-11-22T03:00:00")
    assert row["source_key"] == (
        "landing/weather/source=open-meteo/ingest_date=2026-11-22/run=20261122T030000Z/city=Saint Malo.json"
    )
    assert row["object_problem"] is None


def test_unusable_objects_are_named_and_rejected_once_each(spark: SparkSession) -> None:
    # Given objects that cannot yield hours: malformed, empty, an API error body, no hourly series, a key outside
    # the layout, and a multi-location array landed as one object
    objects = [
        {SOURCE_PATH: object_path("20261122T030000Z", "Broken"), "_corrupt_record": '{"latitude":48.8'},
        {SOURCE_PATH: object_path("20261122T030000Z", "Empty"), "_corrupt_record": ""},
        {SOURCE_PATH: object_path("20261122T030000Z", "Error"), "error": True, "reason": "Latitude must be in range"},
        {SOURCE_PATH: object_path("20261122T030000Z", "NoSeries"), "latitude": 1.0},
        location(f"{LAKE}/ingest_date=2026-11-22/run=latest/city=Paris.json", ["2026-11-22T00:00"]),
        location(object_path("20261122T030000Z", "Array"), ["2026-11-22T00:00"]),
        location(object_path("20261122T030000Z", "Array"), ["2026-11-22T00:00"]),
        location(object_path("20261122T030000Z", "Paris"), ["2026-11-22T00:00"]),
    ]

    # When they are described and the unusable ones turned into rejects
    described = described_objects(spark, *objects)
    rejects = {row["source_key"].rsplit("/", 2)[-1]: row for row in object_rejects(described).collect()}

    # Then each unusable object is one reject naming why; the good object is not among them
    assert {key: row["reject_reason"] for key, row in rejects.items()} == {
        "city=Broken.json": "malformed_json",
        "city=Empty.json": "empty_object",
        "city=Error.json": "api_error:Latitude must be in range",
        "city=NoSeries.json": "no_hourly_data",
        "city=Paris.json": "unexpected_object_key",
        "city=Array.json": "several_locations_in_object",
    }
    assert rejects["city=Broken.json"]["raw_values"] == '{"latitude":48.8'
    assert rejects["city=Broken.json"]["ingest_date"] == "2026-11-22"
    assert all(row["observed_at"] is None for row in rejects.values())


def test_explode_gives_one_row_per_hour_with_each_variables_value(spark: SparkSession) -> None:
    # Given a series of 3 hours, with a null temperature at the last one (the API's "no value")
    path = object_path("20261122T030000Z", "Paris")
    series = {"temperature_2m": [7.1, 6.8, None], "relative_humidity_2m": [80.0, 82.0, 85.0]}
    described = described_objects(
        spark, location(path, ["2026-11-22T00:00", "2026-11-22T01:00", "2026-11-22T02:00"], **series)
    )

    # When the column arrays are exploded
    rows = explode_hourly(described).orderBy("raw_time").collect()

    # Then there is one row per hour, the null value kept as such
    assert [row["raw_time"] for row in rows] == ["2026-11-22T00:00", "2026-11-22T01:00", "2026-11-22T02:00"]
    assert [row["raw_temperature_2m"] for row in rows] == [7.1, 6.8, None]
    assert [row["raw_relative_humidity_2m"] for row in rows] == [80.0, 82.0, 85.0]
    assert {row["city"] for row in rows} == {"Paris"}


def test_an_object_that_cannot_be_read_right_is_rejected_whole_with_the_reason(spark: SparkSession) -> None:
    # Given objects that would erase or corrupt stored values if their hours were merged: a variable missing, a
    # series shorter or longer than the time axis, no hourly_units at all or no unit for a variable, a run id later
    # than the job's clock, and one later than the object was written; and one good object
    times = ["2026-11-22T00:00", "2026-11-22T01:00"]
    written = datetime(2026, 11, 22, 3, 0, 5, tzinfo=UTC)
    no_temperature_unit = {name: unit for name, unit in METRIC_UNITS.items() if name != "temperature_2m"}
    objects = [
        location(object_path("20261122T030000Z", "NoTemperature"), times, temperature_2m=None),
        location(object_path("20261122T030000Z", "Short"), times, temperature_2m=[7.1]),
        location(object_path("20261122T030000Z", "Long"), times, precipitation=[0.0, 0.1, 0.2]),
        location(object_path("20261122T030000Z", "NoUnits"), times, {}) | {"hourly_units": None},
        location(object_path("20261122T030000Z", "NoTemperatureUnit"), times, no_temperature_unit),
        location(object_path("20991231T000000Z", "Future"), times),
        location(object_path("20261122T150000Z", "Backdated"), times) | {WRITTEN_AT: written},
        location(object_path("20261122T030000Z", "Good"), times) | {WRITTEN_AT: written},
    ]

    # When they are described and the unusable ones turned into rejects
    rejects = {row["city"]: row for row in object_rejects(described_objects(spark, *objects)).collect()}

    # Then each is one reject naming what is wrong; the good object is not among them
    assert {city: row["reject_reason"] for city, row in rejects.items()} == {
        "NoTemperature": "missing_variable:temperature_2m",
        "Short": "series_length_mismatch:temperature_2m",
        "Long": "series_length_mismatch:precipitation",
        "NoUnits": "missing_hourly_units",
        "NoTemperatureUnit": "missing_unit:temperature_2m",
        "Future": "run_in_future",
        "Backdated": "run_after_write_time",
    }
    assert json.loads(rejects["Backdated"]["raw_values"]) == {
        "run": "2026-11-22T15:00:00.000Z",
        "written_at": "2026-11-22T03:00:05.000Z",
    }
    assert "temperature_2m" not in json.loads(rejects["NoTemperatureUnit"]["raw_values"])["hourly_units"]


def test_units_are_converted_to_canonical_and_unknown_units_rejected(spark: SparkSession) -> None:
    # Given the same hour in imperial units, in m/s and knots, and in a unit the job does not know
    hour = ["2026-11-22T00:00"]
    objects = [
        location(
            object_path("20261122T030000Z", "Imperial"),
            hour,
            IMPERIAL_UNITS,
            temperature_2m=[50.0],
            precipitation=[0.1],
            wind_speed_10m=[10.0],
        ),
        location(
            object_path("20261122T030000Z", "Metres"),
            hour,
            METRIC_UNITS | {"wind_speed_10m": "m/s"},
            wind_speed_10m=[10.0],
        ),
        location(
            object_path("20261122T030000Z", "Knots"),
            hour,
            METRIC_UNITS | {"wind_speed_10m": "kn"},
            wind_speed_10m=[10.0],
        ),
        location(
            object_path("20261122T030000Z", "Kelvin"),
            hour,
            METRIC_UNITS | {"temperature_2m": "K"},
            temperature_2m=[283.15],
        ),
        location(
            object_path("20261122T030000Z", "NoUnit"),
            hour,
            {name: unit for name, unit in METRIC_UNITS.items() if name != "temperature_2m"},
            temperature_2m=[48.2],
        ),
    ]

    # When units are converted and rows checked
    rows = {row["city"]: row for row in hourly_rows(spark, *objects).collect()}

    # Then values are in °C, mm and km/h; an unknown unit, or none at all, is a reject (never read as the default)
    assert (rows["Imperial"]["temperature_c"], rows["Imperial"]["precipitation_mm"]) == (10.0, 2.54)
    assert rows["Imperial"]["wind_speed_kmh"] == 16.09
    assert rows["Metres"]["wind_speed_kmh"] == 36.0
    assert rows["Knots"]["wind_speed_kmh"] == 18.52
    assert rows["Kelvin"]["temperature_c"] is None
    assert rows["Kelvin"]["reject_reason"] == "unsupported_unit:temperature_2m=K"
    assert (rows["NoUnit"]["temperature_c"], rows["NoUnit"]["reject_reason"]) == (None, "missing_unit:temperature_2m")
    assert all(rows[city]["reject_reason"] is None for city in ("Imperial", "Metres", "Knots"))


def test_local_times_are_turned_into_utc(spark: SparkSession) -> None:
    # Given a location answered in local time, UTC+1 (utc_offset_seconds 3600)
    body = location(object_path("20261122T030000Z", "Paris"), ["2026-11-22T00:00", "2026-11-22T01:00"])
    body["utc_offset_seconds"] = 3600

    # When the hours are converted
    rows = hourly_rows(spark, body).orderBy("observed_at").collect()

    # Then observed_at is UTC: local midnight is 23:00 the day before
    assert [row["observed_at"] for row in rows] == [naive("2026-11-21T23:00:00"), naive("2026-11-22T00:00:00")]


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("temperature_2m", -90.1, "temperature_c_out_of_range"),
        ("temperature_2m", 60.1, "temperature_c_out_of_range"),
        ("relative_humidity_2m", 100.5, "relative_humidity_pct_out_of_range"),
        ("relative_humidity_2m", -1.0, "relative_humidity_pct_out_of_range"),
        ("precipitation", -0.1, "precipitation_mm_out_of_range"),
        ("wind_speed_10m", -3.0, "wind_speed_kmh_out_of_range"),
        ("wind_direction_10m", 361.0, "wind_direction_deg_out_of_range"),
        ("pressure_msl", 700.0, "pressure_msl_hpa_out_of_range"),
        ("cloud_cover", 101.0, "cloud_cover_pct_out_of_range"),
        ("weather_code", 2.5, "weather_code_out_of_range"),
        ("weather_code", 100.0, "weather_code_out_of_range"),
    ],
)
def test_values_outside_physical_ranges_are_rejected_with_the_reason(
    spark: SparkSession, variable: str, value: float, reason: str
) -> None:
    # Given an hour with one impossible value
    body = location(object_path("20261122T030000Z", "Paris"), ["2026-11-22T00:00"], **{variable: [value]})

    # When it is checked
    (row,) = hourly_rows(spark, body).collect()

    # Then it is rejected and the reason names the check
    assert row["reject_reason"] == reason


def test_values_at_the_limits_and_nulls_pass(spark: SparkSession) -> None:
    # Given hours at every range limit, and an hour where every value is missing
    limits = {
        "temperature_2m": [-90.0, 60.0, None],
        "relative_humidity_2m": [0.0, 100.0, None],
        "precipitation": [0.0, 499.0, None],
        "wind_speed_10m": [0.0, 408.0, None],
        "wind_direction_10m": [0.0, 360.0, None],
        "pressure_msl": [850.0, 1100.0, None],
        "cloud_cover": [0.0, 100.0, None],
        "weather_code": [0.0, 99.0, None],
    }
    times = ["2026-11-22T00:00", "2026-11-22T01:00", "2026-11-22T02:00"]

    # When they are checked
    rows = hourly_rows(spark, location(object_path("20261122T030000Z", "Paris"), times, **limits)).collect()

    # Then none is rejected: a null is missing data, not an invalid value
    assert len(rows) == 3
    assert [row["reject_reason"] for row in rows] == [None, None, None]


def test_several_failed_checks_are_all_named(spark: SparkSession) -> None:
    body = location(
        object_path("20261122T030000Z", "Nice"),
        ["2026-11-22T10:00"],
        precipitation=[-0.3],
        wind_direction_10m=[400.0],
    )

    (row,) = hourly_rows(spark, body).collect()

    assert row["reject_reason"] == "precipitation_mm_out_of_range,wind_direction_deg_out_of_range"


def test_hours_after_the_fetch_are_forecasts_and_partitions_use_the_utc_date(spark: SparkSession) -> None:
    # Given a run fetched at 2026-11-22T03:00Z with hours around the fetch and across midnight
    times = ["2026-11-21T23:00", "2026-11-22T03:00", "2026-11-22T04:00"]
    checked = hourly_rows(spark, location(object_path("20261122T030000Z", "Paris"), times, temperature_2m=[1.0] * 3))

    # When refined rows are built
    rows = refined_rows(checked, run_id="20261122T030000Z", processed_at=at("2026-11-22T03:20:00")).collect()

    # Then only the hour after the fetch is a forecast; date is the UTC observation date; metadata is stamped
    by_hour = {row["observed_at"].isoformat(): row for row in rows}
    assert {hour: row["is_forecast"] for hour, row in by_hour.items()} == {
        "2026-11-21T23:00:00": False,
        "2026-11-22T03:00:00": False,
        "2026-11-22T04:00:00": True,
    }
    assert by_hour["2026-11-21T23:00:00"]["date"] == "2026-11-21"
    assert by_hour["2026-11-22T04:00:00"]["date"] == "2026-11-22"
    assert {(row["run_id"], row["processed_at"]) for row in rows} == {
        ("20261122T030000Z", naive("2026-11-22T03:20:00"))
    }
    # the table's columns, then what a reject of the hour would need (never written to the table)
    assert list(rows[0].asDict()) == [*REFINED_SCHEMA.names, "_ingest_date", "_raw_values"]


def test_overlapping_runs_count_each_hour_once_from_the_latest_fetch(spark: SparkSession) -> None:
    # Given two hourly runs that both fetched 2026-11-21 (past_days overlap), disagreeing about the rain
    times = [f"2026-11-21T{hour:02d}:00" for hour in range(24)]
    earlier = location(object_path("20261121T150000Z", "Paris"), times, precipitation=[0.5] * 24)
    later = location(object_path("20261122T030000Z", "Paris"), times, precipitation=[0.25] * 24)
    checked = hourly_rows(spark, earlier, later)

    # When they are merged into an empty partition
    incoming = refined_rows(checked, run_id="r", processed_at=at("2026-11-22T03:20:00"))
    rows = merge_into_partitions(spark.createDataFrame([], REFINED_SCHEMA), incoming).collect()

    # Then each hour appears once, from the later run: the day's rain is 6 mm, not 18 mm
    assert len(rows) == 24
    assert {row["fetched_at"] for row in rows} == {naive("2026-11-22T03:00:00")}
    assert sum(row["precipitation_mm"] for row in rows) == 6.0


def test_merge_keeps_stored_hours_prefers_newer_fetches_and_keeps_stored_rows_of_the_same_fetch(
    spark: SparkSession,
) -> None:
    # Given a partition holding hours 00-03 from a fetch at 03:00, processed by job run "first"
    def row(hour: int, fetched: str, temperature: float, run_id: str, processed: str) -> dict[str, Any]:
        return {
            "observed_at": naive(f"2026-11-21T{hour:02d}:00:00"),
            "temperature_c": temperature,
            "fetched_at": naive(fetched),
            "source_key": f"landing/.../run={fetched}/city=Paris.json",
            "run_id": run_id,
            "processed_at": naive(processed),
            "date": "2026-11-21",
            "city": "Paris",
        }

    stored = refined(
        spark, *(row(hour, "2026-11-21T03:00:00", 5.0, "first", "2026-11-21T03:20:00") for hour in range(4))
    )
    # and a batch with the same fetch of hour 00 again (a re-run) plus a newer fetch of hours 02-05
    incoming = refined(
        spark,
        row(0, "2026-11-21T03:00:00", 5.0, "second", "2026-11-22T03:20:00"),
        *(row(hour, "2026-11-22T03:00:00", 6.0, "second", "2026-11-22T03:20:00") for hour in range(2, 6)),
    )

    # When the batch is merged into the partition
    merged = {r["observed_at"].hour: r for r in merge_into_partitions(stored, incoming).collect()}

    # Then no stored hour is lost, newer fetches win, and a fetch seen again keeps the stored row untouched
    assert sorted(merged) == [0, 1, 2, 3, 4, 5]
    assert {hour: merged[hour]["temperature_c"] for hour in merged} == {0: 5.0, 1: 5.0, 2: 6.0, 3: 6.0, 4: 6.0, 5: 6.0}
    assert (merged[0]["run_id"], merged[0]["processed_at"]) == ("first", naive("2026-11-21T03:20:00"))
    assert merged[4]["run_id"] == "second"


def test_a_later_fetch_with_fewer_values_never_erases_a_stored_one_and_is_rejected(spark: SparkSession) -> None:
    # Given an hour stored complete from the 03:00 fetch, and a 15:00 fetch of it whose temperature is null
    times = ["2026-11-21T12:00"]
    full = {
        variable: [value]
        for variable, value in zip(HOURLY_VARIABLES, [7.0, 80.0, 0.4, 12.0, 220.0, 1012.0, 90.0, 61.0], strict=True)
    }
    earlier = location(object_path("20261121T030000Z", "Paris"), times, **full)
    later = location(
        object_path("20261121T150000Z", "Paris"), times, **(full | {"temperature_2m": [None], "cloud_cover": [75.0]})
    )
    empty = spark.createDataFrame([], REFINED_SCHEMA)

    def incoming(*objects: dict[str, Any]) -> DataFrame:
        return refined_rows(hourly_rows(spark, *objects), run_id="r", processed_at=at("2026-11-21T15:20:00"))

    # When they meet across two job runs (stored, then the later one incoming) or in one run's window
    stored = merge_into_partitions(empty, incoming(earlier))
    across = ranked_candidates(stored, incoming(later))
    within = ranked_candidates(empty, incoming(earlier, later))

    # Then either way the complete row stays, and the later fetch is a reject naming the value it lacks
    for ranked in (across, within):
        (kept,) = merge_into_partitions(empty, ranked.where("_rank = 1").select(*REFINED_SCHEMA.names)).collect()
        assert (kept["temperature_c"], kept["cloud_cover_pct"]) == (7.0, 90.0)
        assert kept["fetched_at"] == naive("2026-11-21T03:00:00")
        (reject,) = superseded_rejects(ranked).collect()
        assert reject["reject_reason"] == "fewer_values_than_kept:temperature_c"
        assert (reject["fetched_at"], reject["ingest_date"]) == (naive("2026-11-21T15:00:00"), "2026-11-21")
        assert json.loads(reject["raw_values"])["cloud_cover"] == 75.0


def test_each_table_partition_is_written_by_one_task_in_time_order(spark: SparkSession) -> None:
    # Given rows of three (date, city) partitions in scrambled order
    rows = [
        {"observed_at": naive(f"{day}T{hour:02d}:00:00"), "date": day, "city": city}
        for hour in (5, 1, 3, 0, 4, 2)
        for day, city in (("2026-11-21", "Paris"), ("2026-11-21", "Nice"), ("2026-11-22", "Paris"))
    ]

    # When arranged for the write
    tasks = arrange_for_write(refined(spark, *rows), ["date", "city"], ["observed_at"]).rdd.glom().collect()

    # Then every table partition lies in exactly one task (one file per partition), its hours in order
    owners: dict[tuple[str, str], int] = {}
    for index, task in enumerate(tasks):
        for key in {(r["date"], r["city"]) for r in task}:
            assert key not in owners, f"{key} split across tasks"
            owners[key] = index
            hours = [r["observed_at"].hour for r in task if (r["date"], r["city"]) == key]
            assert hours == [0, 1, 2, 3, 4, 5]
    assert len(owners) == 3


def test_every_hourly_variable_is_read(spark: SparkSession) -> None:
    # Given one hour with a value for each of the 8 variables the ingestion requests
    values = dict(zip(HOURLY_VARIABLES, [7.0, 80.0, 0.4, 12.0, 220.0, 1012.5, 90.0, 61.0], strict=True))
    body = location(
        object_path("20261122T030000Z", "Paris"), ["2026-11-22T00:00"], **{k: [v] for k, v in values.items()}
    )

    # When refined
    (row,) = refined_rows(hourly_rows(spark, body), run_id="r", processed_at=at("2026-11-22T03:20:00")).collect()

    # Then each lands in its column, weather_code as an integer
    assert (row["temperature_c"], row["relative_humidity_pct"], row["precipitation_mm"]) == (7.0, 80.0, 0.4)
    assert (row["wind_speed_kmh"], row["wind_direction_deg"], row["pressure_msl_hpa"]) == (12.0, 220.0, 1012.5)
    assert (row["cloud_cover_pct"], row["weather_code"]) == (90.0, 61)
