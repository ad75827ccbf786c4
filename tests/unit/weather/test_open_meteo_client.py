"""The HTTP client: what is retried, how long it waits, what fails at once. HTTP faked with `responses`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import requests
import responses
from responses import matchers

from lakepipe.adapters.open_meteo import OpenMeteoClient, OpenMeteoRequestError, RetryPolicy, retry_after_seconds
from lakepipe.domain.weather.open_meteo import DEFAULT_FORECAST_API_URL, forecast_request
from tests.unit.weather.open_meteo_bodies import ERROR_BODY, FORECAST_4_CITIES, FOUR_CITIES, body

NOW = datetime(2026, 11, 22, 3, 0, 1, tzinfo=UTC)
REQUEST = forecast_request(
    base_url=DEFAULT_FORECAST_API_URL, cities=FOUR_CITIES, start_date=date(2026, 11, 20), end_date=date(2026, 11, 23)
)
URL = DEFAULT_FORECAST_API_URL


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> OpenMeteoClient:
    return OpenMeteoClient(
        retry=RetryPolicy(max_attempts=4, backoff_seconds=1.0, max_delay_seconds=30.0),
        sleep=sleeps.append,
        clock=lambda: NOW,
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


def test_a_retry_after_longer_than_the_run_may_wait_fails_at_once(
    http: responses.RequestsMock, client: OpenMeteoClient, sleeps: list[float]
) -> None:
    http.get(URL, status=429, headers={"Retry-After": "3600"}, json={"error": True, "reason": "Daily limit exceeded"})

    with pytest.raises(OpenMeteoRequestError, match="retry after 3600 s, longer than the 30 s") as error:
        client.fetch(REQUEST)

    assert "Daily limit exceeded" in str(error.value)
    assert error.value.status == 429
    assert sleeps == []
    assert len(http.calls) == 1


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
