"""Blocks end on record boundaries, never inside a quoted value, whatever the block size."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from lakepipe.domain.csv.boundaries import first_record_end, last_record_end
from lakepipe.domain.csv.chunking import iter_blocks


def test_last_record_end_skips_newlines_inside_quotes() -> None:
    buffer = b'a,b\n1,"two\nlines"\n2,"open\nquote'

    assert last_record_end(buffer, b'"', b"\n") == len(b'a,b\n1,"two\nlines"\n')
    assert last_record_end(buffer, None, b"\n") == len(buffer) - len(b"quote")


def test_doubled_quotes_inside_a_value_keep_the_parity() -> None:
    buffer = b'1,"say ""hi""\nthere"\n2,x'

    assert last_record_end(buffer, b'"', b"\n") == len(b'1,"say ""hi""\nthere"\n')
    assert first_record_end(buffer, b'"', b"\n") == len(b'1,"say ""hi""\nthere"\n')


def test_no_boundary_when_the_only_newline_is_quoted() -> None:
    assert last_record_end(b'1,"a\nb', b'"', b"\n") == -1
    assert first_record_end(b'1,"a\nb', b'"', b"\n") == -1


records = st.lists(st.lists(st.text(alphabet='ab,"\n é', max_size=12), min_size=3, max_size=3), min_size=1, max_size=40)


# Blocks at least a third of the longest record: beyond four blocks without a boundary the cap cuts anyway.
@given(records, st.integers(min_value=32, max_value=200))
def test_blocks_concatenate_to_the_input_and_each_holds_whole_records(rows: list[list[str]], block_bytes: int) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    body = text.getvalue().encode()

    blocks = [
        block.to_bytes() for block in iter_blocks(io.BytesIO(body), block_bytes=block_bytes, quote=b'"', newline=b"\n")
    ]

    assert b"".join(blocks) == body
    parsed = [row for block in blocks for row in csv.reader(io.StringIO(block.decode(), newline=""))]
    assert parsed == [["" if value == "" else value for value in row] for row in rows]


def test_a_stray_quote_does_not_hold_the_rest_of_the_file_in_memory() -> None:
    # Given an unquoted value with a quote in it: quote parity is wrong for every later newline
    body = b'id,size\n1,5" screen\n' + b"".join(b"%d,ok\n" % i for i in range(2, 2000))

    blocks = list(iter_blocks(io.BytesIO(body), block_bytes=256, quote=b'"', newline=b"\n"))

    assert b"".join(block.to_bytes() for block in blocks) == body
    assert max(block.end for block in blocks) <= 5 * 256
    assert all(block.to_bytes().endswith(b"\n") for block in blocks)
