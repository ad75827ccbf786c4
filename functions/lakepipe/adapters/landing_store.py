"""Landing stores: where raw weather bodies are written, in S3 (the lake) or under a local directory (the demo).

Both take the same keys (``landing/weather/source=open-meteo/...``) and translate their own failures into the
domain's :class:`LandingWriteError`, so one failed city never aborts the others.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from lakepipe.domain.weather.ingest import LandingWriteError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3LandingStore:
    """Objects in ``bucket``; the fetch metadata travels as S3 user metadata (``x-amz-meta-*``)."""

    def __init__(self, bucket: str, s3: S3Client) -> None:
        self.bucket = bucket
        self.s3 = s3

    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> None:
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType="application/json",
                Metadata=dict(metadata),
            )
        except (ClientError, BotoCoreError) as error:
            raise LandingWriteError(f"s3://{self.bucket}/{key}: {error}") from error

    def read(self, key: str) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise


class LocalLandingStore:
    """Files under ``root`` at the same keys. A filesystem has no object metadata, so only the bytes are kept."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, key: str, body: bytes, metadata: Mapping[str, str]) -> None:
        path = self.root / key
        temporary: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: an interrupted run never leaves a truncated file that looks landed.
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".", suffix=".tmp", delete=False) as handle:
                temporary = handle.name
                handle.write(body)
            os.replace(temporary, path)
        except OSError as error:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
            raise LandingWriteError(f"{path}: {error}") from error

    def read(self, key: str) -> bytes | None:
        path = self.root / key
        return path.read_bytes() if path.is_file() else None
