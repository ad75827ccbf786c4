"""One CSV → Parquet conversion per engine, run inside a fresh child process (see csv_to_parquet.measure).

Imports stay inside the functions (noqa PLC0415): a child imports only its own engine, so its start-up and peak
RSS are its own. Every engine gets the columns' types (lakepipe infers the same ones from its 1 MiB sample),
writes zstd, and uses exactly the CPUs the child may run on: the child pins itself before any import, and the
engines that size their own thread pools (DuckDB, polars, Arrow) are told that number, as they ignore affinity
or read it once at import.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.csv_data import COLUMN_KINDS, TIME_FORMAT

ENGINES = ("lakepipe", "polars", "duckdb", "pyarrow", "pandas")
Timings = dict[str, float]


def header_of(source: Path) -> list[str]:
    """The column names of a generated file (pyarrow's CSV writer quotes them)."""
    with source.open("rb") as stream:
        return [name.strip('"') for name in stream.readline().decode().rstrip("\r\n").split(",")]


def _timed(convert: Callable[[], None]) -> Timings:
    started, cpu_started = time.perf_counter(), time.process_time()
    convert()
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started}


# ------------------------------------------------------------------------------------------------- lakepipe
def convert_with_lakepipe(source: Path, target: Path, rejects: Path, *, against_table: bool) -> Timings:
    """lakepipe's entry in the bench, the one place that knows its API (the lead adapts it when the API moves).

    What the function does per file, minus S3 and Glue: sniff the first MiB, plan the columns, stream the rest to
    Parquet, quarantined records to their own Parquet file. ``against_table``: the file goes into an existing
    table whose columns are what this file's sample plans (a table's declared types are a contract, so bad values
    are quarantined; a new table would instead follow the whole file and widen the column to text).
    """
    from lakepipe.domain.csv.convert import convert_csv  # noqa: PLC0415
    from lakepipe.domain.csv.detection import read_sample, sniff  # noqa: PLC0415
    from lakepipe.domain.csv.dialect import decompressed  # noqa: PLC0415
    from lakepipe.domain.csv.options import ConversionSettings  # noqa: PLC0415
    from lakepipe.domain.csv.quarantine import ParquetQuarantine  # noqa: PLC0415
    from lakepipe.domain.csv.schema import TableContract, plan_conversion  # noqa: PLC0415

    settings = ConversionSettings()
    location = "s3://bench/database/weather/"
    quarantine = ParquetQuarantine(
        lambda: rejects.open("wb"), dataset="weather", source_key=f"input/{source.name}", version_id=None
    )

    def convert() -> None:
        with source.open("rb") as raw, target.open("wb") as sink:
            stream, compression = decompressed(raw)
            sample = read_sample(stream, settings.sample_bytes)
            sampled = sniff(sample, complete=len(sample) <= settings.sample_bytes, compression=compression)
            plan = plan_conversion(sampled, None, location)
            if against_table:
                table = TableContract(name="weather", columns=plan.catalog_columns, location=location)
                plan = plan_conversion(sampled, table, location)
            convert_csv(
                stream, plan, sink, quarantine, already_read=sample, tuning=settings.tuning, limits=settings.limits
            )
            quarantine.close()

    return _timed(convert)


# ---------------------------------------------------------------------------------------------------- peers
def convert_with_polars(source: Path, target: Path, cpus: int) -> Timings:
    os.environ["POLARS_MAX_THREADS"] = str(cpus)  # read once, when polars is imported
    import polars as pl  # noqa: PLC0415

    types = {"bigint": pl.Int64, "double": pl.Float64, "string": pl.String, "timestamp": pl.String}
    schema = {name: types[COLUMN_KINDS[name]] for name in header_of(source)}
    # The timestamp is read as text and parsed with its explicit format: 2.7x faster than polars' own inference.
    query = pl.scan_csv(source, schema=schema).with_columns(pl.col("time").str.to_datetime(TIME_FORMAT, time_unit="us"))
    return _timed(lambda: query.sink_parquet(target, compression="zstd"))


