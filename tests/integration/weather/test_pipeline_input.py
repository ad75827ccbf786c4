"""The state machine's input reaches the ingest function as a scheduled event it accepts.

moto's Step Functions interpreter runs the deployed definition; the IngestWeather state's Payload it schedules
(the execution input, passed on by ``"Payload.$": "$"``) is then handled by the real function. Both inputs a
schedule can start the pipeline with are covered: an EventBridge rule's event (events/pipeline-input.json, also the
README's manual start) and EventBridge Scheduler's default payload (events/scheduler-event.json).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses

from lakepipe.adapters.aws import reset_clients
from lakepipe.domain.weather.open_meteo import DEFAULT_FORECAST_API_URL
from lakepipe.handlers.ingest_weather import lambda_handler
from lakepipe_cli.lambda_runtime import LocalLambdaContext
from lakepipe_cli.local_aws import LocalStack
from tests.conftest import load_event
from tests.integration.orchestration.harness import PipelineHarness, moto_configured_for_orchestration
from tests.unit.weather.open_meteo_bodies import FORECAST_4_CITIES, body

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(
    local_aws: LocalStack, translated_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[PipelineHarness]:
    """The deployed-like pipeline on moto (as tests/integration/orchestration/conftest.py builds it)."""
    with moto_configured_for_orchestration(local_aws.endpoint_url, monkeypatch):
        harness = PipelineHarness(local_aws, translated_template)
        harness.provision()
        yield harness


@pytest.mark.parametrize("input_file", ["pipeline-input.json", "scheduler-event.json"])
def test_the_payload_the_state_machine_sends_is_a_scheduled_event_the_function_lands(
    pipeline: PipelineHarness, monkeypatch: pytest.MonkeyPatch, input_file: str
) -> None:
    # Given an execution started with the input a schedule sends (the function's answer is irrelevant here: moto's
    # docker-free Lambda fails the task, which ends the execution after IngestWeather)
    execution_input = load_event(input_file)
    pipeline.queue_ingest_response("x" * 6_000_001)
    execution = pipeline.run(f"input-{input_file.removesuffix('.json')}", execution_input)
    (scheduled,) = execution.scheduled_parameters("invoke")

    # When the real function handles the Payload the IngestWeather state scheduled
    monkeypatch.setenv("WEATHER_PAST_DAYS", "2")
    monkeypatch.setenv("WEATHER_FORECAST_DAYS", "2")
    reset_clients()
    with responses.RequestsMock() as open_meteo:
        open_meteo.add_passthru(pipeline.endpoint_url)
        open_meteo.get(DEFAULT_FORECAST_API_URL, body=body(FORECAST_4_CITIES))
        manifest = lambda_handler(
            scheduled["Payload"],
            LocalLambdaContext(function_name="lakepipe-dev-IngestWeatherFunction", timeout_seconds=300),
        )

    # Then it is the execution input unchanged, and it is accepted and landed as that scheduled run
    assert scheduled["Payload"] == execution_input
    assert manifest["run_id"] == "20261122T030000Z"
    assert [city["status"] for city in manifest["cities"]] == ["ok"] * 4
