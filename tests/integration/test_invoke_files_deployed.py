"""`lakepipe invoke-files --stack-name`: the files `sam local invoke` needs, from a deployed stack's Outputs.

The stack is deployed to moto's CloudFormation (no AWS account here): its Outputs carry the names the template's
Outputs give, and the object the CSV event names is uploaded first, as the README tells a user to.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from lakepipe_cli.invoke_files import VARIABLE_OUTPUTS, s3_objects_named
from lakepipe_cli.local_aws import LocalStack
from lakepipe_cli.main import main
from tests.conftest import REPO_ROOT, load_event

pytestmark = pytest.mark.integration
BUCKET = "lakepipe-prod-data-1-eu-west-3"
DEPLOYED = {
    "Resources": {"DataBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": BUCKET}}},
    "Outputs": {
        "DataBucketName": {"Value": {"Ref": "DataBucket"}},
        "IdempotencyTableName": {"Value": "lakepipe-prod-IdempotencyTable-ABC"},
        "GlueDatabaseName": {"Value": "lakepipe_prod"},
        "CsvEventsQueueUrl": {"Value": "https://sqs.eu-west-3.amazonaws.com/123456789012/lakepipe-prod-CsvEvents"},
        "CsvEventsDeadLetterQueueUrl": {"Value": "https://sqs.eu-west-3.amazonaws.com/123456789012/lakepipe-prod-Dlq"},
    },
}  # fmt: skip


def test_the_env_file_and_events_name_the_deployed_stack(
    local_aws: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployed stack and the sample uploaded where the CSV event says
    boto3.client("cloudformation").create_stack(StackName="lakepipe-prod", TemplateBody=json.dumps(DEPLOYED))
    s3 = boto3.client("s3")
    body = (REPO_ROOT / "tests" / "fixtures" / "csv" / "users.csv").read_bytes()
    for _, key in s3_objects_named(load_event("sqs-csv-uploaded.json")):
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    # When the files are written from its Outputs
    assert main(["invoke-files", "--stack-name", "lakepipe-prod", "--out", str(tmp_path)]) == 0

    # Then every function points at that stack, at AWS itself, and the event names its bucket and object
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["CsvToParquetFunction"] == {
        "AWS_ENDPOINT_URL": "",
        "DATA_BUCKET": BUCKET,
        "IDEMPOTENCY_TABLE": "lakepipe-prod-IdempotencyTable-ABC",
        "GLUE_DATABASE": "lakepipe_prod",
        "CSV_EVENTS_QUEUE_URL": "https://sqs.eu-west-3.amazonaws.com/123456789012/lakepipe-prod-CsvEvents",
        "CSV_DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-3.amazonaws.com/123456789012/lakepipe-prod-Dlq",
    }
    event = json.loads((tmp_path / "events" / "sqs-csv-uploaded.json").read_text())
    (message,) = event["Records"]
    (record,) = json.loads(message["body"])["Records"]  # the S3 notification the queue carries
    assert record["s3"]["bucket"]["name"] == BUCKET
    assert record["s3"]["object"]["size"] == len(body)
    assert record["s3"]["object"]["eTag"] == s3.head_object(Bucket=BUCKET, Key="input/users.csv")["ETag"].strip('"')


def test_the_template_outputs_give_every_variable_the_env_file_sets(local_aws: LocalStack) -> None:
    # The local stack resolves the template: each variable equals the Output the env file takes it from
    for function_id in ("CsvToParquetFunction", "IngestWeatherFunction"):
        environment = local_aws.environment_for(function_id)
        for variable, output in VARIABLE_OUTPUTS.items():
            assert environment[variable] == local_aws.outputs[output], (function_id, variable)
