"""The record grammar against parsers nobody here wrote: Python's csv module and pyarrow must see the same records.

The oracle is Python's csv module (strict=False, the leniency pyarrow shares): for any text, the records the
grammar finds must be the ones csv.reader returns, with the same spans (lines consumed) and field counts, as
long as no limit applies. The grammar's own rules (unterminated quotes, limits, comments) are then tested on
hand-made files, and every layout must cover its buffer exactly once whatever the buffering.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lakepipe.domain.csv.records import (
    RecordGrammar,
    RecordKind,
    field_counts,
    plain_layout,
    split_records,
    without_initial_spaces,
)

GRAMMAR = RecordGrammar(delimiter=b",", quote=b'"')
csv_text = st.text(alphabet=st.sampled_from(["a", "b", ",", '"', "\n", "\r", " ", "é", "\\"]), max_size=80)


def python_records(text: str, **dialect: object) -> list[tuple[list[str], int]]:
    """csv.reader's records with the number of characters each consumed."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(iter(lines), strict=False, **dialect)  # type: ignore[call-overload]
    records = []
    consumed = 0
    for record in reader:
        upto = sum(len(line) for line in lines[: reader.line_num])
        records.append((record, upto - consumed))
        consumed = upto
    return records


def spans(layout_lengths: np.ndarray, data: bytes) -> list[str]:
    out, start = [], 0
    for length in layout_lengths.tolist():
        out.append(data[start : start + length].decode("utf-8"))
        start += length
    return out


@given(csv_text)
@settings(max_examples=600, deadline=None)
def test_records_and_field_counts_are_those_of_pythons_csv_module(text: str) -> None:
    # Given any text of CSV-ish characters, as a whole file
    data = text.encode("utf-8")

    # When the grammar splits it
    layout = split_records(data, GRAMMAR, final=True)

    # Then the records cover the bytes exactly once
    assert layout.consumed == len(data)
    assert int(layout.lengths.sum()) == len(data)
    if RecordKind.UNTERMINATED_QUOTE in layout.kinds.tolist():
        return  # csv.reader runs an open quote to the end of the file; the grammar cuts it (tested below)
    # And each record is the one csv.reader reads, with as many fields (blank lines: csv.reader's [])
    expected = python_records(text)
    got = spans(layout.lengths, data)
    assert [chars for _, chars in expected] == [len(span) for span in got]
    counts = field_counts(data, layout, GRAMMAR).tolist()
    assert counts == [len(record) for record, _ in expected]


