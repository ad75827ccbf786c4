"""The bounded GET against real misbehaving servers on 127.0.0.1: deadlines, body caps, redirects.

The servers are real sockets (``loopback_http``), so what is proved is what ``requests``/urllib3/http.client do
with them, not what a mock says they would. Time bounds are generous (the point is that the call ends by the
deadline instead of the server's pace) and memory is measured with ``tracemalloc``, which sees every allocation
made by Python code and by the decoders.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import TypeVar

import pytest

from lakepipe.adapters.bounded_http import (
    BodyTooLargeError,
    BoundedHttpClient,
    DeadlineExceededError,
    RedirectRefusedError,
)
from lakepipe.domain.weather.deadline import Deadline
from tests.integration.weather.loopback_http import (
    Respond,
    answer,
    by_path,
    endless_body,
    gzip_bomb,
    head,
    loopback_server,
    then_trickle,
    trickle,
)

pytestmark = pytest.mark.integration

BUDGET_SECONDS = 2.0
# How far past the deadline a call may end: the watchdog's timer, the socket shutdown and the unwinding of the
# read take milliseconds; a second leaves room for a loaded CI machine without hiding a call that waits it out.
SLACK_SECONDS = 1.0
CAP = 1024 * 1024
CLIENT = BoundedHttpClient(connect_timeout_seconds=5.0, read_timeout_seconds=30.0)
ANSWER = b'{"latitude":48.86}'
T = TypeVar("T")


def timed(call: Callable[[], T]) -> tuple[T | BaseException, float]:
    started = time.monotonic()
    try:
        result: T | BaseException = call()
    except Exception as error:  # returned so the test can assert on it after the clock stops
        result = error
    return result, time.monotonic() - started


def peak_allocated(call: Callable[[], object]) -> tuple[object, int]:
    """What ``call`` returned or raised, and the peak of memory allocated while it ran (bytes)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        try:
            result: object = call()
        except Exception as error:
            result = error
        return result, tracemalloc.get_traced_memory()[1] - baseline
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("where", "respond"),
    [
        ("status line", trickle(head("200 OK", {"Content-Length": str(len(ANSWER))}) + ANSWER)),
        (
            "body with Content-Length",
            then_trickle(head("200 OK", {"Content-Length": "100000"}), b"[" + b"1," * 50000),
        ),
        ("close-delimited body", then_trickle(head("200 OK", {}), b"[" + b"1," * 50000)),
    ],
)
def test_a_server_sending_one_byte_a_second_is_cut_off_at_the_deadline(where: str, respond: Respond) -> None:
    # Given a server that sends one byte a second: each read succeeds well within the 30 s read timeout
    with loopback_server(respond) as server:
        # When the GET has a 2 s deadline
        outcome, elapsed = timed(
            lambda: CLIENT.get(server.url + "/v1/forecast", deadline=Deadline.after(BUDGET_SECONDS), max_bytes=CAP)
        )

    # Then it ends by the deadline, as an overrun (not a short body taken for a whole one), after the server
    # had started sending
    assert isinstance(outcome, DeadlineExceededError), (where, outcome)
    assert BUDGET_SECONDS - 0.1 <= elapsed <= BUDGET_SECONDS + SLACK_SECONDS, (where, elapsed)
    assert server.log.paths == ["/v1/forecast"]
    assert 1 <= server.log.bytes_sent <= BUDGET_SECONDS + SLACK_SECONDS + 64  # (the prefix, then ~1 byte/s)


def test_a_prompt_server_is_answered_in_full_well_before_the_deadline() -> None:
    with loopback_server(answer("200 OK", ANSWER)) as server:
        reply, elapsed = timed(
            lambda: CLIENT.get(
                server.url + "/v1/forecast", {"latitude": "48.8566"}, deadline=Deadline.after(5), max_bytes=CAP
            )
        )

    assert not isinstance(reply, BaseException)
    assert (reply.status, reply.body) == (200, ANSWER)
    assert reply.url == server.url + "/v1/forecast?latitude=48.8566"
    assert elapsed < 5
    assert server.log.paths == ["/v1/forecast?latitude=48.8566"]


def test_a_deadline_already_past_sends_nothing() -> None:
    with loopback_server(answer("200 OK", ANSWER)) as server, pytest.raises(DeadlineExceededError):
        CLIENT.get(server.url, deadline=Deadline.after(0), max_bytes=CAP)

    assert server.log.paths == []


