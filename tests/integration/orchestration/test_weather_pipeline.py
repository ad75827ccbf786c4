"""The weather pipeline state machine, executed end to end by moto's Step Functions interpreter.

Given the real definition deployed with the template's substitutions on a moto server, when a scheduled event
starts an execution, then the ingest manifest (the contract's, and the real ingest handler's own) drives the Glue
run and the Athena validation, a busy Glue job is waited for, and every failure (Glue run, validation checks,
validation query, unreadable result, ingest function) is published to the notification topic and ends the
execution in PipelineFailed with an error naming the step and a cause that says what went wrong.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import pytest
import responses
import sqlglot

from lakepipe.adapters.aws import reset_clients
from lakepipe.domain.weather.open_meteo import DEFAULT_FORECAST_API_URL
from lakepipe.handlers.ingest_weather import lambda_handler
from lakepipe_cli.lambda_runtime import LocalLambdaContext
from tests.conftest import REPO_ROOT, load_event
from tests.integration.orchestration.harness import PipelineExecution, PipelineHarness, RetryClock
from tools.athena_rules import execution_parameter_problems
from tools.sync_sql import DEFINITION_PATH, VALIDATION_SQL_PATH, athena_query_text, view_statements

pytestmark = pytest.mark.integration

SCHEDULED_EVENT = load_event("pipeline-input.json")
DEFINITION: dict[str, Any] = json.loads(DEFINITION_PATH.read_text())
OPEN_METEO_4_CITIES = REPO_ROOT / "tests" / "fixtures" / "open_meteo" / "forecast_4_cities_20261120_20261123.json"
LANDING_PREFIX = "landing/weather/source=open-meteo/ingest_date=2026-11-22/run=20261122T030000Z/"
CITY_BYTES = {"Paris": 18234, "Marseille": 18190, "Nice": 18102, "Lyon": 18277}
# Contract 2: what IngestWeatherFunction returns for the scheduled event above (2 past days, 7 forecast days).
MANIFEST: dict[str, Any] = {
    "run_id": "20261122T030000Z",
    "ingest_date": "2026-11-22",
    "source": "open-meteo",
    "landing_prefix": LANDING_PREFIX,
    "keys": [f"{LANDING_PREFIX}city={city}.json" for city in CITY_BYTES],
    "cities": [
        {"city": city, "status": "ok", "key": f"{LANDING_PREFIX}city={city}.json", "bytes": size, "error": None}
        for city, size in CITY_BYTES.items()
    ],
    "window_start": "2026-11-20",
    "window_end": "2026-11-29",
}
# Contract 4: passed, failed_checks, then the measured values; the header Athena returns is the SQL's own.
VALIDATION_COLUMNS: list[str] = sqlglot.parse_one(VALIDATION_SQL_PATH.read_text(), read="athena").named_selects
# The measured values of a good run of four cities over the ten-day window, as Athena renders them.
GOOD_MEASURES = {
    "row_count": "960",
    "duplicate_keys": "0",
    "null_temperature_rate": "0.0",
    "latest_observation": "2026-11-29 23:00:00.000",
    "latest_fetch": "2026-11-22 03:00:04.000",
    "city_count": "4",
    "window_days": "10",
    "incomplete_days": "0",
    "missing_days": "0",
    "window_start": "2026-11-20",
    "window_end": "2026-11-29",
}


def validation_runs(pipeline: PipelineHarness) -> list[list[dict[str, str]]]:
    """The dimensions of every ValidationRuns metric the execution published, as CloudWatch lists them."""
    listed = pipeline.client("cloudwatch").list_metrics(Namespace="lakepipe-dev", MetricName="ValidationRuns")
    return [metric["Dimensions"] for metric in listed["Metrics"]]


def validation_row(passed: str | None, failed_checks: str | None, **measures: str | None) -> list[str | None]:
    """One result row in VALIDATION_COLUMNS order (None is SQL NULL)."""
    values = {"passed": passed, "failed_checks": failed_checks} | GOOD_MEASURES | measures
    return [values[column] for column in VALIDATION_COLUMNS]


def failure_notification(pipeline: PipelineHarness, execution: PipelineExecution) -> dict[str, Any]:
    notifications = pipeline.notifications()
    assert len(notifications) == 1, notifications
    notification = notifications[0]
    assert notification["execution"].endswith(f":{execution.name}")
    assert notification["input"] == SCHEDULED_EVENT
    return notification


def test_a_scheduled_run_ingests_transforms_validates_and_succeeds(pipeline: PipelineHarness) -> None:
    # Given the ingest function returns the run's manifest, and the validation query passes after one more poll
    pipeline.queue_ingest_response(json.dumps(MANIFEST))
    pipeline.queue_validation_row(VALIDATION_COLUMNS, validation_row("true", ""))

    # When the scheduled event starts an execution (the query is QUEUED, then RUNNING, then SUCCEEDED)
    with pipeline.transitions("athena::execution", {"progression": "manual", "times": 1}):
        execution = pipeline.run("happy-path-20261122T030000Z", SCHEDULED_EVENT)

    # Then it succeeds through every step, the views published and the validation polled once more after the first look
    assert (execution.status, execution.error) == ("SUCCEEDED", None)
    assert execution.top_level_states_entered(DEFINITION) == [
        "IngestWeather",
        "TransformWeather",
        "ListViews",
        "PublishViews",
        "PrepareValidation",
        "StartValidationQuery",
        "GetValidationQueryState",
        "CheckValidationQueryState",
        "WaitForValidationQuery",
        "CountValidationPoll",
        "GetValidationQueryState",
        "CheckValidationQueryState",
        "GetValidationResults",
        "CheckValidationResult",
        "RecordValidationPassed",
        "PipelineSucceeded",
    ]
    # the verdict was published for the dashboard by the interpreter's own CloudWatch call (moto's CloudWatch)
    assert validation_runs(pipeline) == [[{"Name": "Result", "Value": "passed"}]]
    # the function got the scheduled event, and its manifest flows through unchanged
    (invocation,) = execution.scheduled_parameters("invoke")
    assert invocation == {"FunctionName": pipeline.function_arn, "Payload": SCHEDULED_EVENT}
    assert execution.output is not None
    assert execution.output["manifest"] == MANIFEST
    # one Glue run, with the manifest's run id and ingest date on top of the job's default arguments
    (job_run,) = pipeline.job_runs()
    assert job_run.arguments["--run_id"] == "20261122T030000Z"
    assert job_run.arguments["--ingest_date"] == "2026-11-22"
    glue_job = pipeline.client("glue").get_job(JobName=pipeline.job_name)["Job"]
    assert glue_job["DefaultArguments"].items() <= job_run.arguments.items()
    assert execution.output["glue"] == {
        "job_run_id": job_run.job_run_id,
        "state": "SUCCEEDED",
        "execution_time_seconds": job_run.as_dict()["ExecutionTime"],
    }
    # each view's CREATE OR REPLACE VIEW ran first, in the project's workgroup and database, each polled until done
    views = pipeline.view_queries()
    assert sorted(query.query for query in views) == sorted(item["query"] for item in view_statements())
    assert {(query.workgroup.name, json.dumps(query.context)) for query in views} == {
        (pipeline.substitutions()["AthenaWorkGroupName"], json.dumps({"Database": pipeline.stack.database}))
    }
    assert execution.states_entered.count("ViewPublished") == 3
    query_text = {query.id: query.query for query in views}
    assert [(item["view"], query_text[item["query_id"]]) for item in execution.output["views"]] == [
        (item["view"], item["query"]) for item in view_statements()
    ]
    # the validation SQL file ran next, on the manifest's window: each parameter a quoted literal, in declared order
    (query,) = pipeline.validation_queries()
    assert pipeline.query_executions()[-1] is query
    assert query.query == athena_query_text(VALIDATION_SQL_PATH.read_text())
    assert query.workgroup.name == pipeline.substitutions()["AthenaWorkGroupName"]
    assert query.context == {"Database": pipeline.stack.database}
    assert query.execution_parameters == ["'2026-11-20'", "'2026-11-29'", "'2026-11-20'", "'2026-11-29'"]
    assert not any(execution_parameter_problems(query.execution_parameters))
    assert execution.output["validation"]["poll"] == {"count": 1}
    assert execution.output["validation"]["result"]["values"] == {
        "Data": [{"VarCharValue": value} for value in validation_row("true", "")]
    }
    # and nobody is notified
    assert pipeline.notifications() == []


def test_a_glue_run_that_fails_twice_is_notified_and_fails_the_execution(
    pipeline: PipelineHarness, retry_clock: RetryClock
) -> None:
    # Given Glue runs that end FAILED (moto runs no Spark: the test ends each run through moto's backend)
    pipeline.queue_ingest_response(json.dumps(MANIFEST))
    with pipeline.transitions("glue::job_run", {"progression": "manual", "times": 10**9}):
        execution_arn = pipeline.start("glue-run-fails-20261122T030000Z", SCHEDULED_EVENT)
        (first_run,) = pipeline.wait_for(pipeline.job_runs, "the execution's Glue run")
        first_run.status = "FAILED"
        _, second_run = pipeline.wait_for(lambda: len(pipeline.job_runs()) == 2 and pipeline.job_runs(), "a retry")
        second_run.status = "FAILED"

        # When the execution sees the retried run fail too
        execution = pipeline.wait(execution_arn)

    # Then the run was re-run once after the definition's 120 s, and the execution fails in the transform step
    # with Glue's last run as the cause, without validating anything
    assert retry_clock.waits == [120.0]
    assert execution.status == "FAILED"
    assert execution.error == "Transform.Failed"
    assert execution.cause is not None
    caught_error, caught_cause = execution.cause.split(": ", 1)
    assert caught_error == "States.TaskFailed"
    failed_run = json.loads(caught_cause)
    assert (failed_run["Id"], failed_run["JobRunState"]) == (second_run.job_run_id, "FAILED")
    assert failed_run["Arguments"]["--run_id"] == "20261122T030000Z"
    assert [error for error, _ in execution.task_failures()] == ["States.TaskFailed", "States.TaskFailed"]
    assert pipeline.query_executions() == []
    assert execution.states_entered == [
        "IngestWeather",
        "TransformWeather",
        "TransformFailed",
        "NotifyFailure",
        "PipelineFailed",
    ]
    # and the notification carries the same error and cause
    notification = failure_notification(pipeline, execution)
    assert (notification["error"], notification["cause"]) == (execution.error, execution.cause)


def test_failed_validation_checks_are_notified_and_named_in_the_cause(pipeline: PipelineHarness) -> None:
    # Given the validation query reports two failed checks
    pipeline.queue_ingest_response(json.dumps(MANIFEST))
    pipeline.queue_validation_row(
        VALIDATION_COLUMNS,
        validation_row(
            "false", "duplicate_keys,null_temperature_rate", duplicate_keys="12", null_temperature_rate="0.31"
        ),
    )

    # When the run is validated
    execution = pipeline.run("validation-fails-20261122T030000Z", SCHEDULED_EVENT)

    # Then the execution fails naming the checks, the run and the window
    (query,) = pipeline.validation_queries()
    assert execution.status == "FAILED"
    assert execution.error == "Validation.ChecksFailed"
    assert execution.cause == (
        "Run 20261122T030000Z failed the validation checks [duplicate_keys,null_temperature_rate] "
        f"on observation dates 2026-11-20 to 2026-11-29 (Athena query {query.id})."
    )
    assert execution.states_entered[-5:] == [
        "CheckValidationResult",
        "RecordValidationFailed",
        "ValidationChecksFailed",
        "NotifyFailure",
        "PipelineFailed",
    ]
    notification = failure_notification(pipeline, execution)
    assert (notification["error"], notification["cause"]) == (execution.error, execution.cause)
    assert validation_runs(pipeline) == [[{"Name": "Result", "Value": "failed"}]]


def test_a_null_validation_verdict_is_reported_as_unreadable(pipeline: PipelineHarness) -> None:
    # Given the validation query returns NULL for passed (Athena sends a cell without VarCharValue)
    pipeline.queue_ingest_response(json.dumps(MANIFEST))
    pipeline.queue_validation_row(
        VALIDATION_COLUMNS, validation_row(None, "", row_count="0", null_temperature_rate=None)
    )

    # When the run is validated
    execution = pipeline.run("validation-null-20261122T030000Z", SCHEDULED_EVENT)

    # Then it fails as unreadable rather than on a missing JSON path, and says what came back
    assert execution.status == "FAILED"
    assert execution.error == "Validation.UnreadableResult"
    assert execution.cause is not None
    assert "returned no passed/failed_checks values" in execution.cause
    assert execution.cause.endswith('{"VarCharValue":"2026-11-20"},{"VarCharValue":"2026-11-29"}]}')
    assert failure_notification(pipeline, execution)["error"] == "Validation.UnreadableResult"


def test_a_failed_validation_query_is_notified_with_its_state(pipeline: PipelineHarness) -> None:
    # Given the Athena query itself fails (a bad table, a permissions error): set through moto's backend
    pipeline.queue_ingest_response(json.dumps(MANIFEST))
    with pipeline.transitions("athena::execution", {"progression": "manual", "times": 10**9}):
        execution_arn = pipeline.start("validation-query-fails-20261122T030000Z", SCHEDULED_EVENT)
        pipeline.succeed_view_queries()
        (query,) = pipeline.wait_for(pipeline.validation_queries, "the validation query")
        query.status = "FAILED"

        # When the execution polls the query
        execution = pipeline.wait(execution_arn)

    # Then it fails with the query's id and state, after notifying
    assert execution.status == "FAILED"
    assert execution.error == "Validation.QueryFailed"
    assert execution.cause is not None
    assert execution.cause == (
        f"Athena validation query {query.id} for run 20261122T030000Z ended FAILED; its StateChangeReason and "
        f"AthenaError are in the query history (aws athena get-query-execution --query-execution-id {query.id})."
    )
    assert "GetValidationResults" not in execution.states_entered
    assert failure_notification(pipeline, execution)["cause"] == execution.cause


def test_a_busy_glue_job_is_retried_after_the_defined_backoff_and_the_run_succeeds(
    pipeline: PipelineHarness, retry_clock: RetryClock
) -> None:
    # Given another run of the job holds its only concurrency slot, and ends while the pipeline waits to retry
    pipeline.queue_ingest_response(json.dumps(MANIFEST))
    pipeline.queue_validation_row(VALIDATION_COLUMNS, validation_row("true", ""))
    with pipeline.transitions("glue::job_run", {"progression": "manual", "times": 10**9}):
        backfill_run_id = pipeline.client("glue").start_job_run(
            JobName=pipeline.job_name, Arguments={"--run_id": "20261121T030000Z"}
        )["JobRunId"]

        def backfill_finishes(_seconds: float) -> None:
            (backfill_run,) = pipeline.job_runs()
            backfill_run.status = "SUCCEEDED"
            pipeline.release_transitions("glue::job_run")

        retry_clock.on_wait.append(backfill_finishes)

        # When the scheduled run reaches the Glue step
        execution = pipeline.run("glue-busy-20261122T030000Z", SCHEDULED_EVENT)

    # Then the first start is refused, retried once after the definition's 60 s, and the run goes on to succeed
    assert execution.status == "SUCCEEDED"
    assert retry_clock.waits == [60.0]
    ((error, cause),) = execution.task_failures()
    assert error == "Glue.ConcurrentRunsExceededException"
    assert pipeline.job_name in cause
    assert len(execution.scheduled_parameters("startJobRun.sync")) == 2
    backfill_run, pipeline_run = pipeline.job_runs()
    assert backfill_run.job_run_id == backfill_run_id
    assert pipeline_run.arguments["--run_id"] == "20261122T030000Z"
    assert execution.output is not None
    assert execution.output["glue"]["job_run_id"] == pipeline_run.job_run_id
    assert pipeline.notifications() == []


def test_an_ingest_function_error_is_notified_and_fails_the_execution(pipeline: PipelineHarness) -> None:
    # Given the ingest function fails. moto's docker-free Lambda produces exactly one function error: a response
    # over Lambda's 6 MB payload limit, which Lambda reports as an Unhandled Function.ResponseSizeTooLarge. The
    # definition treats every function error alike (error = errorType, cause = the error payload), so this
    # stands for the handler raising.
    pipeline.queue_ingest_response("x" * 6_000_001)

    # When the scheduled event starts an execution
    execution = pipeline.run("ingest-fails-20261122T030000Z", SCHEDULED_EVENT)

    # Then the function error is not retried, nothing is transformed, and the execution fails with its cause
    assert execution.status == "FAILED"
    assert execution.error == "Ingest.Failed"
    assert execution.cause is not None
    caught_error, caught_cause = execution.cause.split(": ", 1)
    assert caught_error == "Function.ResponseSizeTooLarge"
    assert json.loads(caught_cause) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert len(execution.scheduled_parameters("invoke")) == 1
    assert pipeline.job_runs() == []
    assert execution.states_entered == ["IngestWeather", "IngestFailed", "NotifyFailure", "PipelineFailed"]
    # and the notification says the same, with the input to re-run it
    notification = failure_notification(pipeline, execution)
    assert (notification["error"], notification["cause"]) == (execution.error, execution.cause)


LambdaContext = partial(
    LocalLambdaContext, function_name="lakepipe-dev-IngestWeatherFunction", memory_limit_in_mb=512, timeout_seconds=300
)


def test_the_ingest_functions_own_manifest_drives_the_glue_run_and_the_validation_window(
    pipeline: PipelineHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the real ingest handler, run on this sample input against Open-Meteo (faked) and the moto bucket, with
    # the fixture's 2 past + 2 forecast days; its return value is what the function answers the state machine
    monkeypatch.setenv("WEATHER_PAST_DAYS", "2")
    monkeypatch.setenv("WEATHER_FORECAST_DAYS", "2")
    reset_clients()
    with responses.RequestsMock() as open_meteo:
        open_meteo.add_passthru(pipeline.endpoint_url)
        open_meteo.get(DEFAULT_FORECAST_API_URL, body=OPEN_METEO_4_CITIES.read_bytes())
        manifest = lambda_handler(SCHEDULED_EVENT, LambdaContext())
    pipeline.queue_ingest_response(json.dumps(manifest))
    pipeline.queue_validation_row(VALIDATION_COLUMNS, validation_row("true", ""))

    # When the pipeline runs for the same event
    execution = pipeline.run("real-manifest-20261122T030000Z", SCHEDULED_EVENT)

    # Then the Glue run and the validation window come from the function's own manifest
    assert execution.status == "SUCCEEDED"
    assert (manifest["run_id"], manifest["ingest_date"]) == ("20261122T030000Z", "2026-11-22")
    (job_run,) = pipeline.job_runs()
    assert (job_run.arguments["--run_id"], job_run.arguments["--ingest_date"]) == ("20261122T030000Z", "2026-11-22")
    (query,) = pipeline.validation_queries()
    assert query.execution_parameters == [f"'{manifest['window_start']}'", f"'{manifest['window_end']}'"] * 2
    assert query.execution_parameters == ["'2026-11-20'", "'2026-11-23'"] * 2
    assert execution.output is not None
    assert execution.output["manifest"] == manifest
