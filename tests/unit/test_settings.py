"""Settings models: validated once, with every bad variable named."""

from __future__ import annotations

import pytest
from pydantic import Field

from lakepipe.settings import AwsEndpointSettings, FunctionSettings, SettingsError, load_settings, parse_settings


class ExampleSettings(FunctionSettings):
    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3)
    batch_rows: int = Field(default=1000, alias="BATCH_ROWS", gt=0)


def test_settings_read_their_aliased_variables_and_ignore_the_rest() -> None:
    settings = parse_settings(ExampleSettings, {"DATA_BUCKET": "lake", "BATCH_ROWS": "50", "PATH": "/bin"})

    assert settings.data_bucket == "lake"
    assert settings.batch_rows == 50


def test_invalid_environment_names_every_failing_variable() -> None:
    with pytest.raises(SettingsError) as error:
        parse_settings(ExampleSettings, {"BATCH_ROWS": "-1"})

    message = str(error.value)
    assert "ExampleSettings" in message
    assert "DATA_BUCKET" in message
    assert "BATCH_ROWS" in message


def test_settings_are_immutable() -> None:
    settings = parse_settings(ExampleSettings, {"DATA_BUCKET": "lake"})

    with pytest.raises(ValueError, match="frozen"):
        settings.data_bucket = "other"  # type: ignore[misc]


def test_load_settings_validates_once_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")
    first = load_settings(AwsEndpointSettings)
    monkeypatch.setenv("AWS_REGION", "us-east-1")

    assert load_settings(AwsEndpointSettings) is first
    assert first.region == "eu-west-3"
    assert first.endpoint_url == "http://127.0.0.1:5000"


def test_an_empty_variable_means_unset_so_the_default_applies() -> None:
    # Given the variables the template declares empty (AWS_ENDPOINT_URL) or a user leaves blank
    environ = {"DATA_BUCKET": "lake", "BATCH_ROWS": "", "AWS_ENDPOINT_URL": "", "AWS_REGION": "eu-west-3"}

    # When the settings are read
    example = parse_settings(ExampleSettings, environ)
    endpoint = parse_settings(AwsEndpointSettings, environ)

    # Then blank is the same as absent: the defaults apply, boto3's reading of an empty AWS_ENDPOINT_URL too
    assert example.batch_rows == 1000
    assert endpoint.endpoint_url is None


def test_an_empty_required_variable_is_reported_missing() -> None:
    with pytest.raises(SettingsError, match="DATA_BUCKET: Field required"):
        parse_settings(ExampleSettings, {"DATA_BUCKET": ""})


@pytest.mark.parametrize("endpoint", ["127.0.0.1:5000", "localhost", "ftp://127.0.0.1:21", "http://"])
def test_an_endpoint_without_http_or_https_scheme_is_refused(endpoint: str) -> None:
    with pytest.raises(SettingsError, match="AWS_ENDPOINT_URL"):
        parse_settings(AwsEndpointSettings, {"AWS_ENDPOINT_URL": endpoint})
