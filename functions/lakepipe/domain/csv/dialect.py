"""How a CSV file is written, told from its first bytes: compression, encoding, delimiter, quoting, header.

Everything here works on a sample (the first megabyte or so, decompressed), so a 1 GB file is sniffed as
fast as a 1 kB one. The sample is also what column types are inferred from (see :mod:`.schema`).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Protocol, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lakepipe.domain.csv.boundaries import first_record_end, last_record_end
from lakepipe.domain.csv.column_types import ColumnKind, classify_value
from lakepipe.domain.csv.errors import (
    BinaryFileError,
    CorruptCompressionError,
    EmptyFileError,
    HeaderOnlyFileError,
    UnsupportedEncodingError,
)

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = codecs.BOM_UTF8
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
_SNIFF_RECORDS = 100
_SNIFF_CHARACTERS = 65536
# A text file has few control characters besides tab, newlines and form feed; past this share it is binary.
_MAX_CONTROL_SHARE = 0.01
_CONTROL_BYTES = bytes(sorted(set(range(32)) - {9, 10, 12, 13}))
_COMMA_DECIMAL = re.compile(r"[+-]?[0-9]*,[0-9]+(?:[eE][+-]?[0-9]+)?")
_DOT_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?")
_SINGLE_QUOTED_FIELD = re.compile(r"(?:^|[,;\t|])'[^']*'(?:[,;\t|]|$)")


class BinaryReader(Protocol):
    """What the conversion reads from: a botocore body, a pyarrow input stream, an open local file."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Dialect:
    """The shape of one CSV file, as pyarrow's and Python's CSV readers need it."""

    delimiter: str = ","
    quote_char: str | None = '"'
    has_header: bool = True
    encoding: str = "utf-8"
    decimal_point: str = "."
    line_terminator: str = "\n"
    compression: str | None = None

    @property
    def record_separator(self) -> bytes:
        """The byte that ends a physical line (``\\r\\n`` files end their lines with ``\\n`` too)."""
        return b"\r" if self.line_terminator == "\r" else b"\n"


@dataclass(frozen=True)
class SampledCsv:
    """A file's dialect, its header and the well-formed data rows of its sample (every column as text)."""

    dialect: Dialect
    header: tuple[str, ...]
    table: pa.Table

    @property
    def rows(self) -> list[tuple[str, ...]]:
        return list(zip(*(column.to_pylist() for column in self.table.columns), strict=True))

    def distinct_values(self, position: int) -> list[str]:
        """The different values of one column in the sample (all inference needs)."""
        return [str(value) for value in pc.unique(self.table.column(position)).to_pylist()]


class _Prefixed:
    """A reader that returns ``head`` before the rest of ``stream`` (to look at magic bytes without seeking)."""

    def __init__(self, head: bytes, stream: BinaryReader) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size < 0:
            data, self._head = self._head + self._stream.read(), b""
            return data
        data, self._head = self._head[:size], self._head[size:]
        if len(data) < size:
            data += self._stream.read(size - len(data))
        return data


class _CheckedGzip:
    """gzip decompression whose truncation or corruption surfaces as :class:`CorruptCompressionError`."""

    def __init__(self, stream: BinaryReader) -> None:
        self._gzip = gzip.GzipFile(fileobj=cast(IO[bytes], stream), mode="rb")

    def read(self, size: int = -1, /) -> bytes:
        try:
            return bytes(self._gzip.read(size))
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise CorruptCompressionError(f"the gzip stream is corrupt or truncated: {error}") from error


def read_exactly(stream: BinaryReader, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the stream (network bodies may return short reads)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        part = stream.read(remaining)
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def decompressed(stream: BinaryReader) -> tuple[BinaryReader, str | None]:
    """``stream`` decompressed when its magic bytes say gzip (whatever its name), and the compression found."""
    head = read_exactly(stream, len(GZIP_MAGIC))
    prefixed = _Prefixed(head, stream)
    if head == GZIP_MAGIC:
        return _CheckedGzip(prefixed), "gzip"
    return prefixed, None


def detect_encoding(sample: bytes, *, complete: bool) -> str:
    """``utf-8-sig`` (BOM), ``utf-8``, else ``cp1252`` (Windows/French exports), else ``latin-1``."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise UnsupportedEncodingError("the file is UTF-16 (byte order mark); export it as UTF-8")
    if sample.startswith(UTF8_BOM):
        return "utf-8-sig"
    # A sample cut mid-file may end inside a multi-byte character: ignore up to three trailing bytes.
    for cut in (0, 1, 2, 3) if not complete else (0,):
        try:
            sample[: len(sample) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return "utf-8"
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def check_is_text(sample: bytes) -> None:
    """Raise :class:`BinaryFileError` for NUL bytes or too many control characters (a spreadsheet, an image…)."""
    nul = sample.find(b"\x00")
    if nul >= 0:
        raise BinaryFileError(f"the file looks binary (NUL byte at offset {nul}); expected delimited text")
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if sample and controls / len(sample) > _MAX_CONTROL_SHARE:
        raise BinaryFileError(f"the file looks binary ({controls} control bytes in the first {len(sample)})")


def _line_terminator(text: str, quote_char: str | None) -> str:
    """The first line break outside a quoted value: ``\\r\\n``, ``\\n``, or ``\\r`` (classic Mac)."""
    quotes = 0
    scanned = 0
    for line_break in re.finditer(r"\r\n?|\n", text):
        if quote_char:
            quotes += text.count(quote_char, scanned, line_break.start())
            scanned = line_break.start()
        if quotes % 2 == 0:
            return line_break.group()
    return "\n"


def csv_reader(lines: Iterable[str], delimiter: str, quote_char: str | None) -> CsvReader:
    """Python's csv reader for the dialect (lenient, like pyarrow, about quotes inside unquoted values)."""
    if quote_char is None:
        return csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE, strict=False)
    return csv.reader(lines, delimiter=delimiter, quotechar=quote_char, doublequote=True, strict=False)


