"""Do lakepipe and DuckDB keep and reject exactly the same rows of a dirty file, and the rows its generator spoilt?

Three accounts are compared, none trusted alone: the generator's (which rows it spoilt, ``csv_data``), lakepipe's
(its Parquet file and its quarantine) and DuckDB's (``read_csv(columns=…, store_rejects=true)``: its Parquet file
and ``reject_errors``). The file's own bytes settle where each line is: every rejected line number is looked up in
the source (1-based physical lines, the header being line 1) and must be the record both engines quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from numpy.typing import NDArray

MAX_LISTED = 5  # differences listed per problem; the counts say the rest


@dataclass(frozen=True)
class EngineOutcome:
    """What one engine made of a file: its kept rows, and its rejected records (line, column, raw text)."""

    engine: str
    kept: pa.Table
    rejected_lines: NDArray[np.int64]
    rejected_columns: list[str | None]
    rejected_raw: list[str]  # the record as the engine quotes it, without its line break
    rejected_offsets: NDArray[np.int64] | None = None  # 0-based byte offset of each record, when the engine says


def lakepipe_outcome(parquet: Path, quarantine: Path) -> EngineOutcome:
    """lakepipe's Parquet output and quarantine file (no quarantine file: nothing was quarantined)."""
    import numpy as np  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    kept = pq.read_table(parquet)
    if not quarantine.exists():
        return EngineOutcome("lakepipe", kept, np.array([], np.int64), [], [], np.array([], np.int64))
    records = pq.read_table(quarantine, columns=["line", "byte_offset", "byte_length", "column", "raw_preview"])
    return EngineOutcome(
        "lakepipe",
        kept,
        records.column("line").to_numpy(),
        records.column("column").to_pylist(),
        records.column("raw_preview").to_pylist(),
        records.column("byte_offset").to_numpy(),
    )


def duckdb_outcome(parquet: Path, rejects: Path) -> EngineOutcome:
    """DuckDB's Parquet output and its ``reject_errors`` rows, as csv_engines exported them."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    errors = pq.read_table(rejects)
    return EngineOutcome(
        "duckdb",
        pq.read_table(parquet),
        errors.column("line").cast("int64").to_numpy(),
        errors.column("column_name").to_pylist(),
        errors.column("csv_line").to_pylist(),
    )


def line_starts(data: bytes | memoryview) -> NDArray[np.int64]:
    """Byte offset of every physical line (index 0 = line 1), plus the end of the data as a last entry."""
    import numpy as np  # noqa: PLC0415

    breaks = np.flatnonzero(np.frombuffer(data, np.uint8) == 0x0A).astype(np.int64)
    starts = np.concatenate(([0], breaks + 1))
    return starts if starts[-1] == len(data) else np.concatenate((starts, [len(data)]))


def _listed(values: Any) -> str:
    values = sorted(values)
    more = f" … ({len(values)} in all)" if len(values) > MAX_LISTED else ""
    return ", ".join(str(value) for value in values[:MAX_LISTED]) + more


def _rejection_problems(
    outcome: EngineOutcome, expected_lines: set[int], column: str, source: bytes | memoryview, starts: Any
) -> list[str]:
    import numpy as np  # noqa: PLC0415

    name, problems = outcome.engine, []
    lines = outcome.rejected_lines.tolist()
    if len(set(lines)) != len(lines):
        problems.append(f"{name} rejected some lines more than once ({len(lines) - len(set(lines))} duplicates)")
    if missing := expected_lines - set(lines):
        problems.append(f"{name} kept spoilt lines: {_listed(missing)}")
    if extra := set(lines) - expected_lines:
        problems.append(f"{name} rejected clean lines: {_listed(extra)}")
    if other := {value for value in outcome.rejected_columns if value != column}:
        problems.append(f"{name} blamed other columns than {column}: {_listed(map(str, other))}")
    valid = [index for index, line in enumerate(lines) if 2 <= line < len(starts)]
    if len(valid) != len(lines):
        problems.append(f"{name} rejected lines the file does not have: {_listed(set(lines) - set(valid))}")
    position = np.array([lines[index] for index in valid], np.int64) - 1
    begins, ends = starts[position], starts[position + 1]
    misquoted = [
        lines[index]
        for index, begin, end in zip(valid, begins.tolist(), ends.tolist(), strict=True)
        if bytes(source[begin:end]).rstrip(b"\r\n").decode() != outcome.rejected_raw[index]
    ]
    if misquoted:
        problems.append(f"{name} quoted records that are not the source's lines: {_listed(misquoted)}")
    if outcome.rejected_offsets is not None and valid:
        offsets = outcome.rejected_offsets[np.array(valid, np.int64)]
        if wrong := [lines[i] for i, ok in zip(valid, (offsets == begins).tolist(), strict=True) if not ok]:
            problems.append(f"{name} gave byte offsets that are not where its lines start: {_listed(wrong)}")
    return problems


def _kept_problems(outcome: EngineOutcome, expected_ids: NDArray[np.int64]) -> list[str]:
    import numpy as np  # noqa: PLC0415

    ids = np.sort(outcome.kept.column("row_id").to_numpy())
    if np.array_equal(ids, expected_ids):
        return []
    missing, unexpected = np.setdiff1d(expected_ids, ids).tolist(), np.setdiff1d(ids, expected_ids).tolist()
    return [
        f"{outcome.engine} kept {len(ids)} rows, expected {len(expected_ids)}: "
        f"missing row_id {_listed(missing)}; unexpected row_id {_listed(unexpected)}"
    ]


def _same_rows(first: EngineOutcome, second: EngineOutcome) -> list[str]:
    """Both engines' kept rows hold the same values, row by row (ordered by row_id; types aligned on ``first``)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    left = first.kept.sort_by("row_id")
    right = second.kept.sort_by("row_id")
    if left.num_rows != right.num_rows or left.column_names != right.column_names:
        return [f"{first.engine} and {second.engine} kept different row counts or columns"]
    problems = []
    for name in left.column_names:
        values, others = left.column(name), right.column(name).cast(left.schema.field(name).type)
        differs = pc.invert(pc.fill_null(pc.equal(values, others), False))
        both_null = pc.and_(pc.is_null(values), pc.is_null(others))
        differs = pc.and_not(differs, both_null)
        if count := pc.sum(differs.cast(pa.int8())).as_py():
            rows = pc.filter(left.column("row_id"), differs).to_pylist()
            problems.append(f"{first.engine} and {second.engine} differ in {name} on {count} rows: {_listed(rows)}")
    return problems


