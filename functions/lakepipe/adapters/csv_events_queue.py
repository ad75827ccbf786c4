"""The CSV events queue and its dead-letter queue, as the delivery policy uses them (see domain.csv.delivery)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from lakepipe.domain.csv.delivery import Delivery
from lakepipe.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class CsvEventsQueue:
    """Retries a message sooner than the visibility timeout, or dead-letters it with the reason."""

    def __init__(self, client: SQSClient, *, queue_url: str, dead_letter_queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url
        self._dead_letter_queue_url = dead_letter_queue_url

    def retry_in(self, receipt_handle: str, seconds: int) -> None:
        try:
            self._client.change_message_visibility(
                QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
        except ClientError as error:
            # The failure that led here is what must be reported; the message still comes back, only later.
            logger.warning("Could not shorten the retry delay", extra={"error": str(error), "seconds": seconds})

    def dead_letter(self, delivery: Delivery, *, error: str, reason: str) -> None:
        # The body is the S3 notification as received: `lakepipe redrive` sends it back unchanged.
        self._client.send_message(
            QueueUrl=self._dead_letter_queue_url,
            MessageBody=delivery.body,
            MessageAttributes={
                "lakepipe-error": {"DataType": "String", "StringValue": error},
                "lakepipe-reason": {"DataType": "String", "StringValue": reason},
                "lakepipe-attempts": {"DataType": "Number", "StringValue": str(delivery.attempt)},
                "lakepipe-message-id": {"DataType": "String", "StringValue": delivery.message_id},
            },
        )
