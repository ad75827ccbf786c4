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
import pyarrow.compute as pc
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
    """Writes quarantined records to a Parquet file opened on the first record (no bad record, no file).

    Records are held until about a row group's worth has come (``flush_rows`` or ``flush_bytes``): a file with
    a few bad rows in every block would otherwise get one tiny row group per block, and writing one (a column
    chunk and a compressor per column) cost more than converting the block's good rows.
    """

    def __init__(
        self,
        open_sink: Callable[[], IO[bytes]],
        *,
        dataset: str,
        source_key: str,
        version_id: str | None,
        flush_rows: int = 65_536,
        flush_bytes: int = 8 * 1024 * 1024,
    ):
        self._open_sink = open_sink
        self._constants = {"dataset": dataset, "source_key": source_key, "source_version_id": version_id}
        self._sink: IO[bytes] | None = None
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._flush_rows = flush_rows
        self._flush_bytes = flush_bytes
        self.records = 0
        self.refused_values: dict[str, RefusedValues] = {}

    def write(self, records: pa.Table) -> None:
        if not records.num_rows:
            return
        self._tally_refused_values(records)
        self._pending.append(records)
        self._pending_rows += records.num_rows
        self._pending_bytes += records.nbytes
        self.records += records.num_rows
        if self._pending_rows >= self._flush_rows or self._pending_bytes >= self._flush_bytes:
            self._flush()

    def _tally_refused_values(self, records: pa.Table) -> None:
        """Per column, how many values its declared type refused and the first few with their lines (the drift)."""
        refused = records.filter(pc.equal(records.column("reason_code"), "invalid_value"))
        if not refused.num_rows:
            return
        for column in pc.unique(refused.column("column")).to_pylist():
            if column is None:
                continue
            rows = refused.filter(pc.equal(refused.column("column"), column))
            values = self.refused_values.setdefault(column, RefusedValues())
            values.count += rows.num_rows
            room = _REFUSED_SAMPLES - len(values.samples)
            if room > 0:
                first = rows.slice(0, room)
                lines = first.column("line").to_pylist()
                values.samples.extend(zip(first.column("value").to_pylist(), lines, strict=True))

    def _flush(self) -> None:
        if not self._pending:
            return
        if self._writer is None:
            self._sink = self._open_sink()
            self._writer = pq.ParquetWriter(self._sink, QUARANTINE_FILE_SCHEMA, compression="zstd")
        records = pa.concat_tables(self._pending)
        rows = records.num_rows
        constants = [pa.array([self._constants[field.name]] * rows, field.type) for field in SOURCE_FIELDS]
        self._writer.write_table(pa.Table.from_arrays([*constants, *records.columns], schema=QUARANTINE_FILE_SCHEMA))
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def close(self) -> None:
        try:
            self._flush()  # nothing held after the first close, so closing twice writes nothing more
        finally:
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
