"""`lakepipe quarantine show|fetch`: the records the CSV function quarantined, and their full raw bytes.

    lakepipe quarantine show users --stack-name lakepipe-dev                      # every object of dataset users
    lakepipe quarantine show users --source input/users/2026-11.csv --json --bucket <DataBucketName>
    lakepipe quarantine fetch users --source input/users/2026-11.csv --line 7 --out line7.csv --stack-name lakepipe-dev

``show`` lists each source object's quarantined records (line, reason, column and value, a preview) under its
summary: rows in, out and quarantined, and the byte reconciliation (every decompressed byte is header, converted,
quarantined or skipped). ``fetch`` writes the records' exact bytes, as they are in the source object version the
function converted, to stdout or ``--out``: all of the object's quarantined records in source order, or those of
the ``--line`` numbers given. A plain CSV costs one ranged GET per record; a gzip one a read of the object from its
start to the last record asked for. S3 is reached with the default credentials (or ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from lakepipe_cli.stack_outputs import StackOutputError, required_output, stack_outputs

if TYPE_CHECKING:
    from lakepipe_cli.quarantine_store import QuarantinedObject

PREVIEW_CHARS = 60
USAGE_ERROR = 2


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "quarantine",
        help="show the CSV records a conversion quarantined, or fetch their exact bytes from the source",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="a dataset's (or one object's) quarantined records and summary totals")
    _common(show)
    show.add_argument("--json", action="store_true", help="print summaries and records as JSON")
    show.set_defaults(run=run_show)
    fetch = actions.add_parser("fetch", help="the raw bytes of an object's quarantined records, exactly")
    _common(fetch, source_required=True)
    fetch.add_argument("--line", type=int, action="append", default=[], help="only this record (repeatable)")
    fetch.add_argument("--out", type=Path, help="write to this file (default: stdout)")
    fetch.set_defaults(run=run_fetch)


def _common(parser: argparse.ArgumentParser, *, source_required: bool = False) -> None:
    parser.add_argument("dataset", help="the dataset (its table name, e.g. users)")
    parser.add_argument("--source", required=source_required, help="the source object's key (input/…)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--bucket", help="the data bucket (Output DataBucketName)")
    where.add_argument("--stack-name", help="read the data bucket from this stack's Outputs")
    parser.add_argument("--region", help="the stack's region (default: the SDK's)")


def _quarantine(args: argparse.Namespace) -> tuple[Any, str, list[QuarantinedObject]]:
    from lakepipe_cli.quarantine_store import quarantined_objects  # noqa: PLC0415 - pyarrow, only when it runs

    session = boto3.Session(region_name=args.region)
    bucket = args.bucket or required_output(
        stack_outputs(args.stack_name, session=session), "DataBucketName", args.stack_name
    )
    s3 = session.client("s3")
    return s3, bucket, quarantined_objects(s3, bucket, args.dataset, source_key=args.source)


def run_show(args: argparse.Namespace) -> int:
    from lakepipe_cli.quarantine_store import QuarantineError  # noqa: PLC0415 - pyarrow, only when it runs

    try:
        _, bucket, objects = _quarantine(args)
    except (QuarantineError, StackOutputError) as error:
        print(f"lakepipe quarantine: {error}", file=sys.stderr)
        return USAGE_ERROR
    if args.json:
        document = {
            "bucket": bucket,
            "dataset": args.dataset,
            "objects": [{"summary": quarantined.summary, "records": quarantined.records} for quarantined in objects],
        }
        print(json.dumps(document, indent=2, default=str))
    else:
        _print_objects(bucket, args.dataset, objects)
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from lakepipe_cli.quarantine_store import QuarantineError, fetch_records  # noqa: PLC0415 - pyarrow

    try:
        s3, bucket, (quarantined,) = _quarantine(args)
        records = quarantined.records
        if args.line:
            records = [record for record in records if record["line"] in set(args.line)]
            missing = sorted(set(args.line) - {record["line"] for record in records})
            if missing:
                raise QuarantineError(f"no quarantined record starts at line(s) {missing} of {quarantined.source_key}")
        if not records:
            raise QuarantineError(f"{quarantined.source_key} has no quarantined records ({_status(quarantined)})")
        if args.out is None:
            written = fetch_records(s3, bucket, quarantined, records, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with args.out.open("wb") as out:
                written = fetch_records(s3, bucket, quarantined, records, out)
    except (QuarantineError, StackOutputError) as error:
        print(f"lakepipe quarantine: {error}", file=sys.stderr)
        return USAGE_ERROR
    except (ClientError, BotoCoreError) as error:
        print(f"lakepipe quarantine: {error}", file=sys.stderr)
        return 1
    where = args.out or "stdout"
    print(f"{len(records)} record(s), {written} bytes of {quarantined.source_key} written to {where}", file=sys.stderr)
    return 0


def _status(quarantined: QuarantinedObject) -> str:
    summary = quarantined.summary
    reason = f": {summary['reason']}" if summary.get("reason") else ""
    return f"{summary.get('status')}{reason}"


def _reconciliation(figures: dict[str, int] | None) -> str:
    """The summary's byte ledger as one sum, and whether it adds up to the bytes read."""
    if not figures:
        return "no byte figures (the file was rejected before it was read)"
    parts = ("bom", "preamble", "header", "converted", "quarantined", "skipped")
    accounted = sum(int(figures.get(f"bytes_{part}", 0)) for part in parts)
    read = int(figures.get("bytes_read", 0))
    terms = " + ".join(f"{int(figures.get(f'bytes_{part}', 0)):,} {part}" for part in parts)
    verdict = "reconciles" if accounted == read else f"DOES NOT RECONCILE ({accounted:,} accounted)"
    return f"{read:,} bytes read = {terms}: {verdict}"


def _preview(text: str) -> str:
    """A one-line, printable preview (control characters shown escaped, as the terminal would mangle them)."""
    shown = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return shown if len(shown) <= PREVIEW_CHARS else shown[: PREVIEW_CHARS - 1] + "…"


def _print_objects(bucket: str, dataset: str, objects: list[QuarantinedObject], file: IO[str] | None = None) -> None:
    from rich.console import Console  # noqa: PLC0415 - only for the report
    from rich.table import Table  # noqa: PLC0415

    console = Console(file=file)
    if not objects:
        console.print(f"nothing quarantined in dataset {dataset} (s3://{bucket}/quarantine/summaries/{dataset}/)")
        return
    for quarantined in objects:
        summary = quarantined.summary
        version = f" (version {quarantined.version_id})" if quarantined.version_id else ""
        console.print(f"[bold]s3://{bucket}/{quarantined.source_key}[/]{version}: {_status(quarantined)}")
        console.print(
            f"  rows: {summary.get('rows_in', 0):,} in, {summary.get('rows_out', 0):,} converted, "
            f"{summary.get('rows_quarantined', 0):,} quarantined"
        )
        console.print(f"  bytes: {_reconciliation(summary.get('bytes'))}")
        if not quarantined.records:
            continue
        table = Table("line", "bytes", "reason", "column = value", "preview")
        for record in quarantined.records:
            column = f"{record['column']} = {record['value']!r}" if record.get("column") else ""
            table.add_row(
                str(record["line"]),
                f"{int(record['byte_length']):,}",
                f"{record['reason_code']}: {record['reason']}",
                column,
                _preview(record["raw_preview"]),
            )
        console.print(table)
