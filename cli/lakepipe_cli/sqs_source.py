"""A local stand-in for Lambda's SQS event source mapping: poll a queue, invoke a handler with the batch, delete
what succeeded.

Lambda's poller receives up to ``BatchSize`` messages (with every system attribute, ``ApproximateReceiveCount``
among them), invokes the function with an ``aws:sqs`` event, and with ``ReportBatchItemFailures`` deletes the
messages the response does not list in ``batchItemFailures``; the others become visible again when their
visibility timeout ends. This does the same against the moto server, so the demo and the tests drive the real
handler with the messages S3 (moto) really put on the queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Drained:
    """What polling the queue did: one response per invocation, and the messages deleted and left."""

    responses: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)  # of every message received, in order
    deleted: int = 0
    failed: int = 0

    @property
    def reports(self) -> list[dict[str, Any]]:
        return [report for response in self.responses for report in response.get("reports", [])]


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands a function for ``messages`` (as ``receive_message`` returns them)."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def drain(
    sqs: Any, queue_url: str, handler: Handler, *, batch_size: int = 1, region: str = "eu-west-3", rounds: int = 100
) -> Drained:
    """Poll ``queue_url`` until it returns nothing visible (or ``rounds`` polls), invoking ``handler`` per batch."""
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    drained = Drained()
    for _ in range(rounds):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=batch_size, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        drained.bodies += [message["Body"] for message in messages]
        response = handler(sqs_event(messages, queue_arn=queue_arn, region=region))
        drained.responses.append(response)
        failed = {failure["itemIdentifier"] for failure in (response or {}).get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] in failed:
                drained.failed += 1
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            drained.deleted += 1
    return drained
