"""Issue 12's targets, judged from the bench's measurements: medians, ratios, PASS / MISS, and the tables printed.

Pure arithmetic over plain records (no engine imported), so it is unit-tested on made-up figures. Speeds are the
input size over the median time of the runs (wall, and CPU time of all threads: the steadier figure on a shared
machine); memory is the largest peak RSS of the runs. A target compares wall-clock figures, as stated in the
issue; the CPU figures are printed beside them.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["PASS", "MISS", "FAIL", "NOT RUN"]
PEER = "polars"  # the fastest peer of the table, the one lakepipe is measured against
CLEAN_SPEEDUP = 1.10  # ≥ 1.1x polars on one core and on two
PEAK_RSS_MB = 450.0
FLAT_GROWTH = 1.10  # "flat": the 3 GB peak at most 10 % above the 1 GB peak, on the same cores
DIRTY_LIMITS = {0.0001: 1.10, 0.02: 1.30}  # dirty time / clean time, by share of bad rows
WARM_SECONDS = 0.3
COLD_IMPORT_SECONDS = 0.6


@dataclass(frozen=True)
class Run:
    """One conversion in a fresh child process."""

    phase: str  # "clean" (peers), "dirty", "big" (the flat-memory run)
    dataset: str  # e.g. "1GB", "0.01%", "3GB"
    engine: str
    cores: int
    input_bytes: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output_mb: float


@dataclass(frozen=True)
class Summary:
    runs: int
    seconds: float
    cpu_seconds: float
    mb_per_s: float
    cpu_mb_per_s: float
    peak_rss_mb: float
    output_mb: float


Key = tuple[str, str, int, str]  # phase, dataset, cores, engine


def summarise(runs: Iterable[Run]) -> dict[Key, Summary]:
    grouped: dict[Key, list[Run]] = {}
    for run in runs:
        grouped.setdefault((run.phase, run.dataset, run.cores, run.engine), []).append(run)
    summaries = {}
    for key, group in grouped.items():
        megabytes = group[0].input_bytes / 1e6
        seconds = statistics.median(run.seconds for run in group)
        cpu_seconds = statistics.median(run.cpu_seconds for run in group)
        summaries[key] = Summary(
            runs=len(group),
            seconds=seconds,
            cpu_seconds=cpu_seconds,
            mb_per_s=megabytes / seconds,
            cpu_mb_per_s=megabytes / cpu_seconds,
            peak_rss_mb=max(run.peak_rss_mb for run in group),
            output_mb=statistics.median(run.output_mb for run in group),
        )
    return summaries


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    ratio: str
    verdict: Verdict


def _at_least(value: float, threshold: float) -> Verdict:
    return "PASS" if value >= threshold else "MISS"


def _at_most(value: float, threshold: float) -> Verdict:
    return "PASS" if value <= threshold else "MISS"


def _not_run(name: str, goal: str, why: str) -> Target:
    return Target(name, goal, why, "-", "NOT RUN")


def clean_speed_target(summaries: dict[Key, Summary], dataset: str, cores: int) -> Target:
    name = f"clean {dataset}, {cores} core{'s' if cores > 1 else ''}: lakepipe speed"
    goal = f">= {CLEAN_SPEEDUP}x {PEER}"
    ours, peer = summaries.get(("clean", dataset, cores, "lakepipe")), summaries.get(("clean", dataset, cores, PEER))
    if ours is None or peer is None:
        return _not_run(name, goal, f"lakepipe or {PEER} not run")
    ratio = ours.mb_per_s / peer.mb_per_s
    measured = (
        f"{ours.mb_per_s:.0f} vs {peer.mb_per_s:.0f} MB/s (CPU {ours.cpu_mb_per_s:.0f} vs {peer.cpu_mb_per_s:.0f}: "
        f"{ours.cpu_mb_per_s / peer.cpu_mb_per_s:.2f}x)"
    )
    return Target(name, goal, measured, f"{ratio:.2f}x", _at_least(ratio, CLEAN_SPEEDUP))


def peak_rss_target(summaries: dict[Key, Summary], phase: str, dataset: str) -> Target:
    name, goal = f"lakepipe peak RSS, {dataset}", f"<= {PEAK_RSS_MB:.0f} MB"
    peaks = {key[2]: summary.peak_rss_mb for key, summary in summaries.items() if key[:2] == (phase, dataset)
             and key[3] == "lakepipe"}  # fmt: skip
    if not peaks:
        return _not_run(name, goal, f"no lakepipe run at {dataset}")
    worst = max(peaks.values())
    measured = ", ".join(f"{peaks[cores]:.0f} MB ({cores} core{'s' if cores > 1 else ''})" for cores in sorted(peaks))
    return Target(name, goal, measured, f"{worst / PEAK_RSS_MB:.2f}x limit", _at_most(worst, PEAK_RSS_MB))


def flat_memory_target(summaries: dict[Key, Summary], small: tuple[str, str], big: tuple[str, str]) -> Target:
    name, goal = f"lakepipe memory flat, {small[1]} -> {big[1]}", f"peak grows <= {FLAT_GROWTH:.2f}x"
    growths = {}
    for key, summary in summaries.items():
        if key[:2] == big and key[3] == "lakepipe":
            before = summaries.get((*small, key[2], "lakepipe"))
            if before is not None:
                growths[key[2]] = (before.peak_rss_mb, summary.peak_rss_mb)
    if not growths:
        return _not_run(name, goal, f"no lakepipe run at both {small[1]} and {big[1]}")
    worst = max(after / before for before, after in growths.values())
    measured = ", ".join(
        f"{before:.0f} -> {after:.0f} MB ({cores} core{'s' if cores > 1 else ''})"
        for cores, (before, after) in sorted(growths.items())
    )
    return Target(name, goal, measured, f"{worst:.2f}x", _at_most(worst, FLAT_GROWTH))


def share_label(share: float) -> str:
    return f"{share * 100:g}%"


def dirty_ratio(summaries: dict[Key, Summary], share: float, engine: str, cores: int = 1) -> tuple[float, float] | None:
    """(wall, CPU) time of the dirty file over its clean sibling's, or None when either was not run."""
    dirty = summaries.get(("dirty", share_label(share), cores, engine))
    clean = summaries.get(("dirty", share_label(0.0), cores, engine))
    if dirty is None or clean is None:
        return None
    return dirty.seconds / clean.seconds, dirty.cpu_seconds / clean.cpu_seconds


