"""`lakepipe redrive` on moto: events the real handler dead-lettered go back to CsvEventsQueue and convert.

The dead letters are made by the function itself (its last attempt failing on a real condition of the moto
server, the Glue database missing) or by SQS (its redrive policy after maxReceiveCount receives); the outcome is
judged by the queues' counts, the bytes of the message bodies and the Parquet rows, against the CSV as Python's
csv module reads it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from lakepipe_cli.local_aws import LocalStack
from lakepipe_cli.main import main
from lakepipe_cli.redrive import redrive
from tests.conftest import REPO_ROOT
from tests.integration.csv.s3_events import keys_under
from tests.integration.csv_tools.queues import (
    bodies,
    depth,
    drain_through_the_function,
    receive_without_deleting,
    upload_as_s3_notifies,
)
from tests.parquet import read_parquet

pytestmark = pytest.mark.integration

USERS_CSV = (REPO_ROOT / "tests" / "fixtures" / "csv" / "users.csv").read_bytes()
ORDERS_KEY = "input/orders/2026-11.csv"
ORDERS_CSV = (
    b"order_id,customer,amount,ordered_on\n1,Ada,12.5,2026-11-02\n2,Linus,7.25,2026-11-03\n3,Grace,30,2026-11-04\n"
)
CSV_MAX_ATTEMPTS = 5  # the template's default CsvMaxAttempts, which the local stack's queue and function get


@dataclass(frozen=True)
class Queues:
    source: str
    dead_letter: str


def queues_of(stack: LocalStack) -> Queues:
    return Queues(stack.outputs["CsvEventsQueueUrl"], stack.outputs["CsvEventsDeadLetterQueueUrl"])


def expected_rows(data: bytes) -> list[dict[str, str]]:
    """The CSV's rows as Python's csv module reads them (not lakepipe's parser)."""
    return list(csv.DictReader(io.StringIO(data.decode())))


def converted_rows(bucket: str) -> list[dict[str, str]]:
    """Every row under database/ with every value as text, in file order."""
    s3 = boto3.client("s3")
    rows: list[dict[str, str]] = []
    for key in keys_under(bucket, "database/"):
        table = read_parquet(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        rows += [{name: _text(value) for name, value in row.items()} for row in table.to_pylist()]
    return rows


def _text(value: object) -> str:
    """A Parquet value as the CSV spelt it (the test files write booleans lower-case, integral scores bare)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def dead_letter_by_the_function(stack: LocalStack, key: str, body: bytes, *, with_version: bool = False) -> str:
    """Upload ``key`` with the Glue database missing, as the function sees it on its last attempt (the earlier
    ones killed outright); returns the body of the message S3 sent. The function dead-letters it with the reason.

    ``with_version``: the notification names the version, as S3's does (moto's leaves it out).
    """
    boto3.client("glue").delete_database(Name=stack.database)
    if with_version:
        upload_as_s3_notifies(stack, key, body)
    else:
        boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=body)
    queues = queues_of(stack)
    (notification,) = receive_without_deleting(queues.source, CSV_MAX_ATTEMPTS - 1)
    drained = drain_through_the_function(stack)
    assert [report["status"] for report in drained.reports] == ["dead-lettered"]
    return notification


def repair_the_catalog(stack: LocalStack) -> None:
    boto3.client("glue").create_database(DatabaseInput={"Name": stack.database})


@pytest.fixture
def stack(local_aws: LocalStack) -> LocalStack:
    drain_through_the_function(local_aws)  # S3's test event, sent when the notification was configured
    assert depth(queues_of(local_aws).source) == (0, 0)
    return local_aws


def redrive_command(queues: Queues, *options: str) -> list[str]:
    return ["redrive", "--queue-url", queues.source, "--dead-letter-queue-url", queues.dead_letter, *options]


def run_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(argv) == 0
    output: dict[str, Any] = json.loads(capsys.readouterr().out)
    return output


def test_a_dead_lettered_upload_converts_once_redriven_after_the_fix(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an upload the function dead-lettered on its last attempt (the Glue database was missing)
    notification = dead_letter_by_the_function(stack, ORDERS_KEY, ORDERS_CSV)
    queues = queues_of(stack)
    assert depth(queues.dead_letter) == (1, 0)
    assert keys_under(stack.bucket, "database/") == []

    # When the operator lists the dead letters
    listing = run_json(redrive_command(queues, "--dry-run", "--json"), capsys)

    # Then the listing names the object and the function's reason, and nothing moved (the message is visible again)
    (letter,) = listing["would_move"]
    assert letter["objects"] == [f"s3://{stack.bucket}/{ORDERS_KEY}"]
    assert letter["error"] == "EntityNotFoundException"
    assert "Database lakepipe_dev not found" in letter["reason"]
    assert letter["attempts"] == CSV_MAX_ATTEMPTS
    assert depth(queues.dead_letter) == (1, 0)
    assert depth(queues.source) == (0, 0)

    # When the cause is fixed and the dead letters are redriven
    repair_the_catalog(stack)
    assert main(redrive_command(queues)) == 0

    # Then the message is back on the source queue with S3's body byte for byte, and gone from the dead-letter queue
    assert depth(queues.dead_letter) == (0, 0)
    assert bodies(queues.source) == [notification]

    # When the event source mapping hands it to the function
    drained = drain_through_the_function(stack)

    # Then the file is converted: the rows Python's csv module reads, in a new table; both queues are empty
    assert [report["status"] for report in drained.reports] == ["converted"]
    assert converted_rows(stack.bucket) == expected_rows(ORDERS_CSV)
    assert boto3.client("glue").get_table(DatabaseName=stack.database, Name="orders")["Table"]["Name"] == "orders"
    assert depth(queues.source) == (0, 0)
    assert depth(queues.dead_letter) == (0, 0)


CRASH_BETWEEN_SEND_AND_DELETE = """
import os, signal, boto3
from lakepipe_cli.redrive import redrive
sqs = boto3.client("sqs")
# Killed for real (no finally, no clean-up) the moment the message was sent and before it is deleted.
sqs.meta.events.register("before-call.sqs.DeleteMessage", lambda **_: os.kill(os.getpid(), signal.SIGKILL))
redrive(sqs, source_queue_url=os.environ["SOURCE"], dead_letter_queue_url=os.environ["DLQ"], hold_seconds=2)
"""


def test_a_redrive_killed_between_send_and_delete_loses_nothing_and_converts_once(stack: LocalStack) -> None:
    # Given a dead-lettered upload whose cause is fixed
    notification = dead_letter_by_the_function(stack, ORDERS_KEY, ORDERS_CSV)
    repair_the_catalog(stack)
    queues = queues_of(stack)

    # When a redrive is killed (SIGKILL) after SQS accepted the send and before the delete
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_BETWEEN_SEND_AND_DELETE],
        env={
            **os.environ,
            "SOURCE": queues.source,
            "DLQ": queues.dead_letter,
            "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / part) for part in ("functions", "cli")),
        },
        capture_output=True,
        timeout=120,
        check=False,
    )

    # Then the message is on both queues: sent, and still dead-lettered (hidden until the run's hold ends)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()
    assert depth(queues.source) == (1, 0)
    assert depth(queues.dead_letter) == (0, 1)

    # When the hold ends and the same command runs again
    time.sleep(2.5)
    assert depth(queues.dead_letter) == (1, 0)
    assert main(redrive_command(queues)) == 0

    # Then the event is on the source queue twice, the same bytes each time, and the dead-letter queue is empty
    assert bodies(queues.source) == [notification, notification]
    assert depth(queues.dead_letter) == (0, 0)

    # When the function receives both copies
    drained = drain_through_the_function(stack)

    # Then the object converted once: one Parquet file, written once, with the CSV's rows; the copy changed nothing
    statuses = [report["status"] for report in drained.reports]
    assert statuses == ["converted", "converted"]  # the second is the first's report, from its idempotency record
    assert drained.reports[0] == drained.reports[1]
    (output_key,) = keys_under(stack.bucket, "database/")
    versions = boto3.client("s3").list_object_versions(Bucket=stack.bucket, Prefix=output_key)["Versions"]
    assert len(versions) == 1
    assert converted_rows(stack.bucket) == expected_rows(ORDERS_CSV)
    assert depth(queues.source) == (0, 0)


def test_messages_sqs_moved_itself_are_selected_by_their_missing_reason(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given one event the function dead-lettered with its reason ...
    dead_letter_by_the_function(stack, ORDERS_KEY, ORDERS_CSV)
    repair_the_catalog(stack)
    queues = queues_of(stack)
    # ... and one SQS moved itself: every attempt killed outright, maxReceiveCount receives and one more
    boto3.client("s3").put_object(Bucket=stack.bucket, Key="input/users.csv", Body=USERS_CSV)
    (killed,) = receive_without_deleting(queues.source, CSV_MAX_ATTEMPTS + 1)
    assert depth(queues.dead_letter) == (2, 0)
    assert depth(queues.source) == (0, 0)

    # When the operator redrives only what SQS moved itself
    outcome = run_json(redrive_command(queues, "--reason", "receive limit", "--json"), capsys)

    # Then that one moved, without a reason of its own; the function's dead letter stayed, visible, with its reason
    (moved,) = outcome["moved"]
    assert moved["objects"] == [f"s3://{stack.bucket}/input/users.csv"]
    assert (moved["error"], moved["attempts"]) == (None, None)
    (left,) = outcome["left"]
    assert left["objects"] == [f"s3://{stack.bucket}/{ORDERS_KEY}"]
    assert left["error"] == "EntityNotFoundException"
    assert bodies(queues.source) == [killed]
    assert depth(queues.dead_letter) == (1, 0)

    # When the function receives it
    drained = drain_through_the_function(stack)

    # Then users.csv converted, and the other event still waits in the dead-letter queue
    assert [(report["status"], report["source_key"]) for report in drained.reports] == [
        ("converted", "input/users.csv")
    ]
    assert converted_rows(stack.bucket) == expected_rows(USERS_CSV)
    assert depth(queues.dead_letter) == (1, 0)


def test_max_moves_that_many_and_leaves_the_others_visible(stack: LocalStack) -> None:
    # Given three dead-lettered uploads
    glue = boto3.client("glue")
    glue.delete_database(Name=stack.database)
    queues = queues_of(stack)
    keys = [f"input/orders/2026-{month:02d}.csv" for month in (9, 10, 11)]
    for key in keys:
        boto3.client("s3").put_object(Bucket=stack.bucket, Key=key, Body=ORDERS_CSV)
    receive_without_deleting(queues.source, CSV_MAX_ATTEMPTS - 1)
    assert len(drain_through_the_function(stack).reports) == 3
    assert depth(queues.dead_letter) == (3, 0)

    # When two of them are redriven
    outcome = redrive(
        boto3.client("sqs"), dead_letter_queue_url=queues.dead_letter, source_queue_url=queues.source, max_messages=2
    )

    # Then exactly two moved, their bodies now on the source queue, and the third is visible in the dead-letter queue
    assert len(outcome.moved) == 2
    assert sorted(bodies(queues.source)) == sorted(letter.body for letter in outcome.moved)
    assert depth(queues.dead_letter) == (1, 0)
    moved_keys = {obj.rsplit("/", 2)[-1] for letter in outcome.moved for obj in letter.objects}
    assert len(moved_keys) == 2


def test_a_redriven_event_of_a_replaced_object_leaves_the_newer_upload(stack: LocalStack) -> None:
    # Given a dead-lettered upload, then the cause fixed and the file uploaded again (a better version)
    dead_letter_by_the_function(stack, ORDERS_KEY, b"order_id,customer\n1,Ada\n", with_version=True)
    repair_the_catalog(stack)
    boto3.client("s3").put_object(Bucket=stack.bucket, Key=ORDERS_KEY, Body=ORDERS_CSV)
    assert [report["status"] for report in drain_through_the_function(stack).reports] == ["converted"]
    queues = queues_of(stack)

    # When the old event is redriven and the function receives it
    redrive(boto3.client("sqs"), dead_letter_queue_url=queues.dead_letter, source_queue_url=queues.source)
    drained = drain_through_the_function(stack)

    # Then it is superseded: the table keeps serving the newer upload's rows
    assert [report["status"] for report in drained.reports] == ["superseded"]
    assert converted_rows(stack.bucket) == expected_rows(ORDERS_CSV)
    assert depth(queues.dead_letter) == (0, 0)


def test_the_queues_are_read_from_the_stacks_outputs(stack: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a CloudFormation stack (moto's) whose Outputs name the two queues, and one dead letter in them
    dead_letter_by_the_function(stack, ORDERS_KEY, ORDERS_CSV)
    queues = queues_of(stack)
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "CsvEventsQueueUrl": {"Value": queues.source},
            "CsvEventsDeadLetterQueueUrl": {"Value": queues.dead_letter},
        },
    }
    boto3.client("cloudformation").create_stack(StackName="acme-weather-lake", TemplateBody=json.dumps(template))

    # When the dead letters are listed by stack name
    listing = run_json(["redrive", "--stack-name", "acme-weather-lake", "--dry-run", "--json"], capsys)

    # Then they are the stack's queues'
    assert [letter["objects"] for letter in listing["would_move"]] == [[f"s3://{stack.bucket}/{ORDERS_KEY}"]]
    # and a stack that does not exist is refused with its name
    assert main(["redrive", "--stack-name", "no-such-stack", "--dry-run"]) == 2
    assert "no-such-stack" in capsys.readouterr().err


def test_swapped_queue_urls_are_refused_before_anything_moves(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a dead letter, and a live event waiting on the source queue
    dead_letter_by_the_function(stack, ORDERS_KEY, ORDERS_CSV)
    repair_the_catalog(stack)
    queues = queues_of(stack)
    boto3.client("s3").put_object(Bucket=stack.bucket, Key="input/users.csv", Body=USERS_CSV)
    assert depth(queues.source) == (1, 0)

    # When the two URLs are given the wrong way round
    argv = ["redrive", "--queue-url", queues.dead_letter, "--dead-letter-queue-url", queues.source]

    # Then nothing moves: the live event stays where the function reads it, the dead letter where it was
    assert main(argv) == 2
    assert "swapped" in capsys.readouterr().err
    assert depth(queues.source) == (1, 0)
    assert depth(queues.dead_letter) == (1, 0)