@pytest.mark.parametrize("content_length", [False, True], ids=["unannounced", "announced"])
def test_a_500_mb_body_is_refused_holding_about_the_cap_in_memory(content_length: bool) -> None:
    # Given a server that would send 500 MB (with or without announcing it in Content-Length)
    total = 500 * 1024 * 1024
    with loopback_server(endless_body(total_bytes=total, content_length=content_length)) as server:
        # When the GET may hold 1 MiB
        outcome, peak = peak_allocated(lambda: CLIENT.get(server.url, deadline=Deadline.after(30), max_bytes=CAP))

    # Then it is refused; memory never held much more than the cap (chunks up to the cap, one more chunk, the
    # socket buffers), and the server could not push the 500 MB through
    assert isinstance(outcome, BodyTooLargeError), outcome
    assert peak < 3 * CAP, peak
    assert server.log.bytes_sent < 64 * CAP
    if content_length:
        assert "announces 524,288,000 bytes" in str(outcome)


def test_a_gzip_body_that_inflates_past_the_cap_is_refused_while_inflating() -> None:
    # Given a 64 MiB body of zeros sent gzip-compressed (about 64 KB on the wire, well under the cap)
    respond, wire_bytes = gzip_bomb(inflated_bytes=64 * 1024 * 1024)
    assert wire_bytes < CAP
    with loopback_server(respond) as server:
        # When the GET may hold 1 MiB (decoded)
        outcome, peak = peak_allocated(lambda: CLIENT.get(server.url, deadline=Deadline.after(30), max_bytes=CAP))

    # Then the decoded size trips the cap, and inflating never held the whole body
    assert isinstance(outcome, BodyTooLargeError), outcome
    assert peak < 4 * CAP, peak


def test_a_redirect_to_another_port_is_refused_and_the_other_server_never_asked() -> None:
    # Given the API host redirects to another server (another port on the loopback: another origin)
    with loopback_server(answer("200 OK", ANSWER)) as elsewhere:
        redirect = answer("302 Found", b"", {"Location": elsewhere.url + "/v1/forecast?latitude=1"})
        # When the GET is made
        with loopback_server(redirect) as api, pytest.raises(RedirectRefusedError) as refused:
            CLIENT.get(api.url + "/v1/forecast", deadline=Deadline.after(5), max_bytes=CAP)

    # Then the redirect is refused with both origins named, and nothing was asked of the other server
    assert f"redirects to http://127.0.0.1:{elsewhere.port}" in str(refused.value)
    assert f"from http://127.0.0.1:{api.port}" in str(refused.value)
    assert elsewhere.log.paths == []


@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:{port}/v1/forecast",
        "https://127.0.0.1:{port}/v1/forecast",
        "http://127.0.0.1:not-a-port/v1/forecast",
    ],
    ids=["another host name", "another scheme", "a malformed port"],
)
def test_a_redirect_to_the_same_port_under_another_host_or_scheme_is_refused(location: str) -> None:
    # Given a server that redirects to itself under another name (localhost) or scheme (https)
    routes: dict[str, Respond] = {}
    with loopback_server(by_path(routes)) as server:
        routes["/old"] = answer("301 Moved Permanently", b"", {"Location": location.format(port=server.port)})
        routes["/v1/forecast"] = answer("200 OK", ANSWER)

        # When the GET is made, then the redirect is refused and the target never asked
        with pytest.raises(RedirectRefusedError, match="only same-origin redirects"):
            CLIENT.get(server.url + "/old", deadline=Deadline.after(5), max_bytes=CAP)

    assert server.log.paths == ["/old"]


def test_a_same_origin_redirect_is_followed() -> None:
    routes = {
        "/forecast": answer("308 Permanent Redirect", b"", {"Location": "/v1/forecast?latitude=1"}),
        "/v1/forecast": answer("200 OK", ANSWER),
    }

    with loopback_server(by_path(routes)) as server:
        reply = CLIENT.get(server.url + "/forecast", deadline=Deadline.after(5), max_bytes=CAP)

    assert (reply.status, reply.body, reply.url) == (200, ANSWER, server.url + "/v1/forecast?latitude=1")
    assert server.log.paths == ["/forecast", "/v1/forecast?latitude=1"]


def test_a_redirect_loop_stops_after_the_allowed_hops() -> None:
    with (
        loopback_server(answer("302 Found", b"", {"Location": "/again"})) as server,
        pytest.raises(RedirectRefusedError, match="more than 3 redirects"),
    ):
        CLIENT.get(server.url + "/again", deadline=Deadline.after(5), max_bytes=CAP)

    assert server.log.paths == ["/again"] * 4


def test_header_names_are_matched_whatever_case_the_server_sends() -> None:
    with loopback_server(answer("503 Service Unavailable", b"busy", {"retry-after": "7"})) as server:
        reply = CLIENT.get(server.url, deadline=Deadline.after(5), max_bytes=CAP)

    assert (reply.status, reply.body) == (503, b"busy")
    assert reply.headers.get("Retry-After") == "7"
