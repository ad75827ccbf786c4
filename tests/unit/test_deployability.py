"""What a first deployment into a new account needs from the template, checked on its translation.

Given template.yaml expanded as CloudFormation's SAM transform would, when we look at what decides whether `sam
deploy` works the first time (and after a delete) and whether a failure reaches a person, then the service rules
hold: no reserved concurrency a new account cannot give, a data bucket name that is new at each creation and within
S3's rules in every region, log levels Lambda accepts and applies, alarms that speak on every new failure, and a
Glue failure notification that cannot vanish. Numbers come from the services' own models (botocore) where they can.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
import warnings
from typing import Any

import botocore.session
import pytest
from aws_lambda_powertools import Logger

from tests.conftest import REPO_ROOT
from tools.sam_translate import load_sam_template

# CloudFormation's stack id for a stack created in us-east-1, with the UUID the docs show (v1: time first).
DOCUMENTED_STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/1c2fa620-982a-11e3-aff7-50e2416294e0"
BUCKET_NAME_RULE = re.compile(r"(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")  # S3 general purpose buckets


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in template["Resources"].items() if spec["Type"] == resource_type}


def resolve_bucket_name(expression: Any, *, stage: str, account: str, region: str, stack_id: str) -> str:
    """The bucket name CloudFormation computes from the template's !Sub (Fn::Select of Fn::Split, by hand)."""
    text, variables = expression["Fn::Sub"]
    selection = variables["StackCreation"]["Fn::Select"]
    outer_separator = selection[1]["Fn::Split"][0]
    inner = selection[1]["Fn::Split"][1]["Fn::Select"]
    inner_separator = inner[1]["Fn::Split"][0]
    assert inner[1]["Fn::Split"][1] == {"Ref": "AWS::StackId"}
    creation = stack_id.split(inner_separator)[inner[0]].split(outer_separator)[selection[0]]
    values = {"Stage": stage, "AWS::AccountId": account, "AWS::Region": region, "StackCreation": creation}
    return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], text)


# ---------------------------------------------------------------- concurrency a new account can give
def test_no_function_but_the_csv_one_reserves_concurrency(translated_template: dict[str, Any]) -> None:
    # Lambda keeps 100 of the account's concurrency unreserved and new accounts start with a reduced quota
    # (docs: configuration-concurrency, gettingstarted-limits): any reservation can fail the first deploy.
    functions = resources_of_type(translated_template, "AWS::Lambda::Function")
    reserving = {name for name, spec in functions.items() if "ReservedConcurrentExecutions" in spec["Properties"]}

    assert "IngestWeatherFunction" not in reserving
    # The CSV function's reservation goes when its trigger becomes an SQS event source mapping capped by
    # ScalingConfig.MaximumConcurrency (the lead's change); then this set is empty.
    assert reserving <= {"CsvToParquetFunction"}


# ---------------------------------------------------------------- a bucket name new at every creation
def test_the_data_bucket_name_changes_with_each_stack_creation(translated_template: dict[str, Any]) -> None:
    expression = translated_template["Resources"]["DataBucket"]["Properties"]["BucketName"]
    first = resolve_bucket_name(expression, stage="dev", account="123456789012", region="eu-west-3",
                                stack_id=DOCUMENTED_STACK_ID)  # fmt: skip
    again = resolve_bucket_name(
        expression, stage="dev", account="123456789012", region="eu-west-3",
        stack_id=f"arn:aws:cloudformation:eu-west-3:123456789012:stack/MyStack/{uuid.uuid1()}",
    )  # fmt: skip

    # the stack id's UUID changes at each creation; its first group is the fastest-changing part of a v1 UUID
    assert first == "lakepipe-dev-data-123456789012-eu-west-3-1c2fa620"
    assert again != first
    assert translated_template["Resources"]["DataBucket"]["DeletionPolicy"] == "Retain"


