"""Column kinds: classification for inference, the widening lattice, type mapping, and validation ≡ pyarrow."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakepipe.domain.csv.column_types import (
    FALSE_VALUES,
    NULL_VALUES,
    TRUE_VALUES,
    ColumnKind,
    arrow_type_for_hive,
    arrow_type_for_kind,
    classify_value,
    hive_type_for_kind,
    infer_kind,
    value_fits,
    widen,
)

K = ColumnKind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", K.NULL),
        ("true", K.BOOL),
        ("FALSE", K.BOOL),
        ("tRue", K.STRING),
        ("42", K.INT),
        ("-7", K.INT),
        (" 12 ", K.INT),
        ("0", K.INT),
        ("007", K.STRING),  # a code keeps its zeros
        ("9223372036854775807", K.INT),
        ("9223372036854775808", K.STRING),  # beyond int64: an identifier, not a number
        ("3.14", K.DOUBLE),
        ("-1e-5", K.DOUBLE),
        (".5", K.DOUBLE),
        ("NaN", K.DOUBLE),
        ("1,5", K.STRING),
        ("2024-02-29", K.DATE),
        ("2023-02-29", K.STRING),
        ("2024-01-31 10:11:12", K.TIMESTAMP),
        ("2024-01-31T10:11:12.123456", K.TIMESTAMP),
        ("2024-01-31T10:11:12.1234567", K.STRING),  # finer than microseconds
        ("2024-01-31T10:11:12Z", K.TIMESTAMP_TZ),
        ("2024-01-31T10:11+02:00", K.TIMESTAMP_TZ),
        ("31/01/2024", K.STRING),
        ("Paris", K.STRING),
    ],
)
def test_classify_value(text: str, kind: ColumnKind) -> None:
    assert classify_value(text) == kind


def test_decimal_comma_files_read_comma_numbers_and_not_dot_numbers() -> None:
    assert classify_value("1,5", ",") == K.DOUBLE
    assert classify_value("-0,25", ",") == K.DOUBLE
    assert classify_value("1.5", ",") == K.STRING
    assert classify_value("12", ",") == K.INT


@pytest.mark.parametrize(
    ("left", "right", "widened"),
    [
        (K.INT, K.DOUBLE, K.DOUBLE),
        (K.INT, K.STRING, K.STRING),
        (K.DOUBLE, K.STRING, K.STRING),
        (K.NULL, K.INT, K.INT),
        (K.BOOL, K.NULL, K.BOOL),
        (K.BOOL, K.INT, K.STRING),
        (K.DATE, K.TIMESTAMP, K.TIMESTAMP),
        (K.DATE, K.TIMESTAMP_TZ, K.STRING),  # a zone-aware column refuses bare dates
        (K.TIMESTAMP, K.TIMESTAMP_TZ, K.STRING),
        (K.DATE, K.INT, K.STRING),
        (K.DOUBLE, K.DOUBLE, K.DOUBLE),
    ],
)
def test_widening_lattice(left: ColumnKind, right: ColumnKind, widened: ColumnKind) -> None:
    assert widen(left, right) == widened
    assert widen(right, left) == widened


@given(st.lists(st.sampled_from(list(ColumnKind)), min_size=1, max_size=6), st.randoms())
def test_widening_does_not_depend_on_the_order_values_come_in(kinds: list[ColumnKind], random: object) -> None:
    shuffled = list(kinds)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    first = kinds[0]
    for kind in kinds[1:]:
        first = widen(first, kind)
    second = shuffled[0]
    for kind in shuffled[1:]:
        second = widen(second, kind)
    assert first == second


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["1", "2", ""], K.INT),
        (["1", "2.5"], K.DOUBLE),
        (["1", "2.5", "n/a"], K.STRING),
        (["", ""], K.NULL),
        (["2024-01-01", "2024-01-02 10:00"], K.TIMESTAMP),
        (["true", "false", ""], K.BOOL),
    ],
)
def test_infer_kind_widens_over_a_column(values: list[str], kind: ColumnKind) -> None:
    assert infer_kind(values) == kind


def test_every_kind_maps_to_a_hive_type_whose_arrow_type_is_the_written_type() -> None:
    for kind in ColumnKind:
        assert arrow_type_for_hive(hive_type_for_kind(kind)) == arrow_type_for_kind(kind)
    assert hive_type_for_kind(K.INT) == "bigint"
    assert hive_type_for_kind(K.TIMESTAMP_TZ) == "timestamp"
    assert hive_type_for_kind(K.NULL) == "string"


@pytest.mark.parametrize(
    ("hive", "arrow_type"),
    [
        ("int", pa.int32()),
        ("BIGINT", pa.int64()),
        ("varchar(20)", pa.string()),
        ("decimal(10, 2)", pa.decimal128(10, 2)),
        ("timestamp", pa.timestamp("us")),
        ("array<string>", None),
        ("map<string,int>", None),
    ],
)
def test_arrow_type_for_hive(hive: str, arrow_type: pa.DataType | None) -> None:
    assert arrow_type_for_hive(hive) == arrow_type


# ------------------------------------------------------------------------------ validation mirrors pyarrow
def pyarrow_accepts(text: str, arrow_type: pa.DataType, decimal_point: str = ".") -> bool:
    body = ('x\n"' + text.replace('"', '""') + '"\n').encode("utf-8")
    options = pacsv.ConvertOptions(
        column_types={"x": arrow_type},
        null_values=list(NULL_VALUES),
        true_values=list(TRUE_VALUES),
        false_values=list(FALSE_VALUES),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        decimal_point=decimal_point,
    )
    try:
        pacsv.read_csv(pa.py_buffer(body), convert_options=options)
    except pa.ArrowInvalid:
        return False
    return True


NUMBER_ALPHABET = "0123456789+-.,eE \tnaifNAIFty"
number_like = st.one_of(
    st.text(alphabet=NUMBER_ALPHABET, max_size=10),
    st.from_regex(r"\A[ \t]?[+-]?[0-9]{0,20}[.,]?[0-9]{0,4}([eE][+-]?[0-9]{1,3})?[ \t]?\Z"),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
timestamp_like = st.one_of(
    st.from_regex(
        r"\A[ ]?[0-9]{4}-[0-9]{1,2}-[0-9]{1,3}([T t][0-9]{1,2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]{0,10})?)?)?)?"
        r"(Z|z|[+-][0-9]{1,2}(:?[0-9]{1,2})?)?[ ]?\Z"
    ),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.dates().map(str),
)
other_text = st.text(max_size=8).filter(lambda text: "\n" not in text and "\r" not in text)


@settings(max_examples=400, deadline=None)
@given(st.one_of(number_like, other_text))
@pytest.mark.parametrize("arrow_type", [pa.int64(), pa.int32(), pa.int8(), pa.float64(), pa.float32()])
def test_number_validation_agrees_with_pyarrow(arrow_type: pa.DataType, text: str) -> None:
    for decimal_point in (".", ","):
        assert value_fits(text, arrow_type, decimal_point) == pyarrow_accepts(text, arrow_type, decimal_point)


@settings(max_examples=400, deadline=None)
@given(st.one_of(timestamp_like, other_text))
@pytest.mark.parametrize("arrow_type", [pa.date32(), pa.timestamp("us"), pa.timestamp("us", tz="UTC")])
def test_date_and_timestamp_validation_agrees_with_pyarrow(arrow_type: pa.DataType, text: str) -> None:
    assert value_fits(text, arrow_type) == pyarrow_accepts(text, arrow_type)


@given(st.one_of(st.sampled_from(TRUE_VALUES + FALSE_VALUES + ("1", "yes", " true", "")), other_text))
def test_bool_validation_agrees_with_pyarrow(text: str) -> None:
    assert value_fits(text, pa.bool_()) == pyarrow_accepts(text, pa.bool_())


@settings(max_examples=300, deadline=None)
@given(st.one_of(number_like, timestamp_like, other_text))
def test_a_classified_value_always_converts_to_its_kind(text: str) -> None:
    """Soundness of inference: the type a sample picks never rejects the sample's own values."""
    for decimal_point in (".", ","):
        kind = classify_value(text, decimal_point)
        if kind not in {K.NULL, K.STRING}:
            parse_type = pa.timestamp("us", tz="UTC") if kind == K.TIMESTAMP_TZ else arrow_type_for_kind(kind)
            assert pyarrow_accepts(text, parse_type, decimal_point), (text, kind)
