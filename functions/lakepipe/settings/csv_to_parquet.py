"""Settings of CsvToParquetFunction (environment set by template.yaml)."""

from __future__ import annotations

from pydantic import Field, field_validator

from lakepipe.domain.csv.layout import RESERVED_PREFIXES
from lakepipe.domain.csv.options import (
    DEFAULT_MAX_NEW_COLUMNS,
    DEFAULT_MAX_TABLE_COLUMNS,
    MAX_NAME_LENGTH,
    ConversionLimits,
    ConversionSettings,
    TableGuards,
)
from lakepipe.domain.csv.records import DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_RECORD_LINES
from lakepipe.settings import FunctionSettings

_GIB = 1024**3
_MIB = 1024**2


class CsvToParquetSettings(FunctionSettings):
    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    glue_database: str = Field(alias="GLUE_DATABASE", min_length=1)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    # Only keys under this prefix are converted: outputs land elsewhere, so they can never trigger a loop.
    input_prefix: str = Field(default="input/", alias="INPUT_PREFIX", pattern=r"^[^/*].*/$")
    # Types are inferred from this many (decompressed) bytes at the start of each file.
    sample_bytes: int = Field(default=1024 * 1024, alias="CSV_SAMPLE_BYTES", ge=4096, le=64 * 1024 * 1024)

    # Where failed events go (the delivery policy): the queue the events come from and its dead-letter queue.
    events_queue_url: str = Field(default="", alias="CSV_EVENTS_QUEUE_URL")
    dead_letter_queue_url: str = Field(default="", alias="CSV_DEAD_LETTER_QUEUE_URL")
    max_attempts: int = Field(default=5, alias="CSV_MAX_ATTEMPTS", ge=1, le=100)

    # Limits (template parameters): past them a record is quarantined, or a file rejected with the reason.
    max_record_bytes: int = Field(default=DEFAULT_MAX_RECORD_BYTES, alias="CSV_MAX_RECORD_BYTES", ge=1024)
    max_record_lines: int = Field(default=DEFAULT_MAX_RECORD_LINES, alias="CSV_MAX_RECORD_LINES", ge=1)
    max_decompressed_bytes: int = Field(default=8 * _GIB, alias="CSV_MAX_DECOMPRESSED_BYTES", ge=_MIB)
    max_quarantined_bytes: int = Field(default=256 * _MIB, alias="CSV_MAX_QUARANTINED_BYTES", ge=0)
    max_new_columns: int = Field(default=DEFAULT_MAX_NEW_COLUMNS, alias="CSV_MAX_NEW_COLUMNS", ge=1)
    max_table_columns: int = Field(default=DEFAULT_MAX_TABLE_COLUMNS, alias="CSV_MAX_TABLE_COLUMNS", ge=1)
    max_column_name_length: int = Field(
        default=MAX_NAME_LENGTH, alias="CSV_MAX_COLUMN_NAME_LENGTH", ge=1, le=MAX_NAME_LENGTH
    )

    @field_validator("input_prefix")
    @classmethod
    def _apart_from_the_outputs(cls, prefix: str) -> str:
        # An input prefix inside (or around) an output prefix would make the function convert its own outputs.
        for reserved in RESERVED_PREFIXES:
            if prefix.startswith(reserved) or reserved.startswith(prefix):
                raise ValueError(f"{prefix!r} overlaps {reserved!r}, where lakepipe writes")
        return prefix

    def conversion(self) -> ConversionSettings:
        return ConversionSettings(
            input_prefix=self.input_prefix,
            sample_bytes=self.sample_bytes,
            limits=ConversionLimits(
                max_record_bytes=self.max_record_bytes,
                max_record_lines=self.max_record_lines,
                max_quarantined_bytes=self.max_quarantined_bytes,
                max_decompressed_bytes=self.max_decompressed_bytes,
            ),
            guards=TableGuards(
                max_new_columns=self.max_new_columns,
                max_table_columns=self.max_table_columns,
                max_column_name_length=self.max_column_name_length,
            ),
        )
