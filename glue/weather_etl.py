"""Glue 5.1 Spark job: Open-Meteo landing JSON -> refined hourly weather, Parquet partitioned by ``date`` and ``city``.

Input: every landing object of the ``ingest_date`` folders from ``ingest_date - lookback_days`` to ``ingest_date``::

    <landing_path>ingest_date=YYYY-MM-DD/run=YYYYMMDDTHHMMSSZ/city=<Name>.json

one Open-Meteo location per object (hourly column arrays). The run in the key is the fetch time: every row of an
object carries it as ``fetched_at``. Output: ``<refined_path>date=YYYY-MM-DD/city=<Name>/`` (observation date in
UTC) and the rows that failed a check, with the reason, under ``<rejects_path>ingest_date=YYYY-MM-DD/``.

Window and idempotency rule
---------------------------
Every (date, city) partition the job writes is the *best-fetch merge* of the rows it already holds and the valid
rows for it found in the window: one row per (city, hour), from the fetch that holds the most of the hour's values,
the most recent among equally complete ones; a fetch seen again (a re-run) keeps the row already stored. That merge
is a maximum under one total order, so it is idempotent, commutative and associative:

* re-running a job any number of times rewrites byte-identical partitions (``processed_at`` and ``run_id``
  included: they say when and by which job run an hour's current value was first written);
* a rewritten partition never loses an hour that only runs outside the window held: those hours are in the
  partition already, so the window may be as short as one folder and still leave complete partitions;
* overlapping runs (every run re-fetches ``past_days``) never count an hour twice;
* running an old ``ingest_date`` after newer ones (a retry, a backfill) cannot bring back staler values;
* a later fetch with fewer values never erases a stored one: it loses to the more complete row and is rejected
  (``fewer_values_than_kept``), visible in the rejects;
* partitions the window does not reach are neither read nor deleted.

What cannot be read right is rejected, never guessed: an object lacking a requested variable, a series shorter or
longer than its time axis, missing ``hourly_units`` or a variable's unit (a °F series read as °C would be wrong
with no way to tell), or a run id later than the object was written or than the job's clock (it would outrank
every real fetch until that time) is rejected whole, with the reason.

Writing without relying on the committer
----------------------------------------
A touched partition is replaced by listing its files, appending the merged rows as new files, then deleting exactly
the listed files. Every output committer implements an append correctly (it is their base case); dynamic partition
overwrite is a committer feature, and Spark's PathOutputCommitProtocol (which Glue 5.1 uses for s3:// through S3A)
has been reported to append instead of replace with it (SPARK-56588). If the job stops between the append and the
deletes, the partition briefly holds both generations; the merge reads them as candidates of the same hours, so the
next run (the state machine re-runs a failed job once) writes the same result and deletes both.

``lookback_days`` therefore decides how far back a job catches up on runs whose own job failed or never ran, not
whether the result is correct. Two jobs must not merge into the same partitions at once: the Glue job allows one
concurrent run. To apply a changed cleaning rule to data already refined, delete the partitions concerned and run
the job with a lookback that reaches the runs holding them: a missing partition is rebuilt from landing alone.

Hours failing a check are written to the rejects output and are not candidates of the merge, so an hour whose
latest fetch is invalid keeps the previous valid fetch's value (the rejected one stays visible in the rejects). The
rejects of an ingest_date folder are replaced by each run that reads the folder.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as sf
from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DoubleType,
    IntegerType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

JOB_ARGUMENTS = ("run_id", "ingest_date", "landing_path", "refined_path", "rejects_path", "lookback_days")
RUN_ID_PATTERN = re.compile(r"\d{8}T\d{6}Z")
RUN_ID_TIMESTAMP_FORMAT = "yyyyMMdd'T'HHmmss'Z'"
ISO_HOUR_FORMAT = "yyyy-MM-dd'T'HH:mm"
# <...>ingest_date=YYYY-MM-DD/run=YYYYMMDDTHHMMSSZ/city=<Name>.json: key relative to the landing root, its parts.
LANDING_OBJECT_PATTERN = r"(ingest_date=(\d{4}-\d{2}-\d{2})/run=(\d{8}T\d{6}Z)/city=([^/]+)\.json)$"
INGEST_DATE_PATTERN = r"ingest_date=([^/]+)/"

SOURCE_PATH = "source_path"
CORRUPT_RECORD = "_corrupt_record"
OBJECT_PROBLEM = "object_problem"
UNIT_PROBLEMS = "unit_problems"
REJECT_REASON = "reject_reason"
WRITTEN_AT = "written_at"
_PRECEDENCE = "_precedence"
_VALUES_PRESENT = "_values_present"
_INGEST_DATE = "_ingest_date"
_RAW_VALUES = "_raw_values"
RAW_VALUES_MAX_CHARS = 4096

# The variables IngestWeatherFunction requests (lakepipe.domain.weather.open_meteo). Repeated rather than imported:
# Glue runs this script alone, without the Lambda package; a unit test keeps the two lists equal.
HOURLY_VARIABLES = (
    "temperature_2m",
    "relative_humidity_2m",
    "precipitation",
    "wind_speed_10m",
    "wind_direction_10m",
    "pressure_msl",
    "cloud_cover",
    "weather_code",
)
_DOUBLE_SERIES = ArrayType(DoubleType())
# Explicit, so a value of the wrong type marks the object corrupt instead of silently changing a column's type.
LANDING_SCHEMA = StructType(
    [
        StructField("latitude", DoubleType()),
        StructField("longitude", DoubleType()),
        StructField("utc_offset_seconds", IntegerType()),
        StructField("elevation", DoubleType()),
        StructField("hourly_units", MapType(StringType(), StringType())),
        StructField(
            "hourly",
            StructType(
                [
                    StructField("time", ArrayType(StringType())),
                    *(StructField(variable, _DOUBLE_SERIES) for variable in HOURLY_VARIABLES),
                ]
            ),
        ),
        StructField("error", BooleanType()),
        StructField("reason", StringType()),
        StructField(CORRUPT_RECORD, StringType()),
    ]
)

# The refined table, in column order; the Glue table in template.yaml declares the same columns and Hive types.
REFINED_COLUMNS: tuple[tuple[str, DataType], ...] = (
    ("observed_at", TimestampType()),
    ("temperature_c", DoubleType()),
    ("relative_humidity_pct", DoubleType()),
    ("precipitation_mm", DoubleType()),
    ("wind_speed_kmh", DoubleType()),
    ("wind_direction_deg", DoubleType()),
    ("pressure_msl_hpa", DoubleType()),
    ("cloud_cover_pct", DoubleType()),
    ("weather_code", IntegerType()),
    ("is_forecast", BooleanType()),
    ("latitude", DoubleType()),
    ("longitude", DoubleType()),
    ("elevation_m", DoubleType()),
    ("fetched_at", TimestampType()),
    ("source_key", StringType()),
    ("run_id", StringType()),
    ("processed_at", TimestampType()),
)
REFINED_PARTITION_COLUMNS = ("date", "city")
REJECT_COLUMNS: tuple[tuple[str, DataType], ...] = (
    ("city", StringType()),
    ("observed_at", TimestampType()),
    ("reject_reason", StringType()),
    ("source_key", StringType()),
    ("fetched_at", TimestampType()),
    ("raw_values", StringType()),
)
REJECT_PARTITION_COLUMNS = ("ingest_date",)


def table_schema(columns: Sequence[tuple[str, DataType]], partition_columns: Sequence[str]) -> StructType:
    """Data columns then string partition columns: the layout Spark writes and Glue declares."""
    fields = [StructField(name, data_type) for name, data_type in columns]
    return StructType(fields + [StructField(name, StringType()) for name in partition_columns])


REFINED_SCHEMA = table_schema(REFINED_COLUMNS, REFINED_PARTITION_COLUMNS)

# Written by the job itself rather than trusted to the cluster's defaults, so Glue and local runs agree. No
# partitionOverwriteMode: the job only appends and deletes files it listed (see "Writing without relying on the
# committer" above).
SESSION_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "snappy",
}


@dataclass(frozen=True)
class Measurement:
    """An Open-Meteo hourly variable, its refined column, the units it may arrive in and its physical range."""

    variable: str
    column: str
    canonical_unit: str
    # Other units the API can answer with (temperature_unit, wind_speed_unit, precipitation_unit), to canonical.
    conversions: Mapping[str, Callable[[Column], Column]]
    low: float
    high: float
    integral: bool = False

    @property
    def units(self) -> list[str]:
        return [self.canonical_unit, *self.conversions]


def _miles_per_hour_to_kmh(value: Column) -> Column:
    return value * 1.609344


MEASUREMENTS = (
    Measurement("temperature_2m", "temperature_c", "°C", {"°F": lambda f: (f - 32) * 5 / 9}, -90, 60),
    Measurement("relative_humidity_2m", "relative_humidity_pct", "%", {}, 0, 100),
    Measurement("precipitation", "precipitation_mm", "mm", {"inch": lambda inch: inch * 25.4}, 0, 500),
    Measurement(
        "wind_speed_10m",
        "wind_speed_kmh",
        "km/h",
        {
            "m/s": lambda speed: speed * 3.6,
            "mp/h": _miles_per_hour_to_kmh,  # what the API writes for wind_speed_unit=mph
            "mph": _miles_per_hour_to_kmh,
            "kn": lambda speed: speed * 1.852,
        },
        0,
        500,
    ),
    Measurement("wind_direction_10m", "wind_direction_deg", "°", {}, 0, 360),
    # Sea-level pressure records are 870 and 1084 hPa; outside 850-1100 it is a sensor or model fault.
    Measurement("pressure_msl", "pressure_msl_hpa", "hPa", {}, 850, 1100),
    Measurement("cloud_cover", "cloud_cover_pct", "%", {}, 0, 100),
    Measurement("weather_code", "weather_code", "wmo code", {}, 0, 99, integral=True),
)
_SOURCE_COLUMNS = ("city", "source_key", "ingest_date", "fetched_at", "latitude", "longitude", "elevation")


# ---------------------------------------------------------------- transforms (DataFrame -> DataFrame, no I/O)


def with_source_metadata(objects: DataFrame, landing_key_prefix: str, *, processed_at: datetime) -> DataFrame:
    """Add what an object's key says (city, ingest_date, fetch time, source_key) and ``object_problem``: why the
    whole object is unusable, null when it is usable. ``source_path`` is the object's path as Spark's
    input_file_name() gives it; ``written_at`` its modification time (null when unknown).

    Unusable: empty, malformed JSON, unexpected key, API error body, several locations, no hourly series; a run id
    later than the job's clock or than the object was written (a fetch cannot be stored before it happened);
    missing ``hourly_units`` or a unit; a requested variable missing, or a series not as long as the time axis."""
    path = sf.url_decode(sf.col(SOURCE_PATH))  # input_file_name() percent-encodes (a space becomes %20)
    relative_key = sf.regexp_extract(path, LANDING_OBJECT_PATTERN, 1)
    layout_matches = relative_key != ""
    locations_in_object = sf.count(sf.lit(1)).over(Window.partitionBy(SOURCE_PATH))
    run_time = sf.try_to_timestamp(sf.regexp_extract(path, LANDING_OBJECT_PATTERN, 3), sf.lit(RUN_ID_TIMESTAMP_FORMAT))
    time_axis = sf.size("hourly.time")
    units = sf.col("hourly_units")
    missing_units = [
        sf.when(units[name].isNull(), sf.lit(name)) for name in ("time", *HOURLY_VARIABLES)
    ]  # a null map yields null for every name
    missing_variables = [sf.when(sf.col(f"hourly.{name}").isNull(), sf.lit(name)) for name in HOURLY_VARIABLES]
    uneven_series = [
        sf.when(sf.col(f"hourly.{name}").isNotNull() & (sf.size(f"hourly.{name}") != time_axis), sf.lit(name))
        for name in HOURLY_VARIABLES
    ]

    def named(reason: str, names: list[Column]) -> Column:
        listed = sf.concat_ws(",", *names)
        return sf.when(listed != "", sf.concat(sf.lit(f"{reason}:"), listed))

    problem = (
        sf.when(sf.col(CORRUPT_RECORD) == "", sf.lit("empty_object"))
        .when(sf.col(CORRUPT_RECORD).isNotNull(), sf.lit("malformed_json"))
        .when(~layout_matches, sf.lit("unexpected_object_key"))
        .when(run_time.isNull(), sf.lit("invalid_run_time"))
        .when(
            sf.col("error"), sf.concat(sf.lit("api_error:"), sf.coalesce(sf.col("reason"), sf.lit("no reason given")))
        )
        .when(locations_in_object > 1, sf.lit("several_locations_in_object"))
        .when(sf.col("hourly.time").isNull() | (time_axis == 0), sf.lit("no_hourly_data"))
        .when(run_time > sf.lit(processed_at).cast(TimestampType()), sf.lit("run_in_future"))
        .when(run_time > sf.col(WRITTEN_AT), sf.lit("run_after_write_time"))
        .when(units.isNull(), sf.lit("missing_hourly_units"))
        .otherwise(
            sf.coalesce(
                named("missing_unit", missing_units),
                named("missing_variable", missing_variables),
                named("series_length_mismatch", uneven_series),
            )
        )
    )
    ingest_date = sf.regexp_extract(path, INGEST_DATE_PATTERN, 1)
    return objects.select(
        "*",
        sf.when(layout_matches, sf.regexp_extract(path, LANDING_OBJECT_PATTERN, 4)).alias("city"),
        sf.when(layout_matches, sf.concat(sf.lit(landing_key_prefix), relative_key))
        .otherwise(path)
        .alias("source_key"),
        sf.when(ingest_date != "", ingest_date).alias("ingest_date"),
        run_time.alias("fetched_at"),
        problem.alias(OBJECT_PROBLEM),
    )


def explode_hourly(objects: DataFrame) -> DataFrame:
    """One row per (object, hour): the hour's raw time and values side by side, with each variable's unit.

    For usable objects (with_source_metadata) every series is as long as ``time``. Were one not, arrays_zip would
    pad it with nulls and values beyond the end of ``time`` would come out with a null time (rejected later)."""
    series = [sf.col("hourly.time").alias("time")] + [
        sf.coalesce(sf.col(f"hourly.{variable}"), sf.array().cast(_DOUBLE_SERIES)).alias(variable)
        for variable in HOURLY_VARIABLES
    ]
    exploded = objects.select(
        *_SOURCE_COLUMNS,
        "utc_offset_seconds",
        sf.col("hourly_units").alias("units"),
        sf.explode(sf.arrays_zip(*series)).alias("hour"),
    )
    return exploded.select(
        *_SOURCE_COLUMNS,
        "utc_offset_seconds",
        sf.col("hour.time").alias("raw_time"),
        *(sf.col(f"hour.{variable}").alias(f"raw_{variable}") for variable in HOURLY_VARIABLES),
        *(sf.col("units")[variable].alias(f"{variable}_unit") for variable in ("time", *HOURLY_VARIABLES)),
    )


def convert_units(hourly: DataFrame) -> DataFrame:
    """Canonical units (°C, %, mm, km/h, °, hPa, WMO code) and a UTC ``observed_at``.

    Each variable's unit comes from ``hourly_units``; converted values are rounded to 2 decimals. A unit the job
    cannot convert, or no unit at all (never assumed: objects without units are rejected before this), leaves the
    value null and is named in ``unit_problems``."""
    converted: list[Column] = []
    problems: list[Column] = []
    for measurement in MEASUREMENTS:
        raw, unit = sf.col(f"raw_{measurement.variable}"), sf.col(f"{measurement.variable}_unit")
        value = sf.when(unit == measurement.canonical_unit, raw)
        for unit_name, convert in measurement.conversions.items():
            value = value.when(unit == unit_name, sf.round(convert(raw), 2))
        converted.append(value.alias(measurement.column))
        problems.append(
            sf.when(unit.isNull(), sf.lit(f"missing_unit:{measurement.variable}")).when(
                ~unit.isin(measurement.units), sf.concat(sf.lit(f"unsupported_unit:{measurement.variable}="), unit)
            )
        )
    time_unit = sf.col("time_unit")
    iso_time = sf.coalesce(time_unit == "iso8601", sf.lit(False))
    problems.insert(
        0,
        sf.when(time_unit.isNull(), sf.lit("missing_unit:time")).when(
            ~iso_time, sf.concat(sf.lit("unsupported_unit:time="), time_unit)
        ),
    )
    local_time = sf.try_to_timestamp(sf.col("raw_time"), sf.lit(ISO_HOUR_FORMAT))
    observed_at = sf.when(
        iso_time,
        sf.timestamp_seconds(sf.unix_timestamp(local_time) - sf.coalesce(sf.col("utc_offset_seconds"), sf.lit(0))),
    )
    unit_problems = sf.concat_ws(",", *problems)
    return hourly.select(
        "*",
        observed_at.alias("observed_at"),
        *converted,
        sf.when(unit_problems != "", unit_problems).alias(UNIT_PROBLEMS),
    )


def flag_invalid_rows(converted: DataFrame) -> DataFrame:
    """Add ``reject_reason``: the comma-separated checks an hour fails (unit, time, physical ranges), null when it
    passes them all. A null value is missing data, not an invalid one; the validation SQL watches null rates."""
    checks: list[Column] = [sf.col(UNIT_PROBLEMS), sf.when(sf.col("observed_at").isNull(), sf.lit("invalid_time"))]
    for measurement in MEASUREMENTS:
        value = sf.col(measurement.column)
        invalid = ~value.between(measurement.low, measurement.high)
        if measurement.integral:
            invalid = invalid | (value != sf.floor(value))
        checks.append(sf.when(value.isNotNull() & invalid, sf.lit(f"{measurement.column}_out_of_range")))
    reasons = sf.concat_ws(",", *checks)
    return converted.withColumn(REJECT_REASON, sf.when(reasons != "", reasons))


def raw_values(hours: DataFrame) -> Column:
    """An hour's raw values and units as JSON, what a reject shows of it."""
    return sf.to_json(
        sf.struct(
            sf.col("raw_time").alias("time"),
            *(sf.col(f"raw_{variable}").alias(variable) for variable in HOURLY_VARIABLES),
            *(sf.col(f"{variable}_unit") for variable in ("time", *HOURLY_VARIABLES)),
        )
    )


