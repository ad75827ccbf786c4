"""Dialect detection on CSV suites written by others: Python's csv.Sniffer, clevercsv and lakepipe, side by side.

Every case of tests/fixtures/csv/external/cases/ is a file plus the result its suite states (delimiter, quote,
escape, header, records). Each detector sees only the bytes; the score counts how often it lands on what the suite
says. Run: ``.venv/bin/python bench/dialect_suites.py`` (``--explain`` lists lakepipe's failures with what was
expected and what it produced; ``--json PATH`` writes every result). clevercsv is measured only when it is installed.

Scoring rules (the same for every detector):
- a quote or escape character counts as right when it equals the stated one, or when neither the stated nor the
  detected character occurs in the file (then the choice cannot change the parse);
- records are compared after dropping empty records (``[]`` or ``['']``: blank lines, which suites disagree on);
- a detector that raises or detects nothing is wrong on every check of that case.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

# lakepipe's API, used by lakepipe_detect() only
from lakepipe.domain.csv.convert import convert_csv
from lakepipe.domain.csv.detection import read_sample, sniff
from lakepipe.domain.csv.dialect import decompressed
from lakepipe.domain.csv.errors import HeaderOnlyFileError
from lakepipe.domain.csv.naming import column_names_for
from lakepipe.domain.csv.schema import CatalogColumn, TableContract, plan_conversion

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = ROOT / "tests" / "fixtures" / "csv" / "external" / "cases"
SNIFF_BYTES = 65536


@dataclass
class Detection:
    delimiter: str | None = None
    quotechar: str | None = None
    escapechar: str | None = None
    has_header: bool | None = None
    records: list[list[str]] | None = None
    error: str | None = None  # the detector raised or found nothing: every check of the case fails
    refused: str | None = None  # the dialect was detected but the conversion refused the file (no records)
    records_error: str | None = None  # the dialect was detected but reading the records under it raised
    detect_seconds: float = 0.0


# ---------------------------------------------------------------------------------------------------------------
# The lakepipe adapter: the only code here that knows lakepipe's API. Update it when the CSV domain API changes.
# ---------------------------------------------------------------------------------------------------------------
LAKEPIPE_IMPORT = "import lakepipe.domain.csv.detection, lakepipe.domain.csv.convert, lakepipe.domain.csv.schema"


def lakepipe_detect(data: bytes) -> Detection:
    """lakepipe's sniff() for the dialect, and the real conversion (every column as string) for the records."""
    sample_bytes = 1 << 20
    location = "s3://lake/database/bench/"
    started = time.perf_counter()
    stream, compression = decompressed(io.BytesIO(data))
    sample = read_sample(stream, sample_bytes)
    refused = None
    try:
        sampled = sniff(sample, complete=len(sample) <= sample_bytes, compression=compression)
    except HeaderOnlyFileError as error:
        # The conversion refuses a file whose only record it took for a header. Sniffing it as a cut sample (the
        # check is skipped then) still tells which dialect it chose, so detection is scored apart from the refusal.
        refused = f"{type(error).__name__}: {error}"
        sampled = sniff(sample + b"\n", complete=False, compression=compression)
    detect_seconds = time.perf_counter() - started
    dialect = sampled.dialect
    detection = Detection(
        delimiter=dialect.delimiter,
        quotechar=dialect.quote_char,
        escapechar=dialect.escape_char,
        has_header=dialect.has_header,
        detect_seconds=detect_seconds,
        refused=refused,
    )
    if refused:
        # Nothing is converted (an empty table is no table), but the one record was read, as a header.
        detection.records = [list(sampled.header)] if dialect.has_header else []
        return detection
    # A contract of string columns keeps every value as written (no type inference rewrites "1.50" as 1.5).
    names = column_names_for(sampled.header)
    contract = TableContract("bench", tuple(CatalogColumn(name, "string") for name in names), location)
    plan = plan_conversion(sampled, contract, location)
    sink = io.BytesIO()

    class Discard:
        def write(self, records: object) -> None:
            pass  # quarantined records are simply absent from the records

    def records() -> list[list[str]]:
        convert_csv(stream, plan, sink, Discard(), already_read=sample)
        table = pq.ParquetFile(pa.BufferReader(sink.getvalue())).read(use_threads=False)  # arrow#33975
        rows = [["" if value is None else str(value) for value in row.values()] for row in table.to_pylist()]
        return ([list(sampled.header)] if dialect.has_header else []) + rows

    return _with_records(detection, records)


