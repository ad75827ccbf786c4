"""Table and column names that Glue and Athena accept, unique, and readable."""

from __future__ import annotations

import re
import unicodedata

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
        ("---", "dataset_cb3f91d5"),  # nothing usable left: the fallback, with the folder's own hash
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


def test_folders_with_no_latin_form_get_distinct_stable_names() -> None:
    folders = ["日本", "中国", "Ελλάδα", "Москва", "..", "...", "café-日本", "café-中国"]

    names = [table_name_for(folder) for folder in folders]

    assert len(set(names)) == len(folders)  # never the one shared "dataset" table of old
    assert names == [table_name_for(folder) for folder in folders]  # the same folder, the same table, always
    assert names[6].startswith("cafe_")  # what has a Latin form keeps it
    assert all(VALID_NAME.fullmatch(name) and len(name) <= MAX_NAME_LENGTH for name in names)


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_two_folders_share_a_table_name_only_when_they_differ_in_case_and_punctuation(left: str, right: str) -> None:
    # Those collisions are refused at conversion (the table records its folder); any other would merge silently
    if left == right or table_name_for(left) != table_name_for(right):
        return

    def folded(name: str) -> str:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
        return re.sub(r"[^a-z0-9]", "", ascii_name.lower())

    assert folded(left) == folded(right) != ""
