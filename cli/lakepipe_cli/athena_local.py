"""Athena's SQL on this machine: DuckDB over the local lake, with the Glue tables of template.yaml as views.

A query written for Athena (engine 3, Trino's dialect) is transpiled by sqlglot to DuckDB's. Each
``AWS::Glue::Table`` of the template becomes a view named like the table, over the Parquet files under the same key
prefix in the local lake (``<lake>/refined/weather_hourly/**/*.parquet``), with the template's columns cast to the
template's types and the partition keys read from the Hive-style paths as strings, as Athena's partition
projection does. The views of ``sql/views/`` are created on top. So the SQL files run unchanged on both engines.

Execution parameters are taken as Athena takes them: each value is the text of one SQL literal (``'2026-11-20'``
for a string, ``12`` for a number) spliced in for the next ``?``, so a string passed without its quotes fails here
as it would there, instead of DuckDB binding it as a string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import sqlglot
from samtranslator.yaml_helper import yaml_parse
from sqlglot import TokenType, exp
from sqlglot.dialects.athena import Athena

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
VIEWS_DIR = REPO_ROOT / "sql" / "views"
_HIVE_TO_DUCKDB = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "double": "DOUBLE",
    "float": "FLOAT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "binary": "BLOB",
}


@dataclass(frozen=True)
class GlueTable:
    """What a view needs from an AWS::Glue::Table: its name, key prefix in the bucket, columns and partitions."""

    name: str
    key_prefix: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class QueryResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def one(self) -> dict[str, Any]:
        """The single row of a query that returns exactly one (raises otherwise)."""
        if len(self.rows) != 1:
            raise ValueError(f"expected exactly one row, got {len(self.rows)}")
        return self.records()[0]


def duckdb_type(hive_type: str) -> str:
    """DuckDB's name for a Hive column type of a Glue table."""
    text = hive_type.strip().lower()
    decimal = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", text)
    if decimal:
        return f"DECIMAL({decimal.group(1)},{decimal.group(2)})"
    if text not in _HIVE_TO_DUCKDB:
        raise ValueError(f"no DuckDB type for Hive type {hive_type!r}")
    return _HIVE_TO_DUCKDB[text]


def _location_key(location: Any) -> str:
    """``s3://<bucket>/<key>/`` (a literal or the template string of an Fn::Sub) -> ``<key>/``."""
    text = location.get("Fn::Sub") if isinstance(location, dict) else location
    if isinstance(text, list):
        text = text[0]
    match = re.fullmatch(r"s3://[^/]+/(.*)", str(text))
    if not match:
        raise ValueError(f"unexpected Glue table location {location!r}")
    return match.group(1) if match.group(1).endswith("/") else f"{match.group(1)}/"


def glue_tables(template_path: Path = TEMPLATE_PATH) -> list[GlueTable]:
    """The AWS::Glue::Table resources of the template."""
    template = yaml_parse(template_path.read_text())
    tables = []
    for spec in template.get("Resources", {}).values():
        if spec.get("Type") != "AWS::Glue::Table":
            continue
        table_input = spec["Properties"]["TableInput"]
        descriptor = table_input["StorageDescriptor"]
        tables.append(
            GlueTable(
                name=table_input["Name"],
                key_prefix=_location_key(descriptor["Location"]),
                columns=tuple((column["Name"], column["Type"]) for column in descriptor["Columns"]),
                partition_keys=tuple((key["Name"], key["Type"]) for key in table_input.get("PartitionKeys", [])),
            )
        )
    return tables


def to_duckdb(sql: str) -> list[str]:
    """Athena SQL (one or more statements) as DuckDB statements."""
    return [statement for statement in sqlglot.transpile(sql, read="athena", write="duckdb") if statement.strip()]


# Typed literals Athena documents (DATE '2026-11-20', TIMESTAMP '…'): sqlglot parses them as casts of a string.
_TYPED_LITERAL_TYPES = {exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DECIMAL}


def execution_parameter_literal(value: str) -> exp.Expr:
    """The SQL literal an execution parameter's text is, or ValueError: Athena splices the text in as SQL, so a
    string value needs its single quotes ('2026-11-20'); unquoted, 2026-11-20 is the arithmetic 2026 - 11 - 20."""
    try:
        parsed = sqlglot.parse_one(value, read="athena")
    except sqlglot.errors.SqlglotError as error:
        raise ValueError(f"execution parameter {value!r} is not SQL: {error}") from error
    if isinstance(parsed, exp.Literal | exp.Boolean | exp.Null):
        return parsed
    if isinstance(parsed, exp.Neg) and isinstance(parsed.this, exp.Literal) and parsed.this.is_number:
        return parsed
    if (
        isinstance(parsed, exp.Cast)
        and isinstance(parsed.this, exp.Literal)
        and parsed.this.is_string
        and parsed.to.this in _TYPED_LITERAL_TYPES
    ):
        return parsed
    hint = f"; a string must be quoted: '{value}'" if "'" not in value else ""
    raise ValueError(f"execution parameter {value!r} is not a SQL literal (Athena reads it as {parsed.sql()}){hint}")


