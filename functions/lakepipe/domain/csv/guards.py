"""Limits that keep one file from damaging a table for every file after it.

A table's columns are a contract every later file is read against, and Glue keeps them: a file with ten
thousand junk column names would make every later conversion plan, read and write ten thousand null columns.
So a file is rejected (the table untouched) when it would add too many columns at once, grow the table past a
size, or bring column names longer than Glue allows (names cut to fit could collide with each other); and a
folder may only write into the table that belongs to it.
"""

from __future__ import annotations

from collections.abc import Sequence

from lakepipe.domain.csv.errors import DatasetCollisionError, TableGuardError
from lakepipe.domain.csv.layout import ObjectLayout
from lakepipe.domain.csv.options import TableGuards
from lakepipe.domain.csv.schema import ConversionPlan, TableContract


def check_plan(plan: ConversionPlan, header: Sequence[str], guards: TableGuards) -> None:
    """Raise :class:`TableGuardError` when converting this file would break a limit."""
    long_names = [name for name in header if len(name) > guards.max_column_name_length]
    if long_names:
        raise TableGuardError(
            f"{len(long_names)} column name(s) longer than {guards.max_column_name_length} characters "
            f"(the first: {long_names[0][:60]!r}…); Glue cannot hold them and cut names could collide"
        )
    new = len(plan.new_columns)
    if not plan.creates_table and new > guards.max_new_columns:
        raise TableGuardError(
            f"the file adds {new} new columns at once, more than the {guards.max_new_columns} allowed"
        )
    if len(plan.columns) > guards.max_table_columns:
        raise TableGuardError(
            f"the table would have {len(plan.columns)} columns, more than the {guards.max_table_columns} allowed"
        )


def check_owner(contract: TableContract | None, layout: ObjectLayout) -> None:
    """Raise :class:`DatasetCollisionError` when the table belongs to another input folder."""
    if contract is None or contract.source_folder is None or contract.source_folder == layout.source_folder:
        return
    raise DatasetCollisionError(
        f"folder {layout.source_folder!r} names table {layout.dataset}, which belongs to folder "
        f"{contract.source_folder!r}; rename one of the folders (tables are never shared between folders)"
    )
