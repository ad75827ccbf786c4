"""The whole Glue job on local lakes built from tests/fixtures/landing/ (local Spark, real files).

Most tests read the ``refined_lake`` fixture: the fixture runs refined once through main(). Tests that run the job
again work on a private copy of it.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrameWriter, SparkSession
from samtranslator.yaml_helper import yaml_parse

import weather_etl
from lakepipe.domain.weather.cities import parse_cities
from lakepipe.domain.weather.landing import LandingRun
from lakepipe.domain.weather.open_meteo import split_locations
from tests.conftest import REPO_ROOT
from tests.integration.glue.conftest import SPARK_MARKS, LocalLake, RefinedLake, copy_lake
from tests.integration.glue.landing_fixtures import (
    CITIES,
    RECORDED_FORECAST,
    RUN_A,
    RUN_C,
    encode,
    expected_daily_precipitation,
    expected_refined,
    landing_key,
    recorded_locations,
    run_id,
    run_location,
    write_objects,
)
from weather_etl import LandingWindowEmptyError

pytestmark = list(SPARK_MARKS)

RUN_C_ID = run_id(RUN_C)
VARIABLE_COLUMNS = {
    "temperature_2m": "temperature_c",
    "relative_humidity_2m": "relative_humidity_pct",
    "precipitation": "precipitation_mm",
    "wind_speed_10m": "wind_speed_kmh",
    "wind_direction_10m": "wind_direction_deg",
    "pressure_msl": "pressure_msl_hpa",
    "cloud_cover": "cloud_cover_pct",
    "weather_code": "weather_code",
}


def file_bytes(lake: LocalLake, table: Path | None = None) -> dict[str, list[bytes]]:
    return {
        partition: [path.read_bytes() for path in paths] for partition, paths in lake.partition_files(table).items()
    }


def test_a_run_reports_what_it_read_rejected_and_wrote(refined_lake: RefinedLake) -> None:
    # Given three overlapping runs (12 objects, Marseille's 15:00 one truncated, two Nice hours invalid) and a later
    # run's empty object and API error body; when the job ran for 2026-11-22 with one day of lookback (main())
    # Then its summary line accounts for every object and hour
    assert refined_lake.summary == {
        "run_id": RUN_C_ID,
        "window": ["2026-11-21", "2026-11-22"],
        "objects_read": 14,
        "objects_rejected": 3,
        "hours_read": 11 * 72,
        "hours_rejected": 2,
        "hours_superseded": 0,
        "partitions_written": 16,
        "refined_rows_written": 16 * 24,
        "first_date_written": "2026-11-20",
        "last_date_written": "2026-11-23",
    }


def test_the_table_is_partitioned_by_date_then_city_with_one_file_each(refined_lake: RefinedLake) -> None:
    files = refined_lake.lake.partition_files()

    assert sorted(files) == [f"date=2026-11-{day}/city={city}" for day in (20, 21, 22, 23) for city in sorted(CITIES)]
    assert {len(paths) for paths in files.values()} == {1}
    assert sorted(refined_lake.lake.partition_files(refined_lake.lake.rejects)) == [
        "ingest_date=2026-11-21",
        "ingest_date=2026-11-22",
    ]


def test_every_hour_holds_the_most_recent_valid_fetch(refined_lake: RefinedLake) -> None:
    # Given what a plain-Python reading of the landing objects says each (city, hour) must hold
    lake = refined_lake.lake
    expected = expected_refined(lake.root)

    # When the refined rows are read back
    rows = lake.rows()

    # Then there is one row per (city, hour), with that fetch's values in metric units and its lineage
    assert len(rows) == len(expected) == 384
    for row in rows:
        hour = row["observed_at"].strftime("%Y-%m-%dT%H:%M")
        wanted = expected[(row["city"], hour)]
        assert row["fetched_at"] == wanted.fetched_at, (row["city"], hour)
        assert {column: row[column] for column in VARIABLE_COLUMNS.values()} == {
            VARIABLE_COLUMNS[variable]: value for variable, value in wanted.values.items()
        }, (row["city"], hour)
        assert row["date"] == hour[:10]
        assert row["source_key"] == landing_key(wanted.fetched_at, row["city"])
        assert row["is_forecast"] == (row["observed_at"] > row["fetched_at"])
        assert row["run_id"] == RUN_C_ID


def test_fixture_hours_worth_checking_by_hand(refined_lake: RefinedLake) -> None:
    rows = {(row["city"], row["observed_at"].isoformat()): row for row in refined_lake.lake.rows()}

    # Lyon arrives in imperial units: 48.7 °F is 9.28 °C, 0.055 inch is 1.4 mm, 13.0 mp/h is 20.92 km/h
    lyon = rows[("Lyon", "2026-11-21T12:00:00+00:00")]
    assert (lyon["temperature_c"], lyon["precipitation_mm"], lyon["wind_speed_kmh"]) == (9.28, 1.4, 20.92)
    # Nice's 104 % humidity in the last run is rejected; the hour keeps the previous run's valid 88 %
    nice = rows[("Nice", "2026-11-21T05:00:00+00:00")]
    assert (nice["relative_humidity_pct"], nice["source_key"].split("/")[-2]) == (88.0, "run=20261121T150000Z")
    # Marseille's truncated 15:00 object leaves 2026-11-20 to the 03:00 run
    assert rows[("Marseille", "2026-11-20T12:00:00+00:00")]["fetched_at"] == datetime(2026, 11, 21, 3, tzinfo=UTC)
    # Nice's model horizon (2026-11-23 19:00-23:00, all null) is kept as missing values, not dropped
    horizon = [rows[("Nice", f"2026-11-23T{hour}:00:00+00:00")]["temperature_c"] for hour in range(19, 24)]
    assert horizon == [None] * 5
    # the last run fetched at 03:00: its later hours are forecasts
    assert [rows[("Paris", f"2026-11-22T0{hour}:00:00+00:00")]["is_forecast"] for hour in (2, 3, 4)] == [
        False,
        False,
        True,
    ]


def test_rejects_name_every_invalid_hour_and_unusable_object(refined_lake: RefinedLake) -> None:
    lake = refined_lake.lake

    rejects = lake.rows(lake.rejects)

    assert sorted((r["ingest_date"], r["city"], str(r["observed_at"]), r["reject_reason"]) for r in rejects) == [
        ("2026-11-21", "Marseille", "None", "malformed_json"),
        ("2026-11-22", "Lyon", "None", "api_error:Latitude must be in range of -90 to 90°. Given: 95.0."),
        ("2026-11-22", "Nice", "2026-11-21 05:00:00+00:00", "relative_humidity_pct_out_of_range"),
        (
            "2026-11-22",
            "Nice",
            "2026-11-22 10:00:00+00:00",
            "precipitation_mm_out_of_range,wind_direction_deg_out_of_range",
        ),
        ("2026-11-22", "Paris", "None", "empty_object"),
    ]
    humidity = next(row for row in rejects if row["reject_reason"] == "relative_humidity_pct_out_of_range")
    assert json.loads(humidity["raw_values"])["relative_humidity_2m"] == 104.0
    assert humidity["source_key"] == landing_key(RUN_C, "Nice")


def test_overlapping_runs_never_double_count_daily_precipitation(refined_lake: RefinedLake) -> None:
    # Given three runs that each fetched 2026-11-21 (past days and same-day hourly runs overlap)
    lake = refined_lake.lake
    copies = []
    for path in sorted(lake.landing.rglob("city=Paris.json")):
        if path.stat().st_size:
            hourly = json.loads(path.read_bytes())["hourly"]
            day = zip(hourly["time"], hourly["precipitation"], strict=True)
            copies.append(sum(value for hour, value in day if hour.startswith("2026-11-21")))
    assert len(copies) == 3

    # When the refined table's hours are summed per day
    daily: dict[tuple[str, str], float] = {}
    for row in lake.rows():
        key = (row["city"], row["date"])
        daily[key] = daily.get(key, 0.0) + (row["precipitation_mm"] or 0.0)

    # Then each hour counts once, from the latest fetch: Paris got 11.74 mm on 2026-11-21, where summing every
    # fetched copy of the day (the seed's bug) gives about three times that
    expected = expected_daily_precipitation(lake.root)
    assert daily.keys() == expected.keys()
    assert all(daily[key] == pytest.approx(expected[key], abs=1e-9) for key in expected)
    assert daily[("Paris", "2026-11-21")] == pytest.approx(11.74)
    assert sum(copies) == pytest.approx(37.22)


def test_output_schema_is_the_glue_tables_of_the_template(spark: SparkSession, refined_lake: RefinedLake) -> None:
    # Given the Glue tables template.yaml declares
    template = yaml_parse((REPO_ROOT / "template.yaml").read_text())
    tables = {
        spec["Properties"]["TableInput"]["Name"]: spec["Properties"]["TableInput"]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Glue::Table"
    }

    # When Spark reads both outputs back, partition values as written (strings)
    spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    try:
        written = {
            "weather_hourly": spark.read.parquet(str(refined_lake.lake.refined)).schema,
            "weather_rejects": spark.read.parquet(str(refined_lake.lake.rejects)).schema,
        }
    finally:
        spark.conf.unset("spark.sql.sources.partitionColumnTypeInference.enabled")

    # Then each output's columns and types (Hive names) are the table's columns then its partition keys
    for name, schema in written.items():
        declared = tables[name]["StorageDescriptor"]["Columns"] + tables[name]["PartitionKeys"]
        assert [(field.name, field.dataType.simpleString()) for field in schema] == [
            (column["Name"], column["Type"]) for column in declared
        ], name
        assert tables[name]["StorageDescriptor"]["Location"]["Fn::Sub"].endswith(f"/refined/{name}/")


def test_rerunning_a_job_rewrites_byte_identical_files(
    spark: SparkSession, refined_lake: RefinedLake, tmp_path: Path
) -> None:
    # Given a refined lake and the bytes of its files
    lake = copy_lake(refined_lake.lake, tmp_path)
    before_names = {p: [f.name for f in fs] for p, fs in lake.partition_files().items()}

    # When the same job runs again hours later (another processed_at)
    later = datetime(2026, 11, 22, 9, tzinfo=UTC)
    summary = lake.run_job(spark, run_id=RUN_C_ID, ingest_date="2026-11-22", lookback_days=1, processed_at=later)

    # Then it rewrote every partition (new file names) with one file each, byte for byte the same as before, rejects
    # included: a value keeps the processed_at and run_id of the run that first wrote it
    assert summary.partitions_written == 16
    assert {p: [f.name for f in fs] for p, fs in lake.partition_files().items()} != before_names
    assert file_bytes(lake) == file_bytes(refined_lake.lake)
    assert file_bytes(lake, lake.rejects) == file_bytes(refined_lake.lake, refined_lake.lake.rejects)
    assert later not in {row["processed_at"] for row in lake.rows()}


def test_a_partition_rewritten_from_a_short_window_keeps_hours_only_older_runs_held(
    spark: SparkSession, refined_lake: RefinedLake, tmp_path: Path
) -> None:
    # Given a refined lake (2026-11-20 to 2026-11-23, four cities)
    lake = copy_lake(refined_lake.lake, tmp_path)
    untouched = {p: [(f.name, f.stat().st_mtime_ns) for f in fs] for p, fs in lake.partition_files().items()}
    del untouched["date=2026-11-22/city=Paris"]
    # and, three days later, a run that re-fetched only the afternoon of 2026-11-22 for Paris, with other values
    late_run = datetime(2026, 11, 25, 3, tzinfo=UTC)
    partial = run_location(recorded_locations()["Paris"], late_run, date(2026, 11, 22), date(2026, 11, 22))
    partial["hourly"] = {name: values[12:] for name, values in partial["hourly"].items()}
    partial["hourly"]["temperature_2m"] = [20.0] * 12
    write_objects(lake.root, {landing_key(late_run, "Paris"): encode(partial)})

    # When that run's job reads only its own folder (lookback 0: every older run is outside the window)
    summary = lake.run_job(spark, run_id=run_id(late_run), ingest_date="2026-11-25", lookback_days=0)

    # Then the partition it rewrote still holds 24 hours: the morning from older runs, the afternoon from the new one
    assert (summary.partitions_written, summary.refined_rows_written) == (1, 24)
    paris = [row for row in lake.rows() if (row["city"], row["date"]) == ("Paris", "2026-11-22")]
    assert len(paris) == 24
    assert [row["temperature_c"] == 20.0 for row in paris] == [False] * 12 + [True] * 12
    assert {row["fetched_at"] for row in paris[:12]} == {RUN_C}
    assert len(lake.partition_files()["date=2026-11-22/city=Paris"]) == 1
    # and every other partition is the very same file, neither rewritten nor deleted
    after = lake.partition_files()
    assert {p: [(f.name, f.stat().st_mtime_ns) for f in after[p]] for p in untouched} == untouched


def test_a_late_job_for_an_older_run_cannot_bring_back_staler_values(
    spark: SparkSession, refined_lake: RefinedLake, tmp_path: Path
) -> None:
    # Given the table refined up to the 2026-11-22 run
    lake = copy_lake(refined_lake.lake, tmp_path)

    # When a retried job of the 2026-11-21 03:00 run reads only its own, older folder
    summary = lake.run_job(spark, run_id=run_id(RUN_A), ingest_date="2026-11-21", lookback_days=0)

    # Then it rewrote the partitions it touched, and no value went back to an older fetch
    assert summary.partitions_written == 12
    assert lake.rows() == refined_lake.lake.rows()


def test_a_window_with_no_landing_object_fails_loudly(spark: SparkSession, tmp_path: Path) -> None:
    lake = LocalLake(tmp_path)

    with pytest.raises(LandingWindowEmptyError, match=r"ingest_date=\{2026-11-30,2026-12-01\}"):
        lake.run_job(spark, run_id="20261201T030000Z", ingest_date="2026-12-01", lookback_days=1)

    assert not lake.refined.exists()


def test_the_job_reads_what_the_ingestion_lands(spark: SparkSession, tmp_path: Path) -> None:
    # Given the weather helper's recorded 4-city response, split and keyed by the ingestion's own code
    cities = parse_cities("Paris:48.8566:2.3522;Marseille:43.2965:5.3698;Nice:43.7102:7.2620;Lyon:45.7640:4.8357")
    run = LandingRun.at(datetime(2026, 11, 22, 3, tzinfo=UTC))
    locations = split_locations(RECORDED_FORECAST.read_bytes(), expected=len(cities))
    lake = LocalLake(tmp_path)
    write_objects(lake.root, {run.key_for(city): raw.raw for city, raw in zip(cities, locations, strict=True)})

    # When the job runs for that run
    summary = lake.run_job(spark, run_id=run.run_id, ingest_date=run.ingest_date.isoformat(), lookback_days=0)

    # Then every hour of every city is refined (4 cities x 4 days x 24 hours), none rejected, values untouched
    assert (summary.objects_read, summary.hours_rejected, summary.refined_rows_written) == (4, 0, 384)
    paris = [row for row in lake.rows() if row["city"] == "Paris"]
    recorded = json.loads(RECORDED_FORECAST.read_bytes())[0]["hourly"]
    assert [row["temperature_c"] for row in paris] == recorded["temperature_2m"]
    assert [row["precipitation_mm"] for row in paris] == recorded["precipitation"]
    assert paris[0]["source_key"] == run.key_for(cities[0])


# ---------------------------------------------------------------- what a later landing object must not do

ADVERSARY_RUN = datetime(2026, 11, 23, 3, tzinfo=UTC)  # fetches 2026-11-21 .. 2026-11-23: 72 of Paris's 96 hours


def paris_rows(lake: LocalLake) -> list[dict[str, Any]]:
    return [row for row in lake.rows() if row["city"] == "Paris"]


def land_paris(lake: LocalLake, run_time: datetime, body: dict[str, Any]) -> None:
    write_objects(lake.root, {landing_key(run_time, "Paris"): encode(body)})


def refine_folder(spark: SparkSession, lake: LocalLake, run_time: datetime) -> weather_etl.JobSummary:
    return lake.run_job(spark, run_id=run_id(run_time), ingest_date=run_time.date().isoformat(), lookback_days=0)


def paris_body(run_time: datetime, *, imperial: bool = False) -> dict[str, Any]:
    return run_location(
        recorded_locations()["Paris"], run_time, date(2026, 11, 21), date(2026, 11, 23), imperial=imperial
    )


def test_a_later_object_missing_a_variable_erases_no_stored_value(
    spark: SparkSession, refined_lake: RefinedLake, tmp_path: Path
) -> None:
    # Given Paris refined with a temperature for each of its 96 hours, and a later object without temperature_2m
    lake = copy_lake(refined_lake.lake, tmp_path)
    before = paris_rows(lake)
    assert sum(row["temperature_c"] is not None for row in before) == 96
    body = paris_body(ADVERSARY_RUN)
    del body["hourly"]["temperature_2m"]
    land_paris(lake, ADVERSARY_RUN, body)

    # When the job merges that run (merged as it was, it would leave 24 of the 96 hours with a temperature)
    summary = refine_folder(spark, lake, ADVERSARY_RUN)

    # Then the object is rejected whole, naming the variable, and every stored Paris value is still there
    assert (summary.objects_rejected, summary.hours_read, summary.partitions_written) == (1, 0, 0)
    assert paris_rows(lake) == before
    assert rejected(lake, ADVERSARY_RUN) == ["missing_variable:temperature_2m"]


def test_a_later_object_without_units_never_stores_fahrenheit_as_celsius(
    spark: SparkSession, refined_lake: RefinedLake, tmp_path: Path
) -> None:
    # Given Paris refined, and a later object in °F whose hourly_units are missing
    lake = copy_lake(refined_lake.lake, tmp_path)
    before = paris_rows(lake)
    body = paris_body(ADVERSARY_RUN, imperial=True)
    del body["hourly_units"]
    land_paris(lake, ADVERSARY_RUN, body)
    fahrenheit = [value for value in body["hourly"]["temperature_2m"] if value is not None]
    assert (sum(value > 30 for value in fahrenheit), max(fahrenheit)) == (72, 49.8)  # what °C would have read

    # When the job merges that run
    refine_folder(spark, lake, ADVERSARY_RUN)

    # Then no Paris hour is above 30 °C, the stored rows are untouched, and the object is rejected for its units
    assert paris_rows(lake) == before
    assert max(row["temperature_c"] for row in paris_rows(lake)) < 20
    assert rejected(lake, ADVERSARY_RUN) == ["missing_hourly_units"]


def test_a_run_id_in_the_future_is_rejected_and_a_real_later_fetch_is_kept(
    spark: SparkSession, refined_lake: RefinedLake, tmp_path: Path
) -> None:
    # Given Paris refined, then in the same folder an object claiming run 20991231T000000Z (40 °C everywhere) and
    # the real 2026-11-23 03:00 fetch
    lake = copy_lake(refined_lake.lake, tmp_path)
    future = datetime(2099, 12, 31, tzinfo=UTC)
    forged = paris_body(ADVERSARY_RUN)
    forged["hourly"]["temperature_2m"] = [40.0] * len(forged["hourly"]["time"])
    key = landing_key(ADVERSARY_RUN, "Paris").replace(f"run={run_id(ADVERSARY_RUN)}", f"run={run_id(future)}")
    write_objects(lake.root, {key: encode(forged)})
    land_paris(lake, ADVERSARY_RUN, paris_body(ADVERSARY_RUN))

    # When the job merges the folder
    summary = refine_folder(spark, lake, ADVERSARY_RUN)

    # Then the forged run is rejected (it would outrank every real fetch until 2099) and the real fetch is stored
    assert (summary.objects_rejected, summary.hours_read) == (1, 72)
    later_hours = [row for row in paris_rows(lake) if row["date"] >= "2026-11-21"]
    assert {row["fetched_at"] for row in later_hours} == {ADVERSARY_RUN}
    assert 40.0 not in {row["temperature_c"] for row in paris_rows(lake)}
    assert [row["reject_reason"] for row in lake.rows(lake.rejects) if row["source_key"] == key] == ["run_in_future"]


def rejected(lake: LocalLake, run_time: datetime) -> list[str]:
    key = landing_key(run_time, "Paris")
    return [row["reject_reason"] for row in lake.rows(lake.rejects) if row["source_key"] == key]


# ---------------------------------------------------------------- writes that do not depend on the committer


def test_the_job_only_appends_and_its_result_is_the_same_under_another_committer_setup(
    spark: SparkSession, refined_lake: RefinedLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the refined lake, and a session set the other way round: FileOutputCommitter algorithm 2 (tasks commit
    # straight into the table) and dynamic partition overwrite switched on
    lake = copy_lake(refined_lake.lake, tmp_path)
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    modes: list[str | None] = []
    record_mode = DataFrameWriter.mode
    monkeypatch.setattr(DataFrameWriter, "mode", lambda writer, mode: modes.append(mode) or record_mode(writer, mode))
    hadoop.set("mapreduce.fileoutputcommitter.algorithm.version", "2")
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    try:
        # When the same job runs again
        lake.run_job(spark, run_id=RUN_C_ID, ingest_date="2026-11-22", lookback_days=1)
    finally:
        hadoop.unset("mapreduce.fileoutputcommitter.algorithm.version")
        spark.conf.unset("spark.sql.sources.partitionOverwriteMode")

    # Then it asked the committer for appends only (no overwrite of any kind), and left one file per partition,
    # byte for byte what the first run wrote with the defaults
    # (parquet() passes its own mode=None through mode(), which keeps the mode already set)
    assert set(modes) - {None} == {"append"}
    assert {len(files) for files in lake.partition_files().values()} == {1}
    assert file_bytes(lake) == file_bytes(refined_lake.lake)
    assert file_bytes(lake, lake.rejects) == file_bytes(refined_lake.lake, refined_lake.lake.rejects)


def test_a_job_stopped_between_its_append_and_its_deletes_is_healed_by_the_next_run(
    spark: SparkSession, refined_lake: RefinedLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a job run that dies after appending its new files, before deleting the old ones
    lake = copy_lake(refined_lake.lake, tmp_path)

    def die(table: weather_etl.TableFiles, files: Any) -> None:
        raise RuntimeError("driver lost")

    with monkeypatch.context() as patched:
        patched.setattr(weather_etl.TableFiles, "delete", die)
        with pytest.raises(RuntimeError, match="driver lost"):
            lake.run_job(spark, run_id=RUN_C_ID, ingest_date="2026-11-22", lookback_days=1)
    assert {len(files) for files in lake.partition_files().values()} == {2}  # both generations, for a moment

    # When the job runs again (the state machine re-runs a failed run once)
    summary = lake.run_job(spark, run_id=RUN_C_ID, ingest_date="2026-11-22", lookback_days=1)

    # Then each partition is back to one file, byte for byte the clean result: no hour doubled, none lost
    assert summary.refined_rows_written == 16 * 24
    assert {len(files) for files in lake.partition_files().values()} == {1}
    assert file_bytes(lake) == file_bytes(refined_lake.lake)
