"""Copy the validation SQL into the state machine definition, or check that the copy is current.

sql/validation/validate_weather_run.sql is the one source of the validation query: DuckDB runs it locally and
Athena runs it from the state machine. Step Functions can only send Athena a query string, so the definition
carries a copy in the StartValidationQuery state; this tool writes that copy, and `--check` (and a unit test)
fails when the two have drifted apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFINITION_PATH = REPO_ROOT / "statemachine" / "weather_pipeline.asl.json"
VALIDATION_SQL_PATH = REPO_ROOT / "sql" / "validation" / "validate_weather_run.sql"
VALIDATION_STATE = "StartValidationQuery"


def athena_query_text(sql: str) -> str:
    """The SQL file as Athena takes it: one statement, no trailing semicolon or blank lines."""
    query = sql.strip().removesuffix(";").rstrip()
    if not query:
        raise ValueError("the validation SQL file is empty")
    if "${" in query:
        # CloudFormation would treat it as a DefinitionSubstitutions placeholder and rewrite the query.
        raise ValueError("the validation SQL must not contain '${'")
    return query


def render_definition(definition_text: str, sql: str) -> str:
    """The definition with the validation query replaced by ``sql``, formatted the one way this tool writes it."""
    definition: dict[str, Any] = json.loads(definition_text)
    definition["States"][VALIDATION_STATE]["Parameters"]["QueryString"] = athena_query_text(sql)
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the definition's copy is out of date")
    args = parser.parse_args(argv)
    current = DEFINITION_PATH.read_text()
    rendered = render_definition(current, VALIDATION_SQL_PATH.read_text())
    relative_definition = DEFINITION_PATH.relative_to(REPO_ROOT)
    if args.check:
        if rendered != current:
            print(f"{relative_definition} is out of date: run `python tools/sync_sql.py`", file=sys.stderr)
            return 1
        print(f"{relative_definition}: validation query is current")
        return 0
    DEFINITION_PATH.write_text(rendered)
    print(f"{relative_definition}: validation query copied from {VALIDATION_SQL_PATH.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
