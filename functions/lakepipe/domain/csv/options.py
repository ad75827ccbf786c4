"""How a conversion runs: sizes (tuning), limits and table guards. Plain data, no pyarrow: the settings model
builds these at cold start without importing the conversion itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from lakepipe.domain.csv.records import DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_RECORD_LINES

MAX_NAME_LENGTH = 255  # Glue's limit for table and column names
DEFAULT_SAMPLE_BYTES = 1024 * 1024
DEFAULT_MAX_NEW_COLUMNS = 100
DEFAULT_MAX_TABLE_COLUMNS = 500


@dataclass(frozen=True)
class ConversionTuning:
    """Sizes measured on the benchmark (bench/csv_to_parquet.py); see PERFORMANCE-NOTES for the reasons."""

    block_bytes: int = 4 * 1024 * 1024
    row_group_rows: int = 1_000_000
    # ~650k rows of a 12-column weather file: inside the 0.5-1M rows that keep files compact, and small enough
    # that memory reaches its plateau within the first 100 MB of input (one group filling, one being written).
    row_group_bytes: int = 64 * 1024 * 1024
    workers: int | None = None  # None: every CPU this process may run on
    compression: str = "zstd"
    compression_level: int | None = None


@dataclass(frozen=True)
class ConversionLimits:
    """What one file may do; past a limit the record is quarantined, or the file is rejected (never published)."""

    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
    max_record_lines: int = DEFAULT_MAX_RECORD_LINES
    max_quarantined_bytes: int = 256 * 1024 * 1024
    max_decompressed_bytes: int | None = None


@dataclass(frozen=True)
class TableGuards:
    """Limits that keep one file from damaging its table for the files that follow (see ``guards``)."""

    max_new_columns: int = DEFAULT_MAX_NEW_COLUMNS
    max_table_columns: int = DEFAULT_MAX_TABLE_COLUMNS
    max_column_name_length: int = MAX_NAME_LENGTH


@dataclass(frozen=True)
class ConversionSettings:
    """How a conversion is run: where, how big, within which limits."""

    input_prefix: str = "input/"
    sample_bytes: int = DEFAULT_SAMPLE_BYTES
    tuning: ConversionTuning | None = None
    limits: ConversionLimits = field(default_factory=ConversionLimits)
    guards: TableGuards = field(default_factory=TableGuards)
    lease_seconds: int = 300
    lease_wait_seconds: float = 60.0
