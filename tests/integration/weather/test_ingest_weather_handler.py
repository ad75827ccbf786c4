"""IngestWeatherFunction end to end on moto: scheduled event in, landing objects and manifest out."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
import responses
from responses import matchers

from lakepipe.domain.weather.ingest import CitiesFailedError
from lakepipe.domain.weather.open_meteo import DEFAULT_FORECAST_API_URL, split_locations
from lakepipe.handlers.ingest_weather import NotAScheduledEventError, lambda_handler
from lakepipe.settings import SettingsError
from lakepipe_cli.local_aws import LocalStack
from tests.conftest import load_event
from tests.integration.weather.conftest import LambdaContext
from tests.unit.weather.open_meteo_bodies import FORECAST_4_CITIES, FOUR_CITIES, body, compact, with_element

pytestmark = pytest.mark.integration
# An invocation that returns a stored manifest or stops before the run publishes no metric; Powertools warns.
no_metrics = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

PREFIX = "landing/weather/source=open-meteo/ingest_date=2026-11-22/run=20261122T030000Z/"
KEYS = [PREFIX + f"city={name}.json" for name in ("Paris", "Marseille", "Nice", "Lyon")]
FORECAST_QUERY = {
    "latitude": "48.8566,43.2965,43.7102,45.764",
    "longitude": "2.3522,5.3698,7.262,4.8357",
    "timezone": "UTC",
    "start_date": "2026-11-20",
    "end_date": "2026-11-23",
}


def landed(bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="landing/weather/").get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listing}


def emitted_metrics(output: str) -> list[dict[str, Any]]:
    """Embedded-metric-format documents printed by the invocation, each metric as one number."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [
        {name: value[0] if isinstance(value, list) and len(value) == 1 else value for name, value in line.items()}
        for line in lines
        if "_aws" in line
    ]


def test_a_scheduled_run_lands_each_city_raw_with_metadata_and_returns_the_manifest(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = body(FORECAST_4_CITIES)
    open_meteo.get(
        DEFAULT_FORECAST_API_URL, body=raw, match=[matchers.query_param_matcher(FORECAST_QUERY, strict_match=False)]
    )

    manifest = lambda_handler(load_event("scheduled-event.json"), LambdaContext())

    elements = [location.raw for location in split_locations(raw, expected=4)]
    assert landed(weather_aws.bucket) == dict(zip(KEYS, elements, strict=True))
    head = boto3.client("s3").head_object(Bucket=weather_aws.bucket, Key=KEYS[0])
    assert head["ContentType"] == "application/json"
    assert head["Metadata"]["http-status"] == "200"
    assert head["Metadata"]["request-url"] == open_meteo.calls[0].request.url
    assert "start_date=2026-11-20&end_date=2026-11-23" in head["Metadata"]["request-url"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", head["Metadata"]["fetched-at"])
    assert manifest == {
        "run_id": "20261122T030000Z",
        "ingest_date": "2026-11-22",
        "source": "open-meteo",
        "landing_prefix": PREFIX,
        "keys": KEYS,
        "cities": [
            {"city": city.name, "status": "ok", "key": key, "bytes": len(element), "error": None}
            for city, key, element in zip(FOUR_CITIES, KEYS, elements, strict=True)
        ],
        "window_start": "2026-11-20",
        "window_end": "2026-11-23",
    }
    (emf,) = emitted_metrics(capsys.readouterr().out)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "lakepipe-test"
    assert (emf["CitiesFetched"], emf["CitiesFailed"], emf["BytesLanded"]) == (4.0, 0.0, float(sum(map(len, elements))))
    assert emf["ApiLatency"] >= 0


@no_metrics
def test_a_redelivered_event_returns_the_same_manifest_and_writes_nothing_again(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock
) -> None:
    open_meteo.get(DEFAULT_FORECAST_API_URL, body=body(FORECAST_4_CITIES))
    event = load_event("scheduled-event.json")

    first = lambda_handler(event, LambdaContext())
    second = lambda_handler(json.loads(json.dumps(event)), LambdaContext())

    assert second == first
    assert len(open_meteo.calls) == 1
    versions = boto3.client("s3").list_object_versions(Bucket=weather_aws.bucket, Prefix="landing/weather/")
    assert sorted(version["Key"] for version in versions["Versions"]) == sorted(KEYS)  # one version each
    records = boto3.client("dynamodb").scan(TableName=weather_aws.idempotency_table)["Items"]
    assert [record["status"]["S"] for record in records] == ["COMPLETED"]


def test_a_failing_city_does_not_lose_the_others_and_the_run_fails_then_heals_on_retry(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock
) -> None:
    nice = json.loads(body(FORECAST_4_CITIES))[2]
    nice["hourly"]["pressure_msl"] = nice["hourly"]["pressure_msl"][:90]
    open_meteo.get(DEFAULT_FORECAST_API_URL, body=with_element(body(FORECAST_4_CITIES), 2, compact(nice)))
    event = load_event("scheduled-event.json")

    with pytest.raises(CitiesFailedError) as error:
        lambda_handler(event, LambdaContext())

    assert str(error.value) == (
        "run 20261122T030000Z: 1 of 4 cities failed: Nice (hourly variable 'pressure_msl' has 90 values for 96 hours);"
        " landed: Paris, Marseille, Lyon"
    )
    assert sorted(landed(weather_aws.bucket)) == sorted(KEYS[:2] + KEYS[3:])
    # The failure left no idempotency record: the retry (EventBridge, Step Functions) runs again, and heals.
    assert boto3.client("dynamodb").scan(TableName=weather_aws.idempotency_table)["Items"] == []
    open_meteo.replace(responses.GET, DEFAULT_FORECAST_API_URL, body=body(FORECAST_4_CITIES))

    manifest = lambda_handler(event, LambdaContext())

    assert [city["status"] for city in manifest["cities"]] == ["ok"] * 4
    assert sorted(landed(weather_aws.bucket)) == sorted(KEYS)
    assert len(open_meteo.calls) == 2


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ({"status": 503, "body": "Service Unavailable"}, "still failing after 2 attempts: HTTP 503"),
        ({"status": 200, "body": b"<html>maintenance</html>"}, "unusable response: response is not JSON"),
        (
            {
                "status": 200,
                "body": b"[" + b",".join(split_locations(body(FORECAST_4_CITIES), 4)[0].raw for _ in "123") + b"]",
            },
            "expected 4 location(s), the response holds an array of 3",
        ),
    ],
)
def test_an_unusable_answer_writes_nothing_and_fails_every_city(
    weather_aws: LocalStack,
    open_meteo: responses.RequestsMock,
    capsys: pytest.CaptureFixture[str],
    reply: dict[str, Any],
    reason: str,
) -> None:
    for _ in range(2 if reply["status"] >= 500 else 1):
        open_meteo.get(DEFAULT_FORECAST_API_URL, **reply)

    with pytest.raises(CitiesFailedError, match="run 20261122T030000Z: all 4 cities failed: ") as error:
        lambda_handler(load_event("scheduled-event.json"), LambdaContext())

    assert reason in str(error.value)
    assert landed(weather_aws.bucket) == {}
    (emf,) = emitted_metrics(capsys.readouterr().out)
    assert (emf["CitiesFetched"], emf["CitiesFailed"], emf["BytesLanded"]) == (0.0, 4.0, 0.0)


