"""Cut a CSV byte stream into blocks of whole records, in bounded memory.

Cutting runs on the main thread, in order, so it must keep up with every parsing thread together. It therefore
guesses first: a block ends at the last line break with an even number of quote characters since the block's
start (``bytes.count``, memory speed). For well-formed files that is exactly a record boundary. The parsing
thread verifies the guess with the full record grammar (:mod:`.records`) whenever the block is not plain; if
the guess was wrong (a quote inside an unquoted value flips the parity, an unterminated quote), the consumer
calls :meth:`Blocks.split_exactly_from` and from there on every block is cut by the grammar itself.

A physical line longer than ``max_record_bytes`` is never held whole: it is streamed past, counted, and
reported as an :class:`OversizedLine` with its first bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lakepipe.domain.csv.boundaries import last_record_end
from lakepipe.domain.csv.dialect import BinaryReader, read_exactly
from lakepipe.domain.csv.records import RecordGrammar, RecordKind, RecordLayout, split_records

PREVIEW_BYTES = 1024


@dataclass(frozen=True)
class Block:
    """Whole records (by the guess, or by the grammar when ``layout`` is set), ``offset`` bytes into the stream."""

    data: bytes
    offset: int
    final: bool
    layout: RecordLayout | None = None


@dataclass(frozen=True)
class Drain:
    """Finish every block handed out before asking for the next piece (the chunker turns to the grammar)."""


@dataclass(frozen=True)
class OversizedLine:
    """A physical line longer than the record limit, ``length`` bytes from ``offset``; ``head`` is its start."""

    offset: int
    length: int
    head: bytes


class Blocks:
    """Blocks of about ``block_bytes`` from ``carry`` followed by the rest of ``stream``.

    ``offset`` is where ``carry`` starts in the stream. Iterate once; the iterator may be told to start over
    exactly from an earlier block (see the module docstring).
    """

    def __init__(
        self,
        stream: BinaryReader,
        *,
        grammar: RecordGrammar,
        block_bytes: int,
        carry: bytes = b"",
        offset: int = 0,
    ) -> None:
        self._stream = stream
        self._grammar = grammar
        self._block_bytes = block_bytes
        self._buffer = carry
        self._offset = offset
        self._at_end = False
        self._exact = False
        self._separator = b"\r" if _ends_lines_with_cr(carry) else b"\n"

    @property
    def exact(self) -> bool:
        return self._exact

    def split_exactly_from(self, offset: int, pending: bytes) -> None:
        """Start again at ``offset`` with the grammar: ``pending`` is every byte handed out since (discarded)."""
        self._buffer = pending + self._buffer
        self._offset = offset
        self._exact = True

    def __iter__(self) -> Iterator[Block | OversizedLine | Drain]:
        while True:
            self._fill(self._block_bytes)
            if not self._buffer:
                return
            piece = self._exact_piece() if self._exact else self._guessed_piece()
            if piece is None:
                return
            yield piece
            if isinstance(piece, Drain):
                # The consumer verified every guessed block (and may have started over exactly): go on with the
                # grammar, which may stream past a line, so no guessed block may wait behind it.
                self._exact = True
            elif isinstance(piece, Block) and piece.final:
                return

    # ----------------------------------------------------------------------------------------------- reading
    def _fill(self, wanted: int) -> None:
        missing = wanted - len(self._buffer)
        if missing > 0 and not self._at_end:
            data = read_exactly(self._stream, missing)
            self._at_end = len(data) < missing
            self._buffer = self._buffer + data if self._buffer else data

    def _read_more(self) -> bool:
        """Append one more block's worth; False at the end of the stream."""
        if self._at_end:
            return False
        data = read_exactly(self._stream, self._block_bytes)
        self._at_end = len(data) < self._block_bytes
        self._buffer += data
        return bool(data)

    def _take(self, size: int, *, layout: RecordLayout | None = None) -> Block:
        if size == len(self._buffer) and not self._at_end:
            self._fill(size + 1)  # is this the last block? one byte more tells
        final = self._at_end and size == len(self._buffer)  # nothing left to read, nothing left in the buffer
        block = Block(self._buffer[:size] if size < len(self._buffer) else self._buffer, self._offset, final, layout)
        self._buffer = self._buffer[size:]
        self._offset += size
        return block

    # ------------------------------------------------------------------------------------------------ guessing
    def _guessed_piece(self) -> Block | Drain | None:
        if self._at_end and len(self._buffer) <= self._block_bytes:
            return self._take(len(self._buffer))
        quote = self._grammar.quote
        cut = last_record_end(self._buffer, quote, self._separator, end=self._block_bytes)
        while cut <= 0:
            # No boundary (by the guess) in a whole block: a long record. Past the record limit the grammar decides.
            if len(self._buffer) > self._grammar.max_record_bytes:
                return Drain()
            if not self._read_more():
                return self._take(len(self._buffer))
            cut = last_record_end(self._buffer, quote, self._separator)
        return self._take(cut)

    # --------------------------------------------------------------------------------------------------- exact
    def _exact_piece(self) -> Block | OversizedLine | None:
        limit = max(self._block_bytes, 1)
        while True:
            final = self._at_end
            # The grammar's cost grows with what it reads: a window of two blocks, unless a record needs more.
            layout = None
            if not final and len(self._buffer) > 2 * limit:
                layout = split_records(self._buffer[: 2 * limit], self._grammar, final=False)
            if layout is None or not layout.count:
                layout = split_records(self._buffer, self._grammar, final=final)
            if layout.count:
                size = _records_up_to(layout, limit)
                kept = layout if size == layout.consumed else _first_records(layout, size)
                return self._take(size, layout=kept)
            if len(self._buffer) > self._grammar.max_record_bytes:
                return self._stream_past_line()
            if not self._read_more() and final:
                return None

    def _stream_past_line(self) -> OversizedLine:
        """The buffer starts a physical line longer than the limit: read on to its line break, keeping its head."""
        head = self._buffer[:PREVIEW_BYTES]
        length = 0
        while True:
            position = _first_line_break(self._buffer)
            if position >= 0:
                length += position
                self._buffer = self._buffer[position:]
                break
            length += len(self._buffer)
            self._buffer = b""
            if not self._read_more():
                break
        line = OversizedLine(self._offset, length, head)
        self._offset += length
        return line


