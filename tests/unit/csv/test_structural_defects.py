"""Issue 10's defects, one test each, through the real conversion and the real Parquet quarantine.

Expected values come from outside the converter: Python's csv module (RFC 4180 as Python reads it, with the
dialect each file is written in), ``csv.Sniffer`` for header opinions, offsets and counts computed from the
bytes the test itself wrote. The resynchronisation rule under test is the one ``domain/csv/records.py``
documents (its module docstring; the README does not state it yet): a quoted field still open after
``max_record_lines`` physical lines or ``max_record_bytes`` bytes, or at the end of the file, ends at its first
physical line, which is quarantined, and the grammar starts again on the next line.
"""

from __future__ import annotations

import csv
import io

import pytest

from lakepipe.domain.csv.convert import ConversionLimits, ConversionTuning
from lakepipe.domain.csv.detection import read_sample, sniff
from lakepipe.domain.csv.dialect import decompressed
from lakepipe.domain.csv.errors import TableGuardError
from lakepipe.domain.csv.guards import check_plan
from lakepipe.domain.csv.options import TableGuards
from lakepipe.domain.csv.schema import ConversionPlan, plan_conversion
from tests.unit.csv.audit import LOCATION, Audited, assert_every_byte_and_row_accounted_for, convert_audited

PRODUCTION_BLOCKS = ConversionTuning()  # 4 MB blocks, as the function runs


def rows_of(audited: Audited) -> list[list[object]]:
    return [list(row.values()) for row in audited.table.to_pylist()]


def python_rows(
    text: str, *, escapechar: str | None = None, doublequote: bool = True, skipinitialspace: bool = False
) -> list[list[str]]:
    """Python's csv module's records (the first one is the header), strict=False like pyarrow."""
    reader = csv.reader(
        io.StringIO(text, newline=""), escapechar=escapechar, doublequote=doublequote, skipinitialspace=skipinitialspace
    )
    return [record for record in reader if record]


def as_text(rows: list[list[object]]) -> list[list[str]]:
    return [["" if value is None else str(value) for value in row] for row in rows]


# ---------------------------------------------------------------------------------------- unterminated quotes
def test_an_unterminated_quote_at_row_100_of_10000_quarantines_its_line_and_converts_the_9999_others() -> None:
    # Given 10,000 rows with no quotes, except row 100 that opens a quoted field and never closes it
    header = b"id,name,score\n"
    rows = [b"%d,name%d,%d.5\n" % (number, number, number) for number in range(1, 10_001)]
    rows[99] = b'100,"name100,100.5\n'
    body = header + b"".join(rows)

    # When converted with the function's block size
    audited = convert_audited(body, tuning=PRODUCTION_BLOCKS)

    # Then 9,999 rows are in the table, every id but 100, in order, and row 100 alone is quarantined
    assert_every_byte_and_row_accounted_for(audited)
    assert audited.table.column("id").to_pylist() == [number for number in range(1, 10_001) if number != 100]
    (record,) = audited.quarantined
    # with its line (the header is line 1), its offset and length in the source, and its reason
    assert record["line"] == 101
    assert record["byte_offset"] == len(header) + sum(len(row) for row in rows[:99])
    assert record["byte_length"] == len(rows[99])
    assert record["reason_code"] == "unterminated_quote"
    # and the quarantined bytes are exactly the first physical line of the unterminated record (the rule)
    assert audited.raw(record) == b'100,"name100,100.5\n'
    assert record["raw_preview"] == '100,"name100,100.5'


def test_a_quote_that_closes_within_the_line_limit_is_one_record_as_pythons_csv_module_reads_it() -> None:
    # Given a quote opened on row 3 and closed 3 lines later (a legitimate multi-line value for RFC 4180)
    text = 'id,note,n\n1,a,1\n2,b,2\n3,"c,3\n4,d,4\n5,e,5\n6,f",6\n7,g,7\n'

    audited = convert_audited(text.encode())

    # Then the records are those of Python's csv module: rows 3-6 are one record, nothing is lost or invented
    assert_every_byte_and_row_accounted_for(audited)
    expected = python_rows(text)
    assert as_text(rows_of(audited)) == expected[1:]
    assert len(expected) - 1 == 4


