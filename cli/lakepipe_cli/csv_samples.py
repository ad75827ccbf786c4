"""Sample CSV files for the demo: several dialects, encodings and a few deliberately bad rows.

Each sample knows what a correct conversion must report (rows in, rows quarantined), so the demo checks the
real handler's numbers against them instead of just printing them.
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class CsvSample:
    key: str  # object key under the data bucket (under input/)
    body: bytes
    dialect: str  # a human description for the demo's table
    data_rows: int  # rows after the header, bad ones included
    bad_rows: int  # rows a correct conversion must quarantine

    @property
    def dataset(self) -> str:
        parts = self.key.split("/")
        return parts[1] if len(parts) > 2 else parts[-1].split(".")[0]


def _users(rng: random.Random) -> CsvSample:
    lines = ["id,name,email,signup_date,active,score"]
    first_names = ["Amélie", "Bruno", "Chloé", "Denis", "Élodie", "Fabien", "Gaëlle", "Hugo"]
    for user_id in range(1, 201):
        name = rng.choice(first_names)
        signup = date(2025, 1, 1) + timedelta(days=rng.randrange(600))
        lines.append(
            f'{user_id},"{name}, {chr(65 + user_id % 26)}.",{name.lower()}{user_id}@example.com,'
            f"{signup.isoformat()},{rng.choice(['true', 'false'])},{rng.uniform(0, 100):.2f}"
        )
    lines[51] = "51,Broken row with too few fields"  # ragged: 2 of 6 fields
    lines[120] = lines[120] + ",unexpected,extra"  # ragged: 8 of 6 fields
    return CsvSample("input/users.csv", ("\n".join(lines) + "\n").encode("utf-8"), "comma, UTF-8, quoted", 200, 2)


def _french_sales(rng: random.Random) -> CsvSample:
    lines = ["date;magasin;produit;quantité;prix_unitaire"]
    shops = ["Paris Châtelet", "Marseille Prado", "Nice Masséna", "Lyon Bellecour"]
    products = ["café", "crème brûlée", "pâté", "bière"]
    for day in range(300):
        sold = date(2026, 11, 1) + timedelta(days=day % 30)
        price = f"{rng.uniform(1, 30):.2f}".replace(".", ",")  # decimal comma
        lines.append(f"{sold.isoformat()};{rng.choice(shops)};{rng.choice(products)};{rng.randint(1, 40)};{price}")
    lines[200] = "2026-11-20;Lyon Bellecour"  # ragged: 2 of 5 fields
    body = ("\r\n".join(lines) + "\r\n").encode("cp1252")  # a French spreadsheet export: cp1252, CRLF
    return CsvSample("input/ventes/ventes_2026-11.csv", body, "semicolon, cp1252, decimal commas", 300, 1)


def _sensor_readings(rng: random.Random) -> CsvSample:
    lines = ["sensor_id\treading_time\ttemperature_c\thumidity_pct"]
    for reading in range(500):
        stamp = f"2026-11-21 {reading // 60 % 24:02d}:{reading % 60:02d}:00"
        lines.append(f"S{reading % 7}\t{stamp}\t{rng.gauss(9, 3):.1f}\t{rng.randint(40, 100)}")
    body = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)
    return CsvSample("input/sensors/readings.csv.gz", body, "tab, gzip", 500, 0)


def _stations(rng: random.Random) -> CsvSample:
    lines = ["\ufeffstation|city|elevation_m|notes"]  # a BOM, as Excel writes it
    for station in range(40):
        note = '"roof mounted,\nsecond floor"' if station % 10 == 0 else "ground"
        lines.append(f"ST{station:03d}|{rng.choice(['Paris', 'Lyon', 'Nice'])}|{rng.randint(0, 900)}|{note}")
    return CsvSample(
        "input/stations.csv", ("\n".join(lines) + "\n").encode("utf-8"), "pipe, BOM, quoted newline", 40, 0
    )


def demo_samples(seed: int = 20261122) -> list[CsvSample]:
    """The demo's CSV files, identical for a given seed."""
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    return [_users(rng), _french_sales(rng), _sensor_readings(rng), _stations(rng)]
