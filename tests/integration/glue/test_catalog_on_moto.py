"""The weather tables and the Athena workgroup as the template creates them (moto's Glue and Athena)."""

from __future__ import annotations

import boto3
import pytest

from lakepipe_cli.local_aws import LocalStack
from weather_etl import REFINED_COLUMNS, REJECT_COLUMNS

pytestmark = pytest.mark.integration


def test_weather_tables_are_in_the_stage_database_with_projected_partitions(local_aws: LocalStack) -> None:
    # Given the stack's resources created from template.yaml on moto
    glue = boto3.client("glue")

    # When the catalog is read back
    hourly = glue.get_table(DatabaseName=local_aws.database, Name=local_aws.outputs["WeatherHourlyTableName"])["Table"]
    rejects = glue.get_table(DatabaseName=local_aws.database, Name=local_aws.outputs["WeatherRejectsTableName"])[
        "Table"
    ]

    # Then weather_hourly lives under refined/, is Parquet, has the job's columns and projected date/city partitions
    bucket = local_aws.bucket
    descriptor = hourly["StorageDescriptor"]
    assert descriptor["Location"] == f"s3://{bucket}/refined/weather_hourly/"
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert [(c["Name"], c["Type"]) for c in descriptor["Columns"]] == [
        (n, t.simpleString()) for n, t in REFINED_COLUMNS
    ]
    assert [k["Name"] for k in hourly["PartitionKeys"]] == ["date", "city"]
    parameters = hourly["Parameters"]
    assert parameters["projection.date.range"] == "2020-01-01,NOW+16DAYS"
    assert parameters["projection.city.values"] == "Paris,Marseille,Nice,Lyon"
    assert parameters["storage.location.template"] == (
        f"s3://{bucket}/refined/weather_hourly/date=${{date}}/city=${{city}}/"
    )
    assert glue.get_partitions(DatabaseName=local_aws.database, TableName="weather_hourly")["Partitions"] == []
    # and weather_rejects the reject columns, by ingest_date
    assert [(c["Name"], c["Type"]) for c in rejects["StorageDescriptor"]["Columns"]] == [
        (n, t.simpleString()) for n, t in REJECT_COLUMNS
    ]
    assert rejects["Parameters"]["storage.location.template"] == (
        f"s3://{bucket}/refined/weather_rejects/ingest_date=${{ingest_date}}/"
    )


def test_the_workgroup_keeps_results_encrypted_under_athena_results(local_aws: LocalStack) -> None:
    workgroup = boto3.client("athena").get_work_group(WorkGroup=local_aws.outputs["AthenaWorkGroupName"])["WorkGroup"]

    configuration = workgroup["Configuration"]
    assert workgroup["Name"] == "lakepipe-dev"
    assert configuration["ResultConfiguration"]["OutputLocation"] == f"s3://{local_aws.bucket}/athena-results/"
    assert configuration["ResultConfiguration"]["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert configuration["EnforceWorkGroupConfiguration"] is True
    assert configuration["BytesScannedCutoffPerQuery"] == 1073741824
