"""Where records end in CSV bytes: the first or last newline outside quoted values.

With RFC 4180 quoting (a quote inside a value is doubled) a newline ends a record exactly when an even number
of quote characters precede it since the start of a record, so ``bytes.count`` finds boundaries at memory
speed without a Python loop per byte.
"""

from __future__ import annotations


def last_record_end(buffer: bytes, quote: bytes | None, newline: bytes, end: int | None = None) -> int:
    """Index just past the last newline of ``buffer[:end]`` outside quotes, or -1 (``buffer`` starts a record)."""
    position = buffer.rfind(newline, 0, end)
    if position < 0 or quote is None or buffer.find(quote, 0, position) < 0:
        return position + 1 if position >= 0 else -1
    quotes_before = buffer.count(quote, 0, position)
    while quotes_before % 2:
        previous = buffer.rfind(newline, 0, position)
        if previous < 0:
            return -1
        quotes_before -= buffer.count(quote, previous, position)
        position = previous
    return position + 1


def first_record_end(buffer: bytes, quote: bytes | None, newline: bytes) -> int:
    """Index just past the first newline of ``buffer`` outside quotes, or -1 (the header's end)."""
    position = buffer.find(newline)
    quotes_before = 0
    scanned = 0
    while position >= 0:
        if quote is not None:
            quotes_before += buffer.count(quote, scanned, position)
            scanned = position
        if quotes_before % 2 == 0:
            return position + 1
        position = buffer.find(newline, position + 1)
    return -1
