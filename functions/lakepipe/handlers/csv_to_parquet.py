"""SQS batch of S3 events under the input prefix → Parquet under database/ and an up-to-date Glue table.

S3 puts each object event on the CSV events queue; Lambda polls it and hands batches here. Each message is
handled alone (Powertools' batch utility reports the failed ones, so only those come back), each object version
once (idempotency on bucket + key + version + event kind), and the delivery policy decides between retrying a
failure and dead-lettering it with its reason (see ``domain.csv.delivery``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from lakepipe.domain.csv.delivery import Delivery, deliver
from lakepipe.observability import logger, metrics, tracer
from lakepipe.settings import load_settings
from lakepipe.settings.csv_to_parquet import CsvToParquetSettings

BUSY_MARGIN_SECONDS = 30
# A batch that fails whole is reported like any other (every message listed), not raised: the response says which.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _handle_message(record: SQSRecord, *, context: LambdaContext) -> list[dict[str, Any]]:
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError  # noqa: PLC0415

    from lakepipe.handlers.csv_conversion import events_queue, handle_object_event  # noqa: PLC0415 - lazy: pyarrow

    settings = load_settings(CsvToParquetSettings)
    delivery = Delivery(
        message_id=record.message_id,
        body=record.body,
        attempt=int(record.attributes.approximate_receive_count),
        receipt_handle=record.receipt_handle,
    )
    logger.set_correlation_id(record.message_id)
    return deliver(
        delivery,
        handle=partial(handle_object_event, context=context, delivery=delivery),
        queue=events_queue(settings),
        max_attempts=settings.max_attempts,
        on_dead_letter=_count_dead_letter,
        # A duplicate of an upload still converting waits for that attempt's end: at most this invocation's timeout.
        busy_errors=(IdempotencyAlreadyInProgressError,),
        busy_retry_seconds=context.get_remaining_time_in_millis() // 1000 + BUSY_MARGIN_SECONDS,
    )


def _count_dead_letter(error: str, reason: str) -> None:
    logger.error(f"Dead-lettered: {reason}", extra={"error": error})
    metrics.add_metric(name="EventsDeadLettered", unit=MetricUnit.Count, value=1)
    if error == "ReconciliationError":  # a defect, not bad data: its own metric and alarm
        metrics.add_metric(name="ReconciliationFailures", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    load_settings(CsvToParquetSettings)  # a misconfigured stack fails here, naming every bad variable
    records = event.get("Records", [])
    metrics.add_metric(name="MessagesReceived", unit=MetricUnit.Count, value=len(records))
    with processor(records=records, handler=partial(_handle_message, context=context), lambda_context=context):
        outcomes = processor.process()
    # Lambda reads batchItemFailures (the messages to retry); the reports are for people and tests.
    reports = [report for status, result, _ in outcomes if status == "success" for report in result]
    return {**processor.response(), "reports": reports}
