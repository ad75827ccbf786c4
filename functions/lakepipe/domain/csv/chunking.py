"""Cut a CSV byte stream into blocks that end on record boundaries.

A newline inside a quoted value does not end a record. With RFC 4180 quoting (a quote inside a value is
doubled) a newline ends a record exactly when an even number of quote characters precede it since the last
record boundary, so ``bytes.count`` finds boundaries at memory speed without a Python loop per byte, and a
block without any quote character needs no count at all.
A stray quote in an unquoted value breaks that parity; the carried-over bytes are then capped, and the block
is cut at the last newline anyway (the parser judges it and the careful path quarantines what is broken).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lakepipe.domain.csv.boundaries import last_record_end
from lakepipe.domain.csv.dialect import BinaryReader, read_exactly
from lakepipe.domain.csv.errors import RecordTooLongError

# Beyond this many block sizes without a record boundary outside quotes, cut at a newline regardless.
_MAX_CARRY_BLOCKS = 4
# Beyond this many block sizes without any newline at all, the file is not line-oriented text.
_MAX_RECORD_BLOCKS = 64


@dataclass(frozen=True)
class Block:
    """Whole records: the first ``end`` bytes of ``buffer``, shared with the parser without a copy."""

    buffer: bytes
    end: int

    def view(self) -> memoryview:
        return memoryview(self.buffer)[: self.end]

    def count(self, needle: bytes) -> int:
        return self.buffer.count(needle, 0, self.end)

    def to_bytes(self) -> bytes:
        return self.buffer if self.end == len(self.buffer) else self.buffer[: self.end]


def iter_blocks(
    stream: BinaryReader, *, block_bytes: int, quote: bytes | None, newline: bytes, carry: bytes = b""
) -> Iterator[Block]:
    """Blocks of about ``block_bytes`` whole records from ``carry`` followed by the rest of ``stream``.

    Line numbers are left to the consumer (``block.count(newline)``), so that pass runs on the parsing threads.
    """
    buffer = carry
    at_end = False
    while True:
        # Top the buffer up to one block (the carry is usually a fraction of a record): one copy per byte.
        wanted = block_bytes - len(buffer)
        if wanted > 0 and not at_end:
            data = read_exactly(stream, wanted)
            at_end = len(data) < wanted
            buffer = buffer + data if buffer else data
        if at_end and len(buffer) <= block_bytes:
            if buffer:
                yield Block(buffer, len(buffer))
            return
        cut = last_record_end(buffer, quote, newline, end=block_bytes)
        while cut <= 0:  # no record ends within the block: take in more
            if len(buffer) > _MAX_CARRY_BLOCKS * block_bytes:
                cut = buffer.rfind(newline) + 1  # cap the carry: cut at a newline, quoted or not
                if cut <= 0 and len(buffer) > _MAX_RECORD_BLOCKS * block_bytes:
                    raise RecordTooLongError(f"no line break in {len(buffer)} bytes; is this really a CSV file?")
                if cut > 0:
                    break
            if at_end:
                yield Block(buffer, len(buffer))
                return
            data = read_exactly(stream, block_bytes)
            at_end = len(data) < block_bytes
            buffer += data
            cut = last_record_end(buffer, quote, newline)
        yield Block(buffer, cut)
        buffer = buffer[cut:]
