"""The streaming conversion: values and types written, bad rows rejected with their line, counts that add up."""

from __future__ import annotations

import datetime as dt
import gzip

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakepipe.domain.csv.convert import ConversionTuning
from lakepipe.domain.csv.schema import CatalogColumn, TableContract
from tests.unit.csv.support import LOCATION, Converted, convert_bytes


def weather_rows(count: int, start: int = 0) -> str:
    return "".join(
        f"2024-01-01T{(i % 24):02d}:00:00,City {i % 7},{i * 0.5:.1f},{i % 100},{'true' if i % 2 else 'false'}\n"
        for i in range(start, start + count)
    )


HEADER = "time,city,temperature,humidity,raining\n"


def assert_counts_add_up(converted: Converted) -> None:
    outcome = converted.outcome
    assert outcome.rows_in == outcome.rows_out + outcome.rows_quarantined
    assert outcome.rows_out == converted.table.num_rows
    assert outcome.rows_quarantined == len(converted.rejected)
    assert outcome.ledger.bytes_read == len(converted.body)
    assert outcome.ledger.problems() == []


def test_a_clean_file_converts_every_row_with_its_inferred_types() -> None:
    # Given 1,000 clean rows, spread over many small blocks
    body = (HEADER + weather_rows(1000)).encode()

    converted = convert_bytes(body)

    assert converted.outcome.rows_in == converted.outcome.rows_out == 1000
    assert converted.rejected == []
    assert converted.outcome.careful_blocks == 0
    assert converted.outcome.blocks > 10
    assert converted.table.schema == pa.schema(
        [
            ("time", pa.timestamp("us")),
            ("city", pa.string()),
            ("temperature", pa.float64()),
            ("humidity", pa.int64()),
            ("raining", pa.bool_()),
        ]
    )
    assert converted.table.slice(999, 1).to_pylist() == [
        {
            "time": dt.datetime(2024, 1, 1, 15),
            "city": "City 5",
            "temperature": 499.5,
            "humidity": 99,
            "raining": True,
        }
    ]


def test_row_groups_collect_many_blocks() -> None:
    converted = convert_bytes((HEADER + weather_rows(1000)).encode())

    metadata = pq.ParquetFile(pa.BufferReader(converted.parquet)).metadata
    assert converted.outcome.row_groups == metadata.num_row_groups
    assert converted.outcome.blocks > metadata.num_row_groups
    assert all(metadata.row_group(i).num_rows >= 100 for i in range(metadata.num_row_groups - 1))


def test_bad_rows_are_rejected_with_their_line_reason_and_text_and_the_rest_is_kept() -> None:
    # Given clean rows, then (on known lines) a short row, a long row and a value that is not an int
    lines = [HEADER, weather_rows(300)]
    lines.append("2024-01-02T00:00:00,Short row\n")  # line 302
    lines.append(weather_rows(100, start=300))  # lines 303-402
    lines.append("2024-01-02T01:00:00,Long,1.5,3,true,extra\n")  # line 403
    lines.append("2024-01-02T02:00:00,Nantes,2.5,n/a,false\n")  # line 404
    lines.append(weather_rows(50, start=400))
    body = "".join(lines).encode()

    converted = convert_bytes(body, sample_bytes=4096)  # the sample ends before the bad rows

    assert converted.rejected_lines == [302, 403, 404]
    assert [row["reason"] for row in converted.rejected] == [
        "expected 5 fields, found 2",
        "expected 5 fields, found 6",
        "column 'humidity' (bigint): invalid value 'n/a'",
    ]
    assert converted.rejected[2]["raw_preview"] == "2024-01-02T02:00:00,Nantes,2.5,n/a,false"
    assert converted.raw_of(converted.rejected[2]) == b"2024-01-02T02:00:00,Nantes,2.5,n/a,false\n"
    assert converted.outcome.rows_out == 450
    assert converted.outcome.careful_blocks >= 1
    assert_counts_add_up(converted)


def test_line_numbers_count_quoted_newlines_and_blank_lines() -> None:
    body = (
        b'id,"multi\nline header"\n'  # lines 1-2
        b'1,"a value\non two lines"\n'  # lines 3-4
        b"\n"  # line 5: blank, not a row
        b'2,"three\r\nphysical\nlines"\n'  # lines 6-8
        b"3\n"  # line 9: one field short
        b"5,plain,extra\n"  # line 10: one field too many
        b'4,"last"\n'
    )

    converted = convert_bytes(body)

    assert converted.rejected_lines == [9, 10]
    assert converted.table.column("id").to_pylist() == [1, 2, 4]
    assert converted.table.column("multi_line_header").to_pylist()[1] == "three\r\nphysical\nlines"
    assert converted.outcome.rows_in == 5
    assert_counts_add_up(converted)


def test_line_numbers_in_a_file_with_carriage_return_line_ends() -> None:
    body = b"a,b\r1,2\r3\r4,5\r"

    converted = convert_bytes(body)

    assert converted.rejected_lines == [3]
    assert converted.table.to_pylist() == [{"a": 1, "b": 2}, {"a": 4, "b": 5}]


