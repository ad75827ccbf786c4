"""IngestWeatherFunction: a scheduled event → one Open-Meteo request for every city → one landing object each.

Invoked by the EventBridge schedule directly or by the pipeline state machine with that same event as input.
Returns the ingest manifest; raises ``CitiesFailedError`` after landing what it could if any city failed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from lakepipe.adapters.aws import dynamodb_client, s3_client
from lakepipe.adapters.landing_store import S3LandingStore
from lakepipe.adapters.open_meteo import OpenMeteoClient
from lakepipe.domain.weather.ingest import CitiesFailedError, IngestOutcome, ingest, plan_scheduled_run
from lakepipe.observability import logger, metrics, tracer
from lakepipe.settings import load_settings
from lakepipe.settings.ingest_weather import IngestWeatherSettings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(IngestWeatherSettings)
    # Keyed on the event's id and time: a re-delivered event returns the stored manifest and writes nothing;
    # a failed run stores no record, so its retry runs again.
    run_once = idempotent(
        persistence_store=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=dynamodb_client()
        ),
        config=IdempotencyConfig(
            event_key_jmespath="[id, time]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=settings.idempotency_ttl_seconds,
        ),
    )(_ingest_scheduled_run)
    manifest: dict[str, Any] = run_once(event, context)
    return manifest


def _ingest_scheduled_run(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(IngestWeatherSettings)
    scheduled = parse(event=event, model=EventBridgeModel)
    plan = plan_scheduled_run(
        event_time=scheduled.time,
        cities=settings.cities,
        forecast_api_url=settings.forecast_api_url,
        past_days=settings.past_days,
        forecast_days=settings.forecast_days,
    )
    outcome = ingest(
        plan=plan,
        cities=settings.cities,
        api=OpenMeteoClient.from_settings(settings),
        store=S3LandingStore(settings.data_bucket, s3_client()),
    )
    _publish_metrics(outcome)
    logger.info("weather run finished", extra={"manifest": outcome.manifest.to_dict()})
    if outcome.manifest.failed:
        raise CitiesFailedError(outcome.manifest)
    return outcome.manifest.to_dict()


def _publish_metrics(outcome: IngestOutcome) -> None:
    manifest = outcome.manifest
    metrics.add_metric(name="CitiesFetched", unit=MetricUnit.Count, value=len(manifest.keys))
    metrics.add_metric(name="CitiesFailed", unit=MetricUnit.Count, value=len(manifest.failed))
    metrics.add_metric(name="BytesLanded", unit=MetricUnit.Bytes, value=manifest.bytes_landed)
    if outcome.api_latency_ms is not None:
        metrics.add_metric(name="ApiLatency", unit=MetricUnit.Milliseconds, value=outcome.api_latency_ms)
