"""AWS clients, created lazily and cached per container, honouring the standard ``AWS_ENDPOINT_URL``.

boto3 reads ``AWS_ENDPOINT_URL`` by itself (empty counts as unset there too); pyarrow's S3 filesystem does not,
so it gets ``endpoint_override`` and the endpoint's scheme here. Tests point every client at a moto server by
setting that one variable.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from pyarrow import fs

from lakepipe.settings import AwsEndpointSettings, load_settings

if TYPE_CHECKING:
    from mypy_boto3_athena import AthenaClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_glue import GlueClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

# Standard retry mode adds jittered backoff on throttling; adaptive would also rate-limit the client.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)


@functools.cache
def client(service_name: str) -> Any:
    """A cached boto3 client for ``service_name`` in the configured region."""
    settings = load_settings(AwsEndpointSettings)
    return boto3.client(service_name, region_name=settings.region, config=_CLIENT_CONFIG)  # type: ignore[call-overload]


def s3_client() -> S3Client:
    return client("s3")  # type: ignore[no-any-return]


def glue_client() -> GlueClient:
    return client("glue")  # type: ignore[no-any-return]


def athena_client() -> AthenaClient:
    return client("athena")  # type: ignore[no-any-return]


def dynamodb_client() -> DynamoDBClient:
    return client("dynamodb")  # type: ignore[no-any-return]


def sqs_client() -> SQSClient:
    return client("sqs")  # type: ignore[no-any-return]


@functools.cache
def s3_filesystem() -> fs.S3FileSystem:
    """pyarrow's native S3 filesystem (multipart streaming upload, ranged reads), pointed where boto3 points."""
    settings = load_settings(AwsEndpointSettings)
    if settings.endpoint_url is None:
        return fs.S3FileSystem(region=settings.region)
    endpoint = urlparse(settings.endpoint_url)  # validated: http:// or https:// and a host
    return fs.S3FileSystem(
        region=settings.region,
        endpoint_override=endpoint.netloc,
        scheme=endpoint.scheme,
        allow_bucket_creation=False,
    )


def reset_clients() -> None:
    """Forget cached clients and settings (tests switch endpoints between moto servers)."""
    client.cache_clear()
    s3_filesystem.cache_clear()
    load_settings.cache_clear()