def test_the_data_bucket_name_fits_s3s_rules_in_every_region_and_stage(translated_template: dict[str, Any]) -> None:
    session = botocore.session.get_session()
    regions = [
        region
        for partition in session.get_available_partitions()
        for region in session.get_available_regions("s3", partition_name=partition)
    ]
    stages = load_sam_template(REPO_ROOT / "template.yaml")["Parameters"]["Stage"]["AllowedValues"]
    expression = translated_template["Resources"]["DataBucket"]["Properties"]["BucketName"]

    names = [
        resolve_bucket_name(expression, stage=stage, account="123456789012", region=region,
                            stack_id=f"arn:aws:cloudformation:{region}:123456789012:stack/s/{uuid.uuid4()}")
        for stage in stages
        for region in regions
    ]  # fmt: skip

    assert len(regions) > 30
    assert [name for name in names if not BUCKET_NAME_RULE.fullmatch(name)] == []


def spelled_out_bucket_names(node: Any) -> list[Any]:
    """Every !Sub of the translated template that writes the data bucket's name out instead of referencing it."""
    found: list[Any] = []
    if isinstance(node, dict):
        sub = node.get("Fn::Sub")
        text = sub if isinstance(sub, str) else sub[0] if isinstance(sub, list) else ""
        if "lakepipe-${Stage}-data-" in text:
            found.append(sub)
        for value in node.values():
            found += spelled_out_bucket_names(value)
    elif isinstance(node, list):
        for item in node:
            found += spelled_out_bucket_names(item)
    return found


def test_every_spelled_out_bucket_name_is_the_buckets_own(translated_template: dict[str, Any]) -> None:
    bucket_text, bucket_variables = translated_template["Resources"]["DataBucket"]["Properties"]["BucketName"][
        "Fn::Sub"
    ]
    spelled = spelled_out_bucket_names({"Resources": translated_template["Resources"], "Outputs": {}})

    # The CSV events queue's policy (the bucket's notifications wait for it), beside the bucket itself
    assert len(spelled) >= 2
    for sub in spelled:
        text, variables = sub
        named = text.removeprefix("arn:${AWS::Partition}:s3:::")
        assert named == bucket_text or named.startswith(f"{bucket_text}/"), text
        assert variables == bucket_variables
    # everything else names the bucket by reference
    assert spelled_out_bucket_names(translated_template["Outputs"]) == []


