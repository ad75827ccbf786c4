"""Benchmark: lakepipe's CSV → Parquet against pandas and DuckDB, on one core and on all cores.

    .venv/bin/python bench/csv_to_parquet.py                 # 100 MB and 1 GB, 3 runs each (about 5 minutes)
    .venv/bin/python bench/csv_to_parquet.py --sizes 100MB --runs 1

A seeded, weather-like CSV (hourly rows for 50 cities: timestamp, city, coordinates, eight measurements) is
generated once under bench/data/ (gitignored). Every conversion runs in a fresh subprocess, pinned to one CPU
with ``sched_setaffinity`` for the single-core runs (DuckDB ignores affinity, so its ``threads`` is set to the
CPUs the process may use, as lakepipe's worker count is). Reported per engine: throughput over the input size
(median of the runs; wall time of the conversion itself, after imports), CPU throughput (input size over the
CPU time the conversion used, all threads: steadier than wall time on a shared machine), the child's peak RSS
(``ru_maxrss``), the Parquet size, and the ratios against DuckDB and pandas. All engines write zstd Parquet.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "bench" / "data"
SIZES = {"100MB": 100_000_000, "1GB": 1_000_000_000}
ENGINES = ("lakepipe", "duckdb", "pandas")
SEED = 20261122
CITIES = [
    ("Paris", 48.8566, 2.3522), ("Marseille", 43.2965, 5.3698), ("Lyon", 45.764, 4.8357),
    ("Toulouse", 43.6047, 1.4442), ("Nice", 43.7102, 7.262), ("Nantes", 47.2184, -1.5536),
    ("Montpellier", 43.6108, 3.8767), ("Strasbourg", 48.5734, 7.7521), ("Bordeaux", 44.8378, -0.5792),
    ("Lille", 50.6292, 3.0573), ("Rennes", 48.1173, -1.6778), ("Reims", 49.2583, 4.0317),
    ("Toulon", 43.1242, 5.928), ("Saint-Etienne", 45.4397, 4.3872), ("Le Havre", 49.4944, 0.1079),
    ("Grenoble", 45.1885, 5.7245), ("Dijon", 47.322, 5.0415), ("Angers", 47.4784, -0.5632),
    ("Nimes", 43.8367, 4.3601), ("Clermont-Ferrand", 45.7772, 3.087), ("Le Mans", 48.0061, 0.1996),
    ("Aix-en-Provence", 43.5297, 5.4474), ("Brest", 48.3904, -4.4861), ("Tours", 47.3941, 0.6848),
    ("Amiens", 49.894, 2.2958), ("Limoges", 45.8336, 1.2611), ("Annecy", 45.8992, 6.1294),
    ("Perpignan", 42.6887, 2.8948), ("Metz", 49.1193, 6.1757), ("Besancon", 47.2378, 6.0241),
    ("Orleans", 47.9029, 1.9093), ("Rouen", 49.4432, 1.0999), ("Mulhouse", 47.7508, 7.3359),
    ("Caen", 49.1829, -0.3707), ("Nancy", 48.6921, 6.1844), ("Avignon", 43.9493, 4.8055),
    ("Poitiers", 46.5802, 0.3404), ("La Rochelle", 46.1603, -1.1511), ("Pau", 43.2951, -0.3708),
    ("Calais", 50.9513, 1.8587), ("Bayonne", 43.4929, -1.4748), ("Ajaccio", 41.9192, 8.7386),
    ("Bastia", 42.6973, 9.4509), ("Chambery", 45.5646, 5.9178), ("Valence", 44.9334, 4.8924),
    ("Troyes", 48.2973, 4.0744), ("Lorient", 47.7483, -3.3702), ("Quimper", 47.9962, -4.1024),
    ("Vannes", 47.6582, -2.7608), ("Cherbourg", 49.6337, -1.6222),
]  # fmt: skip


# ------------------------------------------------------------------------------------------------- data
def generate_weather_csv(path: Path, target_bytes: int, seed: int = SEED) -> None:
    """Hourly observations of every city, in time order, until the file reaches ``target_bytes``."""
    import numpy as np  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.csv as pacsv  # noqa: PLC0415

    float64, int64 = pa.float64(), pa.int64()
    schema = pa.schema(
        [
            ("time", pa.timestamp("s")),
            ("city", pa.string()),
            *[(name, float64) for name in ("latitude", "longitude", "temperature_2m")],
            ("relative_humidity_2m", int64),
            *[(name, float64) for name in ("precipitation", "wind_speed_10m")],
            ("wind_direction_10m", int64),
            ("pressure_msl", float64),
            ("cloud_cover", int64),
            ("weather_code", int64),
        ]
    )
    rng = np.random.default_rng(seed)
    names = np.array([name for name, _, _ in CITIES], dtype=object)
    latitudes = np.array([lat for _, lat, _ in CITIES])
    longitudes = np.array([lon for _, _, lon in CITIES])
    hours_per_chunk = 1_000  # 50,000 rows, ~3.7 MB: the file overshoots its target by less than that
    start = np.datetime64("2015-01-01T00:00", "s")
    tmp_path = path.with_suffix(".partial")
    written = 0
    with pacsv.CSVWriter(str(tmp_path), schema, write_options=pacsv.WriteOptions(quoting_style="none")) as writer:
        hour = 0
        while written < target_bytes:
            hours = np.repeat(np.arange(hour, hour + hours_per_chunk), len(CITIES))
            city = np.tile(np.arange(len(CITIES)), hours_per_chunk)
            rows = len(hours)
            seasonal = 12 - 9 * np.cos((hours % 8766) / 8766 * 2 * np.pi) + 5 * np.sin((hours % 24) / 24 * 2 * np.pi)
            table = pa.table(
                {
                    "time": start + hours.astype("timedelta64[h]"),
                    "city": names[city],
                    "latitude": latitudes[city],
                    "longitude": longitudes[city],
                    "temperature_2m": np.round(seasonal - (latitudes[city] - 45) + rng.normal(0, 3, rows), 1),
                    "relative_humidity_2m": rng.integers(25, 101, rows),
                    "precipitation": np.round(np.maximum(rng.normal(-0.5, 1.2, rows), 0), 1),
                    "wind_speed_10m": np.round(np.abs(rng.normal(12, 7, rows)), 1),
                    "wind_direction_10m": rng.integers(0, 360, rows),
                    "pressure_msl": np.round(rng.normal(1013.5, 9, rows), 1),
                    "cloud_cover": rng.integers(0, 101, rows),
                    "weather_code": rng.choice([0, 1, 2, 3, 45, 51, 53, 61, 63, 71, 80, 95], rows),
                },
                schema=schema,
            )
            writer.write_table(table)
            hour += hours_per_chunk
            written = tmp_path.stat().st_size
    tmp_path.rename(path)


def dataset(size_label: str) -> Path:
    path = DATA_DIR / f"weather-{size_label}-seed{SEED}.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        print(f"generating {path.relative_to(REPO_ROOT)} ...", flush=True)
        started = time.perf_counter()
        generate_weather_csv(path, SIZES[size_label])
        print(f"  {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.0f} s", flush=True)
    return path


# ---------------------------------------------------------------------------------------- child process
# Imports stay inside the functions (noqa PLC0415): a child imports only its own engine, so its start-up and
# peak RSS are its own, not pandas' + DuckDB's + pyarrow's.
def run_engine(engine: str, source: Path, target: Path) -> dict[str, float]:
    """Convert once in this process (the child); returns the conversion's wall time."""
    cpus = len(os.sched_getaffinity(0))
    if engine == "lakepipe":
        sys.path.insert(0, str(REPO_ROOT / "functions"))
        from lakepipe.domain.csv.convert import ConversionTuning, convert_csv  # noqa: PLC0415
        from lakepipe.domain.csv.dialect import decompressed, read_exactly, sniff  # noqa: PLC0415
        from lakepipe.domain.csv.schema import plan_conversion  # noqa: PLC0415

        class Discard:
            rows = 0

            def write(self, row: object) -> None:
                self.rows += 1

        started, cpu_started = time.perf_counter(), time.process_time()
        with source.open("rb") as raw, target.open("wb") as sink:
            stream, compression = decompressed(raw)
            sample = read_exactly(stream, 1024 * 1024 + 1)
            sampled = sniff(sample, complete=len(sample) <= 1024 * 1024, compression=compression)
            plan = plan_conversion(sampled, None, "s3://bench/database/weather/")
            convert_csv(stream, plan, sink, Discard(), already_read=sample, tuning=ConversionTuning(workers=cpus))
        return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started}
    if engine == "duckdb":
        import duckdb  # noqa: PLC0415

        connection = duckdb.connect()
        # DuckDB's best configuration from PERFORMANCE-NOTES: explicit threads (it ignores the CPU affinity),
        # a memory limit, and no insertion-order preservation.
        connection.execute(f"SET threads = {cpus}")
        connection.execute("SET memory_limit = '1GB'")
        connection.execute("SET preserve_insertion_order = false")
        started, cpu_started = time.perf_counter(), time.process_time()
        connection.execute(
            f"COPY (SELECT * FROM read_csv('{source}')) TO '{target}' (FORMAT parquet, COMPRESSION zstd)"  # noqa: S608
        )
        return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started}
    if engine == "pandas":
        import pandas as pd  # type: ignore[import-untyped]  # noqa: PLC0415

        started, cpu_started = time.perf_counter(), time.process_time()
        pd.read_csv(source).to_parquet(target, compression="zstd", engine="pyarrow")
        return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu_started}
    raise ValueError(engine)