def refined_rows(valid: DataFrame, *, run_id: str, processed_at: datetime) -> DataFrame:
    """The refined table's columns for valid hours: ``is_forecast`` (the hour is later than its fetch), processing
    metadata, and the partition values (observation date in UTC, city); then, for a reject should the hour lose
    the merge, its landing folder and raw values (``_ingest_date``, ``_raw_values``, never written to the table)."""
    values = {measurement.column: sf.col(measurement.column) for measurement in MEASUREMENTS}
    values["weather_code"] = sf.col("weather_code").cast(IntegerType())
    return valid.select(
        "observed_at",
        *(value.alias(column) for column, value in values.items()),
        (sf.col("observed_at") > sf.col("fetched_at")).alias("is_forecast"),
        "latitude",
        "longitude",
        sf.col("elevation").alias("elevation_m"),
        "fetched_at",
        "source_key",
        sf.lit(run_id).alias("run_id"),
        sf.lit(processed_at).cast(TimestampType()).alias("processed_at"),
        sf.date_format("observed_at", "yyyy-MM-dd").alias("date"),
        "city",
        sf.col("ingest_date").alias(_INGEST_DATE),
        raw_values(valid).alias(_RAW_VALUES),
    )


_MEASURED_COLUMNS = tuple(measurement.column for measurement in MEASUREMENTS)
_KEPT = "_kept_"


