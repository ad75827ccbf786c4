"""Bytes read to answer a one-city, one-week question: refined layer vs the raw landing objects.

The question: daily min/max/mean temperature and total precipitation of one city over one week (UTC days).

1. A landing layer is generated the way the scheduled ingestion writes it (defaults: the template's 4 cities,
   hourly runs, 2 past days + 7 forecast days each, 28 days of runs): one compact Open-Meteo JSON per city per run.
2. The Glue job (glue/weather_etl.py, local Spark) refines it into date/city partitions, as the hourly pipeline
   would (one file per partition).
3. DuckDB answers the question three ways and its profiler reports the bytes it read from disk:
   - refined: the Athena SQL over the weather_hourly view (partition pruning on date and city, then only the
     Parquet footers and the column chunks the query needs);
   - raw, key-pruned: the city's objects from every ingest_date folder whose run can hold a day of the week (the
     best a raw JSON table partitioned like the landing keys can do: JSON has no column pruning);
   - raw, full scan: every landing object, the city picked by its coordinates (a raw JSON table without
     partition columns).
   Both raw queries deduplicate hours on the latest fetch; the answers are checked equal before any figure prints.

    .venv/bin/python bench/refined_scan.py            # generates build/bench/refined_scan/ once, then reuses it
    .venv/bin/python bench/refined_scan.py --rebuild  # regenerate the lake
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT / "glue"), str(REPO_ROOT / "cli")]

from lakepipe_cli.athena_local import LocalAthena, string_literal  # noqa: E402
from lakepipe_cli.spark_local import local_spark_session  # noqa: E402
from weather_etl import parse_job_arguments, run_job  # noqa: E402

DEFAULT_LAKE = REPO_ROOT / "build" / "bench" / "refined_scan"
LANDING = "landing/weather/source=open-meteo"
CITIES = {
    "Paris": (48.86, 2.34, 43.0, 11.0),
    "Marseille": (43.3, 5.37, 12.0, 15.0),
    "Nice": (43.72, 7.26, 18.0, 14.0),
    "Lyon": (45.76, 4.84, 173.0, 10.0),
}
UNITS = {
    "time": "iso8601",
    "temperature_2m": "°C",
    "relative_humidity_2m": "%",
    "precipitation": "mm",
    "wind_speed_10m": "km/h",
    "wind_direction_10m": "°",
    "pressure_msl": "hPa",
    "cloud_cover": "%",
    "weather_code": "wmo code",
}
REFINED_SQL = """
SELECT "date", min(temperature_c) AS min_c, max(temperature_c) AS max_c, round(avg(temperature_c), 3) AS mean_c,
       round(sum(precipitation_mm), 3) AS precipitation_mm
FROM weather_hourly
WHERE city = ? AND "date" BETWEEN ? AND ?
GROUP BY "date"
ORDER BY "date"
"""
# The same question on raw objects: unnest the column arrays, keep each hour's latest fetch, aggregate. The city is
# the location's coordinates: the JSON body has no name, and a filter on file names would let DuckDB skip objects
# that a raw table without partition columns could not skip.
RAW_SQL = """
WITH hours AS (
    SELECT regexp_extract(filename, 'run=([0-9TZ]+)', 1) AS run,
           unnest(hourly.time) AS hour, unnest(hourly.temperature_2m) AS temperature_c,
           unnest(hourly.precipitation) AS precipitation_mm
    FROM read_json({files}, filename = true, format = 'auto')
    WHERE latitude = ? AND longitude = ?
),
latest AS (
    SELECT *, row_number() OVER (PARTITION BY hour ORDER BY run DESC) AS fetch_rank
    FROM hours WHERE substr(hour, 1, 10) BETWEEN ? AND ?
)
SELECT substr(hour, 1, 10) AS "date", min(temperature_c) AS min_c, max(temperature_c) AS max_c,
       round(avg(temperature_c), 3) AS mean_c, round(sum(precipitation_mm), 3) AS precipitation_mm
