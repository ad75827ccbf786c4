"""`lakepipe query`: Athena SQL over the local lake (DuckDB), printed as a table.

lakepipe query "SELECT city, sum(precipitation_mm) FROM weather_hourly GROUP BY city" --lake demo-output/lake
lakepipe query sql/validation/validate_weather_run.sql --param window_start="'2026-11-21'" \
    --param window_end="'2026-11-23'"

Parameter values are SQL literal text, as Athena's execution parameters: a string keeps its single quotes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

DEFAULT_LAKE = Path("demo-output/lake")
_NAMED_VALUE = re.compile(r"([A-Za-z_]\w*)=(.*)", re.DOTALL)


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "query",
        help="run Athena SQL on the local lake (DuckDB)",
        description="Run Athena-dialect SQL, or a .sql file, over the local lake: the Glue tables of template.yaml "
        "and the views of sql/views/ exist as DuckDB views.",
    )
    parser.add_argument("sql", help="the SQL text, or the path of a .sql file")
    parser.add_argument("--lake", type=Path, default=DEFAULT_LAKE, help=f"local lake root (default: {DEFAULT_LAKE})")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="[NAME=]LITERAL",
        help="a ? placeholder's value as SQL literal text ('2026-11-21' for a string): repeat in order, or give "
        "NAME=LITERAL for the names the SQL file declares in its '-- Parameters (in order):' line",
    )
    parser.set_defaults(run=run_query)


def _sql_text(argument: str) -> str:
    path = Path(argument)
    if argument.endswith(".sql") and path.is_file():
        return path.read_text()
    return argument


def _parameters(sql: str, given: list[str]) -> list[str]:
    """Positional values as given, or, when every value is NAME=LITERAL, the literals in the SQL's declared order."""
    from lakepipe_cli.athena_local import named_parameters  # noqa: PLC0415

    named = [_NAMED_VALUE.fullmatch(value) for value in given]
    if given and all(named):
        return named_parameters(sql, {match.group(1): match.group(2) for match in named if match})
    return given


def run_query(args: argparse.Namespace) -> int:
    # Imported here: `lakepipe --help` and the other sub-commands need neither DuckDB nor sqlglot.
    import duckdb  # noqa: PLC0415
    import sqlglot.errors  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from lakepipe_cli.athena_local import LocalAthena  # noqa: PLC0415

    if not args.lake.is_dir():
        print(f"lakepipe query: no lake at {args.lake} (run `lakepipe demo` or pass --lake)", file=sys.stderr)
        return 2
    try:
        with LocalAthena(args.lake) as athena:
            sql = _sql_text(args.sql)
            result = athena.execute(sql, _parameters(sql, args.param))
    except (duckdb.Error, sqlglot.errors.SqlglotError, ValueError) as error:
        print(f"lakepipe query: {error}", file=sys.stderr)
        return 1
    cells = [["NULL" if value is None else str(value) for value in row] for row in result.rows]
    console = Console(soft_wrap=True)
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(result.columns)]
    if sum(widths) + 3 * len(widths) + 1 <= console.width:
        table = Table(*result.columns, caption=f"{len(cells)} row(s)")
        for row in cells:
            table.add_row(*row)
        console.print(table)
        return 0
    # Too wide for the terminal: one block per row, a line per column (like psql's expanded display).
    for number, row in enumerate(cells, start=1):
        record = Table("column", "value", title=f"row {number}", show_header=False)
        for name, value in zip(result.columns, row, strict=True):
            record.add_row(name, value)
        console.print(record)
    console.print(f"{len(cells)} row(s)")
    return 0
