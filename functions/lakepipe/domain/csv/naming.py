"""Glue/Athena-safe names for datasets (tables) and columns, derived from object keys and CSV headers.

Athena and Glue want lowercase names of letters, digits and underscores; a name that starts with a digit must
be quoted in every query, so it gets a prefix instead. Accents are folded (``Température`` → ``temperature``)
rather than dropped, so French headers stay readable.

A dataset name must also tell its folder apart from every other folder: when folding loses letters that have no
ASCII form (``日本``, ``Ελλάδα``, ``..``), the name gets a short hash of the folder's exact name
(``dataset_5f1c0e2a``), so distinct folders never meet in one table by accident. Folders whose names differ
only in case or punctuation (``Sales Data``, ``sales-data``) do fold to one name: the table records which
folder it belongs to, and the conversion refuses the others (see ``pipeline``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

from lakepipe.domain.csv.options import MAX_NAME_LENGTH

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


def _loses_letters(raw: str) -> bool:
    """Whether folding ``raw`` to ASCII drops letters or digits (not mere accents, case or punctuation)."""
    for character in unicodedata.normalize("NFKD", raw):
        if character.isascii() or unicodedata.combining(character):
            continue
        if unicodedata.category(character)[0] in "LN":
            return True
    folded = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii").lower()
    return not _NOT_NAME_CHARACTERS.sub("", folded)  # nothing usable left: the fallback name needs the hash


def table_name_for(raw: str) -> str:
    """The Glue table name of a dataset folder or file stem (``Sales Data`` → ``sales_data``, ``日本`` →
    ``dataset_<hash>``): the same folder always gets the same name, and no two folders that differ in more than
    case and punctuation share one."""
    name = sanitize_identifier(raw, fallback="dataset", digit_prefix="t_")
    if not _loses_letters(raw):
        return name
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()[:8]
    return f"{name[: MAX_NAME_LENGTH - len(digest) - 1]}_{digest}"


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