def test_a_quote_still_open_past_the_line_limit_is_cut_at_its_first_line_and_the_rest_resynchronises() -> None:
    # Given the same file, with at most 3 physical lines allowed per record
    text = 'id,note,n\n1,a,1\n2,b,2\n3,"c,3\n4,d,4\n5,e,5\n6,f",6\n7,g,7\n'

    audited = convert_audited(text.encode(), limits=ConversionLimits(max_record_lines=3))

    # Then row 3's first line is quarantined and rows 4-7 parse again (row 6's quote is not at a field start: a
    # literal, as Python's csv module reads it)
    assert_every_byte_and_row_accounted_for(audited)
    assert rows_of(audited) == [[1, "a", 1], [2, "b", 2], [4, "d", 4], [5, "e", 5], [6, 'f"', 6], [7, "g", 7]]
    assert python_rows('6,f",6\n') == [["6", 'f"', "6"]]
    (record,) = audited.quarantined
    assert (record["line"], record["reason_code"], audited.raw(record)) == (4, "unterminated_quote", b'3,"c,3\n')


def test_a_file_whose_only_data_record_is_unterminated_quarantines_it_instead_of_calling_the_file_header_only() -> None:
    # Given a header and one record whose quote never closes (d3-dsv's parse_unterminated_quote, a blank line
    # before it)
    body = b'a,b,c\n\n1,2,"3'

    audited = convert_audited(body)

    # Then the record is quarantined with its reason (the pipeline then rejects the file: no valid row), not
    # dropped with the file as "a header and no data rows"
    assert_every_byte_and_row_accounted_for(audited)
    assert audited.table.num_rows == 0
    (record,) = audited.quarantined
    assert (record["line"], record["reason_code"], audited.raw(record)) == (3, "unterminated_quote", b'1,2,"3')


@pytest.mark.parametrize("ending", [b"", b"\n"], ids=["at EOF", "newline at EOF"])
def test_a_quote_open_at_the_end_of_the_file_is_quarantined_whichever_path_its_block_takes(ending: bytes) -> None:
    body = b'id,name,city\n1,Ann,Paris\n2,Bob,"Lyon' + ending

    audited = convert_audited(body)

    assert rows_of(audited) == [[1, "Ann", "Paris"]]
    (record,) = audited.quarantined
    assert (record["line"], record["reason_code"]) == (3, "unterminated_quote")


# --------------------------------------------------------------------------------------------- header and quotes
def test_a_stray_quote_in_an_unquoted_header_field_is_a_literal_and_no_row_is_lost() -> None:
    # Given A,B",C: a quote inside an unquoted field is a literal character (RFC 4180 leniency, Python's csv module)
    text = 'A,B",C\n1,2,3\n4,5,6\n7,8,9\n'

    audited = convert_audited(text.encode())

    # Then every data row converts, under the header Python's csv module reads
    assert_every_byte_and_row_accounted_for(audited)
    assert python_rows(text)[0] == ["A", 'B"', "C"]
    assert audited.plan.file_columns == ("a", "b", "c")
    assert audited.plan.source_names == {"a": "A", "b": 'B"', "c": "C"}
    assert rows_of(audited) == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert audited.quarantined == []


@pytest.mark.parametrize("leading", [b"\n", b"\r\n", b"\n\n\n", b"\r\n\r\n"], ids=["LF", "CRLF", "3 LF", "2 CRLF"])
def test_leading_blank_lines_do_not_make_the_header_a_data_row(leading: bytes) -> None:
    body = leading + b"id,name\n1,alpha\n2,beta\n"

    audited = convert_audited(body)

    assert_every_byte_and_row_accounted_for(audited)
    assert audited.plan.file_columns == ("id", "name")
    assert rows_of(audited) == [[1, "alpha"], [2, "beta"]]
    ledger = audited.outcome.ledger
    assert ledger.bytes_preamble + ledger.bytes_skipped == len(leading)


