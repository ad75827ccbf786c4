"""The demo's sample files (lakepipe_cli.sample_csv) convert as they say: good rows written, bad lines quarantined."""

from __future__ import annotations

import boto3
import pytest

from lakepipe.handlers.csv_to_parquet import lambda_handler
from lakepipe_cli.local_aws import LocalStack
from lakepipe_cli.sample_csv import sample_csv_files, write_sample_csvs
from tests.integration.csv.s3_events import LambdaContext, put_object, quarantined_records, s3_put_event

pytestmark = pytest.mark.integration


def test_sample_files_are_deterministic_and_written_at_their_keys(tmp_path: object) -> None:
    first, second = sample_csv_files(seed=3), sample_csv_files(seed=3)

    assert [sample.body for sample in first] == [sample.body for sample in second]
    assert {sample.description for sample in first} == {sample.description for sample in sample_csv_files(seed=4)}
    paths = write_sample_csvs(tmp_path, seed=3)  # type: ignore[arg-type]
    assert [path.read_bytes() for path in paths] == [sample.body for sample in first]


def test_every_sample_converts_with_its_bad_rows_quarantined(local_aws: LocalStack) -> None:
    # Given the four samples uploaded, announced in one event
    samples = sample_csv_files()
    event = s3_put_event(*(put_object(local_aws.bucket, sample.key, sample.body) for sample in samples))

    # When the function converts them
    reports = lambda_handler(event, LambdaContext())["reports"]

    # Then each gives its good rows, and its bad rows with their exact source lines
    for sample, report in zip(samples, reports, strict=True):
        assert report["status"] == "converted", sample.key
        assert report["dataset"] == sample.dataset
        assert (report["rows_out"], report["rows_quarantined"]) == (sample.good_rows, len(sample.bad_lines))
        rejected = quarantined_records(local_aws.bucket, report)
        assert tuple(record["line"] for record in rejected) == sample.bad_lines
    glue = boto3.client("glue")
    columns = glue.get_table(DatabaseName=local_aws.database, Name="ventes")["Table"]["StorageDescriptor"]["Columns"]
    assert [(column["Name"], column["Type"]) for column in columns] == [
        ("date_de_vente", "date"),
        ("magasin", "string"),
        ("montant", "double"),
        ("quantite", "bigint"),
        ("remise", "string"),
    ]
    sensors = glue.get_table(DatabaseName=local_aws.database, Name="sensors")["Table"]["StorageDescriptor"]["Columns"]
    assert sensors[0] == {"Name": "timestamp", "Type": "timestamp", "Comment": "CSV header: timestamp"}
