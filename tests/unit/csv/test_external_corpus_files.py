"""The external CSV corpus is well formed: every case has its file, its source, its licence and a readable expectation.

This checks the corpus itself (tests/fixtures/csv/external/), not lakepipe; bench/dialect_suites.py scores the
detectors on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "csv" / "external"
CASES = CORPUS / "cases"
SIDECARS = sorted(CASES.glob("*/*.json"))
EXPECTED_KEYS = {
    "delimiter",
    "quotechar",
    "escapechar",
    "doublequote",
    "skipinitialspace",
    "has_header",
    "header",
    "records",
    "record_count",
    "first_record",
    "comment",
    "skip_lines",
}
ONE_CHAR_OR_NONE = ("delimiter", "quotechar", "escapechar")


def _load(sidecar: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(sidecar.read_text(encoding="utf-8"))
    return loaded


RECORD_CASES = [sidecar for sidecar in SIDECARS if "records" in _load(sidecar)["expected"]]


def test_the_corpus_has_cases_from_several_suites() -> None:
    # Given the corpus folder / When its sidecars are listed
    suites = {sidecar.parent.name for sidecar in SIDECARS}
    # Then there are over a hundred cases from at least five suites
    assert len(SIDECARS) >= 100
    assert len(suites) >= 5


@pytest.mark.parametrize("sidecar", SIDECARS, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_every_sidecar_names_its_file_source_licence_and_expectation(sidecar: Path) -> None:
    # Given one case's sidecar / When it is read
    meta = _load(sidecar)
    # Then its id is its place in the corpus, and the file it names sits beside it
    assert meta["id"] == f"{sidecar.parent.name}/{sidecar.stem}"
    assert (sidecar.parent / meta["file"]).is_file()
    assert Path(meta["file"]).stem == sidecar.stem
    # And it says where it comes from and under which licence
    assert isinstance(meta["source"], str)
    assert "/" in meta["source"]
    assert isinstance(meta["license"], str)
    assert meta["license"].strip()
    # And its expectation states something, in the agreed vocabulary
    expected = meta["expected"]
    assert expected
    assert set(expected) <= EXPECTED_KEYS
    for key in ONE_CHAR_OR_NONE:
        if key in expected:
            assert expected[key] is None or (isinstance(expected[key], str) and len(expected[key]) == 1)
    for key in ("has_header", "doublequote", "skipinitialspace"):
        if key in expected:
            assert isinstance(expected[key], bool)


@pytest.mark.parametrize("sidecar", RECORD_CASES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_stated_records_are_lists_of_strings_and_agree_with_their_count(sidecar: Path) -> None:
    # Given a case that states its records / When they are read
    expected = _load(sidecar)["expected"]
    records = expected["records"]
    # Then every record is a list of strings, and the stated count is the number of records
    assert all(isinstance(record, list) and all(isinstance(cell, str) for cell in record) for record in records)
    assert expected["record_count"] == len(records)


def test_every_file_in_the_corpus_has_a_sidecar() -> None:
    # Given every data file of the corpus / When matched with the sidecars
    named = {(sidecar.parent, _load(sidecar)["file"]) for sidecar in SIDECARS}
    files = {(path.parent, path.name) for path in CASES.glob("*/*") if path.suffix != ".json"}
    # Then none is left without its expectation
    assert files == named


def test_the_corpus_stays_small_and_its_readme_lists_every_suite() -> None:
    # Given the corpus / When its size and README are read
    size = sum(path.stat().st_size for path in CASES.glob("*/*"))
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    # Then it stays under 5 MB and the README describes each suite folder
    assert size < 5 * 1024 * 1024
    for suite in {sidecar.parent.name for sidecar in SIDECARS}:
        assert f"`{suite}/`" in readme
