"""The weather pipeline definition and its template wiring, checked without running anything.

Given statemachine/weather_pipeline.asl.json and the translated template, then: the definition is valid ASL
(statelint); every placeholder has a substitution and every substitution is used; its validation query is the
SQL file, whose result it reads by position, and its views are sql/views/, published by a Map before the
validation; every task's failure reaches the notification before the Fail state;
transient errors are retried with backoff, and of the real failures only a Glue run is re-run, once; and the state
machine is deployed traced, logged, started by the schedule with the scheduled event, with scoped permissions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import sqlglot
from sqlglot import expressions
from statelint.config import Config
from statelint.linter import Linter

from lakepipe_cli.athena_local import declared_parameters
from tools.sync_sql import (
    DEFINITION_PATH,
    VALIDATION_SQL_PATH,
    VALIDATION_STATE,
    VIEWS_STATE,
    render_definition,
    view_statements,
)

STATE_MACHINE_ID = "WeatherPipelineStateMachine"
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(DEFINITION_PATH.read_text())
    return parsed


@pytest.fixture(scope="module")
def state_machine(translated_template: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = translated_template["Resources"][STATE_MACHINE_ID]
    return resource


def states_of_type(definition: dict[str, Any], state_type: str) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in definition["States"].items() if state["Type"] == state_type}


def successors(state: dict[str, Any]) -> Iterator[str]:
    yield from filter(None, [state.get("Next"), state.get("Default")])
    yield from (rule["Next"] for rule in state.get("Choices", []))
    yield from (catcher["Next"] for catcher in state.get("Catch", []))


def test_definition_is_valid_asl() -> None:
    assert Linter.validate(str(DEFINITION_PATH), Config()) == []


def test_every_placeholder_has_a_substitution_and_every_substitution_is_used(state_machine: dict[str, Any]) -> None:
    placeholders = set(PLACEHOLDER.findall(DEFINITION_PATH.read_text()))
    substitutions = set(state_machine["Properties"]["DefinitionSubstitutions"])

    assert placeholders == substitutions
    assert {
        "IngestWeatherFunctionArn",
        "WeatherEtlJobName",
        "AthenaWorkGroupName",
        "NotificationTopicArn",
    } <= placeholders


def test_no_resource_name_or_arn_is_written_into_the_definition(definition: dict[str, Any]) -> None:
    named_fields = {"FunctionName", "JobName", "WorkGroup", "Database", "TopicArn"}

    def literal_names(node: Any) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in named_fields:
                    yield key, value
                yield from literal_names(value)
        elif isinstance(node, list):
            for item in node:
                yield from literal_names(item)

    found = list(literal_names(definition))
    # 5 at the top level, and the workgroup and database of the PublishViews iterations
    assert len(found) == 7
    assert all(PLACEHOLDER.fullmatch(value) for _, value in found), found


def test_the_validation_query_is_the_sql_file(definition: dict[str, Any]) -> None:
    current = DEFINITION_PATH.read_text()

    # Then regenerating from the SQL files changes nothing: `python tools/sync_sql.py` has been run
    assert render_definition(current, VALIDATION_SQL_PATH.read_text(), view_statements()) == current
    assert definition["States"][VALIDATION_STATE]["Parameters"]["QueryString"].strip()


def test_the_sql_returns_what_the_definition_reads_and_takes_its_declared_parameters(
    definition: dict[str, Any],
) -> None:
    sql = VALIDATION_SQL_PATH.read_text()
    query = sqlglot.parse_one(sql, read="athena")
    execution_parameters = definition["States"][VALIDATION_STATE]["Parameters"]["ExecutionParameters.$"]

    # GetValidationResults reads cell 0 as passed and cell 1 as failed_checks
    assert query.named_selects[:2] == ["passed", "failed_checks"]
    # one declared name per `?`, and one quoted manifest field per name, in that order
    names = declared_parameters(sql)
    assert names == ["window_start", "window_end", "window_start", "window_end"]
    assert len(list(query.find_all(expressions.Placeholder))) == len(names)
    assert re.findall(r"\$\.manifest\.(\w+)", execution_parameters) == names
    assert execution_parameters.count("$.validation.sql_string_quote") == 2 * len(names)
    assert definition["States"]["PrepareValidation"]["Result"]["sql_string_quote"] == "'"


def test_a_drifted_copy_of_a_query_is_caught() -> None:
    current = DEFINITION_PATH.read_text()
    drifted = render_definition(current, VALIDATION_SQL_PATH.read_text() + "\n-- edited", view_statements())
    views_drifted = render_definition(current, VALIDATION_SQL_PATH.read_text(), view_statements()[:2])

    assert render_definition(drifted, VALIDATION_SQL_PATH.read_text(), view_statements()) != drifted
    assert views_drifted != current


def test_the_views_are_the_sql_files_published_after_the_transform_before_the_validation(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]

    # Then ListViews holds each sql/views/ file's statement, and the Map runs one query per item
    assert states[VIEWS_STATE]["Result"] == view_statements()
    assert [item["view"] for item in view_statements()] == [
        "daily_weather_by_city",
        "precipitation_totals",
        "temperature_trend",
    ]
    assert (states["TransformWeather"]["Next"], states[VIEWS_STATE]["Next"]) == (VIEWS_STATE, "PublishViews")
    publish = states["PublishViews"]
    assert (publish["Type"], publish["ItemsPath"], publish["Next"]) == ("Map", "$.views", "PrepareValidation")
    iteration = publish["ItemProcessor"]["States"]
    assert iteration[publish["ItemProcessor"]["StartAt"]]["Parameters"]["QueryString.$"] == "$.query"
    # a failed or stuck DDL query fails its iteration with a named error, which the Map's Catch notifies
    fail_states = {name for name, state in iteration.items() if state["Type"] == "Fail"}
    assert fail_states == {"ViewFailed"}
    assert {iteration[name]["Parameters"]["Error"] for name in ("ViewQueryFailed", "ViewQueryTimedOut")} == {
        "Views.QueryFailed",
        "Views.QueryTimedOut",
    }
    (catcher,) = publish["Catch"]
    assert (catcher["ErrorEquals"], catcher["Next"]) == (["States.ALL"], "ViewsFailed")
    for name in ("StartViewQuery", "GetViewQueryState"):
        (retrier,) = iteration[name]["Retry"]
        assert "Athena.TooManyRequestsException" in retrier["ErrorEquals"]
        assert (retrier["MaxAttempts"], retrier["BackoffRate"]) >= (3, 2.0)


def test_every_task_failure_is_recorded_then_notified_before_the_fail_state(definition: dict[str, Any]) -> None:
    states = definition["States"]
    tasks = states_of_type(definition, "Task")

    for name, task in (tasks | states_of_type(definition, "Map")).items():
        if name == "NotifyFailure":
            continue
        (catcher,) = task["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"], name
        recorder = states[catcher["Next"]]
        assert (recorder["Type"], recorder["Next"], recorder["ResultPath"]) == ("Pass", "NotifyFailure", "$.error")
        # a custom error name: a Fail state may not re-raise States.* names
        assert not recorder["Parameters"]["Error"].startswith("States."), catcher["Next"]
    predecessors_of_fail = {name for name, state in states.items() if "PipelineFailed" in set(successors(state))}
    assert predecessors_of_fail == {"NotifyFailure"}
    assert states["PipelineFailed"] == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_every_state_is_reachable_and_leads_to_an_end(definition: dict[str, Any]) -> None:
    states = definition["States"]
    reachable: set[str] = set()
    frontier = [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reachable:
            reachable.add(name)
            frontier += successors(states[name])

    assert reachable == set(states)
    assert {name for name, state in states.items() if state["Type"] in {"Succeed", "Fail"}} == {
        "PipelineSucceeded",
        "PipelineFailed",
    }


@pytest.mark.parametrize(
    ("state_name", "throttling_error"),
    [
        ("IngestWeather", "Lambda.TooManyRequestsException"),
        ("IngestWeather", "Lambda.ServiceException"),
        ("TransformWeather", "Glue.ConcurrentRunsExceededException"),
        ("TransformWeather", "Glue.ThrottlingException"),
        ("StartValidationQuery", "Athena.TooManyRequestsException"),
        ("GetValidationQueryState", "Athena.TooManyRequestsException"),
        ("GetValidationResults", "Athena.TooManyRequestsException"),
        ("NotifyFailure", "SNS.ThrottledException"),
    ],
)
def test_transient_errors_are_retried_with_backoff(
    definition: dict[str, Any], state_name: str, throttling_error: str
) -> None:
    retriers = [r for r in definition["States"][state_name]["Retry"] if throttling_error in r["ErrorEquals"]]

    assert len(retriers) == 1
    assert retriers[0]["MaxAttempts"] >= 3
    assert retriers[0]["BackoffRate"] >= 2.0


def test_only_a_failed_glue_run_is_rerun_and_only_once(definition: dict[str, Any]) -> None:
    retried = {
        (name, error): retrier["MaxAttempts"]
        for name, state in states_of_type(definition, "Task").items()
        for retrier in state.get("Retry", [])
        for error in retrier["ErrorEquals"]
    }

    # States.TaskFailed matches every task error but a timeout: only the idempotent Glue run may be re-run, once;
    # function errors (CitiesFailedError, a crash) and validation calls are never re-run wholesale.
    assert {key: attempts for key, attempts in retried.items() if key[1].startswith("States.")} == {
        ("TransformWeather", "States.TaskFailed"): 1
    }
    assert {error for (name, error) in retried if name == "IngestWeather"} == {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "OpenMeteoRateLimitedError",  # a run refused by Open-Meteo's per-minute limit (tests/unit/weather)
    }
    # retriers are tried in order: the busy-job retrier must come before the catch-all one
    transform_errors = [r["ErrorEquals"] for r in definition["States"]["TransformWeather"]["Retry"]]
    assert transform_errors[-1] == ["States.TaskFailed"]


def test_the_state_machine_is_traced_and_logs_errors_without_execution_data(
    translated_template: dict[str, Any], state_machine: dict[str, Any]
) -> None:
    properties = state_machine["Properties"]
    log_group_id = properties["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"][
        "Fn::GetAtt"
    ][0]

    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ERROR"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is False
    log_group = translated_template["Resources"][log_group_id]["Properties"]
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_schedule_starts_the_state_machine_with_the_scheduled_event(translated_template: dict[str, Any]) -> None:
    rules = [
        spec["Properties"]
        for spec in translated_template["Resources"].values()
        if spec["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in spec["Properties"]
    ]
    targets = [target for rule in rules for target in rule["Targets"] if target["Arn"] == {"Ref": STATE_MACHINE_ID}]

    (target,) = targets
    # no Input/InputPath/InputTransformer: the execution input is the scheduled event itself
    assert not {"Input", "InputPath", "InputTransformer"} & set(target)
    (rule,) = [rule for rule in rules if target in rule["Targets"]]
    assert rule["ScheduleExpression"] == {"Ref": "ScheduleExpression"}


def _role_statements(translated_template: dict[str, Any], state_machine: dict[str, Any]) -> list[dict[str, Any]]:
    role_id = state_machine["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    policies = translated_template["Resources"][role_id]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["PolicyDocument"]["Statement"]]


def test_glue_and_athena_permissions_are_scoped_to_the_job_and_the_workgroup(
    translated_template: dict[str, Any], state_machine: dict[str, Any]
) -> None:
    statements = _role_statements(translated_template, state_machine)

    def resources_for(action: str) -> list[Any]:
        return [
            statement["Resource"]
            for statement in statements
            if action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        ]

    (job_resource,) = resources_for("glue:StartJobRun")
    assert job_resource["Fn::Sub"].endswith(":job/${WeatherEtlJob}")
    assert resources_for("glue:BatchStopJobRun") == [job_resource]
    (workgroup_resource,) = resources_for("athena:StartQueryExecution")
    assert ":workgroup/${" in workgroup_resource["Fn::Sub"]
    assert resources_for("athena:GetQueryResults") == [workgroup_resource]


def test_each_validation_verdict_is_counted_and_a_lost_count_is_never_silent(
    definition: dict[str, Any], state_machine: dict[str, Any]
) -> None:
    states = definition["States"]
    recorders = {
        name: state
        for name, state in states.items()
        if state.get("Resource") == "arn:aws:states:::aws-sdk:cloudwatch:putMetricData"
    }

    # one ValidationRuns data point per verdict, in the functions' namespace, by Result
    assert {name: state["Parameters"]["MetricData"][0]["Dimensions"] for name, state in recorders.items()} == {
        "RecordValidationPassed": [{"Name": "Result", "Value": "passed"}],
        "RecordValidationFailed": [{"Name": "Result", "Value": "failed"}],
    }
    assert {state["Parameters"]["Namespace"] for state in recorders.values()} == {"${MetricsNamespace}"}
    assert state_machine["Properties"]["DefinitionSubstitutions"]["MetricsNamespace"] == {
        "Fn::Sub": "lakepipe-${Stage}"
    }
    # a passed run whose count is lost is notified; a failed run reports its failed checks either way
    assert [c["Next"] for c in recorders["RecordValidationPassed"]["Catch"]] == ["MetricsPublishFailed"]
    assert states["MetricsPublishFailed"]["Parameters"]["Error"] == "Metrics.PublishFailed"
    assert [c["Next"] for c in recorders["RecordValidationFailed"]["Catch"]] == ["ValidationChecksFailed"]
    assert recorders["RecordValidationFailed"]["Next"] == "ValidationChecksFailed"
