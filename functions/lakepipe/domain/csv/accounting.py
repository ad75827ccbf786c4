"""Byte and record reconciliation: every decompressed byte of a source is accounted for, by two hands.

The stream counts the bytes it hands out; the record grammar (:mod:`.records`) says which records those bytes
form and what became of each (converted, quarantined, skipped); the Parquet writer and the quarantine sink count
the rows they were given. The two sides must agree exactly:

    bytes read  == BOM + preamble + header + converted + quarantined + skipped lines
    rows in     == rows written to Parquet + records quarantined

A parser that swallowed rows, a block converted twice, a carry dropped between blocks: each breaks one of the
equations, and the conversion fails (nothing published) instead of being reported as converted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class ReconciliationError(RuntimeError):
    """The bytes or records do not add up: a defect, never published (see the module docstring)."""

    code = "reconciliation_failed"


@dataclass
class Ledger:
    """Where the bytes and records of one conversion went."""

    bytes_read: int = 0
    bytes_bom: int = 0
    bytes_preamble: int = 0
    bytes_header: int = 0
    bytes_converted: int = 0
    bytes_quarantined: int = 0
    bytes_skipped: int = 0  # blank and comment lines among the data
    rows_in: int = 0  # data records the grammar found
    rows_converted: int = 0  # of them, turned into rows by the value parser
    rows_quarantined: int = 0  # of them, quarantined
    lines_skipped: int = 0
    lines_preamble: int = 0
    # Counted by the outputs themselves, not by the converter:
    rows_written: int = 0  # rows the Parquet writer reports in its file footer
    quarantine_records_written: int = 0  # records the quarantine sink received

    def add(self, other: Ledger) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    @property
    def bytes_accounted(self) -> int:
        return (
            self.bytes_bom
            + self.bytes_preamble
            + self.bytes_header
            + self.bytes_converted
            + self.bytes_quarantined
            + self.bytes_skipped
        )

    def problems(self) -> list[str]:
        """What does not add up (empty when everything does)."""
        problems = []
        if self.bytes_accounted != self.bytes_read:
            problems.append(
                f"{self.bytes_read} bytes read but {self.bytes_accounted} accounted for "
                f"(BOM {self.bytes_bom}, preamble {self.bytes_preamble}, header {self.bytes_header}, "
                f"converted {self.bytes_converted}, quarantined {self.bytes_quarantined}, skipped {self.bytes_skipped})"
            )
        if self.rows_in != self.rows_converted + self.rows_quarantined:
            problems.append(
                f"{self.rows_in} records found but {self.rows_converted} converted + "
                f"{self.rows_quarantined} quarantined"
            )
        if self.rows_written != self.rows_converted:
            problems.append(f"{self.rows_converted} rows converted but the Parquet file holds {self.rows_written}")
        if self.quarantine_records_written != self.rows_quarantined:
            problems.append(
                f"{self.rows_quarantined} records quarantined but the quarantine received "
                f"{self.quarantine_records_written}"
            )
        return problems

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise ReconciliationError("the conversion does not reconcile: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BlockTally:
    """A block's share of the ledger, filled on a parsing thread."""

    ledger: Ledger = field(default_factory=Ledger)
    physical_lines: int = 0
