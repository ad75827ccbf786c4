"""Athena SQL on DuckDB over a small lake written with pyarrow in the job's layout, and `lakepipe query`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakepipe_cli.athena_local import LocalAthena, duckdb_type, glue_tables, named_parameters
from lakepipe_cli.query import register
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

VALIDATION_SQL = REPO_ROOT / "sql/validation/validate_weather_run.sql"
# The Parquet types Spark writes for the refined columns (timestamps: microseconds, adjusted to UTC).
SPARK_PARQUET_TYPES = {
    "timestamp": pa.timestamp("us", tz="UTC"),
    "double": pa.float64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}


def write_partition(lake: Path, day: str, city: str, temperatures: list[float | None]) -> None:
    """One refined partition holding ``len(temperatures)`` hours from midnight, in the job's layout and types."""
    table = next(table for table in glue_tables() if table.name == "weather_hourly")
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    hours = len(temperatures)
    values = {
        "observed_at": [start + timedelta(hours=h) for h in range(hours)],
        "temperature_c": temperatures,
        "precipitation_mm": [0.5] * hours,
        "weather_code": [61] * hours,
        "is_forecast": [False] * hours,
        "fetched_at": [start + timedelta(days=1)] * hours,
        "source_key": [f"landing/weather/source=open-meteo/ingest_date={day}/run=x/city={city}.json"] * hours,
    }
    columns = {name: values.get(name, [None] * hours) for name, _ in table.columns}
    schema = pa.schema([(name, SPARK_PARQUET_TYPES[kind]) for name, kind in table.columns])
    directory = lake / "refined/weather_hourly" / f"date={day}" / f"city={city}"
    directory.mkdir(parents=True)
    pq.write_table(pa.table(columns, schema=schema), directory / "part-00000.snappy.parquet")


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    write_partition(tmp_path, "2026-11-21", "Paris", [float(h) for h in range(24)])
    write_partition(tmp_path, "2026-11-21", "Nice", [10.0] * 24)
    write_partition(tmp_path, "2026-11-22", "Paris", [None, *[5.0] * 23])
    return tmp_path


def test_glue_tables_become_views_with_the_templates_types(lake: Path) -> None:
    # Given the Glue tables of template.yaml, when a LocalAthena opens the lake
    with LocalAthena(lake) as athena:
        described = athena.execute("DESCRIBE weather_hourly").rows

    # Then weather_hourly has the table's columns then its partition keys, typed as the template says
    table = next(table for table in glue_tables() if table.name == "weather_hourly")
    assert [(row[0], row[1]) for row in described] == [
        (name, duckdb_type(kind)) for name, kind in (*table.columns, *table.partition_keys)
    ]
    assert ("observed_at", "TIMESTAMP") in [(row[0], row[1]) for row in described]
    assert ("date", "VARCHAR") in [(row[0], row[1]) for row in described]


def test_athena_sql_runs_with_positional_parameters(lake: Path) -> None:
    with LocalAthena(lake) as athena:
        # An Athena (Trino) query: date_format and count_if are not DuckDB's spelling
        result = athena.execute(
            "SELECT city, date_format(min(observed_at), '%Y-%m-%d %H:%i') AS first_hour, count_if(temperature_c > ?) "
            'AS warm_hours FROM weather_hourly WHERE "date" = ? GROUP BY city ORDER BY city',
            ["11.5", "'2026-11-21'"],
        )

    assert result.columns == ("city", "first_hour", "warm_hours")
    assert result.rows == [("Nice", "2026-11-21 00:00", 0), ("Paris", "2026-11-21 00:00", 12)]


def test_timestamps_come_back_in_utc_as_athena_shows_them(lake: Path) -> None:
    with LocalAthena(lake) as athena:
        latest = athena.execute("SELECT max(observed_at) AS latest FROM weather_hourly").one()["latest"]

    assert latest == datetime(2026, 11, 22, 23)


def test_parameters_must_match_the_placeholders(lake: Path) -> None:
    with LocalAthena(lake) as athena:
        with pytest.raises(ValueError, match="2 \\? placeholder\\(s\\) but 1 parameter"):
            athena.execute("SELECT count(*) AS n FROM weather_hourly WHERE city = ? AND hour(observed_at) = ?", ["'a'"])
        with pytest.raises(ValueError, match="1 \\? placeholder\\(s\\) but 2 parameter"):
            athena.execute("SELECT count(*) AS n FROM weather_hourly WHERE city = ?", ["'a'", "'b'"])


