"""The delivery policy: which failures are retried when, and which are dead-lettered with their reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from lakepipe.domain.csv.delivery import FIRST_RETRY_SECONDS, Delivery, deliver
from lakepipe.domain.csv.notifications import ObjectEvent
from lakepipe.domain.csv.publication import PublicationBusyError

FUNCTION_TIMEOUT = 600
NOTIFICATION = json.dumps(
    {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "lake"}, "object": {"key": "input/sales/f.csv", "sequencer": "01"}},
            }
        ]
    }
)


@dataclass
class RecordedQueue:
    """What the policy asked of the queue (the EventsQueue protocol is lakepipe's own)."""

    retries: list[int] = field(default_factory=list)
    dead_letters: list[tuple[str, str]] = field(default_factory=list)

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        self.retries.append(seconds)

    def dead_letter(self, delivery: Delivery, *, error: str, reason: str) -> None:
        self.dead_letters.append((error, reason))


def failing_with(error: Exception) -> Any:
    def handle(event: ObjectEvent) -> dict[str, Any]:
        raise error

    return handle


def delivered(error: Exception, *, attempt: int, queue: RecordedQueue) -> list[dict[str, Any]]:
    return deliver(
        Delivery(message_id="m-1", body=NOTIFICATION, attempt=attempt, receipt_handle="r-1"),
        handle=failing_with(error),
        queue=queue,
        max_attempts=5,
        busy_errors=(IdempotencyAlreadyInProgressError,),
        busy_retry_seconds=FUNCTION_TIMEOUT + 30,
    )


@pytest.mark.parametrize(
    "busy", [IdempotencyAlreadyInProgressError("record in progress"), PublicationBusyError("lease held")]
)
def test_a_message_whose_object_another_attempt_owns_comes_back_after_that_attempt_must_have_ended(
    busy: Exception,
) -> None:
    # Given a duplicate notification of an upload still converting (or a key whose lease another attempt holds)
    queue = RecordedQueue()

    # When it fails on its first attempts
    for attempt in (1, 2, 3):
        with pytest.raises(type(busy)):
            delivered(busy, attempt=attempt, queue=queue)

    # Then each retry waits the function's whole timeout, not 30 s, 60 s, 120 s: four short retries would spend
    # every attempt while one long conversion runs and dead-letter a file that converts
    assert queue.retries == [FUNCTION_TIMEOUT + 30] * 3
    assert queue.dead_letters == []


def test_a_transient_failure_backs_off_from_thirty_seconds_and_is_dead_lettered_on_the_last_attempt() -> None:
    queue = RecordedQueue()
    for attempt in (1, 2, 3, 4):
        with pytest.raises(TimeoutError):
            delivered(TimeoutError("glue throttled"), attempt=attempt, queue=queue)

    (report,) = delivered(TimeoutError("glue throttled"), attempt=5, queue=queue)

    assert queue.retries == [FIRST_RETRY_SECONDS, 60, 120, 240]
    assert report["status"] == "dead-lettered"
    assert queue.dead_letters == [("TimeoutError", "still failing after 5 attempts: TimeoutError: glue throttled")]
