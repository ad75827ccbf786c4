"""X-Ray's documented rules for segment documents, as an oracle the trace code does not share.

From the X-Ray developer guide, "AWS X-Ray segment documents" and the PutTraceSegments API reference: a segment
has ``name`` (at most 200 characters of letters, digits, spaces and ``_.:/%&#=+\\-@``), ``id`` (16 hex digits),
``trace_id`` (``1-`` + 8 hex digits of epoch seconds + ``-`` + 24 hex digits), ``start_time`` and either
``end_time`` or ``in_progress``. A subsegment sent on its own also carries ``type: "subsegment"``, ``trace_id``
and ``parent_id``; a nested one needs only name, id, start and end. A document is at most 64 kB.
"""

from __future__ import annotations

import json
import re
from typing import Any

_NAME = re.compile(r"^[\w .:/%&#=+\-@]{1,200}$")
_ID = re.compile(r"^[0-9a-f]{16}$")
_TRACE_ID = re.compile(r"^1-[0-9a-f]{8}-[0-9a-f]{24}$")


def segment_document_problems(document: dict[str, Any], *, nested: bool = False) -> list[str]:
    """What in ``document`` (and its nested subsegments) breaks X-Ray's documented rules; [] when nothing."""
    problems = []
    label = f"{document.get('name')!r} ({document.get('id')})"
    if not _NAME.match(str(document.get("name", ""))):
        problems.append(f"{label}: name")
    if not _ID.match(str(document.get("id", ""))):
        problems.append(f"{label}: id is not 16 hex digits")
    if not isinstance(document.get("start_time"), int | float):
        problems.append(f"{label}: start_time")
    if not isinstance(document.get("end_time"), int | float) and document.get("in_progress") is not True:
        problems.append(f"{label}: neither end_time nor in_progress")
    elif isinstance(document.get("end_time"), int | float) and document["end_time"] < document["start_time"]:
        problems.append(f"{label}: ends before it starts")
    if not nested:
        if not _TRACE_ID.match(str(document.get("trace_id", ""))):
            problems.append(f"{label}: trace_id format")
        if document.get("type") == "subsegment" and not _ID.match(str(document.get("parent_id", ""))):
            problems.append(f"{label}: a subsegment sent alone needs its parent_id")
        if len(json.dumps(document).encode()) > 64 * 1024:
            problems.append(f"{label}: larger than 64 kB")
    for child in document.get("subsegments", []):
        problems += segment_document_problems(child, nested=True)
    return problems
