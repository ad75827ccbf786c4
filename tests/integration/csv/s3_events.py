"""S3 notifications for objects put on the moto server, in the shape of events/s3-put-csv.json."""

from __future__ import annotations

import copy
import itertools
import json
from functools import partial
from typing import Any
from urllib.parse import quote_plus

import boto3

from lakepipe.domain.csv.quarantine import read_quarantine
from lakepipe_cli.lambda_runtime import LocalLambdaContext
from tests.conftest import load_event

_request_ids = itertools.count(1)


# One CsvToParquetFunction invocation's context, as the Lambda runtime gives it.
LambdaContext = partial(
    LocalLambdaContext, function_name="lakepipe-dev-CsvToParquetFunction", memory_limit_in_mb=1769, timeout_seconds=600
)


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


def quarantined_records(bucket: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The records a conversion quarantined: its summary names the Parquet file that holds them."""
    s3 = boto3.client("s3")
    summary = json.loads(s3.get_object(Bucket=bucket, Key=report["quarantine_key"])["Body"].read())
    if not summary.get("quarantined_records_key"):
        return []
    return read_quarantine(s3.get_object(Bucket=bucket, Key=summary["quarantined_records_key"])["Body"].read())


def keys_under(bucket: str, prefix: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))