def ranked_candidates(stored: DataFrame, incoming: DataFrame) -> DataFrame:
    """Every candidate row of each (city, hour), stored and incoming, ranked: first the one holding the most of the
    hour's values, then the most recent fetch, then the stored row of the same fetch (a re-run changes nothing).
    Each row also carries the winner's values and fetch time (``_kept_<column>``), for the rejects.

    One total order, so the merge is associative: a later fetch with fewer values never erases a stored value,
    whichever run (or window) the two fetches meet in."""
    columns = [field.name for field in REFINED_SCHEMA]

    def candidates(frame: DataFrame, precedence: int) -> DataFrame:
        extras = [
            sf.col(name) if name in frame.columns else sf.lit(None).cast(StringType()).alias(name)
            for name in (_INGEST_DATE, _RAW_VALUES)
        ]
        return frame.select(*columns, *extras, sf.lit(precedence).alias(_PRECEDENCE))

    rows = candidates(stored, 1).unionByName(candidates(incoming, 0))
    present = sum((sf.col(column).isNotNull().cast(IntegerType()) for column in _MEASURED_COLUMNS), sf.lit(0))
    rows = rows.withColumn(_VALUES_PRESENT, present)
    order = [
        sf.col(_VALUES_PRESENT).desc(),
        sf.col("fetched_at").desc(),
        sf.col(_PRECEDENCE).desc(),
        sf.col("source_key").desc(),
    ]
    hour = Window.partitionBy("city", "observed_at").orderBy(*order)
    return rows.select(
        "*",
        sf.row_number().over(hour).alias("_rank"),
        *(sf.first(column).over(hour).alias(f"{_KEPT}{column}") for column in (*_MEASURED_COLUMNS, "fetched_at")),
    )