def test_backslash_escaped_quotes_are_parsed_as_pythons_csv_module_with_that_escape_reads_them() -> None:
    # Given quotes escaped with a backslash inside quoted fields (MySQL/PostgreSQL exports)
    text = 'id,text\n1,"text\\"2\\""\n2,"plain"\n3,"a \\"b\\" c, d"\n'

    audited = convert_audited(text.encode())

    # Then the escape is detected and honoured: the values are Python's csv module's, with escapechar="\\"
    assert_every_byte_and_row_accounted_for(audited)
    assert audited.plan.dialect.escape_char == "\\"
    expected = python_rows(text, escapechar="\\", doublequote=False)
    assert expected[1:] == [["1", 'text"2"'], ["2", "plain"], ["3", 'a "b" c, d']]
    assert as_text(rows_of(audited)) == expected[1:]
    assert audited.quarantined == []


@pytest.mark.parametrize(
    ("text", "looks_like_a_header"),
    [
        # All text, and the first row is one more row of the same: data (taking it for a header would lose it)
        ("apple,banana\ncherry,date\nelder,fig\ngrape,kiwi\n", False),
        # All text, but names of another length than every value below them, never among them: a header
        ("country_code,currency_code\nFRA,EUR\nDEU,EUR\nUSA,USD\nJPN,JPY\n", True),
    ],
    ids=["text-over-text", "names-over-codes"],
)
def test_an_all_text_first_row_is_a_header_only_when_the_body_says_so(text: str, looks_like_a_header: bool) -> None:
    # Given an all-text first row over an all-text body; csv.Sniffer (written by others) has the same opinion
    assert csv.Sniffer().has_header(text) is looks_like_a_header

    audited = convert_audited(text.encode())

    # Then the first row is a header exactly when it looks like one, and no row is lost either way
    assert_every_byte_and_row_accounted_for(audited)
    assert audited.plan.dialect.has_header is looks_like_a_header
    records = python_rows(text)
    assert rows_of(audited) == (records[1:] if looks_like_a_header else records)


# ---------------------------------------------------------------------------------------------------- dialects
@pytest.mark.parametrize("delimiter", [":", "+"])
def test_colon_and_plus_delimited_files_convert(delimiter: str) -> None:
    text = "".join(
        delimiter.join(row) + "\n" for row in [["city", "code", "count"], ["Paris", "75", "10"], ["Lyon", "69", "7"]]
    )

    audited = convert_audited(text.encode())

    assert audited.plan.dialect.delimiter == delimiter
    assert audited.plan.file_columns == ("city", "code", "count")
    assert rows_of(audited) == [["Paris", 75, 10], ["Lyon", 69, 7]]


def test_comment_lines_before_and_inside_the_data_are_skipped_and_accounted_for() -> None:
    comments = [b"# exported by tool 1.2\n", b"# 2024-01-01\n"]
    inside = b"# a note between rows\n"
    body = b"".join(comments) + b"id,name\n1,alpha\n" + inside + b"2,beta\n3,gamma\n"

    audited = convert_audited(body)

    assert_every_byte_and_row_accounted_for(audited)
    assert audited.plan.dialect.comment_char == "#"
    assert rows_of(audited) == [[1, "alpha"], [2, "beta"], [3, "gamma"]]
    ledger = audited.outcome.ledger
    assert (ledger.bytes_preamble, ledger.lines_preamble) == (sum(map(len, comments)), 2)
    assert (ledger.bytes_skipped, ledger.lines_skipped) == (len(inside), 1)


