"""tools/athena_rules.py: Athena's documented SQL rules, on lakepipe's SQL and on queries written to break them.

Given a query, when the checker reads it, then it names the rule Athena would refuse it under: Trino's own grammar
(not sqlglot's, which accepts DuckDB syntax), the engine 3 function list (from Trino's documentation, never from the
SQL files), ? placement and quoting as Athena's parameterized-query page states them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tools.athena_rules import (
    athena_functions,
    check_paths,
    check_query,
    execution_parameter_problems,
)

BEFORE_ATHENA_RULES = REPO_ROOT / "tests/fixtures/sql/validate_weather_run_before_athena_rules.sql"
SQL_FILES = sorted((REPO_ROOT / "sql").rglob("*.sql"))


def rules(sql: str) -> list[str]:
    return [problem.rule for problem in check_query(sql, "test.sql")]


def test_the_validation_query_before_this_check_fails_on_its_select_list_parameters() -> None:
    # Given the validation query as it was (window parameters cast in a one-row CTE's SELECT list)
    problems = check_query(BEFORE_ATHENA_RULES.read_text().strip(), "before.sql")

    # Then both placeholders break Athena's "? only in the WHERE clause" rule, and nothing else is wrong with it
    assert [(problem.rule, problem.message.split(":")[0]) for problem in problems] == [
        ("parameter-placement", "? in the SELECT list (CAST(? AS VARCHAR))"),
        ("parameter-placement", "? in the SELECT list (CAST(? AS VARCHAR))"),
    ]


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda path: path.stem)
def test_every_sql_file_follows_athenas_rules(path: Path) -> None:
    problems, checked = check_paths([path])

    assert (problems, checked) == ([], 1)


@pytest.mark.parametrize(
    ("sql", "rule"),
    [
        # DuckDB functions: sqlglot reads them, Athena has no such function
        ("SELECT strftime(observed_at, '%Y') AS y FROM weather_hourly", "functions"),
        ("SELECT list_value(1, 2) AS l", "functions"),
        # sqlglot would write array_size as Trino's CARDINALITY: the name as written is what Athena sees
        ("SELECT array_size(ARRAY[1, 2]) AS n", "functions"),
        # DuckDB syntax that sqlglot's Trino dialect accepts and Trino's grammar does not
        ("SELECT observed_at::date AS day FROM weather_hourly", "trino-grammar"),
        ("SELECT * EXCLUDE (city) FROM weather_hourly", "trino-grammar"),
        ("FROM weather_hourly SELECT city", "trino-grammar"),
        ("SELECT city FROM weather_hourly WHERE city ILIKE 'p%'", "trino-grammar"),
        # placeholders outside a WHERE clause
        ("SELECT ? AS a FROM weather_hourly", "parameter-placement"),
        ("SELECT city FROM weather_hourly h JOIN weather_rejects r ON h.city = ? AND r.city = h.city",
         "parameter-placement"),
        ("SELECT city FROM weather_hourly GROUP BY city HAVING count(*) > ?", "parameter-placement"),
        ("SELECT city FROM weather_hourly LIMIT ?", "parameter-placement"),
        ("SELECT city FROM weather_hourly WHERE city IN (SELECT ? AS c)", "parameter-placement"),
        # a quoted or commented ? is no placeholder
        ("SELECT city FROM weather_hourly WHERE city = '?'", "parameter-text"),
        ("SELECT city FROM weather_hourly -- which city?\nWHERE city = 'Paris'", "parameter-text"),
        # parameters in DDL, and two statements in one query
        ("CREATE OR REPLACE VIEW v AS SELECT city FROM weather_hourly WHERE city = ?", "parameter-statement"),
        ("SELECT 1 AS a; SELECT 2 AS b", "statement"),
    ],
)  # fmt: skip
def test_a_query_breaking_a_rule_is_refused_under_that_rule(sql: str, rule: str) -> None:
    assert rule in rules(sql)


def test_parameters_in_where_clauses_of_every_kind_are_accepted() -> None:
    sql = """
        WITH recent AS (SELECT city, observed_at FROM weather_hourly WHERE "date" BETWEEN ? AND ?)
        SELECT city, count(*) AS hours FROM recent
        WHERE city IN (SELECT city FROM weather_rejects WHERE ingest_date = CAST(? AS varchar))
        GROUP BY city
    """

    assert rules(sql) == []


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        (["'2026-11-20'", "'O''Brien'", "12", "-3.5", "DATE '2026-11-20'", "true", "NULL"], 0),
        # a date sent unquoted is Athena's integer 2026 - 11 - 20; a bare word is a column; an expression is no literal
        (["2026-11-20"], 1),
        (["Paris"], 1),
        (["'a' || 'b'"], 1),
        ([20261120], 1),
    ],
)
def test_execution_parameters_must_each_be_one_sql_literal(values: list[object], problems: int) -> None:
    found = execution_parameter_problems(values)

    assert len(found) == problems, found
    if values == ["2026-11-20"]:
        assert "a string must be quoted: '2026-11-20'" in found[0]


def test_the_function_list_is_trinos_documented_one() -> None:
    functions = athena_functions()

    # Then it has Trino's documented functions and Athena's own addition, in lower case
    assert {"count_if", "concat_ws", "date_diff", "bool_or", "st_area", "invoker_principal", "if", "coalesce"} <= (
        functions
    )
    assert len(functions) > 400
    # and not a connector's catalog function (Athena supports no Trino connector), nor DuckDB's spellings
    assert not {"random_string", "strftime", "list_value", "array_size", "datediff"} & functions
