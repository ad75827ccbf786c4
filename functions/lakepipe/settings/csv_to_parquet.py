"""Settings of CsvToParquetFunction (environment set by template.yaml)."""

from __future__ import annotations

from pydantic import Field

from lakepipe.settings import FunctionSettings


class CsvToParquetSettings(FunctionSettings):
    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    glue_database: str = Field(alias="GLUE_DATABASE", min_length=1)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    # Only keys under this prefix are converted: outputs land elsewhere, so they can never trigger a loop.
    input_prefix: str = Field(default="input/", alias="INPUT_PREFIX", pattern=r"^[^/].*/$")
    # Types are inferred from this many (decompressed) bytes at the start of each file.
    sample_bytes: int = Field(default=1024 * 1024, alias="CSV_SAMPLE_BYTES", ge=4096, le=64 * 1024 * 1024)