def _with_records(detection: Detection, read: Callable[[], Iterable[list[str]]]) -> Detection:
    """The detection with the records read under its dialect; a reader that raises leaves the dialect scored."""
    try:
        detection.records = list(read())
    except Exception as error:  # a reader error fails the records checks, not the dialect ones
        detection.records_error = f"{type(error).__name__}: {error}"[:200]
    return detection


# ---------------------------------------------------------------------------------------------------------------
# The reference detectors
# ---------------------------------------------------------------------------------------------------------------
def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes every byte")


def sniffer_detect(data: bytes) -> Detection:
    """csv.Sniffer().sniff and has_header on the first 64 KB, then csv.reader over the whole file."""
    text = _text(data)
    sample = text[:SNIFF_BYTES]
    started = time.perf_counter()
    sniffer = csv.Sniffer()
    dialect = sniffer.sniff(sample)
    try:
        has_header: bool | None = sniffer.has_header(sample)
    except csv.Error:
        has_header = None
    detection = Detection(
        delimiter=dialect.delimiter,
        quotechar=dialect.quotechar,
        escapechar=dialect.escapechar,
        has_header=has_header,
        detect_seconds=time.perf_counter() - started,
    )
    return _with_records(detection, lambda: csv.reader(io.StringIO(text, newline=""), dialect))


CLEVERCSV_IMPORT = "import clevercsv"
CLEVERCSV_FIELD_LIMIT = 131072  # clevercsv's own default


def clevercsv_detect(data: bytes) -> Detection:
    """clevercsv's Detector on the first 64 KB, then clevercsv.reader over the whole file."""
    import clevercsv  # noqa: PLC0415 - optional: measured only where installed

    # clevercsv 0.8.5 lowers its global field size limit after reading a file with NUL bytes (to 6, 7, 9... here),
    # and every later file then fails "field larger than field limit": restore its default so cases stay independent.
    clevercsv.field_size_limit(CLEVERCSV_FIELD_LIMIT)
    text = _text(data)
    sample = text[:SNIFF_BYTES]
    started = time.perf_counter()
    detector = clevercsv.Detector()
    dialect = detector.detect(sample)
    if dialect is None:
        return Detection(error="no dialect detected", detect_seconds=time.perf_counter() - started)
    try:
        has_header: bool | None = detector.has_header(sample)
    except Exception:  # its has_header fails on some inputs; that is a wrong answer, not a crash
        has_header = None
    detection = Detection(
        delimiter=dialect.delimiter,
        quotechar=dialect.quotechar or None,
        escapechar=dialect.escapechar or None,
        has_header=has_header,
        detect_seconds=time.perf_counter() - started,
    )
    return _with_records(detection, lambda: clevercsv.reader(io.StringIO(text, newline=""), dialect=dialect))


# ---------------------------------------------------------------------------------------------------------------
# Cases and scoring
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Case:
    id: str
    suite: str
    data: bytes
    expected: dict[str, Any]


def load_cases(folder: Path = CASES_DIR) -> list[Case]:
    cases = []
    for sidecar in sorted(folder.glob("*/*.json")):
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        data = (sidecar.parent / meta["file"]).read_bytes()
        cases.append(Case(meta["id"], meta["id"].split("/")[0], data, meta["expected"]))
    return cases


def _without_empty(records: Sequence[Sequence[str]]) -> list[list[str]]:
    return [list(record) for record in records if list(record) not in ([], [""])]


def _same_char(expected: str | None, got: str | None, text: str) -> bool:
    expected, got = expected or None, got or None
    if expected == got:
        return True
    return (expected is None or expected not in text) and (got is None or got not in text)


