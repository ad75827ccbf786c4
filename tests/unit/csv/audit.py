"""The real conversion on bytes in memory, audited by arithmetic the converter does not do itself.

``convert_audited`` runs what ``pipeline.convert_object`` runs between reading and publishing (sniff, plan,
``convert_csv``) with the real Parquet quarantine (:class:`~lakepipe.domain.csv.quarantine.ParquetQuarantine`),
then reads both files back. The checks here never take the converter's word: bytes are added up from the
input's own length and the quarantine file's offsets, rows are counted from the Parquet footer and the
quarantine file, and records are counted by Python's csv module or by splitting physical lines.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lakepipe.domain.csv.convert import ConversionLimits, ConversionOutcome, ConversionTuning, convert_csv
from lakepipe.domain.csv.detection import read_sample, sniff
from lakepipe.domain.csv.dialect import Dialect, decompressed
from lakepipe.domain.csv.quarantine import ParquetQuarantine, read_quarantine
from lakepipe.domain.csv.schema import ConversionPlan, TableContract, plan_conversion
from tests.parquet import read_parquet

LOCATION = "s3://lake/database/audited/"
# Tiny blocks: a few kilobytes cross block boundaries, take the careful path and fill several row groups.
TINY_BLOCKS = ConversionTuning(block_bytes=256, row_group_rows=50, row_group_bytes=1 << 20, workers=2)
_PHYSICAL_LINE_BREAK = re.compile(rb"\r\n|\r|\n")


class KeptBytes(io.BytesIO):
    """An in-memory sink that keeps its bytes after the writer closes it (as an S3 object would)."""

    kept = b""

    def close(self) -> None:
        if not self.closed:
            self.kept = self.getvalue()
        super().close()


@dataclass
class Audited:
    """One conversion and what its two output files hold, read back."""

    body: bytes  # the decompressed source
    plan: ConversionPlan
    outcome: ConversionOutcome
    table: pa.Table  # the Parquet file, read back
    quarantined: list[dict[str, Any]]  # the quarantine Parquet file, read back (empty when none was written)

    def raw(self, record: dict[str, Any]) -> bytes:
        """A quarantined record's bytes, fetched from the source by its offset and length."""
        offset, length = int(record["byte_offset"]), int(record["byte_length"])
        return self.body[offset : offset + length]

    @property
    def data(self) -> bytes:
        """The bytes after the prefix (BOM, preamble, header): where every record the ledger counts lies."""
        return self.body[self.plan.prefix.data_offset :]


def convert_audited(
    body: bytes,
    *,
    contract: TableContract | None = None,
    tuning: ConversionTuning = TINY_BLOCKS,
    limits: ConversionLimits | None = None,
    sample_bytes: int = 1 << 20,
) -> Audited:
    """Sniff, plan and convert ``body`` as the pipeline does; raises what the conversion raises."""
    stream, compression = decompressed(io.BytesIO(body))
    sample = read_sample(stream, sample_bytes)
    sampled = sniff(sample, complete=len(sample) <= sample_bytes, compression=compression)
    plan = plan_conversion(sampled, contract, LOCATION)
    parquet, rejects = io.BytesIO(), KeptBytes()
    quarantine = ParquetQuarantine(lambda: rejects, dataset="audited", source_key="input/audited.csv", version_id="v1")
    try:
        outcome = convert_csv(stream, plan, parquet, quarantine, already_read=sample, tuning=tuning, limits=limits)
    finally:
        quarantine.close()
    source, _ = decompressed(io.BytesIO(body))
    return Audited(
        body=source.read(),
        plan=plan,
        outcome=outcome,
        table=read_parquet(parquet.getvalue()),
        quarantined=read_quarantine(rejects.kept) if quarantine.written else [],
    )


def assert_every_byte_and_row_accounted_for(audited: Audited) -> None:
    """Bytes: the ledger's parts add up to the input's length, and its quarantined bytes are the quarantine
    file's own lengths. Rows: the records found are the Parquet rows plus the quarantined records."""
    ledger = audited.outcome.ledger
    parts = (
        ledger.bytes_bom,
        ledger.bytes_preamble,
        ledger.bytes_header,
        ledger.bytes_converted,
        ledger.bytes_quarantined,
        ledger.bytes_skipped,
    )
    assert sum(parts) == len(audited.body), ledger
    assert audited.plan.prefix.data_offset == ledger.bytes_bom + ledger.bytes_preamble + ledger.bytes_header
    assert sum(int(record["byte_length"]) for record in audited.quarantined) == ledger.bytes_quarantined
    assert audited.outcome.rows_in == audited.table.num_rows + len(audited.quarantined), ledger
    # Quarantined records lie inside the data, in order, without overlapping one another.
    end = audited.plan.prefix.data_offset
    for record in audited.quarantined:
        assert int(record["byte_offset"]) >= end
        end = int(record["byte_offset"]) + int(record["byte_length"])
    assert end <= len(audited.body)


def physical_lines(data: bytes) -> list[bytes]:
    """``data`` cut at every ``\\r\\n``, ``\\r`` and ``\\n`` (no final empty piece after a last line break)."""
    lines = _PHYSICAL_LINE_BREAK.split(data)
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def text_of(data: bytes, dialect: Dialect) -> str:
    """``data`` decoded as the dialect says, undecodable bytes kept apart (they never act as structure)."""
    encoding = "utf-8" if dialect.encoding == "utf-8-sig" else dialect.encoding
    return data.decode(encoding, "surrogateescape")


def python_csv_records(text: str, dialect: Dialect) -> list[list[str]] | None:
    """The non-empty records Python's csv module reads, strictly (None when it refuses the text)."""
    if dialect.quote_char is None:
        reader = csv.reader(
            io.StringIO(text, newline=""),
            delimiter=dialect.delimiter,
            quoting=csv.QUOTE_NONE,
            escapechar=dialect.escape_char,
            strict=True,
        )
    else:
        reader = csv.reader(
            io.StringIO(text, newline=""),
            delimiter=dialect.delimiter,
            quotechar=dialect.quote_char,
            escapechar=dialect.escape_char,
            doublequote=dialect.escape_char is None,
            skipinitialspace=dialect.skip_initial_space,
            strict=True,
        )
    try:
        return [record for record in reader if record]
    except csv.Error:
        return None
