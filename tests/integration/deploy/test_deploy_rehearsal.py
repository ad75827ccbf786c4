"""Deploy rehearsal: `sam build && sam deploy --guided` with a non-default stack name, played on moto.

Given the template as CloudFormation receives it (translated by SAM; the Glue script uploaded by SAM CLI's own
packager to the bucket and prefix SAM CLI's own guided flow picks for the stack name typed), when it is created as
a stack on moto's CloudFormation, deleted, and created again with the same parameters, then each creation
completes, every output resolves, the retained data bucket keeps its data while the new stack gets a bucket of its
own, the roles allow what the pipeline does and refuse the rest, failures are wired to the topic and the topic to
the address, and the pipeline runs through the stack's outputs: one CSV converted, one state machine execution.

What moto's CloudFormation cannot create, or creates without some properties, is completed through each service's
API (tests/integration/deploy/rehearsal.py says which and how); the README's honest limits list what no API here
can show.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

import boto3
import pyarrow.parquet as pq
import pytest
import requests
from botocore.exceptions import ClientError
from moto.cloudformation.parsing import get_model_map
from moto.core.authorization import enable_iam_authentication
from moto.core.config import default_user_config
from samcli.commands._utils.template import get_template_parameters
from samcli.commands.deploy import guided_context
from samcli.commands.deploy.utils import sanitize_parameter_overrides
from samcli.lib.package.code_signer import CodeSigner
from samcli.lib.package.packageable_resources import GlueJobCommandScriptLocationResource
from samcli.lib.package.s3_uploader import S3Uploader
from samcli.lib.package.uploaders import Uploaders

from lakepipe.handlers.csv_to_parquet import lambda_handler as csv_to_parquet
from lakepipe_cli.lambda_runtime import invoke
from lakepipe_cli.local_aws import LOCAL_REGION, LocalStack, local_aws_environment
from tests.conftest import REPO_ROOT
from tests.dashboard_rules import alarm_arns, dashboard_body_problems, named_metrics
from tests.integration.csv.s3_events import s3_put_event
from tests.integration.deploy.rehearsal import (
    MOTO_CANNOT_CREATE,
    MOTO_KEEPS,
    ClientFactory,
    RehearsedStack,
    create_stack,
    session_client,
    unaccounted_properties,
)
from tests.integration.orchestration.harness import (
    PipelineExecution,
    PipelineHarness,
    moto_configured_for_orchestration,
)
from tests.integration.orchestration.test_weather_pipeline import (
    MANIFEST,
    SCHEDULED_EVENT,
    VALIDATION_COLUMNS,
    validation_row,
)
from tools.sam_translate import load_sam_template

pytestmark = [
    pytest.mark.integration,
    # moto's CloudFormation warns for each type it skips: rehearsal.MOTO_CANNOT_CREATE lists them and says why
    pytest.mark.filterwarnings("ignore:Tried to parse .* not supported by moto:UserWarning"),
    # SAM CLI's guided flow validates the template with samtranslator's deprecated validator
    pytest.mark.filterwarnings("ignore::DeprecationWarning:samtranslator.validator.validator"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:samcli.lib.samlib.wrapper"),
]

# Not lakepipe-<stage>: the case the Glue role's script permission used to break.
STACK_NAME = "acme-weather-lake"
ALARM_EMAIL = "data-oncall@example.com"
# What `sam deploy --guided` finds or creates (aws-sam-cli-managed-default stack): the one call that needs AWS.
MANAGED_ARTIFACT_BUCKET = "aws-sam-cli-managed-default-samclisourcebucket-1a2b3c4d5e6f"
GLUE_SCRIPT = REPO_ROOT / "glue" / "weather_etl.py"


# ---------------------------------------------------------------- sam deploy --guided, by SAM CLI itself
@dataclass(frozen=True)
class GuidedDeploy:
    """What SAM CLI's guided flow decided, and the default it offered for each parameter."""

    stack_name: str
    s3_bucket: str
    s3_prefix: str
    parameters: dict[str, str]
    offered_defaults: dict[str, Any]
    answers: dict[str, str]


