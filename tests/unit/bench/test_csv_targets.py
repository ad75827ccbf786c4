"""Issue 12's targets as the bench judges them (bench/csv_targets.py): medians, ratios and verdicts, on made-up runs
whose expected figures are worked out by hand here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.csv_targets import (
    Agreement,
    Run,
    agreement_target,
    clean_speed_target,
    dirty_target,
    flat_memory_target,
    peak_rss_target,
    seconds_target,
    summarise,
    targets_table,
)
from bench.handler_timing import slowest_imports

GB = 1_000_000_000


def clean(engine: str, cores: int, seconds: float, *, cpu: float | None = None, rss: float = 300.0) -> Run:
    return Run("clean", "1GB", engine, cores, GB, seconds, cpu or seconds, rss, 100.0)


def test_speeds_are_the_input_over_the_median_run_and_memory_the_worst_run() -> None:
    # Given three lakepipe runs of 1 GB, one of them slowed down by a neighbour
    runs = [clean("lakepipe", 1, 5.0, rss=280), clean("lakepipe", 1, 9.0, rss=310), clean("lakepipe", 1, 6.0, rss=290)]

    (summary,) = summarise(runs).values()

    # Then the median run (6 s) gives the speed, and the largest peak the memory
    assert summary.mb_per_s == pytest.approx(1000 / 6.0)
    assert summary.peak_rss_mb == 310
    assert summary.runs == 3


@pytest.mark.parametrize(("lakepipe_seconds", "verdict", "ratio"), [(5.0, "PASS", "1.10x"), (5.1, "MISS", "1.08x")])
def test_clean_speed_passes_from_one_point_one_times_polars(lakepipe_seconds: float, verdict: str, ratio: str) -> None:
    # Given polars at 5.5 s and lakepipe at 5.0 s (exactly 1.1x polars' speed) or 5.1 s
    summaries = summarise([clean("polars", 1, 5.5), clean("lakepipe", 1, lakepipe_seconds, cpu=4.0)])

    target = clean_speed_target(summaries, "1GB", 1)

    assert (target.verdict, target.ratio) == (verdict, ratio)
    assert "CPU 250 vs 182" in target.measured


def test_a_target_whose_runs_are_missing_is_not_run_rather_than_passed() -> None:
    summaries = summarise([clean("lakepipe", 1, 5.0)])

    assert clean_speed_target(summaries, "1GB", 1).verdict == "NOT RUN"
    assert dirty_target(summaries, 0.02, 1.3).verdict == "NOT RUN"
    assert agreement_target(Agreement()).verdict == "NOT RUN"
    assert seconds_target("warm", 0.3, []).verdict == "NOT RUN"


def test_memory_targets_take_the_worst_core_count() -> None:
    # Given lakepipe at 1 GB (300 / 340 MB on 1 / 2 cores) and at 3 GB (305 / 380 MB)
    runs = [clean("lakepipe", 1, 5, rss=300), clean("lakepipe", 2, 3, rss=340)]
    runs += [Run("big", "3GB", "lakepipe", cores, 3 * GB, 15, 15, rss, 300) for cores, rss in ((1, 305), (2, 380))]
    summaries = summarise(runs)

    # Then 380 MB is under 450 MB, but 340 -> 380 MB (1.12x) is not flat (<= 1.10x)
    assert peak_rss_target(summaries, "big", "3GB").verdict == "PASS"
    flat = flat_memory_target(summaries, ("clean", "1GB"), ("big", "3GB"))
    assert (flat.verdict, flat.ratio) == ("MISS", "1.12x")


def test_dirty_ratios_compare_each_engine_with_its_own_clean_sibling() -> None:
    # Given the dirty family on one core: lakepipe 2.0 s clean, 2.5 s at 2 %; DuckDB 2.0 s and 2.2 s
    runs = [
        Run("dirty", label, engine, 1, 200_000_000, seconds, seconds, 250, 20)
        for label, engine, seconds in (("0%", "lakepipe", 2.0), ("2%", "lakepipe", 2.5), ("0%", "duckdb", 2.0),
                                       ("2%", "duckdb", 2.2))
    ]  # fmt: skip

    target = dirty_target(summarise(runs), 0.02, 1.3)

    assert (target.verdict, target.ratio) == ("PASS", "1.25x")
    assert "DuckDB 1.10x" in target.measured


def test_any_disagreement_fails_the_agreement_target() -> None:
    agreement = Agreement(problems={"0%": [], "2%": ["run 1: lakepipe kept spoilt lines: 7"]})

    assert agreement.failed
    assert agreement_target(agreement).verdict == "FAIL"
    assert agreement_target(Agreement(problems={"0%": []}, rejected={"0%": 0})).verdict == "PASS"


def test_seconds_targets_use_the_median() -> None:
    target = seconds_target("cold import", 0.6, [0.5, 0.9, 0.55])

    assert (target.verdict, target.ratio) == ("PASS", "0.92x limit")


def test_the_targets_table_has_one_row_per_target() -> None:
    table = targets_table([seconds_target("warm", 0.3, [0.4]), seconds_target("cold", 0.6, [0.5])])

    assert table.splitlines()[2:] == [
        "| warm | <= 0.3 s | 0.400 s (median of 1; 0.400-0.400) | 1.33x limit | MISS |",
        "| cold | <= 0.6 s | 0.500 s (median of 1; 0.500-0.500) | 0.83x limit | PASS |",
    ]


def test_slowest_imports_reads_cpythons_importtime_lines() -> None:
    # Given CPython's own -X importtime reports of importing json, and of an empty program (start-up, site)
    profile, baseline = (
        subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
        for code in ("import json", "pass")
    )

    slowest = slowest_imports(profile.stderr, 3, baseline=baseline.stderr)

    # Then json (which imports json.decoder, json.scanner...) is the slowest, cumulatively, and site is left out
    assert slowest[0][0] == "json"
    assert "site" not in {name for name, _ in slowest}
    assert len(slowest) == 3
    assert slowest[0][1] >= slowest[1][1] >= slowest[2][1] > 0
