"""A text column turned into its declared type in bulk, with the values that do not fit picked out.

When a column keeps refusing its type in one block after another (a few ``n/a`` in a numeric column), it is
read as text and converted here: a regular expression (RE2, inside Arrow) clears the values that certainly fit,
the few others are judged one distinct value at a time by :func:`.column_types.validator_for`, and the values
that fit are cast in one Arrow call. The result must equal what pyarrow's CSV converter gives for the same
text, which a property test checks value by value; the values that do not fit come back as a mask so their
records can be quarantined, and nothing here loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lakepipe.domain.csv.column_types import FALSE_VALUES, TRUE_VALUES, validator_for

_PADDING = " \t"
# 18 digits always fit int64; longer ones, and int8/16/32 overflows (the cast refuses them), go one by one.
_SURE_INT64 = r"^[ \t]*-?[0-9]{1,18}[ \t]*$"
_SURE_FLOAT = r"^[ \t]*[+-]?(?:[0-9]+\{point}?[0-9]*|\{point}[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*$"
_SURE_FLOAT_WORD = r"(?i)^[ \t]*[+-]?(?:nan|inf|infinity)[ \t]*$"
_SURE_DATE = r"^[ \t]*[0-9]{4}-[0-9]{2}-[0-9]{2}[ \t]*$"  # calendar validity: the cast says
_CLOCK = r"[T ][0-9]{2}(?::[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?"
_SURE_TIMESTAMP = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}(?:{_CLOCK})?$"
_SURE_TIMESTAMP_TZ = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}{_CLOCK}(?:Z|[+-][0-9]{{2}}(?::?[0-9]{{2}})?)$"


@dataclass(frozen=True)
class TypedColumn:
    """The column in its type (null where the text did not fit) and which rows did not fit."""

    values: pa.Array
    misfits: pa.BooleanArray

    @property
    def misfit_count(self) -> int:
        return int(pc.sum(self.misfits).as_py() or 0)


def _sure_pattern(arrow_type: pa.DataType, decimal_point: str) -> str | None:
    if pa.types.is_signed_integer(arrow_type):
        return _SURE_INT64
    if pa.types.is_floating(arrow_type):
        return _SURE_FLOAT.replace("{point}", decimal_point)
    if pa.types.is_date32(arrow_type):
        return _SURE_DATE
    if pa.types.is_timestamp(arrow_type):
        return _SURE_TIMESTAMP_TZ if arrow_type.tz is not None else _SURE_TIMESTAMP
    return None


def _prepared_for_cast(text: pa.Array, arrow_type: pa.DataType, decimal_point: str) -> pa.Array:
    """The text as ``pc.cast`` reads it the way the CSV converter does: padding trimmed, a decimal comma a point."""
    numeric = pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)
    if numeric or pa.types.is_date32(arrow_type):
        text = pc.utf8_trim(text, _PADDING)
    if decimal_point != "." and (pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)):
        text = pc.replace_substring(text, decimal_point, ".")
    return text


def to_type(text: pa.Array | pa.ChunkedArray, arrow_type: pa.DataType, decimal_point: str = ".") -> TypedColumn:
    """``text`` (nulls for empty cells) as ``arrow_type``, and the rows whose value does not fit it."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks() if text.num_chunks != 1 else text.chunk(0)
    present = pc.is_valid(text)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return TypedColumn(text.cast(arrow_type), pc.invert(present))  # all False: every text fits
    if pa.types.is_boolean(arrow_type):
        fits = pc.is_in(text, value_set=pa.array(TRUE_VALUES + FALSE_VALUES))
        misfits = pc.and_(present, pc.invert(fits))
        kept = pc.if_else(misfits, pa.scalar(None, pa.string()), text)
        return TypedColumn(_booleans(kept), misfits)
    if pa.types.is_floating(arrow_type) and decimal_point == ".":  # with a decimal comma, "1.5" is a misfit
        return _floats_by_chunks(text, arrow_type)
    return _judged(text, present, arrow_type, decimal_point)


# Values per chunk a float column is cast in: a few bad values in a 50,000-row block cost a few chunks judged.
_FLOAT_CHUNK = 2048
_CHUNKS_BEFORE_GIVING_UP = 4