def guided_deploy(stack_name: str, answers: dict[str, str]) -> GuidedDeploy:
    """Run SAM CLI's GuidedContext on template.yaml, a person typing ``stack_name`` and ``answers`` and pressing
    Enter elsewhere; samconfig.toml's default environment seeds it, as `sam deploy --guided` does."""
    offered: dict[str, Any] = {}

    def typed(text: str, default: Any = None, **_: Any) -> Any:
        label = text.replace("\033[1m", "").replace("\033[0m", "").strip()
        offered[label] = default
        if label == "Stack Name":
            return stack_name
        parameter = label.removeprefix("Parameter ")
        return answers.get(parameter, default)

    def confirmed(text: str, default: Any = None, **_: Any) -> bool:
        return False if "Save arguments" in text else bool(True if default is None else default)

    template = str(REPO_ROOT / "template.yaml")
    with (
        mock.patch.object(guided_context, "prompt", typed),
        mock.patch.object(guided_context, "confirm", confirmed),
        mock.patch.object(guided_context, "manage_stack", return_value=MANAGED_ARTIFACT_BUCKET),
        # image repositories are created by a companion stack on AWS; nothing here pushes images
        mock.patch.object(guided_context.GuidedContext, "prompt_image_repository", return_value={}),
    ):
        context = guided_context.GuidedContext(
            template_file=template,
            stack_name="lakepipe-dev",  # samconfig.toml's default environment
            s3_bucket=None,
            image_repository=None,
            image_repositories=None,
            s3_prefix="lakepipe-dev",
            region=LOCAL_REGION,
            confirm_changeset=True,
            capabilities=("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"),
            parameter_overrides={"Stage": "dev"},
        )
        context.guided_prompts(get_template_parameters(template))
    return GuidedDeploy(
        stack_name=context.guided_stack_name,
        s3_bucket=context.guided_s3_bucket,
        s3_prefix=context.guided_s3_prefix,
        parameters=sanitize_parameter_overrides(context.guided_parameter_overrides),
        offered_defaults={k.removeprefix("Parameter "): v for k, v in offered.items()},
        answers=dict(answers),
    )


def package(translated: dict[str, Any], guided: GuidedDeploy, client: ClientFactory) -> dict[str, Any]:
    """What `sam deploy` does before creating the stack: SAM CLI's own packager uploads the Glue script to the
    guided bucket and prefix and writes its S3 URI into the job (images are pushed to ECR: not done here)."""
    client("s3").create_bucket(Bucket=guided.s3_bucket, CreateBucketConfiguration={"LocationConstraint": LOCAL_REGION})
    uploaders = Uploaders(S3Uploader(client("s3"), guided.s3_bucket, guided.s3_prefix, no_progressbar=True), None)
    job = copy.deepcopy(load_sam_template(REPO_ROOT / "template.yaml")["Resources"]["WeatherEtlJob"]["Properties"])
    GlueJobCommandScriptLocationResource(uploaders, CodeSigner(None, None)).export("WeatherEtlJob", job, str(REPO_ROOT))
    packaged = copy.deepcopy(translated)
    packaged["Resources"]["WeatherEtlJob"]["Properties"]["Command"]["ScriptLocation"] = job["Command"]["ScriptLocation"]
    return packaged


def s3_location(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


# ---------------------------------------------------------------- fixtures
@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFactory]:
    """A clean moto server, configured before anything is created: its Lambda is the docker-free one (moto keeps
    each kind of Lambda backend apart, and the stack's functions must be where Step Functions' interpreter invokes
    them), and its IAM knows AWS's managed policies (so a role attaching one that does not exist fails)."""
    for name, value in local_aws_environment(moto_endpoint).items():
        monkeypatch.setenv(name, value)
    # read when moto's IAM backend starts (after the reset below); the server runs in this process
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    previous = {"lambda": copy.deepcopy(default_user_config["lambda"])}
    config_url = f"{moto_endpoint}/moto-api/config"
    requests.post(config_url, json={"lambda": {"use_docker": False}}, timeout=10).raise_for_status()
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    try:
        yield session_client(moto_endpoint)
    finally:
        requests.post(config_url, json=previous, timeout=10).raise_for_status()
        requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()


@functools.cache
def guided_with(input_prefix: str | None) -> GuidedDeploy:
    """The guided deploy, answering AlarmEmail and (unless None: Enter) InputPrefix."""
    answers = {"AlarmEmail": ALARM_EMAIL} | ({} if input_prefix is None else {"InputPrefix": input_prefix})
    return guided_deploy(STACK_NAME, answers)


@pytest.fixture(scope="module")
def guided() -> GuidedDeploy:
    return guided_with(None)