def test_preamble_lines_before_the_header_are_skipped_and_the_header_found() -> None:
    preamble = b"Sales report\nGenerated 2024-01-01 by ExportTool\n\n"
    body = preamble + b"id,region,amount\n1,north,10.5\n2,south,7.25\n3,east,1\n"

    audited = convert_audited(body)

    assert_every_byte_and_row_accounted_for(audited)
    assert audited.plan.file_columns == ("id", "region", "amount")
    assert rows_of(audited) == [[1, "north", 10.5], [2, "south", 7.25], [3, "east", 1.0]]
    assert audited.outcome.ledger.bytes_preamble == len(preamble)
    assert audited.quarantined == []


def test_fields_padded_after_the_delimiter_come_out_without_the_padding() -> None:
    # Given a, b, c padding (skipinitialspace), with a quoted field after a space too
    text = 'a, b, c\n1, x, 3\n4, "y, z", 6\n7, w , 9\n'

    audited = convert_audited(text.encode())

    # Then the values are Python's csv module's with skipinitialspace=True (trailing spaces are data)
    assert_every_byte_and_row_accounted_for(audited)
    assert audited.plan.dialect.skip_initial_space
    expected = python_rows(text, skipinitialspace=True)
    assert expected == [["a", "b", "c"], ["1", "x", "3"], ["4", "y, z", "6"], ["7", "w ", "9"]]
    assert as_text(rows_of(audited)) == expected[1:]


# ------------------------------------------------------------------------------------------------ wide headers
def wide_file(delimiter: str, columns: int, name_length: int, rows: int = 3) -> bytes:
    names = [f"c{position:05d}_".ljust(name_length, "x") for position in range(columns)]
    lines = [delimiter.join(names)] + [
        delimiter.join(str(row * position) for position in range(columns)) for row in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_a_header_of_120_kb_within_the_table_limits_converts_every_column(delimiter: str) -> None:
    # Given 480 columns with names of 250 characters (the defaults allow 500 columns, names of 255): ~120 KB
    body = wide_file(delimiter, columns=480, name_length=250)
    assert body.index(b"\n") > 64 * 1024 * 1.8

    audited = convert_audited(body, tuning=PRODUCTION_BLOCKS)

    # Then the dialect, the 480 names and every value are right
    assert_every_byte_and_row_accounted_for(audited)
    assert audited.plan.dialect.delimiter == delimiter
    assert len(audited.plan.file_columns) == 480
    assert audited.plan.file_columns[479] == "c00479_".ljust(250, "x")
    assert rows_of(audited)[2] == [2 * position for position in range(480)]
    # and the guards with their defaults let it through
    check_plan(audited.plan, list(audited.plan.source_names.values()), TableGuards())


def test_a_header_of_600_kb_parses_when_the_limits_allow_that_many_columns() -> None:
    # Given 3,000 columns of 200-character names, ';'-delimited (a stack with CsvMaxTableColumns raised)
    body = wide_file(";", columns=3000, name_length=200, rows=2)

    audited = convert_audited(body, tuning=PRODUCTION_BLOCKS)

    assert audited.plan.dialect.delimiter == ";"
    assert len(audited.plan.file_columns) == 3000
    assert rows_of(audited)[1][2999] == 2999
    check_plan(audited.plan, list(audited.plan.source_names.values()), TableGuards(max_table_columns=3000))


def planned(body: bytes) -> tuple[ConversionPlan, list[str]]:
    stream, compression = decompressed(io.BytesIO(body))
    sample = read_sample(stream, 1 << 20)
    sampled = sniff(sample, complete=True, compression=compression)
    return plan_conversion(sampled, None, LOCATION), list(sampled.header)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (wide_file(",", columns=501, name_length=8), "the table would have 501 columns, more than the 500 allowed"),
        (b"id," + b"n" * 256 + b"\n1,2\n", "1 column name(s) longer than 255 characters"),
    ],
    ids=["501 columns", "a 256-character name"],
)
def test_the_guard_rejects_the_header_just_beyond_the_limits(body: bytes, reason: str) -> None:
    plan, header = planned(body)

    with pytest.raises(TableGuardError) as raised:
        check_plan(plan, header, TableGuards())

    assert reason in raised.value.reason


