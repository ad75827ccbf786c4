"""The output schema of one conversion: inferred from the sample, or the Glue table's columns as a contract.

When the table exists its columns win: a file column with a known name is converted to the table's type (rows
that do not fit are quarantined), a column the table lacks is added as a new nullable column, and a table
column the file lacks is written as nulls so every Parquet file of a dataset has the same schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from lakepipe.domain.csv.column_types import (
    TIMESTAMP_UNIT,
    ColumnKind,
    arrow_type_for_hive,
    arrow_type_for_kind,
    hive_type_for_kind,
    infer_kind,
    widen,
)
from lakepipe.domain.csv.dialect import Dialect, Prefix, SampledCsv
from lakepipe.domain.csv.errors import SchemaConflictError
from lakepipe.domain.csv.naming import column_names_for


@dataclass(frozen=True)
class CatalogColumn:
    """A column as the catalog declares it."""

    name: str
    hive_type: str
    comment: str = ""


@dataclass(frozen=True)
class TableContract:
    """An existing table: its columns (in order) are the contract every new file must meet."""

    name: str
    columns: tuple[CatalogColumn, ...]
    location: str
    partition_keys: tuple[str, ...] = ()
    version_id: str | None = None
    # The input folder the table belongs to (None for a table lakepipe did not create, or created before it
    # recorded its folder).
    source_folder: str | None = None


@dataclass(frozen=True)
class ColumnPlan:
    """One output column: where its values come from and the types they are parsed and written as."""

    name: str
    hive_type: str
    arrow_type: pa.DataType
    # What pyarrow's CSV converter is asked for; differs from arrow_type only for timestamps with a zone
    # offset, parsed zone-aware and then normalised to zone-less UTC (Hive timestamps carry no zone).
    parse_type: pa.DataType
    source_name: str | None
    is_new: bool
    kind: ColumnKind | None = None  # what the sample inferred (new columns), to widen from on drift

    @property
    def in_file(self) -> bool:
        return self.source_name is not None


@dataclass(frozen=True)
class ConversionPlan:
    """Everything the streaming conversion needs to know about one file."""

    dialect: Dialect
    file_columns: tuple[str, ...]
    columns: tuple[ColumnPlan, ...]
    creates_table: bool
    # Values of file columns by sanitised name → original header, for catalog comments and reasons.
    source_names: dict[str, str] = field(default_factory=dict)
    # What precedes the data (BOM, preamble, header): the conversion skips and accounts for those bytes.
    prefix: Prefix = field(default_factory=Prefix)

    @property
    def output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(column.name, column.arrow_type) for column in self.columns])

    @property
    def parse_types(self) -> dict[str, pa.DataType]:
        """Converter types of every file column, by the names the CSV reader gives the columns."""
        by_name = {column.name: column.parse_type for column in self.columns if column.in_file}
        return {name: by_name[name] for name in self.file_columns}

    @property
    def new_columns(self) -> tuple[CatalogColumn, ...]:
        return tuple(_catalog_column(column) for column in self.columns if column.is_new)

    @property
    def catalog_columns(self) -> tuple[CatalogColumn, ...]:
        return tuple(_catalog_column(column) for column in self.columns)


def _catalog_column(column: ColumnPlan) -> CatalogColumn:
    comment = f"CSV header: {column.source_name}" if column.source_name else ""
    return CatalogColumn(name=column.name, hive_type=column.hive_type, comment=comment[:255])


def infer_column_kinds(sample: SampledCsv) -> list[ColumnKind]:
    """The widened kind of every column over the sample's well-formed rows."""
    return [
        infer_kind(sample.distinct_values(position), sample.dialect.decimal_point)
        for position in range(len(sample.header))
    ]


def _parse_type(arrow_type: pa.DataType, kind: ColumnKind) -> pa.DataType:
    if pa.types.is_timestamp(arrow_type) and kind == ColumnKind.TIMESTAMP_TZ:
        return pa.timestamp(TIMESTAMP_UNIT, tz="UTC")
    return arrow_type


def _new_column(name: str, kind: ColumnKind, source_name: str) -> ColumnPlan:
    """A column the table does not have yet: its types come from what the sample holds."""
    arrow_type = arrow_type_for_kind(kind)
    return ColumnPlan(
        name=name,
        hive_type=hive_type_for_kind(kind),
        arrow_type=arrow_type,
        parse_type=_parse_type(arrow_type, kind),
        source_name=source_name,
        is_new=True,
        kind=kind,
    )


def _same_location(left: str, right: str) -> bool:
    return left.rstrip("/") == right.rstrip("/")


def plan_conversion(
    sample: SampledCsv,
    contract: TableContract | None,
    location: str,
    *,
    widened: Mapping[str, ColumnKind] | None = None,
) -> ConversionPlan:
    """The output columns for a sampled file, against its table's contract when there is one.

    ``widened`` holds, for a file read once already, the kinds of the values its new columns refused: each such
    column is planned wide enough to hold them too (a new table follows the whole file, not its first megabyte).
    """
    file_columns = column_names_for(sample.header)
    kinds = dict(zip(file_columns, infer_column_kinds(sample), strict=True))
    for name, kind in (widened or {}).items():
        kinds[name] = widen(kinds[name], kind)
    source_names = dict(zip(file_columns, sample.header, strict=True))
    if contract is None:
        columns = [_new_column(name, kinds[name], source_names[name]) for name in file_columns]
        return ConversionPlan(sample.dialect, tuple(file_columns), tuple(columns), True, source_names, sample.prefix)

    if contract.partition_keys:
        raise SchemaConflictError(
            f"table {contract.name} is partitioned by {', '.join(contract.partition_keys)}; "
            "CSV datasets are written unpartitioned"
        )
    if not _same_location(contract.location, location):
        raise SchemaConflictError(f"table {contract.name} is located at {contract.location}, not {location}")
    columns = []
    for declared in contract.columns:
        arrow_type = arrow_type_for_hive(declared.hive_type)
        in_file = declared.name in kinds
        if arrow_type is None:
            if in_file:
                raise SchemaConflictError(
                    f"column {declared.name} has type {declared.hive_type}, which CSV cannot fill"
                )
            continue  # left out of the file: Athena reads a missing column as null
        columns.append(
            ColumnPlan(
                name=declared.name,
                hive_type=declared.hive_type,
                arrow_type=arrow_type,
                parse_type=_parse_type(arrow_type, kinds[declared.name]) if in_file else arrow_type,
                source_name=source_names[declared.name] if in_file else None,
                is_new=False,
            )
        )
    declared_names = {declared.name for declared in contract.columns}
    columns += [
        _new_column(name, kinds[name], source_names[name]) for name in file_columns if name not in declared_names
    ]
    return ConversionPlan(sample.dialect, tuple(file_columns), tuple(columns), False, source_names, sample.prefix)
