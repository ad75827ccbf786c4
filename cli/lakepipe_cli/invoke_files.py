"""`lakepipe invoke-files`: what `sam local invoke` needs to run a function against a stack, written to a folder.

- ``env.json`` for ``--env-vars``: per function, the variables that say where the stack is (bucket, tables,
  database, ``AWS_ENDPOINT_URL``), from the stack's Outputs. SAM CLI passes only variables the template declares,
  and the template declares all of these (``AWS_ENDPOINT_URL`` empty, meaning AWS itself).
- ``events/<file>.json``: each event of ``events/`` with its placeholders filled in for the stack: every S3
  notification in it (at the top level or inside an SQS message body) names the stack's bucket and the real
  size, ETag and version of the object it names, and the stack's region.

Against a deployed stack (``--stack-name``) the objects the events name must exist (upload them first); against
the local stack (``--local``), a moto server on 127.0.0.1 is started with the template's resources, the sample
CSV is uploaded under each key the events name, and Open-Meteo is answered by the recorded response, until Ctrl-C.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import signal
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests

from lakepipe_cli.local_aws import LOCAL_REGION, LocalStack, local_aws_environment, moto_server, provision_from_template
from lakepipe_cli.open_meteo_standin import recorded_forecast_api

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = REPO_ROOT / "events"
SAMPLE_CSV = REPO_ROOT / "tests" / "fixtures" / "csv" / "users.csv"
DEFAULT_OUT = Path("build/local")
# Which stack Output gives each variable that says where the stack is (the Globals of template.yaml).
VARIABLE_OUTPUTS = {"DATA_BUCKET": "DataBucketName", "IDEMPOTENCY_TABLE": "IdempotencyTableName",
                    "GLUE_DATABASE": "GlueDatabaseName"}  # fmt: skip
FUNCTIONS = ("CsvToParquetFunction", "IngestWeatherFunction")
# A function's own variables that reference a resource: `sam local invoke` cannot resolve those itself.
FUNCTION_VARIABLE_OUTPUTS = {
    "CsvToParquetFunction": {
        "CSV_EVENTS_QUEUE_URL": "CsvEventsQueueUrl",
        "CSV_DEAD_LETTER_QUEUE_URL": "CsvEventsDeadLetterQueueUrl",
    },
}


@dataclass(frozen=True)
class ObjectFacts:
    """What an S3 notification says about the object it announces."""

    size: int
    etag: str
    version_id: str | None


def s3_objects_named(event: Any) -> list[tuple[str, str]]:
    """(bucket, key) of every S3 notification record in ``event``, keys URL-decoded as S3 encodes them."""
    found: list[tuple[str, str]] = []

    def visit(record: dict[str, Any]) -> dict[str, Any]:
        s3 = record["s3"]
        found.append((s3["bucket"]["name"], urllib.parse.unquote_plus(s3["object"]["key"])))
        return record

    _map_s3_records(event, visit)
    return found


def fill_event(
    event: Any, *, bucket: str, region: str, objects: Mapping[str, ObjectFacts], queue_arn: str | None = None
) -> Any:
    """``event`` naming ``bucket``, ``region`` and the facts of each object it names (see the module docstring)."""

    def fill(record: dict[str, Any]) -> dict[str, Any]:
        record = copy.deepcopy(record)
        s3 = record["s3"]
        key = urllib.parse.unquote_plus(s3["object"]["key"])
        if key not in objects:
            raise KeyError(f"the event names s3://{bucket}/{key}, which is not in the stack")
        facts = objects[key]
        record["awsRegion"] = region
        s3["bucket"].update({"name": bucket, "arn": f"arn:aws:s3:::{bucket}"})
        s3["object"].update({"size": facts.size, "eTag": facts.etag})
        s3["object"].pop("versionId", None)
        if facts.version_id:
            s3["object"]["versionId"] = facts.version_id
        return record

    filled = _map_s3_records(event, fill)
    for record in filled.get("Records", []) if isinstance(filled, dict) else []:
        if record.get("eventSource") == "aws:sqs":
            record["awsRegion"] = region
            record["md5OfBody"] = hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
            if queue_arn:
                record["eventSourceARN"] = queue_arn
    return filled


def _map_s3_records(node: Any, change: Any) -> Any:
    """``node`` with ``change`` applied to each S3 notification record, also inside JSON strings (SQS bodies)."""
    if isinstance(node, dict):
        s3 = node.get("s3")
        if isinstance(s3, dict) and {"bucket", "object"} <= s3.keys():
            return change(node)
        return {key: _map_s3_records(value, change) for key, value in node.items()}
    if isinstance(node, list):
        return [_map_s3_records(item, change) for item in node]
    if isinstance(node, str) and node.lstrip().startswith("{"):
        try:
            parsed = json.loads(node)
        except json.JSONDecodeError:
            return node
        mapped = _map_s3_records(parsed, change)
        return node if mapped == parsed else json.dumps(mapped)
    return node


def object_facts(s3: Any, bucket: str, key: str) -> ObjectFacts:
    head = s3.head_object(Bucket=bucket, Key=key)
    version = head.get("VersionId")
    return ObjectFacts(int(head["ContentLength"]), str(head["ETag"]).strip('"'), None if version == "null" else version)


def sam_env_vars(
    outputs: Mapping[str, Any], endpoint_url: str, extra: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """The ``--env-vars`` document: per function, where the stack is (plus ``extra`` per function)."""
    where = {variable: str(outputs[output]) for variable, output in VARIABLE_OUTPUTS.items()}

    def own(function: str) -> dict[str, str]:
        variables = FUNCTION_VARIABLE_OUTPUTS.get(function, {})
        return {variable: str(outputs[output]) for variable, output in variables.items() if output in outputs}

    return {fn: {"AWS_ENDPOINT_URL": endpoint_url, **where, **own(fn), **extra.get(fn, {})} for fn in FUNCTIONS}


def write_invoke_files(
    out: Path,
    *,
    outputs: Mapping[str, Any],
    region: str,
    endpoint_url: str,
    s3: Any,
    extra_variables: Mapping[str, Mapping[str, str]] | None = None,
    queue_arn: str | None = None,
) -> list[Path]:
    """Write ``env.json`` and every filled event of ``events/`` under ``out``; returns the files written."""
    bucket = str(outputs["DataBucketName"])
    (out / "events").mkdir(parents=True, exist_ok=True)
    env_file = out / "env.json"
    env_file.write_text(json.dumps(sam_env_vars(outputs, endpoint_url, extra_variables or {}), indent=2) + "\n")
    written = [env_file]
    for source in sorted(EVENTS_DIR.glob("*.json")):
        event = json.loads(source.read_text())
        objects = {key: object_facts(s3, bucket, key) for _, key in s3_objects_named(event)}
        filled = fill_event(event, bucket=bucket, region=region, objects=objects, queue_arn=queue_arn)
        target = out / "events" / source.name
        target.write_text(json.dumps(filled, indent=2) + "\n")
        written.append(target)
    return written


def upload_named_objects(s3: Any, bucket: str, body: bytes) -> list[str]:
    """Put ``body`` under every key the events of ``events/`` name (the local stack starts empty)."""
    keys = sorted(
        {key for source in EVENTS_DIR.glob("*.json") for _, key in s3_objects_named(json.loads(source.read_text()))}
    )
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return keys


@dataclass
class LocalInvokeStack:
    """The local stack `sam local invoke` runs against, and where its files are."""

    stack: LocalStack
    out: Path
    forecast_url: str
    files: list[Path]

    @property
    def env_file(self) -> Path:
        return self.out / "env.json"

    def event_file(self, name: str) -> Path:
        return self.out / "events" / name


def recorded_weather_variables(forecast_url: str) -> dict[str, str]:
    """IngestWeatherFunction's variables for the recorded Open-Meteo response: its URL, and the window it was
    recorded for (2 past and 2 forecast days around events/scheduled-event.json's date, as the demo asks)."""
    return {"OPEN_METEO_FORECAST_URL": forecast_url, "WEATHER_PAST_DAYS": "2", "WEATHER_FORECAST_DAYS": "2"}


@contextmanager
def local_invoke_stack(out: Path, sample_csv: Path = SAMPLE_CSV) -> Iterator[LocalInvokeStack]:
    """A moto server on 127.0.0.1 with the template's resources, the recorded Open-Meteo, and the files."""
    with ExitStack() as stack_context:
        endpoint = stack_context.enter_context(moto_server())
        # moto keeps its state per process, not per server: start from none (a previous stack's resources).
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        forecast_url = stack_context.enter_context(recorded_forecast_api())
        credentials = local_aws_environment(endpoint)
        previous = {name: os.environ.get(name) for name in credentials}
        os.environ.update(credentials)
        stack_context.callback(_restore_environment, previous)
        stack = provision_from_template(endpoint)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=LOCAL_REGION)
        upload_named_objects(s3, stack.bucket, sample_csv.read_bytes())
        files = write_invoke_files(
            out,
            outputs=stack.outputs,
            region=LOCAL_REGION,
            endpoint_url=endpoint,
            s3=s3,
            extra_variables={"IngestWeatherFunction": recorded_weather_variables(forecast_url)},
        )
        yield LocalInvokeStack(stack, out, forecast_url, files)


