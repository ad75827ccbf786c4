"""The csv_quarantine Athena table as template.yaml declares it: the columns the CSV function writes, one place."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from samtranslator.yaml_helper import yaml_parse

from lakepipe.domain.csv.layout import QUARANTINE_ROWS_PREFIX, QUARANTINE_SUMMARIES_PREFIX
from lakepipe.domain.csv.quarantine import QUARANTINE_FILE_SCHEMA, QUARANTINE_HIVE_COLUMNS
from tests.conftest import REPO_ROOT

# How Athena's Parquet reader names the Arrow types the quarantine file is written with (Hive DDL names).
ARROW_TO_HIVE = {pa.string(): "string", pa.int64(): "bigint"}


@pytest.fixture(scope="module")
def table() -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse((REPO_ROOT / "template.yaml").read_text())
    resource = template["Resources"]["CsvQuarantineTable"]
    assert resource["Type"] == "AWS::Glue::Table"
    assert template["Outputs"]["CsvQuarantineTableName"]["Value"] == {"Ref": "CsvQuarantineTable"}
    table_input: dict[str, Any] = resource["Properties"]["TableInput"]
    return table_input


def test_the_tables_columns_are_the_ones_the_function_declares(table: dict[str, Any]) -> None:
    columns = [(column["Name"], column["Type"]) for column in table["StorageDescriptor"]["Columns"]]
    assert columns == list(QUARANTINE_HIVE_COLUMNS)
    assert "PartitionKeys" not in table  # not partitioned: see the template's comment (any query spans datasets)


def test_the_declared_columns_are_the_quarantine_files_schema(table: dict[str, Any]) -> None:
    # Athena reads Parquet columns by name: each must be in the file, with the type the table declares
    assert [(field.name, ARROW_TO_HIVE[field.type]) for field in QUARANTINE_FILE_SCHEMA] == list(
        QUARANTINE_HIVE_COLUMNS
    )


def test_the_table_reads_only_the_quarantined_records(table: dict[str, Any]) -> None:
    # Athena reads every file under the location, subfolders included: the JSON summaries must live elsewhere
    descriptor = table["StorageDescriptor"]
    assert descriptor["Location"] == {"Fn::Sub": f"s3://${{DataBucket}}/{QUARANTINE_ROWS_PREFIX}"}
    assert not QUARANTINE_SUMMARIES_PREFIX.startswith(QUARANTINE_ROWS_PREFIX)
    assert (
        descriptor["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    assert descriptor["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert table["TableType"] == "EXTERNAL_TABLE"
    assert table["Parameters"]["classification"] == "parquet"
