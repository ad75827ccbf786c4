"""One HTTP GET that ends by a deadline whatever the server does, holds at most a given number of bytes, and
follows only same-origin redirects.

``requests`` (urllib3, http.client) applies its timeouts to each socket operation, not to the request: a server
that sends one byte a second never trips a 30 s read timeout, in the status line, the headers or the body. So
each GET is watched: every socket it connects is registered with a watchdog timer, which shuts it down at the
deadline; the blocked read then fails at once and the GET raises :class:`DeadlineExceededError`. Each GET
uses a fresh session, so no connection from an earlier GET (unwatched by this one) is ever reused. Until its
connection exists, a GET is bounded by its connect timeout, capped at half the time left: TCP connect and TLS
handshake each end within it (CPython bounds a whole handshake by the socket timeout). Name resolution
(``getaddrinfo``) cannot be interrupted; it is bounded by the system resolver's own timeout.

The body is streamed into memory chunk by chunk and the GET fails with :class:`BodyTooLargeError` as soon as it
grows past ``max_bytes`` (or announces more in ``Content-Length``), so a runaway body costs at most one chunk
more than the cap. ``max_bytes`` counts decoded bytes: a small gzip body that inflates past it is refused too.

Redirects: followed only to the same origin (scheme, host and port), at most ``max_redirects`` times; any other
(another host, a scheme change such as https → http, another port) raises :class:`RedirectRefusedError`. A
response's bytes land in the lake under the requested URL, so they must come from where that URL points.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from lakepipe.domain.weather.deadline import Deadline

CHUNK_BYTES = 64 * 1024
ERROR_BODY_BYTES = 64 * 1024  # an error answer is read for its reason only
_DEFAULT_PORTS = {"http": 80, "https": 443}


class DeadlineExceededError(TimeoutError):
    """The GET did not finish before its deadline; its connection was shut down."""


class BodyTooLargeError(ValueError):
    """The body is (or says it is) larger than the GET may hold; nothing of it is kept."""


class RedirectRefusedError(ValueError):
    """The server redirected to another origin, or too many times."""


@dataclass(frozen=True)
class HttpReply:
    """A finished GET: final URL, status, headers and the whole body (truncated for an error status)."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