def kept_rows(ranked: DataFrame) -> DataFrame:
    """The new content of the partitions: each hour's first-ranked row, in the table's columns."""
    return ranked.where(sf.col("_rank") == 1).select(*(field.name for field in REFINED_SCHEMA))


def superseded_rejects(ranked: DataFrame) -> DataFrame:
    """Incoming rows that lost to an older, more complete row, in the rejects layout, naming the values they lack
    (``fewer_values_than_kept:temperature_c,...``). Losing to a newer fetch is no reject: that is the merge."""
    lacking = sf.concat_ws(
        ",",
        *(
            sf.when(sf.col(column).isNull() & sf.col(f"{_KEPT}{column}").isNotNull(), sf.lit(column))
            for column in _MEASURED_COLUMNS
        ),
    )
    losers = ranked.where(
        (sf.col("_rank") > 1) & (sf.col(_PRECEDENCE) == 0) & (sf.col("fetched_at") > sf.col(f"{_KEPT}fetched_at"))
    )
    return losers.select(
        "city",
        "observed_at",
        sf.concat(sf.lit("fewer_values_than_kept:"), lacking).alias(REJECT_REASON),
        "source_key",
        "fetched_at",
        sf.col(_RAW_VALUES).alias("raw_values"),
        sf.col(_INGEST_DATE).alias("ingest_date"),
    )


