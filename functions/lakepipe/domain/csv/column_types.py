"""Column types: what a CSV cell looks like, how kinds widen, and how they map to Arrow and Hive (Glue) types.

Two questions are asked of a cell and they differ on purpose:

* :func:`classify_value` (inference) is conservative: ``007`` stays text (an identifier keeps its zeros) and
  values outside int64 are text, so a sample never picks a type its own rows would break.
* :func:`value_fits` (validation) mirrors exactly what pyarrow's CSV converter accepts for a type, so a row is
  judged the same whether its block took the fast path or the careful one (property-tested against pyarrow;
  decimals are left to pyarrow alone).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from enum import StrEnum

import pyarrow as pa

TRUE_VALUES = ("true", "True", "TRUE")
FALSE_VALUES = ("false", "False", "FALSE")
NULL_VALUES = ("",)
TIMESTAMP_UNIT = "us"
# pyarrow trims spaces and tabs around numbers and dates (not timestamps) before converting them.
_PADDING = " \t"


class ColumnKind(StrEnum):
    """The narrowest family a column's values belong to; see :func:`widen` for how two kinds combine."""

    NULL = "null"
    BOOL = "bool"
    INT = "int"
    DOUBLE = "double"
    DATE = "date"
    TIMESTAMP = "timestamp"
    TIMESTAMP_TZ = "timestamp_tz"
    STRING = "string"


# Chains of the widening lattice: a kind widens to any kind after it in its chain; kinds on different chains
# (or BOOL with anything but NULL) meet at STRING. NULL is below everything.
_CHAINS = (
    (ColumnKind.INT, ColumnKind.DOUBLE),
    (ColumnKind.DATE, ColumnKind.TIMESTAMP),
)


def widen(left: ColumnKind, right: ColumnKind) -> ColumnKind:
    """The narrowest kind that holds values of both kinds (int+double → double, date+int → string)."""
    if right in (left, ColumnKind.NULL):
        return left
    if left == ColumnKind.NULL:
        return right
    for chain in _CHAINS:
        if left in chain and right in chain:
            return max(left, right, key=chain.index)
    return ColumnKind.STRING