CHECKS = ("delimiter", "quotechar", "escapechar", "has_header", "records", "record_count")


def score(case: Case, detection: Detection) -> dict[str, bool]:
    """For every check the case states, whether the detection got it right."""
    expected, text = case.expected, _text(case.data)
    failed = detection.error is not None
    results: dict[str, bool] = {}
    if "delimiter" in expected:
        results["delimiter"] = not failed and detection.delimiter == expected["delimiter"]
    if "quotechar" in expected:
        results["quotechar"] = not failed and _same_char(expected["quotechar"], detection.quotechar, text)
    if "escapechar" in expected:
        results["escapechar"] = not failed and _same_char(expected["escapechar"], detection.escapechar, text)
    if "has_header" in expected:
        results["has_header"] = not failed and detection.has_header == expected["has_header"]
    produced = None if failed or detection.records is None else _without_empty(detection.records)
    if "records" in expected:
        results["records"] = produced is not None and produced == _without_empty(expected["records"])
    count = len(_without_empty(expected["records"])) if "records" in expected else expected.get("record_count")
    if count is not None:
        results["record_count"] = produced is not None and len(produced) == count
    return results


@dataclass
class Outcome:
    case: Case
    detection: Detection
    results: dict[str, bool] = field(default_factory=dict)


def run(detector: Callable[[bytes], Detection], cases: Sequence[Case]) -> tuple[list[Outcome], float]:
    outcomes = []
    started = time.perf_counter()
    for case in cases:
        try:
            detection = detector(case.data)
        except Exception as error:  # a detector that raises has failed this case; keep going
            detection = Detection(error=f"{type(error).__name__}: {error}"[:200])
        outcomes.append(Outcome(case, detection, score(case, detection)))
    return outcomes, time.perf_counter() - started


