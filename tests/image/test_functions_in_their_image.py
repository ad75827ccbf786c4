"""Each function in the image `sam build` built from functions/Dockerfile, invoked with its events/ file.

Given the local stack (moto on 127.0.0.1 with the template's resources) and the env file and events made for it,
when a user's `sam local invoke FUNCTION -e events/<event>` runs the function in its container, then the response
is the function's success and the data landed where the template says, as computed from the inputs themselves
(rows counted by the csv module, landing bodies compared with the recording). Run as Lambda runs it (the image's
entrypoint behind a Runtime API), every invocation is traced and its trace checked.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from lakepipe_cli.invoke_files import SAMPLE_CSV, LocalInvokeStack, s3_objects_named
from lakepipe_cli.open_meteo_standin import RECORDED_FORECAST
from lakepipe_cli.xray_local import Trace, XRayDaemonStandIn
from tests.image.containers import (
    InvocationFailedError,
    SamInvocation,
    clean_environment,
    function_container,
    sam_local_invoke,
)
from tests.xray_rules import segment_document_problems

pytestmark = pytest.mark.image
# The CSV function's event in events/: the one name to change when its trigger's event file changes.
CSV_EVENT = "sqs-csv-uploaded.json"
WEATHER_EVENT = "scheduled-event.json"
CITIES = ("Paris", "Marseille", "Nice", "Lyon")  # the template's default Cities, in request order
BROKEN_IMAGE = "lakepipe-image-test:broken-handler"


def client(stack: LocalInvokeStack, service: str) -> Any:
    return boto3.client(service, endpoint_url=stack.stack.endpoint_url)  # type: ignore[call-overload]


def sample_rows() -> tuple[list[str], list[dict[str, str]]]:
    """The sample CSV's header and rows, read by the standard library, not by lakepipe."""
    reader = csv.DictReader(io.StringIO(SAMPLE_CSV.read_text(encoding="utf-8")))
    return list(reader.fieldnames or []), list(reader)


def assert_csv_converted(stack: LocalInvokeStack) -> None:
    """The sample's rows are in Parquet under database/<dataset>/ and its Glue table has the sample's columns."""
    header, rows = sample_rows()
    s3 = client(stack, "s3")
    ((_, key),) = s3_objects_named(json.loads(stack.event_file(CSV_EVENT).read_text()))
    dataset = Path(key).stem
    listing = s3.list_objects_v2(Bucket=stack.stack.bucket, Prefix=f"database/{dataset}/").get("Contents", [])
    assert [item["Key"].endswith(".parquet") for item in listing] == [True]
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=stack.stack.bucket, Key=listing[0]["Key"])["Body"].read()))
    assert table.num_rows == len(rows)
    assert table.column_names == header
    assert table.column("name").to_pylist() == [row["name"] for row in rows]
    glue_table = client(stack, "glue").get_table(DatabaseName=stack.stack.database, Name=dataset)["Table"]
    assert [column["Name"] for column in glue_table["StorageDescriptor"]["Columns"]] == header
    assert glue_table["StorageDescriptor"]["Location"].endswith(f"/database/{dataset}/")


def assert_weather_landed(stack: LocalInvokeStack, manifest: dict[str, Any]) -> None:
    """One landing object per city, each holding exactly its location of the recorded response."""
    recording = json.loads(RECORDED_FORECAST.read_bytes())
    s3 = client(stack, "s3")
    listing = s3.list_objects_v2(Bucket=stack.stack.bucket, Prefix="landing/weather/").get("Contents", [])
    keys = sorted(item["Key"] for item in listing)
    assert keys == sorted(manifest["keys"])
    assert [key.rsplit("city=", 1)[1] for key in manifest["keys"]] == [f"{city}.json" for city in CITIES]
    for city, location in zip(CITIES, recording, strict=True):
        (key,) = [key for key in keys if key.endswith(f"city={city}.json")]
        assert "ingest_date=2026-11-22/run=20261122T030000Z/" in key
        assert json.loads(s3.get_object(Bucket=stack.stack.bucket, Key=key)["Body"].read()) == location


# ---------------------------------------------------------------- the user's command: sam local invoke