class _Watchdog:
    """Shuts down every watched socket when the deadline passes, and any watched after that at once.

    Sockets, not connections: http.client drops a connection's socket (``conn.sock = None``) as soon as a response
    says ``Connection: close``, while the response body is still read from that socket.
    """

    def __init__(self, deadline: Deadline) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.fired = False
        self._timer: threading.Timer | None = None
        if deadline.bounded:
            self._timer = threading.Timer(deadline.remaining(), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def watch(self, connected: object) -> None:
        # A TLS-in-TLS tunnel (HTTPS through an HTTPS proxy) is urllib3's SSLTransport over a real socket.
        sock = connected if isinstance(connected, socket.socket) else getattr(connected, "socket", None)
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut_down(sock)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut_down(sock)


def _shut_down(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSLSocket: it wakes a read blocked in another thread and leaves the
    # TLS object in place for that thread to fail on cleanly. An OSError: the socket is closed already.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


_ACTIVE_WATCHDOG: contextvars.ContextVar[_Watchdog | None] = contextvars.ContextVar("active_watchdog", default=None)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        watchdog = _ACTIVE_WATCHDOG.get()
        if watchdog is not None:
            watchdog.watch(self.sock)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        watchdog = _ACTIVE_WATCHDOG.get()
        if watchdog is not None:
            watchdog.watch(self.sock)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _WatchedHTTPConnectionPool,
    "https": _WatchedHTTPSConnectionPool,
}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter whose pools (direct or through a proxy) open watched connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class BoundedHttpClient:
    """GETs bounded in time, size and redirects; timeouts apply per socket operation within the deadline."""

    def __init__(
        self,
        *,
        connect_timeout_seconds: float,
        read_timeout_seconds: float,
        headers: Mapping[str, str] | None = None,
        max_redirects: int = 3,
    ) -> None:
        self.connect_timeout = connect_timeout_seconds
        self.read_timeout = read_timeout_seconds
        self.headers = dict(headers or {})
        self.max_redirects = max_redirects

    def get(self, url: str, params: Any = None, *, deadline: Deadline, max_bytes: int) -> HttpReply:
        """GET ``url`` with ``params``; raises :class:`DeadlineExceededError`, :class:`BodyTooLargeError`,
        :class:`RedirectRefusedError`, or ``requests``' connection errors (the caller decides what to retry)."""
        watchdog = _Watchdog(deadline)
        token = _ACTIVE_WATCHDOG.set(watchdog)
        try:
            with self._session() as session:
                reply = self._follow(session, url, params, deadline, max_bytes)
        except (DeadlineExceededError, BodyTooLargeError, RedirectRefusedError):
            raise
        except Exception as error:
            if watchdog.fired:
                raise DeadlineExceededError(_overrun(url)) from error
            raise
        finally:
            watchdog.stop()
            _ACTIVE_WATCHDOG.reset(token)
        if watchdog.fired:
            # A body delimited by the connection's end reads as complete when the watchdog shuts the socket.
            raise DeadlineExceededError(_overrun(url))
        return reply

    @contextmanager
    def _session(self) -> Iterator[requests.Session]:
        session = requests.Session()
        session.headers.update(self.headers)
        adapter = _WatchedAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            yield session
        finally:
            session.close()

    def _follow(
        self, session: requests.Session, url: str, params: Any, deadline: Deadline, max_bytes: int
    ) -> HttpReply:
        current_url, current_params = url, params
        for _ in range(self.max_redirects + 1):
            remaining = deadline.remaining()
            if remaining <= 0:
                raise DeadlineExceededError(_overrun(url))
            response = session.get(
                current_url,
                params=current_params,
                timeout=(min(self.connect_timeout, remaining / 2), min(self.read_timeout, remaining)),
                stream=True,
                allow_redirects=False,
            )
            with response:
                if response.is_redirect:
                    current_url, current_params = _same_origin_target(response), None
                    continue
                ok = 200 <= response.status_code < 300
                body = _read_body(response, max_bytes if ok else min(max_bytes, ERROR_BODY_BYTES), truncate=not ok)
                return HttpReply(
                    url=response.url,
                    status=response.status_code,
                    reason=response.reason or "",
                    headers=CaseInsensitiveDict(response.headers),
                    body=body,
                )
        raise RedirectRefusedError(f"more than {self.max_redirects} redirects from {_origin_text(url)}")


def _read_body(response: requests.Response, max_bytes: int, *, truncate: bool) -> bytes:
    declared = response.headers.get("Content-Length", "").strip()
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in {"", "identity"}
    if not truncate and declared.isdigit() and not encoded and int(declared) > max_bytes:
        raise BodyTooLargeError(
            f"response announces {int(declared):,} bytes, more than the {max_bytes:,} this request may take"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            if truncate:
                chunks.append(chunk[: len(chunk) - (size - max_bytes)])
                break
            chunks.clear()
            raise BodyTooLargeError(f"response body exceeds the {max_bytes:,} bytes this request may take")
        chunks.append(chunk)
    return b"".join(chunks)


def _same_origin_target(response: requests.Response) -> str:
    location = response.headers.get("Location", "")
    source = response.url
    target = urljoin(source, location)
    if not location or _origin(target) != _origin(source):
        raise RedirectRefusedError(
            f"HTTP {response.status_code} from {_origin_text(source)} redirects to {_origin_text(target)}: only"
            " same-origin redirects (scheme, host and port) are followed; if the API moved, configure its new URL"
        )
    return target


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # not a port number: an origin nothing equals
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _origin_text(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else repr(url)


def _overrun(url: str) -> str:
    return f"no complete answer from {_origin_text(url)} before the deadline; the connection was shut down"
