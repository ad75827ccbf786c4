"""IngestWeatherFunction: a scheduled event → one Open-Meteo request for every city → one landing object each.

Accepted events, recognised by ``source`` and ``detail-type``: an EventBridge rule's scheduled event (``aws.events``)
and an EventBridge Scheduler schedule's default payload (``aws.scheduler``, whose ``detail`` is the string "{}"),
both ``"Scheduled Event"``. The pipeline state machine passes its execution input, one of those, unchanged.
Anything else is refused before any request or write (``NotAScheduledEventError``, metric ``EventsRefused``).

The fetch ends ``INGEST_LANDING_RESERVE_SECONDS`` before the invocation's own end, so what was fetched is landed
and reported, never cut off by the Lambda timeout. Returns the ingest manifest; raises after landing what it could
if any city failed (``OpenMeteoRateLimitedError`` / ``OpenMeteoQuotaExhaustedError`` on a rate limit, else
``CitiesFailedError``).
"""

from __future__ import annotations

from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field, ValidationError

from lakepipe.adapters.aws import dynamodb_client, s3_client
from lakepipe.adapters.landing_store import S3LandingStore
from lakepipe.adapters.open_meteo import OpenMeteoClient
from lakepipe.domain.weather.deadline import Deadline
from lakepipe.domain.weather.ingest import IngestOutcome, ingest, plan_scheduled_run, run_failure
from lakepipe.observability import logger, metrics, tracer
from lakepipe.settings import load_settings
from lakepipe.settings.ingest_weather import IngestWeatherSettings


class ScheduledEventModel(EventBridgeModel):
    """An EventBridge scheduled event, from a rule (aws.events) or from EventBridge Scheduler (aws.scheduler)."""

    source: Literal["aws.events", "aws.scheduler"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")


class NotAScheduledEventError(ValueError):
    """The invocation's event is not a scheduled event; nothing was fetched or written."""


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = load_settings(IngestWeatherSettings)
    try:
        parse_scheduled_event(event)  # before the idempotency layer: a refused event leaves no record either
    except NotAScheduledEventError:
        metrics.add_metric(name="EventsRefused", unit=MetricUnit.Count, value=1)
        raise
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
    scheduled = parse_scheduled_event(event)
    fetch_by = Deadline.after(context.get_remaining_time_in_millis() / 1000 - settings.landing_reserve_seconds)
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
        deadline=fetch_by,
    )
    _publish_metrics(outcome)
    logger.info("weather run finished", extra={"manifest": outcome.manifest.to_dict()})
    failure = run_failure(outcome)
    if failure is not None:
        raise failure
    return outcome.manifest.to_dict()


def parse_scheduled_event(event: Any) -> ScheduledEventModel:
    """The scheduled event in ``event``, or :class:`NotAScheduledEventError` saying what it is instead."""
    try:
        return parse(event=event, model=ScheduledEventModel)
    except ValidationError as error:
        seen = event if isinstance(event, dict) else {}
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or '<event>'}: {issue['msg']}" for issue in error.errors()
        )
        raise NotAScheduledEventError(
            "IngestWeatherFunction runs on scheduled events only (source 'aws.events' or 'aws.scheduler',"
            f" detail-type 'Scheduled Event'); got source={seen.get('source')!r},"
            f" detail-type={seen.get('detail-type')!r}: {problems}"
        ) from error


def _publish_metrics(outcome: IngestOutcome) -> None:
    manifest = outcome.manifest
    metrics.add_metric(name="CitiesFetched", unit=MetricUnit.Count, value=len(manifest.keys))
    metrics.add_metric(name="CitiesFailed", unit=MetricUnit.Count, value=len(manifest.failed))
    metrics.add_metric(name="BytesLanded", unit=MetricUnit.Bytes, value=manifest.bytes_landed)
    if outcome.api_latency_ms is not None:
        metrics.add_metric(name="ApiLatency", unit=MetricUnit.Milliseconds, value=outcome.api_latency_ms)
