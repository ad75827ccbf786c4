"""Where every CSV record starts and ends in the bytes: the record grammar, independent of the value parser.

The conversion never trusts the value parser (pyarrow) to say how many records a block holds: this module does,
with the grammar pyarrow and Python's csv module share, and every record it finds must come out of the
conversion either as a row, as a quarantined record or as a skipped line. That is what the byte reconciliation
of :mod:`.accounting` checks, so a parser that swallowed or invented rows cannot go unnoticed.

The grammar (RFC 4180 as lenient parsers read it):

* A record ends at a line break outside a quoted field: ``\\n``, ``\\r\\n`` or a lone ``\\r``.
* A quote character opens a quoted field only at the start of a field (after a delimiter, at the start of a
  record, or after leading spaces when the dialect skips them). Anywhere else outside a quoted field it is a
  literal character (``5" pipe`` is a value, not the start of a quoted field).
* Inside a quoted field a doubled quote is a literal quote, and the escape character (when the dialect has one)
  makes the next byte literal; a quote followed by anything but a delimiter or a line break ends the quoted part
  and the rest of the field is literal.
* A line whose first byte is the comment character is a comment, up to its first line break.

Two limits keep one broken record from swallowing the rest of a file: a quoted field still open after
``max_record_lines`` physical lines or ``max_record_bytes`` bytes (or at the end of the file) is treated as an
*unterminated quote*: its record ends at its first physical line, which is quarantined, and the grammar starts
again on the next line. A complete record longer than ``max_record_bytes`` is quarantined whole.

Blocks without quotes, lone carriage returns, blank or comment lines are split with ``bytes`` methods at memory
speed; only the others go through numpy, whose work grows with the number of quotes and line breaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

LF = 0x0A
CR = 0x0D
SPACE = 0x20
DEFAULT_MAX_RECORD_LINES = 1_000
DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024


class RecordKind(IntEnum):
    """What a record is, as far as the grammar can tell (its values are the value parser's business)."""

    DATA = 0
    BLANK = 1  # nothing but its line break
    COMMENT = 2  # starts with the comment character
    UNTERMINATED_QUOTE = 3  # opens a quoted field that does not close within the limits: its first line only
    TOO_LONG = 4  # a complete record longer than max_record_bytes


@dataclass(frozen=True)
class RecordGrammar:
    """The bytes that structure records (all ASCII, so the same in UTF-8, cp1252 and latin-1)."""

    delimiter: bytes = b","
    quote: bytes | None = b'"'
    escape: bytes | None = None
    comment: bytes | None = None
    skip_initial_space: bool = False
    max_record_lines: int = DEFAULT_MAX_RECORD_LINES
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES

    def is_plain(self, data: bytes | memoryview, start: int = 0, end: int | None = None) -> bool:
        """Whether every physical line of ``data[start:end]`` is one data record, told by ``bytes`` scans alone:
        no quote, escape or lone carriage return, no blank line and no comment line."""
        raw = data if isinstance(data, bytes) else bytes(data)
        stop = len(raw) if end is None else end
        if stop <= start:
            return True
        special = [self.quote, self.escape]
        if any(byte is not None and raw.find(byte, start, stop) >= 0 for byte in special):
            return False
        if raw.find(b"\r", start, stop) >= 0 or raw.find(b"\n\n", start, stop) >= 0 or raw[start] == LF:
            return False
        return self.comment is None or (
            raw[start] != self.comment[0] and raw.find(b"\n" + self.comment, start, stop) < 0
        )


@dataclass
class RecordLayout:
    """Records of one buffer: ``ends[i]`` is just past record ``i`` (relative to the buffer), ``kinds[i]`` its kind.

    Record ``i`` spans ``starts[i]:ends[i]`` and includes its line break; records are contiguous, so together
    they cover the buffer's first ``consumed`` bytes exactly once.
    """

    ends: NDArray[np.int64]
    kinds: NDArray[np.uint8]
    # Line breaks inside each record (quoted newlines): record i spans 1 + breaks[i] physical lines.
    breaks: NDArray[np.int64]
    # Positions of the quotes that opened or closed quoted fields (field counting needs them again).
    toggles: NDArray[np.int64]

    @property
    def count(self) -> int:
        return int(self.ends.size)

    @property
    def consumed(self) -> int:
        return int(self.ends[-1]) if self.ends.size else 0

    @property
    def starts(self) -> NDArray[np.int64]:
        import numpy as np  # noqa: PLC0415 - numpy only for the blocks that need it

        starts = np.zeros_like(self.ends)
        starts[1:] = self.ends[:-1]
        return starts

    @property
    def lengths(self) -> NDArray[np.int64]:
        return self.ends - self.starts

    def lines_before(self) -> NDArray[np.int64]:
        """Physical lines before each record (its line number minus the buffer's first line number)."""
        import numpy as np  # noqa: PLC0415

        before = np.zeros_like(self.breaks)
        if self.breaks.size > 1:
            np.cumsum(1 + self.breaks[:-1], out=before[1:])
        return before

    @property
    def physical_lines(self) -> int:
        return int(self.breaks.sum()) + self.count


def plain_layout(data: bytes, *, final: bool) -> RecordLayout:
    """The layout of a buffer :meth:`RecordGrammar.is_plain` accepted: one data record per ``\\n``."""
    import numpy as np  # noqa: PLC0415

    array = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(array == LF).astype(np.int64) + 1
    if final and array.size and (not ends.size or ends[-1] != array.size):
        ends = np.append(ends, np.int64(array.size))
    zeros = np.zeros(ends.size, np.int64)
    return RecordLayout(ends=ends, kinds=zeros.astype(np.uint8), breaks=zeros, toggles=np.zeros(0, np.int64))


@dataclass
class _Pass:
    """One pass of the grammar from a record boundary, up to the first record it had to cut (if any)."""

    ends: Any
    kinds: Any
    breaks: Any
    toggles: Any
    resume: int | None  # where the next pass starts (just after a cut), or None: this pass reached its end


def split_records(data: bytes, grammar: RecordGrammar, *, final: bool) -> RecordLayout:
    """The records of ``data``, which starts at a record boundary.

    With ``final`` the buffer ends the file and its last record ends with it; otherwise only records that end
    within ``data`` are returned (``consumed`` says where the next buffer starts) and an open quoted field waits
    for more bytes, up to the limits. A quoted field open past ``max_record_lines`` lines or
    ``max_record_bytes`` bytes, or at the end of the file, is an unterminated quote: its record ends at its
    first physical line and the grammar starts again on the next one.
    """
    import numpy as np  # noqa: PLC0415

    array = np.frombuffer(data, dtype=np.uint8)
    passes: list[_Pass] = []
    offsets: list[int] = []
    start = 0
    while start < array.size:
        piece = _one_pass(array[start:], grammar, final=final)
        passes.append(piece)
        offsets.append(start)
        if piece.resume is None:
            break
        start += piece.resume
    if not passes:
        empty = np.zeros(0, np.int64)
        return RecordLayout(ends=empty, kinds=empty.astype(np.uint8), breaks=empty, toggles=empty)
    return RecordLayout(
        ends=np.concatenate([piece.ends + offset for piece, offset in zip(passes, offsets, strict=True)]),
        kinds=np.concatenate([piece.kinds for piece in passes]).astype(np.uint8, copy=False),
        breaks=np.concatenate([piece.breaks for piece in passes]),
        toggles=np.concatenate([piece.toggles + offset for piece, offset in zip(passes, offsets, strict=True)]),
    )


def _one_pass(view: Any, grammar: RecordGrammar, *, final: bool) -> _Pass:
    import numpy as np  # noqa: PLC0415

    size = int(view.size)
    escaped = _escaped_positions(view, grammar.escape)
    breaks_at = _line_breaks(view, final=final, escaped=escaped)
    toggles = _quote_toggles(view, grammar, escaped)
    if grammar.comment is not None:
        toggles = _without_quotes_on_comment_lines(view, grammar, breaks_at, toggles)
    # A line break ends a record when an even number of toggling quotes precede it.
    record_break = np.flatnonzero((np.searchsorted(toggles, breaks_at) & 1) == 0)
    ends = breaks_at[record_break] + 1
    inner = np.diff(record_break, prepend=-1) - 1
    starts = np.zeros_like(ends)
    starts[1:] = ends[:-1]
    tail_start = int(ends[-1]) if ends.size else 0
    tail_open = bool((toggles.size - np.searchsorted(toggles, tail_start)) & 1)
    tail_breaks = int(breaks_at.size - (record_break[-1] + 1 if record_break.size else 0))

    tail_over_limits = tail_breaks >= grammar.max_record_lines or size - tail_start > grammar.max_record_bytes
    cut_tail = tail_start < size and tail_open and (final or (tail_breaks > 0 and tail_over_limits))
    if tail_start < size and final and not tail_open:  # the last record, without a line break
        ends, inner = np.append(ends, np.int64(size)), np.append(inner, np.int64(tail_breaks))
        starts = np.append(starts, np.int64(tail_start))
    # The first record to break a limit (several physical lines, and too many or too long) is cut at its first
    # line; so is an open tail at the end of the file or past a limit. Anything else open waits for more bytes.
    over = np.flatnonzero(
        (inner > 0) & ((inner >= grammar.max_record_lines) | (ends - starts > grammar.max_record_bytes))
    )
    if over.size or cut_tail:
        index = int(over[0]) if over.size else ends.size
        return _cut(
            view,
            grammar=grammar,
            starts=starts,
            ends=ends,
            inner=inner,
            toggles=toggles,
            index=index,
            breaks_at=breaks_at,
        )
    kept_toggles = toggles[toggles < ends[-1]] if ends.size else toggles[:0]
    return _Pass(ends, _kinds(view, starts, ends, inner, grammar), inner, kept_toggles, None)


def _cut(
    view: Any,
    *,
    grammar: RecordGrammar,
    starts: Any,
    ends: Any,
    inner: Any,
    toggles: Any,
    index: int,
    breaks_at: Any,
) -> _Pass:
    """Records before ``index`` stand; the record at ``index`` ends at its first line break (unterminated quote)."""
    import numpy as np  # noqa: PLC0415

    cut_start = int(starts[index]) if index < ends.size else (int(ends[-1]) if ends.size else 0)
    following = breaks_at[np.searchsorted(breaks_at, cut_start) :]
    cut_end = int(following[0]) + 1 if following.size else int(view.size)
    kept_ends = np.append(ends[:index], np.int64(cut_end))
    kept_inner = np.append(inner[:index], np.int64(0))
    # A first line that is itself over the byte limit is reported as such, however the bytes were buffered.
    cut_kind = RecordKind.TOO_LONG if cut_end - cut_start > grammar.max_record_bytes else RecordKind.UNTERMINATED_QUOTE
    kinds = np.append(_kinds(view, starts[:index], ends[:index], inner[:index], grammar), np.uint8(cut_kind))
    resume = cut_end if cut_end < view.size else None
    return _Pass(kept_ends, kinds, kept_inner, toggles[toggles < cut_start], resume)


def _escaped_positions(view: Any, escape: bytes | None) -> Any:
    """Positions made literal by the escape character (the byte after an odd run of escapes), or None."""
    import numpy as np  # noqa: PLC0415

    if escape is None:
        return None
    is_escape = view == escape[0]
    if not is_escape.any():
        return None
    positions = np.arange(view.size, dtype=np.int64)
    last_plain = np.maximum.accumulate(np.where(is_escape, -1, positions))  # last non-escape byte at or before
    run_before = np.zeros(view.size, np.int64)
    run_before[1:] = positions[:-1] - last_plain[:-1]
    return np.flatnonzero((run_before & 1) == 1)


def _without(positions: Any, escaped: Any) -> Any:
    import numpy as np  # noqa: PLC0415

    if escaped is None or not positions.size:
        return positions
    return positions[~np.isin(positions, escaped, assume_unique=True)]


def _line_breaks(view: Any, *, final: bool, escaped: Any) -> Any:
    """Positions of the bytes that end a physical line: ``\\n``, and ``\\r`` not followed by ``\\n``."""
    import numpy as np  # noqa: PLC0415

    breaks_at = np.flatnonzero(view == LF).astype(np.int64)
    returns = np.flatnonzero(view == CR)
    if returns.size:
        has_next = returns + 1 < view.size
        followed = np.zeros(returns.size, bool)
        followed[has_next] = view[returns[has_next] + 1] == LF
        # A buffer that ends on "\r" may go on with "\n": not a break until the next read tells.
        lone = returns[~followed & (has_next | final)]
        if lone.size:
            breaks_at = np.union1d(breaks_at, lone.astype(np.int64))
    return _without(breaks_at, escaped)


def _quote_toggles(view: Any, grammar: RecordGrammar, escaped: Any) -> Any:
    """Positions of the quotes that open or close quoted fields (the others are literal characters)."""
    import numpy as np  # noqa: PLC0415

    if grammar.quote is None:
        return np.zeros(0, np.int64)
    quotes = _without(np.flatnonzero(view == grammar.quote[0]).astype(np.int64), escaped)
    if not quotes.size:
        return quotes
    at_field_start = _at_field_start(view, quotes, grammar, escaped)
    after_quote = np.zeros(quotes.size, bool)
    after_quote[1:] = quotes[1:] == quotes[:-1] + 1
    # If every quote toggles, the even-indexed ones are met outside a quoted field: each must open one, or
    # follow the quote that just closed one (a doubled quote). The first that does neither is a literal, and
    # from there on the quotes are walked one by one (rare: quotes inside unquoted values).
    outside = (np.arange(quotes.size) & 1) == 0
    literals = np.flatnonzero(outside & ~at_field_start & ~after_quote)
    if not literals.size:
        return quotes
    first = int(literals[0])
    return np.concatenate((quotes[:first], _walk_quotes(quotes[first:], at_field_start[first:])))


def _at_field_start(view: Any, quotes: Any, grammar: RecordGrammar, escaped: Any) -> Any:
    """Which quotes open a field: after an unescaped delimiter or line break (or leading spaces, if skipped)."""
    import numpy as np  # noqa: PLC0415

    separators = np.array([grammar.delimiter[0], LF, CR], np.uint8)
    previous_index = quotes - 1
    if grammar.skip_initial_space:  # leading spaces of a field are skipped: look before them
        positions = np.arange(view.size, dtype=np.int64)
        last_not_space = np.maximum.accumulate(np.where(view == SPACE, -1, positions))
        previous_index = np.where(quotes > 0, last_not_space[np.maximum(quotes - 1, 0)], -1)
    previous = view[np.maximum(previous_index, 0)]
    separated = np.isin(previous, separators)
    if escaped is not None:  # an escaped delimiter is part of the value: the quote after it is a literal
        separated &= ~np.isin(previous_index, escaped)
    return (previous_index < 0) | separated


def _walk_quotes(quotes: Any, at_field_start: Any) -> Any:
    """The toggling quotes among ``quotes``, met outside a quoted field, one by one."""
    import numpy as np  # noqa: PLC0415

    toggles: list[int] = []
    inside = False
    last_close = -2
    for position, field_start in zip(quotes.tolist(), at_field_start.tolist(), strict=True):
        if inside:
            inside, last_close = False, position
            toggles.append(position)
        elif field_start or position == last_close + 1:
            inside = True
            toggles.append(position)
    return np.array(toggles, np.int64)


def _without_quotes_on_comment_lines(view: Any, grammar: RecordGrammar, breaks_at: Any, toggles: Any) -> Any:
    """Quotes on a comment line are literal: drop them, until no comment line holds one."""
    import numpy as np  # noqa: PLC0415

    assert grammar.comment is not None
    while toggles.size:
        record_starts = np.concatenate(([0], breaks_at[(np.searchsorted(toggles, breaks_at) & 1) == 0] + 1))
        record_starts = record_starts[record_starts < view.size]
        comments = record_starts[view[record_starts] == grammar.comment[0]]
        if not comments.size:
            return toggles
        next_break = np.searchsorted(breaks_at, comments)
        line_ends = np.where(
            next_break < breaks_at.size, breaks_at[np.minimum(next_break, breaks_at.size - 1)], view.size
        )
        on_comment = np.zeros(toggles.size, bool)
        for begin, end in zip(
            np.searchsorted(toggles, comments).tolist(), np.searchsorted(toggles, line_ends).tolist(), strict=True
        ):
            on_comment[begin:end] = True
        if not on_comment.any():
            return toggles
        toggles = toggles[~on_comment]
    return toggles


def _kinds(view: Any, starts: Any, ends: Any, inner: Any, grammar: RecordGrammar) -> Any:
    import numpy as np  # noqa: PLC0415

    kinds = np.zeros(starts.size, np.uint8)
    if not starts.size:
        return kinds
    lengths = ends - starts
    first = view[starts]
    second = view[np.minimum(starts + 1, view.size - 1)]
    blank = ((lengths == 1) & ((first == LF) | (first == CR))) | ((lengths == 2) & (first == CR) & (second == LF))
    kinds[blank] = RecordKind.BLANK
    if grammar.comment is not None:
        kinds[(first == grammar.comment[0]) & ~blank] = RecordKind.COMMENT
    kinds[(lengths > grammar.max_record_bytes) & (kinds == RecordKind.DATA)] = RecordKind.TOO_LONG
    return kinds


def field_counts(data: bytes, layout: RecordLayout, grammar: RecordGrammar) -> NDArray[np.int64]:
    """Fields of every record (delimiters outside quoted fields, plus one); 0 for blank and comment records."""
    import numpy as np  # noqa: PLC0415

    array = np.frombuffer(data, dtype=np.uint8)[: layout.consumed]
    counts = np.ones(layout.count, np.int64)
    delimiters = _without(
        np.flatnonzero(array == grammar.delimiter[0]).astype(np.int64), _escaped_positions(array, grammar.escape)
    )
    if delimiters.size:
        owners = np.searchsorted(layout.ends, delimiters, side="right")
        # Toggles before the delimiter, less those before its record's start: odd means inside a quoted field.
        inside = (
            np.searchsorted(layout.toggles, delimiters) - np.searchsorted(layout.toggles, layout.starts[owners])
        ) & 1
        counts += np.bincount(owners[inside == 0], minlength=layout.count)
    counts[(layout.kinds == RecordKind.BLANK) | (layout.kinds == RecordKind.COMMENT)] = 0
    return counts


def without_initial_spaces(data: bytes, layout: RecordLayout, grammar: RecordGrammar) -> tuple[bytes, RecordLayout]:
    """``data`` with the spaces that open a field outside quotes removed, as a ``skipinitialspace`` dialect
    reads them (the value parser keeps them), and the layout of the result: the same records, shorter.

    A space opens a field when only spaces separate it from the record's start or from an unescaped delimiter
    outside a quoted field; spaces inside quoted fields and inside values stay, and so do those of a record made
    of nothing but spaces.
    """
    import numpy as np  # noqa: PLC0415

    view = np.frombuffer(data, dtype=np.uint8)[: layout.consumed]
    is_space = view == SPACE
    if not grammar.skip_initial_space or not is_space.any():
        return data, layout
    positions = np.arange(view.size, dtype=np.int64)
    spaces = np.flatnonzero(is_space)
    before = np.maximum.accumulate(np.where(is_space, -1, positions))[spaces]  # the last non-space before each
    owners = np.searchsorted(layout.ends, spaces, side="right")
    starts = layout.starts[owners]
    after_delimiter = (before >= starts) & (view[np.maximum(before, 0)] == grammar.delimiter[0])
    escaped = _escaped_positions(view, grammar.escape)
    if escaped is not None:
        after_delimiter &= ~np.isin(before, escaped)
    # A record of nothing but spaces keeps them: without, it would be a blank line, which the value parser
    # skips (csv.reader reads one empty field, which the value parser reads from the spaces as well).
    after = np.minimum.accumulate(np.where(is_space, view.size, positions)[::-1])[::-1][spaces]
    ends_record = (after >= layout.ends[owners]) | np.isin(view[np.minimum(after, view.size - 1)], [LF, CR])
    opening = ((before < starts) & ~ends_record) | after_delimiter
    candidates = spaces[opening]
    inside = (np.searchsorted(layout.toggles, candidates) - np.searchsorted(layout.toggles, starts[opening])) & 1
    dropped = candidates[inside == 0]
    if not dropped.size:
        return data, layout
    keep = np.ones(view.size, bool)
    keep[dropped] = False
    shift = np.searchsorted(dropped, layout.ends)  # spaces dropped before each record's end
    return view[keep].tobytes(), RecordLayout(
        ends=layout.ends - shift,
        kinds=layout.kinds,
        breaks=layout.breaks,
        toggles=layout.toggles - np.searchsorted(dropped, layout.toggles),
    )