# The tests where the input prefix matters run twice: with the default, and with the first seed's own folder, a
# prefix with a space ("input data/"), typed at the guided prompt as a user would.
@pytest.fixture(scope="module", params=[None, "input data/"], ids=["default-prefix", "input-data-prefix"])
def guided_any_prefix(request: pytest.FixtureRequest) -> GuidedDeploy:
    return guided_with(request.param)


@pytest.fixture
def packaged(translated_template: dict[str, Any], guided: GuidedDeploy, aws: ClientFactory) -> dict[str, Any]:
    return package(translated_template, guided, aws)


@pytest.fixture
def stack(aws: ClientFactory, packaged: dict[str, Any], guided: GuidedDeploy) -> RehearsedStack:
    return create_stack(aws, packaged, guided.stack_name, guided.parameters)


@pytest.fixture
def stack_any_prefix(
    aws: ClientFactory, translated_template: dict[str, Any], guided_any_prefix: GuidedDeploy
) -> RehearsedStack:
    packaged = package(translated_template, guided_any_prefix, aws)
    return create_stack(aws, packaged, guided_any_prefix.stack_name, guided_any_prefix.parameters)


# ---------------------------------------------------------------- the guided deploy
def test_guided_deploy_puts_artifacts_under_the_stack_name_and_asks_for_an_alarm_email(
    guided_any_prefix: GuidedDeploy,
) -> None:
    guided = guided_any_prefix
    # SAM CLI's guided flow, not a copy of its rule: the prefix it uploads under is the name typed
    assert (guided.stack_name, guided.s3_bucket, guided.s3_prefix) == (STACK_NAME, MANAGED_ARTIFACT_BUCKET, STACK_NAME)
    # AlarmEmail is offered no address (SAM CLI pre-fills "" for a parameter without a default), and Enter alone
    # would give "", which the parameter's AllowedPattern refuses before CloudFormation creates anything
    assert guided.offered_defaults["AlarmEmail"] == ""
    pattern = load_sam_template(REPO_ROOT / "template.yaml")["Parameters"]["AlarmEmail"]["AllowedPattern"]
    assert re.fullmatch(pattern, "") is None
    assert guided.parameters["AlarmEmail"] == ALARM_EMAIL
    assert guided.parameters["Stage"] == "dev"
    assert set(guided.parameters) == set(load_sam_template(REPO_ROOT / "template.yaml")["Parameters"])
    # SAM offers the template's default prefix; one typed with a space reaches the stack's parameters whole
    assert guided.offered_defaults["InputPrefix"] == "input/"
    assert guided.parameters["InputPrefix"] == guided.answers.get("InputPrefix", "input/")


# ---------------------------------------------------------------- create, delete, create again
def test_the_stack_is_created_deleted_and_created_again_with_the_same_parameters(
    aws: ClientFactory, translated_template: dict[str, Any], guided_any_prefix: GuidedDeploy
) -> None:
    guided = guided_any_prefix
    packaged = package(translated_template, guided, aws)
    # Given a first creation, with data in its bucket
    first = create_stack(aws, packaged, guided.stack_name, guided.parameters)
    aws("s3").put_object(Bucket=first.outputs["DataBucketName"], Key="landing/weather/kept.json", Body=b"{}")

    # When the stack is deleted and created again with the same name and parameters
    first.delete()
    second = create_stack(aws, packaged, guided.stack_name, guided.parameters)

    # Then both creations completed, and every output resolves to a value
    for created in (first, second):
        assert set(created.outputs) == set(packaged["Outputs"])
        assert all(created.outputs.values()), created.outputs
        # moto's own outputs (those it could resolve) say the same as the rehearsal's
        assert created.moto_outputs.items() <= created.outputs.items()
        # the bucket is named after this creation's stack id (its UUID's first 8 hex digits, read another way)
        creation = uuid.UUID(created.stack_id.rsplit("/", 1)[1]).hex[:8]
        assert created.outputs["DataBucketName"] == f"lakepipe-dev-data-123456789012-{LOCAL_REGION}-{creation}"
    # the new stack has a new, empty bucket; the retained one still holds its data
    assert second.outputs["DataBucketName"] != first.outputs["DataBucketName"]
    assert aws("s3").list_objects_v2(Bucket=second.outputs["DataBucketName"]).get("KeyCount") == 0
    kept = aws("s3").get_object(Bucket=first.outputs["DataBucketName"], Key="landing/weather/kept.json")
    assert kept["Body"].read() == b"{}"
    # what is named by stage alone was deleted with the first stack and created again
    for name in ("GlueDatabaseName", "AthenaWorkGroupName", "WeatherEtlJobName", "WeatherPipelineStateMachineName"):
        assert second.outputs[name] == first.outputs[name]
    assert aws("glue").get_database(Name=second.outputs["GlueDatabaseName"])["Database"]["Name"] == "lakepipe_dev"
    # where CSVs go, as the outputs say and as S3 was told to filter (the prefix URL-encoded as S3's guide asks:
    # a space as "+", tests/unit/test_input_prefix.py), read back from the bucket
    prefix = guided.parameters["InputPrefix"]
    bucket = second.outputs["DataBucketName"]
    assert second.outputs["CsvInputLocation"] == f"s3://{bucket}/{prefix}"
    notifications = aws("s3").get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    filtered = {
        rule["Value"] for n in notifications for rule in n["Filter"]["Key"]["FilterRules"] if rule["Name"] == "prefix"
    }
    assert filtered == {quote_plus(prefix, safe="/")}
    assert {n["QueueArn"] for n in notifications} == {second.attribute("CsvEventsQueue", "Arn")}


