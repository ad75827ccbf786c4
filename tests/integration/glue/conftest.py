"""One local SparkSession per test session, and helpers to run the Glue job on a local lake.

Spark tests carry ``pytest.mark.xdist_group("spark")``: with ``--dist loadgroup`` they all run on one xdist
worker, so the JVM starts once (about 4 s) instead of once per worker.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from pyspark.sql import SparkSession

from lakepipe_cli.spark_local import local_spark_session
from tests.conftest import REPO_ROOT
from tests.integration.glue.landing_fixtures import RUN_C, copy_fixture_landing, landing_key, run_id, write_objects
from weather_etl import JobSummary, main, parse_job_arguments, run_job

SPARK_MARKS = (pytest.mark.integration, pytest.mark.spark, pytest.mark.xdist_group("spark"))
REFINED_KEY = "refined/weather_hourly"
REJECTS_KEY = "refined/weather_rejects"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = local_spark_session("lakepipe-tests")
    yield session
    session.stop()


@dataclass(frozen=True)
class LocalLake:
    """A lake root with the bucket's key layout: landing/, refined/weather_hourly/, refined/weather_rejects/."""

    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing/weather/source=open-meteo"

    @property
    def refined(self) -> Path:
        return self.root / REFINED_KEY

    @property
    def rejects(self) -> Path:
        return self.root / REJECTS_KEY

    def job_argv(self, *, run_id: str, ingest_date: str, lookback_days: int) -> list[str]:
        return [
            "--run_id",
            run_id,
            "--ingest_date",
            ingest_date,
            "--landing_path",
            f"{self.landing}/",
            "--refined_path",
            f"{self.refined}/",
            "--rejects_path",
            f"{self.rejects}/",
            "--lookback_days",
            str(lookback_days),
        ]

    def run_job(
        self,
        spark: SparkSession,
        *,
        run_id: str,
        ingest_date: str,
        lookback_days: int,
        processed_at: datetime | None = None,
    ) -> JobSummary:
        arguments = parse_job_arguments(
            self.job_argv(run_id=run_id, ingest_date=ingest_date, lookback_days=lookback_days)
        )
        when = processed_at or datetime.now(UTC).replace(microsecond=0)
        return run_job(spark, arguments, processed_at=when)

    def partition_files(self, table: Path | None = None) -> dict[str, list[Path]]:
        """Partition directory (relative, e.g. ``date=2026-11-21/city=Paris``) -> its Parquet files."""
        base = table or self.refined
        files: dict[str, list[Path]] = {}
        for path in sorted(base.rglob("*.parquet")):
            files.setdefault(path.parent.relative_to(base).as_posix(), []).append(path)
        return files

    def rows(self, table: Path | None = None) -> list[dict[str, Any]]:
        """Every row of a table, partition columns included as strings, sorted by city and time."""
        base = table or self.refined
        partition_names = ["date", "city"] if base == self.refined else ["ingest_date"]
        partitioning = ds.partitioning(pa.schema([(name, pa.string()) for name in partition_names]), flavor="hive")
        records = ds.dataset(base, format="parquet", partitioning=partitioning).to_table().to_pylist()
        return sorted(records, key=lambda row: (str(row.get("city")), str(row.get("observed_at")), str(row)))


def summary_line(output: str) -> dict[str, Any]:
    """The job's one-line JSON summary from its standard output."""
    lines = [line for line in output.splitlines() if line.startswith("{")]
    assert len(lines) == 1, output
    summary: dict[str, Any] = json.loads(lines[0])
    return summary


LATE_RUN = datetime(2026, 11, 22, 15, tzinfo=UTC)


@dataclass(frozen=True)
class RefinedLake:
    lake: LocalLake
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def refined_lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> RefinedLake:
    """The fixture runs refined once for every test that only reads the result (run through main(), as Glue does).

    Landing: the three fixture runs, plus two objects of a later run (2026-11-22 15:00) that can only be rejected:
    an empty object for Paris and Open-Meteo's HTTP 400 error body for Lyon. Job: the 2026-11-22 03:00 run with one
    day of lookback, so it reads all of them.
    """
    lake = LocalLake(tmp_path_factory.mktemp("refined-lake"))
    copy_fixture_landing(lake.root)
    error_body = (REPO_ROOT / "tests/fixtures/open_meteo/error_latitude_out_of_range.json").read_bytes()
    write_objects(lake.root, {landing_key(LATE_RUN, "Paris"): b"", landing_key(LATE_RUN, "Lyon"): error_body})
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exit_code = main(lake.job_argv(run_id=run_id(RUN_C), ingest_date="2026-11-22", lookback_days=1), spark=spark)
    assert exit_code == 0
    return RefinedLake(lake=lake, summary=summary_line(output.getvalue()))


def copy_lake(source: LocalLake, target: Path) -> LocalLake:
    """A private copy of a lake, for a test that runs the job again on it."""
    shutil.copytree(source.root, target, dirs_exist_ok=True)
    return LocalLake(target)