def _first_line_break(data: bytes) -> int:
    """Index just past the first ``\\n`` or lone ``\\r`` (-1 if none complete yet)."""
    line_feed = data.find(b"\n")
    carriage = data.find(b"\r")
    if carriage >= 0 and (line_feed < 0 or carriage < line_feed):
        if carriage + 1 < len(data):
            return carriage + 2 if data[carriage + 1] == 0x0A else carriage + 1
        return -1  # "\r" at the end: the next byte may be its "\n"
    return line_feed + 1 if line_feed >= 0 else -1


def _records_up_to(layout: RecordLayout, limit: int) -> int:
    """Bytes of the records that fit in ``limit`` (at least the first record)."""
    import numpy as np  # noqa: PLC0415

    index = int(np.searchsorted(layout.ends, limit, side="right"))
    return int(layout.ends[max(index, 1) - 1])


def _first_records(layout: RecordLayout, size: int) -> RecordLayout:
    import numpy as np  # noqa: PLC0415

    count = int(np.searchsorted(layout.ends, size, side="right"))
    return RecordLayout(
        ends=layout.ends[:count],
        kinds=layout.kinds[:count],
        breaks=layout.breaks[:count],
        toggles=layout.toggles[layout.toggles < size],
    )


def _ends_lines_with_cr(sample: bytes) -> bool:
    """Classic Mac files end lines with ``\\r`` alone: the guess must cut there, not at a ``\\n``."""
    return b"\n" not in sample and b"\r" in sample


__all__ = ["Block", "Blocks", "Drain", "OversizedLine", "RecordKind"]