FROM latest WHERE fetch_rank = 1
GROUP BY 1 ORDER BY 1
"""


@dataclass(frozen=True)
class Scenario:
    first_run_day: date
    days: int
    runs_per_day: int
    past_days: int
    forecast_days: int

    @property
    def run_times(self) -> list[datetime]:
        start = datetime.combine(self.first_run_day, datetime.min.time(), tzinfo=UTC)
        step = timedelta(hours=24 // self.runs_per_day)
        return [start + step * index for index in range(self.days * self.runs_per_day)]

    @property
    def last_run_day(self) -> date:
        return self.first_run_day + timedelta(days=self.days - 1)


def truth(city: str, hour: datetime) -> dict[str, Any]:
    """Plausible November weather: a diurnal cycle, fronts every few days, deterministic noise."""
    latitude, _, _, mean_temperature = CITIES[city]
    noise = random.Random(f"{city}{hour.isoformat()}")
    day_phase = 2 * math.pi * (hour.hour - 9) / 24
    front = math.sin(2 * math.pi * hour.timestamp() / (4.5 * 86400) + latitude)
    raining = front > 0.55 and noise.random() < 0.7
    precipitation = round(noise.uniform(0.1, 2.5), 1) if raining else 0.0
    cloud = 100 if raining else max(0, min(100, round(60 + 40 * front + noise.uniform(-15, 15))))
    return {
        "temperature_2m": round(
            mean_temperature + 3.5 * math.sin(day_phase) - 2.5 * front + noise.uniform(-0.4, 0.4), 1
        ),
        "relative_humidity_2m": max(30, min(100, round(78 - 12 * math.sin(day_phase) + 15 * front))),
        "precipitation": precipitation,
        "wind_speed_10m": round(max(0.0, 12 + 9 * front + noise.uniform(-3, 3)), 1),
        "wind_direction_10m": round(220 + 70 * front + noise.uniform(-20, 20)) % 360,
        "pressure_msl": round(1014 - 9 * front + noise.uniform(-0.5, 0.5), 1),
        "cloud_cover": cloud,
        "weather_code": 61 if raining else (3 if cloud > 85 else 2 if cloud > 40 else 1),
    }


def write_landing(lake: Path, scenario: Scenario) -> int:
    """The scheduled runs' objects; returns their total size in bytes."""
    total = 0
    cache: dict[tuple[str, datetime], dict[str, Any]] = {}
    for run_time in scenario.run_times:
        first = run_time.date() - timedelta(days=scenario.past_days)
        hours = [
            datetime.combine(first, datetime.min.time(), tzinfo=UTC) + timedelta(hours=h)
            for h in range((scenario.past_days + scenario.forecast_days) * 24)
        ]
        run_id = run_time.strftime("%Y%m%dT%H%M%SZ")
        for city, (latitude, longitude, elevation, _) in CITIES.items():
            series: dict[str, list[Any]] = {"time": [hour.strftime("%Y-%m-%dT%H:%M") for hour in hours]}
            for hour in hours:
                values = cache.setdefault((city, hour), truth(city, hour))
                lead = (hour - run_time).total_seconds() / 3600
                for variable, value in values.items():
                    drift = 0.02 * lead if variable == "temperature_2m" and lead > 0 else 0.0  # forecasts drift
                    series.setdefault(variable, []).append(round(value + drift, 1) if drift else value)
            body = {
                "latitude": latitude,
                "longitude": longitude,
                "generationtime_ms": 0.05,
                "utc_offset_seconds": 0,
                "timezone": "GMT",
                "timezone_abbreviation": "GMT",
                "elevation": elevation,
                "hourly_units": UNITS,
                "hourly": series,
            }
            path = lake / LANDING / f"ingest_date={run_time.date()}" / f"run={run_id}" / f"city={city}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            path.write_bytes(data)
            total += len(data)
    return total


