"""What an S3 event notification says happened to which object, read from the message S3 put on the queue.

S3 sends one JSON document per message (documented in "Event message structure"): ``Records`` of
``ObjectCreated:*`` and ``ObjectRemoved:*`` events, each naming the bucket, the key (URL-encoded, a space as
``+``), the object version and a ``sequencer`` that orders the events of one key. When a notification is
configured, S3 first sends an ``s3:TestEvent`` message, which names no object.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

EventKind = Literal["created", "removed"]


class UnreadableMessageError(ValueError):
    """A message that is not an S3 event notification: no retry can read it."""


@dataclass(frozen=True)
class ObjectEvent:
    """One S3 event on one object version."""

    kind: EventKind
    name: str  # e.g. ObjectCreated:Put, ObjectRemoved:DeleteMarkerCreated
    bucket: str
    key: str  # decoded
    version_id: str | None
    sequencer: str | None
    etag: str | None
    size: int | None
    request_id: str | None

    @property
    def identity(self) -> dict[str, str]:
        """What makes this event the same event when S3 delivers it twice (the idempotency key)."""
        version = self.version_id or self.sequencer or self.etag or ""
        return {"bucket": self.bucket, "key": self.key, "version": version, "kind": self.kind}


def object_events(body: str) -> list[ObjectEvent]:
    """The object events of one message body; S3's test event holds none. Raises :class:`UnreadableMessageError`."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise UnreadableMessageError(f"the message is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise UnreadableMessageError("the message is not a JSON object")
    if document.get("Event") == "s3:TestEvent":
        return []
    records = document.get("Records")
    if not isinstance(records, list) or not records:
        raise UnreadableMessageError("the message holds no S3 event records")
    return [_object_event(record) for record in records]


def _object_event(record: Any) -> ObjectEvent:
    try:
        name = str(record["eventName"])
        s3 = record["s3"]
        s3_object = s3["object"]
        bucket = str(s3["bucket"]["name"])
        raw_key = str(s3_object["key"])
    except (KeyError, TypeError) as error:
        raise UnreadableMessageError(f"an S3 event record lacks {error}") from error
    if name.startswith("ObjectCreated:"):
        kind: EventKind = "created"
    elif name.startswith("ObjectRemoved:"):
        kind = "removed"
    else:
        raise UnreadableMessageError(f"an S3 event this function does not handle: {name}")
    size = s3_object.get("size")
    return ObjectEvent(
        kind=kind,
        name=name,
        bucket=bucket,
        key=unquote_plus(raw_key),  # S3 sends "+" for a space and %xx for the other special characters
        version_id=s3_object.get("versionId") or None,
        sequencer=s3_object.get("sequencer") or None,
        etag=s3_object.get("eTag") or None,
        size=int(size) if isinstance(size, int | float) else None,
        request_id=(record.get("responseElements") or {}).get("x-amz-request-id"),
    )
