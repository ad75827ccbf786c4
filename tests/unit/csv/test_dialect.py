"""Dialect sniffing: delimiter, quoting, header, encoding, decimal commas, compression, and the files refused."""

from __future__ import annotations

import gzip
import io

import pytest

from lakepipe.domain.csv.detection import sniff
from lakepipe.domain.csv.dialect import decompressed, detect_encoding, read_exactly
from lakepipe.domain.csv.errors import (
    BinaryFileError,
    CorruptCompressionError,
    EmptyFileError,
    HeaderOnlyFileError,
    UnsupportedEncodingError,
)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_the_one_that_splits_rows_consistently(delimiter: str) -> None:
    text = delimiter.join(["city", "temp", "note"]) + "\n"
    text += "\n".join(delimiter.join([f"town {i}", f"{i}.5", "a, b; c | d"]) for i in range(20)) + "\n"
    quoted = text.replace("a, b; c | d", '"a, b; c | d"')

    sampled = sniff(quoted.encode(), complete=True)

    assert sampled.dialect.delimiter == delimiter
    assert sampled.header == ("city", "temp", "note")
    assert len(sampled.rows) == 20
    assert sampled.rows[3] == ("town 3", "3.5", "a, b; c | d")


def test_semicolon_file_with_decimal_commas() -> None:
    # Given a French spreadsheet export: ';' separated, decimal commas, a quoted field
    body = 'ville;température;pluie\nParis;12,5;0,2\nLyon;-3,25;0\n"Saint-Étienne; centre";8,0;1,75\n'

    sampled = sniff(body.encode(), complete=True)

    assert sampled.dialect.delimiter == ";"
    assert sampled.dialect.decimal_point == ","
    assert sampled.rows[2] == ("Saint-Étienne; centre", "8,0", "1,75")


def test_a_comma_file_keeps_the_decimal_point() -> None:
    assert sniff(b"a,b\n1.5,2\n", complete=True).dialect.decimal_point == "."


def test_single_quotes_are_the_quote_char_when_double_quotes_never_open_a_field() -> None:
    sampled = sniff(b"id,name\n1,'Smith, John'\n2,'Doe, Jane'\n", complete=True)

    assert sampled.dialect.quote_char == "'"
    assert sampled.rows == [("1", "Smith, John"), ("2", "Doe, Jane")]


def test_apostrophes_inside_values_do_not_make_single_quotes_the_quote_char() -> None:
    sampled = sniff(b"id,name\n1,O'Neil\n2,\"D'Arcy, Pat\"\n", complete=True)

    assert sampled.dialect.quote_char == '"'
    assert sampled.rows[1] == ("2", "D'Arcy, Pat")


@pytest.mark.parametrize(
    ("first_row", "has_header"),
    [
        ("id,name,score", True),
        ("Id,Full Name,", True),  # a blank header cell is still a header
        ("1,Alice,3.5", False),
        ("2024-01-01,Paris,12", False),
        ("true,Paris,x", False),
    ],
)
def test_header_detection(first_row: str, has_header: bool) -> None:
    body = f"{first_row}\n2,Bob,4.5\n3,Carol,5\n".encode()

    sampled = sniff(body, complete=True)

    assert sampled.dialect.has_header is has_header
    assert len(sampled.header) == 3
    if not has_header:
        assert sampled.header == ("", "", "")
        assert sampled.rows[0] == tuple(first_row.split(","))


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ("nom,ville\nÉlodie,Orléans\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "nom,ville\nÉlodie,Orléans\n".encode(), "utf-8-sig"),
        ("nom,ville\nÉlodie,Orléans \u2013 5 €\n".encode("cp1252"), "cp1252"),
        (b"nom,ville\n\xc9lodie,\x81\x8d\n", "latin-1"),  # bytes cp1252 leaves undefined
    ],
)
def test_encoding_detection(body: bytes, encoding: str) -> None:
    sampled = sniff(body, complete=True)

    assert sampled.dialect.encoding == encoding
    assert sampled.header == ("nom", "ville")
    assert sampled.rows[0][0] == "Élodie"


def test_a_sample_cut_inside_a_multibyte_character_is_still_utf8() -> None:
    body = "nom\n" + "é" * 100
    cut = body.encode()[:-1]

    assert detect_encoding(cut, complete=False) == "utf-8"
    # Complete, the file really ends in a broken character: still UTF-8 (99 valid accents against one invalid
    # byte), and the record holding it is quarantined as invalid_encoding
    assert detect_encoding(cut, complete=True) == "utf-8"


def test_accents_of_a_cp1252_export_with_one_valid_utf8_lookalike_stay_cp1252() -> None:
    # "Ã©" in cp1252 is the valid UTF-8 sequence for "é": one such pair must not outvote the file's own accents
    body = ("nom\n" + "Élodie\nCécile\nAndré\n" * 20 + "Ã©\n").encode("cp1252")

    assert detect_encoding(body, complete=True) == "cp1252"


@pytest.mark.parametrize(
    ("body", "terminator"),
    [(b"a,b\r\n1,2\r\n", "\r\n"), (b"a,b\n1,2\n", "\n"), (b"a,b\r1,2\r", "\r")],
)
def test_line_terminator(body: bytes, terminator: str) -> None:
    sampled = sniff(body, complete=True)

    assert sampled.dialect.line_terminator == terminator
    assert sampled.rows == [("1", "2")]


def test_the_truncated_last_record_of_a_partial_sample_is_not_used_for_inference() -> None:
    # "2024-01-0" alone would make the column text; it is the sample boundary, not the data
    sampled = sniff(b"day,n\n2024-01-01,1\n2024-01-02,2\n2024-01-0", complete=False)

    assert sampled.rows == [("2024-01-01", "1"), ("2024-01-02", "2")]


def test_ragged_sample_rows_are_left_out_of_inference() -> None:
    sampled = sniff(b"a,b\n1,2\n3\n4,5,6\n7,8\n", complete=True)

    assert sampled.rows == [("1", "2"), ("7", "8")]


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (b"", EmptyFileError, "empty"),
        (b"\n\r\n  \n", EmptyFileError, "blank"),
        (b"\xef\xbb\xbf", EmptyFileError, "empty"),
        (b"id,name,score\n", HeaderOnlyFileError, "3 columns"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", BinaryFileError, "looks binary"),
        (b"PK\x03\x04\x14\x00\x06\x00", BinaryFileError, "looks binary"),
        (b"\x01\x02\x03abc\x04\x05", BinaryFileError, "control bytes"),
        ("a,b\n1,2\n".encode("utf-16"), UnsupportedEncodingError, "UTF-16"),
    ],
)
def test_files_that_can_never_convert_are_refused_with_a_reason(
    body: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        sniff(body, complete=True)


def test_gzip_is_recognised_by_its_magic_bytes_not_its_name() -> None:
    original = b"a,b\n1,2\n" * 1000
    stream, compression = decompressed(io.BytesIO(gzip.compress(original)))

    assert compression == "gzip"
    assert read_exactly(stream, 10**9) == original


def test_plain_text_passes_through_unchanged() -> None:
    stream, compression = decompressed(io.BytesIO(b"a,b\n1,2\n"))

    assert compression is None
    assert read_exactly(stream, 3) + read_exactly(stream, 100) == b"a,b\n1,2\n"


def test_truncated_gzip_is_a_corrupt_file() -> None:
    whole = gzip.compress(b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(10000)))
    stream, _ = decompressed(io.BytesIO(whole[: len(whole) // 2]))

    with pytest.raises(CorruptCompressionError, match="corrupt or truncated"):
        read_exactly(stream, 10**9)