def test_a_retained_bucket_with_a_fixed_name_cannot_be_created_twice(
    aws: ClientFactory, packaged: dict[str, Any], guided: GuidedDeploy
) -> None:
    # Given the bucket named as before this change: stage, account and region only
    fixed = copy.deepcopy(packaged)
    fixed["Resources"]["DataBucket"]["Properties"]["BucketName"] = {
        "Fn::Sub": "lakepipe-${Stage}-data-${AWS::AccountId}-${AWS::Region}"
    }
    create_stack(aws, fixed, guided.stack_name, guided.parameters).delete()

    # When the stack is created again, then the retained bucket's name is taken: the rehearsal sees the blocker
    with pytest.raises(ClientError, match="BucketAlreadyExists"):
        create_stack(aws, fixed, guided.stack_name, guided.parameters)


def test_what_moto_cannot_create_or_drops_is_all_accounted_for(translated_template: dict[str, Any]) -> None:
    types = {spec["Type"] for spec in translated_template["Resources"].values()}
    # the record agrees with moto's own model map, not with a list written beside it
    assert types & MOTO_CANNOT_CREATE == types - set(get_model_map())
    assert types - MOTO_CANNOT_CREATE == types & set(MOTO_KEEPS)
    # and every property is kept by moto, applied through an API, or given a reason (README: honest limits)
    assert unaccounted_properties(translated_template) == []


