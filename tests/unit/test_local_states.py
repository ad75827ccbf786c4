"""The local ASL walker the demo uses, run on the real weather pipeline definition.

Given statemachine/weather_pipeline.asl.json with local task stand-ins, when a task fails or the validation
reports failed checks, then the walk follows the definition's Catch and Choice routes to the notification and
PipelineFailed, with the definition's own error and cause.
"""

from __future__ import annotations

from typing import Any

import pytest

from lakepipe_cli.demo import ASL_PATH, _athena_cell
from lakepipe_cli.local_states import LocalStateMachine, StatesError, read_path, substitute

SUBSTITUTIONS = {
    "IngestWeatherFunctionArn": "arn:aws:lambda:eu-west-3:123456789012:function:IngestWeatherFunction",
    "WeatherEtlJobName": "WeatherEtlJob",
    "AthenaWorkGroupName": "lakepipe-dev",
    "GlueDatabaseName": "lakepipe_dev",
    "NotificationTopicArn": "arn:aws:sns:eu-west-3:123456789012:lakepipe-NotificationTopic",
    "StageName": "dev",
    "MetricsNamespace": "lakepipe-dev",
}
MANIFEST = {"run_id": "20261122T030000Z", "ingest_date": "2026-11-22", "window_start": "2026-11-20",
            "window_end": "2026-11-23"}  # fmt: skip


def tasks(
    *,
    validation_row: list[Any],
    glue_error: str | None = None,
    failing_view: str | None = None,
    metrics: list[Any] | None = None,
) -> tuple[dict[str, Any], list[Any]]:
    published: list[Any] = []
    recorded = [] if metrics is None else metrics
    queries: dict[str, str] = {}

    def glue(parameters: dict[str, Any]) -> dict[str, Any]:
        if glue_error:
            raise StatesError("States.TaskFailed", glue_error)
        assert parameters["Arguments"] == {"--run_id": MANIFEST["run_id"], "--ingest_date": MANIFEST["ingest_date"]}
        return {"Id": "jr_1", "JobRunState": "SUCCEEDED", "ExecutionTime": 42}

    def start_query(parameters: dict[str, Any]) -> dict[str, Any]:
        assert parameters["WorkGroup"] == "lakepipe-dev"
        query_id = f"q-{len(queries)}"
        queries[query_id] = parameters["QueryString"]
        if "CREATE OR REPLACE VIEW" not in parameters["QueryString"]:
            window = ["'2026-11-20'", "'2026-11-23'"]
            assert parameters["ExecutionParameters"] == window + window
        return {"QueryExecutionId": query_id}

    def query_state(parameters: dict[str, Any]) -> dict[str, Any]:
        failed = failing_view is not None and f"VIEW {failing_view} AS" in queries[parameters["QueryExecutionId"]]
        return {"QueryExecution": {"Status": {"State": "FAILED" if failed else "SUCCEEDED"}}}

    implementations = {
        "arn:aws:states:::lambda:invoke": lambda parameters: {"Payload": MANIFEST, "StatusCode": 200},
        "arn:aws:states:::glue:startJobRun.sync": glue,
        "arn:aws:states:::athena:startQueryExecution": start_query,
        "arn:aws:states:::athena:getQueryExecution": query_state,
        "arn:aws:states:::athena:getQueryResults": lambda p: {
            "ResultSet": {
                "Rows": [
                    {"Data": [{"VarCharValue": "passed"}, {"VarCharValue": "failed_checks"}]},
                    {"Data": [_athena_cell(value) for value in validation_row]},
                ]
            }
        },
        "arn:aws:states:::sns:publish": lambda parameters: published.append(parameters) or {"MessageId": "m-1"},
        "arn:aws:states:::aws-sdk:cloudwatch:putMetricData": lambda parameters: recorded.append(parameters) or {},
    }
    return implementations, published


