"""The quarantine file: records held until a row group's worth, nothing lost at close, no file without records."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from lakepipe.domain.csv.convert import QUARANTINE_SCHEMA, _without_rows
from lakepipe.domain.csv.quarantine import ParquetQuarantine, read_quarantine
from tests.unit.csv.audit import KeptBytes


def _records(first_line: int, count: int) -> pa.Table:
    def filled(field: pa.Field) -> pa.Array:
        if field.name == "line":
            return pa.array(range(first_line, first_line + count), field.type)
        if field.nullable:
            return pa.nulls(count, field.type)
        return pa.array([0 if pa.types.is_integer(field.type) else "x"] * count, field.type)

    columns = {field.name: filled(field) for field in QUARANTINE_SCHEMA}
    return pa.table(columns, schema=QUARANTINE_SCHEMA)


def test_a_few_records_from_each_of_many_blocks_make_one_row_group_and_every_record_is_in_the_file() -> None:
    # Given 50 blocks' worth of 5 quarantined records each (a file with a few bad rows in every block)
    sink = KeptBytes()
    quarantine = ParquetQuarantine(lambda: sink, dataset="d", source_key="input/d.csv", version_id="v1")
    for block in range(50):
        quarantine.write(_records(block * 1000, 5))

    quarantine.close()

    # Then one row group, not fifty, holds all 250 records in stream order, with their source
    metadata = pq.ParquetFile(io.BytesIO(sink.kept)).metadata
    assert (metadata.num_row_groups, metadata.num_rows) == (1, 250)
    records = read_quarantine(sink.kept)
    assert [record["line"] for record in records] == [block * 1000 + n for block in range(50) for n in range(5)]
    assert {(record["source_key"], record["source_version_id"]) for record in records} == {("input/d.csv", "v1")}
    assert quarantine.written
    assert quarantine.records == 250


def test_past_the_row_limit_records_are_written_as_they_come() -> None:
    sink = KeptBytes()
    quarantine = ParquetQuarantine(lambda: sink, dataset="d", source_key="k", version_id=None, flush_rows=100)
    for block in range(5):
        quarantine.write(_records(block * 60, 60))
    quarantine.close()

    metadata = pq.ParquetFile(io.BytesIO(sink.kept)).metadata
    assert (metadata.num_row_groups, metadata.num_rows) == (3, 300)  # 120, 120, then the last 60 at close


def test_no_record_no_file() -> None:
    opened: list[KeptBytes] = []

    def open_sink() -> KeptBytes:
        opened.append(KeptBytes())
        return opened[-1]

    quarantine = ParquetQuarantine(open_sink, dataset="d", source_key="k", version_id=None)
    quarantine.write(_records(1, 0))
    quarantine.close()

    assert (opened, quarantine.written) == ([], False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.booleans(), max_size=300))
def test_rows_cut_out_as_slices_are_exactly_what_a_filter_keeps(dropped: list[bool]) -> None:
    table = pa.table({"n": pa.array(range(len(dropped)), pa.int64()), "s": [str(n) for n in range(len(dropped))]})
    mask = np.array(dropped, dtype=bool)

    assert _without_rows(table, mask).to_pylist() == table.filter(pa.array(~mask, pa.bool_())).to_pylist()
