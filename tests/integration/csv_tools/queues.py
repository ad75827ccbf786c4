"""The CSV path's queues on the moto server, driven as Lambda's event source mapping drives them."""

from __future__ import annotations

import itertools
import json
from typing import Any

import boto3

from lakepipe.handlers.csv_to_parquet import lambda_handler
from lakepipe_cli.local_aws import LocalStack
from lakepipe_cli.sqs_source import Drained, drain
from tests.integration.csv.s3_events import LambdaContext

_invocations = itertools.count(1)


def drain_through_the_function(stack: LocalStack) -> Drained:
    """Poll CsvEventsQueue and hand each batch to the real handler, deleting what it reports done."""

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = lambda_handler(event, LambdaContext(aws_request_id=f"invocation-{next(_invocations)}"))
        return result

    return drain(boto3.client("sqs"), stack.outputs["CsvEventsQueueUrl"], handler)


def depth(queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def bodies(queue_url: str) -> list[str]:
    """The bodies of the visible messages, left visible (read, not consumed)."""
    sqs = boto3.client("sqs")
    found: list[str] = []
    handles: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        if not messages:
            break
        found += [message["Body"] for message in messages]
        handles += [message["ReceiptHandle"] for message in messages]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return found


def receive_without_deleting(queue_url: str, times: int) -> list[str]:
    """Receive every visible message ``times`` times without deleting it, as attempts killed outright (a timeout,
    running out of memory) leave a message: SQS counts each receive. Returns the bodies received the first time."""
    sqs = boto3.client("sqs")
    first: list[str] = []
    for attempt in range(times):
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1
        ).get("Messages", [])
        if attempt == 0:
            first = [message["Body"] for message in messages]
    return first


def upload_as_s3_notifies(stack: LocalStack, key: str, body: bytes) -> str:
    """Upload ``body`` and leave on CsvEventsQueue the notification S3 sends for it; returns its version id.

    moto's notification leaves out the object's ``versionId``, which S3 sends for a versioned bucket (as the data
    bucket is): moto's message is taken off the queue and sent again with it.
    """
    version_id = str(boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)["VersionId"])
    sqs, queue_url = boto3.client("sqs"), stack.outputs["CsvEventsQueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    notification = json.loads(message["Body"])
    for record in notification["Records"]:
        record["s3"]["object"]["versionId"] = version_id
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(notification))
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return version_id