_INT = re.compile(r"-?[0-9]+")
_INT_NO_LEADING_ZERO = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT_DOT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_COMMA = re.compile(r"[+-]?(?:[0-9]+,?[0-9]*|,[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_WORD = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = r"(?:[T ]([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?)?)"
_TIMESTAMP = re.compile(rf"([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}}){_TIME}?")
_TIMESTAMP_TZ = re.compile(rf"([0-9]{{4}})-([0-9]{{2}})-([0-9]{{2}}){_TIME}(Z|[+-]([0-9]{{2}})(?::?([0-9]{{2}}))?)")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_INT_RANGES = {8: 2**7, 16: 2**15, 32: 2**31, 64: 2**63}


def _is_calendar_date(year: str, month: str, day: str) -> bool:
    y, m, d = int(year), int(month), int(day)
    if not 1 <= m <= 12 or d < 1:
        return False
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return d <= (29 if m == 2 and leap else _DAYS_IN_MONTH[m - 1])


def _timestamp_groups_valid(groups: tuple[str | None, ...]) -> bool:
    year, month, day, hour, minute, second, fraction = groups[:7]
    if not _is_calendar_date(year or "", month or "", day or ""):
        return False
    if (hour and int(hour) > 23) or (minute and int(minute) > 59) or (second and int(second) > 59):
        return False
    # A finer fraction than the unit would lose digits: pyarrow refuses it rather than truncate.
    return fraction is None or len(fraction) <= 6


def _is_int(text: str, bits: int) -> bool:
    stripped = text.strip(_PADDING)
    return _INT.fullmatch(stripped) is not None and -_INT_RANGES[bits] <= int(stripped) < _INT_RANGES[bits]


def _is_float(text: str, decimal_point: str) -> bool:
    stripped = text.strip(_PADDING)
    number = _FLOAT_COMMA if decimal_point == "," else _FLOAT_DOT
    return number.fullmatch(stripped) is not None or _FLOAT_WORD.fullmatch(stripped) is not None


def _is_date(text: str) -> bool:
    match = _DATE.fullmatch(text.strip(_PADDING))
    return match is not None and _is_calendar_date(*match.groups())


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP.fullmatch(text)
    return match is not None and _timestamp_groups_valid(match.groups())


def _is_timestamp_tz(text: str) -> bool:
    match = _TIMESTAMP_TZ.fullmatch(text)
    if match is None or not _timestamp_groups_valid(match.groups()):
        return False
    offset_hours, offset_minutes = match.group(9), match.group(10)
    return (offset_hours is None or int(offset_hours) <= 23) and (offset_minutes is None or int(offset_minutes) <= 59)


def classify_value(text: str, decimal_point: str = ".") -> ColumnKind:
    """The narrowest kind of one cell, for inference (conservative: see the module docstring)."""
    if text in NULL_VALUES:
        return ColumnKind.NULL
    if text in TRUE_VALUES or text in FALSE_VALUES:
        return ColumnKind.BOOL
    stripped = text.strip(_PADDING)
    if _INT.fullmatch(stripped):
        # Leading zeros make a code or an identifier, not a number; beyond int64 it is an identifier too.
        is_number = _INT_NO_LEADING_ZERO.fullmatch(stripped) and _is_int(stripped, 64)
        return ColumnKind.INT if is_number else ColumnKind.STRING
    checks: tuple[tuple[ColumnKind, Callable[[], bool]], ...] = (
        (ColumnKind.DOUBLE, lambda: _is_float(text, decimal_point)),
        (ColumnKind.DATE, lambda: text == stripped and _is_date(text)),
        (ColumnKind.TIMESTAMP, lambda: _is_timestamp(text)),
        (ColumnKind.TIMESTAMP_TZ, lambda: _is_timestamp_tz(text)),
    )
    return next((kind for kind, matches in checks if matches()), ColumnKind.STRING)


def infer_kind(values: Iterable[str], decimal_point: str = ".") -> ColumnKind:
    """The widened kind of a column's sample values (distinct values are enough)."""
    kind = ColumnKind.NULL
    for value in values:
        kind = widen(kind, classify_value(value, decimal_point))
        if kind == ColumnKind.STRING:
            break
    return kind


def value_fits(text: str, arrow_type: pa.DataType, decimal_point: str = ".") -> bool:
    """Whether pyarrow's CSV converter accepts ``text`` for ``arrow_type`` (empty text is null: always fits)."""
    return validator_for(arrow_type, decimal_point)(text)


def validator_for(arrow_type: pa.DataType, decimal_point: str = ".") -> Callable[[str], bool]:
    """A fast ``text -> fits`` predicate for one column type (see :func:`value_fits`)."""
    check: Callable[[str], bool]
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return lambda text: True
    if pa.types.is_boolean(arrow_type):
        accepted = frozenset(TRUE_VALUES + FALSE_VALUES + NULL_VALUES)
        return accepted.__contains__
    if pa.types.is_signed_integer(arrow_type):
        bits = arrow_type.bit_width

        def check(text: str) -> bool:
            return _is_int(text, bits)
    elif pa.types.is_floating(arrow_type):

        def check(text: str) -> bool:
            return _is_float(text, decimal_point)
    elif pa.types.is_date32(arrow_type):
        check = _is_date
    elif pa.types.is_timestamp(arrow_type):
        check = _is_timestamp_tz if arrow_type.tz is not None else _is_timestamp
    elif pa.types.is_decimal(arrow_type):
        # pyarrow's decimal rules (written precision, exponents, rescaling) are intricate: it judges alone, and
        # the careful path's bisection isolates the rows it refuses.
        return lambda text: True
    else:
        raise ValueError(f"no CSV validator for Arrow type {arrow_type}")
    return lambda text: text in NULL_VALUES or check(text)


# ------------------------------------------------------------------------------------------------ type mapping
_KIND_TO_HIVE = {
    ColumnKind.NULL: "string",
    ColumnKind.BOOL: "boolean",
    ColumnKind.INT: "bigint",
    ColumnKind.DOUBLE: "double",
    ColumnKind.DATE: "date",
    ColumnKind.TIMESTAMP: "timestamp",
    ColumnKind.TIMESTAMP_TZ: "timestamp",
    ColumnKind.STRING: "string",
}
_HIVE_TO_ARROW: dict[str, pa.DataType] = {
    "tinyint": pa.int8(),
    "smallint": pa.int16(),
    "int": pa.int32(),
    "integer": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp(TIMESTAMP_UNIT),
    "string": pa.string(),
}
_HIVE_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_HIVE_CHARACTER = re.compile(r"(?:var)?char\(\s*\d+\s*\)")


def hive_type_for_kind(kind: ColumnKind) -> str:
    """The Glue/Hive column type a new column of ``kind`` is declared with."""
    return _KIND_TO_HIVE[kind]


def arrow_type_for_kind(kind: ColumnKind) -> pa.DataType:
    """The Arrow type written to Parquet for a column of ``kind`` (timestamps are UTC-normalised, zone-less)."""
    arrow_type = arrow_type_for_hive(_KIND_TO_HIVE[kind])
    assert arrow_type is not None
    return arrow_type


def arrow_type_for_hive(hive_type: str) -> pa.DataType | None:
    """The Arrow type matching a Glue column type, or None for types a CSV cannot fill (arrays, maps…)."""
    normalised = hive_type.strip().lower()
    if normalised in _HIVE_TO_ARROW:
        return _HIVE_TO_ARROW[normalised]
    if _HIVE_CHARACTER.fullmatch(normalised):
        return pa.string()
    decimal = _HIVE_DECIMAL.fullmatch(normalised)
    if decimal and 0 < int(decimal.group(1)) <= 38 and int(decimal.group(2)) <= int(decimal.group(1)):
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    return None
