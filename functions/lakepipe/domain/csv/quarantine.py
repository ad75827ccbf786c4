"""Quarantined records as Parquet: one file per source object, readable by Athena as the ``csv_quarantine`` table.

Each record says where it was (line, byte offset and length in the decompressed source object version), why it
was quarantined, and shows a bounded preview. The preview is for reading; the record itself is always the
source's bytes at that offset, fetched with ``lakepipe quarantine fetch`` however long it is (the source version
is immutable and stays in place).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from lakepipe.domain.csv.convert import QUARANTINE_SCHEMA

# The columns every file carries besides the records' own: which source they come from.
SOURCE_FIELDS = [
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("source_key", pa.string(), nullable=False),
    pa.field("source_version_id", pa.string()),
]
QUARANTINE_FILE_SCHEMA = pa.schema([*SOURCE_FIELDS, *QUARANTINE_SCHEMA])
# The Glue/Athena columns of csv_quarantine (template.yaml declares the same; a test keeps them equal).
QUARANTINE_HIVE_COLUMNS = (
    ("dataset", "string"),
    ("source_key", "string"),
    ("source_version_id", "string"),
    ("line", "bigint"),
    ("byte_offset", "bigint"),
    ("byte_length", "bigint"),
    ("reason_code", "string"),
    ("reason", "string"),
    ("column", "string"),
    ("value", "string"),
    ("raw_preview", "string"),
)


_REFUSED_SAMPLES = 20


@dataclass
class RefusedValues:
    """The values one column refused: how many, and the first few with their lines."""

    count: int = 0
    samples: list[tuple[str, int]] = field(default_factory=list)


class ParquetQuarantine:
    """Writes quarantined records to a Parquet file opened on the first record (no bad record, no file)."""

    def __init__(self, open_sink: Callable[[], IO[bytes]], *, dataset: str, source_key: str, version_id: str | None):
        self._open_sink = open_sink
        self._constants = {"dataset": dataset, "source_key": source_key, "source_version_id": version_id}
        self._sink: IO[bytes] | None = None
        self._writer: pq.ParquetWriter | None = None
        self.records = 0
        self.refused_values: dict[str, RefusedValues] = {}

    def write(self, records: pa.Table) -> None:
        if not records.num_rows:
            return
        if self._writer is None:
            self._sink = self._open_sink()
            self._writer = pq.ParquetWriter(self._sink, QUARANTINE_FILE_SCHEMA, compression="zstd")
        rows = records.num_rows
        constants = [pa.array([self._constants[field.name]] * rows, field.type) for field in SOURCE_FIELDS]
        self._writer.write_table(pa.Table.from_arrays([*constants, *records.columns], schema=QUARANTINE_FILE_SCHEMA))
        self.records += rows

    def close(self) -> None:
        if self._writer is not None and self._writer.is_open:
            self._writer.close()
        if self._sink is not None and not self._sink.closed:
            self._sink.close()

    @property
    def written(self) -> bool:
        return self._writer is not None


def read_quarantine(data: bytes) -> list[dict[str, Any]]:
    """The records of a quarantine file (for the CLI and tests)."""
    records: list[dict[str, Any]] = pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False).to_pylist()
    return records
