"""`lakepipe demo`: both pipelines end to end on this machine, with the code that ships to AWS.

1. An embedded AWS stand-in (moto server on 127.0.0.1) with the data-plane resources of template.yaml.
2. CSV → Parquet: sample CSVs (several dialects, a few bad rows) are uploaded under input/ and the real
   CsvToParquetFunction handler gets the S3 events S3 would send (plus one duplicate delivery). `--input-prefix`
   sets the stack's InputPrefix (e.g. "input data/"); the samples go under it.
3. Weather: the real state machine definition is walked locally — IngestWeatherFunction's handler (live
   Open-Meteo when reachable, else a recorded response served on loopback), the real Glue script on local Spark,
   the views' CREATE OR REPLACE VIEW statements and the validation SQL on DuckDB (sqlglot transpiles Athena's
   dialect), the Choice on its result.
4. A summary, a PNG chart and the local lake under the output directory, and every invocation's X-Ray trace
   (checked, written as X-Ray documents and drawn as a waterfall under traces/).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from rich.console import Console
from rich.table import Table

from lakepipe.domain.csv.quarantine import read_quarantine
from lakepipe_cli.demo_traces import (
    CSV_CONVERSION,
    CSV_DUPLICATE,
    CSV_TEST_EVENT,
    WEATHER_INGEST,
    TraceReport,
    recording_traces,
)
from lakepipe_cli.lambda_runtime import function_environment, invoke
from lakepipe_cli.local_aws import LocalStack, local_aws_environment, moto_server, provision_from_template
from lakepipe_cli.local_states import LocalStateMachine, StatesError, substitute
from lakepipe_cli.open_meteo_standin import live_api_reachable, recorded_forecast_api
from lakepipe_cli.sample_csv import SampleCsv, sample_csv_files
from lakepipe_cli.sqs_source import drain

REPO_ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = REPO_ROOT / "statemachine" / "weather_pipeline.asl.json"
GLUE_SCRIPT = REPO_ROOT / "glue" / "weather_etl.py"
VALIDATION_SQL = REPO_ROOT / "sql" / "validation" / "validate_weather_run.sql"
EVENTS_DIR = REPO_ROOT / "events"
DEFAULT_OUTPUT = Path("demo-output")
# The recorded response was made for the default cities with 2 past and 2 forecast days; the demo asks for the
# same window live too, so both sources give comparable tables.
DEMO_FORECAST_DAYS = "2"


@dataclass
class CsvOutcome:
    sample: SampleCsv
    rows_in: int
    rows_out: int
    rows_quarantined: int
    output_key: str | None
    quarantined_lines: tuple[int, ...]  # source lines of the rows found under quarantine/

    @property
    def as_expected(self) -> bool:
        """Every good row converted, exactly the bad lines quarantined, and the counts add up."""
        return (
            self.rows_out == self.sample.good_rows
            and self.quarantined_lines == self.sample.bad_lines
            and self.rows_in == self.rows_out + self.rows_quarantined
        )


@dataclass
class DemoResult:
    output_dir: Path
    csv: list[CsvOutcome] = field(default_factory=list)
    duplicate_delivery_ignored: bool = False
    weather_source: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)
    glue_summary: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    states: list[tuple[str, str, float]] = field(default_factory=list)
    # The views the PublishViews step created (CREATE OR REPLACE VIEW run on the local lake), in order.
    views: list[str] = field(default_factory=list)
    pipeline_status: str = ""
    pipeline_error: str | None = None
    daily: list[dict[str, Any]] = field(default_factory=list)
    chart: Path | None = None
    traces: list[TraceReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            bool(self.csv)
            and all(outcome.as_expected for outcome in self.csv)
            and self.duplicate_delivery_ignored
            and self.pipeline_status == "SUCCEEDED"
            and self.chart is not None
            and bool(self.traces)
            and all(trace.ok for trace in self.traces)
        )


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "demo",
        help="run both pipelines locally end to end (no AWS, no Docker)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help=f"where to write (default {DEFAULT_OUTPUT})"
    )
    parser.add_argument("--offline", action="store_true", help="use the recorded Open-Meteo response, never the API")
    parser.add_argument("--live-timeout", type=float, default=2.0, help="seconds to wait for Open-Meteo (default 2)")
    parser.add_argument(
        "--input-prefix",
        default=None,
        help="the stack's InputPrefix, e.g. \"input data/\" (default: the template's, input/); the samples go under it",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    console = Console(width=None if sys.stdout.isatty() else 120)
    result = run_demo(
        args.output,
        offline=args.offline,
        live_timeout=args.live_timeout,
        input_prefix=args.input_prefix,
        console=console,
    )
    print_summary(result, console)
    return 0 if result.ok else 1


def run_demo(
    output_dir: Path,
    *,
    offline: bool,
    live_timeout: float = 2.0,
    input_prefix: str | None = None,
    console: Console | None = None,
) -> DemoResult:
    """Run the whole local pipeline; the result holds every number the summary shows. ``input_prefix`` is the
    stack's InputPrefix parameter (None: the template's default); the sample CSVs are uploaded under it."""
    console = console or Console(quiet=True)
    # A duplicate delivery publishes no metrics by design; Powertools warns about exactly that.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    started = time.monotonic()
    lake = output_dir / "lake"
    shutil.rmtree(lake, ignore_errors=True)
    (output_dir / "logs").mkdir(parents=True, exist_ok=True)
    result = DemoResult(output_dir=output_dir)
    with (
        moto_server() as endpoint,
        function_environment(local_aws_environment(endpoint)),
        recording_traces(output_dir / "traces") as recorder,
    ):
        with console.status("Creating the template's resources on the embedded AWS stand-in…"):
            stack = provision_from_template(endpoint, None if input_prefix is None else {"InputPrefix": input_prefix})
        console.print(
            f"[green]✓[/] AWS stand-in at {endpoint}: bucket [bold]{stack.bucket}[/], "
            f"Glue database [bold]{stack.database}[/]"
        )
        with (output_dir / "logs" / "CsvToParquetFunction.jsonl").open("w") as log_file:
            _csv_stage(stack, result, log_file, console)
        _weather_stage(stack, result, lake, offline=offline, live_timeout=live_timeout, console=console)
        _download(stack, "database/", lake)
        _download(stack, "quarantine/", lake)
        # In invocation order: S3's test event, each sample converted, the duplicate delivery, the weather ingest.
        expected = [CSV_TEST_EVENT, *([CSV_CONVERSION] * len(result.csv)), CSV_DUPLICATE, WEATHER_INGEST]
        result.traces = recorder.report(expected)
    if result.pipeline_status == "SUCCEEDED":
        result.daily = _daily_metrics(lake)
        result.chart = _chart(result.daily, output_dir / "weather.png")
    (output_dir / "summary.json").write_text(json.dumps(_summary_document(result), indent=2, default=str))
    result.seconds = time.monotonic() - started
    return result


# ---------------------------------------------------------------- CSV → Parquet


def _csv_stage(stack: LocalStack, result: DemoResult, log_file: TextIO, console: Console) -> None:
    from lakepipe.handlers.csv_to_parquet import lambda_handler  # noqa: PLC0415 - imported with its environment

    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    queue_url = stack.outputs["CsvEventsQueueUrl"]
    environment = stack.environment_for("CsvToParquetFunction")

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = invoke(
            lambda_handler, event, function_name="CsvToParquetFunction", environment=environment, log_file=log_file
        )
        return response

    with console.status("CSV → Parquet: uploading samples; S3 → queue → CsvToParquetFunction…"):
        samples = _under_the_input_prefix(sample_csv_files(), str(stack.resolve({"Ref": "InputPrefix"})))
        for sample in samples:
            s3.put_object(
                Bucket=stack.bucket, Key=sample.key, Body=sample.body
            )  # S3 (moto) puts its event on the queue
        drained = drain(sqs, queue_url, handler, batch_size=int(stack.resolve({"Ref": "CsvBatchSize"})))
        by_key = {report["source_key"]: report for report in drained.reports}
        for sample in samples:
            converted = by_key[sample.key]
            result.csv.append(
                CsvOutcome(
                    sample=sample,
                    rows_in=converted["rows_in"],
                    rows_out=converted["rows_out"],
                    rows_quarantined=converted["rows_quarantined"],
                    output_key=converted.get("output_key"),
                    quarantined_lines=_quarantined_lines(stack, converted.get("quarantine_key")),
                )
            )
        # S3 delivers at least once: the same notification again must not convert the object a second time.
        before = _object_versions(stack, "database/")
        first_upload = next(body for body in drained.bodies if "Records" in json.loads(body))  # not S3's test event
        sqs.send_message(QueueUrl=queue_url, MessageBody=first_upload)
        duplicate = drain(sqs, queue_url, handler)
        result.duplicate_delivery_ignored = _object_versions(stack, "database/") == before and duplicate.deleted == 1
    mark = "[green]✓[/]" if all(outcome.as_expected for outcome in result.csv) else "[red]✗[/]"
    console.print(
        f"{mark} CSV → Parquet: {len(result.csv)} files converted; duplicate delivery ignored: "
        f"{result.duplicate_delivery_ignored}"
    )


def _under_the_input_prefix(samples: list[SampleCsv], input_prefix: str) -> list[SampleCsv]:
    """The samples at their place below the stack's input prefix (they are written for the default, input/)."""
    return [replace(sample, key=input_prefix + sample.key.removeprefix("input/")) for sample in samples]


