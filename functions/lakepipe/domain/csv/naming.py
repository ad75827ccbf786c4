"""Glue/Athena-safe names for datasets (tables) and columns, derived from object keys and CSV headers.

Athena and Glue want lowercase names of letters, digits and underscores; a name that starts with a digit must
be quoted in every query, so it gets a prefix instead. Accents are folded (``Température`` → ``temperature``)
rather than dropped, so French headers stay readable.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

MAX_NAME_LENGTH = 255  # Glue's limit for table and column names
_NOT_NAME_CHARACTERS = re.compile(r"[^a-z0-9]+")


def sanitize_identifier(raw: str, *, fallback: str, digit_prefix: str) -> str:
    """``raw`` as a lowercase ``[a-z0-9_]`` name; ``fallback`` when nothing usable is left."""
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii").lower()
    name = _NOT_NAME_CHARACTERS.sub("_", folded).strip("_")
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"{digit_prefix}{name}"
    return name[:MAX_NAME_LENGTH]


def table_name_for(raw: str) -> str:
    """The Glue table name of a dataset folder or file stem (``Sales Data`` → ``sales_data``)."""
    return sanitize_identifier(raw, fallback="dataset", digit_prefix="t_")


def column_names_for(header: Sequence[str]) -> list[str]:
    """Sanitised, unique column names for a CSV header, in order; blanks become ``column_<position>``.

    A duplicate gets the first free ``_2``, ``_3``… suffix, so ``a, A, a_2`` → ``a, a_3, a_2`` never collides.
    """
    wanted = [
        sanitize_identifier(raw, fallback=f"column_{position}", digit_prefix="c_")
        for position, raw in enumerate(header, start=1)
    ]
    taken = set(wanted)
    names: list[str] = []
    seen: set[str] = set()
    for name in wanted:
        unique = name
        suffix = 2
        while unique in seen or (unique != name and unique in taken):
            unique = f"{name[: MAX_NAME_LENGTH - len(str(suffix)) - 1]}_{suffix}"
            suffix += 1
        seen.add(unique)
        names.append(unique)
    return names
