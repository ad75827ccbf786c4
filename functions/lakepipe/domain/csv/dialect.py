"""How a CSV file is written (its dialect), what precedes its data (its prefix), and how its bytes are read.

Detection lives in :mod:`.detection`; this module holds what detection produces and what every other step
shares: the decompressing and counting readers, the encoding and binary checks.
"""

from __future__ import annotations

import codecs
import gzip
import zlib
from dataclasses import dataclass
from typing import IO, Protocol, cast

import pyarrow as pa
import pyarrow.compute as pc

from lakepipe.domain.csv.errors import BinaryFileError, CorruptCompressionError, UnsupportedEncodingError
from lakepipe.domain.csv.records import DEFAULT_MAX_RECORD_BYTES, DEFAULT_MAX_RECORD_LINES, RecordGrammar

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = codecs.BOM_UTF8
# A text file has few control characters besides tab, newlines and form feed; past this share it is binary. The
# ASCII separators (0x01 Hive's default, 0x1E record, 0x1F unit) delimit text files and are not counted.
_MAX_CONTROL_SHARE = 0.01
_MIN_CONTROL_BYTES = 4  # a stray NUL in a one-line file is a record to quarantine, not a binary file
_CONTROL_BYTES = bytes(sorted(set(range(32)) - {1, 9, 10, 12, 13, 0x1E, 0x1F}))


class BinaryReader(Protocol):
    """What the conversion reads from: a botocore body, a pyarrow input stream, an open local file."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Dialect:
    """The shape of one CSV file, as the record grammar and pyarrow's CSV reader need it."""

    delimiter: str = ","
    quote_char: str | None = '"'
    escape_char: str | None = None
    comment_char: str | None = None
    skip_initial_space: bool = False
    has_header: bool = True
    encoding: str = "utf-8"
    decimal_point: str = "."
    line_terminator: str = "\n"
    compression: str | None = None

    def grammar(
        self, *, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES, max_record_lines: int = DEFAULT_MAX_RECORD_LINES
    ) -> RecordGrammar:
        def byte(char: str | None) -> bytes | None:
            return char.encode("ascii") if char else None

        return RecordGrammar(
            delimiter=self.delimiter.encode("ascii"),
            quote=byte(self.quote_char),
            escape=byte(self.escape_char),
            comment=byte(self.comment_char),
            skip_initial_space=self.skip_initial_space,
            max_record_bytes=max_record_bytes,
            max_record_lines=max_record_lines,
        )


@dataclass(frozen=True)
class Prefix:
    """What comes before the first data record, in bytes and physical lines: a BOM, preamble lines, the header.

    The preamble is every line before the header that is not part of the table: title and export lines,
    comment lines, blank lines.
    """

    bom_bytes: int = 0
    preamble_bytes: int = 0
    preamble_lines: int = 0
    header_bytes: int = 0
    header_lines: int = 0

    @property
    def data_offset(self) -> int:
        return self.bom_bytes + self.preamble_bytes + self.header_bytes

    @property
    def first_data_line(self) -> int:
        return 1 + self.preamble_lines + self.header_lines


@dataclass(frozen=True)
class SampledCsv:
    """A file's dialect, prefix and header, and the well-formed data records of its sample (as text)."""

    dialect: Dialect
    prefix: Prefix
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
    if _mostly_utf8(sample):
        return "utf-8"  # the records holding the invalid bytes are quarantined as invalid_encoding
    try:
        sample.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def _mostly_utf8(sample: bytes) -> bool:
    """More valid multi-byte UTF-8 characters than invalid sequences: a UTF-8 file with a few bad records.

    Text in cp1252 or latin-1 almost never forms valid multi-byte sequences (an accent is one byte followed by
    ASCII), so one bad record in a UTF-8 export must not turn every accent of the file into mojibake.
    """
    text = sample.decode("utf-8", "replace")
    invalid = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - invalid > invalid


def check_is_text(sample: bytes) -> None:
    """Raise :class:`BinaryFileError` when control bytes (NUL included) are more than a stray few.

    A NUL byte or two in a text file are quarantined with their records; a spreadsheet, an image or UTF-16
    without a byte order mark is all control bytes and never a CSV.
    """
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls >= _MIN_CONTROL_BYTES and controls / len(sample) > _MAX_CONTROL_SHARE:
        nuls = sample.count(b"\x00")
        hint = "; every other byte is NUL: UTF-16? export it as UTF-8" if nuls * 3 > len(sample) else ""
        raise BinaryFileError(f"the file looks binary ({controls} control bytes in the first {len(sample)}){hint}")
