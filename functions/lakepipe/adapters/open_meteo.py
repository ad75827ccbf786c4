"""HTTP client for Open-Meteo: timeouts, and retries with backoff on what is worth retrying.

Retried: connection errors, timeouts, HTTP 429 and 5xx, waiting ``Retry-After`` when the server sends it (up to
the policy's longest wait; a server asking for more is not hammered, the fetch fails at once). Not retried: any
other 4xx, whose reason (Open-Meteo answers ``{"error": true, "reason": ...}``) goes into the error message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

from lakepipe.domain.weather.open_meteo import ApiRequest, ApiResponse, WeatherApiError
from lakepipe.observability import logger, tracer
from lakepipe.settings.ingest_weather import OpenMeteoSettings

USER_AGENT = "lakepipe/0.1 (weather ingestion; one request per run)"
_TOO_MANY_REQUESTS = 429
_SERVER_ERROR = 500


class OpenMeteoRequestError(WeatherApiError):
    """The request failed for good: a 4xx other than 429, or retries exhausted. ``status`` is the last HTTP status."""

    def __init__(self, message: str, *, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``max_attempts`` tries; the n-th retry waits ``backoff_seconds * 2**(n-1)``, at most ``max_delay``."""

    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_delay_seconds: float = 30.0

    def delay_before_retry(self, retry: int) -> float:
        return float(min(self.backoff_seconds * 2 ** (retry - 1), self.max_delay_seconds))


@dataclass(frozen=True)
class _Retryable:
    reason: str
    status: int | None
    retry_after: float | None


class OpenMeteoClient:
    """Fetches an :class:`ApiRequest`; ``sleep`` and ``clock`` are injectable so tests neither wait nor race."""

    def __init__(
        self,
        *,
        connect_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 30.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.timeout = (connect_timeout_seconds, read_timeout_seconds)
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: OpenMeteoSettings) -> OpenMeteoClient:
        return cls(
            connect_timeout_seconds=settings.connect_timeout_seconds,
            read_timeout_seconds=settings.read_timeout_seconds,
            retry=RetryPolicy(
                max_attempts=settings.max_attempts,
                backoff_seconds=settings.backoff_seconds,
                max_delay_seconds=settings.max_retry_delay_seconds,
            ),
        )

    @tracer.capture_method(capture_response=False)
    def fetch(self, request: ApiRequest) -> ApiResponse:
        """GET ``request``; the body is returned as received, its shape is the domain's to check."""
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                response = self.session.get(request.base_url, params=request.params, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                failure = _Retryable(reason=f"{type(error).__name__}: {error}", status=None, retry_after=None)
            else:
                if response.ok:
                    return ApiResponse(
                        body=response.content,
                        status=response.status_code,
                        url=response.url,
                        fetched_at=self._clock(),
                        latency_ms=(time.monotonic() - started) * 1000,
                        attempts=attempt,
                    )
                if response.status_code != _TOO_MANY_REQUESTS and response.status_code < _SERVER_ERROR:
                    raise OpenMeteoRequestError(
                        f"Open-Meteo rejected the request with HTTP {response.status_code}: {_reason(response)}"
                        f" ({response.url})",
                        status=response.status_code,
                        attempts=attempt,
                    )
                failure = _Retryable(
                    reason=f"HTTP {response.status_code}: {_reason(response)}",
                    status=response.status_code,
                    retry_after=retry_after_seconds(response.headers.get("Retry-After"), now=self._clock()),
                )
            self._wait_or_give_up(failure, attempt, request)

    def _wait_or_give_up(self, failure: _Retryable, attempt: int, request: ApiRequest) -> None:
        if attempt == self.retry.max_attempts:
            raise OpenMeteoRequestError(
                f"Open-Meteo still failing after {attempt} attempts: {failure.reason} ({request.base_url})",
                status=failure.status,
                attempts=attempt,
            )
        if failure.retry_after is not None and failure.retry_after > self.retry.max_delay_seconds:
            raise OpenMeteoRequestError(
                f"Open-Meteo asks to retry after {failure.retry_after:.0f} s, longer than the"
                f" {self.retry.max_delay_seconds:.0f} s this run may wait: {failure.reason}",
                status=failure.status,
                attempts=attempt,
            )
        delay = failure.retry_after if failure.retry_after is not None else self.retry.delay_before_retry(attempt)
        logger.warning(
            "Open-Meteo request failed, retrying",
            extra={"attempt": attempt, "reason": failure.reason, "retry_in_seconds": delay},
        )
        self._sleep(delay)


def retry_after_seconds(header: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date); None if absent or unreadable."""
    if header is None or not header.strip():
        return None
    value = header.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


def _reason(response: requests.Response) -> str:
    try:
        document = json.loads(response.content)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("reason"), str):
        return str(document["reason"])
    text = response.text.strip()
    return (text[:200] + "...") if len(text) > 200 else (text or response.reason or "no body")
