"""Copy the SQL files into the state machine definition, or check that the copies are current.

sql/ is the one source of the Athena queries: DuckDB runs the files locally and Athena runs them from the state
machine. Step Functions can only send Athena a query string, so the definition carries copies:

* StartValidationQuery: sql/validation/validate_weather_run.sql, and its ExecutionParameters, built from the
  file's ``-- Parameters (in order):`` line (each name is a field of the ingest manifest, sent quoted);
* ListViews: every sql/views/*.sql, the statements the PublishViews step runs on every pipeline run.

This tool writes those copies, and ``--check`` (and a unit test) fails when they have drifted apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lakepipe_cli.athena_local import declared_parameters

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFINITION_PATH = REPO_ROOT / "statemachine" / "weather_pipeline.asl.json"
VALIDATION_SQL_PATH = REPO_ROOT / "sql" / "validation" / "validate_weather_run.sql"
VIEWS_DIR = REPO_ROOT / "sql" / "views"
VALIDATION_STATE = "StartValidationQuery"
VIEWS_STATE = "ListViews"
# Where the quote character comes from (PrepareValidation's Result) and where the declared names are read from.
QUOTE_PATH = "$.validation.sql_string_quote"
MANIFEST_PATH = "$.manifest"


def athena_query_text(sql: str) -> str:
    """The SQL file as Athena takes it: one statement, no trailing semicolon or blank lines."""
    query = sql.strip().removesuffix(";").rstrip()
    if not query:
        raise ValueError("a SQL file is empty")
    if "${" in query:
        # CloudFormation would treat it as a DefinitionSubstitutions placeholder and rewrite the query.
        raise ValueError("a SQL file copied into the definition must not contain '${'")
    return query


def execution_parameters_expression(sql: str) -> str:
    """``States.Array`` of one quoted manifest field per declared parameter, in the declared order.

    Athena splices each execution parameter in as SQL text, so a string needs single quotes around it. The quote
    is read from the state data rather than written as a ``\\'`` escape inside the intrinsic's literal: the
    escape is valid ASL, but moto's interpreter (and so the local proofs) does not parse it."""
    names = declared_parameters(sql)
    if not names:
        raise ValueError("the validation SQL declares no parameters ('-- Parameters (in order): …')")
    quoted = [f"States.Format('{{}}{{}}{{}}', {QUOTE_PATH}, {MANIFEST_PATH}.{name}, {QUOTE_PATH})" for name in names]
    return f"States.Array({', '.join(quoted)})"


def view_statements(views_dir: Path = VIEWS_DIR) -> list[dict[str, str]]:
    """One ``{"view", "query"}`` item per sql/views/*.sql file, in file-name order."""
    return [
        {"view": path.stem, "query": athena_query_text(path.read_text())} for path in sorted(views_dir.glob("*.sql"))
    ]


def render_definition(definition_text: str, validation_sql: str, views: list[dict[str, str]]) -> str:
    """The definition with the SQL copies replaced, formatted the one way this tool writes it."""
    definition: dict[str, Any] = json.loads(definition_text)
    parameters = definition["States"][VALIDATION_STATE]["Parameters"]
    parameters["QueryString"] = athena_query_text(validation_sql)
    parameters["ExecutionParameters.$"] = execution_parameters_expression(validation_sql)
    definition["States"][VIEWS_STATE]["Result"] = views
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the definition's copies are out of date")
    args = parser.parse_args(argv)
    current = DEFINITION_PATH.read_text()
    rendered = render_definition(current, VALIDATION_SQL_PATH.read_text(), view_statements())
    relative_definition = DEFINITION_PATH.relative_to(REPO_ROOT)
    if args.check:
        if rendered != current:
            print(f"{relative_definition} is out of date: run `python tools/sync_sql.py`", file=sys.stderr)
            return 1
        print(f"{relative_definition}: validation query and views are current")
        return 0
    DEFINITION_PATH.write_text(rendered)
    print(f"{relative_definition}: validation query and views copied from sql/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