@given(csv_text)
@settings(max_examples=300, deadline=None)
def test_pyarrow_reads_one_row_per_data_record(text: str) -> None:
    # Given any text whose records the grammar finds complete
    data = text.encode("utf-8")
    layout = split_records(data, GRAMMAR, final=True)
    if RecordKind.UNTERMINATED_QUOTE in layout.kinds.tolist() or not data.strip(b"\r\n"):
        return
    widths = field_counts(data, layout, GRAMMAR)
    data_records = layout.kinds == RecordKind.DATA
    if not data_records.any():
        return
    width = int(widths[data_records][0])
    # When pyarrow parses it with that width, skipping the rows of other widths
    skipped: list[str] = []

    def skip(row: object) -> str:
        skipped.append(str(row))
        return "skip"

    table = pacsv.read_csv(
        pa.py_buffer(data),
        read_options=pacsv.ReadOptions(column_names=[f"c{i}" for i in range(width)], use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
        convert_options=pacsv.ConvertOptions(column_types={f"c{i}": pa.string() for i in range(width)}),
    )
    # Then it finds exactly the records of that width, and skips the others
    assert table.num_rows == int((data_records & (widths == width)).sum())
    assert len(skipped) == int((data_records & (widths != width)).sum())


@given(
    csv_text,
    st.integers(min_value=1, max_value=12),
    st.sampled_from([GRAMMAR, RecordGrammar(max_record_lines=2, max_record_bytes=12)]),
)
@settings(max_examples=400, deadline=None)
def test_the_layout_does_not_depend_on_how_the_bytes_are_buffered(
    text: str, piece: int, grammar: RecordGrammar
) -> None:
    # Given a file read in pieces of a few bytes, each split as a non-final buffer with its carried tail
    data = text.encode("utf-8")
    whole = split_records(data, grammar, final=True)
    ends: list[int] = []
    kinds: list[int] = []
    carry, offset = b"", 0
    position = 0
    while True:
        chunk = data[position : position + piece]
        position += len(chunk)
        final = position >= len(data)
        buffer = carry + chunk
        layout = split_records(buffer, grammar, final=final)
        ends += (layout.ends + offset).tolist()
        kinds += layout.kinds.tolist()
        carry, offset = buffer[layout.consumed :], offset + layout.consumed
        if final:
            break
    # Then the records are those of the whole file read at once
    assert ends == whole.ends.tolist()
    assert kinds == whole.kinds.tolist()


def test_a_quote_inside_an_unquoted_field_is_a_literal() -> None:
    data = b'A,B",C\n1,2,3\n'
    layout = split_records(data, GRAMMAR, final=True)
    assert layout.ends.tolist() == [7, 13]
    assert field_counts(data, layout, GRAMMAR).tolist() == [3, 3]


def test_an_unterminated_quote_ends_at_its_first_line_and_the_rest_of_the_file_parses() -> None:
    # Given 10,000 rows where row 100 opens a quote that never closes
    rows = [f"{i},name {i},{i * 2}\n" for i in range(10_000)]
    rows[99] = '99,"name 99,198\n'
    data = "".join(rows).encode()

    layout = split_records(data, GRAMMAR, final=True)

    # Then exactly that line is an unterminated quote and every other line is a record of 3 fields
    assert layout.count == 10_000
    assert np.flatnonzero(layout.kinds == RecordKind.UNTERMINATED_QUOTE).tolist() == [99]
    assert int(layout.lengths[99]) == len(rows[99])
    counts = field_counts(data, layout, GRAMMAR)
    assert set(np.delete(counts, 99).tolist()) == {3}


def test_a_quoted_field_longer_than_the_line_limit_is_an_unterminated_quote() -> None:
    grammar = RecordGrammar(max_record_lines=3)
    data = b'a,"x\ny\nz\nw",b\nc,d\n'
    layout = split_records(data, grammar, final=True)
    assert layout.kinds.tolist() == [RecordKind.UNTERMINATED_QUOTE, 0, 0, 0, 0]
    assert spans(layout.lengths, data) == ['a,"x\n', "y\n", "z\n", 'w",b\n', "c,d\n"]


def test_a_quoted_field_within_the_line_limit_is_one_record() -> None:
    grammar = RecordGrammar(max_record_lines=3)
    data = b'a,"x\ny\nz",b\nc,d\n'
    layout = split_records(data, grammar, final=True)
    assert layout.kinds.tolist() == [0, 0]
    assert layout.breaks.tolist() == [2, 0]
    assert layout.lines_before().tolist() == [0, 3]


def test_an_open_quote_waits_for_more_bytes_until_a_limit_is_reached() -> None:
    grammar = RecordGrammar(max_record_lines=10, max_record_bytes=64)
    waiting = split_records(b'a,b\n1,"open\nmore\n', grammar, final=False)
    assert waiting.ends.tolist() == [4]  # the open record is left for the next read
    over = split_records(b'a,b\n1,"open\n' + b"x" * 80 + b"\n", grammar, final=False)
    # The line after the cut is a record of its own, itself over the byte limit
    assert over.kinds.tolist() == [0, RecordKind.UNTERMINATED_QUOTE, RecordKind.TOO_LONG]
    assert over.ends.tolist() == [4, 12, 93]


def test_a_complete_record_longer_than_the_byte_limit_is_too_long() -> None:
    grammar = RecordGrammar(max_record_bytes=10)
    data = b"a,b\n" + b"x" * 20 + b",y\nc,d\n"
    layout = split_records(data, grammar, final=True)
    assert layout.kinds.tolist() == [0, RecordKind.TOO_LONG, 0]


def test_blank_lines_of_every_line_ending_are_blank_records() -> None:
    data = b"a,b\n\n\r\n\r1,2\n"
    layout = split_records(data, GRAMMAR, final=True)
    assert layout.kinds.tolist() == [0, RecordKind.BLANK, RecordKind.BLANK, RecordKind.BLANK, 0]
    assert field_counts(data, layout, GRAMMAR).tolist() == [2, 0, 0, 0, 2]


def test_comment_lines_end_at_their_line_break_even_with_a_quote() -> None:
    grammar = RecordGrammar(comment=b"#")
    data = b'# it\'s a "report\na,b\n#x,"y\n1,2\n'
    layout = split_records(data, grammar, final=True)
    assert layout.kinds.tolist() == [RecordKind.COMMENT, 0, RecordKind.COMMENT, 0]
    assert field_counts(data, layout, grammar).tolist() == [0, 2, 0, 2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a\\,b,c\n"x\\"y",z\n', [["a,b", "c"], ['x"y', "z"]]),
        ("a\\\nb,c\nd,e\n", [["a\nb", "c"], ["d", "e"]]),
        ("a\\\\,b\n", [["a\\", "b"]]),
    ],
)
def test_escaped_delimiters_quotes_and_line_breaks_are_literal(text: str, expected: list[list[str]]) -> None:
    grammar = RecordGrammar(escape=b"\\")
    data = text.encode()
    layout = split_records(data, grammar, final=True)
    records = python_records(text, escapechar="\\", doublequote=False)
    assert [record for record, _ in records] == expected  # the oracle reads it so
    assert [chars for _, chars in records] == [len(span) for span in spans(layout.lengths, data)]
    assert field_counts(data, layout, grammar).tolist() == [len(record) for record in expected]


