"""What `lakepipe quarantine show` prints for a record and a summary (pure formatting, no AWS)."""

from __future__ import annotations

from lakepipe_cli.quarantine import _preview, _reconciliation


def test_a_preview_never_sends_control_characters_to_the_terminal() -> None:
    # An ANSI escape in a quarantined record would recolour (or rewrite) the user's terminal
    assert _preview("a\x1b[31mred\tb") == "a\\x1b[31mred\\tb"
    assert _preview("Émilie, Chen Wei") == "Émilie, Chen Wei"
    assert _preview("x" * 100) == "x" * 59 + "…"


def test_the_reconciliation_is_the_sum_of_the_ledgers_parts_against_the_bytes_read() -> None:
    ledger = {"bytes_read": 90, "bytes_bom": 0, "bytes_preamble": 0, "bytes_header": 16, "bytes_converted": 26,
              "bytes_quarantined": 48, "bytes_skipped": 0}  # fmt: skip
    assert _reconciliation(ledger) == (
        "90 bytes read = 0 bom + 0 preamble + 16 header + 26 converted + 48 quarantined + 0 skipped: reconciles"
    )
    assert _reconciliation({**ledger, "bytes_read": 91}).endswith("DOES NOT RECONCILE (90 accounted)")
    assert _reconciliation(None).startswith("no byte figures")