def refine(lake: Path, scenario: Scenario) -> None:
    """One job run reading every landing folder (as a rebuild would); one file per date/city partition."""
    spark = local_spark_session("lakepipe-bench", shuffle_partitions=8)
    last = scenario.last_run_day
    argv = ["--run_id", f"{last:%Y%m%d}T230000Z", "--ingest_date", last.isoformat()]
    argv += ["--landing_path", f"{lake / LANDING}/", "--refined_path", f"{lake}/refined/weather_hourly/"]
    argv += ["--rejects_path", f"{lake}/refined/weather_rejects/", "--lookback_days", str(scenario.days - 1)]
    summary = run_job(spark, parse_job_arguments(argv), processed_at=datetime.now(UTC).replace(microsecond=0))
    spark.stop()
    print(f"refined: {summary.refined_rows_written} rows in {summary.partitions_written} partitions")


def profiled(connection: duckdb.DuckDBPyConnection, profile: Path) -> None:
    connection.execute("SET enable_external_file_cache = false")
    connection.execute("PRAGMA enable_profiling = 'json'")
    connection.execute(f"PRAGMA profiling_output = '{profile}'")


def bytes_read(profile: Path) -> int:
    result: int = json.loads(profile.read_text())["io"]["total_bytes_read"]
    return result


@dataclass(frozen=True)
class Measurement:
    name: str
    files: int
    file_bytes: int
    bytes_read: int
    rows: list[tuple[Any, ...]]
    seconds: float


def measure_refined(lake: Path, city: str, week: Sequence[date], profile: Path) -> Measurement:
    with LocalAthena(lake) as athena:
        profiled(athena.connection, profile)
        started = time.perf_counter()
        literals = [string_literal(city), string_literal(week[0].isoformat()), string_literal(week[-1].isoformat())]
        result = athena.execute(REFINED_SQL, literals)
        seconds = time.perf_counter() - started
    partitions = [lake / "refined/weather_hourly" / f"date={day}" / f"city={city}" for day in week]
    files = [path for partition in partitions for path in partition.glob("*.parquet")]
    return Measurement(
        "refined (Parquet, date/city partitions)",
        len(files),
        sum(f.stat().st_size for f in files),
        bytes_read(profile),
        result.rows,
        seconds,
    )


def measure_raw(name: str, files: list[Path], city: str, week: Sequence[date], profile: Path) -> Measurement:
    connection = duckdb.connect()
    profiled(connection, profile)
    listing = "[" + ", ".join(f"'{path.as_posix()}'" for path in files) + "]"
    started = time.perf_counter()
    latitude, longitude, _, _ = CITIES[city]
    parameters = [latitude, longitude, week[0].isoformat(), week[-1].isoformat()]
    rows = connection.execute(RAW_SQL.format(files=listing), parameters).fetchall()
    seconds = time.perf_counter() - started
    connection.close()
    return Measurement(name, len(files), sum(f.stat().st_size for f in files), bytes_read(profile), rows, seconds)


