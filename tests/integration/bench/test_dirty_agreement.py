"""The bench's dirty case end to end on a small file: lakepipe (against an existing table's types) and DuckDB
(``store_rejects``) convert it with the bench's own engine functions, and the agreement check finds them exact, and
equal to what the generator spoilt. A second run with one record of DuckDB's rejects removed must be caught."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.csv_agreement import check_dirty_run
from bench.csv_data import DIRTY_COLUMN, GeneratedCsv, Spoilage, write_weather_csv
from bench.csv_engines import convert_with_duckdb, convert_with_lakepipe

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedCsv, dict[str, Path]]:
    directory = tmp_path_factory.mktemp("dirty")
    # Bad values from row 20,000 (~1.6 MB in), past lakepipe's 1 MiB type sample, on every 50th row after it
    spoilt = write_weather_csv(
        directory / "dirty.csv", 3_000_000, with_row_id=True, spoilage=Spoilage(stride=50, first_row=20_000),
        chunk_hours=20,
    )  # fmt: skip
    outputs = {role: directory / f"{role}.parquet" for role in ("lakepipe", "lakepipe_rejects", "duckdb",
                                                                "duckdb_rejects")}  # fmt: skip
    convert_with_lakepipe(spoilt.path, outputs["lakepipe"], outputs["lakepipe_rejects"], against_table=True)
    convert_with_duckdb(spoilt.path, outputs["duckdb"], outputs["duckdb_rejects"], cpus=1)
    return spoilt, outputs


def test_lakepipe_and_duckdb_keep_and_reject_exactly_the_generators_rows(
    converted: tuple[GeneratedCsv, dict[str, Path]],
) -> None:
    spoilt, outputs = converted
    assert len(spoilt.bad_lines) > 100

    verdict = check_dirty_run(
        source=spoilt.path, rows=spoilt.rows, bad_lines=spoilt.bad_lines, column=DIRTY_COLUMN, outputs=outputs
    )

    assert verdict["problems"] == []
    assert verdict["rejected"] == {"lakepipe": len(spoilt.bad_lines), "duckdb": len(spoilt.bad_lines)}
    assert verdict["kept"] == {
        "lakepipe": spoilt.rows - len(spoilt.bad_lines),
        "duckdb": spoilt.rows - len(spoilt.bad_lines),
    }


def test_a_reject_missing_from_one_engine_fails_the_check(
    converted: tuple[GeneratedCsv, dict[str, Path]], tmp_path: Path
) -> None:
    spoilt, outputs = converted
    rejects = pq.read_table(outputs["duckdb_rejects"])
    pq.write_table(rejects.slice(1), tmp_path / "fewer.parquet")

    verdict = check_dirty_run(
        source=spoilt.path,
        rows=spoilt.rows,
        bad_lines=spoilt.bad_lines,
        column=DIRTY_COLUMN,
        outputs=outputs | {"duckdb_rejects": tmp_path / "fewer.parquet"},
    )

    assert verdict["problems"] == [f"duckdb kept spoilt lines: {spoilt.bad_lines[0]}"]