def machine(implementations: dict[str, Any]) -> LocalStateMachine:
    return LocalStateMachine(substitute(ASL_PATH.read_text(), SUBSTITUTIONS), implementations)


def test_happy_path_reaches_pipeline_succeeded() -> None:
    implementations, published = tasks(validation_row=[True, ""])

    execution = machine(implementations).run("ok", {"id": "e-1", "time": "2026-11-22T03:00:00Z"})

    assert execution.status == "SUCCEEDED"
    assert execution.visited[-1][0] == "PipelineSucceeded"
    assert read_path(execution.output, "$.glue.state") == "SUCCEEDED"
    assert published == []


def test_failed_checks_notify_and_fail_with_their_names() -> None:
    metrics: list[Any] = []
    implementations, published = tasks(validation_row=[False, "duplicate_keys,missing_days"], metrics=metrics)

    execution = machine(implementations).run("checks", {"id": "e-2"})

    assert execution.status == "FAILED"
    assert execution.error == "Validation.ChecksFailed"
    assert "duplicate_keys,missing_days" in (execution.cause or "")
    assert [state for state, _, _ in execution.visited][-3:] == ["ValidationChecksFailed", "NotifyFailure",
                                                                 "PipelineFailed"]  # fmt: skip
    assert published[0]["Message"]["error"] == "Validation.ChecksFailed"
    assert published[0]["TopicArn"] == SUBSTITUTIONS["NotificationTopicArn"]
    # the verdict was counted for the dashboard before the failure was recorded
    assert [(m["Namespace"], m["MetricData"][0]["Dimensions"]) for m in metrics] == [
        ("lakepipe-dev", [{"Name": "Result", "Value": "failed"}])
    ]


def test_a_failed_glue_run_is_caught_and_notified() -> None:
    implementations, published = tasks(validation_row=[True, ""], glue_error="job run FAILED")

    execution = machine(implementations).run("glue", {"id": "e-3"})

    assert execution.status == "FAILED"
    assert [state for state, _, _ in execution.visited][:3] == ["IngestWeather", "TransformWeather", "TransformFailed"]
    assert "job run FAILED" in published[0]["Message"]["cause"]


def test_the_views_are_published_one_iteration_each_before_the_validation() -> None:
    implementations, _ = tasks(validation_row=[True, ""])

    execution = machine(implementations).run("views", {"id": "e-4"})

    # Then each view's iteration started its DDL query, saw it succeed and reported it, in file order
    assert execution.status == "SUCCEEDED"
    assert read_path(execution.output, "$.views") == [
        {"view": "daily_weather_by_city", "query_id": "q-0"},
        {"view": "precipitation_totals", "query_id": "q-1"},
        {"view": "temperature_trend", "query_id": "q-2"},
    ]
    visited = [state for state, _, _ in execution.visited]
    assert visited.index("PublishViews") < visited.index("StartValidationQuery")
    assert visited.count("ViewPublished[2]") == 1


def test_a_view_that_fails_to_publish_is_notified_with_its_name() -> None:
    implementations, published = tasks(validation_row=[True, ""], failing_view="precipitation_totals")

    execution = machine(implementations).run("view-fails", {"id": "e-5"})

    assert (execution.status, execution.error) == ("FAILED", "Views.PublishFailed")
    assert execution.cause == (
        "Views.QueryFailed: Athena query q-1 creating view precipitation_totals ended FAILED; its StateChangeReason "
        "is in the query history."
    )
    assert [state for state, _, _ in execution.visited][-5:] == [
        "ViewFailed[1]",
        "PublishViews",
        "ViewsFailed",
        "NotifyFailure",
        "PipelineFailed",
    ]
    assert published[0]["Message"]["error"] == "Views.PublishFailed"


def test_a_missing_substitution_is_an_error() -> None:
    with pytest.raises(KeyError, match="StageName"):
        substitute(ASL_PATH.read_text(), {k: v for k, v in SUBSTITUTIONS.items() if k != "StageName"})
