"""One CSV object event, wired: the adapters, the idempotency record, the metrics and the log line.

Kept apart from the entry point so that importing the handler stays cheap: this module pulls in pyarrow (the
conversion), boto3 and Powertools' idempotency, and the handler imports it on the first message.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from lakepipe.adapters.aws import dynamodb_client, glue_client, s3_client, s3_filesystem, sqs_client
from lakepipe.adapters.csv_events_queue import CsvEventsQueue
from lakepipe.adapters.glue_catalog import GlueCatalog
from lakepipe.adapters.leases import DynamoDbLeases
from lakepipe.adapters.s3_objects import S3ObjectStore
from lakepipe.domain.csv.delivery import Delivery
from lakepipe.domain.csv.errors import KeyOutsideInputPrefixError
from lakepipe.domain.csv.notifications import ObjectEvent
from lakepipe.domain.csv.pipeline import ConversionReport, Services, SourceObject, convert_object, remove_outputs
from lakepipe.observability import logger, metrics, tracer
from lakepipe.settings import load_settings
from lakepipe.settings.csv_to_parquet import CsvToParquetSettings

# S3 re-delivers within minutes; a day also covers a redrive of the same event (it then returns this report).
IDEMPOTENCY_SECONDS = 24 * 3600


def events_queue(settings: CsvToParquetSettings) -> CsvEventsQueue:
    return CsvEventsQueue(
        sqs_client(), queue_url=settings.events_queue_url, dead_letter_queue_url=settings.dead_letter_queue_url
    )


def handle_object_event(event: ObjectEvent, *, context: LambdaContext, delivery: Delivery) -> dict[str, Any]:
    settings = load_settings(CsvToParquetSettings)
    if event.bucket != settings.data_bucket:  # the recursion guard's first half (the key prefix is the second)
        raise KeyOutsideInputPrefixError(f"bucket {event.bucket} is not the data bucket {settings.data_bucket}")
    config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_SECONDS)
    config.register_lambda_context(context)  # a killed attempt's record expires with the function's timeout
    once = idempotent_function(
        _handle,
        data_keyword_argument="identity",
        persistence_store=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=dynamodb_client()
        ),
        config=config,
    )
    result: dict[str, Any] = once(
        identity=event.identity, event=event, run_token=f"{context.aws_request_id}-{delivery.message_id}"
    )
    return result


def _handle(*, identity: dict[str, str], event: ObjectEvent, run_token: str) -> dict[str, Any]:
    settings = load_settings(CsvToParquetSettings)
    services = Services(
        store=S3ObjectStore(settings.data_bucket, s3_client(), s3_filesystem()),
        catalog=GlueCatalog(glue_client(), settings.glue_database),
        leases=DynamoDbLeases(dynamodb_client(), settings.idempotency_table),
        span=tracer.provider.in_subsegment,
    )
    source = SourceObject(event.bucket, event.key, event.version_id, event.etag, event.size)
    act = convert_object if event.kind == "created" else remove_outputs
    report = act(source, services=services, settings=settings.conversion(), run_token=run_token)
    _publish_metrics(report)
    log = logger.error if report.status == "rejected" else logger.info
    log(f"CSV {report.status}: {report.reason or report.output_key}", extra={"report": report.to_dict()})
    return report.to_dict()


def _publish_metrics(report: ConversionReport) -> None:
    ledger = report.ledger or {}
    for name, unit, value in (
        ("RowsIn", MetricUnit.Count, report.rows_in),
        ("RowsOut", MetricUnit.Count, report.rows_out),
        ("RowsQuarantined", MetricUnit.Count, report.rows_quarantined),
        ("BytesIn", MetricUnit.Bytes, report.bytes_in),
        ("BytesDecompressed", MetricUnit.Bytes, report.bytes_decompressed),
        ("BytesQuarantined", MetricUnit.Bytes, ledger.get("bytes_quarantined", 0)),
        ("ConversionSeconds", MetricUnit.Seconds, report.seconds),
        ("FilesConverted", MetricUnit.Count, int(report.status == "converted")),
        ("FilesRejected", MetricUnit.Count, int(report.status == "rejected")),
        ("FilesSuperseded", MetricUnit.Count, int(report.status == "superseded")),
        ("OutputsRemoved", MetricUnit.Count, int(report.status == "removed")),
    ):
        metrics.add_metric(name=name, unit=unit, value=value)
    if report.status == "rejected":
        # The reason as a dimension of its own metric (a dimension on the set above would split every metric).
        with single_metric(
            name="FilesRejectedByReason", unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
        ) as metric:
            metric.add_dimension(name="reason", value=report.error_code or "rejected")
