"""The HTTP client: what is retried, how long it waits, what fails at once. HTTP faked with `responses`, time with
a clock that only moves when the client sleeps (wall and monotonic together), so waits are exact and instant.

Open-Meteo's 429 bodies are its own texts (RateLimiter.swift in open-meteo/open-meteo: the limits lift on the
minute, hour and UTC day boundaries; no Retry-After is sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
import responses
from responses import matchers

from lakepipe.adapters.open_meteo import (
    FetchDeadlineError,
    OpenMeteoClient,
    OpenMeteoRequestError,
    RetryPolicy,
    retry_after_seconds,
)
from lakepipe.domain.weather.deadline import Deadline
from lakepipe.domain.weather.open_meteo import DEFAULT_FORECAST_API_URL, RateLimit, RateLimitedError, forecast_request
from tests.unit.weather.open_meteo_bodies import ERROR_BODY, FORECAST_4_CITIES, FOUR_CITIES, body

NOW = datetime(2026, 11, 22, 3, 0, 1, tzinfo=UTC)
MINUTELY = {"error": True, "reason": "Minutely API request limit exceeded. Please try again in one minute."}
HOURLY = {"error": True, "reason": "Hourly API request limit exceeded. Please try again in the next hour."}
DAILY = {"error": True, "reason": "Daily API request limit exceeded. Please try again tomorrow."}
CONCURRENT = {"error": True, "reason": "Too many concurrent requests"}
REQUEST = forecast_request(
    base_url=DEFAULT_FORECAST_API_URL, cities=FOUR_CITIES, start_date=date(2026, 11, 20), end_date=date(2026, 11, 23)
)
URL = DEFAULT_FORECAST_API_URL


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


class FakeTime:
    """Wall clock (for Open-Meteo's boundaries) and monotonic clock (for deadlines), moved only by ``sleep``."""

    def __init__(self, wall: datetime) -> None:
        self.wall = wall
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.elapsed += seconds
        self.wall += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return self.elapsed

    def deadline(self, seconds: float) -> Deadline:
        return Deadline.after(seconds, clock=self.monotonic)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime(NOW)


@pytest.fixture
def sleeps(fake_time: FakeTime) -> list[float]:
    return fake_time.sleeps


@pytest.fixture
def client(fake_time: FakeTime) -> OpenMeteoClient:
    return OpenMeteoClient(
        retry=RetryPolicy(max_attempts=4, backoff_seconds=1.0, max_delay_seconds=65.0),
        sleep=fake_time.sleep,
        clock=lambda: fake_time.wall,
    )


def test_success_returns_the_body_as_received_with_url_status_and_time(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    raw = body(FORECAST_4_CITIES)
    http.get(URL, body=raw, match=[matchers.query_param_matcher(REQUEST.query)])

    response = client.fetch(REQUEST)

    assert response.body == raw
    assert response.status == 200
    assert response.url.startswith(URL + "?latitude=48.8566%2C43.2965%2C43.7102%2C45.764&longitude=")
    assert "start_date=2026-11-20&end_date=2026-11-23" in response.url
    assert response.fetched_at == NOW
    assert response.attempts == 1
    assert response.latency_ms >= 0
    assert sleeps == []
    assert http.calls[0].request.headers["User-Agent"].startswith("lakepipe/")


def test_429_waits_what_retry_after_says_then_succeeds(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    http.get(URL, status=429, headers={"Retry-After": "7"}, json={"error": True, "reason": "Too many requests"})
    http.get(URL, body=body(FORECAST_4_CITIES))

    response = client.fetch(REQUEST)

    assert sleeps == [7.0]
    assert response.attempts == 2
    assert len(http.calls) == 2


def test_retry_after_as_an_http_date_is_honoured(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    http.get(URL, status=503, headers={"Retry-After": "Sun, 22 Nov 2026 03:00:13 GMT"})
    http.get(URL, body=body(FORECAST_4_CITIES))

    client.fetch(REQUEST)

    assert sleeps == [12.0]


def test_a_retry_after_longer_than_a_retry_may_wait_fails_at_once_as_rate_limited(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    http.get(URL, status=429, headers={"Retry-After": "3600"}, json={"error": True, "reason": "Slow down"})

    with pytest.raises(RateLimitedError, match="asked to wait 3600 s, longer than the 65 s a retry may wait") as error:
        client.fetch(REQUEST)

    assert "HTTP 429: Slow down" in str(error.value)
    assert error.value.lifts_at == NOW + timedelta(hours=1)
    assert sleeps == []
    assert len(http.calls) == 1


def test_open_meteos_minutely_limit_is_waited_out_to_the_next_minute_then_the_fetch_succeeds(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    # Given Open-Meteo's minutely 429 at 03:00:01 (no Retry-After), then an answer
    http.get(URL, status=429, json=MINUTELY)
    http.get(URL, body=body(FORECAST_4_CITIES))

    # When the run may take the time
    response = client.fetch(REQUEST, Deadline.none())

    # Then the one wait runs to 03:01:00 plus the 1 s margin (59 s + 1 s), not 1-2-4 s backoffs
    assert sleeps == [60.0]
    assert response.attempts == 2


def test_a_minutely_limit_that_cannot_be_waited_out_before_the_deadline_fails_fast_as_rate_limited(
    http: responses.RequestsMock, client: OpenMeteoClient, fake_time: FakeTime, sleeps: list[float]
) -> None:
    http.get(URL, status=429, json=MINUTELY)

    with pytest.raises(RateLimitedError, match="no time for a retry in 60 s: 30 s are left") as error:
        client.fetch(REQUEST, fake_time.deadline(30))

    assert (error.value.limit, error.value.lifts_at) == (RateLimit.MINUTELY, datetime(2026, 11, 22, 3, 1, tzinfo=UTC))
    assert error.value.lifts_within_the_hour
    assert sleeps == []
    assert len(http.calls) == 1


def test_a_minutely_limit_still_reached_after_the_wait_gives_up_as_rate_limited(
    http: responses.RequestsMock, fake_time: FakeTime
) -> None:
    client = OpenMeteoClient(retry=RetryPolicy(max_attempts=2), sleep=fake_time.sleep, clock=lambda: fake_time.wall)
    http.get(URL, status=429, json=MINUTELY)
    http.get(URL, status=429, json=MINUTELY)

    with pytest.raises(RateLimitedError, match="still failing after 2 attempts: HTTP 429: Minutely API") as error:
        client.fetch(REQUEST, fake_time.deadline(280))

    # the second 429 came at 03:01:01: its limit lifts at 03:02:00
    assert error.value.lifts_at == datetime(2026, 11, 22, 3, 2, tzinfo=UTC)
    assert fake_time.sleeps == [60.0]


@pytest.mark.parametrize(
    "case",
    [
        (HOURLY, RateLimit.HOURLY, datetime(2026, 11, 22, 4, 0, tzinfo=UTC)),
        (DAILY, RateLimit.DAILY, datetime(2026, 11, 23, 0, 0, tzinfo=UTC)),
    ],
    ids=["hourly", "daily"],
)
def test_the_hourly_and_daily_limits_fail_at_once_with_when_they_lift(
    http: responses.RequestsMock,
    client: OpenMeteoClient,
    sleeps: list[float],
    case: tuple[dict[str, object], RateLimit, datetime],
) -> None:
    reply, limit, lifts_at = case
    http.get(URL, status=429, json=reply)

    with pytest.raises(RateLimitedError) as error:
        client.fetch(REQUEST, Deadline.none())

    assert (error.value.limit, error.value.lifts_at) == (limit, lifts_at)
    assert not error.value.lifts_within_the_hour
    assert f"lifts at {lifts_at:%Y-%m-%dT%H:%M:%SZ}" in str(error.value)
    assert sleeps == []
    assert len(http.calls) == 1


def test_too_many_concurrent_requests_is_backed_off_like_a_server_error(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    http.get(URL, status=429, json=CONCURRENT)
    http.get(URL, body=body(FORECAST_4_CITIES))

    assert client.fetch(REQUEST).attempts == 2
    assert sleeps == [1.0]


def test_a_429_from_another_server_naming_no_limit_is_treated_as_a_minutely_one(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    http.get(URL, status=429, body="Too Many Requests", content_type="text/plain")
    http.get(URL, body=body(FORECAST_4_CITIES))

    client.fetch(REQUEST)

    assert sleeps == [60.0]


def test_server_error_backoff_stops_where_the_deadline_leaves_no_time_for_another_attempt(
    http: responses.RequestsMock, client: OpenMeteoClient, fake_time: FakeTime
) -> None:
    # Given a deadline 8 s away and a server failing with 503: a retry needs its backoff plus 2 s for the attempt;
    # after 1 s (7 s left) and 2 s (5 s left) of backoff, the third backoff of 4 s does not fit
    for _ in range(3):
        http.get(URL, status=503, body="Service Unavailable")

    with pytest.raises(OpenMeteoRequestError, match="no time for a retry in 4 s: 5 s are left") as error:
        client.fetch(REQUEST, fake_time.deadline(8))

    assert not isinstance(error.value, FetchDeadlineError)
    assert error.value.status == 503
    assert fake_time.sleeps == [1.0, 2.0]
    assert len(http.calls) == 3


def test_a_deadline_already_past_makes_no_request(
    http: responses.RequestsMock, client: OpenMeteoClient, fake_time: FakeTime
) -> None:
    with pytest.raises(FetchDeadlineError, match="no time left for attempt 1"):
        client.fetch(REQUEST, fake_time.deadline(0))

    assert len(http.calls) == 0


def test_500_then_success_backs_off_once(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    http.get(URL, status=500, body="Internal Server Error")
    http.get(URL, body=body(FORECAST_4_CITIES))

    response = client.fetch(REQUEST)

    assert response.status == 200
    assert response.attempts == 2
    assert sleeps == [1.0]


def test_server_errors_exhaust_the_attempts_with_exponential_backoff(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    for status in (502, 503, 504, 500):
        http.get(URL, status=status, body=f"upstream {status}")

    with pytest.raises(OpenMeteoRequestError, match="still failing after 4 attempts: HTTP 500: upstream 500") as error:
        client.fetch(REQUEST)

    assert sleeps == [1.0, 2.0, 4.0]
    assert error.value.attempts == 4
    assert error.value.status == 500


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_seconds=2.0, max_delay_seconds=10.0)

    assert [policy.delay_before_retry(retry) for retry in range(1, 6)] == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_a_timeout_is_retried(http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]) -> None:
    http.get(URL, body=requests.ReadTimeout("read timed out (read timeout=30)"))
    http.get(URL, body=body(FORECAST_4_CITIES))

    response = client.fetch(REQUEST)

    assert response.attempts == 2
    assert sleeps == [1.0]


def test_connection_errors_are_retried_then_reported(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    for _ in range(4):
        http.get(URL, body=requests.ConnectionError("Name or service not known"))

    with pytest.raises(OpenMeteoRequestError, match="after 4 attempts: ConnectionError: Name or service not known"):
        client.fetch(REQUEST)

    assert sleeps == [1.0, 2.0, 4.0]


def test_404_is_not_retried(http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]) -> None:
    http.get(URL, status=404, body="Not Found")

    with pytest.raises(OpenMeteoRequestError, match="rejected the request with HTTP 404: Not Found") as error:
        client.fetch(REQUEST)

    assert len(http.calls) == 1
    assert sleeps == []
    assert error.value.attempts == 1


def test_400_reports_open_meteo_reason(http: responses.RequestsMock, client: OpenMeteoClient) -> None:
    http.get(URL, status=400, body=body(ERROR_BODY), content_type="application/json")

    with pytest.raises(OpenMeteoRequestError, match="HTTP 400: Latitude must be in range of -90 to 90°"):
        client.fetch(REQUEST)

    assert len(http.calls) == 1


def test_a_garbage_body_with_status_200_is_returned_for_the_domain_to_refuse(
    http: responses.RequestsMock, client: OpenMeteoClient
) -> None:
    http.get(URL, body=b"<html>maintenance</html>", content_type="text/html")

    assert client.fetch(REQUEST).body == b"<html>maintenance</html>"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("120", 120.0),
        (" 5 ", 5.0),
        ("Sun, 22 Nov 2026 03:01:01 GMT", 60.0),
        ("Sun, 22 Nov 2026 02:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_retry_after_header_forms(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=NOW) == seconds
