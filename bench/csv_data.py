"""The benchmark's CSV files: a seeded weather-like export, clean, and a family of dirty copies with known bad rows.

Files are generated once under bench/data/ (gitignored) and reused; each has a ``.json`` sidecar with what the
generator wrote (rows, and for a dirty file which rows hold a bad value), so the bench can check the engines
against the generator's own account instead of against each other only.

Line numbers follow the files' physical lines, 1-based, the header being line 1: the row with ``row_id`` r is
on line r + 2 (every file here has one record per line, no quoted line breaks).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

SEED = 20261122
# What each column is: the bench gives every peer these types, as lakepipe infers them from the sample.
COLUMN_KINDS: dict[str, str] = {
    "row_id": "bigint",
    "time": "timestamp",
    "city": "string",
    "latitude": "double",
    "longitude": "double",
    "temperature_2m": "double",
    "relative_humidity_2m": "bigint",
    "precipitation": "double",
    "wind_speed_10m": "double",
    "wind_direction_10m": "bigint",
    "pressure_msl": "double",
    "cloud_cover": "bigint",
    "weather_code": "bigint",
}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # how pyarrow's CSV writer writes a second-precision timestamp
# The numeric column dirty files spoil, and the spoilt values (none of them a number or a null to any engine).
DIRTY_COLUMN = "temperature_2m"
BAD_VALUES = ("n/a", "ERR", "--", "12.3.4")
# The first 50,000 rows (~4 MB) stay clean: well past lakepipe's 1 MiB type sample, so the column is planned as
# a double and the bad values are quarantined rather than the column inferred as text.
FIRST_BAD_ROW = 50_000
CHUNK_HOURS = 1_000  # 50,000 rows (~4 MB) per generated chunk
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


@dataclass(frozen=True)
class Spoilage:
    """Which rows of a dirty file hold a bad value: every ``stride``-th from ``first_row`` (0-based rows)."""

    stride: int
    first_row: int = FIRST_BAD_ROW
    column: str = DIRTY_COLUMN

    def bad_rows(self, rows: int) -> range:
        return range(self.first_row, rows, self.stride) if self.stride else range(0)


@dataclass(frozen=True)
class GeneratedCsv:
    """A generated file and what the generator put in it (read back from its sidecar)."""

    path: Path
    rows: int
    bytes: int
    with_row_id: bool
    spoilage: Spoilage | None = None

    @property
    def bad_lines(self) -> list[int]:
        """The 1-based physical lines (header = line 1) whose value in the spoilt column is not a number."""
        return [row + 2 for row in self.spoilage.bad_rows(self.rows)] if self.spoilage else []

    @property
    def columns(self) -> list[str]:
        return [name for name in COLUMN_KINDS if self.with_row_id or name != "row_id"]


def stride_for(share: float) -> int:
    """Every how many rows a bad one goes, for a share of bad rows (0 → none)."""
    return 0 if share == 0 else round(1 / share)


def _weather_chunk(rng: Any, first_hour: int, hours: int, first_row: int, with_row_id: bool) -> pa.Table:
    import numpy as np  # noqa: PLC0415 - the bench's parent process imports no engine (see csv_to_parquet)
    import pyarrow as pa  # noqa: PLC0415

    names = np.array([name for name, _, _ in CITIES], dtype=object)
    latitudes = np.array([lat for _, lat, _ in CITIES])
    longitudes = np.array([lon for _, _, lon in CITIES])
    hour = np.repeat(np.arange(first_hour, first_hour + hours), len(CITIES))
    city = np.tile(np.arange(len(CITIES)), hours)
    rows = len(hour)
    seasonal = 12 - 9 * np.cos((hour % 8766) / 8766 * 2 * np.pi) + 5 * np.sin((hour % 24) / 24 * 2 * np.pi)
    columns: dict[str, Any] = {}
    if with_row_id:
        columns["row_id"] = pa.array(np.arange(first_row, first_row + rows), pa.int64())
    columns |= {
        "time": pa.array(np.datetime64("2015-01-01T00:00", "s") + hour.astype("timedelta64[h]"), pa.timestamp("s")),
        "city": pa.array(names[city], pa.string()),
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
    }
    return pa.table(columns)


def _spoil(table: pa.Table, first_row: int, spoilage: Spoilage) -> pa.Table:
    """The chunk with the spoilt column as text (written as the CSV writer writes doubles), bad values in place."""
    import numpy as np  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    position = table.schema.get_field_index(spoilage.column)
    text = pc.cast(table.column(position), pa.string()).to_numpy(zero_copy_only=False).astype(object)
    if spoilage.stride:
        rows = np.arange(first_row, first_row + table.num_rows)
        bad = (rows >= spoilage.first_row) & ((rows - spoilage.first_row) % spoilage.stride == 0)
        where = np.flatnonzero(bad)
        picks = (rows[where] - spoilage.first_row) // spoilage.stride % len(BAD_VALUES)
        text[where] = np.array(BAD_VALUES, dtype=object)[picks]
    return table.set_column(position, spoilage.column, pa.array(text, pa.string()))


def write_weather_csv(
    path: Path,
    target_bytes: int,
    *,
    with_row_id: bool = False,
    spoilage: Spoilage | None = None,
    chunk_hours: int = CHUNK_HOURS,
    seed: int = SEED,
) -> GeneratedCsv:
    """Hourly observations of every city, in time order, until the file reaches ``target_bytes`` (it overshoots by
    less than one chunk: ``chunk_hours`` x 50 rows, ~4 MB by default). Same seed, same values: the dirty copies
    differ from their clean sibling only in the spoilt cells."""
    import numpy as np  # noqa: PLC0415 - the bench's parent process imports no engine (see csv_to_parquet)
    import pyarrow.csv as pacsv  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    tmp_path = path.with_suffix(".partial")
    rows = 0
    writer: pacsv.CSVWriter | None = None
    try:
        while writer is None or tmp_path.stat().st_size < target_bytes:
            chunk = _weather_chunk(rng, rows // len(CITIES), chunk_hours, rows, with_row_id)
            if spoilage is not None:
                chunk = _spoil(chunk, rows, spoilage)
            if writer is None:
                options = pacsv.WriteOptions(quoting_style="none")
                writer = pacsv.CSVWriter(str(tmp_path), chunk.schema, write_options=options)
            writer.write_table(chunk)
            rows += chunk.num_rows
    finally:
        if writer is not None:
            writer.close()
    tmp_path.rename(path)
    generated = GeneratedCsv(path, rows, path.stat().st_size, with_row_id, spoilage)
    sidecar = {"rows": rows, "bytes": generated.bytes, "with_row_id": with_row_id, "seed": seed,
               "spoilage": asdict(spoilage) if spoilage else None}  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return generated


def read_generated(path: Path) -> GeneratedCsv | None:
    """A file generated earlier (None when it or its sidecar is missing, or they disagree on the size)."""
    sidecar = path.with_suffix(".json")
    if not path.exists() or not sidecar.exists():
        return None
    facts = json.loads(sidecar.read_text())
    if facts["bytes"] != path.stat().st_size:
        return None
    spoilage = Spoilage(**facts["spoilage"]) if facts["spoilage"] else None
    return GeneratedCsv(path, facts["rows"], facts["bytes"], facts["with_row_id"], spoilage)


def path_for(directory: Path, label: str) -> Path:
    return directory / f"{label}-seed{SEED}.csv"


def generated_as_wanted(path: Path, *, with_row_id: bool, spoilage: Spoilage | None) -> GeneratedCsv | None:
    existing = read_generated(path)
    if existing is not None and existing.spoilage == spoilage and existing.with_row_id == with_row_id:
        return existing
    return None


def weather_csv(
    directory: Path, label: str, target_bytes: int, *, with_row_id: bool = False, spoilage: Spoilage | None = None
) -> GeneratedCsv:
    """The generated file for these parameters, generating it on first use."""
    path = path_for(directory, label)
    existing = generated_as_wanted(path, with_row_id=with_row_id, spoilage=spoilage)
    if existing is not None:
        return existing
    directory.mkdir(parents=True, exist_ok=True)
    chunk_hours = CHUNK_HOURS if target_bytes >= 50_000_000 else 100  # a small file overshoots by less
    return write_weather_csv(path, target_bytes, with_row_id=with_row_id, spoilage=spoilage, chunk_hours=chunk_hours)