def _quarantined_lines(stack: LocalStack, summary_key: str | None) -> tuple[int, ...]:
    """Source line numbers of the records the function quarantined (summary → Parquet file of records)."""
    if not summary_key:
        return ()
    s3 = boto3.client("s3")
    summary = json.loads(s3.get_object(Bucket=stack.bucket, Key=summary_key)["Body"].read())
    if not summary.get("quarantined_records_key"):
        return ()
    rows = s3.get_object(Bucket=stack.bucket, Key=summary["quarantined_records_key"])["Body"].read()
    return tuple(sorted(record["line"] for record in read_quarantine(rows)))


def _object_versions(stack: LocalStack, prefix: str) -> list[tuple[str, str]]:
    versions = boto3.client("s3").list_object_versions(Bucket=stack.bucket, Prefix=prefix).get("Versions", [])
    return sorted((version["Key"], version["VersionId"]) for version in versions)


# ---------------------------------------------------------------- weather pipeline


@contextmanager
def _forecast_api(offline: bool, live_timeout: float, result: DemoResult) -> Iterator[str | None]:
    if not offline and live_api_reachable(live_timeout):
        result.weather_source = "live Open-Meteo API"
        yield None  # the template's default URL
        return
    result.weather_source = (
        "recorded Open-Meteo response (offline)"
        if offline
        else ("recorded Open-Meteo response (the API was not reachable)")
    )
    with recorded_forecast_api() as url:
        yield url


