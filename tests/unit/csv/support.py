"""Run the real conversion on bytes in memory (no S3): what the unit tests and property tests share."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow as pa

from lakepipe.domain.csv.convert import ConversionLimits, ConversionOutcome, ConversionTuning, convert_csv
from lakepipe.domain.csv.detection import read_sample, sniff
from lakepipe.domain.csv.dialect import decompressed
from lakepipe.domain.csv.schema import ConversionPlan, TableContract, plan_conversion
from tests.parquet import read_parquet

LOCATION = "s3://lake/database/dataset/"
# Tiny blocks, so a few kilobytes exercise block boundaries, the careful path and row groups.
SMALL_TUNING = ConversionTuning(block_bytes=2048, row_group_rows=100, row_group_bytes=1 << 20, workers=2)


class CollectedQuarantine:
    """Quarantined records kept in memory, as the conversion hands them over."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []

    def write(self, records: pa.Table) -> None:
        self.tables.append(records)

    @property
    def records(self) -> list[dict[str, object]]:
        return [row for table in self.tables for row in table.to_pylist()]


@dataclass
class Converted:
    table: pa.Table
    quarantine: CollectedQuarantine
    outcome: ConversionOutcome
    plan: ConversionPlan
    parquet: bytes
    body: bytes  # the decompressed source

    @property
    def rejected(self) -> list[dict[str, object]]:
        return self.quarantine.records

    @property
    def rejected_lines(self) -> list[int]:
        return [int(record["line"]) for record in self.rejected]  # type: ignore[call-overload]

    def raw_of(self, record: dict[str, object]) -> bytes:
        """The full raw bytes of a quarantined record, fetched from the source by its offset and length."""
        offset, length = int(record["byte_offset"]), int(record["byte_length"])  # type: ignore[call-overload]
        return self.body[offset : offset + length]


def convert_bytes(
    body: bytes,
    *,
    contract: TableContract | None = None,
    tuning: ConversionTuning = SMALL_TUNING,
    limits: ConversionLimits | None = None,
    sample_bytes: int = 1 << 20,
) -> Converted:
    """Sniff, plan and convert ``body`` exactly as the pipeline does, into an in-memory Parquet file."""
    stream, compression = decompressed(io.BytesIO(body))
    sample = read_sample(stream, sample_bytes)
    sampled = sniff(sample, complete=len(sample) <= sample_bytes, compression=compression)
    plan = plan_conversion(sampled, contract, LOCATION)
    sink = io.BytesIO()
    quarantine = CollectedQuarantine()
    outcome = convert_csv(stream, plan, sink, quarantine, already_read=sample, tuning=tuning, limits=limits)
    parquet = sink.getvalue()
    source, _ = decompressed(io.BytesIO(body))
    return Converted(read_parquet(parquet), quarantine, outcome, plan, parquet, source.read())
