"""`lakepipe quarantine show|fetch` on moto, over what the real handler quarantined.

The file holds an unterminated quote, a NUL byte, a text value in a bigint column and a record of several MB that
does not fit its table. The expected bytes of each quarantined record are the file's own lines (it is split at its
line breaks here, not parsed by lakepipe), for a plain .csv (ranged GETs of the source version) and a .csv.gz with
a byte order mark (decompressed from the start).
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from lakepipe.adapters.aws import reset_clients
from lakepipe_cli.local_aws import LocalStack
from lakepipe_cli.main import main
from lakepipe_cli.quarantine_store import fetch_records, quarantined_objects
from tests.integration.csv_tools.hostile_csv import DATASET, HostileCsv, convert_with_contract, hostile_csv
from tests.integration.csv_tools.queues import drain_through_the_function

pytestmark = pytest.mark.integration


@pytest.fixture
def stack(local_aws: LocalStack) -> LocalStack:
    drain_through_the_function(local_aws)  # S3's test event, sent when the notification was configured
    return local_aws


def show(stack: LocalStack, capsys: pytest.CaptureFixture[str], *options: str) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["quarantine", "show", DATASET, "--bucket", stack.bucket, "--json", *options]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def fetch(stack: LocalStack, key: str, out: Path, *lines: int) -> int:
    options = [option for line in lines for option in ("--line", str(line))]
    return main(
        ["quarantine", "fetch", DATASET, "--source", key, "--bucket", stack.bucket, "--out", str(out), *options]
    )


@dataclass(frozen=True)
class Case:
    key: str
    compress: bool
    bom: bool
    record_limit: str | None  # CsvMaxRecordBytes, when not the default
    big_field_code: str  # what the record of several MB is quarantined as


CASES = [
    Case("input/events/2026-11.csv", compress=False, bom=False, record_limit=None, big_field_code="invalid_value"),
    # A record over CsvMaxRecordBytes is streamed past by the function (never held whole); gzip, with a BOM.
    Case(
        "input/events/2026-11.csv.gz", compress=True, bom=True, record_limit="1048576", big_field_code="record_too_long"
    ),
]


@pytest.mark.parametrize("case", CASES, ids=["csv", "csv.gz"])
def test_fetch_returns_the_exact_bytes_of_each_quarantined_record(
    stack: LocalStack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: Case,
) -> None:
    # Given a file of bad records converted by the real handler against an existing table's contract
    if case.record_limit:
        monkeypatch.setenv("CSV_MAX_RECORD_BYTES", case.record_limit)
        reset_clients()
    hostile: HostileCsv = hostile_csv(bom=case.bom, big_field_code=case.big_field_code)
    key = case.key
    body = gzip.compress(hostile.data) if case.compress else hostile.data
    report = convert_with_contract(stack, key, body)
    assert (report["status"], report["rows_quarantined"]) == ("converted", len(hostile.bad_lines))

    # When the dataset's quarantine is shown
    (quarantined,) = [entry for entry in show(stack, capsys)["objects"] if entry["summary"]["source"]["key"] == key]

    # Then it lists each bad record with its line and reason, and the summary's bytes are the file's own figures
    assert {record["line"]: record["reason_code"] for record in quarantined["records"]} == hostile.bad_lines
    figures = quarantined["summary"]["bytes"]
    assert figures["bytes_read"] == len(hostile.data)
    assert figures["bytes_header"] + figures["bytes_bom"] == len(hostile.line(1))
    assert figures["bytes_quarantined"] == sum(len(hostile.line(line)) for line in hostile.bad_lines)

    # When every quarantined record is fetched, then the big one alone
    assert fetch(stack, key, tmp_path / "all.csv") == 0
    assert fetch(stack, key, tmp_path / "big.csv", 7) == 0

    # Then the bytes are exactly the file's lines, in order, however long
    assert (tmp_path / "all.csv").read_bytes() == b"".join(hostile.line(line) for line in sorted(hostile.bad_lines))
    big = (tmp_path / "big.csv").read_bytes()
    assert big == hostile.line(7)
    assert len(big) > 5 * 1024 * 1024


def test_fetch_writes_to_stdout_and_refuses_a_line_with_no_record(
    stack: LocalStack, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    # Given a converted file with quarantined records
    hostile = hostile_csv()
    convert_with_contract(stack, "input/events/2026-11.csv", hostile.data)
    fetch_line = ["quarantine", "fetch", DATASET, "--source", "input/events/2026-11.csv", "--bucket", stack.bucket]

    # When two records are fetched to stdout
    capsysbinary.readouterr()
    assert main([*fetch_line, "--line", "5", "--line", "3"]) == 0

    # Then stdout holds exactly their bytes in source order, and the count goes to stderr
    output = capsysbinary.readouterr()
    assert output.out == hostile.line(3) + hostile.line(5)
    assert b"2 record(s)" in output.err

    # When a line that was converted (not quarantined) is asked for, it is refused with the line named
    assert main([*fetch_line, "--line", "2"]) == 2
    assert b"line(s) [2]" in capsysbinary.readouterr().err


def test_a_version_less_quarantine_is_fetched_while_the_object_is_unchanged_and_refused_after(
    stack: LocalStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a file converted from a notification naming no version (moto's, or `sam local invoke`'s event file)
    hostile = hostile_csv()
    assert convert_with_contract(stack, "input/events/2026-09.csv", b"id,name,amount\n1,a,1\n")["status"] == "converted"
    s3 = boto3.client("s3")
    s3.put_object(Bucket=stack.bucket, Key="input/events/2026-11.csv", Body=hostile.data)
    (report,) = drain_through_the_function(stack).reports
    assert report["version_id"] is None

    # Then its records are fetched from the current object, whose ETag is still the one converted
    assert fetch(stack, "input/events/2026-11.csv", tmp_path / "line4.csv", 4) == 0
    assert (tmp_path / "line4.csv").read_bytes() == hostile.line(4)

    # When the object is replaced (before its new conversion), the fetch is refused rather than return other bytes
    s3.put_object(Bucket=stack.bucket, Key="input/events/2026-11.csv", Body=b"id,name,amount\n" + b"9,x,9\n" * 100)
    capsys.readouterr()
    assert fetch(stack, "input/events/2026-11.csv", tmp_path / "stale.csv", 4) == 2
    assert "changed since it was converted" in capsys.readouterr().err


def test_show_prints_the_records_and_the_reconciliation(
    stack: LocalStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a converted file with quarantined records
    hostile = hostile_csv()
    convert_with_contract(stack, "input/events/2026-11.csv", hostile.data)

    # When its quarantine is shown as a table (wide enough not to wrap)
    monkeypatch.setenv("COLUMNS", "300")
    capsys.readouterr()
    assert main(["quarantine", "show", DATASET, "--source", "input/events/2026-11.csv", "--bucket", stack.bucket]) == 0
    text = capsys.readouterr().out

    # Then the summary line carries the file's byte count and the verdict, and a row per record with its reason
    assert f"{len(hostile.data):,} bytes read" in text
    assert "reconciles" in text
    for line, code in hostile.bad_lines.items():
        assert f"│ {line}" in text
        assert code in text
    assert "six,zeta,60" in text
    assert "\x00" not in text  # the NUL byte reaches the terminal as a replacement character, never raw
    # and an unknown object is refused, naming it
    assert main(["quarantine", "show", DATASET, "--source", "input/events/nope.csv", "--bucket", stack.bucket]) == 2


@pytest.mark.parametrize("compress", [False, True], ids=["csv", "csv.gz"])
def test_a_plain_source_is_read_by_ranges_of_its_version_and_a_gzip_one_from_its_start(
    stack: LocalStack, compress: bool
) -> None:
    # Given a converted file with quarantined records, and an S3 client that records every GetObject it sends
    hostile = hostile_csv()
    key = "input/events/2026-11.csv" + (".gz" if compress else "")
    convert_with_contract(stack, key, gzip.compress(hostile.data) if compress else hostile.data)
    s3 = boto3.client("s3")
    requests: list[dict[str, Any]] = []
    s3.meta.events.register("before-parameter-build.s3.GetObject", lambda params, **_: requests.append(dict(params)))
    (quarantined,) = quarantined_objects(s3, stack.bucket, DATASET, source_key=key)
    requests.clear()

    # When every record is fetched
    out = io.BytesIO()
    written = fetch_records(s3, stack.bucket, quarantined, quarantined.records, out)

    # Then the bytes are the lines', and the requests name the converted version
    assert out.getvalue() == b"".join(hostile.line(line) for line in sorted(hostile.bad_lines))
    assert written == len(out.getvalue())
    assert {request["VersionId"] for request in requests} == {quarantined.version_id}
    magic, *reads = [request.get("Range") for request in requests]
    assert magic == "bytes=0-1"  # the magic bytes, as the function tells gzip from plain
    if compress:
        assert reads == [None]  # one read from the start: gzip cannot be entered in the middle
    else:
        assert reads == [
            f"bytes={record['byte_offset']}-{record['byte_offset'] + record['byte_length'] - 1}"
            for record in quarantined.records
        ]


def test_the_bucket_is_read_from_the_stacks_outputs(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a CloudFormation stack (moto's) whose Outputs name the data bucket, and a converted file
    hostile = hostile_csv()
    convert_with_contract(stack, "input/events/2026-11.csv", hostile.data)
    template = {"Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"DataBucketName": {"Value": stack.bucket}}}  # fmt: skip
    boto3.client("cloudformation").create_stack(StackName="acme-weather-lake", TemplateBody=json.dumps(template))

    # When the quarantine is shown by stack name
    capsys.readouterr()
    assert main(["quarantine", "show", DATASET, "--stack-name", "acme-weather-lake", "--json"]) == 0

    # Then it is the stack's bucket's (the clean contract file left no quarantine)
    document = json.loads(capsys.readouterr().out)
    assert document["bucket"] == stack.bucket
    assert [entry["summary"]["source"]["key"] for entry in document["objects"]] == ["input/events/2026-11.csv"]