def test_sam_build_made_one_image_for_both_functions(built_functions: dict[str, dict[str, Any]]) -> None:
    images = {properties["ImageUri"] for properties in built_functions.values()}

    assert len(built_functions) == 2
    assert len(images) == 1


def test_sam_local_invoke_converts_the_csv_its_event_names(local_stack: LocalInvokeStack, built_template: Path) -> None:
    invocation = sam_local_invoke(
        "CsvToParquetFunction",
        template=built_template,
        event=local_stack.event_file(CSV_EVENT),
        env_vars=local_stack.env_file,
    )

    response = invocation.response
    statuses = [record["status"] for record in response.get("records", [])]
    assert statuses in (["converted"], []), response  # [] when the response is a batch-failures report
    assert response.get("batchItemFailures", []) == []
    assert_csv_converted(local_stack)


def test_sam_local_invoke_lands_the_weather_for_the_scheduled_event(
    local_stack: LocalInvokeStack, built_template: Path
) -> None:
    invocation = sam_local_invoke(
        "IngestWeatherFunction",
        template=built_template,
        event=local_stack.event_file(WEATHER_EVENT),
        env_vars=local_stack.env_file,
    )

    manifest = invocation.response
    assert [(city["city"], city["status"]) for city in manifest["cities"]] == [(city, "ok") for city in CITIES]
    assert_weather_landed(local_stack, manifest)


# ---------------------------------------------------------------- as Lambda runs it, traced


def run_traced(
    local_stack: LocalInvokeStack,
    built_functions: dict[str, dict[str, Any]],
    xray: XRayDaemonStandIn,
    function_id: str,
    event_name: str,
    *,
    images_own_cmd: bool = False,
) -> tuple[Any, Trace, str]:
    """Invoke ``function_id``'s image once, as Lambda would (with the template's ImageConfig.Command, or with no
    command so the image's CMD decides); returns (response, trace, container logs)."""
    properties = built_functions[function_id]
    variables = json.loads(local_stack.env_file.read_text())[function_id]
    variables = local_stack.stack.environment_for(function_id) | variables
    with function_container(
        properties["ImageUri"],
        None if images_own_cmd else properties["ImageConfig"]["Command"],
        function_id=function_id,
        function_variables=variables,
        memory_mb=int(local_stack.stack.resolve(properties.get("MemorySize", 1024))),
        timeout_seconds=int(local_stack.stack.resolve(properties.get("Timeout", 60))),
        xray=xray,
    ) as running:
        result = running.api.invoke(json.loads(local_stack.event_file(event_name).read_text()))
        logs = running.logs()
    if result.failed:
        raise InvocationFailedError(f"{function_id} failed: {result.error}\n{logs[-3000:]}")
    return result.payload, xray.trace(result.trace_id), logs


def assert_well_formed(trace: Trace, xray: XRayDaemonStandIn) -> None:
    assert xray.rejected == []
    assert trace.orphans == []
    assert [p for doc in xray.documents(trace.trace_id) for p in segment_document_problems(doc)] == []


def under(trace: Trace, name: str) -> list[str]:
    """Names (with their AWS operation) of the subsegments under every subsegment called ``name``."""
    return [
        f"{span.name} {span.aws_operation}".strip()
        for parent in trace.named(name)
        for _, span in parent.walk()
        if span is not parent
    ]


def test_the_csv_function_in_its_container_is_traced_read_convert_write(
    local_stack: LocalInvokeStack,
    built_functions: dict[str, dict[str, Any]],
    xray: XRayDaemonStandIn,
    tmp_path: Path,
) -> None:
    response, trace, _ = run_traced(local_stack, built_functions, xray, "CsvToParquetFunction", CSV_EVENT)

    assert_csv_converted(local_stack)
    assert response.get("batchItemFailures", []) == []
    assert_well_formed(trace, xray)
    assert trace.root.name == "CsvToParquetFunction"
    (handler,) = trace.named("## lambda_handler")
    assert [span.name for _, span in handler.walk() if span.name in {"read", "convert", "write"}] == [
        "read",
        "convert",
        "write",
    ]
    assert {"s3 GetObject", "glue GetTable"} <= set(under(trace, "read"))
    assert "glue CreateTable" in under(trace, "write")
    # The idempotency record (put, then completed) around the key's lease (taken, then released).
    assert [span.aws_operation for span in trace.named("dynamodb")] == [
        "PutItem",
        "PutItem",
        "DeleteItem",
        "UpdateItem",
    ]
    trace.write(tmp_path / "csv-trace.json")


