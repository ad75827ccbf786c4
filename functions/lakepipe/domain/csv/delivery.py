"""One message of the CSV events queue: its object events handled, or the message retried or dead-lettered.

S3 puts one notification per object event on the queue, and Lambda hands the function batches of messages;
each message succeeds or fails alone (Powertools' batch utility reports the failed ones). What happens to a
failure depends on whether a retry can fix it:

* **permanent** (a message that is not an S3 notification, a key the function must not convert, bytes that do
  not reconcile): sent at once to the dead-letter queue with the reason, and the message is done;
* **transient** (throttling, a network error, a concurrent catalog change): the message becomes visible again
  after a backoff (30 s, doubling, at most 15 minutes), and on its last allowed attempt it is dead-lettered with
  the last error instead;
* **busy** (another live attempt owns the object: S3's duplicate notification of an upload still converting, or
  another conversion holding the key's lease): the message comes back once that attempt must have ended, after
  the function's whole timeout. The short backoff would spend every attempt while one long conversion runs, and
  dead-letter a file that converts.

A conversion killed outright (timeout, out of memory) says nothing: its message comes back after the queue's
visibility timeout, which is longer than the function's timeout, by when the idempotency record of the killed
attempt has expired too, so the retry converts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from lakepipe.domain.csv.accounting import ReconciliationError
from lakepipe.domain.csv.errors import KeyOutsideInputPrefixError
from lakepipe.domain.csv.notifications import ObjectEvent, UnreadableMessageError, object_events
from lakepipe.domain.csv.publication import PublicationBusyError

PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    UnreadableMessageError,
    KeyOutsideInputPrefixError,
    ReconciliationError,
)
FIRST_RETRY_SECONDS = 30
LONGEST_RETRY_SECONDS = 15 * 60
LONGEST_VISIBILITY_SECONDS = 12 * 3600  # SQS's limit for ChangeMessageVisibility


@dataclass(frozen=True)
class Delivery:
    """One SQS message as the function received it."""

    message_id: str
    body: str
    attempt: int  # ApproximateReceiveCount: 1 on the first delivery
    receipt_handle: str


class EventsQueue(Protocol):
    """The queue the message came from, and its dead-letter queue."""

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        """Make the message visible again after ``seconds`` (instead of the visibility timeout)."""
        ...

    def dead_letter(self, delivery: Delivery, *, error: str, reason: str) -> None:
        """Put the message on the dead-letter queue with why, for a person and for ``lakepipe redrive``."""
        ...


def retry_delay(attempt: int) -> int:
    """Seconds before the next attempt after failed attempt number ``attempt``."""
    return int(min(FIRST_RETRY_SECONDS * 2 ** max(attempt - 1, 0), LONGEST_RETRY_SECONDS))


def deliver(
    delivery: Delivery,
    *,
    handle: Callable[[ObjectEvent], dict[str, Any]],
    queue: EventsQueue,
    max_attempts: int,
    on_dead_letter: Callable[[str, str], None] = lambda error, reason: None,
    busy_errors: tuple[type[Exception], ...] = (),
    busy_retry_seconds: int = 0,
) -> list[dict[str, Any]]:
    """Handle every object event of ``delivery``; returns their reports.

    Raises the failure when the message is to be retried (the batch utility then reports it as failed).
    ``busy_errors`` (with :class:`.PublicationBusyError`) mean another live attempt owns the object; such a
    message is retried after ``busy_retry_seconds`` (the function's timeout), when that attempt has ended.
    """
    try:
        return [handle(event) for event in object_events(delivery.body)]
    except PERMANENT_ERRORS as error:
        return [_dead_letter(delivery, queue, error, "permanent", on_dead_letter)]
    except Exception as error:
        if delivery.attempt >= max_attempts:
            return [
                _dead_letter(delivery, queue, error, f"still failing after {delivery.attempt} attempts", on_dead_letter)
            ]
        delay = retry_delay(delivery.attempt)
        if isinstance(error, (PublicationBusyError, *busy_errors)):
            delay = max(delay, busy_retry_seconds)
        queue.retry_in(delivery.receipt_handle, min(delay, LONGEST_VISIBILITY_SECONDS))
        raise


def _dead_letter(
    delivery: Delivery,
    queue: EventsQueue,
    error: Exception,
    why: str,
    on_dead_letter: Callable[[str, str], None],
) -> dict[str, Any]:
    reason = f"{why}: {type(error).__name__}: {error}"[:1000]
    queue.dead_letter(delivery, error=type(error).__name__, reason=reason)
    on_dead_letter(type(error).__name__, reason)
    return {
        "status": "dead-lettered",
        "message_id": delivery.message_id,
        "error": type(error).__name__,
        "reason": reason,
    }
