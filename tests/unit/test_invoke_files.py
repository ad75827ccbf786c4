"""Events from events/ filled in for a stack: every S3 notification names the stack's bucket and real objects,
whether it is the event itself or an SQS message's body. The event shapes come from SAM CLI's own generator."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from samcli.lib.generated_sample_events.events import Events

from lakepipe_cli.invoke_files import (
    EVENTS_DIR,
    VARIABLE_OUTPUTS,
    ObjectFacts,
    fill_event,
    s3_objects_named,
    sam_env_vars,
)

FACTS = ObjectFacts(size=331, etag="8a743f7865aa0000aaaa0000aaaa0000", version_id="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")


def generated(service: str, event_type: str, values: dict[str, str]) -> dict[str, Any]:
    """An event as `sam local generate-event` makes it."""
    return json.loads(Events().generate_event(service, event_type, values))


def s3_put(bucket: str, key: str) -> dict[str, Any]:
    return generated("s3", "put", {"bucket": bucket, "key": key, "partition": "aws", "region": "us-east-1"})


def test_an_s3_notification_names_the_stacks_bucket_and_the_objects_facts() -> None:
    event = s3_put("placeholder-bucket", "input/users.csv")

    filled = fill_event(event, bucket="lakepipe-dev-data-1-eu-west-3", region="eu-west-3",
                        objects={"input/users.csv": FACTS})  # fmt: skip

    (record,) = filled["Records"]
    assert record["awsRegion"] == "eu-west-3"
    assert record["s3"]["bucket"]["name"] == "lakepipe-dev-data-1-eu-west-3"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::lakepipe-dev-data-1-eu-west-3"
    assert (record["s3"]["object"]["size"], record["s3"]["object"]["eTag"], record["s3"]["object"]["versionId"]) == (
        331,
        FACTS.etag,
        FACTS.version_id,
    )
    assert event["Records"][0]["s3"]["bucket"]["name"] == "placeholder-bucket", "the source event is left as it was"


def test_an_s3_notification_inside_an_sqs_body_is_filled_and_the_body_digest_follows() -> None:
    # Given the shape the CSV trigger is moving to: SQS records whose body is an S3 notification
    event = generated("sqs", "receive-message", {"body": "placeholder"})
    assert event["Records"][0]["md5OfBody"] == hashlib.md5(b"placeholder", usedforsecurity=False).hexdigest()
    event["Records"][0]["body"] = json.dumps(s3_put("placeholder-bucket", "input/sales 2024.csv"))
    encoded_key = json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]["key"]

    # When it is filled for a stack
    filled = fill_event(event, bucket="lake", region="eu-west-3", objects={"input/sales 2024.csv": FACTS},
                        queue_arn="arn:aws:sqs:eu-west-3:123456789012:lakepipe-dev-csv-uploads")  # fmt: skip

    # Then the notification inside the body names the stack, and the record stays self-consistent
    (record,) = filled["Records"]
    body = json.loads(record["body"])
    assert body["Records"][0]["s3"]["bucket"]["name"] == "lake"
    assert body["Records"][0]["s3"]["object"]["key"] == encoded_key, "keys stay URL-encoded, as S3 sends them"
    assert body["Records"][0]["s3"]["object"]["eTag"] == FACTS.etag
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
    assert record["eventSourceARN"] == "arn:aws:sqs:eu-west-3:123456789012:lakepipe-dev-csv-uploads"
    assert s3_objects_named(filled) == [("lake", "input/sales 2024.csv")]


def test_an_event_naming_an_object_the_stack_lacks_is_refused() -> None:
    with pytest.raises(KeyError, match=r"input/missing\.csv"):
        fill_event(s3_put("b", "input/missing.csv"), bucket="lake", region="eu-west-3", objects={})


def test_every_event_in_events_dir_is_json_and_events_without_s3_records_are_left_alone() -> None:
    for path in EVENTS_DIR.glob("*.json"):
        event = json.loads(path.read_text())
        if not s3_objects_named(event):
            assert fill_event(event, bucket="lake", region="eu-west-3", objects={}) == event


def test_the_env_file_points_each_function_at_the_stacks_outputs() -> None:
    outputs = {"DataBucketName": "lake", "IdempotencyTableName": "idem", "GlueDatabaseName": "db"}

    env = sam_env_vars(outputs, "", {"IngestWeatherFunction": {"WEATHER_FORECAST_DAYS": "2"}})

    assert env["CsvToParquetFunction"] == {
        "AWS_ENDPOINT_URL": "",
        "DATA_BUCKET": "lake",
        "IDEMPOTENCY_TABLE": "idem",
        "GLUE_DATABASE": "db",
    }
    assert env["IngestWeatherFunction"]["WEATHER_FORECAST_DAYS"] == "2"
    assert set(VARIABLE_OUTPUTS.values()) <= set(outputs)
