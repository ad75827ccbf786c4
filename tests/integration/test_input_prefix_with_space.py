"""`InputPrefix="input data/"` end to end on moto: S3's own notification, the queue, the real handler, Parquet.

The first seed's users drop their CSVs "sous le répertoire `input data`". Given the template provisioned with that
prefix (its notification filter, its function environment), when files are uploaded under it and next to it, then
S3 (moto) puts exactly the ones under it on the CSV events queue, the real handler drained from that queue (Lambda's
event source mapping played by ``lakepipe_cli.sqs_source``) converts each to Parquet under ``database/<dataset>/``
with its Glue table, and nothing else — neither the neighbours nor the function's own outputs — is converted.

What moto cannot show: S3 compares a filter written ``input+data/`` (the form S3's guide asks for, checked in
``tests/unit/test_input_prefix.py``) against keys, while moto compares the filter with the key literally, so
``lakepipe_cli.local_aws`` gives moto the decoded prefix; that the encoded filter matches on AWS rests on S3's guide.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import unquote_plus

import boto3
import pytest

from lakepipe.handlers.csv_to_parquet import lambda_handler
from lakepipe_cli.lambda_runtime import invoke
from lakepipe_cli.local_aws import LocalStack
from lakepipe_cli.sqs_source import drain
from tests.conftest import provision_local_aws
from tests.integration.csv.s3_events import dead_letters, keys_under, put_object, s3_put_event
from tests.parquet import read_parquet

pytestmark = pytest.mark.integration

PREFIX = "input data/"
# key -> (dataset its table must be named, CSV body)
UNDER_THE_PREFIX = {
    "input data/ventes/2026-11.csv": ("ventes", b"sku,qty\nA-1,3\nB-2,5\n"),
    "input data/ventes/2026/11/nested folder/late.csv": ("ventes", b"sku,qty\nC-3,7\n"),
    "input data/Clients été/a+b ü.csv": ("clients_ete", "client,ville,commandes\nZoé,Nîmes,3\nLéo,Brest,1\n".encode()),
    "input data/stock.csv": ("stock", b"sku,on_hand\nA-1,10\n"),
}
# Next to the prefix, not under it: each one a way a filter or a guard could be too loose.
BESIDE_THE_PREFIX = [
    "input/x.csv",  # the default prefix
    "input data.csv",  # the prefix without its slash
    "input datax/y.csv",  # a longer folder sharing the prefix's letters
    "input+data/z.csv",  # the filter's own encoded spelling, as a literal key
    "Input data/w.csv",  # keys are case-sensitive
    "input data/notes.txt",  # under the prefix, not a CSV
]


@pytest.fixture
def spaced_stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    return provision_local_aws(moto_endpoint, monkeypatch, {"InputPrefix": PREFIX})


def csv_function(stack: LocalStack) -> Any:
    """CsvToParquetFunction as its event source mapping invokes it, in the environment the template gives it."""
    environment = stack.environment_for("CsvToParquetFunction")

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = invoke(
            lambda_handler, event, function_name="CsvToParquetFunction", environment=environment
        )
        return response

    return handler


def notified_keys(bodies: list[str]) -> list[str]:
    """The object keys S3's messages name, decoded (S3 URL-encodes them, a space as "+")."""
    documents = [json.loads(body) for body in bodies]
    return sorted(unquote_plus(record["s3"]["object"]["key"]) for doc in documents for record in doc.get("Records", []))


