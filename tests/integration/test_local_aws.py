"""The embedded AWS stand-in creates what template.yaml declares, under the names the template gives."""

from __future__ import annotations

import boto3
import pytest

from lakepipe_cli.local_aws import LocalStack

pytestmark = pytest.mark.integration


def test_data_plane_resources_come_from_the_template(local_aws: LocalStack) -> None:
    s3 = boto3.client("s3")
    glue = boto3.client("glue")
    dynamodb = boto3.client("dynamodb")

    buckets = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    # named as the template names it: stage, account, region and the (local, fixed) stack id's first group
    assert local_aws.bucket == "lakepipe-dev-data-123456789012-eu-west-3-3b3a1437"
    assert local_aws.bucket in buckets
    assert s3.get_bucket_versioning(Bucket=local_aws.bucket)["Status"] == "Enabled"
    assert glue.get_database(Name=local_aws.database)["Database"]["Name"] == "lakepipe_dev"
    table = dynamodb.describe_table(TableName=local_aws.idempotency_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]


def test_each_test_starts_from_an_empty_lake(local_aws: LocalStack) -> None:
    s3 = boto3.client("s3")
    s3.put_object(Bucket=local_aws.bucket, Key="input/leftover.csv", Body=b"a\n1\n")

    assert s3.list_objects_v2(Bucket=local_aws.bucket).get("KeyCount") == 1


def test_and_the_next_one_does_not_see_the_previous_objects(local_aws: LocalStack) -> None:
    assert boto3.client("s3").list_objects_v2(Bucket=local_aws.bucket).get("KeyCount") == 0


def test_function_environments_are_resolved_from_globals_and_the_function(local_aws: LocalStack) -> None:
    environment = local_aws.environment_for("CsvToParquetFunction")

    assert environment["DATA_BUCKET"] == local_aws.bucket
    assert environment["IDEMPOTENCY_TABLE"] == local_aws.idempotency_table
    assert environment["GLUE_DATABASE"] == "lakepipe_dev"
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "lakepipe-dev"
    assert environment["AWS_ENDPOINT_URL"] == local_aws.endpoint_url
