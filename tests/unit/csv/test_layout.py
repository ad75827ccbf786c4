"""Output keys derive from the source key alone: deterministic, distinct, and never outside their prefixes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lakepipe.domain.csv.errors import KeyOutsideInputPrefixError
from lakepipe.domain.csv.layout import layout_for, tmp_key_for


def test_a_file_at_the_top_of_the_prefix_is_its_own_dataset() -> None:
    layout = layout_for("input/users.csv", "input/")

    assert layout.dataset == "users"
    assert layout.dataset_prefix == "database/users/"
    assert layout.output_key.startswith("database/users/users-")
    assert layout.output_key.endswith(".parquet")
    object_name = layout.output_key.removeprefix("database/users/").removesuffix(".parquet")
    assert layout.quarantine_rows_key == f"quarantine/rows/users/{object_name}.parquet"
    assert layout.quarantine_summary_key == f"quarantine/summaries/users/{object_name}.json"


def test_a_file_in_a_folder_belongs_to_the_folders_dataset() -> None:
    layout = layout_for("input/Sales Data/2024/Ventes mars.csv.gz", "input/")

    assert layout.dataset == "sales_data"
    assert layout.output_key.startswith("database/sales_data/2024__Ventes_mars-")


def test_the_same_key_always_gives_the_same_outputs() -> None:
    assert layout_for("input/a/b.csv", "input/") == layout_for("input/a/b.csv", "input/")


def test_keys_that_sanitise_alike_still_get_distinct_outputs() -> None:
    first = layout_for("input/ds/a b.csv", "input/")
    second = layout_for("input/ds/a_b.csv", "input/")

    assert first.dataset == second.dataset == "ds"
    assert first.output_key != second.output_key
    assert first.quarantine_rows_key != second.quarantine_rows_key


@pytest.mark.parametrize(
    "key",
    [
        "database/users/users-0123456789.parquet",
        "quarantine/users/x/summary.json",
        "tmp/csv-to-parquet/run/database/x.parquet",
        "inputs/users.csv",
        "input/",
        "input/folder/",
    ],
)
def test_keys_outside_the_input_prefix_are_refused(key: str) -> None:
    with pytest.raises(KeyOutsideInputPrefixError, match="not an object under the input prefix"):
        layout_for(key, "input/")


def test_staging_keys_live_under_tmp_and_keep_the_final_name() -> None:
    assert (
        tmp_key_for("database/users/u-1.parquet", "req/1:2") == "tmp/csv-to-parquet/req_1_2/database/users/u-1.parquet"
    )


@given(st.text(min_size=1, max_size=80).filter(lambda name: not name.endswith("/")))
def test_every_output_key_stays_in_its_prefix_and_out_of_the_input(name: str) -> None:
    layout = layout_for(f"input/{name}", "input/")

    assert layout.output_key.startswith(f"database/{layout.dataset}/")
    assert layout.quarantine_rows_key.startswith(f"quarantine/rows/{layout.dataset}/")
    assert layout.quarantine_summary_key.startswith(f"quarantine/summaries/{layout.dataset}/")
    assert "/" not in layout.output_key.removeprefix(layout.dataset_prefix)
    assert not layout.output_key.startswith("input/")
