"""The Glue job's transforms, one at a time, on small DataFrames built in the test (local Spark, no files)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from tests.integration.glue.conftest import SPARK_MARKS
from weather_etl import (
    HOURLY_VARIABLES,
    LANDING_SCHEMA,
    REFINED_SCHEMA,
    SOURCE_PATH,
    arrange_for_write,
    convert_units,
    explode_hourly,
    flag_invalid_rows,
    keep_latest_fetch,
    merge_into_partitions,
    object_rejects,
    refined_rows,
    with_source_metadata,
)

pytestmark = list(SPARK_MARKS)

LANDING_PREFIX = "landing/weather/source=open-meteo/"
LAKE = "file:///lake/landing/weather/source=open-meteo"
METRIC = {"time": "iso8601", "temperature_2m": "°C", "precipitation": "mm", "wind_speed_10m": "km/h"}


def object_path(run: str, city: str) -> str:
    return f"{LAKE}/ingest_date={run[:4]}-{run[4:6]}-{run[6:8]}/run={run}/city={city}.json"


def location(path: str, times: list[str], units: dict[str, str] | None = None, **series: Any) -> dict[str, Any]:
    return {
        SOURCE_PATH: path,
        "latitude": 48.86,
        "longitude": 2.34,
        "utc_offset_seconds": 0,
        "elevation": 43.0,
        "hourly_units": METRIC if units is None else units,
        "hourly": {"time": times, **series},
    }


def landing_frame(spark: SparkSession, *objects: dict[str, Any]) -> DataFrame:
    schema = StructType([*LANDING_SCHEMA.fields, StructField(SOURCE_PATH, StringType())])
    return spark.createDataFrame([{field.name: obj.get(field.name) for field in schema} for obj in objects], schema)


def hourly_rows(spark: SparkSession, *objects: dict[str, Any]) -> DataFrame:
    """Landing objects up to checked hours: metadata, explode, units, checks."""
    described = with_source_metadata(landing_frame(spark, *objects), LANDING_PREFIX)
    return flag_invalid_rows(convert_units(explode_hourly(described)))


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
    row = with_source_metadata(landing_frame(spark, location(path, ["2026-11-22T00:00"])), LANDING_PREFIX).first()

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
    described = with_source_metadata(landing_frame(spark, *objects), LANDING_PREFIX)
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


def test_explode_gives_one_row_per_hour_and_pads_missing_values(spark: SparkSession) -> None:
    # Given a series of 3 hours where temperature has 2 values and precipitation is absent altogether
    path = object_path("20261122T030000Z", "Paris")
    series = {"temperature_2m": [7.1, 6.8], "relative_humidity_2m": [80.0, 82.0, 85.0]}
    described = with_source_metadata(
        landing_frame(spark, location(path, ["2026-11-22T00:00", "2026-11-22T01:00", "2026-11-22T02:00"], **series)),
        LANDING_PREFIX,
    )

    # When the column arrays are exploded
    rows = explode_hourly(described).orderBy("raw_time").collect()

    # Then there is one row per hour, the missing values null, nothing lost
    assert [row["raw_time"] for row in rows] == ["2026-11-22T00:00", "2026-11-22T01:00", "2026-11-22T02:00"]
    assert [row["raw_temperature_2m"] for row in rows] == [7.1, 6.8, None]
    assert [row["raw_precipitation"] for row in rows] == [None, None, None]
    assert [row["raw_relative_humidity_2m"] for row in rows] == [80.0, 82.0, 85.0]
    assert {row["city"] for row in rows} == {"Paris"}


def test_values_beyond_the_time_axis_are_rejected_not_dropped(spark: SparkSession) -> None:
    # Given a temperature series one value longer than the time axis
    path = object_path("20261122T030000Z", "Paris")

    # When it goes through the checks
    rows = hourly_rows(spark, location(path, ["2026-11-22T00:00"], temperature_2m=[7.1, 6.8])).collect()

    # Then the extra value is an hour with an invalid time
    assert sorted((row["temperature_c"], row["reject_reason"]) for row in rows) == [
        (6.8, "invalid_time"),
        (7.1, None),
    ]


def test_units_are_converted_to_canonical_and_unknown_units_rejected(spark: SparkSession) -> None:
    # Given the same hour in imperial units, in m/s and knots, and in a unit the job does not know
    hour = ["2026-11-22T00:00"]
    imperial = {"time": "iso8601", "temperature_2m": "°F", "precipitation": "inch", "wind_speed_10m": "mp/h"}
    objects = [
        location(
            object_path("20261122T030000Z", "Imperial"),
            hour,
            imperial,
            temperature_2m=[50.0],
            precipitation=[0.1],
            wind_speed_10m=[10.0],
        ),
        location(
            object_path("20261122T030000Z", "Metres"), hour, METRIC | {"wind_speed_10m": "m/s"}, wind_speed_10m=[10.0]
        ),
        location(
            object_path("20261122T030000Z", "Knots"), hour, METRIC | {"wind_speed_10m": "kn"}, wind_speed_10m=[10.0]
        ),
        location(
            object_path("20261122T030000Z", "Kelvin"), hour, METRIC | {"temperature_2m": "K"}, temperature_2m=[283.15]
        ),
        location(object_path("20261122T030000Z", "NoUnits"), hour, {}, temperature_2m=[7.5], precipitation=[1.2]),
    ]

    # When units are converted and rows checked
    rows = {row["city"]: row for row in hourly_rows(spark, *objects).collect()}

    # Then values are in °C, mm and km/h; the API's defaults apply without units; an unknown unit is a reject
    assert (rows["Imperial"]["temperature_c"], rows["Imperial"]["precipitation_mm"]) == (10.0, 2.54)
    assert rows["Imperial"]["wind_speed_kmh"] == 16.09
    assert rows["Metres"]["wind_speed_kmh"] == 36.0
    assert rows["Knots"]["wind_speed_kmh"] == 18.52
    assert (rows["NoUnits"]["temperature_c"], rows["NoUnits"]["precipitation_mm"]) == (7.5, 1.2)
    assert rows["Kelvin"]["temperature_c"] is None
    assert rows["Kelvin"]["reject_reason"] == "unsupported_unit:temperature_2m=K"
    assert all(rows[city]["reject_reason"] is None for city in ("Imperial", "Metres", "Knots", "NoUnits"))


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
    assert list(rows[0].asDict()) == [field.name for field in REFINED_SCHEMA]


def test_overlapping_runs_count_each_hour_once_from_the_latest_fetch(spark: SparkSession) -> None:
    # Given two hourly runs that both fetched 2026-11-21 (past_days overlap), disagreeing about the rain
    times = [f"2026-11-21T{hour:02d}:00" for hour in range(24)]
    earlier = location(object_path("20261121T150000Z", "Paris"), times, precipitation=[0.5] * 24)
    later = location(object_path("20261122T030000Z", "Paris"), times, precipitation=[0.25] * 24)
    checked = hourly_rows(spark, earlier, later)

    # When the latest fetch is kept
    rows = keep_latest_fetch(refined_rows(checked, run_id="r", processed_at=at("2026-11-22T03:20:00"))).collect()

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
