"""Table and column names that Glue and Athena accept, unique, and readable."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakepipe.domain.csv.naming import MAX_NAME_LENGTH, column_names_for, table_name_for

VALID_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("users", "users"),
        ("Sales Data", "sales_data"),
        ("Température (°C)", "temperature_c"),
        ("2024 report", "t_2024_report"),
        ("---", "dataset"),
        ("Ünïcödé-Ñame", "unicode_name"),
    ],
)
def test_table_names(raw: str, name: str) -> None:
    assert table_name_for(raw) == name


def test_column_names_are_sanitised_and_made_unique() -> None:
    header = ["ID", "Nom complet", "nom_complet", "", "2nd score", "Température", "id", "a_2", "a", "a"]

    assert column_names_for(header) == [
        "id",
        "nom_complet",
        "nom_complet_2",
        "column_4",
        "c_2nd_score",
        "temperature",
        "id_2",
        "a_2",
        "a",
        "a_3",  # a_2 is taken by a header of its own
    ]


@given(st.lists(st.text(max_size=300), min_size=1, max_size=30))
def test_any_header_gives_valid_distinct_names_one_per_column(header: list[str]) -> None:
    names = column_names_for(header)

    assert len(names) == len(header)
    assert len(set(names)) == len(names)
    assert all(VALID_NAME.fullmatch(name) and len(name) <= MAX_NAME_LENGTH for name in names)
