"""A trace drawn as the X-Ray console's timeline draws it: one row per segment and subsegment, in tree order,
each a bar from its start to its end on a shared time axis (PNG with matplotlib, or a terminal view with rich).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from lakepipe_cli.xray_local import Span, Trace

_COLOURS = {"segment": "#232f3e", "local": "#1b998b", "aws": "#ff9900", "remote": "#7d3c98"}
# The console's colours for its three failure flags.
_FLAG_COLOURS = {"fault": "#d13212", "error": "#b35900", "throttle": "#8c4fff"}


@dataclass(frozen=True)
class WaterfallRow:
    label: str
    depth: int
    kind: str  # segment | local | aws | remote
    start_ms: float
    duration_ms: float
    flag: str  # fault | error | throttle, or ""
    status: str  # the HTTP status, or "" when the entity has none


def _label(span: Span) -> str:
    detail = span.aws_operation or span.document.get("http", {}).get("request", {}).get("method")
    return f"{span.name} {detail}" if detail else span.name


def waterfall_rows(trace: Trace) -> list[WaterfallRow]:
    """The rows of the timeline: every entity of the trace, depth first, times relative to the trace's start."""
    origin = trace.start
    rows = []
    for root in trace.roots:
        for depth, span in root.walk():
            end = span.end if span.end is not None else trace.end  # still in progress when the trace was read
            rows.append(
                WaterfallRow(
                    label=_label(span),
                    depth=depth,
                    kind="segment" if span.is_segment else (span.namespace or "local"),
                    start_ms=(span.start - origin) * 1000,
                    duration_ms=(end - span.start) * 1000,
                    flag=span.flag,
                    status="" if span.http_status is None else str(span.http_status),
                )
            )
    return rows


def render_png(trace: Trace, path: Path) -> Path:
    """The trace's timeline as a PNG (an X-Ray console look-alike): names on the left, bars on a time axis."""
    import matplotlib as mpl  # noqa: PLC0415 - heavy, and only needed here

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = waterfall_rows(trace)
    total_ms = max((row.start_ms + row.duration_ms for row in rows), default=1.0) or 1.0
    figure, (names, timeline) = plt.subplots(
        1, 2, figsize=(12, 1.0 + 0.28 * len(rows)), sharey=True, gridspec_kw={"width_ratios": [1, 2.6]}
    )
    for index, row in enumerate(rows):
        colour = _COLOURS.get(row.kind, _COLOURS["local"])
        flag_colour = _FLAG_COLOURS.get(row.flag)
        names.text(0.02 + 0.05 * row.depth, index, row.label, va="center", fontsize=8, color=flag_colour or "black")
        timeline.barh(
            index,
            max(row.duration_ms, total_ms / 400),
            left=row.start_ms,
            height=0.6,
            color=colour,
            edgecolor=flag_colour or colour,
            linewidth=2 if flag_colour else 0,
        )
        note = " ".join(part for part in (f"{row.duration_ms:.1f} ms", row.status, row.flag) if part)
        timeline.text(row.start_ms + row.duration_ms + total_ms / 150, index, note, va="center", fontsize=7)
    names.set_xlim(0, 1)
    names.set_ylim(len(rows) - 0.5, -0.5)
    names.axis("off")
    timeline.set_xlim(0, total_ms * 1.2)
    timeline.set_yticks([])
    timeline.set_xlabel("milliseconds since the trace started")
    timeline.grid(axis="x", alpha=0.3)
    figure.suptitle(f"{trace.root.name} — trace {trace.trace_id} — {total_ms:.0f} ms", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def terminal_view(trace: Trace, width: int = 48) -> Table:
    """The same timeline as a rich table: indented names, durations, status and a bar per row."""
    rows = waterfall_rows(trace)
    total_ms = max((row.start_ms + row.duration_ms for row in rows), default=1.0) or 1.0
    table = Table(title=f"X-Ray trace {trace.trace_id} ({trace.root.name}, {total_ms:.0f} ms)", title_justify="left")
    table.add_column("segment / subsegment", no_wrap=True)
    table.add_column("ms", justify="right")
    table.add_column("status", justify="right")
    table.add_column("timeline", no_wrap=True)
    for row in rows:
        first = round(row.start_ms / total_ms * width)
        length = max(1, round(row.duration_ms / total_ms * width))
        style = {"fault": "red", "error": "dark_orange", "throttle": "purple"}.get(row.flag) or {
            "aws": "yellow",
            "remote": "magenta",
            "segment": "blue",
        }.get(row.kind, "cyan")
        bar = Text(" " * min(first, width - 1)) + Text("█" * min(length, width - first or 1), style=style)
        table.add_row(
            Text("  " * row.depth + row.label, style=style if row.flag else ""),
            f"{row.duration_ms:.1f}",
            " ".join(part for part in (row.status, row.flag) if part),
            bar,
        )
    return table


def print_terminal_view(trace: Trace, console: Console) -> None:
    """Print :func:`terminal_view` with the timeline as wide as the console leaves room for."""
    rows = waterfall_rows(trace)
    name_width = max((2 * row.depth + len(row.label) for row in rows), default=10)
    console.print(terminal_view(trace, width=max(16, min(60, console.width - name_width - 32))))
