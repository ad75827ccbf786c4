"""The --parameter-overrides of `make deploy`: a samconfig.toml environment's own, plus AlarmEmail.

`sam deploy --parameter-overrides` on the command line replaces the environment's parameter_overrides instead of
adding to them, so `make deploy` passes both at once. AlarmEmail has no default (every failure and alarm is sent to
it): this refuses to produce overrides without a valid address, before anything is built, uploaded or deployed.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

from samtranslator.yaml_helper import yaml_parse

REPO_ROOT = Path(__file__).resolve().parent.parent


class DeployConfigError(ValueError):
    """The deploy configuration cannot be used as given; the message says what to set."""


def environment_overrides(samconfig_path: Path, config_env: str) -> str:
    """The parameter_overrides of ``config_env``'s deploy section in ``samconfig_path`` ("" when it has none)."""
    config = tomllib.loads(samconfig_path.read_text())
    if config_env not in config:
        raise DeployConfigError(f"samconfig.toml has no environment {config_env!r} (has: {', '.join(sorted(config))})")
    overrides = config[config_env].get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    return str(overrides)


def alarm_email_pattern(template_path: Path) -> str:
    """The template's own AllowedPattern for AlarmEmail, so this refuses exactly what CloudFormation would."""
    template = yaml_parse(template_path.read_text())
    return str(template["Parameters"]["AlarmEmail"]["AllowedPattern"])


def deploy_overrides(samconfig_path: Path, template_path: Path, config_env: str, alarm_email: str) -> str:
    """``config_env``'s overrides with ``AlarmEmail="<alarm_email>"`` appended (replacing one already there)."""
    if not alarm_email:
        raise DeployConfigError(
            "AlarmEmail is required: every pipeline failure and alarm is e-mailed to it. "
            "Run `make deploy ENV=<env> ALARM_EMAIL=you@example.com`, then confirm the subscription e-mail AWS sends."
        )
    if not re.fullmatch(alarm_email_pattern(template_path), alarm_email):
        raise DeployConfigError(f"ALARM_EMAIL {alarm_email!r} is not one e-mail address (name@domain.tld)")
    kept = [
        entry
        for entry in re.findall(r'\S+="[^"]*"|\S+', environment_overrides(samconfig_path, config_env))
        if not entry.startswith("AlarmEmail=")
    ]
    return " ".join([*kept, f'AlarmEmail="{alarm_email}"'])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-env", default="dev")
    parser.add_argument("--alarm-email", default="")
    parser.add_argument("--samconfig", type=Path, default=REPO_ROOT / "samconfig.toml")
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    args = parser.parse_args(argv)
    try:
        print(deploy_overrides(args.samconfig, args.template, args.config_env, args.alarm_email))
    except DeployConfigError as error:
        print(f"make deploy: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
