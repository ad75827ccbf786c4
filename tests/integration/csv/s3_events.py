"""S3 notifications for objects put on the moto server, in the shape of events/s3-put-csv.json."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import boto3

from tests.conftest import load_event

_request_ids = itertools.count(1)


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that Powertools reads."""

    aws_request_id: str = "11111111-2222-3333-4444-555555555555"
    function_name: str = "lakepipe-dev-CsvToParquetFunction"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = "arn:aws:lambda:eu-west-3:123456789012:function:lakepipe-dev-CsvToParquetFunction"

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def put_object(bucket: str, key: str, body: bytes) -> dict[str, Any]:
    """Upload ``body`` and describe it as an S3 event record would (size, eTag, versionId)."""
    response = boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return {"bucket": bucket, "key": key, "size": len(body), "etag": response["ETag"].strip('"'),
            "version_id": response.get("VersionId")}  # fmt: skip


def s3_put_event(*objects: dict[str, Any]) -> dict[str, Any]:
    """An ObjectCreated:Put notification naming ``objects``, keys URL-encoded the way S3 encodes them."""
    template = load_event("s3-put-csv.json")["Records"][0]
    records = []
    for described in objects:
        record = copy.deepcopy(template)
        record["responseElements"]["x-amz-request-id"] = f"REQUEST{next(_request_ids):09d}"
        record["s3"]["bucket"]["name"] = described["bucket"]
        record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{described['bucket']}"
        s3_object = record["s3"]["object"]
        s3_object["key"] = quote_plus(described["key"], safe="/")
        s3_object["size"] = described["size"]
        s3_object["eTag"] = described["etag"]
        if described.get("version_id"):
            s3_object["versionId"] = described["version_id"]
        records.append(record)
    return {"Records": records}


def keys_under(bucket: str, prefix: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))