def _scheduled_event(live: bool) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / "scheduled-event.json").read_text())
    if live:  # the API serves recent days only: schedule "now", on the hour
        event["time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:00:00Z")
        event["id"] = str(uuid.uuid4())
    return event


def _weather_stage(
    stack: LocalStack, result: DemoResult, lake: Path, *, offline: bool, live_timeout: float, console: Console
) -> None:
    with (
        _forecast_api(offline, live_timeout, result) as forecast_url,
        (result.output_dir / "logs" / "IngestWeatherFunction.jsonl").open("w") as log_file,
    ):
        console.print(f"[green]✓[/] Weather source: {result.weather_source}")
        tasks = _local_tasks(
            stack, result=result, lake=lake, forecast_url=forecast_url, log_file=log_file, console=console
        )
        substitutions = _definition_substitutions(stack)
        machine = LocalStateMachine(substitute(ASL_PATH.read_text(), substitutions), tasks)
        event = _scheduled_event(live=forecast_url is None)

        def report(state: str, outcome: str) -> None:
            console.print(f"  [cyan]{state}[/] {outcome}")

        console.print("Weather pipeline: walking statemachine/weather_pipeline.asl.json")
        execution = machine.run(f"demo-{event['id'][:8]}", event, on_state=report)
    result.states = execution.visited
    result.views = [item["view"] for item in (execution.output or {}).get("views", [])]
    result.pipeline_status = execution.status
    result.pipeline_error = None if execution.error is None else f"{execution.error}: {execution.cause}"
    mark = "[green]✓[/]" if execution.status == "SUCCEEDED" else "[red]✗[/]"
    console.print(
        f"{mark} Weather pipeline {execution.status}" + (f" — {result.pipeline_error}" if execution.error else "")
    )


def _definition_substitutions(stack: LocalStack) -> dict[str, str]:
    """The state machine's DefinitionSubstitutions from template.yaml, resolved against the local stand-in."""
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

    template = yaml_parse((REPO_ROOT / "template.yaml").read_text())
    machines = [spec for spec in template["Resources"].values() if spec["Type"] == "AWS::Serverless::StateMachine"]
    (machine,) = [spec for spec in machines if spec["Properties"]["DefinitionUri"].endswith(ASL_PATH.name)]
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    return {name: str(stack.resolve(value)) for name, value in substitutions.items()}


