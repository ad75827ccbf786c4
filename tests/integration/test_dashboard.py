"""The CloudWatch dashboard reads metrics that are really emitted, under their exact namespace, name and dimensions.

CloudWatch identifies a metric by namespace + name + its exact set of dimensions: a widget naming one dimension too
many or too few draws nothing, and nothing says so. So the list of what is emitted is not written here: the real
handlers run on moto (a good CSV, one with bad rows, one rejected; a weather run against the Open-Meteo stand-in
with one city failing; an event that is not a scheduled one) and this reads the embedded-metric-format documents
they print, as CloudWatch Logs would (``_aws.CloudWatchMetrics``: namespace, dimension sets, metric names). The
state machine's ValidationRuns is read from the definition's putMetricData tasks, which moto's interpreter runs in
tests/integration/orchestration. AWS/SQS, AWS/States, AWS/Events and Glue metrics are checked against the services'
documentation, copied with its address into tests/fixtures/cloudwatch/documented_metrics.json.

What this cannot prove: that AWS publishes a documented metric for this stack at all (Glue's observability metrics
need the job's --enable-observability-metrics, checked below; EventBridge sends FailedInvocations only when it is
not zero), and that the console draws the widgets as intended.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lakepipe.domain.weather.ingest import CitiesFailedError
from lakepipe.handlers.csv_to_parquet import lambda_handler as csv_to_parquet
from lakepipe.handlers.ingest_weather import NotAScheduledEventError
from lakepipe.handlers.ingest_weather import lambda_handler as ingest_weather
from lakepipe_cli.lambda_runtime import invoke
from lakepipe_cli.local_aws import LocalStack
from lakepipe_cli.open_meteo_standin import RECORDED_FORECAST, recorded_forecast_api
from tests.conftest import REPO_ROOT, load_event
from tests.dashboard_rules import (
    NamedMetric,
    alarm_arns,
    dashboard_body_problems,
    named_metrics,
    searched_metrics,
)
from tests.integration.csv.s3_events import put_object, s3_put_event
from tools.sam_translate import load_sam_template

pytestmark = [
    pytest.mark.integration,
    # a run that stops early (the refused event) publishes only its one metric; Powertools warns otherwise
    pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning"),
]

TEMPLATE = load_sam_template(REPO_ROOT / "template.yaml")
DOCUMENTED = json.loads((REPO_ROOT / "tests" / "fixtures" / "cloudwatch" / "documented_metrics.json").read_text())
USERS_CSV = (REPO_ROOT / "tests" / "fixtures" / "csv" / "users.csv").read_bytes()
DEFINITION = json.loads((REPO_ROOT / "statemachine" / "weather_pipeline.asl.json").read_text())
DASHBOARD_ID = "PipelineDashboard"


def dashboard_body(stack: LocalStack) -> dict[str, Any]:
    """The DashboardBody as CloudFormation hands it to CloudWatch, its !Sub resolved against the local stack."""
    body: dict[str, Any] = json.loads(stack.resolve(TEMPLATE["Resources"][DASHBOARD_ID]["Properties"]["DashboardBody"]))
    return body


def emf_metrics(output: str) -> set[NamedMetric]:
    """Every metric the embedded-metric-format documents in ``output`` define, with each dimension set's values."""
    found = set()
    for line in output.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimension_set in directive["Dimensions"]:
                dimensions = frozenset((name, str(document[name])) for name in dimension_set)
                found |= {NamedMetric(directive["Namespace"], m["Name"], dimensions) for m in directive["Metrics"]}
    return found


def printed_by(
    handler: Callable[[dict[str, Any], Any], Any],
    event: dict[str, Any],
    *,
    function: str,
    environment: dict[str, str],
    raises: tuple[type[Exception], ...] = (),
) -> str:
    """What one invocation printed (Lambda sends it to CloudWatch Logs), whether it returned or raised ``raises``."""
    output = io.StringIO()
    with contextlib.suppress(*raises):
        invoke(handler, event, function_name=function, environment=environment, log_file=output)
    return output.getvalue()


