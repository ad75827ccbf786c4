"""The Open-Meteo client's attempts against a trickling server on 127.0.0.1: each attempt ends at its own
timeout, retries stop where the run's deadline leaves no room, and the whole fetch ends by the deadline."""

from __future__ import annotations

import time
from datetime import date

import pytest

from lakepipe.adapters.open_meteo import FetchDeadlineError, OpenMeteoClient, OpenMeteoRequestError, RetryPolicy
from lakepipe.domain.weather.deadline import Deadline
from lakepipe.domain.weather.open_meteo import ApiRequest, forecast_request
from tests.integration.weather.loopback_http import answer, head, loopback_server, then_trickle
from tests.unit.weather.open_meteo_bodies import FORECAST_4_CITIES, FOUR_CITIES, body

pytestmark = pytest.mark.integration

SLACK_SECONDS = 1.0
TRICKLING = then_trickle(head("200 OK", {"Content-Length": "22267"}), body(FORECAST_4_CITIES))


def request_to(url: str) -> ApiRequest:
    return forecast_request(
        base_url=url, cities=FOUR_CITIES, start_date=date(2026, 11, 20), end_date=date(2026, 11, 23)
    )


def test_cut_attempts_are_retried_only_while_the_deadline_leaves_room_and_the_fetch_ends_by_it() -> None:
    # Given attempts limited to 1 s, no backoff, a 4.5 s deadline, and a server that never finishes an answer
    client = OpenMeteoClient(attempt_timeout_seconds=1.0, retry=RetryPolicy(max_attempts=10, backoff_seconds=0))
    with loopback_server(TRICKLING) as api:
        started = time.monotonic()
        with pytest.raises(OpenMeteoRequestError) as failed:
            client.fetch(request_to(api.url + "/v1/forecast"), Deadline.after(4.5))
        elapsed = time.monotonic() - started

    # Then each attempt ends at 1 s; a retry starts only with 2 s still ahead (at 0, 1 and 2 s; not at 3 s), and
    # the fetch gives up with the reason, by the deadline
    assert len(api.log.paths) == 3
    assert 3.0 - 0.1 <= elapsed <= 4.5 + SLACK_SECONDS, elapsed
    assert "no time for a retry in 0 s" in str(failed.value)
    assert "no complete answer within the 1 s an attempt may take" in str(failed.value)


def test_an_attempt_longer_than_the_deadline_is_cut_at_the_deadline() -> None:
    client = OpenMeteoClient()  # attempts may take 60 s, reads 30 s each
    with loopback_server(TRICKLING) as api:
        started = time.monotonic()
        with pytest.raises(FetchDeadlineError, match="before the run's deadline"):
            client.fetch(request_to(api.url + "/v1/forecast"), Deadline.after(2.0))
        elapsed = time.monotonic() - started

    assert elapsed <= 2.0 + SLACK_SECONDS, elapsed
    assert len(api.log.paths) == 1


def test_a_body_that_does_not_decode_fails_the_fetch_cleanly_without_retrying() -> None:
    corrupt = b"this is not gzip"
    respond = answer("200 OK", corrupt, {"Content-Encoding": "gzip"})
    with loopback_server(respond) as api, pytest.raises(OpenMeteoRequestError, match="ContentDecodingError"):
        OpenMeteoClient().fetch(request_to(api.url + "/v1/forecast"), Deadline.after(10))

    assert len(api.log.paths) == 1