def needed_parquet_bytes(lake: Path, city: str, week: Sequence[date], columns: Sequence[str]) -> int:
    """What a Parquet reader must fetch after partition pruning: each file's footer (+ its 8-byte length and magic
    trailer) and the chunks of the columns the query reads; an engine-independent cross-check of DuckDB."""
    total = 0
    for day in week:
        for path in (lake / "refined/weather_hourly" / f"date={day}" / f"city={city}").glob("*.parquet"):
            metadata = pq.read_metadata(path)
            total += metadata.serialized_size + 8
            for group in range(metadata.num_row_groups):
                row_group = metadata.row_group(group)
                for index in range(row_group.num_columns):
                    column = row_group.column(index)
                    if column.path_in_schema in columns:
                        total += column.total_compressed_size
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", type=Path, default=DEFAULT_LAKE)
    parser.add_argument("--rebuild", action="store_true", help="regenerate landing and refined layers")
    parser.add_argument("--days", type=int, default=28, help="days of scheduled runs")
    parser.add_argument("--runs-per-day", type=int, default=24, choices=[1, 2, 3, 4, 6, 8, 12, 24])
    parser.add_argument("--past-days", type=int, default=2)
    parser.add_argument("--forecast-days", type=int, default=7)
    parser.add_argument("--city", default="Paris", choices=sorted(CITIES))
    args = parser.parse_args(argv)
    scenario = Scenario(date(2026, 10, 1), args.days, args.runs_per_day, args.past_days, args.forecast_days)
    lake: Path = args.lake

    if args.rebuild or not (lake / "refined/weather_hourly").is_dir():
        shutil.rmtree(lake, ignore_errors=True)
        started = time.perf_counter()
        landed = write_landing(lake, scenario)
        print(f"landing: {len(scenario.run_times) * len(CITIES)} objects, {landed / 1e6:.1f} MB")
        refine(lake, scenario)
        print(f"lake built in {time.perf_counter() - started:.0f} s under {lake}")

    # A fully observed week in the middle of the runs, so every layer holds all of it.
    week = [scenario.first_run_day + timedelta(days=10 + offset) for offset in range(7)]
    # Runs holding a day d are those of ingest dates d - (forecast_days - 1) .. d + past_days.
    first_folder = week[0] - timedelta(days=scenario.forecast_days - 1)
    last_folder = week[-1] + timedelta(days=scenario.past_days)
    every_object = sorted((lake / LANDING).rglob("city=*.json"))
    pruned = [
        path
        for path in every_object
        if path.name == f"city={args.city}.json"
        and first_folder <= date.fromisoformat(path.parent.parent.name.removeprefix("ingest_date=")) <= last_folder
    ]
    with tempfile.TemporaryDirectory() as scratch:
        profile = Path(scratch) / "profile.json"
        refined = measure_refined(lake, args.city, week, profile)
        raw_pruned = measure_raw("raw JSON, key-pruned", pruned, args.city, week, profile)
        raw_city_objects = [path for path in every_object if path.name == f"city={args.city}.json"]
        raw_full = measure_raw("raw JSON, full scan", every_object, args.city, week, profile)
    if not (refined.rows == raw_pruned.rows == raw_full.rows) or len(refined.rows) != 7:
        print(f"answers differ:\n{refined.rows}\n{raw_pruned.rows}\n{raw_full.rows}", file=sys.stderr)
        return 1
    estimate = needed_parquet_bytes(lake, args.city, week, ["temperature_c", "precipitation_mm"])

    table = Table(title=f"{args.city}, {week[0]} .. {week[-1]}: daily min/max/mean temperature and precipitation")
    for column in ("source", "files", "file bytes", "bytes read", "vs key-pruned raw", "query s"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for item in (refined, raw_pruned, raw_full):
        ratio = item.bytes_read / raw_pruned.bytes_read
        table.add_row(
            item.name,
            f"{item.files:,}",
            f"{item.file_bytes:,}",
            f"{item.bytes_read:,}",
            f"{ratio:.2%}",
            f"{item.seconds:.2f}",
        )
    console = Console(width=120)
    console.print(table)
    console.print(
        f"landing objects: {len(every_object):,} ({len(raw_city_objects):,} for {args.city}); scenario: "
        f"{scenario.days} days of runs, {scenario.runs_per_day} runs/day, past_days={scenario.past_days}, "
        f"forecast_days={scenario.forecast_days}"
    )
    console.print(
        f"refined bytes from Parquet metadata (footers + temperature_c and precipitation_mm chunks): {estimate:,}"
    )
    verdict = "meets" if refined.bytes_read <= 0.02 * raw_pruned.bytes_read else "misses"
    console.print(
        f"refined reads {refined.bytes_read / raw_pruned.bytes_read:.2%} of the key-pruned raw bytes and "
        f"{refined.bytes_read / raw_full.bytes_read:.3%} of a full raw scan: {verdict} the <= 2% target. "
        "Answers identical on all three."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