def csv_runs(stack: LocalStack) -> Iterator[str]:
    """CsvToParquetFunction on a clean file, a file with a bad row (quarantined) and an empty file (rejected)."""
    bad_row = b"6,Too,Many,Fields,Here,1,2,3,4\n"
    environment = stack.environment_for("CsvToParquetFunction")
    for key, body in (
        ("input/users.csv", USERS_CSV),
        ("input/bad/users.csv", USERS_CSV + bad_row),
        ("input/e.csv", b""),
    ):
        event = s3_put_event(put_object(stack.bucket, key, body))
        yield printed_by(csv_to_parquet, event, function="CsvToParquetFunction", environment=environment)


def with_a_failing_city(recording: Path, target: Path) -> Path:
    """The recorded response with Nice's pressure series cut short: that city fails, the other three land."""
    locations = json.loads(recording.read_bytes())
    locations[2]["hourly"]["pressure_msl"] = locations[2]["hourly"]["pressure_msl"][:10]
    target.write_text(json.dumps(locations))
    return target


def ingest_runs(stack: LocalStack, tmp_path: Path) -> Iterator[str]:
    """IngestWeatherFunction against the Open-Meteo stand-in with one city failing, and on a refused event."""
    environment = stack.environment_for("IngestWeatherFunction") | {"WEATHER_FORECAST_DAYS": "2"}
    with recorded_forecast_api(with_a_failing_city(RECORDED_FORECAST, tmp_path / "forecast.json")) as url:
        yield printed_by(
            ingest_weather,
            load_event("scheduled-event.json"),
            function="IngestWeatherFunction",
            environment=environment | {"OPEN_METEO_FORECAST_URL": url},
            raises=(CitiesFailedError,),
        )
    not_scheduled = {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}}
    yield printed_by(
        ingest_weather,
        not_scheduled,
        function="IngestWeatherFunction",
        environment=environment,
        raises=(NotAScheduledEventError,),
    )


def state_machine_metrics(stack: LocalStack) -> set[NamedMetric]:
    """What the definition's putMetricData tasks publish, in the namespace its substitution resolves to."""
    substitutions = TEMPLATE["Resources"]["WeatherPipelineStateMachine"]["Properties"]["DefinitionSubstitutions"]
    namespace = stack.resolve(substitutions["MetricsNamespace"])
    return {
        NamedMetric(
            state["Parameters"]["Namespace"].replace("${MetricsNamespace}", namespace),
            datum["MetricName"],
            frozenset((dimension["Name"], dimension["Value"]) for dimension in datum.get("Dimensions", [])),
        )
        for state in DEFINITION["States"].values()
        if state.get("Resource") == "arn:aws:states:::aws-sdk:cloudwatch:putMetricData"
        for datum in state["Parameters"]["MetricData"]
    }