def bind_execution_parameters(sql: str, parameters: Sequence[str]) -> str:
    """``sql`` with its ``?`` placeholders replaced, in text order, by the parameters' literal text, as Athena does.
    A ``?`` inside a string literal, a quoted name or a comment is not a placeholder (the tokenizer says which)."""
    placeholders = [token for token in Athena().tokenize(sql) if token.token_type == TokenType.PLACEHOLDER]
    if len(placeholders) != len(parameters):
        raise ValueError(
            f"the SQL has {len(placeholders)} ? placeholder(s) but {len(parameters)} parameter(s) were given"
        )
    pieces: list[str] = []
    position = 0
    for token, value in zip(placeholders, parameters, strict=True):
        if not isinstance(value, str):
            raise TypeError(f"execution parameters are SQL literal text, got {value!r}")
        literal = execution_parameter_literal(value)
        pieces += [sql[position : token.start], literal.sql(dialect="athena")]
        position = token.end + 1
    return "".join([*pieces, sql[position:]])


_PARAMETERS_DECLARATION = re.compile(r"^-- Parameters \(in order\): (.+)$", re.MULTILINE)


def declared_parameters(sql: str) -> list[str]:
    """The parameter names a SQL file declares, one per ``?`` in order, in a ``-- Parameters (in order): a, b``
    comment line (empty when it declares none). tools/sync_sql.py builds the state machine's ExecutionParameters
    from the same line, so the query and its caller cannot disagree on the order."""
    match = _PARAMETERS_DECLARATION.search(sql)
    return [name.strip() for name in match.group(1).split(",")] if match else []


def named_parameters(sql: str, values: Mapping[str, str]) -> list[str]:
    """The execution parameters (SQL literal texts) for ``sql``'s declared names, in its placeholders' order."""
    names = declared_parameters(sql)
    missing = sorted(set(names) - set(values))
    if missing:
        raise ValueError(f"no value for declared parameter(s) {missing}")
    return [values[name] for name in names]


def string_literal(text: str) -> str:
    """``text`` as a SQL string literal, quotes doubled."""
    return "'" + text.replace("'", "''") + "'"


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class LocalAthena:
    """A DuckDB connection where the template's Glue tables and sql/views/ exist over the lake at ``lake_root``."""

    def __init__(
        self, lake_root: Path, *, template_path: Path = TEMPLATE_PATH, views_dir: Path | None = VIEWS_DIR
    ) -> None:
        self.lake_root = Path(lake_root)
        self.connection = duckdb.connect()
        # Athena shows timestamps in UTC; so must the TIMESTAMP WITH TIME ZONE -> TIMESTAMP casts of the views.
        self.connection.execute("SET TimeZone = 'UTC'")
        self.tables = glue_tables(template_path)
        for table in self.tables:
            self.connection.execute(self._table_view(table))
        if views_dir is not None:
            for path in sorted(views_dir.glob("*.sql")):
                self.execute_file(path)

    def _table_view(self, table: GlueTable) -> str:
        directory = self.lake_root / table.key_prefix
        columns = [*table.columns, *table.partition_keys]
        if any(directory.rglob("*.parquet")):
            source = (
                f"read_parquet({string_literal(f'{directory.as_posix()}/**/*.parquet')}, hive_partitioning = true, "
                "hive_types_autocast = false)"
            )
            # Partition keys are read from the paths as VARCHAR and left uncast: a cast would hide them from DuckDB's
            # hive partition pruning, which is what makes a filter on date or city skip files (as projection does).
            # No union_by_name either: it reads every file's footer up front, pruned or not.
            partition_names = {name for name, _ in table.partition_keys}
            selected = ", ".join(
                _quoted(name)
                if name in partition_names and duckdb_type(kind) == "VARCHAR"
                else f"CAST({_quoted(name)} AS {duckdb_type(kind)}) AS {_quoted(name)}"
                for name, kind in columns
            )
            # Identifiers and types come from template.yaml, quoted; no user input reaches this DDL.
            return f"CREATE OR REPLACE VIEW {_quoted(table.name)} AS SELECT {selected} FROM {source}"  # noqa: S608
        # An empty table, as Athena shows a table with no data yet: the columns, no rows.
        nulls = ", ".join(f"CAST(NULL AS {duckdb_type(kind)}) AS {_quoted(name)}" for name, kind in columns)
        return f"CREATE OR REPLACE VIEW {_quoted(table.name)} AS SELECT {nulls} WHERE false"

    def execute(self, sql: str, parameters: Sequence[str] = ()) -> QueryResult:
        """Run Athena SQL; ``parameters`` are SQL literal texts (``"'2026-11-20'"``, ``"12"``) for the ``?``
        placeholders in text order, across statements, as Athena's ExecutionParameters. The result is the last
        statement's."""
        result = QueryResult(columns=(), rows=[])
        for statement in sqlglot.parse(bind_execution_parameters(sql, parameters), read="athena"):
            if statement is None:
                continue
            cursor = self.connection.execute(statement.sql(dialect="duckdb"))
            if cursor.description is not None:
                result = QueryResult(
                    columns=tuple(column[0] for column in cursor.description),
                    rows=[tuple(row) for row in cursor.fetchall()],
                )
        return result

    def execute_file(self, path: Path, parameters: Sequence[str] = ()) -> QueryResult:
        return self.execute(Path(path).read_text(), parameters)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> LocalAthena:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
