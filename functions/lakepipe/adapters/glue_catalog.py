"""The Glue database as the CSV datasets' catalog: one Parquet table per dataset, its columns the contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lakepipe.domain.csv.errors import CatalogChangedError
from lakepipe.domain.csv.schema import CatalogColumn, TableContract

if TYPE_CHECKING:
    from mypy_boto3_glue import GlueClient

PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
# The input folder a table belongs to: another folder whose name folds to the same table is refused.
SOURCE_FOLDER_PARAMETER = "lakepipe.source_folder"
# The fields of a GetTable answer that UpdateTable accepts back (the rest are read-only).
_TABLE_INPUT_FIELDS = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
)


def _glue_column(column: CatalogColumn) -> dict[str, str]:
    glue_column = {"Name": column.name, "Type": column.hive_type}
    if column.comment:
        glue_column["Comment"] = column.comment
    return glue_column


class GlueCatalog:
    """Tables of one Glue database."""

    def __init__(self, client: GlueClient, database: str) -> None:
        self.database = database
        self._client = client

    def _raw_table(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._client.get_table(DatabaseName=self.database, Name=name)["Table"])
        except self._client.exceptions.EntityNotFoundException:
            return None

    def get_table(self, name: str) -> TableContract | None:
        table = self._raw_table(name)
        if table is None:
            return None
        storage = table.get("StorageDescriptor", {})
        return TableContract(
            name=name,
            columns=tuple(
                CatalogColumn(column["Name"], column["Type"], column.get("Comment", ""))
                for column in storage.get("Columns", [])
            ),
            location=storage.get("Location", ""),
            partition_keys=tuple(key["Name"] for key in table.get("PartitionKeys", [])),
            version_id=table.get("VersionId"),
            source_folder=table.get("Parameters", {}).get(SOURCE_FOLDER_PARAMETER),
        )

    def create_table(
        self, name: str, columns: Sequence[CatalogColumn], location: str, description: str, source_folder: str
    ) -> None:
        table_input: Any = {
            "Name": name,
            "Description": description[:2048],
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "classification": "parquet",
                "EXTERNAL": "TRUE",
                "parquet.compression": "ZSTD",
                "lakepipe.source": "csv-to-parquet",
                SOURCE_FOLDER_PARAMETER: source_folder,
            },
            "StorageDescriptor": {
                "Columns": [_glue_column(column) for column in columns],
                "Location": location,
                "InputFormat": PARQUET_INPUT_FORMAT,
                "OutputFormat": PARQUET_OUTPUT_FORMAT,
                "Compressed": True,
                "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
            },
        }
        try:
            self._client.create_table(DatabaseName=self.database, TableInput=table_input)
        except self._client.exceptions.AlreadyExistsException as error:
            raise CatalogChangedError(f"table {self.database}.{name} already exists") from error

    def add_columns(self, contract: TableContract, columns: Sequence[CatalogColumn]) -> None:
        table = self._raw_table(contract.name)
        if table is None:
            raise CatalogChangedError(f"table {self.database}.{contract.name} was deleted")
        table_input: Any = {field: table[field] for field in _TABLE_INPUT_FIELDS if field in table}
        storage = table_input["StorageDescriptor"]
        storage["Columns"] = [*storage.get("Columns", []), *(_glue_column(column) for column in columns)]
        # VersionId makes the update conditional: a concurrent change fails it instead of being overwritten.
        try:
            if contract.version_id:
                self._client.update_table(
                    DatabaseName=self.database, TableInput=table_input, VersionId=contract.version_id
                )
            else:
                self._client.update_table(DatabaseName=self.database, TableInput=table_input)
        except self._client.exceptions.ConcurrentModificationException as error:
            raise CatalogChangedError(f"table {self.database}.{contract.name} changed meanwhile") from error