def agreement_problems(
    *,
    rows: int,
    bad_lines: list[int],
    column: str,
    source: bytes | memoryview,
    lakepipe: EngineOutcome,
    duckdb: EngineOutcome,
) -> list[str]:
    """Every way the engines and the generator disagree on the file (empty: they agree exactly).

    ``rows``/``bad_lines``: the generator's account (rows written; lines it spoilt, 1-based, header = line 1);
    the row with ``row_id`` r is on line r + 2.
    """
    import numpy as np  # noqa: PLC0415

    starts = line_starts(source)
    problems = []
    if len(starts) - 1 != rows + 1:  # the header's and the rows' lines (starts ends with the end of the data)
        problems.append(f"the source has {len(starts) - 1} lines, the generator wrote {rows + 1}")
    expected_lines = set(bad_lines)
    expected_ids = np.setdiff1d(np.arange(rows, dtype=np.int64), np.array(bad_lines, np.int64) - 2)
    for outcome in (lakepipe, duckdb):
        problems += _rejection_problems(outcome, expected_lines, column, source, starts)
        problems += _kept_problems(outcome, expected_ids)
    if not problems:
        problems += _same_rows(lakepipe, duckdb)
    return problems


def check_dirty_run(
    *, source: Path, rows: int, bad_lines: list[int], column: str, outputs: dict[str, Path]
) -> dict[str, Any]:
    """The agreement of one dirty run's outputs (paths by role), as the verifying child reports it."""
    import mmap  # noqa: PLC0415

    lakepipe = lakepipe_outcome(outputs["lakepipe"], outputs["lakepipe_rejects"])
    duckdb = duckdb_outcome(outputs["duckdb"], outputs["duckdb_rejects"])
    with source.open("rb") as stream, mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
        view = memoryview(data)
        try:
            problems = agreement_problems(
                rows=rows, bad_lines=bad_lines, column=column, source=view, lakepipe=lakepipe, duckdb=duckdb
            )
        finally:
            view.release()
    return {
        "problems": problems,
        "rejected": {"lakepipe": len(lakepipe.rejected_lines), "duckdb": len(duckdb.rejected_lines)},
        "kept": {"lakepipe": lakepipe.kept.num_rows, "duckdb": duckdb.kept.num_rows},
        "expected_rejected": len(bad_lines),
    }
