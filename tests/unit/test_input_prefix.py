"""InputPrefix with a space ("input data/"): what the parameter accepts, how S3's filter spells it, what IAM gets.

Oracles written by others, not by this template:

* S3's guide, "Configuring event notifications using object key name filtering"
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html): "A wildcard
  character ("*") can't be used in filters as a prefix or suffix. If your prefix or suffix contains a space, you
  must replace it with the "+" character. If you use any other special characters in the value of the prefix or
  suffix, you must enter them in URL-encoded (percent-encoded) format", the special characters being those outside
  the safe characters of "Naming Amazon S3 objects" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html):
  0-9 a-z A-Z ! - _ . * ' ( ), and the guide's own example prefix ``images/`` keeps its slash. The encoding is
  computed here by Python's ``urllib.parse.quote_plus`` (form encoding: a space as "+", the rest percent-encoded).
* IAM's policy grammar (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html): a
  resource is a JSON string (RFC 7159); S3's ARN format (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-arn-format.html,
  ``arn:aws:s3:::bucket_name/key_name``) names the key itself, so the policy holds the literal space; and IAM's
  API model (botocore's ``policyDocumentType`` pattern) accepts every character of the resolved document.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote_plus

import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakepipe.settings import SettingsError, parse_settings
from lakepipe.settings.csv_to_parquet import CsvToParquetSettings
from lakepipe_cli.local_aws import IntrinsicResolver
from tests.conftest import REPO_ROOT
from tools.sam_translate import load_sam_template

SAM_TEMPLATE = load_sam_template(REPO_ROOT / "template.yaml")
ALLOWED = SAM_TEMPLATE["Parameters"]["InputPrefix"]["AllowedPattern"]
# S3's safe characters other than letters, digits and "_.-" (which quote_plus always keeps), and the slash.
S3_SAFE_EXTRA = "!*'()/"
BUCKET = "lakepipe-dev-data-123456789012-eu-west-3-3b3a1437"


def accepted(prefix: str) -> bool:
    return re.fullmatch(ALLOWED, prefix) is not None


def filter_prefixes(prefix: str) -> set[str]:
    """The prefix value of every S3 notification filter rule, resolved as CloudFormation would for ``prefix``."""
    resolver = IntrinsicResolver(SAM_TEMPLATE, {"InputPrefix": prefix})
    notifications = SAM_TEMPLATE["Resources"]["DataBucket"]["Properties"]["NotificationConfiguration"]
    return {
        resolver.resolve(rule["Value"])
        for configuration in notifications["QueueConfigurations"]
        for rule in configuration["Filter"]["S3Key"]["Rules"]
        if rule["Name"] == "prefix"
    }


def settings_for(prefix: str) -> CsvToParquetSettings:
    return parse_settings(
        CsvToParquetSettings,
        {"DATA_BUCKET": BUCKET, "GLUE_DATABASE": "lakepipe_dev", "IDEMPOTENCY_TABLE": "t", "INPUT_PREFIX": prefix},
    )


@pytest.mark.parametrize("prefix", ["input/", "input data/", "raw data (2026)/", "a b/c d/"])
def test_prefixes_with_spaces_are_accepted(prefix: str) -> None:
    assert accepted(prefix)


@pytest.mark.parametrize(
    ("prefix", "why"),
    [
        ("input data", "no trailing slash: input data.csv would match"),
        ("input*/", "S3 filters cannot hold a wildcard"),
        ("input+data/", "a literal + would have to be written %2B in the filter"),
        ("input%20data/", "% is a special character S3 wants percent-encoded itself"),
        ("entrées/", "non-ASCII needs percent-encoding, which CloudFormation cannot compute"),
        ("/input/", "keys do not start with a slash"),
        ("database/", "the function's own outputs would trigger it"),
        ("quarantine/csv/", "inside an output prefix"),
        ("tmp/", "the staging prefix"),
        ("athena-results/", "Athena's results"),
    ],
)
def test_prefixes_the_filter_or_the_guard_cannot_honour_are_refused_at_deploy_time(prefix: str, why: str) -> None:
    assert not accepted(prefix), why


@settings(max_examples=200, deadline=None)
@given(st.from_regex(ALLOWED, fullmatch=True))
def test_the_filter_is_the_prefix_url_encoded_as_s3_asks_for_every_accepted_prefix(prefix: str) -> None:
    # Given any prefix the parameter accepts; when the template's filter expression is resolved; then it is the
    # prefix in S3's filter encoding, computed by the standard library: a space as "+", safe characters as they are
    (value,) = filter_prefixes(prefix)
    assert value == quote_plus(prefix, safe=S3_SAFE_EXTRA)
    # and the function accepts at cold start every prefix the stack accepts at deploy time
    assert settings_for(prefix).input_prefix == prefix


def test_input_data_is_filtered_as_input_plus_data() -> None:
    assert filter_prefixes("input data/") == {"input+data/"}


def test_the_function_refuses_what_the_stack_refuses_for_an_output_prefix() -> None:
    with pytest.raises(SettingsError, match="overlaps 'database/'"):
        settings_for("database/")


def csv_role_statements(translated: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    """The CSV function role's statements by Sid, resolved for ``prefix`` against a bucket of this name."""
    resolver = IntrinsicResolver(translated, {"InputPrefix": prefix})
    queue = "arn:aws:sqs:eu-west-3:123456789012:"
    resolver.physical_ids |= {
        "DataBucket": BUCKET,
        "DataBucket.Arn": f"arn:aws:s3:::{BUCKET}",
        "GlueDatabase": "lakepipe_dev",
        "IdempotencyTable.Arn": "arn:aws:dynamodb:eu-west-3:123456789012:table/lakepipe-idempotency",
        **{f"{name}.Arn": f"{queue}{name}" for name in ("CsvEventsQueue", "CsvEventsDeadLetterQueue")},
        "FailedInvocationsQueue.Arn": f"{queue}FailedInvocationsQueue",
    }
    policies = translated["Resources"]["CsvToParquetFunctionRole"]["Properties"]["Policies"]
    statements = [
        resolver.resolve(statement) for policy in policies for statement in policy["PolicyDocument"]["Statement"]
    ]
    return {statement["Sid"]: statement for statement in statements if "Sid" in statement}


def test_the_csv_role_names_the_input_objects_with_the_literal_space(translated_template: dict[str, Any]) -> None:
    statements = csv_role_statements(translated_template, "input data/")

    # The ARN names the key as stored (S3's ARN format), never its URL encoding
    assert statements["ReadInputObjects"]["Resource"] == f"arn:aws:s3:::{BUCKET}/input data/*"
    assert "input data/*" in statements["ListTheVersionsOfItsKeys"]["Condition"]["StringLike"]["s3:prefix"]
    # and IAM's own API model accepts every character of the document (its pattern for policy documents)
    document = json.dumps({"Version": "2012-10-17", "Statement": list(statements.values())})
    pattern = botocore.session.get_session().get_service_model("iam").shape_for("policyDocumentType").metadata
    assert re.fullmatch(pattern["pattern"], document)
    assert pattern["min"] <= len(document) <= pattern["max"]