def _restore_environment(previous: Mapping[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def register(subcommands: Any) -> None:
    parser = subcommands.add_parser(
        "invoke-files",
        help="write the env file and filled events `sam local invoke` needs, for the local or a deployed stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="start the local stack (moto on 127.0.0.1) until Ctrl-C")
    where.add_argument("--stack-name", help="a deployed stack: read its Outputs (default AWS credentials)")
    parser.add_argument("--region", help="the deployed stack's region (default: the SDK's)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.stack_name:
        session = boto3.Session(region_name=args.region)
        (description,) = session.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"]
        outputs = {output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])}
        files = write_invoke_files(
            args.out, outputs=outputs, region=session.region_name, endpoint_url="", s3=session.client("s3")
        )
        _print_usage(files, args.out, local=False)
        return 0
    with local_invoke_stack(args.out) as local:
        _print_usage(local.files, args.out, local=True)
        print(f"Local stack: moto at {local.stack.endpoint_url}, Open-Meteo (recorded) at {local.forecast_url}.")
        print("Serving until Ctrl-C.", flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        with suppress(KeyboardInterrupt):
            stopped.wait()
    return 0


def _print_usage(files: list[Path], out: Path, *, local: bool) -> None:
    for path in files:
        print(f"wrote {path}")
    region = f" --region {LOCAL_REGION}" if local else ""
    event = out / "events" / "scheduled-event.json"
    print(f"then, for example:\n  sam local invoke IngestWeatherFunction -e {event} --env-vars {out}/env.json{region}")
