"""The SAM template, checked on what CloudFormation would deploy: the translation of template.yaml.

Given the template expanded by aws-sam-translator (offline), when we inspect its resources, then the properties
every reviewer asks about hold: image functions with tracing, failure destinations and log retention; a bucket
that refuses plain HTTP; no IAM allow statement on `*` actions. And a broken template is caught.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from cfnlint.api import lint_all

from tests.conftest import REPO_ROOT
from tools.sam_translate import load_sam_template, translate_template
from tools.sam_translate import translate as translate_file

TEMPLATE = REPO_ROOT / "template.yaml"


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in template["Resources"].items() if spec["Type"] == resource_type}


def translated_function_ids() -> list[str]:
    return sorted(resources_of_type(translate_file(TEMPLATE), "AWS::Lambda::Function"))


def lint_errors(cloudformation: dict[str, Any]) -> list[str]:
    return [
        f"{match.rule.id} {match.message}" for match in lint_all(json.dumps(cloudformation)) if match.rule.id[0] == "E"
    ]


def translate_dict(sam_template: dict[str, Any]) -> dict[str, Any]:
    return translate_template(sam_template, TEMPLATE.parent)


def test_expected_functions_exist(translated_template: dict[str, Any]) -> None:
    functions = resources_of_type(translated_template, "AWS::Lambda::Function")
    assert {"CsvToParquetFunction", "IngestWeatherFunction"} <= set(functions)


@pytest.mark.parametrize("function_id", translated_function_ids())
def test_every_function_is_a_traced_image_with_failure_destination_and_log_retention(
    translated_template: dict[str, Any], function_id: str
) -> None:
    resources = translated_template["Resources"]
    function = resources[function_id]["Properties"]

    assert function["PackageType"] == "Image"
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["ImageConfig"]["Command"][0].startswith("lakepipe.handlers.")

    invoke_configs = [
        spec["Properties"]
        for spec in resources_of_type(translated_template, "AWS::Lambda::EventInvokeConfig").values()
        if spec["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    assert len(invoke_configs) == 1
    on_failure = invoke_configs[0]["DestinationConfig"]["OnFailure"]["Destination"]
    assert on_failure == {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]}

    log_group_ref = function["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = resources[log_group_ref]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_data_bucket_denies_plain_http_and_blocks_public_access(translated_template: dict[str, Any]) -> None:
    resources = translated_template["Resources"]
    bucket = resources["DataBucket"]["Properties"]
    policy = resources["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]

    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    deny_http = [
        s for s in policy if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(deny_http) == 1
    assert deny_http[0]["Action"] == "s3:*"


def _allow_statements(translated: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    statements: list[tuple[str, dict[str, Any]]] = []
    for name, spec in translated["Resources"].items():
        if spec["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in spec["Properties"].get("Policies", [])]
        elif spec["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            documents = [spec["Properties"]["PolicyDocument"]]
        else:
            continue
        for document in documents:
            statements += [(name, s) for s in document["Statement"] if s["Effect"] == "Allow"]
    return statements


def test_no_iam_allow_statement_uses_wildcard_actions(translated_template: dict[str, Any]) -> None:
    statements = _allow_statements(translated_template)
    assert statements, "expected the functions' roles to carry inline policies"
    offending = [
        (role, action)
        for role, statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
        if action == "*" or action.endswith(":*")
    ]
    assert offending == []


def test_every_output_names_something(translated_template: dict[str, Any]) -> None:
    outputs = translated_template["Outputs"]
    assert {"DataBucketName", "GlueDatabaseName", "IdempotencyTableName", "NotificationTopicArn"} <= set(outputs)


def test_lint_catches_a_reference_to_a_missing_resource() -> None:
    broken = load_sam_template(TEMPLATE)
    broken["Resources"]["DataBucketPolicy"]["Properties"]["Bucket"] = {"Ref": "NoSuchBucket"}

    errors = lint_errors(translate_dict(broken))

    assert any("NoSuchBucket" in error for error in errors), errors


def test_lint_catches_a_bucket_function_circular_dependency() -> None:
    broken = load_sam_template(TEMPLATE)
    function = copy.deepcopy(
        next(
            spec
            for spec in broken["Resources"].values()
            if spec["Type"] == "AWS::Serverless::Function" and spec["Properties"].get("PackageType") == "Image"
        )
    )
    # The classic mistake: the function's policy names the bucket by !Ref while the bucket notifies the function.
    function["Properties"]["Policies"] = [{"S3ReadPolicy": {"BucketName": {"Ref": "DataBucket"}}}]
    function["Properties"]["Events"] = {
        "Upload": {"Type": "S3", "Properties": {"Bucket": {"Ref": "DataBucket"}, "Events": "s3:ObjectCreated:*"}}
    }
    function["Properties"].pop("LoggingConfig", None)
    broken["Resources"]["CycleFunction"] = function

    errors = lint_errors(translate_dict(broken))

    assert any(error.startswith("E3004") for error in errors), errors
