"""Issue 11's two concurrency proofs, on moto with real concurrency: the newest upload wins a race between two
conversions of one key, and a conversion killed mid-way (SIGKILL, as Lambda kills at a timeout) heals itself.

The competing or killed conversion runs the real ``lambda_handler`` in a child process against the same moto
server, as a second Lambda would. "Mid-conversion" is observed, not guessed: the child's staging Parquet file under
tmp/ has an open multipart upload (pyarrow starts it with the first part, once the conversion has streamed that much,
so the child is past its first newest-version check and inside the conversion). Expected rows come from Python's
csv module reading the uploaded bytes, not from lakepipe's parser.

The free-running race is repeated three times; the two interleavings it cannot force are forced by stopping the
child at a chosen AWS call (a botocore hook, the way the redrive test kills its child): just before it asks for the
publication lease, and inside the lease before its catalog write. A kill inside the lease uses the same hook.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from lakepipe.adapters.leases import DynamoDbLeases
from lakepipe.domain.csv.publication import lease_name
from lakepipe.handlers.csv_to_parquet import lambda_handler
from lakepipe_cli.local_aws import LocalStack
from lakepipe_cli.sqs_source import sqs_event
from tests.conftest import REPO_ROOT
from tests.integration.csv.s3_events import (
    LambdaContext,
    csv_tables,
    glue_columns,
    keys_under,
    put_object,
    read_output,
    s3_put_event,
)
from tests.integration.csv_tools.queues import depth, upload_as_s3_notifies

pytestmark = pytest.mark.integration

KEY = "input/sales/f.csv"
DATASET = "sales"

# The real handler in its own process (a second Lambda): the event from a file, the result to a file (stdout is the
# function's log). KILL_BEFORE names a botocore event of the S3 client at which the process SIGKILLs itself: no
# finally, no clean-up, as Lambda ends a function at its timeout. PAUSE_BEFORE names one (any service's) at which
# it stops once, says so in a file and waits for another: the test's way to choose an interleaving.
CHILD_INVOCATION = """
import json, os, signal, time
from lakepipe.adapters.aws import client, s3_client
from lakepipe.handlers.csv_to_parquet import lambda_handler
from lakepipe_cli.lambda_runtime import LocalLambdaContext

if os.environ.get("KILL_BEFORE"):
    s3_client().meta.events.register(os.environ["KILL_BEFORE"], lambda **_: os.kill(os.getpid(), signal.SIGKILL))
paused = []
def pause(params, **_):
    if paused or not json.dumps(params).startswith(os.environ["PAUSE_IF_PARAMS_START"]):
        return
    paused.append(True)
    open(os.environ["RESULT_PATH"] + ".paused", "w").close()
    while not os.path.exists(os.environ["RESULT_PATH"] + ".go"):
        time.sleep(0.01)
if os.environ.get("PAUSE_BEFORE"):
    client(os.environ["PAUSE_BEFORE"].split(".")[1]).meta.events.register(os.environ["PAUSE_BEFORE"], pause)
