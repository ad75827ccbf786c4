"""The image tier: run by `make image-test` (tools/image/image-test.sh), which builds the image with `sam build`
and exports where it is; skipped anywhere else.

Each test gets its own local stack (moto on 127.0.0.1 with the template's resources, the recorded Open-Meteo
and the files `sam local invoke` needs), so no invocation sees another's idempotency records or objects.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from lakepipe_cli.invoke_files import LocalInvokeStack, local_invoke_stack
from lakepipe_cli.xray_local import XRayDaemonStandIn

RUN_BY = "run by `make image-test`, which builds the image first"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("LAKEPIPE_BUILT_TEMPLATE"):
        return
    for item in items:
        if "tests/image/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.skip(reason=RUN_BY))


@pytest.fixture(scope="session")
def built_template() -> Path:
    """The template `sam build` wrote, with each function's ImageUri."""
    return Path(os.environ["LAKEPIPE_BUILT_TEMPLATE"]).resolve()


@pytest.fixture(scope="session")
def built_functions(built_template: Path) -> dict[str, dict[str, Any]]:
    template = yaml_parse(built_template.read_text())
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


@pytest.fixture
def local_stack(tmp_path: Path) -> Iterator[LocalInvokeStack]:
    with local_invoke_stack(tmp_path / "invoke") as stack:
        yield stack


@pytest.fixture
def xray() -> Iterator[XRayDaemonStandIn]:
    with XRayDaemonStandIn() as daemon:
        yield daemon