def dirty_target(summaries: dict[Key, Summary], share: float, limit: float) -> Target:
    name, goal = f"dirty {share_label(share)} bad rows, 1 core: lakepipe time", f"<= {limit:.2f}x its clean time"
    ratios = dirty_ratio(summaries, share, "lakepipe")
    if ratios is None:
        return _not_run(name, goal, "dirty runs not made")
    wall, cpu = ratios
    duckdb = dirty_ratio(summaries, share, "duckdb")
    versus = f"; DuckDB {duckdb[0]:.2f}x" if duckdb else ""
    return Target(name, goal, f"CPU {cpu:.2f}x{versus}", f"{wall:.2f}x", _at_most(wall, limit))


@dataclass
class Agreement:
    """The dirty runs' agreement checks: problems by dataset (an empty list: exact agreement)."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)  # rows both engines rejected, by dataset

    @property
    def failed(self) -> bool:
        return any(self.problems.values())


def agreement_target(agreement: Agreement) -> Target:
    name, goal = "dirty: same rows kept and rejected as DuckDB", "exact (and = the generator's)"
    if not agreement.problems:
        return _not_run(name, goal, "dirty runs not made")
    failing = sorted(dataset for dataset, problems in agreement.problems.items() if problems)
    if failing:
        return Target(name, goal, f"disagree on {', '.join(failing)}", "-", "FAIL")
    counts = ", ".join(f"{dataset}: {count}" for dataset, count in agreement.rejected.items())
    return Target(name, goal, f"rejected {counts}", "-", "PASS")


def seconds_target(name: str, goal_seconds: float, samples: Sequence[float]) -> Target:
    goal = f"<= {goal_seconds} s"
    if not samples:
        return _not_run(name, goal, "not run")
    median = statistics.median(samples)
    measured = f"{median:.3f} s (median of {len(samples)}; {min(samples):.3f}-{max(samples):.3f})"
    return Target(name, goal, measured, f"{median / goal_seconds:.2f}x limit", _at_most(median, goal_seconds))


# ---------------------------------------------------------------------------------------------------- tables
def markdown(header: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = ()) -> str:
    align = ["---:" if index in right else "---" for index in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def targets_table(targets: Sequence[Target]) -> str:
    rows = [(t.name, t.goal, t.measured, t.ratio, t.verdict) for t in targets]
    return markdown(("target (issue 12)", "goal", "measured", "ratio", "verdict"), rows, right=(3,))


def peers_table(summaries: dict[Key, Summary], engines: Sequence[str]) -> str:
    rows = []
    keys = sorted({key[:3] for key in summaries if key[0] in ("clean", "big")}, key=lambda k: (k[0], k[1], k[2]))
    for phase, dataset, cores in keys:
        peer = summaries.get((phase, dataset, cores, PEER))
        for engine in engines:
            summary = summaries.get((phase, dataset, cores, engine))
            if summary is None:
                continue
            versus = (
                f"{summary.mb_per_s / peer.mb_per_s:.2f}x / {summary.cpu_mb_per_s / peer.cpu_mb_per_s:.2f}x"
                if peer
                else "-"
            )
            rows.append(
                (dataset, str(cores), engine, f"{summary.mb_per_s:.0f}", f"{summary.cpu_mb_per_s:.0f}",
                 f"{summary.peak_rss_mb:.0f}", f"{summary.output_mb:.1f}", versus, str(summary.runs))
            )  # fmt: skip
    header = ("input", "cores", "engine", "MB/s", "CPU MB/s", "peak RSS MB", "Parquet MB", f"vs {PEER} (wall / CPU)",
              "runs")  # fmt: skip
    return markdown(header, rows, right=(3, 4, 5, 6, 7))


def dirty_table(summaries: dict[Key, Summary], shares: Sequence[float], agreement: Agreement) -> str:
    rows = []
    for share in shares:
        cells = [share_label(share), str(agreement.rejected.get(share_label(share), "-"))]
        for engine in ("lakepipe", "duckdb"):
            summary = summaries.get(("dirty", share_label(share), 1, engine))
            ratios = dirty_ratio(summaries, share, engine)
            cells.append(f"{summary.mb_per_s:.0f}" if summary else "-")
            cells.append(f"{ratios[0]:.2f}x / {ratios[1]:.2f}x" if ratios else "-")
        rows.append(cells)
    header = ("bad rows", "rejected", "lakepipe MB/s", "lakepipe dirty/clean (wall / CPU)", "DuckDB MB/s",
              "DuckDB dirty/clean (wall / CPU)")  # fmt: skip
    return markdown(header, rows, right=(1, 2, 3, 4, 5))
