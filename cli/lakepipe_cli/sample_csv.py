"""Sample CSV files for the demo: generated (seeded), several dialects, a few bad rows each.

Knows nothing of lakepipe's conversion code: it writes files the way other tools do (a spreadsheet's French
export, a sensor logger's gzipped TSV, a UTF-8-with-BOM pipe file...) and says what a correct conversion must
find in them, so the demo can check its own results.

    from lakepipe_cli.sample_csv import sample_csv_files
    for sample in sample_csv_files():
        s3.put_object(Bucket=bucket, Key=sample.key, Body=sample.body)
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SampleCsv:
    """One generated file, where it goes under the data bucket, and what converting it must give."""

    key: str
    body: bytes
    description: str
    dataset: str
    good_rows: int
    bad_lines: tuple[int, ...]  # physical lines (1 = header) holding rows that must be quarantined

    @property
    def rows(self) -> int:
        return self.good_rows + len(self.bad_lines)


def _write(
    header: list[str],
    rows: list[list[str]],
    bad_rows: dict[int, list[str]],
    *,
    delimiter: str,
    line_terminator: str = "\n",
) -> tuple[str, tuple[int, ...]]:
    """CSV text with ``bad_rows`` inserted before the given data row positions, and their line numbers."""
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=line_terminator)
    writer.writerow(header)
    bad_lines = []
    line = 2
    for position, row in enumerate(rows):
        if position in bad_rows:
            writer.writerow(bad_rows[position])
            bad_lines.append(line)
            line += 1
        writer.writerow(row)
        line += 1 + sum(value.count("\n") for value in row)
    return text.getvalue(), tuple(bad_lines)


def _customers(rng: random.Random, count: int) -> SampleCsv:
    first = ["Alice", "Bruno", "Chloé", "Dmitri", "Eva", "Farid", "Gaëlle", "Hugo", "Inès", "Jules"]
    last = ["Martin", "Bernard", "Dubois", "O'Neil", "Nguyen", "Lefèvre", "Smith, Jr.", "Moreau"]
    rows = []
    for number in range(1, count + 1):
        name = f"{rng.choice(first)} {rng.choice(last)}"
        note = rng.choice(["", "VIP", 'said "call me back"', "moved:\nnew address pending"])
        signup = dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(700))
        rows.append(
            [str(number), name, f"user{number}@example.com", signup.isoformat(), str(rng.randrange(18, 90)),
             f"{rng.uniform(0, 100):.2f}", rng.choice(["true", "false"]), note]
        )  # fmt: skip
    header = ["customer_id", "Full Name", "e-mail", "Signup Date", "Age", "Score", "Active", "Notes"]
    bad = {count // 3: ["999", "Truncated row"], 2 * count // 3: [*rows[0][:7], "note", "an extra field"]}
    text, bad_lines = _write(header, rows, bad, delimiter=",")
    return SampleCsv(
        key="input/customers/customers-2026-11.csv",
        body=text.encode("utf-8"),
        description="comma, UTF-8, quoted commas, quotes and newlines in values",
        dataset="customers",
        good_rows=count,
        bad_lines=bad_lines,
    )


def _french_sales(rng: random.Random, count: int) -> SampleCsv:
    stores = ["Orléans Centre", "Sète Port", "Besançon", "Nîmes Arènes", "Saint-Étienne"]
    rows = []
    for number in range(count):
        day = dt.date(2026, 11, 1) + dt.timedelta(days=number % 30)
        amount = f"{rng.uniform(5, 2500):.2f}".replace(".", ",")
        rows.append(
            [day.isoformat(), rng.choice(stores), amount, str(rng.randrange(1, 40)), f"{rng.randrange(0, 21)} %"]
        )
    header = ["Date de vente", "Magasin", "Montant (€)", "Quantité", "Remise"]
    text, bad_lines = _write(header, rows, {count // 2: ["2026-11-15", "Lyon"]}, delimiter=";", line_terminator="\r\n")
    return SampleCsv(
        key="input/ventes/ventes-novembre-2026.csv",
        body=text.encode("cp1252"),
        description="semicolon, Windows-1252, CRLF, decimal commas (a French spreadsheet export)",
        dataset="ventes",
        good_rows=count,
        bad_lines=bad_lines,
    )


def _sensor_readings(rng: random.Random, count: int) -> SampleCsv:
    start = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    rows = []
    for number in range(count):
        at = start + dt.timedelta(minutes=5 * number)
        rows.append(
            [at.strftime("%Y-%m-%dT%H:%M:%SZ"), f"sensor-{number % 4}", f"{rng.gauss(19, 2.5):.3f}",
             f"{rng.uniform(30, 70):.1f}", str(rng.randrange(300, 1200))]
        )  # fmt: skip
    header = ["timestamp", "sensor", "temperature_c", "humidity_pct", "co2_ppm"]
    bad = {10: ["2026-11-20T00:50:00Z", "sensor-2"], count - 5: ["garbage line"]}
    text, bad_lines = _write(header, rows, bad, delimiter="\t")
    return SampleCsv(
        key="input/sensors/readings-2026-11-20.csv.gz",
        body=gzip.compress(text.encode("utf-8"), mtime=0),
        description="tab-separated, gzip, UTC timestamps",
        dataset="sensors",
        good_rows=count,
        bad_lines=bad_lines,
    )


def _stock(rng: random.Random, count: int) -> SampleCsv:
    rows = [
        [f"SKU-{number:05d}", rng.choice(["Widget", "Gadget | deluxe", "Bolt M6", "Écrou"]), str(rng.randrange(0, 500)),
         f"{rng.uniform(0.1, 99):.2f}", rng.choice(["true", "false"])]
        for number in range(count)
    ]  # fmt: skip
    header = ["sku", "label", "on_hand", "unit_price", "discontinued"]
    text, bad_lines = _write(header, rows, {1: ["SKU-X", "broken", "1", "2", "true", "surplus"]}, delimiter="|")
    return SampleCsv(
        key="input/stock.csv",
        body=b"\xef\xbb\xbf" + text.encode("utf-8"),
        description="pipe-separated, UTF-8 with a byte order mark, file at the top of input/",
        dataset="stock",
        good_rows=count,
        bad_lines=bad_lines,
    )


def sample_csv_files(seed: int = 7, rows: int = 200) -> list[SampleCsv]:
    """Four sample files in four dialects, ``rows`` good rows each, with a few bad rows; same seed, same bytes."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    return [_customers(rng, rows), _french_sales(rng, rows), _sensor_readings(rng, rows), _stock(rng, rows)]


def write_sample_csvs(directory: Path, seed: int = 7, rows: int = 200) -> list[Path]:
    """Write the samples under ``directory``, at their keys (``directory/input/...``)."""
    paths = []
    for sample in sample_csv_files(seed, rows):
        path = directory / sample.key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(sample.body)
        paths.append(path)
    return paths
