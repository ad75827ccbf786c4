"""Property: any table written as CSV in any supported dialect comes back from Parquet with equal values.

Hypothesis builds typed tables (ints, floats, booleans, dates, timestamps, text with quotes, delimiters and
newlines, nulls), writes them with Python's csv module in a random dialect (delimiter, quoting, line ends,
encoding, BOM, decimal comma, gzip), and the real sniff → infer → convert path must give back the same values,
with every row accounted for. Values whose meaning is ambiguous by nature are kept out (see the filters).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lakepipe.domain.csv.column_types import ColumnKind, classify_value
from lakepipe.domain.csv.detection import DELIMITER_CANDIDATES
from lakepipe.domain.csv.naming import column_names_for
from tests.unit.csv.support import convert_bytes


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str
    quoting: int
    line_terminator: str
    encoding: str
    decimal_comma: bool
    gzip: bool


dialects = st.builds(
    CsvDialect,
    delimiter=st.sampled_from(DELIMITER_CANDIDATES),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    line_terminator=st.sampled_from(["\n", "\r\n", "\r"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    decimal_comma=st.booleans(),
    gzip=st.booleans(),
).filter(lambda dialect: not (dialect.decimal_comma and dialect.delimiter == ","))


def plain_text(dialect: CsvDialect) -> st.SearchStrategy[str]:
    """Text that reads as text: no other candidate delimiter (that would be a different, ambiguous file)."""
    others = "".join(candidate for candidate in DELIMITER_CANDIDATES if candidate != dialect.delimiter)
    alphabet = st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters=others + "\ufeff"
    ) | st.sampled_from(['"', "\n", "\r", dialect.delimiter, "'", " "])

    def readable(text: str) -> bool:
        if dialect.encoding == "cp1252":
            try:
                text.encode("cp1252")
            except UnicodeEncodeError:
                return False
        # 'x' wrapped in apostrophes everywhere would be single-quote quoting: an ambiguous file
        wrapped = len(text) >= 2 and text[0] == text[-1] == "'"
        # and text that is a number under either decimal point leaves the file's decimal point undecidable
        textual = all(classify_value(text, point) == ColumnKind.STRING for point in (".", ","))
        return textual and not wrapped

    return st.text(alphabet, min_size=1, max_size=20).filter(readable)


@dataclass(frozen=True)
class ColumnSpec:
    values: Callable[[CsvDialect], st.SearchStrategy[Any]]
    render: Callable[[Any, CsvDialect], str]


def render_float(value: float, dialect: CsvDialect) -> str:
    text = repr(value)
    return text.replace(".", ",") if dialect.decimal_comma else text


COLUMN_SPECS = [
    ColumnSpec(lambda d: st.integers(-(2**63), 2**63 - 1), lambda v, d: str(v)),
    ColumnSpec(lambda d: st.floats(allow_nan=False, allow_infinity=False), render_float),
    ColumnSpec(lambda d: st.booleans(), lambda v, d: "true" if v else "false"),
    ColumnSpec(lambda d: st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)), lambda v, d: v.isoformat()),
    ColumnSpec(
        lambda d: st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 12, 31)),
        lambda v, d: v.isoformat(sep="T"),
    ),
    ColumnSpec(plain_text, lambda v, d: v),
]
TEXT = COLUMN_SPECS[-1]


def write_record(fields: list[str], dialect: CsvDialect) -> str:
    """RFC 4180 quoting (Python's csv writer leaves a lone carriage return unquoted, which no reader undoes)."""

    def quoted(field: str) -> str:
        special = any(character in field for character in (dialect.delimiter, '"', "\r", "\n"))
        if dialect.quoting == csv.QUOTE_ALL or special:
            return '"' + field.replace('"', '""') + '"'
        return field

    return dialect.delimiter.join(quoted(field) for field in fields) + dialect.line_terminator


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[CsvDialect, list[str], list[list[Any]], bytes]:
    dialect = draw(dialects)
    # At least one typed column under a text name, and distinct names: a header a reader can tell from data.
    # (A first row that cannot be told from the body is taken as data, so no row is ever lost to the header.)
    specs = draw(st.lists(st.sampled_from(COLUMN_SPECS), min_size=2, max_size=6).filter(lambda s: s != [TEXT] * len(s)))
    names = plain_text(dialect).map(lambda text: "h" + text)  # a name, not a number: "00" could be either
    header = draw(st.lists(names, min_size=len(specs), max_size=len(specs), unique=True))
    typed = [position for position, spec in enumerate(specs) if spec is not TEXT]
    rows = draw(
        st.lists(st.tuples(*(st.none() | spec.values(dialect) for spec in specs)).map(list), min_size=1, max_size=60)
        # the evidence: a typed column holds a value somewhere
        .filter(lambda drawn: any(row[position] is not None for row in drawn for position in typed))
    )
    rendered_rows = [
        ["" if value is None else spec.render(value, dialect) for spec, value in zip(specs, row, strict=True)]
        for row in rows
    ]
    # and no name is also one of its column's values
    assume(all(name not in {row[position] for row in rendered_rows} for position, name in enumerate(header)))
    lines = [write_record(header, dialect)] + [write_record(rendered, dialect) for rendered in rendered_rows]
    text = "".join(lines)
    body = text.encode(dialect.encoding)
    return dialect, header, rows, gzip.compress(body) if dialect.gzip else body


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(csv_tables())
def test_generated_csv_round_trips_through_parquet(case: tuple[CsvDialect, list[str], list[list[Any]], bytes]) -> None:
    dialect, header, rows, body = case

    converted = convert_bytes(body)

    assert converted.rejected == []
    assert converted.outcome.rows_in == converted.outcome.rows_out == len(rows)
    assert converted.table.column_names == column_names_for(header)
    assert converted.plan.dialect.delimiter == dialect.delimiter
    assert converted.plan.dialect.decimal_point in {".", ","}
    assert [list(record.values()) for record in converted.table.to_pylist()] == rows


def render_plain(value: object) -> object:
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else value


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(csv_tables(), st.data())
def test_rows_broken_anywhere_are_counted_not_lost(
    case: tuple[CsvDialect, list[str], list[list[Any]], bytes], data: st.DataObject
) -> None:
    # Given a clean generated file (uncompressed), with short rows inserted at random places
    dialect, header, rows, _ = case
    text = io.StringIO()
    writer = csv.writer(text, delimiter=dialect.delimiter, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    broken_positions = set(data.draw(st.lists(st.integers(0, len(rows)), max_size=5)))
    for position in range(len(rows) + 1):
        if position in broken_positions:
            writer.writerow(["short"])
        if position < len(rows):
            writer.writerow([render_plain(value) for value in rows[position]])

    converted = convert_bytes(text.getvalue().encode("utf-8"))

    assert converted.outcome.rows_in == converted.outcome.rows_out + converted.outcome.rows_quarantined
    assert converted.outcome.rows_quarantined == len(broken_positions)
    assert all(row["reason"] == f"expected {len(header)} fields, found 1" for row in converted.rejected)
    assert converted.outcome.rows_out == len(rows)
