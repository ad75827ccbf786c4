"""The SQL files hold to their contracts before any engine runs them (parsed by sqlglot, Athena dialect)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from lakepipe_cli.athena_local import declared_parameters, to_duckdb
from tests.conftest import REPO_ROOT

VALIDATION_SQL = REPO_ROOT / "sql/validation/validate_weather_run.sql"
VIEW_FILES = sorted((REPO_ROOT / "sql/views").glob("*.sql"))


def test_validation_query_takes_the_window_twice_as_its_declared_positional_parameters() -> None:
    # A "?" in a comment or string would not be a placeholder: there must be exactly the declared ones
    text = VALIDATION_SQL.read_text()
    (statement,) = sqlglot.parse(text, read="athena")

    assert statement is not None
    assert declared_parameters(text) == ["window_start", "window_end", "window_start", "window_end"]
    assert text.count("?") == 4
    assert len(list(statement.find_all(exp.Placeholder))) == 4


def test_validation_query_reads_weather_hourly_unqualified_and_starts_with_passed_and_failed_checks() -> None:
    (statement,) = sqlglot.parse(VALIDATION_SQL.read_text(), read="athena")
    assert isinstance(statement, exp.Select)

    tables = {(table.db, table.name) for table in statement.find_all(exp.Table)}
    assert ("", "weather_hourly") in tables
    assert all(db == "" for db, _ in tables)
    assert statement.named_selects[:2] == ["passed", "failed_checks"]
    # The state machine carries a copy of this text in its definition (tools/sync_sql.py), where ${ is reserved.
    assert "${" not in VALIDATION_SQL.read_text()


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda path: path.stem)
def test_each_view_file_creates_the_view_it_is_named_after(path: Path) -> None:
    (statement,) = sqlglot.parse(path.read_text(), read="athena")

    assert isinstance(statement, exp.Create)
    assert statement.kind == "VIEW"
    assert statement.args.get("replace") is True
    assert statement.this.name == path.stem
    ctes = {cte.alias for cte in statement.expression.find_all(exp.CTE)}
    assert {table.name for table in statement.expression.find_all(exp.Table)} - ctes == {"weather_hourly"}
    assert f"CREATE OR REPLACE VIEW {path.stem} AS " in to_duckdb(path.read_text())[0]


def test_there_are_the_three_analytics_views() -> None:
    assert [path.stem for path in VIEW_FILES] == ["daily_weather_by_city", "precipitation_totals", "temperature_trend"]