def merge_into_partitions(stored: DataFrame, incoming: DataFrame) -> DataFrame:
    """The new content of the partitions ``incoming`` touches: per (city, hour) the best candidate among the rows
    already stored and the incoming ones (ranked_candidates)."""
    return kept_rows(ranked_candidates(stored, incoming))


def row_rejects(flagged: DataFrame) -> DataFrame:
    """Rejected hours in the rejects layout, with their raw values and units as JSON for inspection."""
    return flagged.where(sf.col(REJECT_REASON).isNotNull()).select(
        "city", "observed_at", REJECT_REASON, "source_key", "fetched_at", raw_values(flagged).alias("raw_values"),
        "ingest_date",
    )  # fmt: skip


def object_rejects(described: DataFrame) -> DataFrame:
    """Unusable objects in the rejects layout: one row per object, observed_at null. raw_values: the object's
    text when it is not JSON, the API's error, the run and write times, or the units it came with."""
    problem = sf.col(OBJECT_PROBLEM)
    raw = sf.coalesce(
        sf.when(sf.col(CORRUPT_RECORD) != "", sf.col(CORRUPT_RECORD)),
        sf.when(sf.col("error"), sf.to_json(sf.struct("error", "reason"))),
        sf.when(
            problem.startswith("run_"),
            sf.to_json(sf.struct(sf.col("fetched_at").alias("run"), sf.col(WRITTEN_AT).alias("written_at"))),
        ),
        sf.when(problem.startswith("missing_") | problem.startswith("series_"), sf.to_json(sf.struct("hourly_units"))),
    )
    unusable = described.where(problem.isNotNull())
    return unusable.dropDuplicates([SOURCE_PATH]).select(
        "city",
        sf.lit(None).cast(TimestampType()).alias("observed_at"),
        problem.alias(REJECT_REASON),
        "source_key",
        "fetched_at",
        sf.substring(raw, 1, RAW_VALUES_MAX_CHARS).alias("raw_values"),
        "ingest_date",
    )


