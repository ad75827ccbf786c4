"""Streaming CSV → Parquet in bounded memory: a fast typed path, and a careful path only where a block fails.

The fast path hands ~4 MB blocks of whole records to pyarrow's CSV reader with every column type given (no
inference: 1.3 times faster, and a block cannot change a column's type), and collects the tables into row
groups of up to a million rows (or 64 MB of Arrow memory) for ``ParquetWriter`` (zstd). Blocks are parsed on a
thread pool while the previous row group is written, so a second core overlaps parsing and writing; on one
core it degrades to sequential at no measurable cost.

When pyarrow refuses a block (a ragged row, a value that does not fit its column, bytes that are not UTF-8),
only that block is re-read in smaller pieces, and only a failing piece goes row by row through Python's csv
module, which knows each record's physical line number (quoted newlines included). Rows it accepts are parsed
by pyarrow again, with the same options, so a value converts identically on both paths; rows it refuses go to
the reject sink with their line, the reason and the raw text. Every row read is either written or rejected:
``rows_in == rows_out + rows_quarantined``.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import IO, Any, Protocol

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from lakepipe.domain.csv.boundaries import first_record_end
from lakepipe.domain.csv.chunking import Block, iter_blocks
from lakepipe.domain.csv.column_types import FALSE_VALUES, NULL_VALUES, TRUE_VALUES, validator_for
from lakepipe.domain.csv.dialect import UTF8_BOM, BinaryReader, csv_reader, read_exactly
from lakepipe.domain.csv.errors import HeaderTooLongError
from lakepipe.domain.csv.schema import ConversionPlan

_MAX_REASON_CHARS = 500
_MAX_RAW_CHARS = 65536
_ARROW_COLUMN_ERROR = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?(.*)", re.DOTALL)
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_HEADER_READ_BYTES = 65536
_MAX_HEADER_BYTES = 16 * 1024 * 1024


def _latin_1_fallback(error: UnicodeError) -> tuple[str, int]:
    # The five bytes cp1252 leaves undefined decode as their latin-1 control characters (as browsers do).
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("lakepipe-latin-1-fallback", _latin_1_fallback)


@dataclass(frozen=True)
class ConversionTuning:
    """Sizes measured on the benchmark (bench/csv_to_parquet.py); see PERFORMANCE-NOTES for the reasons."""

    block_bytes: int = 4 * 1024 * 1024
    careful_piece_bytes: int = 256 * 1024
    row_group_rows: int = 1_000_000
    # ~650k rows of a 12-column weather file: inside the 0.5-1M rows that keep files compact, and small enough
    # that memory reaches its plateau within the first 100 MB of input (one group filling, one being written).
    row_group_bytes: int = 64 * 1024 * 1024
    workers: int | None = None  # None: every CPU this process may run on
    compression: str = "zstd"
    compression_level: int | None = None


@dataclass(frozen=True)
class RejectedRow:
    """A source row that was not converted: where it was, why, and its text."""

    line: int
    reason: str
    raw: str


class RejectSink(Protocol):
    def write(self, row: RejectedRow) -> None: ...


@dataclass
class ConversionCounts:
    """What one conversion read and wrote."""

    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    bytes_read: int = 0
    blocks: int = 0
    careful_blocks: int = 0
    row_groups: int = 0


@dataclass
class _BlockResult:
    tables: list[pa.Table] = field(default_factory=list)
    # Lines of rejected rows count from the block's first line (0); the consumer, who reads blocks in order,
    # adds where the block starts, so the newline count of each block runs on the parsing threads.
    rejects: list[RejectedRow] = field(default_factory=list)
    rows_in: int = 0
    newlines: int = 0
    careful: bool = False


class JsonLinesRejects:
    """Rejected rows as JSON lines, written to a sink opened only when the first row is rejected."""

    def __init__(self, open_sink: Callable[[], IO[bytes]]) -> None:
        self._open_sink = open_sink
        self._sink: IO[bytes] | None = None

    def write(self, row: RejectedRow) -> None:
        if self._sink is None:
            self._sink = self._open_sink()
        record = {"line": row.line, "reason": row.reason, "raw": row.raw}
        self._sink.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")

    def close(self) -> None:
        if self._sink is not None and not self._sink.closed:
            self._sink.close()


class _CountingReader:
    def __init__(self, stream: BinaryReader) -> None:
        self._stream = stream
        self.bytes_read = 0

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self.bytes_read += len(data)
        return data


def usable_cpus() -> int:
    """CPUs this process may run on (honours taskset / Lambda's share), at least one."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _BlockConverter:
    """Turns one block of whole records into Arrow tables of the output schema, plus rejected rows."""

    def __init__(self, plan: ConversionPlan, tuning: ConversionTuning) -> None:
        dialect = plan.dialect
        self._plan = plan
        self._tuning = tuning
        self._schema = plan.output_schema
        self._width = len(plan.file_columns)
        self._quote = dialect.quote_char.encode("ascii") if dialect.quote_char else None
        self._newline = dialect.record_separator
        self._newline_text = self._newline.decode("ascii")
        self._transcode = dialect.encoding not in {"utf-8", "utf-8-sig"}
        self._read_options = pacsv.ReadOptions(
            column_names=list(plan.file_columns), use_threads=False, block_size=2 * tuning.block_bytes
        )
        self._parse_options = pacsv.ParseOptions(
            delimiter=dialect.delimiter,
            quote_char=dialect.quote_char or False,
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
        )
        self._convert_options = pacsv.ConvertOptions(
            column_types=plan.parse_types,
            null_values=list(NULL_VALUES),
            true_values=list(TRUE_VALUES),
            false_values=list(FALSE_VALUES),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            decimal_point=dialect.decimal_point,
        )
        parse_types = plan.parse_types
        self._validators = [validator_for(parse_types[name], dialect.decimal_point) for name in plan.file_columns]
        hive_types = {column.name: column.hive_type for column in plan.columns}
        self._expectations = [f"column {name!r} ({hive_types[name]})" for name in plan.file_columns]

    # ---------------------------------------------------------------------------------------- fast path
    def parse(self, data: bytes | memoryview) -> pa.Table:
        """Parse whole records with the plan's types and conform them to the output schema."""
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=self._read_options,
            parse_options=self._parse_options,
            convert_options=self._convert_options,
        )
        rows = table.num_rows
        arrays = []
        for column in self._plan.columns:
            if not column.in_file:
                arrays.append(pa.nulls(rows, column.arrow_type))
                continue
            values = table.column(column.name)
            arrays.append(values.cast(column.arrow_type) if column.parse_type != column.arrow_type else values)
        return pa.Table.from_arrays(arrays, schema=self._schema)

    def convert(self, block: Block) -> _BlockResult:
        data: bytes | memoryview = block.view()
        if self._transcode:
            data = block.to_bytes().decode(self._plan.dialect.encoding, "lakepipe-latin-1-fallback").encode("utf-8")
        try:
            table = self.parse(data)
        except pa.ArrowInvalid:
            result = self._convert_carefully(data)
        else:
            result = _BlockResult(tables=[table], rows_in=table.num_rows)
        # Counted on the parsing thread (2.4 GB/s): a blank line or a quoted newline is a line but not a row.
        result.newlines = block.count(self._newline)
        return result

    # ------------------------------------------------------------------------------------- careful path
    def _convert_carefully(self, data: bytes | memoryview) -> _BlockResult:
        result = _BlockResult(careful=True)
        pieces = iter_blocks(
            io.BytesIO(data), block_bytes=self._tuning.careful_piece_bytes, quote=self._quote, newline=self._newline
        )
        piece_line = 0
        for piece in pieces:
            piece_bytes = piece.to_bytes()
            try:
                table = self.parse(piece_bytes)
            except pa.ArrowInvalid:
                self._convert_rows(piece_bytes, piece_line, result)
            else:
                result.tables.append(table)
                result.rows_in += table.num_rows
            piece_line += piece_bytes.count(self._newline)
        result.rejects.sort(key=lambda row: row.line)  # validation and bisection reject in two passes
        return result

    def _convert_rows(self, data: bytes, first_line: int, result: _BlockResult) -> None:
        """Row by row: Python's csv module splits records (and knows their lines), values are validated
        column by column, and the rows that pass are parsed by pyarrow like any other block."""
        text = data.decode("utf-8", errors="surrogateescape")
        undecodable = _UNDECODABLE.search(text) is not None
        lines = io.StringIO(text, newline="").readlines()
        csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
        dialect = self._plan.dialect
        reader = csv_reader(iter(lines), dialect.delimiter, dialect.quote_char)
        well_formed: list[tuple[int, str]] = []
        fields: list[list[str]] = []
        line, consumed = first_line, 0
        while True:
            record: list[str] | None
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as error:
                record, unreadable = None, f"unreadable CSV record: {error}"
            raw = lines[consumed] if reader.line_num == consumed + 1 else "".join(lines[consumed : reader.line_num])
            consumed = reader.line_num
            start_line, line = line, line + raw.count(self._newline_text)
            if record == []:
                continue  # a blank line is no row (pyarrow skips them too)
            result.rows_in += 1
            if record is None:
                result.rejects.append(_rejected(start_line, unreadable, raw))
            elif len(record) != self._width:
                result.rejects.append(_rejected(start_line, f"expected {self._width} fields, found {len(record)}", raw))
            elif undecodable and _UNDECODABLE.search(raw):
                result.rejects.append(_rejected(start_line, f"bytes that are not valid {dialect.encoding}", raw))
            else:
                well_formed.append((start_line, raw))
                fields.append(record)
        misfits = self._misfits(fields)
        accepted = [record for index, record in enumerate(well_formed) if index not in misfits]
        for index, reason in misfits.items():
            misfit_line, misfit_raw = well_formed[index]
            result.rejects.append(_rejected(misfit_line, reason, misfit_raw))
        tables, rejects = self._parse_records(accepted)
        result.tables += tables
        result.rejects += rejects

    def _misfits(self, records: list[list[str]]) -> dict[int, str]:
        """Rows with a value their column's type refuses, and why (the first such column of each row).

        Column by column over the distinct values: a column of a million cells and forty distinct values costs
        forty validations, and a column with no bad value costs one ``set``.
        """
        misfits: dict[int, str] = {}
        for position, column in enumerate(zip(*records, strict=True) if records else ()):
            validator = self._validators[position]
            bad_values = {value for value in set(column) if not validator(value)}
            if not bad_values:
                continue
            for index in [index for index, value in enumerate(column) if value in bad_values]:
                misfits.setdefault(index, f"{self._expectations[position]}: invalid value {column[index]!r}")
        return misfits

    def _parse_records(self, records: list[tuple[int, str]]) -> tuple[list[pa.Table], list[RejectedRow]]:
        """Parse accepted records with pyarrow; bisect to the culprits if it still refuses some."""
        if not records:
            return [], []
        payload = "".join(raw if raw.endswith(("\n", "\r")) else raw + self._newline_text for _, raw in records)
        try:
            table = self.parse(payload.encode("utf-8"))
            if table.num_rows == len(records):
                return [table], []
            problem = f"the record parses as {table.num_rows} rows"
        except pa.ArrowInvalid as error:
            problem = self._reason(error)
        if len(records) == 1:
            line, raw = records[0]
            return [], [_rejected(line, problem, raw)]
        middle = len(records) // 2
        left_tables, left_rejects = self._parse_records(records[:middle])
        right_tables, right_rejects = self._parse_records(records[middle:])
        return left_tables + right_tables, left_rejects + right_rejects

    def _reason(self, error: pa.ArrowInvalid) -> str:
        message = str(error)
        match = _ARROW_COLUMN_ERROR.match(message)
        if match and int(match.group(1)) < self._width:
            return f"column {self._plan.file_columns[int(match.group(1))]!r}: {match.group(2)}"
        return message


