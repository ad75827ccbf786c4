"""Both handlers traced as on Lambda with Tracing: Active: the subsegments Powertools' tracer and the X-Ray SDK
send, checked against the work the invocation did (the keys it read and wrote, the tables, the HTTP status).

Given the local stack and one event from events/, when the handler runs in the local runtime with the X-Ray
daemon stand-in, then its trace holds the spans and AWS calls that matter, under the right parents, and every
document follows X-Ray's documented rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lakepipe.domain.weather.ingest import CitiesFailedError
from lakepipe_cli.invoke_files import fill_event, object_facts, recorded_weather_variables, s3_objects_named
from lakepipe_cli.lambda_runtime import invoke
from lakepipe_cli.local_aws import LOCAL_REGION, LocalStack
from lakepipe_cli.open_meteo_standin import recorded_forecast_api
from lakepipe_cli.trace_waterfall import render_png, waterfall_rows
from lakepipe_cli.xray_local import Span, Trace, XRayDaemonStandIn
from tests.conftest import REPO_ROOT, load_event
from tests.xray_rules import segment_document_problems

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")]
CSV_EVENT = "sqs-csv-uploaded.json"  # the CSV function's event in events/ (its shape is followed, whatever it is)
USERS_CSV = REPO_ROOT / "tests" / "fixtures" / "csv" / "users.csv"


@pytest.fixture
def xray() -> Iterator[XRayDaemonStandIn]:
    with XRayDaemonStandIn() as daemon:
        yield daemon


def csv_event_for(stack: LocalStack) -> dict[str, Any]:
    """events/<CSV event> naming the stack's bucket and the uploaded object (users.csv under the event's key)."""
    event = load_event(CSV_EVENT)
    s3 = boto3.client("s3")
    objects = {}
    for _, key in s3_objects_named(event):
        s3.put_object(Bucket=stack.bucket, Key=key, Body=USERS_CSV.read_bytes())
        objects[key] = object_facts(s3, stack.bucket, key)
    return dict(fill_event(event, bucket=stack.bucket, region=LOCAL_REGION, objects=objects))


def traced(xray: XRayDaemonStandIn) -> Trace:
    (invocation,) = xray.invocations
    trace = xray.trace(invocation.trace_id)
    assert xray.rejected == []
    assert [problem for doc in xray.documents(invocation.trace_id) for problem in segment_document_problems(doc)] == []
    assert trace.orphans == [], "every subsegment's parent arrived"
    return trace


def parent_names(span: Span, trace: Trace) -> list[str]:
    return [parent.name for parent in span.ancestors(trace)]


def test_a_csv_conversion_traces_read_convert_write_with_each_aws_call(
    local_aws: LocalStack, xray: XRayDaemonStandIn, tmp_path: Path
) -> None:
    from lakepipe.handlers.csv_to_parquet import lambda_handler  # noqa: PLC0415 - imported with its environment

    event = csv_event_for(local_aws)
    ((_, key),) = s3_objects_named(event)

    response = invoke(
        lambda_handler,
        event,
        function_name="CsvToParquetFunction",
        environment=local_aws.environment_for("CsvToParquetFunction"),
        xray=xray,
    )
    trace = traced(xray)

    # The root is the function segment; the handler's subsegment holds the pipeline's three spans, in order
    assert (trace.root.name, trace.root.document["origin"]) == ("CsvToParquetFunction", "AWS::Lambda::Function")
    (handler,) = trace.named("## lambda_handler")
    assert parent_names(handler, trace) == ["CsvToParquetFunction"]
    stages = [span for _, span in handler.walk() if span.name in {"read", "convert", "write"}]
    assert [span.name for span in stages] == ["read", "convert", "write"]
    assert stages[0].start <= stages[1].start <= stages[2].start
    # read fetched exactly the object the event names, and looked the dataset's table up
    (get,) = [span for span in trace.named("s3") if span.aws_operation == "GetObject"]
    assert parent_names(get, trace)[0] == "read"
    assert (get.document["aws"]["bucket_name"], get.document["aws"]["key"], get.http_status) == (
        local_aws.bucket,
        key,
        200,
    )
    assert [span.aws_operation for span in trace.named("glue") if "read" in parent_names(span, trace)] == ["GetTable"]
    # write created the table (the catalog had none) and moved the Parquet file to the key the report gives
    assert "CreateTable" in [span.aws_operation for span in trace.named("glue") if "write" in parent_names(span, trace)]
    (output_key,) = [item["Key"] for item in boto3.client("s3").list_objects_v2(
        Bucket=local_aws.bucket, Prefix="database/").get("Contents", [])]  # fmt: skip
    copied = [span for span in trace.named("s3") if span.aws_operation in {"CopyObject", "UploadPartCopy"}]
    assert {span.document["aws"].get("key") for span in copied} == {output_key}
    assert response.get("batchItemFailures", []) == []
    # idempotency: the record claimed, then completed, in the template's table; between them, inside write, the
    # key's publication lease taken and given back
    dynamodb = trace.named("dynamodb")
    assert [(span.aws_operation, span.document["aws"]["table_name"]) for span in dynamodb] == [
        ("PutItem", local_aws.idempotency_table),
        ("PutItem", local_aws.idempotency_table),
        ("DeleteItem", local_aws.idempotency_table),
        ("UpdateItem", local_aws.idempotency_table),
    ]
    assert ["write" in parent_names(span, trace) for span in dynamodb] == [False, True, True, False]
    # and the waterfall shows every entity, drawn
    assert len(waterfall_rows(trace)) == len(trace.spans())
    assert render_png(trace, tmp_path / "csv.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_weather_ingest_traces_the_open_meteo_request_with_its_status(
    local_aws: LocalStack, xray: XRayDaemonStandIn
) -> None:
    from lakepipe.handlers.ingest_weather import lambda_handler  # noqa: PLC0415

    with recorded_forecast_api() as forecast_url:
        environment = local_aws.environment_for("IngestWeatherFunction") | recorded_weather_variables(forecast_url)
        manifest = invoke(
            lambda_handler,
            load_event("scheduled-event.json"),
            function_name="IngestWeatherFunction",
            environment=environment,
            xray=xray,
        )
    trace = traced(xray)

    (request,) = [span for span in trace.spans() if span.namespace == "remote"]
    assert request.document["http"]["request"]["url"].startswith(forecast_url)
    assert (request.document["http"]["request"]["method"], request.http_status) == ("GET", 200)
    assert "## lambda_handler" in parent_names(request, trace)
    puts = [span for span in trace.named("s3") if span.aws_operation == "PutObject"]
    assert sorted(span.document["aws"]["key"] for span in puts) == sorted(manifest["keys"])
    assert all(span.http_status == 200 for span in puts)


def test_a_failed_ingest_shows_the_refused_request_and_a_faulted_function(
    local_aws: LocalStack, xray: XRayDaemonStandIn
) -> None:
    from lakepipe.handlers.ingest_weather import lambda_handler  # noqa: PLC0415

    # Given a window the recording does not hold: the stand-in answers 400 as Open-Meteo does
    with recorded_forecast_api() as forecast_url:
        environment = local_aws.environment_for("IngestWeatherFunction") | recorded_weather_variables(forecast_url)
        environment["WEATHER_FORECAST_DAYS"] = "7"
        with pytest.raises(CitiesFailedError, match="HTTP 400: the recording covers"):
            invoke(
                lambda_handler,
                load_event("scheduled-event.json"),
                function_name="IngestWeatherFunction",
                environment=environment,
                xray=xray,
            )
    trace = traced(xray)

    (request,) = [span for span in trace.spans() if span.namespace == "remote"]
    assert (request.http_status, request.flag) == (400, "error")
    assert trace.root.flag == "fault"
    (handler,) = trace.named("## lambda_handler")
    assert handler.failed
    assert "cause" in handler.document
    assert not [span for span in trace.named("s3") if span.aws_operation == "PutObject"], "nothing landed"
