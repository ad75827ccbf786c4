"""`lakepipe redrive`: CSV events from the dead-letter queue back to the queue the function reads, bodies unchanged.

    lakepipe redrive --stack-name lakepipe-dev --dry-run                 # what would move: object, error, reason
    lakepipe redrive --stack-name lakepipe-dev --reason ClientError --max 10
    lakepipe redrive --queue-url <CsvEventsQueueUrl> --dead-letter-queue-url <CsvEventsDeadLetterQueueUrl>

A message's body is the S3 event notification as S3 sent it, so once it is back on CsvEventsQueue the function
converts its object again, through the same checks as any event (an object replaced since is skipped as
superseded: its newer upload has its own event). Messages the function dead-lettered carry why (message
attributes lakepipe-error, lakepipe-reason, lakepipe-attempts); a message SQS moved itself, after its receive
limit, carries none: its last attempt ended without a report (a timeout, running out of memory).

Nothing is lost: each message is sent to the queue first and deleted from the dead-letter queue only after SQS
confirmed the send (its MD5 of the body checked). Stopped between the two (a crash, Ctrl-C, a network failure),
the message is on both queues: its dead-letter copy becomes visible again after HOLD_SECONDS, and running the
command again sends it a second time. The function then receives the same event twice, which it handles as S3's
own duplicates: each object version converts once (its idempotency record), under the key's lease.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from lakepipe.domain.csv.notifications import UnreadableMessageError, object_events
from lakepipe_cli.stack_outputs import StackOutputError, required_output, stack_outputs

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# How long a message received from the dead-letter queue stays hidden while one run decides about it. A run that
# stops between sending and deleting leaves the dead-letter copy hidden this long; a longer run than this would
# meet its own messages again (and stops there, see _Run).
HOLD_SECONDS = 300
# Long polling asks every SQS server, so an empty answer means no message is visible (short polling samples some).
WAIT_SECONDS = 1
SQS_BATCH = 10  # the most ReceiveMessage and the batch actions take at once
# The reason shown for a message SQS moved itself (no attributes): the function could not say why.
RECEIVE_LIMIT_REASON = (
    "receive limit: SQS moved it after maxReceiveCount receives; the last attempt ended without a report"
)
REDRIVEN_FROM = "lakepipe-redriven-from"


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter queue and what it says."""

    message_id: str
    receipt_handle: str
    body: str
    error: str | None  # None: moved by SQS's redrive policy, without a reason
    reason: str | None
    attempts: int | None
    objects: tuple[str, ...]  # s3://bucket/key of each object event in the body; empty when unreadable

    @property
    def why(self) -> str:
        """What ``--reason`` is matched against (the error name and the reason)."""
        if self.error is None:
            return RECEIVE_LIMIT_REASON
        return f"{self.error}: {self.reason or ''}"


@dataclass
class RedriveOutcome:
    """What a run did: messages moved (or, in a dry run, that would move), and those left where they were."""

    moved: list[DeadLetter] = field(default_factory=list)
    left: list[DeadLetter] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        def described(letter: DeadLetter) -> dict[str, Any]:
            return {
                "message_id": letter.message_id,
                "objects": list(letter.objects),
                "error": letter.error,
                "reason": letter.reason or (RECEIVE_LIMIT_REASON if letter.error is None else None),
                "attempts": letter.attempts,
            }

        moved = "would_move" if self.dry_run else "moved"
        return {"dry_run": self.dry_run, moved: [described(letter) for letter in self.moved],
                "left": [described(letter) for letter in self.left]}  # fmt: skip


def dead_letter_of(message: MessageTypeDef) -> DeadLetter:
    """The :class:`DeadLetter` a received message is (its attributes, the objects its body names)."""
    attributes = message.get("MessageAttributes") or {}

    def attribute(name: str) -> str | None:
        value = attributes[name].get("StringValue") if name in attributes else None
        return str(value) if value is not None else None

    body = message["Body"]
    try:
        objects = tuple(f"s3://{event.bucket}/{event.key}" for event in object_events(body))
    except UnreadableMessageError:
        objects = ()
    attempts = attribute("lakepipe-attempts")
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=body,
        error=attribute("lakepipe-error"),
        reason=attribute("lakepipe-reason"),
        attempts=int(attempts) if attempts is not None else None,
        objects=objects,
    )


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def move(sqs: SQSClient, letter: DeadLetter, *, source_queue_url: str, dead_letter_queue_url: str) -> None:
    """Send ``letter``'s body to the source queue, then (only then) delete it from the dead-letter queue."""
    sent = sqs.send_message(
        QueueUrl=source_queue_url,
        MessageBody=letter.body,
        MessageAttributes={REDRIVEN_FROM: {"DataType": "String", "StringValue": letter.message_id}},
    )
    if sent.get("MD5OfMessageBody") != _md5(letter.body):
        raise RuntimeError(f"SQS acknowledged another body for message {letter.message_id}; it stays dead-lettered")
    sqs.delete_message(QueueUrl=dead_letter_queue_url, ReceiptHandle=letter.receipt_handle)