def test_an_eventbridge_scheduler_event_lands_the_same_run_as_the_rules_event(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock
) -> None:
    # Given EventBridge Scheduler's default payload for the same scheduled time (its detail is the string "{}")
    open_meteo.get(DEFAULT_FORECAST_API_URL, body=body(FORECAST_4_CITIES))

    manifest = lambda_handler(load_event("scheduler-event.json"), LambdaContext())

    assert manifest["run_id"] == "20261122T030000Z"
    assert sorted(landed(weather_aws.bucket)) == sorted(KEYS)


def test_an_event_that_is_not_a_scheduled_one_is_refused_with_a_metric_before_any_request_or_write(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an EC2 state change delivered to the function (a rule matching more than the schedule)
    ec2_state_change = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "111122223333",
        "time": "2017-12-22T18:43:48Z",
        "region": "us-west-1",
        "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
        "detail": {"instance_id": "i-1234567890abcdef0", "state": "terminated"},
    }

    with pytest.raises(NotAScheduledEventError, match=r"source='aws\.ec2'"):
        lambda_handler(ec2_state_change, LambdaContext())

    assert len(open_meteo.calls) == 0
    assert landed(weather_aws.bucket) == {}
    assert boto3.client("dynamodb").scan(TableName=weather_aws.idempotency_table)["Items"] == []
    (emf,) = emitted_metrics(capsys.readouterr().out)
    assert emf["EventsRefused"] == 1.0
    assert "CitiesFetched" not in emf


@no_metrics
def test_a_bad_city_configuration_fails_the_invocation_with_the_entry_named(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEATHER_CITIES", "Paris:48.8566:2.3522;Lyon:45.7640")

    with pytest.raises(
        SettingsError, match=r"WEATHER_CITIES.*entry 2 'Lyon:45.7640': expected Name:latitude:longitude"
    ):
        lambda_handler(load_event("scheduled-event.json"), LambdaContext())

    assert len(open_meteo.calls) == 0