@dataclass
class Measurement:
    engine: str
    size: str
    cores: str
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    output_mb: float
    rows: int


def measure(engine: str, size: str, source: Path, pin_cpu: int | None) -> Measurement:
    """One conversion in a fresh child process (pinned to ``pin_cpu`` if given)."""
    target = DATA_DIR / f"out-{engine}.parquet"
    target.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--child", engine, str(source), str(target)]

    def pin() -> None:
        if pin_cpu is not None:
            os.sched_setaffinity(0, {pin_cpu})

    child = subprocess.Popen(command, stdout=subprocess.PIPE, preexec_fn=pin)  # noqa: PLW1509 - affinity only
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"{engine} failed with status {status}")
    result = json.loads(output)
    import pyarrow.parquet as pq  # noqa: PLC0415

    return Measurement(
        engine=engine,
        size=size,
        cores="1" if pin_cpu is not None else str(len(os.sched_getaffinity(0))),
        seconds=result["seconds"],
        cpu_seconds=result["cpu_seconds"],
        peak_rss_mb=usage.ru_maxrss / 1024,
        output_mb=target.stat().st_size / 1e6,
        rows=pq.ParquetFile(target).metadata.num_rows,
    )


# ------------------------------------------------------------------------------------------------ report
def summarise(measurements: list[Measurement], sizes: list[str]) -> str:
    lines = [
        "| input | cores | engine | MB/s | CPU MB/s | peak RSS MB | Parquet MB | vs DuckDB | vs pandas |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    medians: dict[tuple[str, str, str], tuple[float, float, float, float]] = {}
    for measurement in measurements:
        key = (measurement.size, measurement.cores, measurement.engine)
        runs = [m for m in measurements if (m.size, m.cores, m.engine) == key]
        megabytes = SIZES_BYTES[measurement.size] / 1e6
        medians[key] = (
            megabytes / statistics.median(m.seconds for m in runs),
            megabytes / statistics.median(m.cpu_seconds for m in runs),
            max(m.peak_rss_mb for m in runs),
            statistics.median(m.output_mb for m in runs),
        )
    for size in sizes:
        for cores in sorted({m.cores for m in measurements}):
            for engine in ENGINES:
                if (size, cores, engine) not in medians:
                    continue
                speed, cpu_speed, rss, output = medians[(size, cores, engine)]
                versus = [
                    f"{speed / medians[(size, cores, other)][0]:.2f}x" if (size, cores, other) in medians else "-"
                    for other in ("duckdb", "pandas")
                ]
                lines.append(
                    f"| {size} | {cores} | {engine} | {speed:.0f} | {cpu_speed:.0f} | {rss:.0f} | {output:.1f} | "
                    f"{versus[0]} | {versus[1]} |"
                )
    return "\n".join(lines) + "\n" + targets(medians, sizes)


def targets(medians: dict[tuple[str, str, str], tuple[float, float, float, float]], sizes: list[str]) -> str:
    notes = ["", "Targets (single core, largest input):"]
    largest = sizes[-1]
    if all((largest, "1", engine) in medians for engine in ENGINES):
        lakepipe, duckdb, pandas = (medians[(largest, "1", engine)][0] for engine in ENGINES)
        notes.append(f"- vs DuckDB: {lakepipe / duckdb:.2f}x (target >= 1.5x)")
        notes.append(f"- vs pandas: {lakepipe / pandas:.2f}x (target >= 1.8x)")
    rss = {size: max(v[2] for k, v in medians.items() if k[0] == size and k[2] == "lakepipe") for size in sizes}
    notes.append(f"- lakepipe peak RSS at {largest}: {rss[largest]:.0f} MB (target <= 512 MB)")
    if len(sizes) > 1:
        notes.append(
            f"- lakepipe RSS growth {sizes[0]} -> {largest}: {rss[largest] - rss[sizes[0]]:+.0f} MB (target <= 64)"
        )
    return "\n".join(notes)


SIZES_BYTES: dict[str, int] = {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100MB,1GB", help="comma-separated, among " + ", ".join(SIZES))
    parser.add_argument("--runs", type=int, default=3, help="runs per engine, size and core count (median)")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "SOURCE", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        engine, source, target = args.child
        print(json.dumps(run_engine(engine, Path(source), Path(target))))
        return 0

    sizes = args.sizes.split(",")
    engines = args.engines.split(",")
    cpu = min(os.sched_getaffinity(0))
    print(f"CPUs: {len(os.sched_getaffinity(0))} ({os.cpu_count()} online); single-core runs pinned to CPU {cpu}")
    measurements: list[Measurement] = []
    for size in sizes:
        source = dataset(size)
        SIZES_BYTES[size] = source.stat().st_size
        for run in range(args.runs):
            for pin_cpu in (cpu, None):
                for engine in engines:  # interleaved, so a noisy neighbour hurts every engine alike
                    measurement = measure(engine, size, source, pin_cpu)
                    measurements.append(measurement)
                    print(
                        f"  run {run + 1} {size} cores={measurement.cores} {engine}: "
                        f"{SIZES_BYTES[size] / 1e6 / measurement.seconds:.0f} MB/s, "
                        f"{measurement.peak_rss_mb:.0f} MB RSS, {measurement.rows} rows",
                        flush=True,
                    )
    print()
    print(summarise(measurements, sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