def arrange_for_write(frame: DataFrame, partition_columns: Sequence[str], order_columns: Sequence[str]) -> DataFrame:
    """All rows of a table partition in one Spark partition (about one file per table partition per run), in a
    stable order (a rewrite of the same rows is byte-identical)."""
    return frame.repartition(*partition_columns).sortWithinPartitions(*partition_columns, *order_columns)


# ---------------------------------------------------------------- arguments


@dataclass(frozen=True)
class JobArguments:
    run_id: str
    ingest_date: date
    landing_path: str
    refined_path: str
    rejects_path: str
    lookback_days: int

    @property
    def window_dates(self) -> list[date]:
        """The ingest_date folders read, oldest first."""
        return [self.ingest_date - timedelta(days=back) for back in range(self.lookback_days, -1, -1)]


def parse_job_arguments(argv: Sequence[str]) -> JobArguments:
    """Job arguments from ``argv`` (without the program name): awsglue's getResolvedOptions on Glue, argparse with
    the same names elsewhere. Glue also passes its own options (--JOB_NAME, --enable-metrics...): ignored."""
    try:
        from awsglue.utils import getResolvedOptions  # noqa: PLC0415 - present on Glue only
    except ImportError:
        parser = argparse.ArgumentParser(prog="weather_etl.py", description="Landing weather JSON -> refined Parquet.")
        for name in JOB_ARGUMENTS:
            parser.add_argument(f"--{name}", required=True)
        parser.add_argument("--JOB_NAME", required=False, help="set by Glue; unused")
        options = vars(parser.parse_known_args(list(argv))[0])
    else:
        options = getResolvedOptions(["weather_etl.py", *argv], list(JOB_ARGUMENTS))
    return validated_arguments(options)


def validated_arguments(options: Mapping[str, str]) -> JobArguments:
    """Check and type the raw option strings; raise ValueError naming the bad one."""
    run_id = options["run_id"]
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise ValueError(f"--run_id {run_id!r} is not YYYYMMDDTHHMMSSZ")
    try:
        ingest_date = date.fromisoformat(options["ingest_date"])
    except ValueError as error:
        raise ValueError(f"--ingest_date {options['ingest_date']!r} is not YYYY-MM-DD") from error
    lookback_text = options["lookback_days"]
    if not lookback_text.isdigit():
        raise ValueError(f"--lookback_days {lookback_text!r} is not a whole number of days >= 0")
    return JobArguments(
        run_id=run_id,
        ingest_date=ingest_date,
        landing_path=as_directory(options["landing_path"]),
        refined_path=as_directory(options["refined_path"]),
        rejects_path=as_directory(options["rejects_path"]),
        lookback_days=int(lookback_text),
    )


def as_directory(path: str) -> str:
    return path if path.endswith("/") else f"{path}/"


def landing_key_prefix(landing_path: str) -> str:
    """The object-key prefix of the landing root: the path after the bucket on S3; locally the path from the
    ``landing`` directory on (the local lake mirrors the bucket's keys), so source_key is the same S3 key."""
    match = re.fullmatch(r"s3a?://[^/]+/(.*)", landing_path)
    if match:
        return as_directory(match.group(1))
    segments = landing_path.replace("\\", "/").split("/")
    if "landing" in segments:
        last = len(segments) - 1 - segments[::-1].index("landing")
        return as_directory("/".join(segments[last:]))
    return as_directory(landing_path.lstrip("/"))