def test_the_weather_function_in_its_container_traces_the_open_meteo_request(
    local_stack: LocalInvokeStack, built_functions: dict[str, dict[str, Any]], xray: XRayDaemonStandIn
) -> None:
    manifest, trace, _ = run_traced(local_stack, built_functions, xray, "IngestWeatherFunction", WEATHER_EVENT)

    assert_weather_landed(local_stack, manifest)
    assert_well_formed(trace, xray)
    (request,) = [span for span in trace.spans() if span.namespace == "remote"]
    assert request.document["http"]["request"]["url"].startswith(local_stack.forecast_url)
    assert request.http_status == 200
    assert sorted(span.document["aws"]["key"] for span in trace.named("s3")) == sorted(manifest["keys"])


def test_the_images_own_command_serves_a_handler(
    local_stack: LocalInvokeStack, built_functions: dict[str, dict[str, Any]], xray: XRayDaemonStandIn
) -> None:
    # Given the image's CMD (what a plain `docker run` serves), and the function whose handler it names
    image = built_functions["CsvToParquetFunction"]["ImageUri"]
    inspected = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Cmd}}", image],
        capture_output=True,
        text=True,
        env=clean_environment(),
        check=True,
    )
    (handler,) = json.loads(inspected.stdout)
    served = [fn for fn, props in built_functions.items() if props["ImageConfig"]["Command"] == [handler]]
    function_id = served[0] if served else "CsvToParquetFunction"
    event = {"CsvToParquetFunction": CSV_EVENT, "IngestWeatherFunction": WEATHER_EVENT}[function_id]

    # When the image runs with no command at all, then that handler answers its function's event
    response, trace, _ = run_traced(local_stack, built_functions, xray, function_id, event, images_own_cmd=True)

    assert served, f"the image's CMD {handler!r} is no function's handler"
    assert trace.named("## lambda_handler")
    assert response


# ---------------------------------------------------------------- the checks fail when the image breaks


def test_a_broken_handler_fails_the_response_check_though_sam_exits_0(
    local_stack: LocalInvokeStack, built_template: Path, built_functions: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    # Given the built image with the weather handler broken (its module raises on import)
    image = built_functions["IngestWeatherFunction"]["ImageUri"]
    context = tmp_path / "broken"
    context.mkdir()
    handler_module = "${LAMBDA_TASK_ROOT}/lakepipe/handlers/ingest_weather.py"
    (context / "Dockerfile").write_text(
        f"FROM {image}\nRUN echo 'raise RuntimeError(\"broken on purpose\")' > {handler_module}\n"
    )
    subprocess.run(
        ["docker", "build", "--quiet", "-t", BROKEN_IMAGE, str(context)],
        capture_output=True,
        env=clean_environment(),
        check=True,
    )
    broken_template = built_template.parent / "template.broken-handler.yaml"
    shutil.copy(built_template, broken_template)
    broken_template.write_text(broken_template.read_text().replace(image, BROKEN_IMAGE))

    # When the user's command runs it
    try:
        invocation: SamInvocation = sam_local_invoke(
            "IngestWeatherFunction", template=broken_template, event=local_stack.event_file(WEATHER_EVENT),
            env_vars=local_stack.env_file,
        )  # fmt: skip
    finally:
        for tag in (BROKEN_IMAGE, BROKEN_IMAGE.replace(":broken-handler", ":rapid-x86_64"),
                    BROKEN_IMAGE.replace(":broken-handler", ":rapid-arm64")):  # fmt: skip
            subprocess.run(["docker", "image", "rm", tag], capture_output=True, env=clean_environment(), check=False)

    # Then SAM CLI still exits 0, and the response check is what catches it
    assert invocation.exit_code == 0, "SAM CLI now reports a failed function by its exit code"
    with pytest.raises(InvocationFailedError, match="broken on purpose"):
        _ = invocation.response