def alarm_metrics(stack: LocalStack) -> list[NamedMetric]:
    """The metric every alarm watches (single-metric alarms and each MetricStat of metric-math alarms)."""
    found = []
    for spec in TEMPLATE["Resources"].values():
        if spec["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = stack.resolve(spec["Properties"])
        stats = [query["MetricStat"]["Metric"] for query in properties.get("Metrics", []) if "MetricStat" in query]
        for metric in stats or [properties]:
            dimensions = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
            found.append(NamedMetric(metric["Namespace"], metric["MetricName"], dimensions))
    return found


def test_every_custom_metric_a_widget_or_an_alarm_reads_is_one_the_code_emits(
    local_aws: LocalStack, tmp_path: Path
) -> None:
    # Given what the real handlers print on moto, and what the state machine publishes
    emitted = set().union(*map(emf_metrics, [*csv_runs(local_aws), *ingest_runs(local_aws, tmp_path)]))
    emitted |= state_machine_metrics(local_aws)
    namespace = local_aws.environment_for("CsvToParquetFunction")["POWERTOOLS_METRICS_NAMESPACE"]
    assert {metric.namespace for metric in emitted} == {namespace} == {"lakepipe-dev"}
    # (the runs did what they were for: a file quarantined, one rejected with its reason, a city failed)
    names = {metric.name for metric in emitted}
    assert {"RowsQuarantined", "FilesRejectedByReason", "CitiesFailed", "ApiLatency", "EventsRefused"} <= names

    # When the dashboard and the alarms are read
    body = dashboard_body(local_aws)
    read = [m for m in named_metrics(body) + alarm_metrics(local_aws) if m.namespace == namespace]

    # Then each metric they name is emitted with exactly that dimension set (names and values)
    assert read, "the dashboard reads lakepipe's own metrics"
    assert [metric for metric in read if metric not in emitted] == []
    # and each search finds emitted metrics: same name, exactly the schema's dimension names
    searches = [search for search in searched_metrics(body) if search.namespace == namespace]
    assert [search.metric_name for search in searches] == ["FilesRejectedByReason"]
    for search in searches:
        matching = [
            metric
            for metric in emitted
            if metric.name == search.metric_name and {name for name, _ in metric.dimensions} == search.dimension_names
        ]
        assert matching, search
    # every emitted metric the issue asks to see is on the dashboard
    on_dashboard = {metric.name for metric in read} | {search.metric_name for search in searches}
    wanted = {"FilesConverted", "FilesRejected", "FilesSuperseded", "RowsIn", "RowsOut", "RowsQuarantined"}
    wanted |= {"ConversionSeconds", "BytesIn", "BytesDecompressed", "BytesQuarantined", "FilesRejectedByReason"}
    wanted |= {"CitiesFetched", "CitiesFailed", "ApiLatency", "ValidationRuns"}
    assert wanted <= on_dashboard


def documented(metric: NamedMetric) -> str | None:
    """Why ``metric`` is not a documented AWS metric (namespace, name, dimension names and fixed values), or None."""
    for entry in DOCUMENTED["entries"]:
        if entry["namespace"] != metric.namespace or metric.name not in entry["metrics"]:
            continue
        dimensions = dict(metric.dimensions)
        if set(dimensions) != set(entry["dimensions"]):
            return f"{metric.name}: dimensions {sorted(dimensions)}, documented {sorted(entry['dimensions'])}"
        fixed = {name: value for name, value in entry["dimensions"].items() if value is not None}
        if any(dimensions[name] != value for name, value in fixed.items()):
            return f"{metric.name}: {dimensions}, documented values {fixed}"
        return None
    return f"{metric.namespace} {metric.name} is not in the documented list"


def test_every_aws_metric_a_widget_or_an_alarm_reads_is_documented_for_a_resource_of_the_stack(
    local_aws: LocalStack,
) -> None:
    body = dashboard_body(local_aws)
    read = [m for m in named_metrics(body) + alarm_metrics(local_aws) if not m.namespace.startswith("lakepipe-")]
    # the stack's own names: queues, state machine, rules, the Glue job
    stack_names = {str(value).rsplit("/", 1)[-1] for value in local_aws.physical_ids.values()}
    stack_names |= set(local_aws.physical_ids.values()) | {"lakepipe-dev-weather-pipeline-schedule"}

    assert {metric.namespace for metric in read} == {"AWS/SQS", "AWS/States", "AWS/Events", "Glue"}
    assert [problem for problem in map(documented, read) if problem] == []
    # every dimension that names a resource names one of this stack's
    fixed = {name for entry in DOCUMENTED["entries"] for name, value in entry["dimensions"].items() if value}
    assert [
        (m.name, value) for m in read for name, value in m.dimensions if name not in fixed and value not in stack_names
    ] == []
    # and Glue publishes what the dashboard reads only with the job arguments the documentation names
    job_arguments = TEMPLATE["Resources"]["WeatherEtlJob"]["Properties"]["DefaultArguments"]
    needed = {entry["job_argument"] for entry in DOCUMENTED["entries"] if "job_argument" in entry}
    assert {argument: job_arguments.get(argument) for argument in needed} == dict.fromkeys(needed, "true")


def test_the_body_follows_cloudwatchs_documented_structure_and_lists_every_alarm(local_aws: LocalStack) -> None:
    body = dashboard_body(local_aws)

    assert dashboard_body_problems(body) == []
    assert {widget["properties"]["region"] for widget in body["widgets"] if widget["type"] == "metric"} == {"eu-west-3"}
    alarms = [
        logical_id for logical_id, spec in TEMPLATE["Resources"].items() if spec["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert sorted(alarm_arns(body)) == sorted(local_aws.physical_ids[f"{alarm}.Arn"] for alarm in alarms)
    # CloudWatch (moto) takes it under the template's name, and the output links to it
    name = local_aws.physical_ids[DASHBOARD_ID]
    boto3.client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    assert json.loads(boto3.client("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"]) == body
    assert local_aws.outputs["DashboardUrl"] == (
        f"https://eu-west-3.console.aws.amazon.com/cloudwatch/home?region=eu-west-3#dashboards/dashboard/{name}"
    )