context = LocalLambdaContext(
    function_name="lakepipe-dev-CsvToParquetFunction",
    memory_limit_in_mb=1769,
    timeout_seconds=int(os.environ["TIMEOUT_SECONDS"]),
    aws_request_id=os.environ["REQUEST_ID"],
)
result = lambda_handler(json.loads(open(os.environ["EVENT_PATH"]).read()), context)
open(os.environ["RESULT_PATH"], "w").write(json.dumps(result))
"""


@dataclass
class ChildInvocation:
    process: subprocess.Popen[bytes]
    result_path: Path
    started: float

    def result(self, timeout: float = 60) -> dict[str, Any]:
        assert self.process.wait(timeout=timeout) == 0, (
            self.process.stderr.read().decode() if self.process.stderr else ""
        )
        outcome: dict[str, Any] = json.loads(self.result_path.read_text())
        return outcome

    def paused(self) -> bool:
        return self.result_path.with_name(self.result_path.name + ".paused").exists()

    def resume(self) -> None:
        self.result_path.with_name(self.result_path.name + ".go").touch()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=10) == -signal.SIGKILL


def invoke_in_child(
    event: dict[str, Any],
    workdir: Path,
    *,
    request_id: str,
    timeout_seconds: int = 600,
    kill_before: str | None = None,
    pause_before: tuple[str, str] | None = None,
) -> ChildInvocation:
    """``pause_before``: (botocore event, how the call's parameters as JSON start) at which the child pauses."""
    event_path, result_path = workdir / f"{request_id}-event.json", workdir / f"{request_id}-result.json"
    event_path.write_text(json.dumps(event))
    environment = {
        **os.environ,  # the local_aws fixture's: the moto endpoint and the function's variables from the template
        "EVENT_PATH": str(event_path),
        "RESULT_PATH": str(result_path),
        "REQUEST_ID": request_id,
        "TIMEOUT_SECONDS": str(timeout_seconds),
        "KILL_BEFORE": kill_before or "",
        "PAUSE_BEFORE": pause_before[0] if pause_before else "",
        "PAUSE_IF_PARAMS_START": pause_before[1] if pause_before else "",
        "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / part) for part in ("functions", "cli")),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD_INVOCATION], env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    return ChildInvocation(process, result_path, time.monotonic())


def wait_until(condition: Callable[[], bool], child: ChildInvocation, what: str, timeout: float = 30) -> None:
    """Poll ``condition`` while the child runs; fail if the child ended first (it would prove nothing)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.process.poll() is None, f"the child ended before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.02)


def staging_upload_open(bucket: str) -> bool:
    """A conversion is streaming its Parquet file: a multipart upload under tmp/ is open."""
    return bool(boto3.client("s3").list_multipart_uploads(Bucket=bucket, Prefix="tmp/").get("Uploads"))


def large_csv(rows: int, *, malformed: int = 0) -> bytes:
    """``rows`` orders with a region column, then ``malformed`` records with a field too many (quarantined)."""
    lines = ["order_id,customer,amount,region"]
    # Customer ids that do not repeat or compress: the Parquet file grows with the rows, so its first multipart part
    # is flushed early in the conversion, leaving most of it to run once it is observed.
    lines += [
        f"{number},c{number * 2_654_435_761 % 2**32:08x},{number % 10_000 / 4},r{number % 7}" for number in range(rows)
    ]
    lines += [f"{rows + number},late,1.5,r1,extra field" for number in range(malformed)]
    return ("\n".join(lines) + "\n").encode()


V1_ROWS = 3_000_000  # about 3 s of conversion in the child; v2's takes 1-2 s while the two share 2 cores
SMALL_CSV = b"order_id,customer,amount\n1,Ada,12.5\n2,Linus,7.25\n3,Grace,3.75\n"


def expected_rows(data: bytes) -> list[dict[str, str]]:
    """The CSV's rows as Python's csv module reads them."""
    return list(csv.DictReader(io.StringIO(data.decode())))


def rows_under(bucket: str, prefix: str) -> list[dict[str, str]]:
    """Every row of the Parquet files under ``prefix``, every value as the test CSVs spell it."""
    rows: list[dict[str, str]] = []
    for key in keys_under(bucket, prefix):
        table = read_output(bucket, key)
        rows += [
            {name: "" if value is None else str(value) for name, value in row.items()} for row in table.to_pylist()
        ]
    return rows


def idempotency_records(stack: LocalStack) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=stack.idempotency_table)["Items"]
    return [item for item in items if not item["id"]["S"].startswith("lakepipe#publish#")]


def timing(label: str, seconds: float) -> None:
    print(f"[timing] {label}: {seconds:.2f} s")  # read with `pytest -s`: the figures of the report


# ------------------------------------------------------------------------------------------- newest upload wins
@pytest.mark.parametrize("run", [1, 2, 3])
def test_an_older_upload_still_converting_when_a_newer_one_publishes_publishes_nothing(
    local_aws: LocalStack, tmp_path: Path, run: int
) -> None:
    # Given v1 of the key, large (its conversion takes seconds), with a column and quarantined records v2 lacks
    v1 = put_object(local_aws.bucket, KEY, large_csv(V1_ROWS, malformed=3))

    # When v1's conversion runs in a second process and is provably mid-conversion (streaming its staging Parquet)
    child = invoke_in_child(s3_put_event(v1), tmp_path, request_id=f"v1-run-{run}")
    wait_until(lambda: staging_upload_open(local_aws.bucket), child, "v1's staging upload")
    v1_streaming_at = time.monotonic()

    # ... and v2 (three rows, other columns) is uploaded and converted to completion meanwhile
    v2 = put_object(local_aws.bucket, KEY, SMALL_CSV)
    v2_result = lambda_handler(s3_put_event(v2), LambdaContext(aws_request_id=f"v2-run-{run}"))
    v2_published_at = time.monotonic()
    assert child.process.poll() is None, "v1 finished before v2 published: no race happened"
    (v2_report,) = v2_result["reports"]
    assert v2_report["status"] == "converted"

    # ... and then v1 finishes
    (v1_report,) = child.result()["reports"]
    v1_done_at = time.monotonic()

    # Then v1 converted its whole file and was refused at publication, naming the version that replaced it
    assert v1_report["status"] == "superseded"
    assert v1_report["rows_in"] == V1_ROWS + 3  # it read everything: the check that stopped it is the one in the lease
    assert (
        v1_report["reason"] == f"version {v1['version_id']} was replaced by {v2['version_id']}, which has its own event"
    )
    assert v1_report["output_key"] is None
    # ... the table serves exactly v2's rows, in v2's columns; nothing of v1 is left anywhere
    assert keys_under(local_aws.bucket, "database/") == [v2_report["output_key"]]
    assert rows_under(local_aws.bucket, "database/") == expected_rows(SMALL_CSV)
    assert glue_columns(local_aws.database, DATASET) == [
        ("order_id", "bigint"),
        ("customer", "string"),
        ("amount", "double"),
    ]
    assert [name for name, _ in glue_columns(local_aws.database, DATASET)] == list(expected_rows(SMALL_CSV)[0])
    assert keys_under(local_aws.bucket, "quarantine/") == []  # v1's 3 quarantined records were never published
    assert keys_under(local_aws.bucket, "tmp/") == []
    assert boto3.client("s3").list_multipart_uploads(Bucket=local_aws.bucket).get("Uploads") is None
    timing(f"run {run}: v1 handler start -> v1 streaming", v1_streaming_at - child.started)
    timing(f"run {run}: v1 conversion (report seconds)", v1_report["seconds"])
    timing(f"run {run}: v1 streaming -> v2 published", v2_published_at - v1_streaming_at)
    timing(f"run {run}: v2 published -> v1 superseded", v1_done_at - v2_published_at)


def test_an_older_upload_reaching_the_lease_after_the_newer_one_published_publishes_nothing(
    local_aws: LocalStack, tmp_path: Path
) -> None:
    # Given v1's conversion in a second process, stopped once converted, just before it asks for the lease
    v1 = put_object(local_aws.bucket, KEY, large_csv(50_000, malformed=3))
    lease = lease_name(local_aws.bucket, KEY)
    child = invoke_in_child(
        s3_put_event(v1),
        tmp_path,
        request_id="v1",
        pause_before=(
            "before-parameter-build.dynamodb.PutItem",
            f'{{"TableName": "{local_aws.idempotency_table}", "Item": {{"id": {{"S": "{lease}"',
        ),
    )
    wait_until(child.paused, child, "v1 at the lease")
    staged = [key.removeprefix("tmp/csv-to-parquet/v1-message-1/") for key in keys_under(local_aws.bucket, "tmp/")]
    assert [key.split("/")[0] for key in staged] == ["database", "quarantine"]  # complete, staged, not published

    # When v2 is uploaded and converted to completion, and then v1 goes on
    v2 = put_object(local_aws.bucket, KEY, SMALL_CSV)
    (v2_report,) = lambda_handler(s3_put_event(v2), LambdaContext(aws_request_id="v2"))["reports"]
    child.resume()
    (v1_report,) = child.result()["reports"]

    # Then v1 is superseded inside the lease, and only v2 is published: its rows, its columns, no quarantine
    assert (v2_report["status"], v1_report["status"], v1_report["rows_in"]) == ("converted", "superseded", 50_003)
    assert keys_under(local_aws.bucket, "tmp/") == []
    assert rows_under(local_aws.bucket, "database/") == expected_rows(SMALL_CSV)
    assert [name for name, _ in glue_columns(local_aws.database, DATASET)] == ["order_id", "customer", "amount"]
    assert keys_under(local_aws.bucket, "quarantine/") == []


def test_an_older_upload_holding_the_lease_when_the_newer_one_converts_is_published_over(
    local_aws: LocalStack, tmp_path: Path
) -> None:
    # Given v1's conversion in a second process, stopped inside the lease, after its newest-version check passed
    v1 = put_object(local_aws.bucket, KEY, large_csv(50_000, malformed=3))
    child = invoke_in_child(
        s3_put_event(v1), tmp_path, request_id="v1", pause_before=("before-parameter-build.glue.CreateTable", "{")
    )
    wait_until(child.paused, child, "v1 inside the lease")
    lease = boto3.client("dynamodb").get_item(
        TableName=local_aws.idempotency_table, Key={"id": {"S": lease_name(local_aws.bucket, KEY)}}
    )["Item"]
    assert lease["holder"]["S"] == "v1-message-1"

    # When v2 is uploaded and its conversion starts, and v1 goes on once v2's Parquet file is staged
    v2 = put_object(local_aws.bucket, KEY, SMALL_CSV)
    with ThreadPoolExecutor(max_workers=1) as pool:
        v2_invocation = pool.submit(lambda_handler, s3_put_event(v2), LambdaContext(aws_request_id="v2"))
        deadline = time.monotonic() + 30
        while not [key for key in keys_under(local_aws.bucket, "tmp/") if key.startswith("tmp/csv-to-parquet/v2-")]:
            assert not v2_invocation.done(), "v2 ended without waiting for the lease"
            assert time.monotonic() < deadline, "v2 never staged its Parquet file"
            time.sleep(0.02)
        assert not v2_invocation.done()  # v2 converted and waits for the lease v1 holds
        child.resume()
        (v1_report,) = child.result()["reports"]
        (v2_report,) = v2_invocation.result(timeout=60)["reports"]

    # Then v1 published first and v2 after it: the Parquet holds v2's rows, v1's quarantine is gone with it
    assert (v1_report["status"], v2_report["status"]) == ("converted", "converted")
    assert v1_report["rows_quarantined"] == 3
    assert rows_under(local_aws.bucket, "database/") == expected_rows(SMALL_CSV)
    assert keys_under(local_aws.bucket, "quarantine/") == []
    assert keys_under(local_aws.bucket, "tmp/") == []
    # ... and the table keeps v1's extra column, as after any file replaced by a narrower one (columns only grow:
    # the table serves every file of the folder); v2's rows read it as null
    assert [name for name, _ in glue_columns(local_aws.database, DATASET)] == [
        "order_id",
        "customer",
        "amount",
        "region",
    ]


def test_an_older_uploads_event_arriving_after_the_newer_one_converted_is_superseded_at_once(
    local_aws: LocalStack,
) -> None:
    # Given v1 then v2 of the key uploaded, and v2's event delivered first
    v1_bytes = large_csv(1_000, malformed=1)
    v1 = put_object(local_aws.bucket, KEY, v1_bytes)
    v2 = put_object(local_aws.bucket, KEY, SMALL_CSV)
    (v2_report,) = lambda_handler(s3_put_event(v2), LambdaContext(aws_request_id="v2"))["reports"]

    # When v1's event arrives late
    (v1_report,) = lambda_handler(s3_put_event(v1), LambdaContext(aws_request_id="v1"))["reports"]

    # Then v1 is superseded before reading a row, and v2's rows and columns stay
    assert (v2_report["status"], v1_report["status"], v1_report["rows_in"]) == ("converted", "superseded", 0)
    assert rows_under(local_aws.bucket, "database/") == expected_rows(SMALL_CSV)
    assert [name for name, _ in glue_columns(local_aws.database, DATASET)] == ["order_id", "customer", "amount"]
    assert keys_under(local_aws.bucket, "quarantine/") == []


# ---------------------------------------------------------------------------------------------- killed mid-way
def receive_from_the_queue(stack: LocalStack, *, expected_attempt: int) -> dict[str, Any]:
    """The next visible message of CsvEventsQueue, as the event source mapping hands it to the function."""
    sqs, queue_url = boto3.client("sqs"), stack.outputs["CsvEventsQueueUrl"]
    messages = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert [message["Attributes"]["ApproximateReceiveCount"] for message in messages] == [str(expected_attempt)]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs_event(messages, queue_arn=queue_arn, region="eu-west-3")


def visible_again(stack: LocalStack, event: dict[str, Any]) -> None:
    """The message's hidden time is over (the visibility timeout, or the retry delay), without waiting it out."""
    boto3.client("sqs").change_message_visibility(
        QueueUrl=stack.outputs["CsvEventsQueueUrl"],
        ReceiptHandle=event["Records"][0]["receiptHandle"],
        VisibilityTimeout=0,
    )


def only_the_upload_on_the_queue(stack: LocalStack, body: bytes) -> str:
    boto3.client("sqs").purge_queue(QueueUrl=stack.outputs["CsvEventsQueueUrl"])  # S3's test event
    return upload_as_s3_notifies(stack, KEY, body)


def test_a_conversion_killed_mid_way_is_retried_later_and_converts_without_a_person(
    local_aws: LocalStack, tmp_path: Path
) -> None:
    # Given a large upload whose notification is on CsvEventsQueue
    body = large_csv(600_000)
    only_the_upload_on_the_queue(local_aws, body)
    dead_letter_queue = local_aws.outputs["CsvEventsDeadLetterQueueUrl"]

    # When attempt 1 runs in a function with a 6 s timeout and is SIGKILLed mid-conversion
    attempt_1 = receive_from_the_queue(local_aws, expected_attempt=1)
    child = invoke_in_child(attempt_1, tmp_path, request_id="attempt-1", timeout_seconds=6)
    wait_until(lambda: staging_upload_open(local_aws.bucket), child, "the staging upload")
    child.kill()
    killed_at = time.monotonic()

    # Then nothing was published: no object under database/ or tmp/ (only an open multipart upload), no table
    assert keys_under(local_aws.bucket, "database/") == []
    assert keys_under(local_aws.bucket, "tmp/") == []
    assert csv_tables(local_aws.database) == set()
    (record,) = idempotency_records(local_aws)
    assert record["status"]["S"] == "INPROGRESS"
    in_progress_expires_ms = int(record["in_progress_expiration"]["N"])

    # When the message comes back before the killed attempt's in-progress record expired (attempt 2)
    visible_again(local_aws, attempt_1)
    attempt_2 = receive_from_the_queue(local_aws, expected_attempt=2)
    early = lambda_handler(attempt_2, LambdaContext(aws_request_id="attempt-2"))
    assert time.time() * 1000 < in_progress_expires_ms

    # Then it is a retryable failure (Powertools' IdempotencyAlreadyInProgressError is no permanent error): reported
    # in batchItemFailures, the message still in flight (hidden until its retry), not dead-lettered, nothing published
    assert early == {"batchItemFailures": [{"itemIdentifier": attempt_2["Records"][0]["messageId"]}], "reports": []}
    assert depth(local_aws.outputs["CsvEventsQueueUrl"]) == (0, 1)
    assert depth(dead_letter_queue) == (0, 0)
    assert keys_under(local_aws.bucket, "database/") == []

    # When the in-progress record has expired (the killed function's timeout) and the message comes back (attempt 3)
    time.sleep(max(0.0, in_progress_expires_ms / 1000 - time.time()) + 0.2)
    visible_again(local_aws, attempt_2)
    attempt_3 = receive_from_the_queue(local_aws, expected_attempt=3)
    healed = lambda_handler(attempt_3, LambdaContext(aws_request_id="attempt-3"))
    healed_at = time.monotonic()

    # Then it converts: every row Python's csv module reads, the table, the record completed, both queues empty
    assert healed["batchItemFailures"] == []
    (report,) = healed["reports"]
    assert (report["status"], report["rows_in"], report["rows_out"]) == ("converted", 600_000, 600_000)
    boto3.client("sqs").delete_message(
        QueueUrl=local_aws.outputs["CsvEventsQueueUrl"], ReceiptHandle=attempt_3["Records"][0]["receiptHandle"]
    )
    assert rows_under(local_aws.bucket, "database/") == expected_rows(body)
    assert [name for name, _ in glue_columns(local_aws.database, DATASET)] == list(expected_rows(body)[0])
    (record,) = idempotency_records(local_aws)
    assert record["status"]["S"] == "COMPLETED"
    assert depth(local_aws.outputs["CsvEventsQueueUrl"]) == (0, 0)
    assert depth(dead_letter_queue) == (0, 0)
    assert keys_under(local_aws.bucket, "tmp/") == []
    # The killed attempt's multipart upload stays open: the bucket's AbortIncompleteMultipartUpload rule ends it
    assert len(boto3.client("s3").list_multipart_uploads(Bucket=local_aws.bucket, Prefix="tmp/")["Uploads"]) == 1
    timing("killed attempt: handler start -> kill", killed_at - child.started)
    timing("kill -> healed conversion done (in-progress expiry wait included)", healed_at - killed_at)
    timing("healed conversion (report seconds)", report["seconds"])


def test_a_conversion_killed_holding_the_publication_lease_is_published_by_the_retry_once_the_lease_expired(
    local_aws: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an upload whose attempt 1 is killed inside the publication lease (before moving its Parquet file)
    body = large_csv(20_000)
    version_id = only_the_upload_on_the_queue(local_aws, body)
    attempt_1 = receive_from_the_queue(local_aws, expected_attempt=1)
    child = invoke_in_child(
        attempt_1, tmp_path, request_id="attempt-1", timeout_seconds=5, kill_before="before-call.s3.CopyObject"
    )
    assert child.process.wait(timeout=60) == -signal.SIGKILL, child.process.stderr.read().decode()  # type: ignore[union-attr]
    killed_at = time.monotonic()

    # Then the dead holder keeps the lease (nobody else can take it), and no Parquet file reached database/
    name = lease_name(local_aws.bucket, KEY)
    lease = boto3.client("dynamodb").get_item(TableName=local_aws.idempotency_table, Key={"id": {"S": name}})["Item"]
    assert lease["holder"]["S"] == f"attempt-1-{attempt_1['Records'][0]['messageId']}"
    lease_expires_at = int(lease["lease_expires_at"]["N"])
    assert lease_expires_at >= time.time() + 290  # DEFAULT_LEASE_SECONDS (300), not the function's timeout
    assert not DynamoDbLeases(boto3.client("dynamodb"), local_aws.idempotency_table).acquire(name, "someone", 1)
    assert keys_under(local_aws.bucket, "database/") == []
    # ... the catalog was published before the move: the table exists, without a file
    assert [name for name, _ in glue_columns(local_aws.database, DATASET)] == list(expected_rows(body)[0])
    (staging_left,) = keys_under(local_aws.bucket, "tmp/")

    # When the message comes back, as SQS returns it: after the queue's visibility timeout, so the killed attempt's
    # in-progress record and its lease have both expired. The in-progress record's expiry is waited for for real
    # (the child's 5 s timeout); the lease's 300 s are not: the retry's leases read a clock that far ahead.
    (record,) = idempotency_records(local_aws)
    time.sleep(max(0.0, int(record["in_progress_expiration"]["N"]) / 1000 - time.time()) + 0.2)
    visibility_timeout = int(
        boto3.client("sqs").get_queue_attributes(
            QueueUrl=local_aws.outputs["CsvEventsQueueUrl"], AttributeNames=["VisibilityTimeout"]
        )["Attributes"]["VisibilityTimeout"]
    )
    assert visibility_timeout > lease_expires_at - time.time()  # so the lease has expired when SQS redelivers
    monkeypatch.setattr(
        "lakepipe.handlers.csv_conversion.DynamoDbLeases",
        functools.partial(DynamoDbLeases, clock=lambda: time.time() + visibility_timeout),
    )
    visible_again(local_aws, attempt_1)
    attempt_2 = receive_from_the_queue(local_aws, expected_attempt=2)
    healed = lambda_handler(attempt_2, LambdaContext(aws_request_id="attempt-2"))
    healed_at = time.monotonic()

    # Then the retry took the expired lease and published: the rows Python's csv module reads, the lease given back
    assert healed["batchItemFailures"] == []
    (report,) = healed["reports"]
    assert (report["status"], report["version_id"], report["rows_out"]) == ("converted", version_id, 20_000)
    assert rows_under(local_aws.bucket, "database/") == expected_rows(body)
    assert "Item" not in boto3.client("dynamodb").get_item(
        TableName=local_aws.idempotency_table, Key={"id": {"S": name}}
    )
    # ... and the dead attempt's complete staging file is the only thing left, under tmp/ (its lifecycle rule's)
    assert keys_under(local_aws.bucket, "tmp/") == [staging_left]
    timing("lease holder killed -> retry published (in-progress expiry wait included)", healed_at - killed_at)