def duckdb_columns(source: Path) -> str:
    types = {"bigint": "BIGINT", "double": "DOUBLE", "string": "VARCHAR", "timestamp": "TIMESTAMP"}
    return "{" + ", ".join(f"'{name}': '{types[COLUMN_KINDS[name]]}'" for name in header_of(source)) + "}"


def convert_with_duckdb(source: Path, target: Path, rejects: Path | None, cpus: int) -> Timings:
    """DuckDB's best configuration (PERFORMANCE-NOTES): threads set, a memory limit, no insertion order; with
    ``rejects``, bad rows are stored (``store_rejects``) and exported there after the timed conversion."""
    import duckdb  # noqa: PLC0415

    connection = duckdb.connect()
    connection.execute(f"SET threads = {cpus}")
    connection.execute("SET memory_limit = '1GB'")
    connection.execute("SET preserve_insertion_order = false")
    store_rejects = ", store_rejects = true" if rejects else ""
    read = f"read_csv('{source}', header = true, columns = {duckdb_columns(source)}{store_rejects})"
    # The bench's own paths in its own SQL (S608 is about untrusted text).
    copy = f"COPY (SELECT * FROM {read}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"  # noqa: S608
    export = (
        "COPY (SELECT line, line_byte_position, column_name, error_type::VARCHAR AS error_type, csv_line "  # noqa: S608
        f"FROM reject_errors ORDER BY line) TO '{rejects}' (FORMAT parquet)"
    )

    def convert() -> None:
        connection.execute(copy)

    timings = _timed(convert)
    if rejects:
        connection.execute(export)
    return timings


def _arrow_types(source: Path) -> dict[str, Any]:
    import pyarrow as pa  # noqa: PLC0415

    types = {"bigint": pa.int64(), "double": pa.float64(), "string": pa.string(), "timestamp": pa.timestamp("us")}
    return {name: types[COLUMN_KINDS[name]] for name in header_of(source)}


def convert_with_pyarrow(source: Path, target: Path, cpus: int) -> Timings:
    """pyarrow's streaming reader, explicit types, 4 MB blocks, batches collected into ~1M-row groups."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.csv as pacsv  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    pa.set_cpu_count(cpus)
    pa.set_io_thread_count(cpus)

    def convert() -> None:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=4 << 20),
            convert_options=pacsv.ConvertOptions(column_types=_arrow_types(source)),
        )
        with pq.ParquetWriter(target, reader.schema, compression="zstd") as writer:
            pending: list[pa.RecordBatch] = []
            rows = 0
            for batch in reader:
                pending.append(batch)
                rows += batch.num_rows
                if rows >= 1_000_000:
                    writer.write_table(pa.Table.from_batches(pending), row_group_size=rows)
                    pending, rows = [], 0
            if pending:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=rows)

    return _timed(convert)


def convert_with_pandas(source: Path, target: Path, cpus: int) -> Timings:
    import pandas as pd  # type: ignore[import-untyped]  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415

    pa.set_cpu_count(cpus)
    types = {"bigint": "int64", "double": "float64", "string": "str"}
    dtype = {name: types[kind] for name in header_of(source) if (kind := COLUMN_KINDS[name]) in types}

    def convert() -> None:
        frame = pd.read_csv(source, dtype=dtype, parse_dates=["time"], date_format=TIME_FORMAT)
        frame.to_parquet(target, compression="zstd", engine="pyarrow", index=False)

    return _timed(convert)


def run_conversion(engine: str, source: Path, target: Path, rejects: Path | None, *, against_table: bool) -> Timings:
    cpus = len(os.sched_getaffinity(0))
    if engine == "lakepipe":
        assert rejects is not None, "lakepipe always has a quarantine"
        return convert_with_lakepipe(source, target, rejects, against_table=against_table)
    if engine == "polars":
        return convert_with_polars(source, target, cpus)
    if engine == "duckdb":
        return convert_with_duckdb(source, target, rejects, cpus)
    if engine == "pyarrow":
        return convert_with_pyarrow(source, target, cpus)
    if engine == "pandas":
        return convert_with_pandas(source, target, cpus)
    raise ValueError(f"unknown engine {engine}")