class _Run:
    """One pass over the dead-letter queue: each message received once, decided, and moved or released."""

    def __init__(self, sqs: SQSClient, dead_letter_queue_url: str, *, hold_seconds: int, wait_seconds: int) -> None:
        self.sqs, self.queue_url = sqs, dead_letter_queue_url
        self.hold_seconds, self.wait_seconds = hold_seconds, wait_seconds
        self.seen: dict[str, bool] = {}  # message id -> moved
        self.to_release: list[str] = []  # receipt handles of messages left in place
        self.undecided: dict[str, str] = {}  # message id -> receipt handle, received but not decided yet

    def letters(self) -> Iterator[DeadLetter]:
        """Each message of the queue once; ends when none is visible, or when a message left earlier comes back
        (this run outlasted HOLD_SECONDS: everything visible has been seen)."""
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=SQS_BATCH,
                MessageAttributeNames=["All"],
                VisibilityTimeout=self.hold_seconds,
                WaitTimeSeconds=self.wait_seconds,
            ).get("Messages", [])
            if not messages:
                return
            self.undecided = {message["MessageId"]: message["ReceiptHandle"] for message in messages}
            for message in messages:
                if _md5(message["Body"]) != message.get("MD5OfBody", _md5(message["Body"])):
                    raise RuntimeError(f"message {message['MessageId']} arrived with another body than SQS holds")
                moved = self.seen.get(message["MessageId"])
                if moved is None:
                    yield dead_letter_of(message)
                    continue
                del self.undecided[message["MessageId"]]
                if moved:  # SQS delivered a copy of a message already moved (at-least-once): that copy goes too
                    self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    self.to_release.append(message["ReceiptHandle"])
                    return  # a message left earlier is visible again: the whole queue has been seen

    def decided(self, letter: DeadLetter, *, moved: bool) -> None:
        self.seen[letter.message_id] = moved
        self.undecided.pop(letter.message_id, None)
        if not moved:
            self.to_release.append(letter.receipt_handle)

    def release(self) -> None:
        """Make every message received and not moved visible again at once (else hidden for HOLD_SECONDS)."""
        handles = [*self.to_release, *self.undecided.values()]
        for start in range(0, len(handles), SQS_BATCH):
            entries = [
                {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for index, handle in enumerate(handles[start : start + SQS_BATCH])
            ]
            try:
                self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]
            except (ClientError, BotoCoreError) as error:  # they come back after HOLD_SECONDS anyway
                print(
                    f"lakepipe redrive: could not release {len(entries)} message(s) at once: {error}", file=sys.stderr
                )
        self.to_release.clear()
        self.undecided.clear()


class NotItsDeadLetterQueueError(ValueError):
    """The two queues given are not a queue and its dead-letter queue (swapped, or another stack's)."""