def test_a_file_that_turns_out_all_bad_writes_no_rows() -> None:
    body = ("a,b\n" + "1,2\n" * 3 + "x\n" * 5000).encode()

    converted = convert_bytes(body, sample_bytes=4096)

    assert converted.outcome.rows_out == 3
    assert converted.outcome.rows_quarantined == 5000
    assert_counts_add_up(converted)


def test_invalid_utf8_bytes_reject_only_their_row() -> None:
    body = ("name,n\n" + "Zoë,1\n" * 1000).encode() + b"caf\xe9,2\n" + ("Zoë,3\n" * 10).encode()

    converted = convert_bytes(body, sample_bytes=4096)

    assert converted.rejected_lines == [1002]
    assert converted.rejected[0]["reason"] == "bytes that are not valid utf-8"
    assert converted.rejected[0]["raw_preview"] == "caf\ufffd,2"
    assert converted.raw_of(converted.rejected[0]) == b"caf\xe9,2\n"
    assert converted.outcome.rows_out == 1010


def test_cp1252_is_transcoded_block_by_block() -> None:
    body = ("nom;prix;note\n" + "Crème brûlée;4,5;très bon \u2013 5 €\n" * 500).encode("cp1252")

    converted = convert_bytes(body)

    assert converted.plan.dialect.encoding == "cp1252"
    assert converted.table.to_pylist()[499] == {"nom": "Crème brûlée", "prix": 4.5, "note": "très bon \u2013 5 €"}


def test_gzip_input_converts_like_plain_text() -> None:
    plain = (HEADER + weather_rows(500)).encode()

    assert convert_bytes(gzip.compress(plain)).table.equals(convert_bytes(plain).table)


def test_zone_offsets_are_normalised_to_utc() -> None:
    body = b"at,n\n2024-03-31T01:30:00+02:00,1\n2024-03-31T23:00:00Z,2\n2024-04-01T00:00:00-05:30,3\n"

    converted = convert_bytes(body)

    assert converted.table.schema.field("at").type == pa.timestamp("us")
    assert converted.table.column("at").to_pylist() == [
        dt.datetime(2024, 3, 30, 23, 30),
        dt.datetime(2024, 3, 31, 23, 0),
        dt.datetime(2024, 4, 1, 5, 30),
    ]


def test_the_tables_columns_are_the_contract() -> None:
    # Given a table with an int column, a column the file lacks, and a file with a column the table lacks
    contract = TableContract(
        name="dataset",
        columns=(
            CatalogColumn("id", "int"),
            CatalogColumn("price", "decimal(8,2)"),
            CatalogColumn("missing", "date"),
            CatalogColumn("tags", "array<string>"),
        ),
        location=LOCATION,
    )
    body = b"id,price,extra\n1,9.99,a\n2,10.5,b\n3,1.999,c\n2147483648,1,d\n"

    converted = convert_bytes(body, contract=contract)

    assert converted.table.schema == pa.schema(
        [("id", pa.int32()), ("price", pa.decimal128(8, 2)), ("missing", pa.date32()), ("extra", pa.string())]
    )
    assert [column.name for column in converted.plan.new_columns] == ["extra"]
    assert converted.table.column("missing").null_count == 2
    assert [row["reason"] for row in converted.rejected] == [
        "column 'price' (decimal(8,2)): invalid value '1.999'",
        "column 'id' (int): invalid value '2147483648'",
    ]


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_the_result_does_not_depend_on_the_number_of_workers(workers: int) -> None:
    body = (HEADER + weather_rows(700) + "bad\n" + weather_rows(10, 700)).encode()
    tuning = ConversionTuning(block_bytes=1024, row_group_rows=100, workers=workers)

    converted = convert_bytes(body, tuning=tuning)

    assert converted.table.equals(convert_bytes(body).table)
    assert converted.rejected_lines == [702]


def test_padding_after_delimiters_is_skipped_outside_quotes_as_pythons_skipinitialspace() -> None:
    # Given a file padded after every delimiter, with quoted values holding ", " and one spaces-only value
    rows = [(f"name {i}", i, f"Paris, FR {i}") for i in range(300)]
    body = "name, age, city\n" + "".join(f'{name}, {age}, "{city}"\n' for name, age, city in rows)
    body += 'last,    , "  kept  "\n'

    # When it converts (blocks small enough that many go the careful way)
    converted = convert_bytes(body.encode())

    # Then the values are csv.reader's with skipinitialspace=True, typed, and nothing is quarantined
    assert converted.plan.dialect.skip_initial_space
    assert converted.table.schema.field("age").type == pa.int64()
    expected = [{"name": n, "age": a, "city": c} for n, a, c in rows] + [
        {"name": "last", "age": None, "city": "  kept  "}
    ]
    assert converted.table.to_pylist() == expected
    assert converted.rejected == []
    assert_counts_add_up(converted)
