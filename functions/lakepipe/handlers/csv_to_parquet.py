"""S3 ObjectCreated under the input prefix → Parquet under database/ and an up-to-date Glue table.

Each record is converted once (idempotency on bucket + key + version), so a re-delivered event changes nothing.
A failed record fails the invocation after the others ran: the retry skips the records already converted.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from lakepipe.adapters.aws import dynamodb_client, glue_client, s3_client, s3_filesystem
from lakepipe.adapters.glue_catalog import GlueCatalog
from lakepipe.adapters.s3_objects import S3ObjectStore
from lakepipe.domain.csv.errors import KeyOutsideInputPrefixError
from lakepipe.domain.csv.pipeline import SourceObject, convert_object
from lakepipe.observability import logger, metrics, tracer
from lakepipe.settings import load_settings
from lakepipe.settings.csv_to_parquet import CsvToParquetSettings

# As long as an event can still be retried (MaximumEventAgeInSeconds in template.yaml).
IDEMPOTENCY_SECONDS = 6 * 3600


class RecordsFailedError(RuntimeError):
    """Some records of the event failed; raised after all ran so the retry redoes only those."""


def _convert(*, identity: dict[str, str], source: SourceObject, run_token: str) -> dict[str, Any]:
    settings = load_settings(CsvToParquetSettings)
    report = convert_object(
        source,
        input_prefix=settings.input_prefix,
        store=S3ObjectStore(settings.data_bucket, s3_client(), s3_filesystem()),
        catalog=GlueCatalog(glue_client(), settings.glue_database),
        run_token=run_token,
        sample_bytes=settings.sample_bytes,
        span=tracer.provider.in_subsegment,
    )
    for name, unit, value in (
        ("RowsIn", MetricUnit.Count, report.rows_in),
        ("RowsOut", MetricUnit.Count, report.rows_out),
        ("RowsQuarantined", MetricUnit.Count, report.rows_quarantined),
        ("BytesIn", MetricUnit.Bytes, report.bytes_in),
        ("ConversionSeconds", MetricUnit.Seconds, report.seconds),
        ("FilesRejected", MetricUnit.Count, int(report.status == "rejected")),
    ):
        metrics.add_metric(name=name, unit=unit, value=value)
    log = logger.error if report.status == "rejected" else logger.info
    log(f"CSV {report.status}: {report.reason or report.output_key}", extra={"report": report.to_dict()})
    return report.to_dict()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(CsvToParquetSettings)
    config = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_SECONDS)
    config.register_lambda_context(context)
    persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb_client())
    convert_once = idempotent_function(
        _convert, data_keyword_argument="identity", persistence_store=persistence, config=config
    )
    records = list(S3Event(event).records)
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=len(records))
    reports, failed = [], []
    for record in records:
        logger.set_correlation_id(record.response_elements.get("x-amz-request-id"))
        s3_object = record.s3.get_object
        key = unquote_plus(s3_object.key)  # S3 sends "+" for spaces and %xx for the rest
        source = SourceObject(record.s3.bucket.name, key, s3_object.version_id, s3_object.etag, s3_object.size)
        identity = {"bucket": source.bucket, "key": source.key, "version": source.version_id or source.etag or ""}
        try:
            if source.bucket != settings.data_bucket:
                raise KeyOutsideInputPrefixError(f"bucket {source.bucket} is not the data bucket")
            reports.append(convert_once(identity=identity, source=source, run_token=context.aws_request_id))
        except KeyOutsideInputPrefixError as refusal:  # the recursion guard: never convert our own outputs
            logger.error(f"Refused: {refusal}", extra={"bucket": source.bucket, "key": source.key})
            metrics.add_metric(name="ObjectsRefused", unit=MetricUnit.Count, value=1)
            reports.append({"status": "refused", "source_key": source.key, "reason": str(refusal)})
        except Exception:
            logger.exception("CSV conversion failed", extra={"bucket": source.bucket, "key": source.key})
            failed.append(source.key)
    if failed:
        raise RecordsFailedError(f"{len(failed)} of {len(reports) + len(failed)} records failed: {failed}")
    return {"records": reports}
