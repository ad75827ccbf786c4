"""The Docker API proxy's rewrites, applied to the request bodies the real clients build.

The container configuration is built by docker-py (the library SAM CLI creates containers with) from the
arguments SAM CLI's container code passes, with SAM's own emulator entrypoint and port constant; the proxy must
put it on the host network and keep SAM's emulator reachable where SAM will call it, on loopback only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import docker
from docker.models.containers import _create_container_args
from samcli.local.docker.container import Container
from samcli.local.docker.lambda_container import LambdaContainer

from lakepipe_cli.docker_api_proxy import rewrite_build_target, rewrite_container_config

SAM_HOST_PORT = 5123


def docker_py_body(**kwargs: Any) -> dict[str, Any]:
    """The JSON body docker-py sends to POST /containers/create for ``containers.create(**kwargs)``."""
    api = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")
    create_kwargs = _create_container_args({**kwargs, "version": "1.41"})
    body: dict[str, Any] = api.create_container_config(**create_kwargs)
    return body


def sam_lambda_container_body() -> dict[str, Any]:
    """What SAM CLI's Container.create asks docker-py for, for an image function (see samcli container.py)."""
    return docker_py_body(
        image="csvtoparquetfunction:rapid-x86_64",
        command=["lakepipe.handlers.csv_to_parquet.lambda_handler"],
        entrypoint=[*LambdaContainer._get_default_entry_point(), "/lambda-entrypoint.sh"],
        working_dir="/var/task",
        environment={"AWS_SAM_LOCAL": "true"},
        ports={Container.RAPID_PORT_CONTAINER: ("127.0.0.1", SAM_HOST_PORT)},
        mem_limit="1769m",
        tty=False,
    )


def test_sams_container_joins_the_host_network_with_its_emulator_on_the_port_sam_calls() -> None:
    body = sam_lambda_container_body()
    assert body["HostConfig"]["PortBindings"], "docker-py binds the emulator's port, as SAM asked"

    rewritten = rewrite_container_config(body, runtime_api_port=40001)

    assert rewritten["HostConfig"]["NetworkMode"] == "host"
    assert "PortBindings" not in rewritten["HostConfig"]
    assert "ExposedPorts" not in rewritten
    assert rewritten["Entrypoint"] == [
        "/var/rapid/aws-lambda-rie",
        "--runtime-interface-emulator-address",
        f"127.0.0.1:{SAM_HOST_PORT}",
        "--runtime-api-address",
        "127.0.0.1:40001",
        *body["Entrypoint"][1:],
    ]
    # everything else is what SAM asked for
    assert rewritten["Cmd"] == body["Cmd"]
    assert rewritten["Env"] == body["Env"]
    assert rewritten["HostConfig"]["Memory"] == body["HostConfig"]["Memory"]


def test_any_other_container_joins_the_host_network_with_its_entrypoint_untouched() -> None:
    body = docker_py_body(image="lakepipe:test", entrypoint=["/lambda-entrypoint.sh"], command=["handler"])

    rewritten = rewrite_container_config(body, runtime_api_port=40001)

    assert rewritten["HostConfig"]["NetworkMode"] == "host"
    assert rewritten["Entrypoint"] == ["/lambda-entrypoint.sh"]


def test_a_build_gets_the_host_network_and_keeps_its_other_parameters() -> None:
    target = "/v1.41/build?t=csvtoparquetfunction%3Alakepipe&dockerfile=Dockerfile&platform=linux%2Famd64&rm=1"

    rewritten = urlsplit(rewrite_build_target(target))

    assert rewritten.path == "/v1.41/build"
    assert parse_qs(rewritten.query) == {
        "t": ["csvtoparquetfunction:lakepipe"],
        "dockerfile": ["Dockerfile"],
        "platform": ["linux/amd64"],
        "rm": ["1"],
        "networkmode": ["host"],
    }
