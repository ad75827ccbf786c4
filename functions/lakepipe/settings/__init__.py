"""Settings: one pydantic model per function, read from environment variables and validated at cold start.

Nothing else in lakepipe reads ``os.environ``. A handler calls :func:`load_settings` with its model on its
first invocation (the result is cached), so a misconfigured stack fails fast with every bad variable named.

An empty variable means unset, for every model: the template declares some variables empty so that
`sam local invoke --env-vars` can set them (``AWS_ENDPOINT_URL``), and an empty value must then give the default.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SettingsT = TypeVar("SettingsT", bound="FunctionSettings")


class SettingsError(ValueError):
    """Raised at cold start when the function's environment does not satisfy its settings model."""


class FunctionSettings(BaseModel):
    """Base of every function's settings: fields are aliased to their environment variable names."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class AwsEndpointSettings(FunctionSettings):
    """Where AWS is: the SDK's standard variables, so the same code talks to AWS or to a local moto server."""

    region: str = Field(default="us-east-1", alias="AWS_REGION")
    # boto3 needs a scheme too; the scheme also decides pyarrow's (HTTPS unless the endpoint says http).
    endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL", pattern=r"^https?://[^\s/?#]+[^\s?#]*$")


def parse_settings(model: type[SettingsT], environ: Mapping[str, str]) -> SettingsT:
    """Validate ``environ`` against ``model``; the error names each failing variable and why."""
    present = {name: value for name, value in environ.items() if value != ""}
    try:
        return model.model_validate(present)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or '<root>'}: {issue['msg']}" for issue in error.errors()
        )
        raise SettingsError(f"invalid {model.__name__} environment: {problems}") from error


@functools.cache
def load_settings(model: type[SettingsT]) -> SettingsT:
    """Settings for ``model`` from the process environment, validated once per container (cold start)."""
    return parse_settings(model, os.environ)


__all__ = ["AwsEndpointSettings", "FunctionSettings", "SettingsError", "load_settings", "parse_settings"]
