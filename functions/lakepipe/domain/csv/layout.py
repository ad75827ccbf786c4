"""Where a source CSV's outputs live: every key derives from the source key alone.

A re-upload or a re-delivered event therefore lands on the same keys and replaces them, never duplicates them.
The object name keeps the readable path below the dataset folder and adds a short hash of the full source key,
so two sources whose names sanitise alike (``a b.csv`` and ``a_b.csv``) never overwrite each other.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from lakepipe.domain.csv.errors import KeyOutsideInputPrefixError
from lakepipe.domain.csv.naming import table_name_for

DATABASE_PREFIX = "database/"
QUARANTINE_PREFIX = "quarantine/"
# Quarantined records (Parquet, the csv_quarantine table's location) apart from the summaries (JSON), because
# Athena reads every file under a table's location.
QUARANTINE_ROWS_PREFIX = f"{QUARANTINE_PREFIX}rows/"
QUARANTINE_SUMMARIES_PREFIX = f"{QUARANTINE_PREFIX}summaries/"
TMP_PREFIX = "tmp/csv-to-parquet/"
# Where lakepipe writes (or Athena, Glue and the weather pipeline do): an input prefix must stay apart from all.
RESERVED_PREFIXES = (DATABASE_PREFIX, QUARANTINE_PREFIX, "tmp/", "landing/", "refined/", "athena-results/")
_SOURCE_SUFFIXES = (".gz", ".csv", ".tsv", ".txt", ".psv")
_NOT_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ObjectLayout:
    """The keys one source object is converted to."""

    source_key: str
    dataset: str
    # The folder (or, for a file at the top of the prefix, the file name without its suffixes) the dataset is
    # named after, exactly as in the key: its table records it, so another folder folding to the same name is
    # refused instead of merged.
    source_folder: str
    output_key: str
    quarantine_rows_key: str
    quarantine_summary_key: str

    @property
    def dataset_prefix(self) -> str:
        """The table's location below the bucket: ``database/<dataset>/``."""
        return f"{DATABASE_PREFIX}{self.dataset}/"


def _strip_source_suffixes(name: str) -> str:
    stem = name
    for suffix in _SOURCE_SUFFIXES:
        if stem.lower().endswith(suffix) and len(stem) > len(suffix):
            stem = stem[: -len(suffix)]
    return stem


def layout_for(source_key: str, input_prefix: str) -> ObjectLayout:
    """Dataset and output keys of ``source_key``; refuses keys outside ``input_prefix`` (recursion guard).

    ``input/<dataset>/<path>.csv`` → dataset ``<dataset>``; ``input/<file>.csv`` → dataset ``<file>``.
    """
    prefix = input_prefix if input_prefix.endswith("/") else f"{input_prefix}/"
    if not source_key.startswith(prefix) or source_key.endswith("/") or len(source_key) == len(prefix):
        raise KeyOutsideInputPrefixError(f"s3 key {source_key!r} is not an object under the input prefix {prefix!r}")
    parts = [part for part in source_key[len(prefix) :].split("/") if part]
    if not parts:
        raise KeyOutsideInputPrefixError(f"s3 key {source_key!r} names no object under {prefix!r}")
    if len(parts) > 1:
        source_folder = parts[0]
        below_dataset = parts[1:]
    else:
        source_folder = _strip_source_suffixes(parts[0])
        below_dataset = parts
    dataset = table_name_for(source_folder)
    below_dataset[-1] = _strip_source_suffixes(below_dataset[-1])
    readable = _NOT_KEY_CHARACTERS.sub("_", "__".join(below_dataset)).strip("_.") or "data"
    digest = hashlib.sha256(source_key.encode("utf-8")).hexdigest()[:10]
    object_name = f"{readable[:150]}-{digest}"
    return ObjectLayout(
        source_key=source_key,
        dataset=dataset,
        source_folder=source_folder,
        output_key=f"{DATABASE_PREFIX}{dataset}/{object_name}.parquet",
        quarantine_rows_key=f"{QUARANTINE_ROWS_PREFIX}{dataset}/{object_name}.parquet",
        quarantine_summary_key=f"{QUARANTINE_SUMMARIES_PREFIX}{dataset}/{object_name}.json",
    )


def tmp_key_for(final_key: str, token: str) -> str:
    """A private staging key for ``final_key``: written fully there, then moved, so no reader sees half a file."""
    safe_token = _NOT_KEY_CHARACTERS.sub("_", token) or "run"
    return f"{TMP_PREFIX}{safe_token}/{final_key}"