def _rejected(line: int, reason: str, raw: str) -> RejectedRow:
    printable = raw.rstrip("\r\n").encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return RejectedRow(line=line, reason=reason[:_MAX_REASON_CHARS], raw=printable[:_MAX_RAW_CHARS])


class _RowGroupWriter:
    """Collects tables into row groups of the tuned size; writes each on a thread while the next one fills."""

    def __init__(self, sink: Any, schema: pa.Schema, tuning: ConversionTuning) -> None:
        self._writer = pq.ParquetWriter(
            sink, schema, compression=tuning.compression, compression_level=tuning.compression_level
        )
        self._tuning = tuning
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._pending_bytes = 0
        self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet-write")
        self._writing: Future[None] | None = None
        self.row_groups = 0

    def add(self, tables: Iterable[pa.Table]) -> None:
        for table in tables:
            if table.num_rows:
                self._pending.append(table)
                self._pending_rows += table.num_rows
                self._pending_bytes += table.nbytes
        if self._pending_rows >= self._tuning.row_group_rows or self._pending_bytes >= self._tuning.row_group_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        group = pa.concat_tables(self._pending)
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0
        if self._writing is not None:
            self._writing.result()
        self._writing = self._flusher.submit(self._write_group, group)
        self.row_groups += 1

    def _write_group(self, group: pa.Table) -> None:
        self._writer.write_table(group, row_group_size=group.num_rows)
        # Hand the freed buffers of earlier groups back to the OS: mimalloc would keep them, and memory would creep
        # up with the file size instead of staying flat (measured: 345 -> 297 MB peak RSS on 1 GB, 2 cores).
        pa.default_memory_pool().release_unused()

    def close(self) -> None:
        try:
            self._flush()
            if self._writing is not None:
                self._writing.result()
            self._writer.close()
        finally:
            self._flusher.shutdown(wait=True, cancel_futures=True)

    def abandon(self) -> None:
        """Stop after a failure: end the (staging) file now, while its sink is still open, and drop errors."""
        self._flusher.shutdown(wait=True, cancel_futures=True)
        with contextlib.suppress(Exception):  # the original failure is what the caller must see
            self._writer.close()


