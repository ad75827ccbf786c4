"""A trace's waterfall: one row per entity in tree order, on the trace's own time axis, failures flagged."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from lakepipe_cli.trace_waterfall import render_png, terminal_view, waterfall_rows
from lakepipe_cli.xray_local import Trace

TRACE_ID = "1-6b0f2713-d81b7ea503995766c3dc0641"
# A function segment as Lambda records it and two documents as the SDK streams them (one with a nested child).
DOCUMENTS = [
    {"name": "Fn", "id": "a" * 16, "trace_id": TRACE_ID, "start_time": 100.000, "end_time": 100.300,
     "origin": "AWS::Lambda::Function"},
    {"name": "## lambda_handler", "id": "b" * 16, "trace_id": TRACE_ID, "parent_id": "a" * 16, "type": "subsegment",
     "start_time": 100.010, "end_time": 100.290, "namespace": "local",
     "subsegments": [{"name": "s3", "id": "c" * 16, "start_time": 100.050, "end_time": 100.070, "namespace": "aws",
                      "aws": {"operation": "HeadObject"}, "http": {"response": {"status": 404}}, "error": True,
                      "fault": True}]},
    {"name": "api.open-meteo.com", "id": "d" * 16, "trace_id": TRACE_ID, "parent_id": "b" * 16,
     "type": "subsegment", "start_time": 100.100, "end_time": 100.250, "namespace": "remote",
     "http": {"request": {"method": "GET"}, "response": {"status": 200}}},
]  # fmt: skip


def test_rows_follow_the_tree_and_the_traces_clock() -> None:
    rows = waterfall_rows(Trace.assemble(TRACE_ID, DOCUMENTS))

    assert [(row.depth, row.label, row.kind) for row in rows] == [
        (0, "Fn", "segment"),
        (1, "## lambda_handler", "local"),
        (2, "s3 HeadObject", "aws"),
        (2, "api.open-meteo.com GET", "remote"),
    ]
    assert [round(row.start_ms) for row in rows] == [0, 10, 50, 100]
    assert [round(row.duration_ms) for row in rows] == [300, 280, 20, 150]
    assert [(row.status, row.flag) for row in rows] == [("", ""), ("", ""), ("404", "fault"), ("200", "")]


def test_the_png_and_the_terminal_view_show_every_row(tmp_path: Path) -> None:
    trace = Trace.assemble(TRACE_ID, DOCUMENTS)

    png = render_png(trace, tmp_path / "trace.png")
    console = Console(record=True, width=140)
    console.print(terminal_view(trace))
    text = console.export_text()

    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for label in ("Fn", "## lambda_handler", "s3 HeadObject", "api.open-meteo.com GET", "404 fault"):
        assert label in text
