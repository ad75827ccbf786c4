"""The dirty-file agreement check (bench/csv_agreement.py) passes exact outcomes and catches every kind of slip.

The outcomes it is given here come from Python's own ``csv`` module and ``float()`` over a small generated file (a
parser neither lakepipe nor DuckDB shares); each test then spoils one outcome the way a converter could go wrong
(a lost reject, lines counted from 0, a shifted byte offset, a changed value) and expects the check to say so.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import numpy as np
import pyarrow as pa
import pytest

from bench.csv_agreement import EngineOutcome, agreement_problems, line_starts
from bench.csv_data import BAD_VALUES, COLUMN_KINDS, DIRTY_COLUMN, GeneratedCsv, Spoilage, write_weather_csv

SPOILAGE = Spoilage(stride=7, first_row=10)


@pytest.fixture(scope="module")
def spoilt(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCsv:
    path = tmp_path_factory.mktemp("dirty") / "small.csv"
    return write_weather_csv(path, 20_000, with_row_id=True, spoilage=SPOILAGE, chunk_hours=2)


PYTHON_TYPES = {
    "bigint": (int, pa.int64()),
    "double": (float, pa.float64()),
    "string": (str, pa.string()),
    "timestamp": (dt.datetime.fromisoformat, pa.timestamp("us")),
}


def outcome_by_python(name: str, generated: GeneratedCsv) -> EngineOutcome:
    """Kept rows and rejected records as Python's csv module and float() see the file (the independent oracle)."""
    data = generated.path.read_bytes()
    reader = csv.reader(io.StringIO(data.decode()))
    header = next(reader)
    kept: list[list[object]] = []
    lines, raws = [], []
    for line, record in enumerate(reader, start=2):
        try:
            kept.append(
                [PYTHON_TYPES[COLUMN_KINDS[column]][0](value) for column, value in zip(header, record, strict=True)]
            )
        except ValueError:
            lines.append(line)
            raws.append(",".join(record))
    table = pa.table(
        {
            column: pa.array([row[position] for row in kept], PYTHON_TYPES[COLUMN_KINDS[column]][1])
            for position, column in enumerate(header)
        }
    )
    offsets = line_starts(data)[np.array(lines, np.int64) - 1]
    return EngineOutcome(name, table, np.array(lines, np.int64), [DIRTY_COLUMN] * len(lines), raws, offsets)


def problems_of(generated: GeneratedCsv, lakepipe: EngineOutcome, duckdb: EngineOutcome) -> list[str]:
    return agreement_problems(
        rows=generated.rows,
        bad_lines=generated.bad_lines,
        column=DIRTY_COLUMN,
        source=generated.path.read_bytes(),
        lakepipe=lakepipe,
        duckdb=duckdb,
    )


def test_the_generator_spoils_exactly_the_rows_it_says(spoilt: GeneratedCsv) -> None:
    # Given the small dirty file, read by Python's csv module
    rows = list(csv.DictReader(io.StringIO(spoilt.path.read_text())))

    # Then the rows whose temperature is one of the bad values are the generator's, on lines row_id + 2
    bad = [index for index, row in enumerate(rows) if row[DIRTY_COLUMN] in BAD_VALUES]
    assert bad == list(range(10, spoilt.rows, 7))
    assert spoilt.bad_lines == [index + 2 for index in bad]
    assert [int(row["row_id"]) for row in rows] == list(range(spoilt.rows))
    assert spoilt.rows == len(rows) > 100


def test_exact_outcomes_agree(spoilt: GeneratedCsv) -> None:
    python = outcome_by_python("lakepipe", spoilt)
    assert len(python.rejected_lines) == len(spoilt.bad_lines)

    assert problems_of(spoilt, python, dataclasses.replace(python, engine="duckdb", rejected_offsets=None)) == []


def test_a_spoilt_row_kept_is_caught(spoilt: GeneratedCsv) -> None:
    exact = outcome_by_python("lakepipe", spoilt)
    lost = dataclasses.replace(
        exact,
        rejected_lines=exact.rejected_lines[1:],
        rejected_columns=exact.rejected_columns[1:],
        rejected_raw=exact.rejected_raw[1:],
        rejected_offsets=exact.rejected_offsets[1:] if exact.rejected_offsets is not None else None,
    )

    problems = problems_of(spoilt, lost, dataclasses.replace(exact, engine="duckdb"))

    assert f"lakepipe kept spoilt lines: {spoilt.bad_lines[0]}" in problems


def test_lines_counted_from_zero_are_caught(spoilt: GeneratedCsv) -> None:
    exact = outcome_by_python("duckdb", spoilt)
    shifted = dataclasses.replace(exact, rejected_lines=exact.rejected_lines - 1)

    problems = problems_of(spoilt, outcome_by_python("lakepipe", spoilt), shifted)

    assert any(problem.startswith("duckdb rejected clean lines") for problem in problems)
    assert any(problem.startswith("duckdb quoted records that are not the source's lines") for problem in problems)


def test_a_wrong_byte_offset_is_caught(spoilt: GeneratedCsv) -> None:
    exact = outcome_by_python("lakepipe", spoilt)
    assert exact.rejected_offsets is not None
    off_by_one = dataclasses.replace(exact, rejected_offsets=exact.rejected_offsets + 1)

    problems = problems_of(spoilt, off_by_one, dataclasses.replace(exact, engine="duckdb"))

    assert any("byte offsets that are not where its lines start" in problem for problem in problems)


def test_a_changed_value_in_a_kept_row_is_caught(spoilt: GeneratedCsv) -> None:
    exact = outcome_by_python("lakepipe", spoilt)
    pressure = exact.kept.column("pressure_msl").to_pylist()
    pressure[3] += 0.1
    changed = exact.kept.set_column(exact.kept.schema.get_field_index("pressure_msl"), "pressure_msl", [pressure])

    problems = problems_of(spoilt, exact, dataclasses.replace(exact, engine="duckdb", kept=changed))

    row_id = exact.kept.column("row_id")[3].as_py()
    assert problems == [f"lakepipe and duckdb differ in pressure_msl on 1 rows: {row_id}"]


def test_a_lost_clean_row_is_caught(spoilt: GeneratedCsv) -> None:
    exact = outcome_by_python("lakepipe", spoilt)
    fewer = exact.kept.slice(1)

    problems = problems_of(spoilt, exact, dataclasses.replace(exact, engine="duckdb", kept=fewer))

    assert problems == [
        f"duckdb kept {exact.kept.num_rows - 1} rows, expected {exact.kept.num_rows}: missing row_id 0; "
        "unexpected row_id "
    ]


def test_line_starts_counts_a_last_line_without_a_break() -> None:
    assert line_starts(b"a\nbb\n").tolist() == [0, 2, 5]
    assert line_starts(b"a\nbb").tolist() == [0, 2, 4]
