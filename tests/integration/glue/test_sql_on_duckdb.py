"""The SQL files of sql/, in Athena's dialect, run by DuckDB over the Glue job's local output (sqlglot transpiles).

Expected numbers come from a plain-Python reading of the landing fixtures (landing_fixtures.expected_refined), not
from the job, so a wrong job or a wrong query both fail here.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from statistics import mean

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakepipe_cli.athena_local import LocalAthena, named_parameters, string_literal
from tests.conftest import REPO_ROOT
from tests.integration.glue.conftest import SPARK_MARKS, RefinedLake, copy_lake
from tests.integration.glue.landing_fixtures import ExpectedHour, expected_refined

pytestmark = list(SPARK_MARKS)

VALIDATION_SQL = REPO_ROOT / "sql/validation/validate_weather_run.sql"


def window(start: str, end: str) -> list[str]:
    """The validation query's execution parameters for a window: quoted literals, in its declared order."""
    values = {"window_start": string_literal(start), "window_end": string_literal(end)}
    return named_parameters(VALIDATION_SQL.read_text(), values)


@pytest.fixture
def athena(refined_lake: RefinedLake) -> Iterator[LocalAthena]:
    with LocalAthena(refined_lake.lake.root) as local:
        yield local


def by_city_day(refined_lake: RefinedLake) -> dict[tuple[str, str], list[ExpectedHour]]:
    days: dict[tuple[str, str], list[ExpectedHour]] = defaultdict(list)
    for (city, hour), expected in sorted(expected_refined(refined_lake.lake.root).items()):
        days[(city, hour[:10])].append(expected)
    return days


def is_forecast(expected: ExpectedHour) -> bool:
    return datetime.fromisoformat(expected.hour).replace(tzinfo=UTC) > expected.fetched_at


def test_validation_passes_on_the_run_window_with_its_measures(athena: LocalAthena) -> None:
    # Given the refined lake, when the last run's window (2026-11-21 to 2026-11-23) is validated
    result = athena.execute_file(VALIDATION_SQL, window("2026-11-21", "2026-11-23"))

    # Then one row: passed, no failed check, and the measures: 4 cities x 3 days x 24 hours, 5 null temperatures
    assert result.columns[:2] == ("passed", "failed_checks")
    assert result.one() == {
        "passed": True,
        "failed_checks": "",
        "row_count": 288,
        "duplicate_keys": 0,
        "null_temperature_rate": pytest.approx(5 / 288),
        "latest_observation": datetime(2026, 11, 23, 23),
        "latest_fetch": datetime(2026, 11, 22, 3),
        "city_count": 4,
        "window_days": 3,
        "incomplete_days": 0,
        "missing_days": 0,
        "window_start": "2026-11-21",
        "window_end": "2026-11-23",
    }


def test_validation_fails_on_a_broken_dataset_naming_each_check(refined_lake: RefinedLake, tmp_path: Path) -> None:
    # Given a copy of the lake, broken four ways:
    lake = copy_lake(refined_lake.lake, tmp_path)
    partitions = lake.partition_files()
    # a partition written twice (Paris 2026-11-21: the double-processing the job prevents),
    (paris,) = partitions["date=2026-11-21/city=Paris"]
    shutil.copyfile(paris, paris.with_name("part-99999-duplicate.c000.snappy.parquet"))
    # a partition lost (Lyon 2026-11-23),
    shutil.rmtree(lake.refined / "date=2026-11-23/city=Lyon")
    # four hours missing (Nice 2026-11-22),
    (nice,) = partitions["date=2026-11-22/city=Nice"]
    pq.write_table(pq.read_table(nice).slice(0, 20), nice)
    # and every temperature of Marseille 2026-11-21 missing
    (marseille,) = partitions["date=2026-11-21/city=Marseille"]
    table = pq.read_table(marseille)
    column = table.schema.get_field_index("temperature_c")
    pq.write_table(
        table.set_column(column, "temperature_c", pc.cast(pc.multiply(table["temperature_c"], None), "double")),
        marseille,
    )

    # When the window is validated
    with LocalAthena(lake.root) as athena:
        result = athena.execute_file(VALIDATION_SQL, window("2026-11-21", "2026-11-23")).one()

    # Then it fails, naming each broken check, with the measures that show why
    assert result["passed"] is False
    assert result["failed_checks"] == "duplicate_keys,null_temperature_rate,incomplete_days,missing_days"
    assert result["row_count"] == 288 + 24 - 24 - 4
    assert result["duplicate_keys"] == 24
    assert result["null_temperature_rate"] == pytest.approx((5 + 24) / 284)
    assert (result["incomplete_days"], result["missing_days"]) == (1, 1)


