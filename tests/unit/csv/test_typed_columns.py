"""Bulk conversion of a text column equals pyarrow's CSV converter, value by value (the oracle is pyarrow).

Each generated value is converted alone by pyarrow's CSV reader with the conversion's options; the bulk path
must give the same value, or call it a misfit exactly when pyarrow refuses it.
"""

from __future__ import annotations

import datetime as dt
import math
from unittest import mock

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakepipe.domain.csv import typed_columns
from lakepipe.domain.csv.column_types import FALSE_VALUES, TRUE_VALUES
from lakepipe.domain.csv.typed_columns import TypedColumn, to_type

TYPES = [
    pa.int64(),
    pa.int32(),
    pa.int8(),
    pa.float64(),
    pa.bool_(),
    pa.date32(),
    pa.timestamp("us"),
    pa.timestamp("us", tz="UTC"),
]
numberish = st.text(alphabet=st.sampled_from(list("0123456789-+.,eE nafiINFty\t:TZ")), max_size=14)
dates = st.builds(
    lambda y, m, d, rest: f"{y:04d}-{m:02d}-{d:02d}{rest}",
    st.integers(0, 9999),
    st.integers(0, 13),
    st.integers(0, 32),
    st.sampled_from(["", " ", "T10", " 10:30", "T10:30:59", "T23:59:60", "T10:30:00.1234567", "T10:30:00.123456",
                     "T10:30Z", "T10:30:00+02:00", "T10:30:00-0530", "T25:00", "Z"]),
)  # fmt: skip
big_ints = st.integers(-(2**70), 2**70).map(str)
values = st.lists(
    st.one_of(numberish, dates, big_ints, st.sampled_from([*TRUE_VALUES, *FALSE_VALUES, "", " 12", "1,5", "NaN"])),
    min_size=1,
    max_size=30,
)


def pyarrow_alone(value: str, arrow_type: pa.DataType, decimal_point: str) -> object:
    """What the CSV converter makes of one value (or ``misfit``)."""
    try:
        table = pacsv.read_csv(
            pa.py_buffer(b"x\n" + (_quoted(value) + "\n").encode()),
            parse_options=pacsv.ParseOptions(delimiter=";"),
            convert_options=pacsv.ConvertOptions(
                column_types={"x": arrow_type},
                null_values=[""],
                true_values=list(TRUE_VALUES),
                false_values=list(FALSE_VALUES),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                decimal_point=decimal_point,
            ),
        )
    except pa.ArrowInvalid:
        return "misfit"
    return _comparable(table.column(0).chunk(0))[0]


def _comparable(values: pa.Array) -> list[object]:
    """Python values, temporal ones as their integer counts (year 0 has no Python date)."""
    if pa.types.is_timestamp(values.type) or pa.types.is_date32(values.type):
        values = values.cast(pa.int64() if pa.types.is_timestamp(values.type) else pa.int32())
    return values.to_pylist()


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def same(left: object, right: object) -> bool:
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    return left == right


def assert_read_as_the_csv_converter_reads(
    typed: TypedColumn, texts: list[str], arrow_type: pa.DataType, decimal_point: str
) -> None:
    """Each value a misfit exactly where pyarrow's CSV converter refuses it, and otherwise the value it reads."""
    got = _comparable(typed.values)
    for index, text in enumerate(texts):
        expected = pyarrow_alone(text, arrow_type, decimal_point)
        if expected == "misfit":
            assert typed.misfits[index].as_py(), (text, arrow_type)
        else:
            assert not typed.misfits[index].as_py(), (text, arrow_type)
            assert same(got[index], expected), (text, got[index], expected)


@pytest.mark.parametrize("arrow_type", TYPES, ids=str)
@pytest.mark.parametrize("decimal_point", [".", ","])
@given(texts=values)
@settings(max_examples=150, deadline=None)
def test_bulk_conversion_equals_the_csv_converter(
    arrow_type: pa.DataType, decimal_point: str, texts: list[str]
) -> None:
    if decimal_point == "," and not (pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)):
        return
    column = pa.array([text or None for text in texts], pa.string())

    typed = to_type(column, arrow_type, decimal_point)

    assert_read_as_the_csv_converter_reads(typed, texts, arrow_type, decimal_point)


def test_misfits_are_picked_out_and_the_rest_converts() -> None:
    column = pa.array(["12", "n/a", None, " 7 ", "3.5", "-9"])
    typed = to_type(column, pa.int64())
    assert typed.misfits.to_pylist() == [False, True, False, False, True, False]
    assert typed.values.to_pylist() == [12, None, None, 7, None, -9]
    assert typed.misfit_count == 2


def test_an_impossible_date_that_the_pattern_passes_is_a_misfit() -> None:
    typed = to_type(pa.array(["2024-02-29", "2023-02-29", "2024-01-31"]), pa.date32())
    assert typed.misfits.to_pylist() == [False, True, False]
    assert typed.values.to_pylist() == [dt.date(2024, 2, 29), None, dt.date(2024, 1, 31)]


def test_decimals_follow_arrows_cast_which_refuses_what_the_type_cannot_hold() -> None:
    # Decimal columns come only from tables declared by hand. pyarrow's CSV converter lets 100000000 into
    # decimal(10, 2) (11 digits); Arrow's cast refuses it, and so does lakepipe: decimals are always converted here.
    typed = to_type(pa.array(["12.5", " 3 ", "100000000", "0.", "1.234", "-0.01", "x"]), pa.decimal128(10, 2))
    assert typed.misfits.to_pylist() == [False, False, True, False, True, False, True]
    assert [str(value) if value is not None else None for value in typed.values.to_pylist()] == [
        "12.50", "3.00", None, "0.00", None, "-0.01", None,
    ]  # fmt: skip


@pytest.mark.parametrize("arrow_type", [pa.float64(), pa.float32()], ids=str)
@pytest.mark.parametrize("decimal_point", [".", ","])
@given(texts=values)
@settings(max_examples=150, deadline=None)
def test_floats_cast_in_chunks_equal_the_csv_converter_whichever_chunks_hold_the_misfits(
    arrow_type: pa.DataType, decimal_point: str, texts: list[str]
) -> None:
    # Chunks of three values: most columns here mix chunks the cast accepts whole with chunks judged one by one
    column = pa.array([text or None for text in texts], pa.string())

    with mock.patch.object(typed_columns, "_FLOAT_CHUNK", 3):
        typed = to_type(column, arrow_type, decimal_point)

    assert len(typed.values) == len(typed.misfits) == len(texts)
    assert_read_as_the_csv_converter_reads(typed, texts, arrow_type, decimal_point)