# ---------------------------------------------------------------- least privilege, on the created roles
def role_client(aws: ClientFactory, role_arn: str) -> Any:
    """An S3 client acting as ``role_arn`` (moto's STS), for moto's IAM evaluation of the role's policies."""
    credentials = aws("sts").assume_role(RoleArn=role_arn, RoleSessionName="rehearsal")["Credentials"]
    return boto3.client(
        "s3",
        endpoint_url=aws("s3").meta.endpoint_url,
        region_name=LOCAL_REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def allowed(call: Any, **arguments: Any) -> bool:
    try:
        call(**arguments)
    except ClientError as error:
        if error.response["Error"]["Code"] == "AccessDenied":
            return False
        raise
    return True


def test_each_role_allows_the_pipelines_own_calls_and_refuses_the_rest(
    stack_any_prefix: RehearsedStack, aws: ClientFactory
) -> None:
    stack = stack_any_prefix
    bucket = stack.outputs["DataBucketName"]
    # the CSV role's resources hold the prefix as the key is stored, a space included (S3's ARN format)
    prefix = stack.parameters["InputPrefix"]
    input_key, beside_key = f"{prefix}users.csv", f"{prefix.rstrip('/')}x/users.csv"
    script_bucket, script_key = s3_location(stack.properties("WeatherEtlJob")["Command"]["ScriptLocation"])
    # the same script as another stack's deploy would upload it, beside this one's
    other_stack_key = script_key.replace(f"{STACK_NAME}/", "another-stack/", 1)
    s3 = aws("s3")
    s3.put_object(Bucket=script_bucket, Key=other_stack_key, Body=GLUE_SCRIPT.read_bytes())
    for key in ("landing/weather/source=open-meteo/x.json", "database/users/users.parquet", input_key, beside_key):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    glue = role_client(aws, stack.attribute("WeatherEtlJobRole", "Arn"))
    ingest = role_client(aws, stack.attribute("IngestWeatherFunctionRole", "Arn"))
    converter = role_client(aws, stack.attribute("CsvToParquetFunctionRole", "Arn"))

    with enable_iam_authentication():
        # the Glue job reads its script where SAM CLI put it for this stack name, and no other stack's
        assert allowed(glue.get_object, Bucket=script_bucket, Key=script_key)
        assert not allowed(glue.get_object, Bucket=script_bucket, Key=other_stack_key)
        # it reads landing and rewrites refined, and nothing else of the lake
        assert allowed(glue.get_object, Bucket=bucket, Key="landing/weather/source=open-meteo/x.json")
        assert allowed(
            glue.put_object, Bucket=bucket, Key="refined/weather_hourly/date=2026-11-22/city=Paris/p.parquet"
        )
        assert allowed(
            glue.delete_object, Bucket=bucket, Key="refined/weather_rejects/ingest_date=2026-11-22/p.parquet"
        )
        assert not allowed(glue.get_object, Bucket=bucket, Key="database/users/users.parquet")
        assert not allowed(glue.put_object, Bucket=bucket, Key="landing/weather/source=open-meteo/y.json")
        # the ingest function writes landing only (its policy names the bucket by reference)
        assert allowed(ingest.put_object, Bucket=bucket, Key="landing/weather/source=open-meteo/y.json")
        assert not allowed(ingest.put_object, Bucket=bucket, Key="refined/weather_hourly/z.parquet")
        # the CSV function's policy spells the bucket's name out: it names this creation's bucket
        assert allowed(converter.get_object, Bucket=bucket, Key=input_key)
        assert not allowed(converter.get_object, Bucket=bucket, Key=beside_key)
        assert not allowed(converter.get_object, Bucket=bucket, Key="landing/weather/source=open-meteo/x.json")


# ---------------------------------------------------------------- every failure reaches a person
def test_failures_are_wired_to_the_topic_and_the_topic_to_the_address(
    stack: RehearsedStack, aws: ClientFactory
) -> None:
    topic = stack.outputs["NotificationTopicArn"]
    (subscription,) = aws("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", ALARM_EMAIL)

    alarms = {alarm["AlarmName"]: alarm for alarm in aws("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert len(alarms) == sum(spec["Type"] == "AWS::CloudWatch::Alarm" for spec in stack.resources.values())
    assert all(alarm["AlarmActions"] == [topic] for alarm in alarms.values())
    # the queue alarms watch the queues this creation made
    failed = alarms[stack.physical_id("FailedInvocationsAlarm")]
    assert failed["MetricName"] == "NumberOfMessagesSent"
    assert failed["Dimensions"] == [
        {"Name": "QueueName", "Value": stack.attribute("FailedInvocationsQueue", "QueueName")}
    ]
    undelivered_queue = stack.outputs["UndeliveredNotificationsQueueUrl"]
    undelivered = alarms[stack.physical_id("UndeliveredNotificationsAlarm")]
    assert undelivered["Dimensions"] == [{"Name": "QueueName", "Value": undelivered_queue.rsplit("/", 1)[1]}]

    # the Glue failure rule retries, then dead-letters into that queue, whose policy lets only this rule send
    rule = stack.physical_id("WeatherEtlJobFailedRule")
    assert json.loads(aws("events").describe_rule(Name=rule)["EventPattern"])["detail"]["jobName"] == [
        stack.outputs["WeatherEtlJobName"]
    ]
    (target,) = aws("events").list_targets_by_rule(Rule=rule)["Targets"]
    queue_arn = stack.attribute("UndeliveredNotificationsQueue", "Arn")
    assert target["Arn"] == topic
    assert target["DeadLetterConfig"] == {"Arn": queue_arn}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    policy = json.loads(
        aws("sqs").get_queue_attributes(QueueUrl=undelivered_queue, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    (allow,) = [statement for statement in policy["Statement"] if statement["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert (allow["Action"], allow["Resource"]) == ("sqs:SendMessage", queue_arn)
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": stack.attribute("WeatherEtlJobFailedRule", "Arn")}}


# ---------------------------------------------------------------- the dashboard, as the stack put it
def test_the_dashboard_follows_cloudwatchs_rules_and_shows_this_stacks_resources(
    stack: RehearsedStack, aws: ClientFactory
) -> None:
    # Given the dashboard as CloudWatch (moto) holds it after the creation, its body resolved on the live stack
    name = stack.physical_id("PipelineDashboard")
    body = json.loads(aws("cloudwatch").get_dashboard(DashboardName=name)["DashboardBody"])

    # Then it follows the documented body structure, and every name in it is one of this creation's resources
    assert dashboard_body_problems(body) == []
    alarms = [logical_id for logical_id, spec in stack.resources.items() if spec["Type"] == "AWS::CloudWatch::Alarm"]
    assert sorted(alarm_arns(body)) == sorted(stack.attribute(alarm, "Arn") for alarm in alarms)
    named = {(name, value) for metric in named_metrics(body) for name, value in metric.dimensions}
    queues = {
        stack.attribute(logical_id, "QueueName")
        for logical_id, spec in stack.resources.items()
        if spec["Type"] == "AWS::SQS::Queue"
    }
    assert {value for name, value in named if name == "QueueName"} <= queues
    assert {value for name, value in named if name == "StateMachineArn"} == {
        stack.outputs["WeatherPipelineStateMachineArn"]
    }
    assert {value for name, value in named if name == "JobName"} == {stack.outputs["WeatherEtlJobName"]}
    assert {value for name, value in named if name == "RuleName"} == {stack.physical_id("WeatherEtlJobFailedRule")}
    assert {widget["properties"]["region"] for widget in body["widgets"] if widget["type"] == "metric"} == {
        LOCAL_REGION
    }
    assert stack.outputs["DashboardUrl"] == (
        f"https://{LOCAL_REGION}.console.aws.amazon.com/cloudwatch/home?region={LOCAL_REGION}#dashboards/dashboard/{name}"
    )


# ---------------------------------------------------------------- the pipeline, through the stack's outputs
def csv_trigger_event(bucket: str, key: str, body: bytes, put: dict[str, Any]) -> dict[str, Any]:
    """The event the stack's CSV trigger delivers for one upload: an SQS batch (the function's event source mapping
    on the CSV events queue) whose message is S3's notification."""
    described = {"bucket": bucket, "key": key, "size": len(body), "etag": put["ETag"].strip('"')}
    return s3_put_event(described | {"version_id": put.get("VersionId")})


def test_a_csv_dropped_in_the_stacks_input_location_is_converted(
    stack_any_prefix: RehearsedStack, aws: ClientFactory
) -> None:
    stack = stack_any_prefix
    # Given a CSV uploaded where the stack's CsvInputLocation output says (under "input data/" in one run)
    bucket, prefix = s3_location(stack.outputs["CsvInputLocation"])
    body = b"station,observed_on,rain_mm\nOrly,2026-11-20,1.5\nBron,2026-11-20,0.0\nNice,2026-11-21,12.25\n"
    key = f"{prefix}rain/november.csv"
    put = aws("s3").put_object(Bucket=bucket, Key=key, Body=body)
    # and the function's environment as CloudFormation resolved it on this stack (read back from Lambda)
    function_name = stack.outputs["CsvToParquetFunctionName"]
    environment = aws("lambda").get_function_configuration(FunctionName=function_name)["Environment"]["Variables"]

    # When the real handler receives the event the trigger would deliver, in that environment
    result = invoke(
        csv_to_parquet,
        csv_trigger_event(bucket, key, body, put),
        function_name=function_name,
        environment=environment | local_aws_environment(aws("s3").meta.endpoint_url),
    )

    # Then the rows are in Parquet under database/ of the stack's bucket, and in a table of the stack's database
    assert environment["DATA_BUCKET"] == stack.outputs["DataBucketName"] == bucket
    (report,) = result["reports"]
    assert report["status"] == "converted"
    expected = list(csv.DictReader(io.StringIO(body.decode())))
    assert (report["rows_in"], report["rows_out"], report["rows_quarantined"]) == (len(expected), len(expected), 0)
    parquet = aws("s3").get_object(Bucket=bucket, Key=report["output_key"])["Body"].read()
    table = pq.read_table(io.BytesIO(parquet))
    assert table.column("station").to_pylist() == [row["station"] for row in expected]
    assert table.column("rain_mm").to_pylist() == [float(row["rain_mm"]) for row in expected]
    glue_table = aws("glue").get_table(DatabaseName=stack.outputs["GlueDatabaseName"], Name="rain")["Table"]
    assert glue_table["StorageDescriptor"]["Location"] == f"s3://{bucket}/database/rain/"


@contextmanager
def executing_state_machines(
    stack: RehearsedStack, aws: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """moto's executing Step Functions, holding the stack's state machine as the stack left it. moto's
    CloudFormation creates state machines in its other, non-executing backend (the two keep separate stores), so
    the machine is copied across under its own name: its definition, role, type, logging and tracing."""
    machine = aws("stepfunctions").describe_state_machine(
        stateMachineArn=stack.outputs["WeatherPipelineStateMachineArn"]
    )
    with moto_configured_for_orchestration(aws("s3").meta.endpoint_url, monkeypatch):
        copied = aws("stepfunctions").create_state_machine(
            name=machine["name"],
            definition=machine["definition"],
            roleArn=machine["roleArn"],
            type=machine["type"],
            loggingConfiguration=machine["loggingConfiguration"],
            tracingConfiguration=machine["tracingConfiguration"],
        )["stateMachineArn"]
        assert copied == machine["stateMachineArn"]
        yield


def test_a_pipeline_execution_on_the_stacks_state_machine_succeeds(
    stack: RehearsedStack, aws: ClientFactory, translated_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the stack's own state machine, function and Glue job (moto's interpreter runs the definition as the
    # stack holds it; the function answers the run's manifest, the validation query passes)
    with executing_state_machines(stack, aws, monkeypatch):
        execution, pipeline = run_the_pipeline(stack, aws, translated_template)

    # Then it succeeds, having invoked the stack's function and run the stack's job on the stack's bucket
    assert (execution.status, execution.error) == ("SUCCEEDED", None), execution.cause
    assert execution.states_entered[-1] == "PipelineSucceeded"
    (invocation,) = execution.scheduled_parameters("invoke")
    assert invocation["FunctionName"] == stack.outputs["IngestWeatherFunctionArn"]
    (job_run,) = pipeline.job_runs()
    assert job_run.arguments["--run_id"] == MANIFEST["run_id"]
    bucket = stack.outputs["DataBucketName"]
    assert job_run.arguments["--landing_path"] == f"s3://{bucket}/landing/weather/source=open-meteo/"
    # and validated in the stack's workgroup and database, whose results land in the stack's bucket
    (query,) = pipeline.validation_queries()
    views = pipeline.view_queries()
    assert len(views) == len(pipeline.query_executions()) - 1 >= 1  # every other query published a view
    for executed in (query, *views):
        assert executed.workgroup.name == stack.outputs["AthenaWorkGroupName"]
        assert executed.context == {"Database": stack.outputs["GlueDatabaseName"]}
    workgroup = aws("athena").get_work_group(WorkGroup=stack.outputs["AthenaWorkGroupName"])["WorkGroup"]
    assert workgroup["Configuration"]["ResultConfiguration"]["OutputLocation"] == f"s3://{bucket}/athena-results/"
    assert pipeline.notifications() == []


def run_the_pipeline(
    stack: RehearsedStack, aws: ClientFactory, translated_template: dict[str, Any]
) -> tuple[PipelineExecution, PipelineHarness]:
    """One execution of the stack's state machine, started with the schedule's event (the ingest function answers
    the run's manifest, the validation query passes)."""
    pipeline = PipelineHarness(
        LocalStack(
            endpoint_url=aws("s3").meta.endpoint_url,
            outputs=stack.outputs,
            physical_ids=dict(stack.resolver.physical_ids),
        ),
        translated_template,
    )
    pipeline.attach(
        function_arn=stack.outputs["IngestWeatherFunctionArn"],
        job_name=stack.outputs["WeatherEtlJobName"],
        state_machine_arn=stack.outputs["WeatherPipelineStateMachineArn"],
    )
    pipeline.queue_ingest_response(json.dumps(MANIFEST))
    pipeline.queue_validation_row(VALIDATION_COLUMNS, validation_row("true", ""))
    return pipeline.run("rehearsal-20261122T030000Z", SCHEDULED_EVENT), pipeline


def test_the_rehearsal_uses_the_script_it_packaged(packaged: dict[str, Any], guided: GuidedDeploy) -> None:
    bucket, key = s3_location(packaged["Resources"]["WeatherEtlJob"]["Properties"]["Command"]["ScriptLocation"])
    assert (bucket, Path(key).parent.as_posix()) == (guided.s3_bucket, guided.s3_prefix)