def test_leading_spaces_before_a_quote_open_it_when_the_dialect_skips_them() -> None:
    grammar = RecordGrammar(skip_initial_space=True)
    text = 'a, "b, c"\nd, e\n'
    data = text.encode()
    layout = split_records(data, grammar, final=True)
    assert [record for record, _ in python_records(text, skipinitialspace=True)] == [["a", "b, c"], ["d", "e"]]
    assert field_counts(data, layout, grammar).tolist() == [2, 2]


@given(st.text(alphabet=st.sampled_from(["a", ",", '"', "\n", " ", " ", "\\", "é"]), max_size=80), st.booleans())
@settings(max_examples=600, deadline=None)
def test_removing_initial_spaces_reads_as_pythons_skipinitialspace(text: str, escaped: bool) -> None:
    # Given any text with spaces around delimiters and quotes (and backslash escapes, half the time)
    grammar = RecordGrammar(skip_initial_space=True, escape=b"\\" if escaped else None)
    dialect: dict[str, object] = {"escapechar": "\\"} if escaped else {}  # doubled quotes too, as pyarrow
    text = text.rstrip("\\") + "\n"  # csv.reader's end of data differs with and without the option otherwise
    # After a closing quote csv.reader takes the escape character literally, pyarrow (and the grammar) as an escape.
    assume(not escaped or '"\\' not in text)
    data = text.encode("utf-8")
    layout = split_records(data, grammar, final=True)
    if RecordKind.UNTERMINATED_QUOTE in layout.kinds.tolist():
        return  # csv.reader runs an open quote to the end of the file; the grammar cuts it
    # When the spaces that open fields are removed
    stripped, stripped_layout = without_initial_spaces(data, layout, grammar)
    # Then csv.reader without skipinitialspace reads the result as csv.reader with it reads the original
    expected = [
        [span.rstrip("\r\n")] if span.strip(" \r\n") == "" and span.strip("\r\n") else record
        for (record, _), span in zip(
            python_records(text, skipinitialspace=True, **dialect), spans(layout.lengths, data), strict=True
        )
    ]  # a record of nothing but spaces keeps them (it would be a blank line without): the one exception
    got = [record for record, _ in python_records(stripped.decode("utf-8"), **dialect)]
    assert got == expected
    # And the new layout spans the same records over the shorter bytes
    assert stripped_layout.consumed == len(stripped)
    assert stripped_layout.count == layout.count
    assert field_counts(stripped, stripped_layout, grammar).tolist() == field_counts(data, layout, grammar).tolist()


def test_plain_buffers_are_told_by_bytes_scans_and_split_per_line() -> None:
    assert GRAMMAR.is_plain(b"a,b\n1,2\n3,4")
    assert not GRAMMAR.is_plain(b'a,"b"\n')
    assert not GRAMMAR.is_plain(b"a,b\n\n1,2\n")
    assert not GRAMMAR.is_plain(b"a,b\r\n1,2\r\n")
    assert not RecordGrammar(comment=b"#").is_plain(b"a,b\n#note\n")
    layout = plain_layout(b"a,b\n1,2\n3,4", final=True)
    assert layout.ends.tolist() == [4, 8, 11]
    assert split_records(b"a,b\n1,2\n3,4", GRAMMAR, final=True).ends.tolist() == [4, 8, 11]