def _in_order(
    pool: ThreadPoolExecutor,
    work: Callable[[Block], _BlockResult],
    blocks: Iterable[Block],
    window: int,
) -> Iterator[_BlockResult]:
    """``work`` over ``blocks`` on ``pool``, results in block order, at most ``window`` blocks in memory."""
    pending: deque[Future[_BlockResult]] = deque()
    try:
        for block in blocks:
            pending.append(pool.submit(work, block))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def _split_header(stream: BinaryReader, head: bytes, plan: ConversionPlan) -> tuple[bytes, int]:
    """The bytes after the header record, and the line number of the first data line."""
    dialect = plan.dialect
    if dialect.encoding == "utf-8-sig" and head.startswith(UTF8_BOM):
        head = head[len(UTF8_BOM) :]
    if not dialect.has_header:
        return head, 1
    quote = dialect.quote_char.encode("ascii") if dialect.quote_char else None
    while (end := first_record_end(head, quote, dialect.record_separator)) < 0:
        more = read_exactly(stream, _HEADER_READ_BYTES)
        if not more:
            return b"", 1 + head.count(dialect.record_separator)
        if len(head) > _MAX_HEADER_BYTES:
            raise HeaderTooLongError(f"no end of the header record in the first {len(head)} bytes")
        head += more
    return head[end:], 1 + head.count(dialect.record_separator, 0, end)


