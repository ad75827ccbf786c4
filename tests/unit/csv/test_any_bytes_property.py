"""Property: any bytes S3 could deliver are rejected with a reason, or converted with every byte and record counted.

The inputs are byte strings from CSV-ish alphabets (quotes, the delimiters , ; tab | :, CR, LF, CRLF, NUL, backslash,
multi-byte UTF-8, invalid UTF-8, long runs), either as a soup of tokens or shaped like a table with damage.
Each goes through the real conversion with the real Parquet quarantine (``tests.unit.csv.audit``), and:

* a rejection is a :class:`CsvRejectedError` with a reason; any other exception fails the property;
* a conversion's byte parts add up to the input's length, its quarantined bytes are the quarantine file's own
  lengths, and the records found are the Parquet rows plus the quarantined records;
* the records found agree with a count nobody in lakepipe wrote: the physical lines (less blank and comment
  lines) when nothing is quoted or escaped, else Python's csv module's record count when it reads the data
  strictly (comment lines aside: Python's csv module has no comments).

Deterministic (``derandomize``) and bounded: about 10 s on one core.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakepipe.domain.csv.convert import ConversionTuning
from lakepipe.domain.csv.errors import CsvRejectedError
from tests.unit.csv.audit import (
    Audited,
    assert_every_byte_and_row_accounted_for,
    convert_audited,
    python_csv_records,
    text_of,
)

PROPERTY_SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# 96-byte blocks: even a few lines span several blocks, so carries, guesses and re-splits are all exercised.
TINY_BLOCKS_FOR_PROPERTY = ConversionTuning(block_bytes=96, row_group_rows=20, row_group_bytes=1 << 20, workers=2)
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")

TOKENS = [
    b'"', b"'", b",", b";", b"\t", b"|", b":", b" ", b", ", b"#", b"\\", b'\\"',
    b"\r", b"\n", b"\r\n", b"\r\n\r\n", b"\x00",
    "é".encode(), "日本".encode(), "Ελλάδα".encode(), b"\xff", b"\xc3", b"\xe9",  # valid, then invalid UTF-8
    b"a", b"b", b"1", b"-7", b"2.5", b"1e5", b"true", b"2024-02-29", b"NaN",
    b'""', b'"a,b"', b'"x\ny"', b'"' * 7, b"x" * 300, b"\n" * 5,  # quoting and long runs
    b"id,name,v\n", b"1,2,3\n" * 20, b"a;b;c\r\n" * 10,
]  # fmt: skip
CELLS = [
    b"1", b"22", b"-3", b"4.5", b"abc", b"", b'"q,uoted"', b'"li\nne"', b'"es\\"c"', b'say "hi"', b" pad",
    b"\x00", b"\xff", "é".encode(), b"true", b"2024-02-29", b"#x", b"'s'", b'"', b"\\", b"x" * 50,
]  # fmt: skip

token_soups = st.lists(st.sampled_from(TOKENS), max_size=60).map(b"".join)


@st.composite
def damaged_tables(draw: st.DrawFn) -> bytes:
    """A header (or not) and rows in one dialect, with ragged rows, stray lines and hostile cells mixed in."""
    delimiter = draw(st.sampled_from([b",", b";", b"\t", b"|", b":"]))
    line_break = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    width = draw(st.integers(1, 5))
    lines = [delimiter.join(b"col%d" % position for position in range(width))] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(0, 25))):
        fields = width if draw(st.integers(0, 9)) else draw(st.integers(1, 7))
        lines.append(delimiter.join(draw(st.lists(st.sampled_from(CELLS), min_size=fields, max_size=fields))))
        if not draw(st.integers(0, 12)):
            lines.append(draw(st.sampled_from([b"", b"# note", b"junk"])))
    return line_break.join(lines) + (line_break if draw(st.booleans()) else b"")


def _lines_with_breaks(data: bytes) -> list[bytes]:
    return [match.group() for match in _LINE.finditer(data) if match.group()]


def assert_records_agree_with_an_independent_count(audited: Audited) -> None:
    dialect, data, ledger = audited.plan.dialect, audited.data, audited.outcome.ledger
    structural = [char.encode() for char in (dialect.quote_char, dialect.escape_char) if char]
    if not any(char in data for char in structural):
        # Then every physical line is one record: blank and comment lines are skipped, the others found.
        lines = _lines_with_breaks(data)
        comment = dialect.comment_char.encode() if dialect.comment_char else None
        skipped = [line for line in lines if not line.strip(b"\r\n") or (comment and line.startswith(comment))]
        assert audited.outcome.rows_in == len(lines) - len(skipped), ledger
        assert ledger.lines_skipped == len(skipped)
        assert ledger.bytes_skipped == sum(len(line) for line in skipped)
        return
    if dialect.comment_char is None:
        records = python_csv_records(text_of(data, dialect), dialect)
        if records is not None:  # Python's csv module read the data strictly: its records are the records
            assert audited.outcome.rows_in == len(records), (records, ledger, dialect)


def check_any_bytes(body: bytes) -> None:
    try:
        audited = convert_audited(body, tuning=TINY_BLOCKS_FOR_PROPERTY)
    except CsvRejectedError as rejection:
        reason = rejection.reason
    else:
        assert_every_byte_and_row_accounted_for(audited)
        assert_records_agree_with_an_independent_count(audited)
        return
    assert reason.strip()


@settings(PROPERTY_SETTINGS, max_examples=600)
@given(token_soups)
def test_any_token_soup_is_rejected_with_a_reason_or_reconciles(body: bytes) -> None:
    # Given any bytes of CSV-ish tokens / When converted / Then rejected with a reason, or every byte accounted for
    check_any_bytes(body)


@settings(PROPERTY_SETTINGS, max_examples=200)
@given(damaged_tables())
def test_any_damaged_table_is_rejected_with_a_reason_or_reconciles(body: bytes) -> None:
    # Given a table in any dialect with ragged rows, stray lines and hostile cells / When converted / Then as above
    check_any_bytes(body)


def test_the_checks_fail_on_a_conversion_that_lost_a_row_or_a_byte() -> None:
    # Given a real conversion whose checks pass
    audited = convert_audited(b'id,name\n1,"a"\n2,b\n3\n4,d\n', tuning=TINY_BLOCKS_FOR_PROPERTY)
    assert_every_byte_and_row_accounted_for(audited)
    assert_records_agree_with_an_independent_count(audited)
    assert (audited.table.num_rows, len(audited.quarantined)) == (3, 1)

    # When one row goes missing from the Parquet file, or one byte from the ledger, Then the checks say so
    with pytest.raises(AssertionError):
        assert_every_byte_and_row_accounted_for(dataclasses.replace(audited, table=audited.table.slice(1)))
    audited.outcome.ledger.bytes_converted -= 1
    with pytest.raises(AssertionError):
        assert_every_byte_and_row_accounted_for(audited)
    audited.outcome.ledger.bytes_converted += 1
    audited.outcome.ledger.rows_in += 1
    with pytest.raises(AssertionError):
        assert_records_agree_with_an_independent_count(audited)
