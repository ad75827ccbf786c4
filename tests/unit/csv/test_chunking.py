"""Blocks cover the stream exactly once, end on record boundaries, and stay bounded in memory."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from lakepipe.domain.csv.boundaries import first_record_end, last_record_end
from lakepipe.domain.csv.chunking import Block, Blocks, Drain, OversizedLine
from lakepipe.domain.csv.records import RecordGrammar

GRAMMAR = RecordGrammar()


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


def pieces_of(blocks: Blocks) -> list[Block | OversizedLine]:
    return [piece for piece in blocks if not isinstance(piece, Drain)]


records = st.lists(st.lists(st.text(alphabet='ab,"\n é', max_size=12), min_size=3, max_size=3), min_size=1, max_size=40)


@given(records, st.integers(min_value=8, max_value=200), st.booleans())
def test_blocks_cover_the_stream_once_and_each_holds_whole_records(
    rows: list[list[str]], block_bytes: int, exact: bool
) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(rows)
    body = text.getvalue().encode()
    blocks = Blocks(io.BytesIO(body), grammar=GRAMMAR, block_bytes=block_bytes)
    if exact:
        blocks.split_exactly_from(0, b"")

    pieces = pieces_of(blocks)

    assert all(isinstance(piece, Block) for piece in pieces)
    assert b"".join(piece.data for piece in pieces if isinstance(piece, Block)) == body
    offsets = [piece.offset for piece in pieces if isinstance(piece, Block)]
    assert offsets == [sum(len(p.data) for p in pieces[:i] if isinstance(p, Block)) for i in range(len(pieces))]
    parsed = [
        row for p in pieces if isinstance(p, Block) for row in csv.reader(io.StringIO(p.data.decode(), newline=""))
    ]
    assert parsed == rows
    assert pieces[-1].final if isinstance(pieces[-1], Block) else False


def test_a_stray_quote_does_not_hold_the_rest_of_the_file_in_memory() -> None:
    # Given an unquoted value with a quote in it: quote parity is wrong for every later newline
    body = b'id,size\n1,5" screen\n' + b"".join(b"%d,ok\n" % i for i in range(2, 2000))
    grammar = RecordGrammar(max_record_bytes=1024)

    pieces = pieces_of(Blocks(io.BytesIO(body), grammar=grammar, block_bytes=256))

    assert b"".join(piece.data for piece in pieces if isinstance(piece, Block)) == body
    assert max(len(piece.data) for piece in pieces if isinstance(piece, Block)) <= 2 * 1024


def test_a_line_over_the_record_limit_is_streamed_past_and_reported_with_its_head() -> None:
    body = b"a,b\n1,2\n" + b"x" * 10_000 + b"\n3,4\n"
    grammar = RecordGrammar(max_record_bytes=1000)

    pieces = list(Blocks(io.BytesIO(body), grammar=grammar, block_bytes=256))

    oversized = [piece for piece in pieces if isinstance(piece, OversizedLine)]
    assert len(oversized) == 1
    assert (oversized[0].offset, oversized[0].length) == (8, 10_001)
    assert oversized[0].head == b"x" * 1024
    # A drain comes first: every guessed block is verified before a line is streamed past
    assert isinstance(pieces[pieces.index(oversized[0]) - 1], Drain)
    kept = b"".join(piece.data for piece in pieces if isinstance(piece, Block))
    assert kept == b"a,b\n1,2\n3,4\n"


def test_splitting_exactly_from_an_earlier_block_hands_out_its_bytes_again() -> None:
    body = b"".join(b"%d,row\n" % i for i in range(100))
    blocks = Blocks(io.BytesIO(body), grammar=GRAMMAR, block_bytes=64)
    iterator = iter(blocks)
    first = next(iterator)
    second = next(iterator)
    assert isinstance(first, Block)
    assert isinstance(second, Block)

    blocks.split_exactly_from(first.offset, first.data + second.data)
    again = pieces_of(blocks)

    assert blocks.exact
    assert all(isinstance(piece, Block) and piece.layout is not None for piece in again)
    assert b"".join(piece.data for piece in again if isinstance(piece, Block)) == body
