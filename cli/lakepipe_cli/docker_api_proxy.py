"""A Docker API proxy that puts image builds and containers on the host's network (loopback-only stand-ins).

Why: moto, the trace collector and the Open-Meteo stand-in listen on 127.0.0.1 only, so a function container
must share the host's network namespace to reach them; and on machines whose engine runs without a bridge
(`dockerd --bridge=none`) a build step has no network at all otherwise. SAM CLI cannot ask for either: its
`--docker-network host` only skips a network connect, and its image builder passes no network mode.

What it changes, and nothing else (every other request and response passes through byte for byte):
- `POST /build`: `networkmode=host`.
- `POST /containers/create`: `HostConfig.NetworkMode = "host"`, port bindings dropped (host networking has
  none). When the entrypoint is SAM CLI's emulator (`/var/rapid/aws-lambda-rie`), it is told to listen on the
  loopback address and port SAM CLI bound for it (SAM then calls that port, as before), and its Runtime API
  gets a free loopback port instead of the fixed 9001, so nothing listens beyond 127.0.0.1.

Usage: python tools/image/docker_api_proxy.py --listen build/image/docker.sock [--upstream /var/run/docker.sock]
then DOCKER_HOST=unix://$PWD/build/image/docker.sock for SAM CLI. Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SAM_EMULATOR = "/var/rapid/aws-lambda-rie"
EMULATOR_CONTAINER_PORT = "8080/tcp"
_BUILD_PATH = re.compile(r"^(/v[\d.]+)?/build$")
_CREATE_PATH = re.compile(r"^(/v[\d.]+)?/containers/create$")
_HEAD_LIMIT = 1 << 20


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rewrite_build_target(target: str) -> str:
    """The /build request target with the host network mode for every RUN step."""
    parts = urlsplit(target)
    query = [(name, value) for name, value in parse_qsl(parts.query, keep_blank_values=True) if name != "networkmode"]
    query.append(("networkmode", "host"))
    return urlunsplit(("", "", parts.path, urlencode(query), parts.fragment))


def rewrite_container_config(config: dict[str, Any], runtime_api_port: int) -> dict[str, Any]:
    """A /containers/create body on the host network; SAM's emulator kept on the loopback port SAM expects."""
    rewritten = dict(config)
    host_config = dict(rewritten.get("HostConfig") or {})
    bindings = host_config.pop("PortBindings", None) or {}
    rewritten.pop("ExposedPorts", None)
    host_config["NetworkMode"] = "host"
    rewritten["HostConfig"] = host_config
    entrypoint = list(rewritten.get("Entrypoint") or [])
    if entrypoint[:1] == [SAM_EMULATOR] and bindings.get(EMULATOR_CONTAINER_PORT):
        binding = bindings[EMULATOR_CONTAINER_PORT][0]
        address = f"{binding.get('HostIp') or '127.0.0.1'}:{binding['HostPort']}"
        rewritten["Entrypoint"] = [
            SAM_EMULATOR,
            "--runtime-interface-emulator-address",
            address,
            "--runtime-api-address",
            f"127.0.0.1:{runtime_api_port}",
            *entrypoint[1:],
        ]
    return rewritten


def _split_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return lines[0], headers


def _join_head(request_line: str, headers: list[tuple[str, str]]) -> bytes:
    return ("\r\n".join([request_line, *(f"{name}: {value}" for name, value in headers)]) + "\r\n\r\n").encode(
        "latin-1"
    )


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name.lower()), None)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # no trailers from a Docker client
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(1 << 16):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


async def _rewrite_request(
    reader: asyncio.StreamReader, request_line: str, headers: list[tuple[str, str]]
) -> tuple[str, list[tuple[str, str]], bytes]:
    method, target, version = request_line.split(" ", 2)
    path = urlsplit(target).path
    if method == "POST" and _BUILD_PATH.match(path):
        return f"{method} {rewrite_build_target(target)} {version}", headers, b""
    if method == "POST" and _CREATE_PATH.match(path):
        if (_header(headers, "Transfer-Encoding") or "").lower() == "chunked":
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(_header(headers, "Content-Length") or 0))
        config = rewrite_container_config(json.loads(body or b"{}"), free_loopback_port())
        new_body = json.dumps(config).encode()
        kept = [(k, v) for k, v in headers if k.lower() not in {"content-length", "transfer-encoding"}]
        return request_line, [*kept, ("Content-Length", str(len(new_body)))], new_body
    return request_line, headers, b""


async def _serve(upstream: str, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    try:
        head = await client_reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        client_writer.close()
        return
    request_line, headers = _split_head(head[:-4])
    request_line, headers, body = await _rewrite_request(client_reader, request_line, headers)
    # One request per connection (except upgrades: attach streams), so no later request on a kept-alive
    # connection could slip past the rewrite.
    if "upgrade" not in (_header(headers, "Connection") or "").lower():
        headers = [(k, v) for k, v in headers if k.lower() != "connection"] + [("Connection", "close")]
    upstream_reader, upstream_writer = await asyncio.open_unix_connection(upstream, limit=_HEAD_LIMIT)
    upstream_writer.write(_join_head(request_line, headers) + body)
    await upstream_writer.drain()
    upload = asyncio.create_task(_pipe(client_reader, upstream_writer))
    await _pipe(upstream_reader, client_writer)
    # The engine has answered (or ended an attached stream): nothing the client still sends has a reader.
    upload.cancel()
    for writer in (upstream_writer, client_writer):
        writer.close()


async def run(listen: Path, upstream: str) -> None:
    listen.parent.mkdir(parents=True, exist_ok=True)
    listen.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(
        lambda reader, writer: _serve(upstream, reader, writer), path=str(listen), limit=_HEAD_LIMIT
    )
    os.chmod(listen, 0o600)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"docker api proxy: {listen} -> {upstream}", file=sys.stderr, flush=True)
    async with server:
        await stop.wait()
    listen.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", type=Path, required=True, help="unix socket to serve the Docker API on")
    parser.add_argument("--upstream", default="/var/run/docker.sock", help="the engine's unix socket")
    args = parser.parse_args(argv)
    asyncio.run(run(args.listen, args.upstream))
    return 0


if __name__ == "__main__":
    sys.exit(main())