def convert_csv(
    stream: BinaryReader,
    plan: ConversionPlan,
    sink: Any,
    rejects: RejectSink,
    *,
    already_read: bytes = b"",
    tuning: ConversionTuning | None = None,
) -> ConversionCounts:
    """Convert a decompressed CSV stream to Parquet in ``sink``; rejected rows go to ``rejects``.

    ``already_read`` is what was taken from the stream before (the sniffing sample), so nothing is read twice.
    Memory stays bounded by the tuning (blocks in flight plus two row groups), whatever the file size.
    """
    tuning = tuning or ConversionTuning()
    counting = _CountingReader(stream)
    carry, first_line = _split_header(counting, already_read, plan)
    dialect = plan.dialect
    blocks = iter_blocks(
        counting,
        block_bytes=tuning.block_bytes,
        quote=dialect.quote_char.encode("ascii") if dialect.quote_char else None,
        newline=dialect.record_separator,
        carry=carry,
    )
    converter = _BlockConverter(plan, tuning)
    writer = _RowGroupWriter(sink, plan.output_schema, tuning)
    counts = ConversionCounts()
    workers = tuning.workers or usable_cpus()
    block_line = first_line
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="csv-parse") as pool:
            for result in _in_order(pool, converter.convert, blocks, window=workers + 2):
                writer.add(result.tables)
                for row in result.rejects:
                    rejects.write(replace(row, line=block_line + row.line))
                block_line += result.newlines
                counts.rows_in += result.rows_in
                counts.rows_out += sum(table.num_rows for table in result.tables)
                counts.rows_quarantined += len(result.rejects)
                counts.blocks += 1
                counts.careful_blocks += result.careful
    except BaseException:
        writer.abandon()
        raise
    writer.close()
    counts.row_groups = writer.row_groups
    counts.bytes_read = len(already_read) + counting.bytes_read
    return counts
