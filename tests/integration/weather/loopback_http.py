"""Real HTTP servers on 127.0.0.1 that misbehave on purpose: trickling, oversized, redirecting, rate-limiting.

Each serves from its own thread on a free port and records what it saw (requests, bytes it managed to send), so a
test can check the client's behaviour from the server's side too. A handler is a function of the request that
writes raw bytes to the socket, which lets a server break HTTP the ways real ones do (one byte a second in the
status line, a body delimited only by the connection closing).
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import BinaryIO


@dataclass
class ServerLog:
    """What one server saw: request paths (with query), and the body bytes it sent before the client left."""

    paths: list[str] = field(default_factory=list)
    bytes_sent: int = 0
    stopping: threading.Event = field(default_factory=threading.Event)

    def send(self, out: BinaryIO, data: bytes) -> bool:
        """Write ``data``; False once the client has gone (or the server is stopping)."""
        if self.stopping.is_set():
            return False
        try:
            out.write(data)
            out.flush()
        except OSError:  # BrokenPipeError, ConnectionResetError: the client closed
            return False
        self.bytes_sent += len(data)
        return True


Respond = Callable[[str, BinaryIO, ServerLog], None]


@dataclass(frozen=True)
class LoopbackServer:
    url: str
    port: int
    log: ServerLog


@contextmanager
def loopback_server(respond: Respond) -> Iterator[LoopbackServer]:
    """Serve ``respond(path, socket_file, log)`` for every GET on a free 127.0.0.1 port."""
    log = ServerLog()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            log.paths.append(self.path)
            respond(self.path, self.wfile, log)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        yield LoopbackServer(url=f"http://127.0.0.1:{port}", port=port, log=log)
    finally:
        log.stopping.set()
        server.shutdown()
        server.server_close()


def head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in headers.items()), "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# A trickling server hangs up after this long, so a client that does not enforce its deadline makes its test fail
# (an incomplete or a truncated answer, well past the deadline) instead of hanging the run.
TRICKLE_FOR_SECONDS = 12.0


def trickle(data: bytes, *, seconds_per_byte: float = 1.0) -> Respond:
    """Send ``data`` one byte at a time, ``seconds_per_byte`` apart, until the client gives up (or
    ``TRICKLE_FOR_SECONDS`` pass, when the server closes the connection)."""

    def respond(_path: str, out: BinaryIO, log: ServerLog) -> None:
        ends = time.monotonic() + TRICKLE_FOR_SECONDS
        for byte in data:
            if time.monotonic() > ends or not log.send(out, bytes([byte])):
                return
            time.sleep(seconds_per_byte)

    return respond


def then_trickle(prefix: bytes, data: bytes, *, seconds_per_byte: float = 1.0) -> Respond:
    """Send ``prefix`` at once, then ``data`` one byte per ``seconds_per_byte`` (see :func:`trickle`)."""
    trickling = trickle(data, seconds_per_byte=seconds_per_byte)

    def respond(path: str, out: BinaryIO, log: ServerLog) -> None:
        if log.send(out, prefix):
            trickling(path, out, log)

    return respond


def endless_body(*, total_bytes: int, chunk: bytes = b"x" * 65536, content_length: bool = False) -> Respond:
    """A 200 with up to ``total_bytes`` of body, close-delimited (or announced in Content-Length)."""

    def respond(_path: str, out: BinaryIO, log: ServerLog) -> None:
        headers = {"Content-Type": "application/json"}
        if content_length:
            headers["Content-Length"] = str(total_bytes)
        if not log.send(out, head("200 OK", headers)):
            return
        sent = 0
        while sent < total_bytes and log.send(out, chunk):
            sent += len(chunk)

    return respond


def gzip_bomb(*, inflated_bytes: int) -> tuple[Respond, int]:
    """A 200 whose gzip body is small on the wire and ``inflated_bytes`` of zeros once decoded; and its size."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    block = b"\0" * (1024 * 1024)
    payload = b"".join([compressor.compress(block) for _ in range(inflated_bytes // len(block))] + [compressor.flush()])

    def respond(_path: str, out: BinaryIO, log: ServerLog) -> None:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", "Content-Length": str(len(payload))}
        if log.send(out, head("200 OK", headers)):
            log.send(out, payload)

    return respond, len(payload)


def answer(status: str, body: bytes, headers: dict[str, str] | None = None) -> Respond:
    """A complete response with Content-Length."""

    def respond(_path: str, out: BinaryIO, log: ServerLog) -> None:
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body))} | (headers or {})
        log.send(out, head(status, all_headers) + body)

    return respond


def by_path(routes: dict[str, Respond]) -> Respond:
    """Dispatch on the path before any query string."""

    def respond(path: str, out: BinaryIO, log: ServerLog) -> None:
        routes[path.split("?", 1)[0]](path, out, log)

    return respond