def test_validation_fails_on_an_empty_window(athena: LocalAthena) -> None:
    result = athena.execute_file(VALIDATION_SQL, window("2026-12-01", "2026-12-03")).one()

    assert (result["passed"], result["failed_checks"], result["row_count"]) == (False, "row_count,freshness", 0)
    assert result["latest_fetch"] is None


def test_validation_fails_when_the_latest_fetch_predates_the_window(athena: LocalAthena) -> None:
    # Given a window (2026-11-23 alone) whose only data was fetched the day before
    result = athena.execute_file(VALIDATION_SQL, window("2026-11-23", "2026-11-23")).one()

    # Then the data is complete but not fresh; and Nice's 5 null hours are 5.2 % of this one day, over the 5 % bar
    assert (result["passed"], result["failed_checks"]) == (False, "null_temperature_rate,freshness")
    assert result["null_temperature_rate"] == pytest.approx(5 / 96)
    assert (result["row_count"], result["latest_fetch"]) == (96, datetime(2026, 11, 22, 3))


def test_daily_view_sums_each_hour_once(athena: LocalAthena, refined_lake: RefinedLake) -> None:
    # Given the expected hours per (city, day)
    days = by_city_day(refined_lake)

    # When the daily view is queried
    rows = {
        (row["city"], row["date"]): row
        for row in athena.execute('SELECT * FROM daily_weather_by_city ORDER BY city, "date"').records()
    }

    # Then every (city, day) is there with its 24 hours, its rain summed once, its extremes and forecast hours
    assert rows.keys() == days.keys()
    for key, hours in days.items():
        temperatures = [h.values["temperature_2m"] for h in hours if h.values["temperature_2m"] is not None]
        assert rows[key]["hours"] == 24
        assert rows[key]["precipitation_mm"] == pytest.approx(
            round(sum(h.values["precipitation"] or 0 for h in hours), 2)
        )
        assert (rows[key]["min_temperature_c"], rows[key]["max_temperature_c"]) == (
            min(temperatures),
            max(temperatures),
        )
        assert rows[key]["mean_temperature_c"] == pytest.approx(round(mean(temperatures), 2))
        assert rows[key]["forecast_hours"] == sum(is_forecast(h) for h in hours)
    assert rows[("Paris", "2026-11-21")]["precipitation_mm"] == 11.74
    assert [rows[("Paris", f"2026-11-{day}")]["forecast_hours"] for day in (20, 21, 22, 23)] == [0, 0, 20, 24]


def test_temperature_trend_view_averages_the_last_seven_days(athena: LocalAthena, refined_lake: RefinedLake) -> None:
    days = by_city_day(refined_lake)
    daily_means = {
        key: mean(h.values["temperature_2m"] for h in hours if h.values["temperature_2m"] is not None)
        for key, hours in days.items()
    }

    rows = athena.execute(
        'SELECT "date", mean_temperature_c, mean_temperature_7d_c, change_from_previous_day_c, includes_forecast '
        'FROM temperature_trend WHERE city = ? ORDER BY "date"',
        ["'Paris'"],
    ).rows

    paris = [daily_means[("Paris", f"2026-11-{day}")] for day in (20, 21, 22, 23)]
    assert [row[0] for row in rows] == ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"]
    # (the view rounds to 2 decimals)
    assert [row[1] for row in rows] == pytest.approx(paris, abs=0.0051)
    assert [row[2] for row in rows] == pytest.approx([mean(paris[: i + 1]) for i in range(4)], abs=0.0051)
    assert rows[0][3] is None
    assert [row[3] for row in rows[1:]] == pytest.approx([b - a for a, b in pairwise(paris)], abs=0.0051)
    assert [row[4] for row in rows] == [False, False, True, True]


def test_precipitation_totals_split_observed_and_forecast_rain(athena: LocalAthena, refined_lake: RefinedLake) -> None:
    days = by_city_day(refined_lake)

    rows = {row["city"]: row for row in athena.execute("SELECT * FROM precipitation_totals").records()}

    assert set(rows) == {"Paris", "Marseille", "Nice", "Lyon"}
    for city, row in rows.items():
        hours = [h for (c, _), day in days.items() if c == city for h in day]
        observed_by_day = [
            sum(h.values["precipitation"] or 0 for h in day if not is_forecast(h))
            for (c, _), day in sorted(days.items())
            if c == city
        ]
        assert (row["month"], row["days"]) == ("2026-11", 4)
        assert row["observed_precipitation_mm"] == pytest.approx(round(sum(observed_by_day), 2))
        assert row["forecast_precipitation_mm"] == pytest.approx(
            round(sum(h.values["precipitation"] or 0 for h in hours if is_forecast(h)), 2)
        )
        assert row["wet_days"] == sum(value >= 1.0 for value in observed_by_day)
    assert (rows["Paris"]["observed_precipitation_mm"], rows["Paris"]["wet_days"]) == (11.74, 1)
