"""Which events start a weather run: scheduled events by ``source`` and ``detail-type``, nothing else.

The accepted shapes are AWS's: an EventBridge rule's scheduled event (events/scheduled-event.json, the shape of
``sam local generate-event cloudwatch scheduled-event`` plus the ``version`` every EventBridge event carries), and
EventBridge Scheduler's default payload, whose ``detail`` is the *string* "{}" (as received by users in
aws/aws-lambda-dotnet#1864 and aws/aws-lambda-java-libs#479; Powertools handles it since
aws-powertools/powertools-lambda-python#6134). The EC2 event is the EventBridge example Powertools' own tests use.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from lakepipe.handlers.ingest_weather import NotAScheduledEventError, parse_scheduled_event
from tests.conftest import load_event

EC2_STATE_CHANGE: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {"instance_id": "i-1234567890abcdef0", "state": "terminated"},
}


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("scheduled-event.json", "aws.events"),
        ("pipeline-input.json", "aws.events"),
        ("scheduler-event.json", "aws.scheduler"),
    ],
)
def test_rule_and_scheduler_events_are_recognised_with_their_time(name: str, source: str) -> None:
    event = parse_scheduled_event(load_event(name))

    assert (event.source, event.detail_type) == (source, "Scheduled Event")
    assert event.time == datetime(2026, 11, 22, 3, 0, tzinfo=UTC)


def test_the_scheduler_events_string_detail_is_read_as_an_empty_object() -> None:
    raw = load_event("scheduler-event.json")
    assert raw["detail"] == "{}"

    assert parse_scheduled_event(raw).detail == {}


def _with(name: str, **changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event(name))
    event.update({key.replace("_", "-"): value for key, value in changes.items()})
    return event


@pytest.mark.parametrize(
    ("event", "named"),
    [
        (EC2_STATE_CHANGE, "source='aws.ec2', detail-type='EC2 Instance State-change Notification'"),
        (_with("scheduled-event.json", source="my.app"), "source='my.app'"),
        (_with("scheduled-event.json", detail_type="Object Created"), "detail-type='Object Created'"),
        (_with("scheduler-event.json", detail_type="Custom"), "detail-type='Custom'"),
        ({"detail": {}}, "source=None, detail-type=None"),
        ({}, "source=None"),
    ],
    ids=["ec2 state change", "custom source", "another aws.events type", "another scheduler type", "no id", "empty"],
)
def test_any_other_event_is_refused_saying_what_it_is(event: dict[str, Any], named: str) -> None:
    with pytest.raises(NotAScheduledEventError) as refused:
        parse_scheduled_event(event)

    message = str(refused.value)
    assert "runs on scheduled events only (source 'aws.events' or 'aws.scheduler'" in message
    assert named in message


def test_a_scheduled_event_without_its_time_is_refused() -> None:
    event = load_event("scheduled-event.json")
    del event["time"]

    with pytest.raises(NotAScheduledEventError, match="time: Field required"):
        parse_scheduled_event(event)


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(NotAScheduledEventError, match="source=None"):
        parse_scheduled_event("Scheduled Event")
