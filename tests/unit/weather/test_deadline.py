"""The deadline: remaining time on a monotonic clock, an attempt's own limit within it, no deadline at all."""

from __future__ import annotations

import math

from lakepipe.domain.weather.deadline import Deadline


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_remaining_time_runs_down_with_the_clock_and_stops_at_zero() -> None:
    clock = Clock()
    deadline = Deadline.after(20.0, clock=clock)

    clock.now += 5.0
    assert deadline.remaining() == 15.0
    assert not deadline.expired
    clock.now += 16.0
    assert deadline.remaining() == 0.0
    assert deadline.expired


def test_a_budget_already_spent_gives_an_expired_deadline() -> None:
    # e.g. 12 s remaining in the invocation, 20 s kept back for landing
    assert Deadline.after(12.0 - 20.0, clock=Clock()).expired


def test_an_attempt_limit_is_the_sooner_of_the_two() -> None:
    clock = Clock()
    deadline = Deadline.after(100.0, clock=clock)

    assert deadline.within(60.0).remaining() == 60.0
    clock.now += 70.0
    assert deadline.within(60.0).remaining() == 30.0


def test_allows_says_whether_work_of_that_length_ends_before_the_deadline() -> None:
    deadline = Deadline.after(10.0, clock=Clock())

    assert deadline.allows(9.5)
    assert not deadline.allows(10.0)


def test_no_deadline_is_unbounded_and_never_expires() -> None:
    deadline = Deadline.none()

    assert not deadline.bounded
    assert deadline.remaining() == math.inf
    assert deadline.allows(10**9)
    assert deadline.within(60.0).bounded