def test_csvs_under_input_data_are_converted_and_nothing_beside_it(spaced_stack: LocalStack) -> None:
    # Given the stack provisioned with InputPrefix="input data/", its function configured with it
    bucket = spaced_stack.bucket
    assert spaced_stack.environment_for("CsvToParquetFunction")["INPUT_PREFIX"] == PREFIX
    assert spaced_stack.outputs["CsvInputLocation"] == f"s3://{bucket}/input data/"
    s3, sqs = boto3.client("s3"), boto3.client("sqs")

    # When files land under the prefix and beside it, and the queue is drained through the real handler
    for key, (_, body) in UNDER_THE_PREFIX.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    for key in BESIDE_THE_PREFIX:
        s3.put_object(Bucket=bucket, Key=key, Body=b"a,b\n1,2\n")
    drained = drain(sqs, spaced_stack.outputs["CsvEventsQueueUrl"], csv_function(spaced_stack))

    # Then S3 notified exactly the uploads under the prefix (plus its test event): not the neighbours, and not
    # the function's own outputs under database/, quarantine/ and tmp/ (the recursion guard's first half)
    assert notified_keys(drained.bodies) == sorted(UNDER_THE_PREFIX)
    assert [json.loads(body).get("Event") for body in drained.bodies].count("s3:TestEvent") == 1
    assert (drained.deleted, drained.failed) == (len(UNDER_THE_PREFIX) + 1, 0)
    reports = {report["source_key"]: report for report in drained.reports}
    assert sorted(reports) == sorted(UNDER_THE_PREFIX)
    # and each one is Parquet under database/<dataset>/, its rows those of the CSV as Python's csv module reads it
    for key, (dataset, body) in UNDER_THE_PREFIX.items():
        report = reports[key]
        assert report["status"] == "converted", report
        assert report["output_key"].startswith(f"database/{dataset}/")
        expected = list(csv.DictReader(io.StringIO(body.decode())))
        table = read_parquet(s3.get_object(Bucket=bucket, Key=report["output_key"])["Body"].read())
        assert [{name: str(value) for name, value in row.items()} for row in table.to_pylist()] == expected
    # nested folders stay in the dataset of their first folder, named readably and apart
    nested = reports["input data/ventes/2026/11/nested folder/late.csv"]["output_key"]
    assert nested.startswith("database/ventes/2026__11__nested_folder__late-")
    # one Glue table per dataset, at its location, recording the folder exactly as in the key
    glue = boto3.client("glue")
    tables = {
        table["Name"]: table
        for table in glue.get_tables(DatabaseName=spaced_stack.database)["TableList"]
        if table.get("Parameters", {}).get("lakepipe.source") == "csv-to-parquet"
    }
    assert sorted(tables) == ["clients_ete", "stock", "ventes"]
    for name, table in tables.items():
        assert table["StorageDescriptor"]["Location"] == f"s3://{bucket}/database/{name}/"
    assert tables["clients_ete"]["Parameters"]["lakepipe.source_folder"] == "Clients été"
    # nothing beside the prefix was converted; the outputs are exactly one per upload under it
    assert len(keys_under(bucket, "database/")) == len(UNDER_THE_PREFIX)
    assert keys_under(bucket, "tmp/") == []
    # and the queue is empty: no output came back as an event
    assert drain(sqs, spaced_stack.outputs["CsvEventsQueueUrl"], csv_function(spaced_stack)).bodies == []


@pytest.mark.parametrize("key", ["input datax/y.csv", "input/x.csv", "input data.csv", "database/ventes/x.parquet"])
def test_an_event_for_a_key_beside_input_data_is_refused_by_the_function_itself(
    spaced_stack: LocalStack, key: str
) -> None:
    # Given an event S3 would not send with the stack's filter (the recursion guard's second half: the function
    # checks the prefix itself, so a mistaken filter cannot make it convert its own outputs)
    event = s3_put_event(put_object(spaced_stack.bucket, key, b"a,b\n1,2\n"))

    # When the real handler receives it
    result = csv_function(spaced_stack)(event)

    # Then nothing is converted, and the message is dead-lettered with the reason, naming the prefix with its space
    assert result["batchItemFailures"] == []
    assert [report["status"] for report in result["reports"]] == ["dead-lettered"]
    assert keys_under(spaced_stack.bucket, "database/") == ([key] if key.startswith("database/") else [])
    (letter,) = dead_letters(spaced_stack)
    assert letter.reason == (
        f"permanent: KeyOutsideInputPrefixError: s3 key {key!r} is not an object under the input prefix 'input data/'"
    )