def test_a_parameter_is_spliced_in_as_the_sql_literal_athena_would_read(lake: Path) -> None:
    # Given a query on a string column: Athena splices each execution parameter's text in as SQL
    sql = 'SELECT count(*) AS hours FROM weather_hourly WHERE "date" = ?'
    with LocalAthena(lake) as athena:
        # When the string arrives quoted it is the string; a quote inside it is doubled; a '?' in a literal is text
        assert athena.execute(sql, ["'2026-11-21'"]).one() == {"hours": 48}
        assert athena.execute(sql, ["'it''s'"]).one() == {"hours": 0}
        assert athena.execute(sql.replace('"date" = ?', "city <> '?' AND \"date\" = ?"), ["'2026-11-21'"]).one() == {
            "hours": 48
        }
        # Then, unquoted, the same date is the arithmetic 2026 - 11 - 20 and is refused with the fix named
        with pytest.raises(ValueError, match=r"not a SQL literal \(Athena reads it as 2026 - 11 - 21\); a string must"):
            athena.execute(sql, ["2026-11-21"])
        with pytest.raises(ValueError, match="not a SQL literal"):
            athena.execute(sql, ["'a' || 'b'"])


def test_views_of_sql_views_exist_over_the_lake(lake: Path) -> None:
    with LocalAthena(lake) as athena:
        daily = athena.execute(
            'SELECT city, "date", hours, precipitation_mm, min_temperature_c FROM daily_weather_by_city '
            'ORDER BY city, "date"'
        ).rows

    assert daily == [
        ("Nice", "2026-11-21", 24, 12.0, 10.0),
        ("Paris", "2026-11-21", 24, 12.0, 0.0),
        ("Paris", "2026-11-22", 24, 12.0, 5.0),
    ]


def test_an_empty_lake_has_empty_tables_and_fails_validation(tmp_path: Path) -> None:
    with LocalAthena(tmp_path) as athena:
        count = athena.execute("SELECT count(*) AS n FROM weather_hourly").one()["n"]
        window = {"window_start": "'2026-11-21'", "window_end": "'2026-11-22'"}
        validation = athena.execute_file(VALIDATION_SQL, named_parameters(VALIDATION_SQL.read_text(), window)).one()

    assert count == 0
    assert (validation["passed"], validation["failed_checks"]) == (False, "row_count,freshness")


def query_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lakepipe")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["query", *argv])
    code: int = args.run(args)
    return code


def test_lakepipe_query_prints_the_result_as_a_table(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = query_command(
        ["SELECT city, count(*) AS hours FROM weather_hourly GROUP BY city ORDER BY city", "--lake", str(lake)]
    )

    output = capsys.readouterr().out
    assert code == 0
    assert "city" in output
    assert "hours" in output
    assert [line.split()[1:4:2] for line in output.splitlines() if "Paris" in line or "Nice" in line] == [
        ["Nice", "24"],
        ["Paris", "48"],
    ]
    assert "2 row(s)" in output


def test_lakepipe_query_runs_a_sql_file_with_named_or_positional_parameters(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    named = ["--param", "window_start='2026-11-21'", "--param", "window_end='2026-11-22'"]
    positional = [arg for day in ("'2026-11-21'", "'2026-11-22'") * 2 for arg in ("--param", day)]

    outputs = []
    for parameters in (named, positional):
        assert query_command([str(VALIDATION_SQL), "--lake", str(lake), *parameters]) == 0
        outputs.append(capsys.readouterr().out)

    assert outputs[0] == outputs[1]
    assert "missing_days" in outputs[0]
    assert "1 row(s)" in outputs[0]
    # an unquoted date is refused, with the quoting it needs
    unquoted = ["--param", "window_start=2026-11-21", "--param", "window_end='2026-11-22'"]
    assert query_command([str(VALIDATION_SQL), "--lake", str(lake), *unquoted]) == 1
    assert "a string must be quoted: '2026-11-21'" in capsys.readouterr().err


def test_lakepipe_query_reports_errors(lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert query_command(["SELECT * FROM no_such_table", "--lake", str(lake)]) == 1
    assert "no_such_table" in capsys.readouterr().err
    assert query_command(["SELECT 1", "--lake", str(tmp_path / "missing")]) == 2
    assert "no lake at" in capsys.readouterr().err