def check_dead_letter_queue_of(sqs: SQSClient, *, source_queue_url: str, dead_letter_queue_url: str) -> None:
    """Refuse to move anything unless the source queue's redrive policy names the dead-letter queue: swapped URLs
    would move live events into the dead-letter queue."""
    policy = sqs.get_queue_attributes(QueueUrl=source_queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    target = json.loads(policy.get("RedrivePolicy", "{}")).get("deadLetterTargetArn")
    arn = sqs.get_queue_attributes(QueueUrl=dead_letter_queue_url, AttributeNames=["QueueArn"])["Attributes"]
    if target is None or target != arn.get("QueueArn"):
        raise NotItsDeadLetterQueueError(
            f"{dead_letter_queue_url} is not the dead-letter queue of {source_queue_url} (its redrive policy names "
            f"{target or 'none'}): are the two URLs swapped?"
        )


def redrive(
    sqs: SQSClient,
    *,
    dead_letter_queue_url: str,
    source_queue_url: str,
    dry_run: bool = False,
    max_messages: int | None = None,
    reason: str | None = None,
    hold_seconds: int = HOLD_SECONDS,
    wait_seconds: int = WAIT_SECONDS,
) -> RedriveOutcome:
    """Move the dead-letter queue's messages whose reason contains ``reason`` (all when None), at most
    ``max_messages``, to the source queue; with ``dry_run`` only list them. Every message not moved is left
    visible in the dead-letter queue as it was."""
    check_dead_letter_queue_of(sqs, source_queue_url=source_queue_url, dead_letter_queue_url=dead_letter_queue_url)
    outcome = RedriveOutcome(dry_run=dry_run)
    run = _Run(sqs, dead_letter_queue_url, hold_seconds=hold_seconds, wait_seconds=wait_seconds)
    needle = reason.casefold() if reason else None
    try:
        for letter in run.letters():
            selected = needle is None or needle in letter.why.casefold()
            if selected and (max_messages is None or len(outcome.moved) < max_messages):
                if not dry_run:
                    move(sqs, letter, source_queue_url=source_queue_url, dead_letter_queue_url=dead_letter_queue_url)
                outcome.moved.append(letter)
                run.decided(letter, moved=not dry_run)
            else:
                outcome.left.append(letter)
                run.decided(letter, moved=False)
            if max_messages is not None and len(outcome.moved) >= max_messages and not dry_run:
                break
    finally:
        run.release()
    return outcome


# ------------------------------------------------------------------------------------------------ command line
def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "redrive",
        help="move dead-lettered CSV events back to the CSV events queue (bodies unchanged), or list them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack-name", help="read both queue URLs from this stack's Outputs")
    parser.add_argument("--queue-url", help="the CSV events queue (Output CsvEventsQueueUrl)")
    parser.add_argument("--dead-letter-queue-url", help="its dead-letter queue (Output CsvEventsDeadLetterQueueUrl)")
    parser.add_argument("--region", help="the stack's region (default: the SDK's)")
    parser.add_argument("--dry-run", action="store_true", help="list what would move (object, error, reason)")
    parser.add_argument("--max", type=int, dest="max_messages", metavar="N", help="move at most N messages")
    parser.add_argument(
        "--reason",
        metavar="TEXT",
        help="only messages whose error or reason contains TEXT (case-insensitive; 'receive limit' selects the "
        "messages SQS moved itself)",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON instead of a table")
    parser.set_defaults(run=run)


def _queue_urls(args: argparse.Namespace, session: boto3.Session) -> tuple[str, str]:
    if args.stack_name:
        if args.queue_url or args.dead_letter_queue_url:
            raise ValueError("give --stack-name or the two queue URLs, not both")
        outputs = stack_outputs(args.stack_name, session=session)
        return (
            required_output(outputs, "CsvEventsQueueUrl", args.stack_name),
            required_output(outputs, "CsvEventsDeadLetterQueueUrl", args.stack_name),
        )
    if not (args.queue_url and args.dead_letter_queue_url):
        raise ValueError("give --stack-name, or both --queue-url and --dead-letter-queue-url")
    return str(args.queue_url), str(args.dead_letter_queue_url)


def run(args: argparse.Namespace) -> int:
    if args.max_messages is not None and args.max_messages < 1:
        print("lakepipe redrive: --max must be at least 1", file=sys.stderr)
        return 2
    session = boto3.Session(region_name=args.region)
    try:
        source_queue_url, dead_letter_queue_url = _queue_urls(args, session)
    except (ValueError, StackOutputError) as error:
        print(f"lakepipe redrive: {error}", file=sys.stderr)
        return 2
    sqs: Any = session.client("sqs")
    try:
        outcome = redrive(
            sqs,
            dead_letter_queue_url=dead_letter_queue_url,
            source_queue_url=source_queue_url,
            dry_run=args.dry_run,
            max_messages=args.max_messages,
            reason=args.reason,
        )
    except NotItsDeadLetterQueueError as error:
        print(f"lakepipe redrive: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError, RuntimeError) as error:
        print(
            f"lakepipe redrive: stopped: {error} (messages not yet deleted stay in the dead-letter queue)",
            file=sys.stderr,
        )
        return 1
    if args.json:
        print(json.dumps(outcome.to_dict(), indent=2))
    else:
        _print(outcome, source_queue_url=source_queue_url, dead_letter_queue_url=dead_letter_queue_url)
    return 0


def _print(outcome: RedriveOutcome, *, source_queue_url: str, dead_letter_queue_url: str) -> None:
    from rich.console import Console  # noqa: PLC0415 - only for the report
    from rich.table import Table  # noqa: PLC0415

    action = "would move" if outcome.dry_run else "moved"
    table = Table("error", "reason", "attempts", "action")
    table.add_column("object", overflow="fold", ratio=1)  # the key is what a person acts on: never cut
    for letters, done in ((outcome.moved, action), (outcome.left, "left")):
        for letter in letters:
            table.add_row(
                letter.error or "(receive limit)",
                letter.reason or RECEIVE_LIMIT_REASON,
                "" if letter.attempts is None else str(letter.attempts),
                done,
                "\n".join(letter.objects) or "(not an S3 notification)",
            )
    console = Console()
    if outcome.moved or outcome.left:
        console.print(table)
    console.print(
        f"{len(outcome.moved)} message(s) {action} from {dead_letter_queue_url} to {source_queue_url}; "
        f"{len(outcome.left)} left in the dead-letter queue"
    )