def _floats_by_chunks(text: pa.Array, arrow_type: pa.DataType) -> TypedColumn:
    """A float column (decimal point ``.``) cast chunk by chunk, a chunk the cast refuses judged value by value.

    Arrow's cast reads a float exactly as the CSV converter does (the same ``StringToFloat`` once the padding is
    trimmed), so a chunk it accepts whole needs no pattern: for a column with a bad value every few thousand rows,
    that pattern over the whole column was the largest part of a dirty block's extra cost.
    """
    pieces: list[TypedColumn] = []
    refused = 0
    for tried, start in enumerate(range(0, max(len(text), 1), _FLOAT_CHUNK)):
        if tried >= _CHUNKS_BEFORE_GIVING_UP and refused * 2 > tried:
            # Bad values in most chunks (1 % of the rows and more): the rest is judged whole, as before chunks.
            rest = text.slice(start)
            pieces.append(_judged(rest, pc.is_valid(rest), arrow_type, "."))
            break
        chunk = text.slice(start, _FLOAT_CHUNK)
        try:
            values = pc.cast(_prepared_for_cast(chunk, arrow_type, "."), arrow_type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            refused += 1
            pieces.append(_judged(chunk, pc.is_valid(chunk), arrow_type, "."))
        else:
            pieces.append(TypedColumn(values, pa.repeat(pa.scalar(False), len(values))))
    return TypedColumn(
        pa.concat_arrays([piece.values for piece in pieces]), pa.concat_arrays([piece.misfits for piece in pieces])
    )


def _judged(text: pa.Array, present: pa.BooleanArray, arrow_type: pa.DataType, decimal_point: str) -> TypedColumn:
    """The values that surely fit (a pattern), the others judged one distinct value at a time, then one cast."""
    fits = _surely_fitting(text, present, arrow_type, decimal_point)
    unsure = pc.and_(present, pc.invert(fits))
    if pc.any(unsure).as_py():
        # Judged on the unsure values only (a few per block): looking them up in the whole column cost more.
        judged = _judged_one_by_one(pc.filter(text, unsure), arrow_type, decimal_point)
        fits = pc.replace_with_mask(fits, unsure, judged)
    misfits = pc.and_(present, pc.invert(fits))
    kept = pc.if_else(misfits, pa.scalar(None, pa.string()), text)
    try:
        values = pc.cast(_prepared_for_cast(kept, arrow_type, decimal_point), arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # A value the pattern passed but the type refuses (31 February, an int32 overflow): judge every value.
        fits = pc.fill_null(
            pc.replace_with_mask(
                present, present, _judged_one_by_one(pc.filter(text, present), arrow_type, decimal_point)
            ),
            False,
        )
        misfits = pc.and_(present, pc.invert(fits))
        kept = pc.if_else(misfits, pa.scalar(None, pa.string()), text)
        values = pc.cast(_prepared_for_cast(kept, arrow_type, decimal_point), arrow_type)
    return TypedColumn(values, misfits)


def _surely_fitting(
    text: pa.Array, present: pa.BooleanArray, arrow_type: pa.DataType, decimal_point: str
) -> pa.BooleanArray:
    """Rows whose value certainly fits (False where unsure): plain digits first, the pattern for the rest."""
    sure = _sure_pattern(arrow_type, decimal_point)
    if sure is None:
        return pc.fill_null(pa.nulls(len(text), pa.bool_()), False)
    if pa.types.is_signed_integer(arrow_type):
        # Up to 18 ASCII digits always fit int64, and checking that is ten times cheaper than the pattern.
        digits = pc.and_(pc.ascii_is_decimal(text), pc.less_equal(pc.binary_length(text), 18))
        fits = _or_matching(pc.fill_null(digits, False), text, present, sure)
    else:
        fits = pc.fill_null(pc.match_substring_regex(text, sure), False)
    if pa.types.is_floating(arrow_type):
        fits = _or_matching(fits, text, present, _SURE_FLOAT_WORD)
    return fits


def _or_matching(fits: pa.BooleanArray, text: pa.Array, present: pa.BooleanArray, pattern: str) -> pa.BooleanArray:
    """``fits``, or the pattern matched, trying the pattern only on the present values not fitting yet."""
    rest = pc.and_(present, pc.invert(fits))
    if not pc.any(rest).as_py():
        return fits
    matched = pc.fill_null(pc.match_substring_regex(pc.filter(text, rest), pattern), False)
    return pc.replace_with_mask(fits, rest, matched)


def _booleans(kept: pa.Array) -> pa.Array:
    truth = pc.is_in(kept, value_set=pa.array(TRUE_VALUES))
    return pc.if_else(pc.is_valid(kept), truth, pa.scalar(None, pa.bool_()))


def _judged_one_by_one(candidates: pa.Array, arrow_type: pa.DataType, decimal_point: str) -> pa.BooleanArray:
    """For each of ``candidates``, whether its value, judged by the exact validator, fits (distinct values once)."""
    fits_value = validator_for(arrow_type, decimal_point)
    distinct = pc.unique(candidates).to_pylist()
    good = [
        value
        for value in distinct
        if value is not None and fits_value(value) and _casts(value, arrow_type, decimal_point)
    ]
    return pc.fill_null(pc.is_in(candidates, value_set=pa.array(good, pa.string())), False)


def _casts(value: str, arrow_type: pa.DataType, decimal_point: str) -> bool:
    try:
        pc.cast(_prepared_for_cast(pa.array([value]), arrow_type, decimal_point), arrow_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True