def _local_tasks(
    stack: LocalStack, *, result: DemoResult, lake: Path, forecast_url: str | None, log_file: TextIO, console: Console
) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """What each Task resource of the definition does here, answering in the AWS integration's response shape."""
    from lakepipe.handlers.ingest_weather import lambda_handler  # noqa: PLC0415 - imported with its environment

    queries: dict[str, dict[str, Any]] = {}

    def ingest(parameters: dict[str, Any]) -> dict[str, Any]:
        environment = stack.environment_for("IngestWeatherFunction") | {"WEATHER_FORECAST_DAYS": DEMO_FORECAST_DAYS}
        if forecast_url is not None:
            environment["OPEN_METEO_FORECAST_URL"] = forecast_url
        try:
            with console.status("IngestWeatherFunction: fetching and landing…"):
                manifest = invoke(
                    lambda_handler,
                    parameters["Payload"],
                    function_name="IngestWeatherFunction",
                    environment=environment,
                    log_file=log_file,
                )
        except Exception as error:  # the Lambda integration reports the function's error type and message
            raise StatesError(type(error).__name__, str(error)) from error
        result.manifest = manifest
        return {"StatusCode": 200, "Payload": manifest}

    def glue_job(parameters: dict[str, Any]) -> dict[str, Any]:
        arguments = parameters["Arguments"]
        started = time.monotonic()
        try:
            with console.status("WeatherEtlJob: running glue/weather_etl.py on local Spark…"):
                _download(stack, "landing/weather/", lake)
                result.glue_summary = _run_glue_job(lake, arguments["--run_id"], arguments["--ingest_date"])
        except Exception as error:
            raise StatesError("States.TaskFailed", f"{type(error).__name__}: {error}") from error
        return {
            "Id": f"jr_local_{arguments['--run_id']}",
            "JobRunState": "SUCCEEDED",
            "ExecutionTime": round(time.monotonic() - started),
        }

    def start_query(parameters: dict[str, Any]) -> dict[str, Any]:
        from lakepipe_cli.athena_local import LocalAthena  # noqa: PLC0415 - DuckDB only when needed

        # Each execution parameter is SQL literal text ('2026-11-20' with its quotes), spliced in as Athena does.
        query_id = str(uuid.uuid4())
        try:
            with LocalAthena(lake) as athena:
                answer = athena.execute(parameters["QueryString"], parameters.get("ExecutionParameters", []))
            queries[query_id] = {"state": "SUCCEEDED", "columns": answer.columns, "rows": answer.rows}
        except Exception as error:
            queries[query_id] = {"state": "FAILED", "reason": str(error)}
        return {"QueryExecutionId": query_id}

    def query_state(parameters: dict[str, Any]) -> dict[str, Any]:
        query = queries[parameters["QueryExecutionId"]]
        return {"QueryExecution": {"Status": {"State": query["state"], "StateChangeReason": query.get("reason", "")}}}

    def query_results(parameters: dict[str, Any]) -> dict[str, Any]:
        query = queries[parameters["QueryExecutionId"]]
        result.validation = dict(zip(query["columns"], query["rows"][0], strict=True))
        header = {"Data": [{"VarCharValue": column} for column in query["columns"]]}
        rows = [{"Data": [_athena_cell(value) for value in row]} for row in query["rows"]]
        return {"ResultSet": {"Rows": [header, *rows]}}

    def notify(parameters: dict[str, Any]) -> dict[str, Any]:
        message = parameters["Message"]
        response = boto3.client("sns").publish(
            TopicArn=parameters["TopicArn"], Subject=parameters["Subject"], Message=json.dumps(message, default=str)
        )
        return {"MessageId": response["MessageId"]}

    def put_metric_data(parameters: dict[str, Any]) -> dict[str, Any]:
        boto3.client("cloudwatch").put_metric_data(**parameters)  # the moto server's CloudWatch
        return {}

    return {
        "arn:aws:states:::lambda:invoke": ingest,
        "arn:aws:states:::aws-sdk:cloudwatch:putMetricData": put_metric_data,
        "arn:aws:states:::glue:startJobRun.sync": glue_job,
        "arn:aws:states:::athena:startQueryExecution": start_query,
        "arn:aws:states:::athena:getQueryExecution": query_state,
        "arn:aws:states:::athena:getQueryResults": query_results,
        "arn:aws:states:::athena:stopQueryExecution": lambda parameters: {},
        "arn:aws:states:::sns:publish": notify,
    }


