"""CsvToParquetFunction end to end on moto: S3 object → Parquet under database/ → Glue table, once per version."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from lakepipe.adapters.glue_catalog import GlueCatalog
from lakepipe.handlers.csv_to_parquet import lambda_handler
from lakepipe_cli.local_aws import LocalStack
from tests.conftest import REPO_ROOT, load_event
from tests.integration.csv.s3_events import (
    CSV_EVENT,
    LambdaContext,
    csv_tables,
    dead_letters,
    delete_object,
    keys_under,
    put_object,
    quarantined_records,
    read_output,
    s3_put_event,
    sqs_record,
)

pytestmark = pytest.mark.integration

USERS_CSV = (REPO_ROOT / "tests" / "fixtures" / "csv" / "users.csv").read_bytes()


def versions_of(bucket: str, key: str) -> int:
    listing = boto3.client("s3").list_object_versions(Bucket=bucket, Prefix=key)
    return len([version for version in listing.get("Versions", []) if version["Key"] == key])


def glue_table(database: str, name: str) -> dict[str, Any]:
    return dict(boto3.client("glue").get_table(DatabaseName=database, Name=name)["Table"])


def invoke(event: dict[str, Any], request_id: str = "11111111-2222-3333-4444-555555555555") -> dict[str, Any]:
    result: dict[str, Any] = lambda_handler(event, LambdaContext(aws_request_id=request_id))
    return result


def test_the_event_file_converts_users_csv_into_parquet_and_a_glue_table(local_aws: LocalStack) -> None:
    # Given users.csv uploaded where events/sqs-csv-uploaded.json says (a versionless event, as sam generates it)
    boto3.client("s3").put_object(Bucket=local_aws.bucket, Key="input/users.csv", Body=USERS_CSV)

    # When the function receives the event file
    result = invoke(load_event(CSV_EVENT))

    # Then the Parquet file, the Glue table and the report all describe the 5 users
    assert result["batchItemFailures"] == []
    (report,) = result["reports"]
    assert report["status"] == "converted"
    assert (report["rows_in"], report["rows_out"], report["rows_quarantined"]) == (5, 5, 0)
    assert keys_under(local_aws.bucket, "database/") == [report["output_key"]]
    assert report["output_key"].startswith("database/users/users-")
    table = read_output(local_aws.bucket, report["output_key"])
    assert table.num_rows == 5
    assert table.slice(2, 1).to_pylist() == [
        {
            "id": 3,
            "name": "Chen, Wei",
            "email": "wei.chen@example.com",
            "signup_date": dt.date(2024, 2, 29),
            "age": 29,
            "score": 91.0,
            "active": True,
        }
    ]
    assert table.column("age").null_count == 1
    glue = glue_table(local_aws.database, "users")
    storage = glue["StorageDescriptor"]
    assert [(column["Name"], column["Type"]) for column in storage["Columns"]] == [
        ("id", "bigint"),
        ("name", "string"),
        ("email", "string"),
        ("signup_date", "date"),
        ("age", "bigint"),
        ("score", "double"),
        ("active", "boolean"),
    ]
    assert storage["Location"] == f"s3://{local_aws.bucket}/database/users/"
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert glue["TableType"] == "EXTERNAL_TABLE"
    assert keys_under(local_aws.bucket, "tmp/") == []
    assert keys_under(local_aws.bucket, "quarantine/") == []
    assert glue["Parameters"]["lakepipe.source_folder"] == "users"


def test_a_duplicate_event_produces_one_output(local_aws: LocalStack) -> None:
    # Given an uploaded file and its event, delivered twice (S3 delivers at least once)
    event = s3_put_event(put_object(local_aws.bucket, "input/users.csv", USERS_CSV))

    first = invoke(event, request_id="first-delivery")
    second = invoke(event, request_id="second-delivery")

    # Then the second delivery returns the first result and writes nothing
    assert second == first
    output_key = first["reports"][0]["output_key"]
    assert keys_under(local_aws.bucket, "database/") == [output_key]
    assert versions_of(local_aws.bucket, output_key) == 1
    records = boto3.client("dynamodb").scan(TableName=local_aws.idempotency_table)["Items"]
    assert len(records) == 1
    assert records[0]["status"]["S"] == "COMPLETED"


def test_every_record_of_an_event_is_converted_with_its_key_url_decoded(local_aws: LocalStack) -> None:
    # Given three uploads, one with spaces and accents in its key (S3 sends "+" and %xx)
    objects = [
        put_object(local_aws.bucket, "input/users.csv", USERS_CSV),
        put_object(local_aws.bucket, "input/Ventes été/janvier 2026.csv", b"mois;total\n1;12,5\n2;7\n"),
        put_object(local_aws.bucket, "input/Ventes été/février 2026.csv", b"mois;total\n3;1,25\n"),
    ]
    event = s3_put_event(*objects)
    notification = json.loads(event["Records"][1]["body"])
    assert notification["Records"][0]["s3"]["object"]["key"] == "input/Ventes+%C3%A9t%C3%A9/janvier+2026.csv"

    result = invoke(event)

    assert [report["status"] for report in result["reports"]] == ["converted"] * 3
    assert [report["dataset"] for report in result["reports"]] == ["users", "ventes_ete", "ventes_ete"]
    outputs = keys_under(local_aws.bucket, "database/ventes_ete/")
    assert len(outputs) == 2
    totals = sorted(
        value for key in outputs for value in read_output(local_aws.bucket, key).column("total").to_pylist()
    )
    assert totals == [1.25, 7.0, 12.5]
    assert {
        column["Name"]: column["Type"]
        for column in glue_table(local_aws.database, "ventes_ete")["StorageDescriptor"]["Columns"]
    } == {
        "mois": "bigint",
        "total": "double",
    }


@pytest.mark.parametrize(
    "key", ["database/users/users-0123456789.parquet", "quarantine/users/x/summary.json", "elsewhere/users.csv"]
)
def test_a_key_outside_the_input_prefix_is_dead_lettered_with_the_reason(local_aws: LocalStack, key: str) -> None:
    # Given an object outside input/ (a misconfigured notification would send our own outputs back)
    event = s3_put_event(put_object(local_aws.bucket, key, USERS_CSV))

    result = invoke(event)

    # Then nothing is written, the message is done (no retry can fix it), and a person can read why
    assert result["batchItemFailures"] == []
    (report,) = result["reports"]
    assert report["status"] == "dead-lettered"
    assert keys_under(local_aws.bucket, "") == [key]
    assert csv_tables(local_aws.database) == set()
    (letter,) = dead_letters(local_aws)
    assert letter.error == "KeyOutsideInputPrefixError"
    assert (
        letter.reason
        == f"permanent: KeyOutsideInputPrefixError: s3 key {key!r} is not an object under the input prefix 'input/'"
    )
    assert letter.body == event["Records"][0]["body"]  # as received: `lakepipe redrive` sends it back unchanged


def test_an_event_from_another_bucket_is_dead_lettered(local_aws: LocalStack) -> None:
    boto3.client("s3").create_bucket(
        Bucket="someone-else", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"}
    )
    event = s3_put_event(put_object("someone-else", "input/users.csv", USERS_CSV))

    (report,) = invoke(event)["reports"]

    assert report["status"] == "dead-lettered"
    assert "is not the data bucket" in report["reason"]
    assert keys_under(local_aws.bucket, "") == []


def test_s3s_test_event_is_no_object_event(local_aws: LocalStack) -> None:
    # Given the message S3 sends when the notification is configured
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-12-01T10:00:00.000Z",
                  "Bucket": local_aws.bucket, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw0="}  # fmt: skip
    event = s3_put_event()
    event["Records"] = [sqs_record(json.dumps(test_event), message_id="test-event")]

    result = invoke(event)

    assert result == {"batchItemFailures": [], "reports": []}
    assert dead_letters(local_aws) == []


def test_an_older_version_is_skipped_when_a_newer_one_exists(local_aws: LocalStack) -> None:
    # Given two uploads of the same key; the first event arrives after the second upload
    first = put_object(local_aws.bucket, "input/users.csv", USERS_CSV)
    second = put_object(
        local_aws.bucket, "input/users.csv", USERS_CSV + b"6,Zed,zed@example.com,2024-05-01,60,50,true\n"
    )

    stale = invoke(s3_put_event(first))["reports"][0]
    fresh = invoke(s3_put_event(second))["reports"][0]

    assert stale["status"] == "superseded"
    assert second["version_id"] in stale["reason"]
    assert fresh["status"] == "converted"
    assert read_output(local_aws.bucket, fresh["output_key"]).num_rows == 6


def test_the_glue_table_is_the_contract_and_new_columns_are_added(local_aws: LocalStack) -> None:
    # Given a dataset whose table was created by a first file (id bigint, name string)
    invoke(s3_put_event(put_object(local_aws.bucket, "input/people/2025.csv", b"id,name\n1,Ann\n2,Bob\n")))

    # When a second file brings a new column and an id that is not a number
    body = b"id,name,email\n3,Cy,cy@example.com\nfour,Di,di@example.com\n5,Ed,\n"
    (report,) = invoke(s3_put_event(put_object(local_aws.bucket, "input/people/2026.csv", body)))["reports"]

    # Then the bad row is quarantined, the column is added as nullable, the old columns keep their types
    assert (report["rows_out"], report["rows_quarantined"]) == (2, 1)
    assert report["columns_added"] == ["email"]
    columns = glue_table(local_aws.database, "people")["StorageDescriptor"]["Columns"]
    assert [(column["Name"], column["Type"]) for column in columns] == [
        ("id", "bigint"),
        ("name", "string"),
        ("email", "string"),
    ]
    assert read_output(local_aws.bucket, report["output_key"]).to_pylist() == [
        {"id": 3, "name": "Cy", "email": "cy@example.com"},
        {"id": 5, "name": "Ed", "email": None},
    ]
    (rejected,) = quarantined_records(local_aws.bucket, report)
    assert rejected == {
        "dataset": "people",
        "source_key": "input/people/2026.csv",
        "source_version_id": report["version_id"],
        "line": 3,
        "byte_offset": len(b"id,name,email\n3,Cy,cy@example.com\n"),
        "byte_length": len(b"four,Di,di@example.com\n"),
        "reason_code": "invalid_value",
        "reason": "column 'id' (bigint): invalid value 'four'",
        "column": "id",
        "value": "four",
        "raw_preview": "four,Di,di@example.com",
    }
    summary = json.loads(
        boto3.client("s3").get_object(Bucket=local_aws.bucket, Key=report["quarantine_key"])["Body"].read()
    )
    assert summary["rows_in"] == summary["rows_out"] + summary["rows_quarantined"] == 3
    assert summary["source"]["key"] == "input/people/2026.csv"


def test_a_file_that_cannot_convert_is_rejected_quarantined_and_counted(
    local_aws: LocalStack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    event = s3_put_event(put_object(local_aws.bucket, "input/broken.csv", b"id,name,score\n"))

    (report,) = invoke(event)["reports"]

    assert report["status"] == "rejected"
    assert report["error_code"] == "header_only"
    assert keys_under(local_aws.bucket, "database/") == []
    assert keys_under(local_aws.bucket, "tmp/") == []
    assert csv_tables(local_aws.database) == set()
    summary = json.loads(
        boto3.client("s3").get_object(Bucket=local_aws.bucket, Key=report["quarantine_key"])["Body"].read()
    )
    assert summary["status"] == "rejected"
    assert summary["reason"] == "the file has a header (3 columns) and no data rows"
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    metrics = next(line for line in emitted if "FilesRejected" in line)
    assert metrics["FilesRejected"] == [1.0]
    by_reason = next(line for line in emitted if "FilesRejectedByReason" in line)
    assert (by_reason["FilesRejectedByReason"], by_reason["reason"]) == ([1.0], "header_only")
    assert [set(dimensions) for dimensions in by_reason["_aws"]["CloudWatchMetrics"][0]["Dimensions"]] == [
        {"service", "reason"}
    ]
    assert [record.getMessage() for record in caplog.records if record.levelname == "ERROR"] == [
        "CSV rejected: the file has a header (3 columns) and no data rows"
    ]


def test_a_clean_reupload_replaces_the_output_and_clears_the_stale_quarantine(local_aws: LocalStack) -> None:
    # Given a first version with a bad row, converted
    first = invoke(s3_put_event(put_object(local_aws.bucket, "input/users.csv", USERS_CSV + b"7,short\n")))["reports"][
        0
    ]
    assert keys_under(local_aws.bucket, "quarantine/") != []

    # When a clean version of the same key is uploaded
    second = invoke(s3_put_event(put_object(local_aws.bucket, "input/users.csv", USERS_CSV)))["reports"][0]

    # Then it lands on the same output key (a new version), and the stale rejects are gone
    assert second["output_key"] == first["output_key"]
    assert keys_under(local_aws.bucket, "database/") == [first["output_key"]]
    assert versions_of(local_aws.bucket, first["output_key"]) == 2
    assert keys_under(local_aws.bucket, "quarantine/") == []


def test_a_failed_message_is_retried_alone_and_the_others_are_done(
    local_aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two messages, and Glue throttling the creation of the second one's table once
    event = s3_put_event(
        put_object(local_aws.bucket, "input/alpha.csv", b"a\n1\n"),
        put_object(local_aws.bucket, "input/beta.csv", b"b\n2\n"),
    )
    create_table = GlueCatalog.create_table

    def throttled(self: GlueCatalog, name: str, *args: Any) -> None:
        if name == "beta":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateTable")
        create_table(self, name, *args)

    monkeypatch.setattr(GlueCatalog, "create_table", throttled)
    first = invoke(event, request_id="attempt-1")
    # Then only the failed message is reported for a retry; the other one is converted and done
    assert first["batchItemFailures"] == [{"itemIdentifier": "message-2"}]
    assert [report["status"] for report in first["reports"]] == ["converted"]
    assert len(keys_under(local_aws.bucket, "database/")) == 1
    assert keys_under(local_aws.bucket, "tmp/") == []

    # When the queue hands the failed message back once Glue recovers
    monkeypatch.setattr(GlueCatalog, "create_table", create_table)
    retry = s3_put_event(attempt=2)
    retry["Records"] = [
        {**event["Records"][1], "attributes": {**event["Records"][1]["attributes"], "ApproximateReceiveCount": "2"}}
    ]
    second = invoke(retry, request_id="attempt-2")

    # Then it converts, and nothing was dead-lettered
    assert second["batchItemFailures"] == []
    assert [report["status"] for report in second["reports"]] == ["converted"]
    assert len(keys_under(local_aws.bucket, "database/")) == 2
    assert dead_letters(local_aws) == []


def test_a_message_still_failing_on_its_last_attempt_is_dead_lettered_with_the_last_error(
    local_aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Glue throttling every call, and the message on its last allowed attempt (CSV_MAX_ATTEMPTS, 5)
    def throttled(self: GlueCatalog, *args: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "CreateTable")

    monkeypatch.setattr(GlueCatalog, "create_table", throttled)
    event = s3_put_event(put_object(local_aws.bucket, "input/alpha.csv", b"a\n1\n"), attempt=5)

    result = invoke(event)

    assert result["batchItemFailures"] == []  # done: a sixth attempt would fail the same way
    (letter,) = dead_letters(local_aws)
    assert letter.error == "ClientError"
    assert letter.reason.startswith(
        "still failing after 5 attempts: ClientError: An error occurred (ThrottlingException)"
    )
    assert letter.attempts == 5
    assert keys_under(local_aws.bucket, "database/") == []


def test_deleting_the_source_removes_its_outputs(local_aws: LocalStack) -> None:
    # Given a converted file with a quarantined row
    converted = invoke(s3_put_event(put_object(local_aws.bucket, "input/users.csv", USERS_CSV + b"7,short\n")))
    (report,) = converted["reports"]
    assert keys_under(local_aws.bucket, "quarantine/") != []

    # When the source is deleted and its ObjectRemoved event arrives
    (removal,) = invoke(s3_put_event(delete_object(local_aws.bucket, "input/users.csv")))["reports"]

    # Then its Parquet file and its quarantine are gone (the table stays, for the dataset's other files)
    assert removal["status"] == "removed"
    assert keys_under(local_aws.bucket, "database/") == []
    assert keys_under(local_aws.bucket, "quarantine/") == []
    assert "users" in csv_tables(local_aws.database)
    assert report["output_key"] in removal["reason"]


def test_a_removal_event_after_a_new_upload_leaves_the_new_outputs(local_aws: LocalStack) -> None:
    # Given a deletion whose event arrives only after the key was uploaded again and converted
    removed = delete_object(local_aws.bucket, "input/users.csv")
    (fresh,) = invoke(s3_put_event(put_object(local_aws.bucket, "input/users.csv", USERS_CSV)))["reports"]

    (late,) = invoke(s3_put_event(removed))["reports"]

    assert late["status"] == "superseded"
    assert keys_under(local_aws.bucket, "database/") == [fresh["output_key"]]