def _records(text: str, delimiter: str, quote_char: str | None, limit: int | None = None) -> list[list[str]]:
    reader = csv_reader(io.StringIO(text, newline=""), delimiter, quote_char)
    records: list[list[str]] = []
    try:
        for record in reader:
            if record:
                records.append(record)
                if limit is not None and len(records) >= limit:
                    break
    except csv.Error:
        pass  # a broken record ends the sample; what came before is enough to sniff
    return records


def _sniff_delimiter(text: str, quote_char: str | None) -> str:
    """The candidate that splits the first records into the most consistent number (≥ 2) of fields."""
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITER_CANDIDATES:
        counts = [len(record) for record in _records(text, delimiter, quote_char, _SNIFF_RECORDS)]
        if not counts:
            continue
        modal_count, modal_records = Counter(counts).most_common(1)[0]
        score = (modal_records / len(counts), modal_count)
        if modal_count >= 2 and score > best_score:
            best, best_score = delimiter, score
    return best


def _sniff_quote_char(text: str) -> str | None:
    """``"`` unless most lines wrap a field in single quotes and double quotes never open a field."""
    if re.search(r'(?:^|[,;\t|])"', text, re.MULTILINE):
        return '"'
    lines = text.splitlines()
    single_quoted = sum(1 for line in lines if _SINGLE_QUOTED_FIELD.search(line))
    return "'" if single_quoted * 2 > len(lines) else '"'


def _sniff_decimal_point(records: Sequence[Sequence[str]], delimiter: str) -> str:
    """``,`` when a non-comma-delimited file writes more numbers as ``1,5`` than as ``1.5`` (French exports)."""
    if delimiter == ",":
        return "."
    comma = dot = 0
    for record in records:
        for cell in record:
            if _COMMA_DECIMAL.fullmatch(cell):
                comma += 1
            elif _DOT_DECIMAL.fullmatch(cell):
                dot += 1
    return "," if comma > dot else "."


def _looks_like_header(first: Sequence[str], decimal_point: str) -> bool:
    """A header has at least one name and no cell that reads as a number, a date or a boolean."""
    kinds = [classify_value(cell, decimal_point) for cell in first]
    return ColumnKind.STRING in kinds and all(kind in {ColumnKind.STRING, ColumnKind.NULL} for kind in kinds)


def _sample_rows(data: bytes, width: int, delimiter: str, quote_char: str | None) -> pa.Table:
    """The sample's well-formed records, every column as text (pyarrow: 1 MB parses in milliseconds)."""
    names = [f"f{position}" for position in range(width)]
    if not data.strip(b"\r\n"):
        return pa.table({name: pa.array([], pa.string()) for name in names})
    return pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=max(len(data), 65536) + 1),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char=quote_char or False,
            double_quote=True,
            newlines_in_values=True,
            invalid_row_handler=lambda row: "skip",  # ragged rows say nothing about types
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )


def sniff(sample: bytes, *, complete: bool, compression: str | None = None) -> SampledCsv:
    """Dialect, header and well-formed sample rows of a file from its first (decompressed) bytes.

    ``complete`` says the sample is the whole file; otherwise its last record may be cut and is ignored.
    Raises :class:`EmptyFileError`, :class:`BinaryFileError`, :class:`UnsupportedEncodingError` or
    :class:`HeaderOnlyFileError`.
    """
    if not sample.removeprefix(UTF8_BOM).strip(b" \t\r\n"):
        blank = sample.removeprefix(UTF8_BOM)
        raise EmptyFileError("the file holds only blank lines" if blank else "the file is empty")
    encoding = detect_encoding(sample, complete=complete)
    check_is_text(sample)
    text = sample.decode(encoding, errors="ignore" if not complete else "strict")
    head = text[:_SNIFF_CHARACTERS]
    quote_char = _sniff_quote_char(head)
    delimiter = _sniff_delimiter(head, quote_char)
    line_terminator = _line_terminator(head, quote_char)
    quote = quote_char.encode("ascii") if quote_char else None
    newline = b"\r" if line_terminator == "\r" else b"\n"
    body = text.encode("utf-8")
    if not complete:  # cut by the sample boundary: a truncated value would mislead inference
        body = body[: max(last_record_end(body, quote, newline), 0)]
    first_records = _records(body[:_SNIFF_CHARACTERS].decode("utf-8", "ignore"), delimiter, quote_char, 2000)
    if not first_records:
        raise EmptyFileError("no CSV record could be read from the start of the file")
    decimal_point = _sniff_decimal_point(first_records, delimiter)
    has_header = _looks_like_header(first_records[0], decimal_point)
    width = len(first_records[0])
    if has_header:
        header_end = first_record_end(body, quote, newline)
        body = body[header_end:] if header_end > 0 else b""
        if complete and not body.strip(b"\r\n"):
            raise HeaderOnlyFileError(f"the file has a header ({width} columns) and no data rows")
    dialect = Dialect(
        delimiter=delimiter,
        quote_char=quote_char,
        has_header=has_header,
        encoding=encoding,
        decimal_point=decimal_point,
        line_terminator=line_terminator,
        compression=compression,
    )
    return SampledCsv(
        dialect=dialect,
        header=tuple(first_records[0]) if has_header else ("",) * width,
        table=_sample_rows(body, width, delimiter, quote_char),
    )
