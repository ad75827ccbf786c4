"""An instant on the monotonic clock by which work must be over, so every wait and request can be sized to it.

The Lambda handler makes one from ``context.get_remaining_time_in_millis()`` minus the time kept back to land what
was fetched; the backfill command, which has no host-imposed end, uses :meth:`Deadline.none`. Monotonic time, so
a clock step (NTP) neither shortens nor extends it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Deadline:
    """``at`` is a ``clock()`` reading (seconds); ``math.inf`` means no deadline."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        """The deadline ``seconds`` from now; zero or negative gives one already past."""
        return cls(at=clock() + seconds, clock=clock)

    @classmethod
    def none(cls) -> Deadline:
        return cls(at=math.inf)

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.at)

    def remaining(self) -> float:
        """Seconds left, never negative (``math.inf`` without a deadline)."""
        return max(0.0, self.at - self.clock())

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def within(self, seconds: float) -> Deadline:
        """The sooner of this deadline and ``seconds`` from now (e.g. one attempt's own limit)."""
        return Deadline(at=min(self.at, self.clock() + seconds), clock=self.clock)

    def allows(self, seconds: float) -> bool:
        """Whether ``seconds`` of work (a wait, say) still ends before the deadline."""
        return seconds < self.remaining()