# ---------------------------------------------------------------- I/O


class LandingWindowEmptyError(RuntimeError):
    """No landing object in the window: the job was started for a run that landed nothing."""


@dataclass(frozen=True)
class JobSummary:
    """What one job run did, printed as one JSON line to the job's output log."""

    run_id: str
    window: list[str]
    objects_read: int
    objects_rejected: int
    hours_read: int
    hours_rejected: int
    hours_superseded: int
    partitions_written: int
    refined_rows_written: int
    first_date_written: str | None
    last_date_written: str | None


def configure_session(spark: SparkSession) -> None:
    for key, value in SESSION_SETTINGS.items():
        spark.conf.set(key, value)


def read_landing_objects(spark: SparkSession, landing_path: str, window_dates: Sequence[date]) -> DataFrame:
    """Every landing object of the window's ingest_date folders, one row per location, with ``source_path`` and
    ``written_at`` (the object's modification time: on S3 its LastModified, when the upload completed)."""
    folders = ",".join(day.isoformat() for day in window_dates)
    pattern = f"{landing_path}ingest_date={{{folders}}}/run=*/city=*.json"
    try:
        objects = (
            spark.read.schema(LANDING_SCHEMA)
            .option("multiLine", True)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT_RECORD)
            .json(pattern)
        )
    except AnalysisException as error:
        if error.getErrorClass() == "PATH_NOT_FOUND":
            raise LandingWindowEmptyError(f"no landing object matches {pattern}") from error
        raise
    return objects.withColumns(
        {SOURCE_PATH: sf.input_file_name(), WRITTEN_AT: sf.col("_metadata.file_modification_time")}
    )


