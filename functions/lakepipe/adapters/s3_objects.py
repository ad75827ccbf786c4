"""The data bucket as the CSV conversion's object store: exact-version reads, streaming writes, atomic moves.

Reads go through boto3, which can read the exact object version an event names; writes stream through
pyarrow's S3 filesystem (multipart upload, bounded memory). A staging object is moved by a managed copy
(multipart above 8 MB, so beyond CopyObject's 5 GB limit too) and then deleted *by version*, so a versioned
bucket keeps no noncurrent copy of every staging file and no delete marker.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError
from pyarrow import fs

from lakepipe.domain.csv.pipeline import ReadableObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}


class S3ObjectStore:
    """Objects of one bucket, addressed by key."""

    def __init__(self, bucket: str, client: S3Client, filesystem: fs.S3FileSystem) -> None:
        self.bucket = bucket
        self._client = client
        self._filesystem = filesystem

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return cast(dict[str, Any], self._client.head_object(Bucket=self.bucket, Key=key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_FOUND:
                return None
            raise

    @staticmethod
    def _version_of(head: dict[str, Any]) -> str | None:
        version = head.get("VersionId")
        return None if version in (None, "null") else str(version)

    def current_version(self, key: str) -> str | None:
        # Listing the key's versions (s3:ListBucketVersions, scoped to the input prefix) tells a deleted key from
        # a missing permission, which HeadObject cannot without s3:ListBucket on the whole bucket. A key's newest
        # version or delete marker comes first in the listing.
        listing = self._client.list_object_versions(Bucket=self.bucket, Prefix=key, MaxKeys=5)
        entries = [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
        latest = [entry for entry in entries if entry["Key"] == key and entry.get("IsLatest")]
        if not latest or latest[0] in listing.get("DeleteMarkers", []):
            raise FileNotFoundError(f"s3://{self.bucket}/{key} has no current version")
        version = latest[0].get("VersionId")
        return None if version in (None, "null") else str(version)

    def open_read(self, key: str, version_id: str | None) -> ReadableObject:
        if version_id:
            response = self._client.get_object(Bucket=self.bucket, Key=key, VersionId=version_id)
        else:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        return cast(ReadableObject, response["Body"])

    def open_write(self, key: str) -> IO[bytes]:
        return cast(IO[bytes], self._filesystem.open_output_stream(f"{self.bucket}/{key}"))

    def move(self, source_key: str, target_key: str) -> None:
        head = self._head(source_key)
        if head is None:
            raise FileNotFoundError(f"s3://{self.bucket}/{source_key}")
        version = self._version_of(head)
        copy_source: dict[str, str] = {"Bucket": self.bucket, "Key": source_key}
        if version:
            copy_source["VersionId"] = version
        self._client.copy(copy_source, self.bucket, target_key)  # type: ignore[arg-type]
        self._delete_version(source_key, version)

    def put_json(self, key: str, document: dict[str, Any]) -> None:
        body = json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            head = self._head(key)
            if head is not None:
                self._delete_version(key, self._version_of(head))

    def _delete_version(self, key: str, version: str | None) -> None:
        if version:
            self._client.delete_object(Bucket=self.bucket, Key=key, VersionId=version)
        else:
            self._client.delete_object(Bucket=self.bucket, Key=key)
