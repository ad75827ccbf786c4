"""The CSV function's own costs: a warm 10 MB invocation through the real handler on moto, and its cold import.

Warm: an in-process moto server on 127.0.0.1 with the template's resources (as the tests and the demo use it),
the function's environment as the template sets it, the file uploaded to the data bucket (moto puts S3's event on
CsvEventsQueue), the queue's message handed to ``lambda_handler`` as Lambda's event source mapping would (the
shape of events/sqs-csv-uploaded.json), then deleted. One warm-up invocation (it imports the conversion and
creates the table), then N timed ones of the same file uploaded again under a new key, the bucket emptied of every
earlier version first (see ``_delete_every_version``: moto's listing cost grows with the bucket). Only the handler
call is timed, not the upload.

Cold: ``import lakepipe.handlers.csv_to_parquet`` timed in fresh interpreters with the function's environment,
bytecode compiled (as ``pip install`` leaves it in the image: a first, untimed import writes it under
bench/data/pycache), once with tracing off as the tests run and once with Lambda's ``LAMBDA_TASK_ROOT`` set,
where Powertools' Tracer is enabled and patches the AWS SDK at import, as it does in the deployed function.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
HANDLER_MODULE = "lakepipe.handlers.csv_to_parquet"
FUNCTION_ID = "CsvToParquetFunction"
# What tests/conftest.py gives every test: fake credentials, Powertools named, tracing off (no X-Ray daemon here).
SAFE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "eu-west-3",
    "AWS_DEFAULT_REGION": "eu-west-3",
    "POWERTOOLS_SERVICE_NAME": "lakepipe",
    "POWERTOOLS_METRICS_NAMESPACE": "lakepipe-bench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
_TIMED_IMPORT = "import time; started = time.perf_counter(); import {module}; print(time.perf_counter() - started)"


def _import_environment(function_environment: dict[str, str], *, lambda_like: bool, pycache: Path) -> dict[str, str]:
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}  # noqa: S108
    environment |= SAFE_ENVIRONMENT | function_environment
    environment["PYTHONPYCACHEPREFIX"] = str(pycache)
    if lambda_like:
        # What the Lambda runtime sets; Powertools' Tracer enables itself (and patches boto3) when it sees it.
        environment.pop("POWERTOOLS_TRACE_DISABLED", None)
        environment |= {"LAMBDA_TASK_ROOT": str(REPO_ROOT / "functions"), "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_ID}
    return environment


def cold_imports(function_environment: dict[str, str], *, repeats: int, pycache: Path) -> dict[str, Any]:
    """Median seconds of the handler's import in fresh interpreters, and the ten slowest modules (cumulative)."""
    results: dict[str, Any] = {}
    for variant, lambda_like in (("tests", False), ("lambda", True)):
        environment = _import_environment(function_environment, lambda_like=lambda_like, pycache=pycache)
        timed = [sys.executable, "-c", _TIMED_IMPORT.format(module=HANDLER_MODULE)]
        subprocess.run(timed, env=environment, check=True, capture_output=True)  # compiles the bytecode once
        samples = [
            float(subprocess.run(timed, env=environment, check=True, capture_output=True, text=True).stdout)
            for _ in range(repeats)
        ]
        profile, baseline = (
            subprocess.run(
                [sys.executable, "-X", "importtime", "-c", code],
                env=environment,
                check=True,
                capture_output=True,
                text=True,
            ).stderr
            for code in (f"import {HANDLER_MODULE}", "pass")
        )
        results[variant] = {"seconds": samples, "slowest": slowest_imports(profile, 10, baseline=baseline)}
    return results


def _import_times(importtime_output: str) -> list[tuple[str, float]]:
    timings = []
    for line in importtime_output.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        timings.append((name.strip(), int(cumulative) / 1e6))
    return timings


def slowest_imports(importtime_output: str, count: int, *, baseline: str = "") -> list[tuple[str, float]]:
    """The ``count`` modules with the largest cumulative import time (seconds), from ``-X importtime``'s lines
    (``import time: self [us] | cumulative | imported package``), leaving out those of ``baseline`` (the same
    report for an empty program: the interpreter's own start-up, ``site`` and the like)."""
    started_anyway = {name for name, _ in _import_times(baseline)}
    timings = [timing for timing in _import_times(importtime_output) if timing[0] not in started_anyway]
    return sorted(timings, key=lambda timing: -timing[1])[:count]


