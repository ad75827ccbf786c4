"""The csv_quarantine table over what the real handler quarantined, queried with Athena's SQL on DuckDB.

The Parquet files are the ones the function wrote on moto, copied to a local lake under their keys; the table is
the template's (cli/lakepipe_cli/athena_local.py makes each AWS::Glue::Table a view over its location), the query
is sql/quarantine/'s, transpiled by sqlglot. Expected figures come from the test files' own lines.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakepipe_cli.athena_local import LocalAthena, glue_tables
from lakepipe_cli.local_aws import LocalStack
from tests.conftest import REPO_ROOT
from tests.integration.csv.s3_events import keys_under
from tests.integration.csv_tools.hostile_csv import DATASET, convert, convert_with_contract, hostile_csv
from tests.integration.csv_tools.queues import drain_through_the_function

pytestmark = pytest.mark.integration

QUERY = REPO_ROOT / "sql" / "quarantine" / "quarantined_records_by_reason.sql"
HOSTILE_KEY = "input/events/2026-11.csv"
USERS_KEY = "input/users.csv"
USERS_CSV = (REPO_ROOT / "tests" / "fixtures" / "csv" / "users.csv").read_bytes() + b"6,Short Row\n"
ARROW_TO_HIVE = {pa.string(): "string", pa.int64(): "bigint"}


def mirror(bucket: str, prefix: str, lake: Path) -> list[Path]:
    """The bucket's objects under ``prefix`` as files under ``lake``, at their keys."""
    s3, files = boto3.client("s3"), []
    for key in keys_under(bucket, prefix):
        path = lake / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        files.append(path)
    return files


def test_the_sample_query_counts_one_datasets_quarantine_from_the_handlers_files(
    local_aws: LocalStack, tmp_path: Path
) -> None:
    # Given two datasets' files converted by the real handler: the hostile one, and users.csv with a short row
    drain_through_the_function(local_aws)  # S3's test event
    hostile = hostile_csv()
    assert convert_with_contract(local_aws, HOSTILE_KEY, hostile.data)["rows_quarantined"] == 4
    assert convert(local_aws, USERS_KEY, USERS_CSV)["rows_quarantined"] == 1
    files = mirror(local_aws.bucket, "quarantine/rows/", tmp_path)
    assert len(files) == 2
    version_id = boto3.client("s3").head_object(Bucket=local_aws.bucket, Key=HOSTILE_KEY)["VersionId"]

    # When the sample query runs for dataset events over the csv_quarantine table
    with LocalAthena(tmp_path, views_dir=None) as athena:
        result = athena.execute_file(QUERY, [f"'{DATASET}'"]).records()
        per_dataset = athena.execute(
            "SELECT dataset, count(*) AS records FROM csv_quarantine GROUP BY dataset ORDER BY dataset"
        ).records()

    # Then one row per reason, in line order, with the counts and bytes of the file's own bad lines
    def expected(code: str) -> dict[str, object]:
        lines = sorted(line for line, reason in hostile.bad_lines.items() if reason == code)
        return {"source_key": HOSTILE_KEY, "source_version_id": version_id, "reason_code": code,
                "records": len(lines), "bytes": sum(len(hostile.line(line)) for line in lines),
                "first_line": lines[0], "last_line": lines[-1]}  # fmt: skip

    assert result == [expected("unterminated_quote"), expected("nul_byte"), expected("invalid_value")]
    # and the table spans both datasets (one query, no partition to name)
    assert per_dataset == [{"dataset": "events", "records": 4}, {"dataset": "users", "records": 1}]


def test_the_files_the_handler_writes_have_the_tables_columns(local_aws: LocalStack, tmp_path: Path) -> None:
    # Given a quarantine file the real handler wrote
    drain_through_the_function(local_aws)
    convert(local_aws, USERS_KEY, USERS_CSV)
    (written,) = mirror(local_aws.bucket, "quarantine/rows/", tmp_path)

    # Then its Parquet schema, read from the file, is the template's table: names and types, in order
    (table,) = [table for table in glue_tables() if table.name == "csv_quarantine"]
    schema = pq.read_schema(written)
    assert [(field.name, ARROW_TO_HIVE[field.type]) for field in schema] == list(table.columns)
    assert table.key_prefix == "quarantine/rows/"