# ---------------------------------------------------------------- log levels Lambda applies
def test_every_function_logs_at_the_log_level_parameter(translated_template: dict[str, Any]) -> None:
    lambda_model = botocore.session.get_session().get_service_model("lambda")
    allowed_levels = load_sam_template(REPO_ROOT / "template.yaml")["Parameters"]["LogLevel"]["AllowedValues"]

    # every value the parameter allows is one Lambda accepts for ApplicationLogLevel (WARN, not WARNING)
    assert set(allowed_levels) <= set(lambda_model.shape_for("ApplicationLogLevel").enum)
    for name, spec in resources_of_type(translated_template, "AWS::Lambda::Function").items():
        logging_config = spec["Properties"]["LoggingConfig"]
        assert logging_config["LogFormat"] == "JSON", name
        assert logging_config["ApplicationLogLevel"] == {"Ref": "LogLevel"}, name
        assert logging_config["SystemLogLevel"] in lambda_model.shape_for("SystemLogLevel").enum
        assert spec["Properties"]["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


def powertools_logs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], **variables: str) -> list[str]:
    """The levels of what a fresh Powertools Logger prints for one record at each level, under ``variables``."""
    for name in ("AWS_LAMBDA_LOG_LEVEL", "POWERTOOLS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    logger = Logger(service=f"loglevel-{uuid.uuid4().hex[:8]}")
    for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
        logger.log(level, "a record")
    return [json.loads(line)["level"] for line in capsys.readouterr().out.splitlines()]


def test_without_application_log_level_debug_logs_are_lost(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Lambda's JSON format filters at INFO unless ApplicationLogLevel says otherwise, and tells Powertools so
    # through AWS_LAMBDA_LOG_LEVEL (docs: monitoring-cloudwatchlogs-log-level), which Powertools ranks first.
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        levels = powertools_logs(monkeypatch, capsys, AWS_LAMBDA_LOG_LEVEL="INFO", POWERTOOLS_LOG_LEVEL="DEBUG")

    assert levels == ["INFO", "WARNING", "ERROR"]


@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARN", "ERROR"])
def test_each_log_level_reaches_powertools_through_lambda(
    level: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As deployed: Lambda sets AWS_LAMBDA_LOG_LEVEL from ApplicationLogLevel, the template POWERTOOLS_LOG_LEVEL
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        levels = powertools_logs(monkeypatch, capsys, AWS_LAMBDA_LOG_LEVEL=level, POWERTOOLS_LOG_LEVEL=level)

    threshold = logging.getLevelName("WARNING" if level == "WARN" else level)
    assert levels == [name for name in ("DEBUG", "INFO", "WARNING", "ERROR") if logging.getLevelName(name) >= threshold]
    assert [str(warning.message) for warning in caught if "Advanced Logging Controls" in str(warning.message)] == []


# ---------------------------------------------------------------- every failure reaches a person
def test_the_alarm_email_is_required_and_always_subscribed(translated_template: dict[str, Any]) -> None:
    parameter = translated_template["Parameters"]["AlarmEmail"]
    (subscription,) = resources_of_type(translated_template, "AWS::SNS::Subscription").values()

    assert "Default" not in parameter
    assert re.fullmatch(parameter["AllowedPattern"], "") is None
    assert re.fullmatch(parameter["AllowedPattern"], "data-oncall@example.com")
    assert "Condition" not in subscription
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "NotificationTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }


def test_a_new_failed_invocation_alarms_even_while_older_ones_wait(translated_template: dict[str, Any]) -> None:
    resources = translated_template["Resources"]
    new_failures = resources["FailedInvocationsAlarm"]["Properties"]
    waiting = resources["FailedInvocationsWaitingAlarm"]["Properties"]
    queue = resources["FailedInvocationsQueue"]["Properties"]

    # a count of messages sent per period goes back to 0 after a quiet period (alarms notify on a change of state);
    # a depth would stay above 0 while old messages wait and never change state again
    assert (new_failures["Namespace"], new_failures["MetricName"], new_failures["Statistic"]) == (
        "AWS/SQS",
        "NumberOfMessagesSent",
        "Sum",
    )
    assert (new_failures["ComparisonOperator"], new_failures["Threshold"]) == ("GreaterThanThreshold", 0)
    # and a message left waiting is said again before the queue's retention drops it
    assert waiting["MetricName"] == "ApproximateAgeOfOldestMessage"
    assert 0 < waiting["Threshold"] < queue["MessageRetentionPeriod"]
    for alarm in (new_failures, waiting):
        assert alarm["Dimensions"] == [
            {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailedInvocationsQueue", "QueueName"]}}
        ]
        assert alarm["AlarmActions"] == [{"Ref": "NotificationTopic"}]


def test_a_glue_failure_notification_is_retried_then_kept_and_alarmed(translated_template: dict[str, Any]) -> None:
    resources = translated_template["Resources"]
    (target,) = resources["WeatherEtlJobFailedRule"]["Properties"]["Targets"]
    events_model = botocore.session.get_session().get_service_model("events")
    retry_shape = events_model.shape_for("RetryPolicy").members

    # EventBridge's documented maxima (the API model's ranges): the most patient retry there is
    assert target["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": retry_shape["MaximumEventAgeInSeconds"].metadata["max"],
        "MaximumRetryAttempts": retry_shape["MaximumRetryAttempts"].metadata["max"],
    }
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["UndeliveredNotificationsQueue", "Arn"]}}
    # the queue lets EventBridge send for this rule only, over TLS, and keeps messages as long as SQS can
    policy = resources["UndeliveredNotificationsQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "UndeliveredNotificationsQueue"}]
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["WeatherEtlJobFailedRule", "Arn"]}}}
    assert resources["UndeliveredNotificationsQueue"]["Properties"]["MessageRetentionPeriod"] == 1209600
    # and anything landing there is alarmed on
    alarm = resources["UndeliveredNotificationsAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Statistic"], alarm["Threshold"]) == ("NumberOfMessagesSent", "Sum", 0)
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["UndeliveredNotificationsQueue", "QueueName"]}}
    ]


# ---------------------------------------------------------------- the Glue role: no AWS managed policy
def test_no_role_carries_the_glue_service_role(translated_template: dict[str, Any]) -> None:
    managed = {
        name: spec["Properties"].get("ManagedPolicyArns", [])
        for name, spec in resources_of_type(translated_template, "AWS::IAM::Role").items()
    }

    assert "ManagedPolicyArns" not in translated_template["Resources"]["WeatherEtlJobRole"]["Properties"]
    assert [name for name, arns in managed.items() if "AWSGlueServiceRole" in json.dumps(arns)] == []