def warm_invocations(csv_body: bytes, *, expected_rows: int, invocations: int) -> dict[str, Any]:
    """Timed warm invocations of the real handler on an in-process moto server (see the module docstring)."""
    os.environ.update(SAFE_ENVIRONMENT)
    import boto3  # noqa: PLC0415

    from lakepipe_cli.local_aws import local_aws_environment, moto_server, provision_from_template  # noqa: PLC0415

    with moto_server() as endpoint:
        os.environ.update(local_aws_environment(endpoint))
        stack = provision_from_template(endpoint)
        environment = stack.environment_for(FUNCTION_ID)
        os.environ.update(environment)  # as Lambda sets it, before the handler module is imported
        from lakepipe.handlers.csv_to_parquet import lambda_handler  # noqa: PLC0415
        from lakepipe_cli.lambda_runtime import LocalLambdaContext, function_output  # noqa: PLC0415
        from lakepipe_cli.sqs_source import sqs_event  # noqa: PLC0415

        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        queue_url = stack.outputs["CsvEventsQueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

        def receive_all() -> list[dict[str, Any]]:
            response = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
            )
            return [dict(message) for message in response.get("Messages", [])]

        for message in receive_all():  # S3's test event, sent when the notification was configured
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        handler_seconds: list[float] = []
        conversion_seconds: list[float] = []
        with (REPO_ROOT / "bench" / "data" / "handler-log.jsonl").open("w") as log, function_output(log):
            for invocation in range(invocations + 1):
                key = f"input/bench_weather/weather-10MB-{invocation}.csv"
                s3.put_object(Bucket=stack.bucket, Key=key, Body=csv_body)
                messages = receive_all()
                event = sqs_event(messages, queue_arn=queue_arn, region=environment["AWS_REGION"])
                context = LocalLambdaContext(
                    function_name=f"lakepipe-dev-{FUNCTION_ID}", memory_limit_in_mb=1769, timeout_seconds=600
                )
                started = time.perf_counter()
                response = lambda_handler(event, context)
                elapsed = time.perf_counter() - started
                reports = response.get("reports", [])
                if response.get("batchItemFailures") or [r["status"] for r in reports] != ["converted"]:
                    raise RuntimeError(f"invocation {invocation} did not convert the file: {response}")
                if reports[0]["source_key"] != key or reports[0]["rows_out"] != expected_rows:
                    raise RuntimeError(
                        f"invocation {invocation} converted {reports[0]}, not the {expected_rows} rows of {key}"
                    )
                s3.head_object(Bucket=stack.bucket, Key=reports[0]["output_key"])  # the Parquet file exists
                for message in messages:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                _delete_every_version(s3, stack.bucket)
                while removals := receive_all():  # the deletions' ObjectRemoved events: not the next batch's
                    for message in removals:
                        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                if invocation:  # the first one is the warm-up
                    handler_seconds.append(elapsed)
                    conversion_seconds.append(float(reports[0]["seconds"]))
        return {
            "handler_seconds": handler_seconds,
            "conversion_seconds": conversion_seconds,
            "function_environment": stack.function_environments[FUNCTION_ID],
        }


def _delete_every_version(s3: Any, bucket: str) -> None:
    """Empty the versioned bucket (untimed), so every timed invocation meets the same bucket.

    moto's ListObjectVersions deep-copies every version in the bucket, bodies included, before it applies the
    prefix (moto/s3/models.py, ``list_object_versions``): its cost grows with everything uploaded so far (measured:
    0.26 s for the first invocation, 0.82 s for the tenth, 0.12 s of it converting), where S3 answers a prefix
    lookup. The function's newest-version check lists the key's versions, so without this the figure would be
    moto's.
    """
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        for start in range(0, len(entries), 1000):
            chunk = [{"Key": entry["Key"], "VersionId": entry["VersionId"]} for entry in entries[start : start + 1000]]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})


def handler_costs(csv_path: Path, *, expected_rows: int, invocations: int, import_repeats: int) -> dict[str, Any]:
    """Both measurements, in this (child) process: the warm one here, the cold ones in fresh interpreters."""
    warm = warm_invocations(csv_path.read_bytes(), expected_rows=expected_rows, invocations=invocations)
    cold = cold_imports(
        warm["function_environment"], repeats=import_repeats, pycache=REPO_ROOT / "bench" / "data" / "pycache"
    )
    warm["median_handler_seconds"] = statistics.median(warm["handler_seconds"])
    return {"warm": warm, "cold": cold}
