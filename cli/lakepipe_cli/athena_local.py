"""Athena's SQL on this machine: DuckDB over the local lake, with the Glue tables of template.yaml as views.

A query written for Athena (engine 3, Trino's dialect) is transpiled by sqlglot to DuckDB's. Each
``AWS::Glue::Table`` of the template becomes a view named like the table, over the Parquet files under the same key
prefix in the local lake (``<lake>/refined/weather_hourly/**/*.parquet``), with the template's columns cast to the
template's types and the partition keys read from the Hive-style paths as strings, as Athena's partition
projection does. The views of ``sql/views/`` are created on top. So the SQL files run unchanged on both engines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import sqlglot
from samtranslator.yaml_helper import yaml_parse
from sqlglot import exp

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


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
                f"read_parquet({_literal(f'{directory.as_posix()}/**/*.parquet')}, hive_partitioning = true, "
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

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> QueryResult:
        """Run Athena SQL; ``parameters`` fill the ``?`` placeholders in order, across statements. The result is
        the last statement's."""
        remaining = list(parameters)
        result = QueryResult(columns=(), rows=[])
        for statement in sqlglot.parse(sql, read="athena"):
            if statement is None:
                continue
            wanted = len(list(statement.find_all(exp.Placeholder)))
            if wanted > len(remaining):
                raise ValueError(f"the SQL has more ? placeholders than the {len(parameters)} parameters given")
            arguments, remaining = remaining[:wanted], remaining[wanted:]
            cursor = self.connection.execute(statement.sql(dialect="duckdb"), arguments)
            if cursor.description is not None:
                result = QueryResult(
                    columns=tuple(column[0] for column in cursor.description),
                    rows=[tuple(row) for row in cursor.fetchall()],
                )
        if remaining:
            raise ValueError(f"{len(remaining)} parameter(s) left over: the SQL has fewer ? placeholders")
        return result

    def execute_file(self, path: Path, parameters: Sequence[Any] = ()) -> QueryResult:
        return self.execute(Path(path).read_text(), parameters)

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> LocalAthena:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