def _athena_cell(value: Any) -> dict[str, str]:
    """A result cell as Athena's GetQueryResults gives it: text, booleans lower-case, NULL as an empty cell."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"VarCharValue": "true" if value else "false"}
    return {"VarCharValue": str(value)}


def _download(stack: LocalStack, prefix: str, lake: Path) -> None:
    """Mirror the objects under ``prefix`` into the local lake (Spark and DuckDB read local paths here)."""
    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            target = lake / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(stack.bucket, item["Key"], str(target))


def _run_glue_job(lake: Path, run_id: str, ingest_date: str) -> dict[str, Any]:
    """The real Glue script's run_job on local Spark, with the template's default lookback."""
    import importlib.util  # noqa: PLC0415
    from dataclasses import asdict  # noqa: PLC0415

    from lakepipe_cli.spark_local import local_spark_session  # noqa: PLC0415 - starts a JVM

    spec = importlib.util.spec_from_file_location("weather_etl", GLUE_SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {GLUE_SCRIPT}")
    weather_etl = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = weather_etl  # its dataclasses look their module up while it is being executed
    spec.loader.exec_module(weather_etl)
    arguments = weather_etl.validated_arguments(
        {
            "run_id": run_id,
            "ingest_date": ingest_date,
            "landing_path": str(lake / "landing" / "weather" / "source=open-meteo"),
            "refined_path": str(lake / "refined" / "weather_hourly"),
            "rejects_path": str(lake / "refined" / "weather_rejects"),
            "lookback_days": _template_lookback_days(),
        }
    )
    spark = local_spark_session("lakepipe-demo")
    summary = weather_etl.run_job(spark, arguments, processed_at=datetime.now(UTC))
    summary_dict: dict[str, Any] = asdict(summary)
    return summary_dict


def _template_lookback_days() -> str:
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

    template = yaml_parse((REPO_ROOT / "template.yaml").read_text())
    return str(template["Parameters"]["GlueLookbackDays"]["Default"])


# ---------------------------------------------------------------- results


def _daily_metrics(lake: Path) -> list[dict[str, Any]]:
    from lakepipe_cli.athena_local import LocalAthena  # noqa: PLC0415

    with LocalAthena(lake) as athena:
        return athena.execute('SELECT * FROM daily_weather_by_city ORDER BY city, "date"').records()


def _chart(daily: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    cities = sorted({row["city"] for row in daily})
    days = sorted({row["date"] for row in daily})
    figure, (temperature_axis, rain_axis) = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    width = 0.8 / max(len(cities), 1)
    for index, city in enumerate(cities):
        rows = {row["date"]: row for row in daily if row["city"] == city}
        positions = [days.index(day) for day in rows]
        temperature_axis.plot(positions, [row["mean_temperature_c"] for row in rows.values()], marker="o", label=city)
        temperature_axis.fill_between(
            positions,
            [row["min_temperature_c"] for row in rows.values()],
            [row["max_temperature_c"] for row in rows.values()],
            alpha=0.12,
        )
        rain_axis.bar(
            [position - 0.4 + width * (index + 0.5) for position in positions],
            [row["precipitation_mm"] for row in rows.values()],
            width=width,
            label=city,
        )
    temperature_axis.set_ylabel("temperature °C (mean, min-max band)")
    temperature_axis.legend(loc="upper right", ncols=len(cities))
    temperature_axis.grid(alpha=0.3)
    rain_axis.set_ylabel("precipitation mm / day")
    rain_axis.set_xticks(range(len(days)), days)
    rain_axis.grid(alpha=0.3, axis="y")
    figure.suptitle("lakepipe demo — refined weather_hourly, daily per city (UTC)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _summary_document(result: DemoResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "csv": [
            {
                "key": o.sample.key,
                "rows_in": o.rows_in,
                "rows_out": o.rows_out,
                "rows_quarantined": o.rows_quarantined,
                "output_key": o.output_key,
                "quarantined_lines": list(o.quarantined_lines),
                "as_expected": o.as_expected,
            }
            for o in result.csv
        ],
        "duplicate_delivery_ignored": result.duplicate_delivery_ignored,
        "weather_source": result.weather_source,
        "manifest": result.manifest,
        "glue": result.glue_summary,
        "validation": result.validation,
        "states": [{"state": s, "outcome": o, "seconds": round(t, 2)} for s, o, t in result.states],
        "pipeline_status": result.pipeline_status,
        "pipeline_error": result.pipeline_error,
        "daily": result.daily,
        "traces": [
            {
                "function": t.function_name,
                "trace_id": t.trace_id,
                "document": str(t.document),
                "waterfall": str(t.waterfall),
                "subsegments": t.subsegments,
                "missing": t.missing,
            }
            for t in result.traces
        ],
    }


def print_summary(result: DemoResult, console: Console) -> None:
    csv_table = Table(title="CSV → Parquet (CsvToParquetFunction)")
    for column in ("file", "dialect", "dataset", "rows in", "rows out", "quarantined", "bad lines", "check"):
        csv_table.add_column(column, justify="right" if column.startswith(("rows", "quar")) else "left")
    for outcome in result.csv:
        csv_table.add_row(
            outcome.sample.key,
            outcome.sample.description,
            outcome.sample.dataset,
            str(outcome.rows_in),
            str(outcome.rows_out),
            str(outcome.rows_quarantined),
            ", ".join(map(str, outcome.quarantined_lines)) or "-",
            "✓" if outcome.as_expected else "✗ unexpected",
        )
    console.print(csv_table)

    stages = Table(title=f"Weather pipeline ({result.weather_source})")
    for column in ("state", "outcome", "seconds"):
        stages.add_column(column)
    for state_name, state_outcome, seconds in result.states:
        stages.add_row(state_name, state_outcome, f"{seconds:.1f}")
    console.print(stages)

    if result.glue_summary:
        rows = Table(title="Rows per stage")
        rows.add_column("stage")
        rows.add_column("count", justify="right")
        landed = [city for city in result.manifest.get("cities", []) if city.get("status") == "ok"]
        rows.add_row("landing objects (one per city)", str(len(landed)))
        rows.add_row("hourly rows read by the Glue job", str(result.glue_summary.get("hours_read")))
        rows.add_row("hourly rows rejected (with reason)", str(result.glue_summary.get("hours_rejected")))
        rows.add_row("refined rows in the partitions written", str(result.glue_summary.get("refined_rows_written")))
        rows.add_row("(date, city) partitions written", str(result.glue_summary.get("partitions_written")))
        console.print(rows)
    if result.validation:
        checks = Table(title="Validation (sql/validation/validate_weather_run.sql on DuckDB)")
        checks.add_column("measure")
        checks.add_column("value", justify="right")
        for name, value in result.validation.items():
            checks.add_row(name, str(value))
        console.print(checks)
    if result.daily:
        daily = Table(title="Daily weather by city (view daily_weather_by_city)")
        for column in ("city", "date", "hours", "min °C", "mean °C", "max °C", "rain mm", "max wind km/h"):
            daily.add_column(column, justify="left" if column in {"city", "date"} else "right")
        for row in result.daily:
            daily.add_row(
                row["city"],
                str(row["date"]),
                str(row["hours"]),
                str(row["min_temperature_c"]),
                str(row["mean_temperature_c"]),
                str(row["max_temperature_c"]),
                str(row["precipitation_mm"]),
                str(row["max_wind_speed_kmh"]),
            )
        console.print(daily)
    if result.traces:
        _print_traces(result, console)
    verdict = "[bold green]demo passed[/]" if result.ok else "[bold red]demo FAILED[/]"
    console.print(
        f"{verdict} in {result.seconds:.0f} s — chart: {result.chart or 'not written'}, "
        f"lake: {result.output_dir / 'lake'}, function logs: {result.output_dir / 'logs'}, "
        f"traces: {result.output_dir / 'traces'}"
    )


def _print_traces(result: DemoResult, console: Console) -> None:
    from lakepipe_cli.trace_waterfall import print_terminal_view  # noqa: PLC0415
    from lakepipe_cli.xray_local import Trace  # noqa: PLC0415

    traces = Table(title="X-Ray traces (one per invocation; waterfalls in traces/*.png)")
    for column in ("function", "trace id", "subsegments", "check"):
        traces.add_column(column, justify="right" if column == "subsegments" else "left")
    for report in result.traces:
        check = "✓" if report.ok else "✗ missing: " + ", ".join(report.missing)
        traces.add_row(report.function_name, report.trace_id, str(report.subsegments), check)
    console.print(traces)
    shown = {report.function_name: report for report in reversed(result.traces) if report.trace_id}
    for report in sorted(shown.values(), key=lambda shown_report: shown_report.document.name):
        print_terminal_view(Trace.read(report.document), console)
