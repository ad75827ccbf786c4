"""The adapters' clients go where AWS_ENDPOINT_URL says, with the endpoint's own scheme, or to AWS itself."""

from __future__ import annotations

from typing import Any

import pytest

from lakepipe.adapters.aws import reset_clients, s3_client, s3_filesystem


def filesystem_options() -> dict[str, Any]:
    """The options pyarrow's S3 filesystem was built with (what it would pickle)."""
    _, (options,) = s3_filesystem().__reduce__()
    return dict(options)


@pytest.mark.parametrize(
    ("endpoint", "scheme", "override"),
    [
        ("http://127.0.0.1:5000", "http", "127.0.0.1:5000"),
        ("https://s3.eu-west-3.amazonaws.com", "https", "s3.eu-west-3.amazonaws.com"),
        ("https://minio.internal:9000/", "https", "minio.internal:9000"),
    ],
)
def test_pyarrow_uses_the_endpoint_and_its_scheme(
    monkeypatch: pytest.MonkeyPatch, endpoint: str, scheme: str, override: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    reset_clients()

    options = filesystem_options()

    assert (options["scheme"], options["endpoint_override"]) == (scheme, override)
    assert s3_client().meta.endpoint_url.rstrip("/") == endpoint.rstrip("/")


def test_an_empty_endpoint_sends_boto3_and_pyarrow_to_aws_over_https(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the value the template deploys: declared, empty
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    reset_clients()

    # Then neither client is pointed anywhere but AWS, and both use HTTPS
    options = filesystem_options()
    assert options["endpoint_override"] == ""
    assert options["scheme"] == "https"
    assert s3_client().meta.endpoint_url == "https://s3.eu-west-3.amazonaws.com"
