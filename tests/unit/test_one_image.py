"""One image for every function, on the Python the lock and the stand-in are made for.

SAM CLI builds one image for functions whose build definitions are equal; the equality is SAM CLI's own
(FunctionBuildDefinition), given what the template says of each function.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from samcli.lib.build.build_graph import FunctionBuildDefinition
from samtranslator.yaml_helper import yaml_parse

REPO_ROOT = Path(__file__).resolve().parents[2]


def image_functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function" and resource["Properties"].get("PackageType") == "Image"
    }


def test_sam_cli_puts_every_image_function_in_one_build() -> None:
    template = yaml_parse((REPO_ROOT / "template.yaml").read_text())
    functions = image_functions(template)
    architecture = template["Parameters"]["Architecture"]["Default"]

    definitions = [
        FunctionBuildDefinition(None, None, None, "Image", architecture, resource["Metadata"], None)
        for resource in functions.values()
    ]

    assert len(definitions) >= 2
    assert all(definition == definitions[0] for definition in definitions)
    assert {resource["Metadata"]["Dockerfile"] for resource in functions.values()} == {"Dockerfile"}


def test_the_image_the_lock_and_the_stand_in_agree_on_python_3_13() -> None:
    base = re.search(
        r"^FROM public\.ecr\.aws/lambda/python:(\S+)$", (REPO_ROOT / "functions/Dockerfile").read_text(), re.M
    )
    makefile = re.search(r"^IMAGE_PYTHON := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    stand_in = (REPO_ROOT / "tools/image/lambda-python-standin/bootstrap").read_text()

    assert base is not None
    assert makefile is not None
    assert base.group(1) == makefile.group(1) == "3.13"
    assert "/var/lang/bin/python3.13" in stand_in
    assert "AWS_Lambda_python3.13" in stand_in