def placeholder_objects(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """Objects the JSON reader yielded no row for (empty or blank files), as rows with an empty corrupt record, so
    they are rejected by name instead of vanishing."""
    return spark.createDataFrame([(path,) for path in paths], f"{SOURCE_PATH} string").select(
        *(
            sf.lit("" if field.name == CORRUPT_RECORD else None).cast(field.dataType).alias(field.name)
            for field in LANDING_SCHEMA
        ),
        SOURCE_PATH,
        sf.lit(None).cast(TimestampType()).alias(WRITTEN_AT),
    )


class TableFiles:
    """A table's partition directories and files through Hadoop's FileSystem (s3:// on Glue, local paths here):
    only the named partitions are looked at, never the whole table."""

    def __init__(self, spark: SparkSession, root: str, partition_columns: Sequence[str]) -> None:
        jvm = spark.sparkContext._jvm
        if jvm is None:  # only a stopped SparkContext has no JVM gateway
            raise RuntimeError("the Spark session is stopped")
        self._path = jvm.org.apache.hadoop.fs.Path
        self._escape = jvm.org.apache.spark.sql.catalyst.catalog.ExternalCatalogUtils.escapePathName
        self.root = self._path(root)
        self.partition_columns = tuple(partition_columns)
        self._filesystem = self.root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def existing_directories(self, partitions: Iterable[tuple[str, ...]]) -> list[str]:
        """The directories of those partitions (values in partition_columns order) that exist, as Spark names them."""
        found = []
        for values in sorted(set(partitions)):
            relative = "/".join(
                f"{name}={self._escape(value)}" for name, value in zip(self.partition_columns, values, strict=True)
            )
            directory = self._path(self.root, relative)
            if self._filesystem.exists(directory):
                found.append(directory.toString())
        return found

    def files_in(self, directories: Iterable[str]) -> list[str]:
        """Every file directly in those directories."""
        return [
            status.getPath().toString()
            for directory in directories
            for status in self._filesystem.listStatus(self._path(directory))
            if status.isFile()
        ]

    def delete(self, files: Iterable[str]) -> None:
        for file in files:
            self._filesystem.delete(self._path(file), False)


def read_partitions(spark: SparkSession, table: TableFiles, directories: Sequence[str]) -> DataFrame:
    """The rows stored in those partition directories (an empty frame when there are none yet)."""
    if not directories:
        return spark.createDataFrame([], REFINED_SCHEMA)
    return spark.read.schema(REFINED_SCHEMA).option("basePath", table.root.toString()).parquet(*directories)


def append_partitions(
    frame: DataFrame, path: str, partition_columns: Sequence[str], order_columns: Sequence[str]
) -> None:
    """New files for the rows of ``frame``, under their partitions; no existing file is touched. Append is the one
    mode every output committer implements the same way, so the outcome does not depend on which one Glue uses."""
    (
        arrange_for_write(frame, partition_columns, order_columns)
        .write.mode("append")
        .partitionBy(*partition_columns)
        .parquet(path)
    )


def run_job(spark: SparkSession, arguments: JobArguments, *, processed_at: datetime) -> JobSummary:
    """Read the window, clean, reject, merge into the refined partitions it touches, and write both outputs.

    Each output's touched partitions are replaced by listing their files, appending the new files, and deleting the
    listed ones, after every read of the old files is done (the stored rows are read by the appends themselves)."""
    configure_session(spark)
    key_prefix = landing_key_prefix(arguments.landing_path)
    objects = read_landing_objects(spark, arguments.landing_path, arguments.window_dates)
    described = with_source_metadata(objects, key_prefix, processed_at=processed_at).cache()
    (object_stats,) = described.agg(
        sf.collect_set(SOURCE_PATH).alias("paths"),
        sf.collect_set("ingest_date").alias("ingest_dates"),
        sf.count_distinct(sf.when(sf.col(OBJECT_PROBLEM).isNotNull(), sf.col(SOURCE_PATH))).alias("rejected"),
    ).collect()
    unread = sorted(set(objects.inputFiles()) - set(object_stats["paths"]))
    object_problems = object_rejects(described)
    if unread:
        placeholders = with_source_metadata(placeholder_objects(spark, unread), key_prefix, processed_at=processed_at)
        object_problems = object_problems.unionByName(object_rejects(placeholders))

    flagged = flag_invalid_rows(convert_units(explode_hourly(described.where(sf.col(OBJECT_PROBLEM).isNull())))).cache()
    (hour_stats,) = flagged.agg(sf.count(sf.lit(1)).alias("hours"), sf.count(REJECT_REASON).alias("rejected")).collect()
    incoming = refined_rows(
        flagged.where(sf.col(REJECT_REASON).isNull()), run_id=arguments.run_id, processed_at=processed_at
    )
    touched = sorted((row["date"], row["city"]) for row in incoming.select("date", "city").distinct().collect())
    refined = TableFiles(spark, arguments.refined_path, REFINED_PARTITION_COLUMNS)
    stored_directories = refined.existing_directories(touched)
    # Always through the merge, even into new partitions: every write then has the same plan and column nullability,
    # which is what keeps the files of a first run and of its re-runs byte-identical.
    ranked = ranked_candidates(read_partitions(spark, refined, stored_directories), incoming).cache()
    merged, superseded = kept_rows(ranked), superseded_rejects(ranked)
    refined_rows_written, hours_superseded = merged.count(), superseded.count()

    rejects = TableFiles(spark, arguments.rejects_path, REJECT_PARTITION_COLUMNS)
    unread_folders = {match.group(1) for path in unread if (match := re.search(INGEST_DATE_PATTERN, path))}
    read_folders = sorted((day,) for day in {*object_stats["ingest_dates"], *unread_folders})
    old_reject_files = rejects.files_in(rejects.existing_directories(read_folders))
    old_refined_files = refined.files_in(stored_directories)
    if touched:
        append_partitions(merged, arguments.refined_path, REFINED_PARTITION_COLUMNS, ("observed_at",))
    objects_rejected = object_stats["rejected"] + len(unread)
    if objects_rejected or hour_stats["rejected"] or hours_superseded:
        append_partitions(
            object_problems.unionByName(row_rejects(flagged)).unionByName(superseded),
            arguments.rejects_path,
            REJECT_PARTITION_COLUMNS,
            ("source_key", "observed_at", REJECT_REASON),
        )
    refined.delete(old_refined_files)
    rejects.delete(old_reject_files)
    for frame in (described, flagged, ranked):
        frame.unpersist()
    return JobSummary(
        run_id=arguments.run_id,
        window=[day.isoformat() for day in arguments.window_dates],
        objects_read=len(object_stats["paths"]) + len(unread),
        objects_rejected=objects_rejected,
        hours_read=hour_stats["hours"],
        hours_rejected=hour_stats["rejected"],
        hours_superseded=hours_superseded,
        partitions_written=len(touched),
        refined_rows_written=refined_rows_written,
        first_date_written=touched[0][0] if touched else None,
        last_date_written=touched[-1][0] if touched else None,
    )


def _spark_session() -> SparkSession:
    try:
        from lakepipe_cli.spark_local import local_spark_session  # noqa: PLC0415 - only outside Glue
    except ImportError:  # on Glue: the service configured the session
        return SparkSession.builder.appName("lakepipe-weather-etl").getOrCreate()
    return local_spark_session("lakepipe-weather-etl")


def main(argv: Sequence[str] | None = None, spark: SparkSession | None = None) -> int:
    arguments = parse_job_arguments(sys.argv[1:] if argv is None else argv)
    summary = run_job(spark or _spark_session(), arguments, processed_at=datetime.now(UTC).replace(microsecond=0))
    print(json.dumps(asdict(summary)))  # the job's output log: one line per run
    return 0


if __name__ == "__main__":
    sys.exit(main())
