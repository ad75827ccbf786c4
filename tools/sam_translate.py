"""Translate template.yaml to plain CloudFormation with aws-sam-translator, offline.

Plain cfn-lint on the SAM template does not see the resources SAM generates (roles, permissions, event source
mappings), so circular dependencies and bad references among them slip through. This expands the template the
way CloudFormation's SAM transform would, so cfn-lint and checkov check what would actually be deployed.

What `sam build`/`sam deploy` would fill in is stood in for: image functions get a placeholder ImageUri, and
local `DefinitionUri`/`ScriptLocation` paths are inlined or replaced by a placeholder S3 URI.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse

REPO_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/lakepipe:placeholder"
PLACEHOLDER_S3_PREFIX = "s3://sam-artifacts-placeholder/lakepipe"
# Pseudo parameters only shape ARNs; no call is made to this region.
TRANSLATION_REGION = "eu-west-3"

# The AWS managed policies SAM attaches by name (Tracing: Active and the basic execution role). The real
# translator looks these up in IAM; their ARNs are fixed, so they are listed here to stay offline.
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for name, path in {
        "AWSLambdaBasicExecutionRole": "service-role/",
        "AWSXrayWriteOnlyAccess": "",
        "AWSXRayDaemonWriteAccess": "",
        "AWSLambdaRole": "service-role/",
        "AWSGlueServiceRole": "service-role/",
    }.items()
}


class OfflinePolicyLoader:
    """Stands in for samtranslator's IAM-backed ManagedPolicyLoader."""

    def load(self) -> dict[str, str]:
        return MANAGED_POLICIES


def load_sam_template(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(path.read_text())
    return template


def resolve_local_artifacts(template: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Fill in what `sam build`/`sam package` would: image URIs, inlined state machine definitions, S3 URIs."""
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and properties.get("PackageType") == "Image":
            properties.setdefault("ImageUri", PLACEHOLDER_IMAGE_URI)
        if resource.get("Type") == "AWS::Serverless::StateMachine" and isinstance(properties.get("DefinitionUri"), str):
            definition_path = base_dir / properties.pop("DefinitionUri")
            properties["Definition"] = json.loads(definition_path.read_text())
        if resource.get("Type") == "AWS::Glue::Job":
            command = properties.get("Command", {})
            script = command.get("ScriptLocation")
            if isinstance(script, str) and not script.startswith("s3://"):
                if not (base_dir / script).is_file():
                    raise FileNotFoundError(f"Glue ScriptLocation {script} does not exist")
                command["ScriptLocation"] = f"{PLACEHOLDER_S3_PREFIX}/{Path(script).name}"
    return template


def translate(path: Path, parameter_values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CloudFormation template CloudFormation would deploy for the SAM template at ``path``."""
    return translate_template(load_sam_template(path), path.parent, parameter_values)


def translate_template(
    sam_template: dict[str, Any], base_dir: Path, parameter_values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Like :func:`translate`, for a template already parsed (tests break copies of it)."""
    sam_template = resolve_local_artifacts(sam_template, base_dir)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=TRANSLATION_REGION))
    policies = OfflinePolicyLoader().load()
    translated: dict[str, Any] = translator.translate(
        sam_template, parameter_values=dict(parameter_values or {}), get_managed_policy_map=lambda: policies
    )
    return translated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    parser.add_argument("--output", type=Path, default=REPO_ROOT / "build" / "template.translated.json")
    args = parser.parse_args(argv)
    translated = translate(args.template)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(translated, indent=2, sort_keys=True))
    print(f"translated {args.template.name}: {len(translated['Resources'])} resources -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
