"""The CSV function's event for objects put on the moto server: an SQS batch whose messages are S3 notifications,
in the shape of events/sqs-csv-uploaded.json (what the function really receives from its event source mapping).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import quote_plus

import boto3
import pyarrow as pa

from lakepipe.domain.csv.quarantine import read_quarantine
from lakepipe_cli.lambda_runtime import LocalLambdaContext
from lakepipe_cli.local_aws import LocalStack
from tests.conftest import load_event
from tests.parquet import read_parquet

CSV_EVENT = "sqs-csv-uploaded.json"
_request_ids = itertools.count(1)
_sequence = itertools.count(1)


# One CsvToParquetFunction invocation's context, as the Lambda runtime gives it.
LambdaContext = partial(
    LocalLambdaContext, function_name="lakepipe-dev-CsvToParquetFunction", memory_limit_in_mb=1769, timeout_seconds=600
)


def put_object(bucket: str, key: str, body: bytes) -> dict[str, Any]:
    """Upload ``body`` and describe it as an S3 event record would (size, eTag, versionId)."""
    response = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return {"bucket": bucket, "key": key, "size": len(body), "etag": response["ETag"].strip('"'),
            "version_id": response.get("VersionId")}  # fmt: skip


def delete_object(bucket: str, key: str) -> dict[str, Any]:
    """Delete ``key`` (a delete marker in a versioned bucket) and describe it as its S3 event record would."""
    response = boto3.client("s3").delete_object(Bucket=bucket, Key=key)
    return {
        "bucket": bucket,
        "key": key,
        "version_id": response.get("VersionId"),
        "event": "ObjectRemoved:DeleteMarkerCreated",
    }


def s3_notification(described: dict[str, Any]) -> dict[str, Any]:
    """The notification S3 sends for one object event, its key URL-encoded the way S3 encodes it."""
    template = json.loads(load_event(CSV_EVENT)["Records"][0]["body"])["Records"][0]
    record = copy.deepcopy(template)
    record["eventName"] = described.get("event", "ObjectCreated:Put")
    record["responseElements"]["x-amz-request-id"] = f"REQUEST{next(_request_ids):09d}"
    record["s3"]["bucket"]["name"] = described["bucket"]
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{described['bucket']}"
    s3_object: dict[str, Any] = {"key": quote_plus(described["key"], safe="/"), "sequencer": f"{next(_sequence):016X}"}
    if "size" in described:
        s3_object |= {"size": described["size"], "eTag": described["etag"]}
    if described.get("version_id"):
        s3_object["versionId"] = described["version_id"]
    record["s3"]["object"] = s3_object
    return {"Records": [record]}


def sqs_record(body: str, *, message_id: str, attempt: int = 1) -> dict[str, Any]:
    record: dict[str, Any] = copy.deepcopy(load_event(CSV_EVENT)["Records"][0])
    record["messageId"] = message_id
    record["receiptHandle"] = f"receipt-{message_id}"
    record["body"] = body
    record["md5OfBody"] = hashlib.md5(body.encode()).hexdigest()  # noqa: S324 - SQS's own checksum
    record["attributes"]["ApproximateReceiveCount"] = str(attempt)
    return record


def s3_put_event(*objects: dict[str, Any], attempt: int = 1) -> dict[str, Any]:
    """An SQS batch of one message per object, each the S3 notification of its upload (or deletion)."""
    return {
        "Records": [
            sqs_record(json.dumps(s3_notification(described)), message_id=f"message-{index}", attempt=attempt)
            for index, described in enumerate(objects, start=1)
        ]
    }


def quarantined_records(bucket: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The records a conversion quarantined: its summary names the Parquet file that holds them."""
    s3 = boto3.client("s3")
    summary = json.loads(s3.get_object(Bucket=bucket, Key=report["quarantine_key"])["Body"].read())
    if not summary.get("quarantined_records_key"):
        return []
    return read_quarantine(s3.get_object(Bucket=bucket, Key=summary["quarantined_records_key"])["Body"].read())


@dataclass(frozen=True)
class DeadLetter:
    body: str
    error: str
    reason: str
    attempts: int


def dead_letters(stack: LocalStack) -> list[DeadLetter]:
    """What the function dead-lettered, with the reasons it attached (read, not consumed)."""
    sqs = boto3.client("sqs")
    url = stack.outputs["CsvEventsDeadLetterQueueUrl"]
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])
    return [
        DeadLetter(
            body=message["Body"],
            error=message["MessageAttributes"]["lakepipe-error"]["StringValue"],
            reason=message["MessageAttributes"]["lakepipe-reason"]["StringValue"],
            attempts=int(message["MessageAttributes"]["lakepipe-attempts"]["StringValue"]),
        )
        for message in messages
    ]


def keys_under(bucket: str, prefix: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def read_output(bucket: str, key: str) -> pa.Table:
    """The Parquet file at ``key``, as a table."""
    return read_parquet(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def glue_columns(database: str, table: str) -> list[tuple[str, str]]:
    """The Glue table's columns as the catalog keeps them: (name, type)."""
    columns = boto3.client("glue").get_table(DatabaseName=database, Name=table)["Table"]["StorageDescriptor"]["Columns"]
    return [(column["Name"], column["Type"]) for column in columns]


def csv_tables(database: str) -> set[str]:
    """Tables made by CSV conversions (the template declares the refined weather tables in the same database)."""
    tables = boto3.client("glue").get_tables(DatabaseName=database)["TableList"]
    return {table["Name"] for table in tables if table.get("Parameters", {}).get("lakepipe.source") == "csv-to-parquet"}
