"""What the CSV function quarantined, read back from the data bucket, and the full raw records fetched from the source.

Per source object the function writes a summary (``quarantine/summaries/<dataset>/<object>.json``: status, row
counts, where every decompressed byte went) and, when records were quarantined, a Parquet file of them
(``quarantine/rows/<dataset>/<object>.parquet``, :data:`~lakepipe.domain.csv.quarantine.QUARANTINE_FILE_SCHEMA`):
each record's line, byte offset and length in the decompressed source, reason and a bounded preview. The record
itself is never copied: it is the source version's bytes at that offset, however long, fetched here:

* a plain file: one ranged GET of exactly those bytes (``Range`` with the ``VersionId``);
* a compressed one (gzip, told by its magic bytes as the function tells it): the version is read and decompressed
  from its start up to the end of the last record asked for, the bytes before each record discarded — a full read
  of the object up to there, since gzip cannot be entered in the middle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from lakepipe.domain.csv.dialect import GZIP_MAGIC, BinaryReader, decompressed
from lakepipe.domain.csv.layout import QUARANTINE_SUMMARIES_PREFIX
from lakepipe.domain.csv.quarantine import read_quarantine

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

COPY_CHUNK = 1024 * 1024


class QuarantineError(LookupError):
    """Nothing quarantined where asked, or the source no longer holds the quarantined bytes."""


@dataclass(frozen=True)
class QuarantinedObject:
    """One source object's quarantine: its summary and its quarantined records (in source order)."""

    summary: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def source_key(self) -> str:
        return str(self.summary["source"]["key"])

    @property
    def version_id(self) -> str | None:
        version = self.summary["source"].get("version_id")
        return str(version) if version else None

    @property
    def etag(self) -> str | None:
        etag = self.summary["source"].get("etag")
        return str(etag) if etag else None


def _keys(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            yield item["Key"]


def quarantined_objects(
    s3: S3Client, bucket: str, dataset: str, *, source_key: str | None = None
) -> list[QuarantinedObject]:
    """The quarantine of every source object of ``dataset`` (or only of ``source_key``), by source key."""
    if not dataset or "/" in dataset:
        raise QuarantineError(f"{dataset!r} is not a dataset name (a table name, without '/')")
    found = []
    for key in _keys(s3, bucket, f"{QUARANTINE_SUMMARIES_PREFIX}{dataset}/"):
        if not key.endswith(".json"):
            continue
        summary: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        if source_key is not None and summary["source"]["key"] != source_key:
            continue
        records_key = summary.get("quarantined_records_key")
        records = read_quarantine(s3.get_object(Bucket=bucket, Key=records_key)["Body"].read()) if records_key else []
        found.append(QuarantinedObject(summary, records))
    if source_key is not None and not found:
        raise QuarantineError(f"nothing is quarantined for s3://{bucket}/{source_key} in dataset {dataset}")
    return sorted(found, key=lambda quarantined: quarantined.source_key)


def fetch_records(
    s3: S3Client, bucket: str, quarantined: QuarantinedObject, records: Iterable[dict[str, Any]], out: IO[bytes]
) -> int:
    """Write the raw bytes of ``records`` (of ``quarantined``'s source) to ``out`` in source order; returns the
    number of bytes written. Raises :class:`QuarantineError` when the source version is gone or changed."""
    wanted = sorted(records, key=lambda record: int(record["byte_offset"]))
    if not wanted:
        return 0
    source = _SourceVersion(s3, bucket, quarantined)
    if source.is_gzip():
        return _copy_from_stream(source.open(), wanted, out)
    written = 0
    for record in wanted:
        offset, length = int(record["byte_offset"]), int(record["byte_length"])
        written += _copy(source.open(byte_range=(offset, offset + length - 1)), length, out, record)
    return written


class _SourceVersion:
    """The source object version a quarantine describes: its version id, else the current object if its ETag is
    still the one converted (an unversioned bucket, or an event that named no version)."""

    def __init__(self, s3: S3Client, bucket: str, quarantined: QuarantinedObject) -> None:
        self.s3, self.bucket, self.key = s3, bucket, quarantined.source_key
        self.version_id, self.etag = quarantined.version_id, quarantined.etag

    def open(self, byte_range: tuple[int, int] | None = None) -> BinaryReader:
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            arguments["VersionId"] = self.version_id
        elif self.etag:
            arguments["IfMatch"] = f'"{self.etag}"'
        if byte_range is not None:
            arguments["Range"] = f"bytes={byte_range[0]}-{byte_range[1]}"
        try:
            body: BinaryReader = self.s3.get_object(**arguments)["Body"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in {"PreconditionFailed", "412"}:
                raise QuarantineError(
                    f"s3://{self.bucket}/{self.key} changed since it was converted (ETag {self.etag} is gone) and "
                    "its quarantine names no version: the quarantined bytes are no longer in S3"
                ) from error
            if code in {"NoSuchKey", "NoSuchVersion", "404"}:
                version = f" version {self.version_id}" if self.version_id else ""
                raise QuarantineError(f"s3://{self.bucket}/{self.key}{version} no longer exists") from error
            raise
        return body

    def is_gzip(self) -> bool:
        return _read_exactly(self.open(byte_range=(0, len(GZIP_MAGIC) - 1)), len(GZIP_MAGIC)) == GZIP_MAGIC


def _read_exactly(stream: BinaryReader, size: int) -> bytes:
    parts, remaining = [], size
    while remaining > 0:
        part = stream.read(min(remaining, COPY_CHUNK))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)


def _copy(stream: BinaryReader, length: int, out: IO[bytes], record: dict[str, Any]) -> int:
    """Copy exactly ``length`` bytes of ``stream`` to ``out`` (a record of any size, never held whole)."""
    remaining = length
    while remaining > 0:
        part = stream.read(min(remaining, COPY_CHUNK))
        if not part:
            raise QuarantineError(
                f"the source ends {remaining} bytes before the end of the record at line {record['line']} "
                f"(byte {record['byte_offset']}, {length} bytes): it is not the version that was converted"
            )
        out.write(part)
        remaining -= len(part)
    return length


def _copy_from_stream(compressed: BinaryReader, records: list[dict[str, Any]], out: IO[bytes]) -> int:
    """Decompress from the start, discarding the bytes between records (sorted, not overlapping)."""
    stream, _ = decompressed(compressed)
    position = written = 0
    for record in records:
        offset = int(record["byte_offset"])
        while position < offset:
            skipped = stream.read(min(offset - position, COPY_CHUNK))
            if not skipped:
                raise QuarantineError(f"the decompressed source ends at byte {position}, before line {record['line']}")
            position += len(skipped)
        length = int(record["byte_length"])
        written += _copy(stream, length, out, record)
        position += length
    return written
