"""Run the real conversion on bytes in memory (no S3): what the unit tests and property tests share."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from lakepipe.domain.csv.convert import ConversionCounts, ConversionTuning, RejectedRow, convert_csv
from lakepipe.domain.csv.dialect import decompressed, read_exactly, sniff
from lakepipe.domain.csv.schema import ConversionPlan, TableContract, plan_conversion

LOCATION = "s3://lake/database/dataset/"
# Tiny blocks and pieces, so a few kilobytes exercise block boundaries, the careful path and row groups.
SMALL_TUNING = ConversionTuning(
    block_bytes=2048, careful_piece_bytes=512, row_group_rows=100, row_group_bytes=1 << 20, workers=2
)


@dataclass
class Converted:
    table: pa.Table
    rejected: list[RejectedRow]
    counts: ConversionCounts
    plan: ConversionPlan
    parquet: bytes

    @property
    def rejected_lines(self) -> list[int]:
        return [row.line for row in self.rejected]


def convert_bytes(
    body: bytes,
    *,
    contract: TableContract | None = None,
    tuning: ConversionTuning = SMALL_TUNING,
    sample_bytes: int = 1 << 20,
) -> Converted:
    """Sniff, plan and convert ``body`` exactly as the pipeline does, into an in-memory Parquet file."""
    stream, compression = decompressed(io.BytesIO(body))
    sample = read_exactly(stream, sample_bytes + 1)
    sampled = sniff(sample, complete=len(sample) <= sample_bytes, compression=compression)
    plan = plan_conversion(sampled, contract, LOCATION)
    sink = io.BytesIO()
    rejected: list[RejectedRow] = []

    class Collect:
        def write(self, row: RejectedRow) -> None:
            rejected.append(row)

    counts = convert_csv(stream, plan, sink, Collect(), already_read=sample, tuning=tuning)
    parquet = sink.getvalue()
    return Converted(pq.read_table(io.BytesIO(parquet)), rejected, counts, plan, parquet)
