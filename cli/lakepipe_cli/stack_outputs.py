"""Where a deployed stack's resources are: its CloudFormation Outputs (DescribeStacks), read by the commands that
work on a stack (``lakepipe redrive``, ``lakepipe quarantine``) so that a user names the stack, not its queues."""

from __future__ import annotations

from typing import Any

import boto3


class StackOutputError(LookupError):
    """The stack does not exist, or lacks an Output a command needs."""


def stack_outputs(stack_name: str, *, session: boto3.Session) -> dict[str, str]:
    """The Outputs of ``stack_name`` (``OutputKey`` → ``OutputValue``)."""
    cloudformation: Any = session.client("cloudformation")
    try:
        (description,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except cloudformation.exceptions.ClientError as error:
        raise StackOutputError(f"stack {stack_name!r}: {error}") from error
    return {output["OutputKey"]: output["OutputValue"] for output in description.get("Outputs", [])}


def required_output(outputs: dict[str, str], name: str, stack_name: str) -> str:
    """The Output ``name``, or a :class:`StackOutputError` naming the stack (a stack of another template)."""
    value = outputs.get(name)
    if not value:
        raise StackOutputError(f"stack {stack_name!r} has no Output {name} (is it a lakepipe stack?)")
    return value
