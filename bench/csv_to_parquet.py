"""Benchmark: lakepipe's CSV → Parquet beside its peers, dirty files, flat memory, and the function's own costs.

    make bench                                         # everything, 3 runs (~10 minutes on 2 shared cores)
    .venv/bin/python bench/csv_to_parquet.py --quick   # 100 MB files, 1 run, no 3 GB run (~2 minutes)
    .venv/bin/python bench/csv_to_parquet.py --phases clean --engines lakepipe,polars --runs 5

Prints one table of issue 12's targets (measured value, ratio, PASS / MISS), after the detailed tables:

* clean (1 GB): lakepipe, polars, DuckDB, pyarrow and pandas, one core and two, interleaved run by run;
* dirty (200 MB, one core): bad values in a numeric column on 0 / 0.01 / 1 / 2 % of the rows, lakepipe (against
  an existing table's declared types) and DuckDB (``store_rejects``); every run's outputs are checked against
  each other and against the generator (bench/csv_agreement.py): a disagreement fails the bench;
* big (3 GB): lakepipe's peak RSS, for memory that stays flat from 1 GB;
* handler: a warm 10 MB invocation through the real handler on moto, and the handler module's cold import
  (bench/handler_timing.py).

Every conversion runs in a fresh child process that pins itself (``sched_setaffinity``) before importing its
engine; DuckDB, polars and Arrow are also given the thread count (they size their pools without looking at the
affinity). Speeds are input MB (10^6 bytes) over the median time of the conversion itself (after imports), wall
and CPU (all threads); peak RSS is the child's ``ru_maxrss``. This parent process imports no engine: a child's
``ru_maxrss`` counts the parent's resident memory at fork, so the parent stays small (its own peak is printed).
The bench exits non-zero only on a correctness failure (rows lost or disagreeing), never on a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make the bench package importable
    sys.path.insert(0, str(REPO_ROOT))

from bench.csv_data import GeneratedCsv, Spoilage, generated_as_wanted, path_for, read_generated, stride_for  # noqa: E402
from bench.csv_targets import (  # noqa: E402
    COLD_IMPORT_SECONDS,
    DIRTY_LIMITS,
    WARM_SECONDS,
    Agreement,
    Run,
    Target,
    agreement_target,
    clean_speed_target,
    dirty_table,
    dirty_target,
    flat_memory_target,
    peak_rss_target,
    peers_table,
    seconds_target,
    share_label,
    summarise,
    targets_table,
)

DATA_DIR = REPO_ROOT / "bench" / "data"
OUT_DIR = DATA_DIR / "out"
ENGINES = ("lakepipe", "polars", "duckdb", "pyarrow", "pandas")
DIRTY_ENGINES = ("lakepipe", "duckdb")
DIRTY_SHARES = (0.0, 0.0001, 0.01, 0.02)
PHASES = ("clean", "dirty", "big", "handler")


def parse_size(text: str) -> int:
    units = {"KB": 10**3, "MB": 10**6, "GB": 10**9}
    for unit, factor in units.items():
        if text.upper().endswith(unit):
            return int(float(text[: -len(unit)]) * factor)
    return int(text)


# ---------------------------------------------------------------------------------------------- child side
def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """What a child process does, by ``spec["task"]``; engines are imported here, after the CPUs are pinned."""
    if spec.get("cpus"):
        os.sched_setaffinity(0, set(spec["cpus"]))
    task = spec["task"]
    if task == "generate":
        from bench.csv_data import weather_csv  # noqa: PLC0415

        stride = spec["stride"]
        generated = weather_csv(
            Path(spec["directory"]),
            spec["label"],
            spec["bytes"],
            with_row_id=spec["with_row_id"],
            spoilage=None if stride is None else Spoilage(stride=stride),
        )
        return {"rows": generated.rows}
    if task == "convert":
        from bench.csv_engines import run_conversion  # noqa: PLC0415

        rejects = Path(spec["rejects"]) if spec["rejects"] else None
        return run_conversion(
            spec["engine"], Path(spec["source"]), Path(spec["target"]), rejects, against_table=spec["against_table"]
        )
    if task == "count_rows":
        import pyarrow.parquet as pq  # noqa: PLC0415

        return {path: pq.ParquetFile(path).metadata.num_rows for path in spec["paths"]}
    if task == "verify_dirty":
        from bench.csv_agreement import check_dirty_run  # noqa: PLC0415

        spoilt = read_generated(Path(spec["source"]))
        assert spoilt is not None, "a dirty file has its sidecar"
        assert spoilt.spoilage is not None, "a dirty file says which rows it spoilt"
        outputs = {role: Path(path) for role, path in spec["outputs"].items()}
        return check_dirty_run(
            source=spoilt.path,
            rows=spoilt.rows,
            bad_lines=spoilt.bad_lines,
            column=spoilt.spoilage.column,
            outputs=outputs,
        )
    if task == "handler":
        from bench.handler_timing import handler_costs  # noqa: PLC0415

        return handler_costs(
            Path(spec["source"]),
            expected_rows=spec["rows"],
            invocations=spec["invocations"],
            import_repeats=spec["import_repeats"],
        )
    raise ValueError(f"unknown task {task}")


# --------------------------------------------------------------------------------------------- parent side
class ChildFailedError(RuntimeError):
    pass


def spawn(spec: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Run ``spec`` in a fresh interpreter: (its result, its peak RSS in MB)."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    result_path = OUT_DIR / f"result-{os.getpid()}.json"
    result_path.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--child", json.dumps(spec), "--result", str(result_path)]
    child = subprocess.Popen(command, cwd=REPO_ROOT)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0 or not result_path.exists():
        code = os.waitstatus_to_exitcode(status)
        raise ChildFailedError(f"{spec['task']} {spec.get('engine', '')} failed (exit code {code})")
    result: dict[str, Any] = json.loads(result_path.read_text())
    result_path.unlink()
    return result, usage.ru_maxrss / 1024


def dataset(label: str, size: int, *, with_row_id: bool = False, share: float | None = None) -> GeneratedCsv:
    """The generated file (generated in a child on first use, so this process never imports numpy or pyarrow)."""
    stride = None if share is None else stride_for(share)
    path = path_for(DATA_DIR, label)
    spoilage = None if stride is None else Spoilage(stride=stride)
    existing = generated_as_wanted(path, with_row_id=with_row_id, spoilage=spoilage)
    if existing is None:
        print(f"generating {path.relative_to(REPO_ROOT)} ({size / 1e6:.0f} MB) ...", flush=True)
        started = time.perf_counter()
        spec = {"task": "generate", "directory": str(DATA_DIR), "label": label, "bytes": size,
                "with_row_id": with_row_id, "stride": stride}  # fmt: skip
        spawn(spec)
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
        existing = generated_as_wanted(path, with_row_id=with_row_id, spoilage=spoilage)
    assert existing is not None
    return existing


class Bench:
    def __init__(self, engines: list[str], cpu: int) -> None:
        self.engines = engines
        self.cpu = cpu
        self.all_cpus = sorted(os.sched_getaffinity(0))
        self.runs: list[Run] = []
        self.agreement = Agreement()
        self.failures: list[str] = []
        self.handler: dict[str, Any] | None = None

    def cpus_for(self, cores: int) -> list[int]:
        return [self.cpu] if cores == 1 else self.all_cpus[:cores]

    def convert(
        self, phase: str, label: str, source: GeneratedCsv, engine: str, cores: int, *, rejects: bool, table: bool
    ) -> dict[str, Path]:
        stem = OUT_DIR / f"{phase}-{label.replace('%', 'pct')}-{cores}c-{engine}"
        target, rejects_path = stem.with_suffix(".parquet"), Path(f"{stem}-rejects.parquet")
        target.unlink(missing_ok=True)
        rejects_path.unlink(missing_ok=True)
        keep_rejects = engine == "lakepipe" or rejects
        spec = {"task": "convert", "engine": engine, "source": str(source.path), "target": str(target),
                "rejects": str(rejects_path) if keep_rejects else None, "cpus": self.cpus_for(cores),
                "against_table": table}  # fmt: skip
        timings, peak_rss = spawn(spec)
        run = Run(phase, label, engine, cores, source.bytes, timings["seconds"], timings["cpu_seconds"], peak_rss,
                  target.stat().st_size / 1e6)  # fmt: skip
        self.runs.append(run)
        print(
            f"  {phase} {label} {cores} core(s) {engine}: {source.bytes / 1e6 / run.seconds:.0f} MB/s "
            f"(CPU {source.bytes / 1e6 / run.cpu_seconds:.0f}), {peak_rss:.0f} MB RSS",
            flush=True,
        )
        return {engine: target, f"{engine}_rejects": rejects_path}

    def check_rows(self, outputs: list[Path], source: GeneratedCsv) -> None:
        counts, _ = spawn({"task": "count_rows", "paths": [str(path) for path in outputs]})
        for path, rows in counts.items():
            if rows != source.rows:
                self.failures.append(f"{Path(path).name}: {rows} rows, the source has {source.rows}")

    def clean_phase(self, label: str, source: GeneratedCsv, runs: int, phase: str = "clean") -> None:
        engines = self.engines if phase == "clean" else ["lakepipe"]
        for run in range(runs):
            print(f"{phase} {label}, run {run + 1} of {runs}", flush=True)
            outputs = []
            for cores in (1, len(self.all_cpus)):
                for engine in engines:  # interleaved: a noisy neighbour slows every engine alike
                    paths = self.convert(phase, label, source, engine, cores, rejects=False, table=False)
                    outputs.append(paths[engine])
            self.check_rows(outputs, source)

    def dirty_phase(self, family: dict[float, GeneratedCsv], runs: int) -> None:
        for run in range(runs):
            print(f"dirty, run {run + 1} of {runs}", flush=True)
            for share, source in family.items():
                label = share_label(share)
                outputs: dict[str, Path] = {}
                for engine in DIRTY_ENGINES:
                    outputs |= self.convert("dirty", label, source, engine, 1, rejects=True, table=True)
                verdict, _ = spawn(
                    {"task": "verify_dirty", "source": str(source.path),
                     "outputs": {role: str(path) for role, path in outputs.items()}}
                )  # fmt: skip
                problems = self.agreement.problems.setdefault(label, [])
                problems += [f"run {run + 1}: {problem}" for problem in verdict["problems"]]
                self.agreement.rejected[label] = verdict["rejected"]["lakepipe"]
                state = "agree" if not verdict["problems"] else "DISAGREE: " + "; ".join(verdict["problems"])
                print(f"    {label}: {verdict['rejected']} rejected of {verdict['expected_rejected']} spoilt, {state}")

    def handler_phase(self, source: GeneratedCsv, invocations: int, import_repeats: int) -> None:
        print(
            f"handler: the same {source.bytes / 1e6:.0f} MB converted alone (no AWS calls), for comparison", flush=True
        )
        for _ in range(3):
            self.convert("handler", "10MB", source, "lakepipe", len(self.all_cpus), rejects=False, table=False)
        print(f"handler: warm {source.bytes / 1e6:.0f} MB invocations on moto, cold imports", flush=True)
        self.handler, _ = spawn(
            {"task": "handler", "source": str(source.path), "rows": source.rows, "invocations": invocations,
             "import_repeats": import_repeats}
        )  # fmt: skip

    def targets(self, clean_label: str, big_label: str) -> list[Target]:
        summaries = summarise(self.runs)
        cores = len(self.all_cpus)
        targets = [clean_speed_target(summaries, clean_label, 1), clean_speed_target(summaries, clean_label, cores)]
        targets.append(peak_rss_target(summaries, "clean", clean_label))
        targets.append(peak_rss_target(summaries, "big", big_label))
        targets.append(flat_memory_target(summaries, ("clean", clean_label), ("big", big_label)))
        targets += [dirty_target(summaries, share, limit) for share, limit in DIRTY_LIMITS.items()]
        targets.append(agreement_target(self.agreement))
        warm = self.handler["warm"]["handler_seconds"] if self.handler else []
        targets.append(seconds_target("warm 10 MB through the handler on moto", WARM_SECONDS, warm))
        cold = self.handler["cold"]["lambda"]["seconds"] if self.handler else []
        targets.append(seconds_target("handler cold import (Lambda env, tracing on)", COLD_IMPORT_SECONDS, cold))
        return targets

    def report(self, clean_label: str, big_label: str) -> str:
        summaries = summarise(self.runs)
        sections = []
        if any(run.phase in ("clean", "big") for run in self.runs):
            sections.append("Clean files (one row per engine, input, cores):\n" + peers_table(summaries, self.engines))
        if self.agreement.problems:
            sections.append("Dirty files (1 core):\n" + dirty_table(summaries, DIRTY_SHARES, self.agreement))
        if self.handler:
            alone = summaries.get(("handler", "10MB", len(self.all_cpus), "lakepipe"))
            sections.append(handler_section(self.handler, alone.seconds if alone else None))
        parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sections.append(
            f"Targets (bench parent's peak RSS: {parent_rss:.0f} MB, the floor under every child's):\n"
            + targets_table(self.targets(clean_label, big_label))
        )
        if self.failures or self.agreement.failed:
            failures = self.failures + [p for problems in self.agreement.problems.values() for p in problems]
            sections.append("CORRECTNESS FAILURES:\n" + "\n".join(f"- {failure}" for failure in failures))
        return "\n\n".join(sections)


def handler_section(handler: dict[str, Any], alone_seconds: float | None) -> str:
    warm = handler["warm"]

    def listed(samples: list[float]) -> str:
        return ", ".join(f"{seconds:.3f}" for seconds in samples)

    lines = [
        f"Handler (both cores, moto in the same process): warm invocations {listed(warm['handler_seconds'])} s; "
        f"of which convert_object {listed(warm['conversion_seconds'])} s"
    ]
    if alone_seconds is not None:
        lines.append(f"The same file converted alone (convert_csv on local files, no AWS calls): {alone_seconds:.3f} s")
    for variant, cold in handler["cold"].items():
        samples = ", ".join(f"{seconds:.3f}" for seconds in cold["seconds"])
        lines.append(f"Cold import ({variant} env): {samples} s; slowest modules (cumulative):")
        lines += [f"  {seconds:6.3f} s  {name}" for name, seconds in cold["slowest"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="100 MB files, 1 run, no 3 GB run, 3 invocations")
    parser.add_argument("--runs", type=int, help="runs per engine, file and core count (median); default 3")
    parser.add_argument("--phases", default=",".join(PHASES), help="among " + ", ".join(PHASES))
    parser.add_argument("--engines", default=",".join(ENGINES), help="clean-file engines, among " + ", ".join(ENGINES))
    parser.add_argument("--clean-size", default="1GB")
    parser.add_argument("--dirty-size", default="200MB")
    parser.add_argument("--big-size", default="3GB")
    parser.add_argument("--invocations", type=int, help="warm handler invocations after the warm-up; default 10")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        Path(args.result).write_text(json.dumps(run_child(json.loads(args.child))))
        return 0

    phases = set(args.phases.split(","))
    runs = args.runs or (1 if args.quick else 3)
    invocations = args.invocations or (3 if args.quick else 10)
    clean_size, dirty_size = ("100MB", "100MB") if args.quick else (args.clean_size, args.dirty_size)
    if args.quick:
        phases.discard("big")
    cpu = min(os.sched_getaffinity(0))
    bench = Bench(args.engines.split(","), cpu)
    print(f"CPUs: {len(bench.all_cpus)} usable ({os.cpu_count()} online); one-core runs pinned to CPU {cpu}")
    try:
        clean = dataset(f"weather-{clean_size}", parse_size(clean_size)) if "clean" in phases else None
        family = {}
        if "dirty" in phases:
            for share in DIRTY_SHARES:
                label = f"weather-{dirty_size}-rowid-bad{share_label(share).replace('%', 'pct')}"
                family[share] = dataset(label, parse_size(dirty_size), with_row_id=True, share=share)
        big = dataset(f"weather-{args.big_size}", parse_size(args.big_size)) if "big" in phases else None
        small = dataset("weather-10MB", parse_size("10MB")) if "handler" in phases else None
        if clean is not None:
            bench.clean_phase(clean_size, clean, runs)
        if family:
            bench.dirty_phase(family, runs)
        if big is not None:
            bench.clean_phase(args.big_size, big, 1, phase="big")
        if small is not None:
            bench.handler_phase(small, invocations, 3 if args.quick else 5)
    except ChildFailedError as failure:
        bench.failures.append(str(failure))
    print()
    print(bench.report(clean_size, args.big_size))
    return 1 if bench.failures or bench.agreement.failed else 0


if __name__ == "__main__":
    sys.exit(main())
