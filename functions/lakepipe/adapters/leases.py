"""Leases in the DynamoDB table the idempotency records live in: one item per lease, taken with a conditional put.

The items share the table with Powertools' idempotency records (``id`` key, ``expiration`` TTL) under their own
``lakepipe#publish#…`` ids, so no second table is needed; the TTL removes forgotten ones a day after expiry.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_CLEANUP_AFTER_SECONDS = 86_400


class DynamoDbLeases:
    """Exclusive, expiring leases (see ``domain.csv.publication.Leases``)."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def acquire(self, name: str, holder: str, seconds: int) -> bool:
        now = self._clock()
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "id": {"S": name},
                    "holder": {"S": holder},
                    "lease_expires_at": {"N": str(int(now + seconds))},
                    "expiration": {"N": str(int(now + seconds + _CLEANUP_AFTER_SECONDS))},
                },
                ConditionExpression="attribute_not_exists(id) OR lease_expires_at < :now OR holder = :holder",
                ExpressionAttributeValues={":now": {"N": str(int(now))}, ":holder": {"S": holder}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, name: str, holder: str) -> None:
        # If it expired and another holder took it meanwhile, it is theirs now: nothing to give back.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.delete_item(
                TableName=self._table,
                Key={"id": {"S": name}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
