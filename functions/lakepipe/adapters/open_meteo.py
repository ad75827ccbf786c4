"""HTTP client for Open-Meteo: bounded attempts, retries with backoff on what is worth retrying, and a 429 policy
that fits Open-Meteo's limits.

Every attempt is a :class:`BoundedHttpClient` GET: it ends by the sooner of the run's deadline and
``attempt_timeout_seconds`` whatever the server does, holds at most the body cap (derived from the request unless
configured), and follows no redirect to another origin. No wait goes past the deadline: a retry that could not
finish in time is not started, and the fetch fails with what went wrong.

* Connection errors, timeouts and 5xx: retried with exponential backoff, or after ``Retry-After`` when sent.
* 429: Open-Meteo sends no ``Retry-After``; its limits are per minute, hour and UTC day and lift on those
  boundaries, so 1-2-4 s retries only burn attempts. A minutely limit (or a 429 naming none) is waited out to the
  next minute when the deadline and ``max_delay_seconds`` allow, else the fetch fails at once with
  :class:`RateLimitedError` (the state machine retries the run minutes later); the hourly and daily limits fail at
  once (no run can wait that long; the next scheduled run is the retry); "too many concurrent requests" is backed
  off like a 5xx. A ``Retry-After``, when a server sends one, is honoured under the same bounds.
* Any other 4xx, a refused redirect, an oversized body: not retried; Open-Meteo's ``reason`` goes into the error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import requests

from lakepipe.adapters.bounded_http import (
    BodyTooLargeError,
    BoundedHttpClient,
    DeadlineExceededError,
    HttpReply,
    RedirectRefusedError,
)
from lakepipe.domain.weather.deadline import Deadline
from lakepipe.domain.weather.open_meteo import (
    MINUTE_RESET_MARGIN_SECONDS,
    ApiRequest,
    ApiResponse,
    RateLimit,
    RateLimitedError,
    WeatherApiError,
    body_cap_bytes,
    rate_limit_lifts_at,
    rate_limit_named,
)
from lakepipe.observability import logger, tracer
from lakepipe.settings.ingest_weather import OpenMeteoSettings

USER_AGENT = "lakepipe/0.1 (weather ingestion; one request per run)"
_TOO_MANY_REQUESTS = 429
_SERVER_ERROR = 500
# A retry is started only if this much time is left after its wait: Open-Meteo answers in well under a second.
MIN_ATTEMPT_SECONDS = 2.0


class OpenMeteoRequestError(WeatherApiError):
    """The request failed for good: a 4xx other than 429, or retries exhausted. ``status`` is the last HTTP status."""

    def __init__(self, message: str, *, status: int | None, attempts: int) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


class FetchDeadlineError(OpenMeteoRequestError):
    """The run's deadline came before a complete answer (the last attempt was cut off, or none could start)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Up to ``max_attempts`` tries; the n-th retry waits ``backoff_seconds * 2**(n-1)``, at most ``max_delay``.

    ``max_delay_seconds`` also bounds an explicit wait (``Retry-After``, a minutely limit lifting): a longer one
    fails the fetch instead. The default leaves room for Open-Meteo's minutely limit to lift.
    """

    max_attempts: int = 4
    backoff_seconds: float = 1.0
    max_delay_seconds: float = 65.0

    def delay_before_retry(self, retry: int) -> float:
        return float(min(self.backoff_seconds * 2 ** (retry - 1), self.max_delay_seconds))


@dataclass(frozen=True)
class _Retryable:
    reason: str
    status: int | None
    wait: float | None = None  # an explicit wait (Retry-After, a limit lifting) instead of the backoff
    rate_limit: RateLimit | None = None
    lifts_at: datetime | None = None


class OpenMeteoClient:
    """Fetches an :class:`ApiRequest`; ``sleep`` and ``clock`` are injectable so tests neither wait nor race."""

    def __init__(
        self,
        *,
        connect_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 30.0,
        attempt_timeout_seconds: float = 60.0,
        max_body_bytes: int | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http = BoundedHttpClient(
            connect_timeout_seconds=connect_timeout_seconds,
            read_timeout_seconds=read_timeout_seconds,
            headers={"User-Agent": USER_AGENT},
        )
        self.attempt_timeout = attempt_timeout_seconds
        self.max_body_bytes = max_body_bytes
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: OpenMeteoSettings) -> OpenMeteoClient:
        return cls(
            connect_timeout_seconds=settings.connect_timeout_seconds,
            read_timeout_seconds=settings.read_timeout_seconds,
            attempt_timeout_seconds=settings.attempt_timeout_seconds,
            max_body_bytes=settings.max_body_bytes,
            retry=RetryPolicy(
                max_attempts=settings.max_attempts,
                backoff_seconds=settings.backoff_seconds,
                max_delay_seconds=settings.max_retry_delay_seconds,
            ),
        )

    @tracer.capture_method(capture_response=False)
    def fetch(self, request: ApiRequest, deadline: Deadline | None = None) -> ApiResponse:
        """GET ``request`` by ``deadline``; the body is returned as received, its shape is the domain's to check."""
        deadline = deadline or Deadline.none()
        max_bytes = self.max_body_bytes or body_cap_bytes(request)
        attempt = 0
        while True:
            attempt += 1
            if deadline.expired:
                raise FetchDeadlineError(
                    f"no time left for attempt {attempt} before the run's deadline ({request.base_url})",
                    status=None,
                    attempts=attempt - 1,
                )
            started = time.monotonic()
            try:
                reply = self.http.get(
                    request.base_url,
                    request.params,
                    deadline=deadline.within(self.attempt_timeout),
                    max_bytes=max_bytes,
                )
            except DeadlineExceededError as error:
                if deadline.expired:
                    raise FetchDeadlineError(
                        f"Open-Meteo gave no complete answer before the run's deadline (attempt {attempt}): {error}",
                        status=None,
                        attempts=attempt,
                    ) from error
                failure = _Retryable(
                    reason=f"no complete answer within the {self.attempt_timeout:.0f} s an attempt may take",
                    status=None,
                )
            except (BodyTooLargeError, RedirectRefusedError) as error:
                raise OpenMeteoRequestError(
                    f"Open-Meteo request refused: {error} ({request.base_url})", status=None, attempts=attempt
                ) from error
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as error:
                failure = _Retryable(reason=f"{type(error).__name__}: {error}", status=None)
            except requests.RequestException as error:  # e.g. a body that does not decode (ContentDecodingError)
                raise OpenMeteoRequestError(
                    f"Open-Meteo request failed: {type(error).__name__}: {error} ({request.base_url})",
                    status=None,
                    attempts=attempt,
                ) from error
            else:
                if 200 <= reply.status < 300:
                    return ApiResponse(
                        body=reply.body,
                        status=reply.status,
                        url=reply.url,
                        fetched_at=self._clock(),
                        latency_ms=(time.monotonic() - started) * 1000,
                        attempts=attempt,
                    )
                failure = self._failure_of(reply, attempt)
            self._wait_or_give_up(failure, attempt, request, deadline)

    def _failure_of(self, reply: HttpReply, attempt: int) -> _Retryable:
        """What a non-2xx reply means for the next attempt; raises when none may follow."""
        reason = f"HTTP {reply.status}: {_reason(reply)}"
        now = self._clock()
        retry_after = retry_after_seconds(reply.headers.get("Retry-After"), now=now)
        if reply.status == _TOO_MANY_REQUESTS:
            limit = rate_limit_named(_reason(reply))
            if retry_after is not None:
                return _Retryable(reason, reply.status, retry_after, limit, now + timedelta(seconds=retry_after))
            if limit is RateLimit.CONCURRENCY:
                return _Retryable(reason, reply.status, None, limit)
            lifts_at = rate_limit_lifts_at(limit, now)
            if limit in {RateLimit.HOURLY, RateLimit.DAILY} or lifts_at is None:
                raise RateLimitedError(
                    f"Open-Meteo's {limit} limit for this IP is reached ({reason}); it lifts at"
                    f" {_utc(lifts_at)}, later than a run can wait",
                    limit=limit,
                    lifts_at=lifts_at,
                )
            wait = (lifts_at - now).total_seconds() + MINUTE_RESET_MARGIN_SECONDS
            return _Retryable(reason, reply.status, wait, limit, lifts_at)
        if reply.status >= _SERVER_ERROR:
            return _Retryable(reason, reply.status, retry_after)
        raise OpenMeteoRequestError(
            f"Open-Meteo rejected the request with {reason} ({reply.url})", status=reply.status, attempts=attempt
        )

    def _wait_or_give_up(self, failure: _Retryable, attempt: int, request: ApiRequest, deadline: Deadline) -> None:
        delay = failure.wait if failure.wait is not None else self.retry.delay_before_retry(attempt)
        if attempt >= self.retry.max_attempts:
            problem = f"still failing after {attempt} attempts: {failure.reason} ({request.base_url})"
        elif failure.wait is not None and failure.wait > self.retry.max_delay_seconds:
            problem = (
                f"asked to wait {failure.wait:.0f} s, longer than the {self.retry.max_delay_seconds:.0f} s a retry"
                f" may wait: {failure.reason} ({request.base_url})"
            )
        elif not deadline.allows(delay + MIN_ATTEMPT_SECONDS):
            problem = (
                f"no time for a retry in {delay:.0f} s: {deadline.remaining():.0f} s are left before the run's"
                f" deadline; last failure: {failure.reason} ({request.base_url})"
            )
        else:
            logger.warning(
                "Open-Meteo request failed, retrying",
                extra={"attempt": attempt, "reason": failure.reason, "retry_in_seconds": round(delay, 3)},
            )
            self._sleep(delay)
            return
        if failure.rate_limit is not None:
            lifts = f"; the limit lifts at {_utc(failure.lifts_at)}" if failure.lifts_at is not None else ""
            raise RateLimitedError(
                f"Open-Meteo rate-limited the request: {problem}{lifts}",
                limit=failure.rate_limit,
                lifts_at=failure.lifts_at,
            )
        raise OpenMeteoRequestError(f"Open-Meteo request failed: {problem}", status=failure.status, attempts=attempt)


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


def _reason(reply: HttpReply) -> str:
    try:
        document = json.loads(reply.body)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("reason"), str):
        return str(document["reason"])
    text = reply.body.decode("utf-8", "replace").strip()
    return (text[:200] + "...") if len(text) > 200 else (text or reply.reason or "no body")


def _utc(moment: datetime | None) -> str:
    return "an unknown time" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
