"""Issue 11's table cases through the real handler on moto: no single file can make a table worse for the next.

Each case is the attack the issue measured (column bombs, colliding folders, type drift, decompression and
quarantine bombs), replayed on the moto server through ``lambda_handler`` with the function's environment.
Expected values come from the files themselves (Python's ``csv`` module, ``gzip``), the Glue catalog as moto
keeps it, and the metrics the handler prints as EMF, never from the converter's own report alone.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import resource
from typing import Any

import boto3
import pytest

from lakepipe.adapters.aws import reset_clients
from lakepipe.handlers.csv_to_parquet import lambda_handler
from lakepipe_cli.local_aws import LocalStack
from tests.integration.csv.s3_events import (
    LambdaContext,
    csv_tables,
    glue_columns,
    keys_under,
    put_object,
    quarantined_records,
    read_output,
    s3_put_event,
)

pytestmark = pytest.mark.integration


def convert(bucket: str, key: str, body: bytes) -> dict[str, Any]:
    """Upload ``body`` at ``key`` and hand its S3 event to the handler; the one report."""
    result = lambda_handler(s3_put_event(put_object(bucket, key, body)), LambdaContext())
    assert result["batchItemFailures"] == []  # rejected or converted: either way the message is done
    (report,) = result["reports"]
    return dict(report)


def summary_of(bucket: str, report: dict[str, Any]) -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=bucket, Key=report["quarantine_key"])["Body"].read()
    return dict(json.loads(body))


def rejections_printed(output: str) -> list[str]:
    """The ``reason`` dimension of every FilesRejectedByReason metric the handler printed (EMF, one JSON a line)."""
    reasons = []
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        names = {metric["Name"] for block in document["_aws"]["CloudWatchMetrics"] for metric in block["Metrics"]}
        if "FilesRejectedByReason" in names:
            reasons.append(document["reason"])
    return reasons


def rows_by_csv_module(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))[1:]


# ------------------------------------------------------------------------------------------------ column bombs
def test_files_with_ten_thousand_columns_are_rejected_and_the_table_keeps_its_three(
    local_aws: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a shared table of 3 columns, then two one-row files with 10,001 column names each (the issue: the table
    # grew to 20,003 columns for good, and the next 100k-row file took 11-33 s instead of 0.27 s)
    normal = b"id,city,temperature\n1,Paris,12.5\n2,Lyon,9.0\n"
    assert convert(local_aws.bucket, "input/shared/normal.csv", normal)["status"] == "converted"
    capsys.readouterr()
    reports = []
    for bomb in ("a", "b"):
        names = ",".join(f"{bomb}{number}" for number in range(10_001))
        values = ",".join("1" for _ in range(10_001))
        reports.append(convert(local_aws.bucket, f"input/shared/bomb-{bomb}.csv", f"{names}\n{values}\n".encode()))

    # Then both are rejected for the table guard, the table still has its 3 columns and no bomb wrote Parquet
    assert [(report["status"], report["error_code"]) for report in reports] == [("rejected", "table_guard")] * 2
    assert "CsvMaxNewColumns" in reports[0]["reason"] or "new columns" in reports[0]["reason"]
    assert glue_columns(local_aws.database, "shared") == [
        ("id", "bigint"),
        ("city", "string"),
        ("temperature", "double"),
    ]
    assert [key for key in keys_under(local_aws.bucket, "database/shared/") if "bomb" in key] == []
    assert rejections_printed(capsys.readouterr().out) == ["table_guard", "table_guard"]

    # And the next normal file converts into the 3-column table with its own rows
    following = b"id,city,temperature\n3,Nice,15.5\n"
    report = convert(local_aws.bucket, "input/shared/following.csv", following)
    assert (report["status"], report["rows_out"], report["columns_added"]) == ("converted", 1, [])
    output = read_output(local_aws.bucket, report["output_key"])
    assert output.column_names == ["id", "city", "temperature"]


def test_a_column_name_longer_than_glues_limit_rejects_the_file_before_any_table_exists(local_aws: LocalStack) -> None:
    # Given a header whose second name has 256 characters (Glue's column-name limit is 255)
    body = ("id," + "x" * 256 + "\n1,2\n").encode()

    report = convert(local_aws.bucket, "input/wide_names/f.csv", body)

    # Then the file is rejected and no table is created
    assert (report["status"], report["error_code"]) == ("rejected", "table_guard")
    assert "wide_names" not in csv_tables(local_aws.database)


# ------------------------------------------------------------------------------------------------ dataset names
def test_folders_that_fold_to_one_name_are_refused_not_merged_and_non_latin_folders_get_their_own_tables(
    local_aws: LocalStack,
) -> None:
    # Given three folders that clean to "sales_data", each with its own schema, then folders with no Latin letters
    # (the issue: all three shared one table; 日本, Ελλάδα and .. all landed in a table named "dataset")
    folders = {"Sales Data": b"a,b\n1,2\n", "sales-data": b"c,d\n3,4\n", "SALES_DATA": b"e\n5\n"}
    reports = {folder: convert(local_aws.bucket, f"input/{folder}/f.csv", body) for folder, body in folders.items()}
    others = {
        folder: convert(local_aws.bucket, f"input/{folder}/f.csv", b"x,y\n1,2\n") for folder in ("日本", "Ελλάδα", "..")
    }

    # Then the first folder owns sales_data with its own columns; the two others are refused, the table unchanged
    assert (reports["Sales Data"]["status"], reports["Sales Data"]["table"]) == ("converted", "sales_data")
    for folder in ("sales-data", "SALES_DATA"):
        assert (reports[folder]["status"], reports[folder]["error_code"]) == ("rejected", "dataset_collision")
        assert "Sales Data" in reports[folder]["reason"]
    assert glue_columns(local_aws.database, "sales_data") == [("a", "bigint"), ("b", "bigint")]
    # And each non-Latin folder converted into a table of its own, stable and distinct
    tables = {folder: report["table"] for folder, report in others.items()}
    assert all(report["status"] == "converted" for report in others.values())
    assert len(set(tables.values())) == 3
    assert all(name.startswith("dataset_") for name in tables.values())
    assert convert(local_aws.bucket, "input/日本/g.csv", b"x,y\n3,4\n")["table"] == tables["日本"]


# -------------------------------------------------------------------------------------------------- type drift
def test_a_new_table_follows_the_whole_file_when_integers_turn_to_text_after_the_sample(local_aws: LocalStack) -> None:
    # Given a new dataset whose "code" column holds integers for the first ~2 MB, then text (the issue: the remaining
    # 100,000 valid rows were quarantined)
    rows = [f"{number},{number * 7}\n" for number in range(1, 200_001)]
    rows += [f"{number},C-{number}\n" for number in range(200_001, 300_001)]
    body = ("id,code\n" + "".join(rows)).encode()

    report = convert(local_aws.bucket, "input/drift_new/f.csv", body)

    # Then every row is in the table, nothing quarantined, and the column is text in Parquet and in Glue
    assert (report["status"], report["rows_out"], report["rows_quarantined"]) == ("converted", 300_000, 0)
    assert glue_columns(local_aws.database, "drift_new") == [("id", "bigint"), ("code", "string")]
    output = read_output(local_aws.bucket, report["output_key"])
    assert output.column("code").to_pylist()[::50_000] == [row[1] for row in rows_by_csv_module(body)][::50_000]


def test_decimals_arriving_in_an_existing_bigint_column_are_quarantined_with_a_drift_summary_not_the_whole_file(
    local_aws: LocalStack,
) -> None:
    # Given an existing table whose "amount" is bigint, then a file where 3 of 1,000 amounts are decimals (the issue:
    # the whole file was rejected)
    assert convert(local_aws.bucket, "input/drift_old/a.csv", b"id,amount\n1,10\n2,20\n")["status"] == "converted"
    amounts = {line: f"{line}.5" for line in (101, 502, 903)}
    lines = [f"{number},{amounts.get(number + 1, number)}\n" for number in range(1, 1001)]
    body = ("id,amount\n" + "".join(lines)).encode()

    report = convert(local_aws.bucket, "input/drift_old/b.csv", body)

    # Then the 997 integer rows convert, the 3 decimals are quarantined at their lines, the column stays bigint
    # (Athena reads every file under the table with its declared type), and the drift names the wider type
    assert (report["status"], report["rows_out"], report["rows_quarantined"]) == ("converted", 997, 3)
    assert glue_columns(local_aws.database, "drift_old") == [("id", "bigint"), ("amount", "bigint")]
    assert sorted(record["line"] for record in quarantined_records(local_aws.bucket, report)) == sorted(amounts)
    (drift,) = summary_of(local_aws.bucket, report)["drift"]
    assert (drift["column"], drift["declared_type"], drift["count"]) == ("amount", "bigint", 3)
    assert (drift["found_kinds"], drift["first_lines"]) == (["double"], sorted(amounts))
    assert report["drift"] == [drift]


# ------------------------------------------------------------------------------------------------------- bombs
def test_a_gzip_bomb_is_rejected_at_the_decompression_limit_in_bounded_memory(
    local_aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a 1 MiB CsvMaxDecompressedBytes and a .csv.gz of a few KB that expands to 64 MiB (the issue: a 47 MB
    # file expanding to 16 GB was converted in full, 505M rows)
    monkeypatch.setenv("CSV_MAX_DECOMPRESSED_BYTES", str(1024 * 1024))
    reset_clients()
    expanded = b"id,value\n" + b"1,2\n" * (16 * 1024 * 1024)
    bomb = gzip.compress(expanded, compresslevel=9)
    assert len(bomb) < 100_000
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    report = convert(local_aws.bucket, "input/bombs/expanding.csv.gz", bomb)

    # Then it is rejected as too large, nothing is published, and the process did not grow by the expansion
    assert (report["status"], report["error_code"]) == ("rejected", "too_large")
    assert keys_under(local_aws.bucket, "database/bombs/") == []
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mib < 48  # the expansion is 64 MiB; ru_maxrss is in KiB on Linux


def test_a_bad_row_bomb_stops_at_the_quarantine_limit(local_aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a 64 KiB CsvMaxQuarantinedBytes, an existing bigint table, and a file whose 50,000 rows all refuse it
    # (the issue: a 23 KB bad-row bomb wrote 206 MB of quarantine at 1 GB of memory)
    assert convert(local_aws.bucket, "input/rowbomb/a.csv", b"id,n\n1,1\n")["status"] == "converted"
    monkeypatch.setenv("CSV_MAX_QUARANTINED_BYTES", str(64 * 1024))
    reset_clients()
    body = b"id,n\n" + b"".join(b"%d,x%d\n" % (number, number) for number in range(50_000))

    report = convert(local_aws.bucket, "input/rowbomb/b.csv", body)

    # Then the file is rejected for too many rejects and its quarantine is not kept as if it had converted
    assert (report["status"], report["error_code"]) == ("rejected", "too_many_rejects")
    assert [key for key in keys_under(local_aws.bucket, "database/rowbomb/") if "/b-" in key] == []
    rows_keys = [key for key in keys_under(local_aws.bucket, "quarantine/rows/rowbomb/") if "/b-" in key]
    sizes = [boto3.client("s3").head_object(Bucket=local_aws.bucket, Key=key)["ContentLength"] for key in rows_keys]
    assert sum(sizes) < 1024 * 1024
