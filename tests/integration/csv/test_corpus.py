"""Every file of the nasty-CSV corpus through the function on moto: converted, quarantined or rejected as it must."""

from __future__ import annotations

import gzip
import json

import boto3
import pytest

from lakepipe.domain.csv.quarantine import read_quarantine
from lakepipe.handlers.csv_to_parquet import lambda_handler
from lakepipe_cli.local_aws import LocalStack
from tests.fixtures.csv.corpus import CORPUS, CORPUS_SAMPLE_BYTES, CorpusCase
from tests.integration.csv.s3_events import LambdaContext, keys_under, put_object, s3_put_event
from tests.parquet import read_parquet

pytestmark = pytest.mark.integration


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 20
    assert len({case.name for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_corpus_file(local_aws: LocalStack, monkeypatch: pytest.MonkeyPatch, case: CorpusCase) -> None:
    # Given the file uploaded under input/, and types inferred from its first 4 KB only
    monkeypatch.setenv("CSV_SAMPLE_BYTES", str(CORPUS_SAMPLE_BYTES))
    s3 = boto3.client("s3")
    event = s3_put_event(put_object(local_aws.bucket, case.key, case.body))

    # When the function converts it
    (report,) = lambda_handler(event, LambdaContext())["reports"]

    # Then every row is accounted for, as the case expects
    assert report["status"] == case.status, report
    assert report["error_code"] == case.error_code
    assert report["rows_in"] == report["rows_out"] + report["rows_quarantined"]
    assert (report["rows_out"], report["rows_quarantined"]) == (case.rows_out, case.rows_quarantined)
    assert keys_under(local_aws.bucket, "tmp/") == []
    if case.rows_quarantined:
        summary = json.loads(s3.get_object(Bucket=local_aws.bucket, Key=report["quarantine_key"])["Body"].read())
        records_file = s3.get_object(Bucket=local_aws.bucket, Key=summary["quarantined_records_key"])["Body"].read()
        rejected = read_quarantine(records_file)
        assert tuple(row["line"] for row in rejected) == (case.rejected_lines or tuple(row["line"] for row in rejected))
        for row, fragment in zip(rejected, case.reasons, strict=False):
            assert fragment in row["reason"]
        # And each record is exactly the source's bytes at its offset (the decompressed source, for .gz)
        source = gzip.decompress(case.body) if case.body[:2] == b"\x1f\x8b" else case.body
        for row in rejected:
            raw = source[row["byte_offset"] : row["byte_offset"] + row["byte_length"]]
            assert raw.decode("utf-8", "replace").rstrip("\r\n").startswith(row["raw_preview"][:50])
    if case.status == "rejected":
        assert keys_under(local_aws.bucket, "database/") == []
        summary = json.loads(s3.get_object(Bucket=local_aws.bucket, Key=report["quarantine_key"])["Body"].read())
        assert summary["error_code"] == case.error_code
        assert summary["reason"] == report["reason"]
        return

    assert keys_under(local_aws.bucket, "database/") == [report["output_key"]]
    body = s3.get_object(Bucket=local_aws.bucket, Key=report["output_key"])["Body"].read()
    table = read_parquet(body)
    assert table.num_rows == case.rows_out
    columns = boto3.client("glue").get_table(DatabaseName=local_aws.database, Name=report["dataset"])["Table"]
    declared = {column["Name"]: column["Type"] for column in columns["StorageDescriptor"]["Columns"]}
    assert table.column_names == list(declared)
    assert {name: declared[name] for name in case.types} == case.types
    first_row = table.slice(0, 1).to_pylist()[0]
    assert {name: first_row[name] for name in case.first_row} == case.first_row
