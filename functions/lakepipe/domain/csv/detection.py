"""Telling a CSV file's dialect, prefix and header from its first bytes.

Everything here works on a sample (the first megabyte or so, decompressed, grown until it holds the header), so
a 1 GB file is sniffed as fast as a 1 kB one. The sample is also what column types are inferred from (see
:mod:`.schema`). The prefix (BOM, preamble lines, header) is laid out by the record grammar, the same one the
conversion uses, so the header ends exactly where the data begins.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.csv as pacsv

from lakepipe.domain.csv.dialect import (
    UTF8_BOM,
    BinaryReader,
    Dialect,
    Prefix,
    SampledCsv,
    check_is_text,
    detect_encoding,
    read_exactly,
)
from lakepipe.domain.csv.errors import EmptyFileError, HeaderOnlyFileError, HeaderTooLongError
from lakepipe.domain.csv.records import RecordKind, RecordLayout, field_counts, split_records, without_initial_spaces

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

DELIMITER_CANDIDATES = (",", ";", "\t", "|", ":")
# Other single characters a file may be delimited by, tried when they appear on most lines.
_OTHER_DELIMITERS = "^~!*+/#&%$@=\x01\x1e\x1f "
DEFAULT_MAX_HEADER_BYTES = 16 * 1024 * 1024
_SNIFF_RECORDS = 200
_SNIFF_CHARACTERS = 65536
_MIN_SNIFF_LINES = 4  # the header and a few rows, however wide they are
_MAX_PREAMBLE_RECORDS = 20
_COMMA_DECIMAL = re.compile(r"[+-]?[0-9]*,[0-9]+(?:[eE][+-]?[0-9]+)?")
_DOT_DECIMAL = re.compile(r"[+-]?[0-9]*\.[0-9]+(?:[eE][+-]?[0-9]+)?")


def read_sample(stream: BinaryReader, sample_bytes: int, max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES) -> bytes:
    """The first ``sample_bytes`` (plus one, to tell a complete file), grown until they hold two line breaks.

    A header wider than the sample (tens of thousands of columns) is read on, up to ``max_header_bytes``.
    """
    sample = read_exactly(stream, sample_bytes + 1)
    while len(sample) > sample_bytes and _line_breaks(sample) < 2:
        if len(sample) > max_header_bytes:
            raise HeaderTooLongError(f"no end of the header record in the first {len(sample)} bytes")
        more = read_exactly(stream, len(sample))
        if not more:
            break
        sample += more
    return sample


def _line_breaks(data: bytes) -> int:
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def csv_reader(
    lines: io.StringIO, delimiter: str, quote_char: str | None, escape_char: str | None = None, *, skip: bool = False
) -> CsvReader:
    """Python's csv reader for a dialect (lenient, like pyarrow, about quotes inside unquoted values)."""
    if quote_char is None:
        return csv.reader(lines, delimiter=delimiter, quoting=csv.QUOTE_NONE, escapechar=escape_char, strict=False)
    return csv.reader(
        lines,
        delimiter=delimiter,
        quotechar=quote_char,
        escapechar=escape_char,
        doublequote=escape_char is None,
        skipinitialspace=skip,
        strict=False,
    )


def _records(text: str, dialect: Dialect, limit: int) -> list[list[str]]:
    reader = csv_reader(
        io.StringIO(text, newline=""), dialect.delimiter, dialect.quote_char, dialect.escape_char,
        skip=dialect.skip_initial_space,
    )  # fmt: skip
    records: list[list[str]] = []
    try:
        for record in reader:
            if record and not (dialect.comment_char and record[0].startswith(dialect.comment_char)):
                records.append(record)
                if len(records) >= limit:
                    break
    except csv.Error:
        pass  # a broken record ends the sample; what came before is enough to sniff
    return records


# ------------------------------------------------------------------------------------------------- the dialect
@dataclass(frozen=True)
class _Candidate:
    dialect: Dialect
    score: tuple[float, int, bool, bool]