def import_seconds(statement: str, repeats: int = 5) -> float:
    """Median wall time of ``statement`` in a fresh interpreter (what a Lambda cold start pays)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    timings = []
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        timings.append(float(done.stdout.strip()))
    return statistics.median(timings)


TIMING_SEEDS = ("duckdb/rfc_conform_quote", "csv-spectrum/comma_in_quotes", "cpython/sniffer_sample2")


def sample_timings(
    detectors: dict[str, tuple[Callable[[bytes], Detection], str]], cases: Sequence[Case]
) -> list[list[str]]:
    """Detection time on 64 KB samples made by repeating the data lines of a few suite files (a realistic width)."""
    by_id = {case.id: case for case in cases}
    rows = [["64 KB sample (ms)", *detectors]]
    for seed in TIMING_SEEDS:
        lines = [line.rstrip(b"\r\n") + b"\n" for line in by_id[seed].data.splitlines()]
        head, body = lines[0], b"".join(lines[1:]) or lines[0]
        data = (head + body * (SNIFF_BYTES // len(body) + 1))[:SNIFF_BYTES]
        data = data[: data.rfind(b"\n") + 1]
        timings = []
        for detector, _ in detectors.values():
            best = min(_timed(detector, data) for _ in range(3))
            timings.append(f"{1000 * best:.1f}")
        rows.append([seed, *timings])
    return rows


def _timed(detector: Callable[[bytes], Detection], data: bytes) -> float:
    try:
        return detector(data).detect_seconds
    except Exception:  # a failed detection has no time worth reporting
        return float("nan")


def _tally(outcomes: Sequence[Outcome]) -> dict[str, tuple[int, int]]:
    tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for outcome in outcomes:
        for check, right in outcome.results.items():
            tally[check][0] += right
            tally[check][1] += 1
    return {check: (tally[check][0], tally[check][1]) for check in CHECKS if check in tally}


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def _explain(outcome: Outcome) -> str:
    expected, got = outcome.case.expected, outcome.detection
    parts = [f"{outcome.case.id}: failed {', '.join(c for c, ok in outcome.results.items() if not ok)}"]
    if got.error:
        parts.append(f"  raised {got.error}")
    if got.refused:
        parts.append(f"  refused {got.refused}")
    if got.records_error:
        parts.append(f"  reading the records raised {got.records_error}")
    for check in ("delimiter", "quotechar", "escapechar", "has_header"):
        if check in outcome.results and not outcome.results[check]:
            parts.append(f"  {check}: expected {expected[check]!r}, got {getattr(got, check)!r}")
    if not outcome.results.get("records", True) and got.records is not None:
        want, have = _without_empty(expected["records"]), _without_empty(got.records)
        first = next((i for i, (a, b) in enumerate(zip(want, have, strict=False)) if a != b), min(len(want), len(have)))
        parts.append(f"  records: expected {len(want)}, got {len(have)}; first difference at record {first}:")
        parts.append(f"    expected {want[first] if first < len(want) else None!r}")
        parts.append(f"    got      {have[first] if first < len(have) else None!r}")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--explain", action="store_true", help="list lakepipe's failures with expected vs produced")
    parser.add_argument("--json", type=Path, help="write every outcome to this file")
    arguments = parser.parse_args()

    cases = load_cases()
    detectors: dict[str, tuple[Callable[[bytes], Detection], str]] = {
        "csv.Sniffer": (sniffer_detect, "import csv"),
        "lakepipe": (lakepipe_detect, LAKEPIPE_IMPORT),
    }
    try:
        import clevercsv  # noqa: PLC0415 - optional: measured only where installed

        detectors["clevercsv " + clevercsv.__version__] = (clevercsv_detect, CLEVERCSV_IMPORT)
    except ImportError:
        print("clevercsv is not installed: measuring csv.Sniffer and lakepipe only", file=sys.stderr)

    suites = sorted({case.suite for case in cases})
    print(
        f"{len(cases)} cases from {len(suites)} suites: "
        + ", ".join(f"{suite} {sum(case.suite == suite for case in cases)}" for suite in suites)
    )
    results: dict[str, list[Outcome]] = {}
    header = ["detector", *CHECKS, "import ms", "detect ms/file", "total s"]
    rows = [header]
    for name, (detector, import_statement) in detectors.items():
        outcomes, total = run(detector, cases)
        results[name] = outcomes
        tally = _tally(outcomes)
        detect = sum(outcome.detection.detect_seconds for outcome in outcomes)
        rows.append(
            [
                name,
                *(f"{tally[c][0]}/{tally[c][1]}" if c in tally else "-" for c in CHECKS),
                f"{1000 * import_seconds(import_statement):.1f}",
                f"{1000 * detect / len(cases):.2f}",
                f"{total:.2f}",
            ]
        )
    print(_table(rows))
    print(
        "(import ms: median of 5 fresh interpreters; detect ms/file: dialect + header detection only, mean; "
        "total s: detection plus reading every record, all cases)"
    )
    refusals = [o.case.id for o in results["lakepipe"] if o.detection.refused]
    if refusals:
        print(f"lakepipe detected a dialect but refused {len(refusals)} files as header-only (scored with no records)")
    print()
    print(_table(sample_timings(detectors, cases)))

    for suite in suites:
        rows = [[f"{suite}", *CHECKS]]
        for name, outcomes in results.items():
            tally = _tally([outcome for outcome in outcomes if outcome.case.suite == suite])
            rows.append([name, *(f"{tally[c][0]}/{tally[c][1]}" if c in tally else "-" for c in CHECKS)])
        print()
        print(_table(rows))

    for name, outcomes in results.items():
        print(f"\n{name} failures:")
        for check in CHECKS:
            failing = [outcome.case.id for outcome in outcomes if outcome.results.get(check) is False]
            if failing:
                print(f"  {check} ({len(failing)}): {' '.join(failing)}")

    if arguments.explain:
        print("\nlakepipe failures, expected vs produced:")
        for outcome in results["lakepipe"]:
            if not all(outcome.results.values()):
                print(_explain(outcome))
    if arguments.json:
        arguments.json.write_text(
            json.dumps(
                {
                    name: [{"id": o.case.id, "results": o.results, "detection": asdict(o.detection)} for o in outcomes]
                    for name, outcomes in results.items()
                },
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