# ------------------------------------------------------------------------------------ local structural errors
def numbered_rows(count: int) -> list[bytes]:
    return [b"%d,value %d\n" % (number, number) for number in range(1, count + 1)]


def test_one_nul_byte_in_the_first_megabyte_quarantines_its_record_and_the_rest_converts() -> None:
    rows = numbered_rows(2000)
    rows[500] = b"501,val\x00ue\n"
    body = b"id,value\n" + b"".join(rows)

    audited = convert_audited(body, tuning=PRODUCTION_BLOCKS)

    assert_every_byte_and_row_accounted_for(audited)
    assert audited.table.column("id").to_pylist() == [number for number in range(1, 2001) if number != 501]
    (record,) = audited.quarantined
    assert (record["line"], record["reason_code"], audited.raw(record)) == (502, "nul_byte", rows[500])


def test_one_record_over_the_record_size_limit_is_quarantined_and_the_rest_converts() -> None:
    # Given one 5,000-byte record where CsvMaxRecordBytes is 2,048 (the parameter's floor is 1,024), small blocks
    rows = numbered_rows(2000)
    rows[700] = b"701," + b"z" * 5000 + b"\n"
    body = b"id,value\n" + b"".join(rows)

    audited = convert_audited(body, limits=ConversionLimits(max_record_bytes=2048))

    assert_every_byte_and_row_accounted_for(audited)
    assert audited.table.column("id").to_pylist() == [number for number in range(1, 2001) if number != 701]
    (record,) = audited.quarantined
    assert (record["line"], record["reason_code"], audited.raw(record)) == (702, "record_too_long", rows[700])


def test_one_record_over_the_default_limit_is_quarantined_with_the_functions_block_size() -> None:
    # Given one record of 9 MiB (the default CsvMaxRecordBytes is 8 MiB), converted as the function runs
    rows = numbered_rows(2000)
    rows[700] = b"701," + b"z" * (9 * 1024 * 1024) + b"\n"
    body = b"id,value\n" + b"".join(rows)

    audited = convert_audited(body, tuning=PRODUCTION_BLOCKS)

    assert_every_byte_and_row_accounted_for(audited)
    (record,) = audited.quarantined
    assert (record["line"], record["reason_code"], record["byte_length"]) == (702, "record_too_long", len(rows[700]))
    assert audited.table.num_rows == 1999


def test_invalid_utf8_after_the_sample_quarantines_that_record_and_keeps_the_accents_of_the_others() -> None:
    # Given a UTF-8 file (accents everywhere) whose row 90,001 holds bytes that are not UTF-8, past the 1 MB sample
    rows = ["%d,café %d\n".encode() % (number, number) for number in range(1, 100_001)]
    rows[90_000] = b"90001,caf\xe9\xff\n"
    body = b"id,value\n" + b"".join(rows)

    audited = convert_audited(body, tuning=PRODUCTION_BLOCKS)

    assert_every_byte_and_row_accounted_for(audited)
    assert audited.plan.dialect.encoding == "utf-8"
    (record,) = audited.quarantined
    assert (record["line"], record["reason_code"], audited.raw(record)) == (90_002, "invalid_encoding", rows[90_000])
    assert audited.table.num_rows == 99_999
    assert audited.table.column("value")[89_999].as_py() == "café 90000"


def test_invalid_utf8_in_one_record_of_the_sample_quarantines_that_record_and_keeps_the_accents_of_the_others() -> None:
    rows = ["%d,café %d\n".encode() % (number, number) for number in range(1, 2001)]
    rows[300] = b"301,caf\xe9\xff\n"
    body = b"id,value\n" + b"".join(rows)

    audited = convert_audited(body)

    assert audited.table.column("value")[0].as_py() == "café 1"
    (record,) = audited.quarantined
    assert (record["line"], record["reason_code"]) == (302, "invalid_encoding")
