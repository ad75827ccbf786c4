"""samconfig.toml and `make deploy`: every environment deploys the template as it is, and none deploys silently.

Given samconfig.toml's environments and the template's parameters, then each environment's overrides name real
parameters with values CloudFormation accepts, none holds an alarm address, each uploads artifacts under its own
stack name (where the Glue job's role may read its script), and `make deploy` refuses to run without ALARM_EMAIL.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tools.deploy_overrides import DeployConfigError, deploy_overrides, environment_overrides
from tools.sam_translate import load_sam_template

SAMCONFIG = REPO_ROOT / "samconfig.toml"
TEMPLATE = REPO_ROOT / "template.yaml"
DEPLOY_ENVIRONMENTS = sorted(
    env
    for env, section in tomllib.loads(SAMCONFIG.read_text()).items()
    if isinstance(section, dict) and "deploy" in section
)


def parsed_overrides(text: str) -> dict[str, str]:
    """samconfig's Key="value" Key2="value" (the format `sam deploy --parameter-overrides` takes)."""
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


def cloudformation_refusals(parameters: dict[str, Any], overrides: dict[str, str]) -> list[str]:
    """What CloudFormation would refuse in ``overrides``: unknown parameters, values outside AllowedValues, not
    matching AllowedPattern, not numbers or outside MinValue/MaxValue (the parameter rules of its user guide)."""
    refusals = [f"{name}: no such parameter" for name in overrides if name not in parameters]
    for name, value in overrides.items():
        spec = parameters.get(name, {})
        if "AllowedValues" in spec and value not in [str(allowed) for allowed in spec["AllowedValues"]]:
            refusals.append(f"{name}={value}: not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            refusals.append(f"{name}={value}: does not match {spec['AllowedPattern']}")
        if spec.get("Type") == "Number":
            number = float(value)
            if number < spec.get("MinValue", number) or number > spec.get("MaxValue", number):
                refusals.append(f"{name}={value}: outside {spec.get('MinValue')}..{spec.get('MaxValue')}")
    return refusals


@pytest.mark.parametrize("environment", DEPLOY_ENVIRONMENTS)
def test_each_environment_deploys_values_the_template_accepts(environment: str) -> None:
    parameters = load_sam_template(TEMPLATE)["Parameters"]
    overrides = parsed_overrides(environment_overrides(SAMCONFIG, environment))

    assert cloudformation_refusals(parameters, overrides) == []
    # a person's address is not the project's: `make deploy` and `sam deploy --guided` ask for it
    assert "AlarmEmail" not in overrides


@pytest.mark.parametrize("environment", DEPLOY_ENVIRONMENTS)
def test_each_environment_uploads_under_its_stack_name_to_sams_managed_bucket(environment: str) -> None:
    deploy = tomllib.loads(SAMCONFIG.read_text())[environment]["deploy"]["parameters"]

    # the Glue role reads its script at aws-sam-cli-managed-default-samclisourcebucket-*/${AWS::StackName}/*
    assert deploy["s3_prefix"] == deploy["stack_name"]
    assert deploy["resolve_s3"] is True
    assert "s3_bucket" not in deploy
    assert {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"} <= set(deploy["capabilities"].split())


def test_the_glue_role_reads_scripts_under_the_stack_name() -> None:
    role = load_sam_template(TEMPLATE)["Resources"]["WeatherEtlJobRole"]["Properties"]
    (read_script,) = [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Sid"] == "ReadJobScript"
    ]

    assert read_script["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::aws-sam-cli-managed-default-samclisourcebucket-*/${AWS::StackName}/*"
    }


def test_make_deploy_overrides_are_the_environments_plus_the_alarm_email() -> None:
    overrides = deploy_overrides(SAMCONFIG, TEMPLATE, "prod", "data-oncall@example.com")

    assert parsed_overrides(overrides) == parsed_overrides(environment_overrides(SAMCONFIG, "prod")) | {
        "AlarmEmail": "data-oncall@example.com"
    }


def test_an_alarm_email_already_in_the_overrides_is_replaced(tmp_path: Path) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(
        'version = 0.1\n[dev.deploy.parameters]\nparameter_overrides = \'Stage="dev" AlarmEmail="old@example.com"\'\n'
    )

    assert deploy_overrides(samconfig, TEMPLATE, "dev", "new@example.com") == 'Stage="dev" AlarmEmail="new@example.com"'


@pytest.mark.parametrize(("address", "reason"), [("", "AlarmEmail is required"), ("oncall", "not one e-mail address")])
def test_make_deploy_refuses_a_missing_or_malformed_alarm_email(address: str, reason: str) -> None:
    with pytest.raises(DeployConfigError, match=reason):
        deploy_overrides(SAMCONFIG, TEMPLATE, "dev", address)


def test_make_deploy_stops_before_sam_without_alarm_email(tmp_path: Path) -> None:
    # Given a bin directory whose `sam` only says it was called (the real Python runs the check)
    (tmp_path / "python").symlink_to(Path(REPO_ROOT / ".venv" / "bin" / "python").resolve())
    (tmp_path / "sam").write_text('#!/bin/sh\necho SAM-WAS-CALLED "$@"\n')
    (tmp_path / "sam").chmod(0o755)
    (tmp_path / ".installed").touch()  # newer than the requirements: make does not rebuild this "venv"

    # When `make deploy` runs without ALARM_EMAIL
    result = subprocess.run(
        ["make", "--no-print-directory", "deploy", "ENV=dev", "ALARM_EMAIL=", f"BIN={tmp_path}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then it stops with the reason, before sam is called
    assert result.returncode != 0
    assert "AlarmEmail is required" in result.stderr
    assert "SAM-WAS-CALLED" not in result.stdout


def test_make_deploy_passes_the_environment_and_the_alarm_email_to_sam(tmp_path: Path) -> None:
    (tmp_path / "python").symlink_to(Path(REPO_ROOT / ".venv" / "bin" / "python").resolve())
    (tmp_path / "sam").write_text('#!/bin/sh\nfor a in "$@"; do echo "ARG[$a]"; done\n')
    (tmp_path / "sam").chmod(0o755)
    (tmp_path / ".installed").touch()

    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "deploy",
            "ENV=prod",
            "ALARM_EMAIL=data-oncall@example.com",
            f"BIN={tmp_path}",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )

    arguments = re.findall(r"ARG\[(.*)\]", result.stdout)
    assert arguments[:3] == ["deploy", "--config-env", "prod"]
    assert arguments[3] == "--parameter-overrides"
    assert parsed_overrides(arguments[4]) == parsed_overrides(environment_overrides(SAMCONFIG, "prod")) | {
        "AlarmEmail": "data-oncall@example.com"
    }