# Cell shapes that say "this is a value, not a fragment of one": what a wrong delimiter cuts apart.
_TYPED_CELL = re.compile(
    r"""
    [+-]?[$€£¥]?\s?[0-9]{1,3}(?:[,\s'][0-9]{3})*(?:[.,][0-9]+)?\s?%?            # 1,234.50  12 345,5  $5  12%
    | [+-]?[0-9]*[.,]?[0-9]+(?:[eE][+-]?[0-9]+)?\s?%?                           # 1.5  ,5  1e-3
    | [0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}(?:[T\s][0-9:.]+(?:Z|[+-][0-9:]+)?)?  # dates, date-times
    | [0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:\s?[AaPp][Mm])?            # times
    | true|false|TRUE|FALSE|True|False|yes|no|YES|NO|Yes|No
    | NA|N/A|n/a|NaN|nan|NULL|null|None|-
    | (?:https?|ftp)://\S+ | www\.\S+ | [^@\s]+@[^@\s]+\.[a-zA-Z]{2,}
    """,
    re.VERBOSE,
)
# A delimiter found inside these shapes more often than not is part of the values (times hold colons).
_VALUE_SEPARATOR_SHAPES = {
    ":": re.compile(r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?"),
    "/": re.compile(r"[0-9]{1,4}/[0-9]{1,2}/[0-9]{1,4}"),
}


def _lines(text: str) -> list[str]:
    """Physical lines (``str.splitlines`` would also split at 0x1C-0x1E, which delimit some files)."""
    return re.split(r"\r\n|\r|\n", text)


_QUOTED = re.compile(r'"(?:[^"]|"")*"' + r"|'(?:[^']|'')*'")


def _is_typed_cell(cell: str) -> bool:
    stripped = cell.strip()
    return not stripped or _TYPED_CELL.fullmatch(stripped) is not None


def _quote_candidates(text: str) -> list[str]:
    present = [char for char in ('"', "'") if char in text]
    return present or ['"']  # nothing to tell apart: the common default costs nothing when no field is quoted


# A backslash that escapes: before a quote that does not end the field, or before a delimiter.
_ESCAPING_BACKSLASH = re.compile(r"""\\(?:["'][^,;\t|:\r\n]|[,;\t|])""")


def _escape_candidates(text: str) -> list[str | None]:
    """No escape, and a backslash when one seems to escape something (``"C:\\"`` ends a value; ``\\"x`` does not)."""
    return [None, "\\"] if _ESCAPING_BACKSLASH.search(text) else [None]


def _delimiter_candidates(text: str) -> list[str]:
    lines = [line for line in _lines(text)[:_SNIFF_RECORDS] if line.strip()]
    others = [char for char in _OTHER_DELIMITERS if sum(char in line for line in lines) * 5 >= len(lines) * 4]
    candidates = [*DELIMITER_CANDIDATES, *others]
    return [char for char in candidates if char not in _VALUE_SEPARATOR_SHAPES or not _inside_values(text, char)]


def _inside_values(text: str, delimiter: str) -> bool:
    text = _QUOTED.sub("", text)  # a colon inside a quoted time is no evidence either way
    occurrences = text.count(delimiter)
    inside = sum(match.group().count(delimiter) for match in _VALUE_SEPARATOR_SHAPES[delimiter].finditer(text))
    return occurrences > 0 and inside * 2 > occurrences


def _pattern_score(records: Sequence[Sequence[str]]) -> float:
    """CleverCSV's pattern score, per record: records of one width score high, more fields score higher, and a
    file whose records have many different widths scores low (van den Burg et al., 2019)."""
    widths = Counter(len(record) for record in records)
    total = len(records)
    return sum(count / total * (width - 1) / width for width, count in widths.items()) / len(widths)


def _type_score(records: Sequence[Sequence[str]]) -> float:
    """Share of the cells that read as a value of some type (number, date, time, boolean, URL…) or are empty."""
    cells = [cell for record in records[1:_SNIFF_RECORDS] for cell in record]
    if not cells:
        cells = [cell for record in records for cell in record]
    return sum(1 for cell in cells if _is_typed_cell(cell)) / len(cells) if cells else 0.0


def _quote_residue(records: Sequence[Sequence[str]], dialect: Dialect) -> float:
    """Share of cells with quoting left in them: a value that starts or ends with the quote character (a wrong
    delimiter split a quoted field: ``A,"`` and ``",C``), or, without an escape character, a backslash before a
    quote (the file escapes quotes with it). A value ending with a backslash proves nothing: ``"C:\\"`` is one.
    """
    cells = [cell for record in records for cell in record]
    if not cells:
        return 0.0
    quote = dialect.quote_char or '"'
    unescaped = dialect.escape_char is None

    def broken(cell: str) -> bool:
        stripped = cell.strip()
        if stripped and (stripped[0] == quote or stripped[-1] == quote):
            return True
        return unescaped and "\\" + quote in cell

    return sum(1 for cell in cells if broken(cell)) / len(cells)


def _best_dialect(text: str, base: Dialect) -> Dialect:
    """The candidate dialect under which the sample reads most like a table (pattern score times type score).

    Standard delimiters and no escape character win ties; a non-standard delimiter must do clearly better.
    """
    best: _Candidate | None = None
    for rank, delimiter in enumerate(_delimiter_candidates(text)):
        for quote_char in _quote_candidates(text):
            for escape_char in _escape_candidates(text):
                dialect = replace(base, delimiter=delimiter, quote_char=quote_char, escape_char=escape_char)
                dialect = replace(dialect, skip_initial_space=_skips_initial_space(text, dialect))
                records = _records(text, dialect, _SNIFF_RECORDS)
                if not records or max(len(record) for record in records) < 2:
                    continue
                quality = (
                    _pattern_score(records) * (_type_score(records) + 0.05) * (1 - _quote_residue(records, dialect))
                )
                # A space splits prose too: it must do much better than any delimiter a file means to use.
                preference = 1.0 if delimiter in DELIMITER_CANDIDATES else 0.5 if delimiter == " " else 0.9
                preference *= 1.0 if escape_char is None else 0.95
                score = (round(quality * preference, 4), -rank, quote_char == '"', escape_char is None)
                if best is None or score > best.score:
                    best = _Candidate(dialect, score)
    return best.dialect if best is not None else base


def _comment_char(text: str, dialect: Dialect) -> str | None:
    """``#`` when lines start with it and none of them is shaped like the table's rows (a report header,
    commented-out notes); a ``#`` at the start of a row of the right width is data, never a comment."""
    lines = [line for line in _lines(text)[:_SNIFF_RECORDS] if line.strip()]
    marked = [line for line in lines if line.startswith("#")]
    if not marked or len(marked) == len(lines):
        return None
    rows = _records("\n".join(line for line in lines if not line.startswith("#")), dialect, _SNIFF_RECORDS)
    width = _modal_width([len(record) for record in rows])
    shaped_like_rows = [line for line in marked if len((_records(line, dialect, 1) or [[]])[0]) == width]
    return "#" if not shaped_like_rows else None


def _without_comment_lines(text: str) -> str:
    """The sample less the lines that start with ``#``, for choosing the delimiter (comments are prose)."""
    return "\n".join(line for line in _lines(text) if not line.startswith("#"))


def _skips_initial_space(text: str, dialect: Dialect) -> bool:
    """Most delimiters followed by a space (``a, b, c``): the spaces pad fields and a quote after one opens it."""
    if dialect.delimiter in " \t":
        return False
    after = text.count(dialect.delimiter + " ")
    total = text.count(dialect.delimiter)
    return total >= 2 and after * 10 >= total * 9


def _decimal_point(records: Sequence[Sequence[str]], delimiter: str) -> str:
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


# ---------------------------------------------------------------------------------------------- the header
def has_header(first: Sequence[str], body: Sequence[Sequence[str]]) -> bool:
    """Whether ``first`` names the columns of ``body``, judged column by column against the body, as a person
    would: a name over numbers or dates, a name of another length than every value, a name that never occurs as
    a value. With no evidence either way the first row is data: taking data for a header would lose a row.
    """
    if not body:
        return any(cell.strip() and not _is_typed_cell(cell) for cell in first)
    votes = 0.0
    if len(set(first)) < len(first):
        votes -= 1  # repeated names: more likely values
    for position, name in enumerate(first):
        column = [record[position] for record in body if position < len(record)]
        present = [value for value in column if value.strip()]
        if not present:
            continue
        if name.strip() and _is_typed_cell(name):
            votes -= 1  # a number, a date, a time in the first row is data
        elif sum(1 for value in present if _is_typed_cell(value)) * 4 >= len(present) * 3:
            votes += 1 if name.strip() else 0.5  # text over typed values
        elif name in column:
            votes -= 1
        elif len({len(value) for value in present}) == 1 and len(name) != len(present[0]):
            votes += 1  # codes of one length under a name of another
    return votes > 0


# ---------------------------------------------------------------------------------------------- the prefix
def _modal_width(widths: Sequence[int]) -> int:
    counts = Counter(width for width in widths if width > 0)
    return counts.most_common(1)[0][0] if counts else 1


def _preamble_records(layout: RecordLayout, widths: Sequence[int]) -> int:
    """Records before the table: blank and comment lines, and lines with fewer fields than the table has,
    when the records after them are the table (a title line, "Exported on ..." lines)."""
    width = _modal_width(widths[:_SNIFF_RECORDS])
    kinds = layout.kinds.tolist()
    for index in range(min(layout.count, _MAX_PREAMBLE_RECORDS + 1)):
        if kinds[index] in (RecordKind.BLANK, RecordKind.COMMENT):
            continue
        if kinds[index] == RecordKind.DATA and widths[index] == width:
            return index
        if kinds[index] != RecordKind.DATA or widths[index] >= width:
            return 0  # a ragged record, not a preamble: it is data (and quarantined)
    return 0


def sniff(sample: bytes, *, complete: bool, compression: str | None = None) -> SampledCsv:
    """Dialect, prefix, header and well-formed sample records of a file from its first (decompressed) bytes.

    ``complete`` says the sample is the whole file; otherwise its last record may be cut and is ignored.
    Raises :class:`EmptyFileError`, :class:`BinaryFileError`, :class:`UnsupportedEncodingError` or
    :class:`HeaderOnlyFileError`.
    """
    if not sample.removeprefix(UTF8_BOM).strip(b" \t\r\n"):
        raise EmptyFileError(
            "the file holds only blank lines" if sample.removeprefix(UTF8_BOM) else "the file is empty"
        )
    encoding = detect_encoding(sample, complete=complete)
    check_is_text(sample)
    bom = len(UTF8_BOM) if encoding == "utf-8-sig" else 0
    body = sample[bom:]
    text = body.decode(encoding, errors="ignore" if not complete else "replace")
    # 64 K characters, or more when the first lines are wider: a header of 100 KB is sniffed with rows under it.
    head = text[: max(_SNIFF_CHARACTERS, _end_of_line(text, _MIN_SNIFF_LINES))]
    if not complete or len(head) < len(text):
        head = head[: max(head.rfind("\n"), head.rfind("\r"), 0)]  # no record cut by the sample's end
    base = Dialect(encoding=encoding, line_terminator=_line_terminator(head), compression=compression)
    dialect = _best_dialect(_without_comment_lines(head) or head, base)
    dialect = replace(dialect, comment_char=_comment_char(head, dialect))

    # The grammar lays out the sample (structure bytes are ASCII: the same in every supported encoding), so the
    # prefix ends exactly where the conversion's first block begins.
    grammar = dialect.grammar()
    layout = split_records(body, grammar, final=complete)
    widths = field_counts(body, layout, grammar).tolist()
    records = _records_text(body, layout, dialect, _preamble_records(layout, widths))
    if not records:
        raise EmptyFileError("no CSV record could be read from the start of the file")
    first_index, first = records[0]
    decimal_point = _decimal_point([record for _, record in records], dialect.delimiter)
    header = layout.kinds[first_index] == RecordKind.DATA and has_header(
        first, [record for _, record in records[1:] if len(record) == len(first)]
    )
    dialect = replace(dialect, has_header=header, decimal_point=decimal_point)
    data_index = first_index + 1 if header else first_index
    # A broken record (an unterminated quote, one over the size limit) is still a data row: it is quarantined.
    skipped_kinds = (RecordKind.BLANK, RecordKind.COMMENT)
    if header and complete and all(kind in skipped_kinds for kind in layout.kinds[data_index:].tolist()):
        raise HeaderOnlyFileError(f"the file has a header ({len(first)} columns) and no data rows")
    lines, starts = layout.lines_before(), layout.starts
    data_start = int(starts[data_index]) if data_index < layout.count else layout.consumed
    data_line = int(lines[data_index]) if data_index < layout.count else layout.physical_lines
    prefix = Prefix(
        bom_bytes=bom,
        preamble_bytes=int(starts[first_index]),
        preamble_lines=int(lines[first_index]),
        header_bytes=data_start - int(starts[first_index]),
        header_lines=data_line - int(lines[first_index]),
    )
    return SampledCsv(
        dialect=dialect,
        prefix=prefix,
        header=tuple(first) if header else ("",) * len(first),
        table=_sample_table(
            body, layout=layout, widths=widths, data_index=data_index, width=len(first), dialect=dialect
        ),
    )


def _end_of_line(text: str, count: int) -> int:
    """Index just past the ``count``-th physical line break of ``text`` (its length when it has fewer)."""
    end = 0
    for _, match in zip(range(count), re.finditer(r"\r\n|\r|\n", text), strict=False):
        end = match.end()
    return end if end else len(text)


def _line_terminator(text: str) -> str:
    match = re.search(r"\r\n?|\n", text)
    return match.group() if match else "\n"


def _records_text(body: bytes, layout: RecordLayout, dialect: Dialect, skip: int) -> list[tuple[int, list[str]]]:
    """(record index, fields) of the first data records after the preamble, read by Python's csv module."""
    out: list[tuple[int, list[str]]] = []
    kinds = layout.kinds.tolist()
    starts, ends = layout.starts.tolist(), layout.ends.tolist()
    # An unterminated quote's first line still tells the table's shape when nothing else does (it is quarantined).
    usable = {RecordKind.DATA} if RecordKind.DATA in kinds[skip:] else {RecordKind.UNTERMINATED_QUOTE}
    for index in range(skip, layout.count):
        if kinds[index] not in usable:
            continue
        raw = body[starts[index] : ends[index]].decode(dialect.encoding, "replace")
        fields = _records(raw, dialect, 1)
        if fields:
            out.append((index, fields[0]))
        if len(out) >= 2 * _SNIFF_RECORDS:
            break
    return out


def _sample_table(
    body: bytes,
    *,
    layout: RecordLayout,
    widths: Sequence[int],
    data_index: int,
    width: int,
    dialect: Dialect,
) -> pa.Table:
    """The sample's well-formed data records, every column as text, for type inference (pyarrow reads them)."""
    import numpy as np  # noqa: PLC0415

    from lakepipe.domain.csv.convert import join_records  # noqa: PLC0415 - the conversion's own record joiner

    names = [f"f{position}" for position in range(width)]
    keep = (layout.kinds == RecordKind.DATA) & (np.asarray(widths) == width)
    keep[:data_index] = False  # the layout holds only complete records: a cut last one is left out already
    body, layout = without_initial_spaces(body, layout, dialect.grammar())  # as the conversion reads them
    data = join_records(body, layout, keep)
    # As UTF-8 for pyarrow; a UTF-8 file's few records with invalid bytes (quarantined by the conversion) replaced.
    codec = "utf-8" if dialect.encoding in {"utf-8", "utf-8-sig"} else dialect.encoding
    data = data.decode(codec, "replace").encode("utf-8")
    if not data.strip(b"\r\n"):
        return pa.table({name: pa.array([], pa.string()) for name in names})
    return pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=max(len(data), 65536) + 1),
        parse_options=pacsv.ParseOptions(
            delimiter=dialect.delimiter,
            quote_char=dialect.quote_char or False,
            escape_char=dialect.escape_char or False,
            double_quote=True,
            newlines_in_values=True,
            invalid_row_handler=lambda row: "skip",  # the grammar agrees on widths; belt and braces
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            check_utf8=False,
        ),
    )
