"""Newest upload wins: a conversion publishes only while it holds its key's lease and its version is the newest.

Two conversions of one key can overlap (v1 still converting when v2 lands and converts faster). Each publishes
(catalog, Parquet move, quarantine) inside a lease on the source key, taken with a conditional write, and only
after checking, inside the lease, that its version is still the key's current one. So whatever the timing, the
last publication is the newest version's: an older conversion that reaches the lease after the newer one finds
itself superseded and publishes nothing, and one that holds the lease first is followed by the newer one.

A holder that dies keeps the lease until it expires. The lease is taken for publication only, never for the
conversion, and outlives the longest publication (a catalog call and a few server-side copies) by far, so an
expired lease has no live publisher; a retry that finds the lease held waits for the function's whole timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

DEFAULT_LEASE_SECONDS = 300
DEFAULT_WAIT_SECONDS = 60.0


class Leases(Protocol):
    """Named, expiring, exclusive leases (DynamoDB conditional writes in Lambda)."""

    def acquire(self, name: str, holder: str, seconds: int) -> bool:
        """Take ``name`` for ``holder`` unless another holder has it unexpired; True when taken."""
        ...

    def release(self, name: str, holder: str) -> None:
        """Give ``name`` back if ``holder`` still has it."""
        ...


class PublicationBusyError(RuntimeError):
    """Another conversion of the same key held its lease for the whole wait: retry the message later."""


def lease_name(bucket: str, key: str) -> str:
    return f"lakepipe#publish#{bucket}/{key}"


@contextmanager
def holding_lease(
    leases: Leases,
    name: str,
    holder: str,
    *,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    wait_seconds: float = DEFAULT_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[None]:
    """Hold the lease ``name`` for the block, waiting up to ``wait_seconds`` for another holder to finish."""
    deadline = clock() + wait_seconds
    pause = 0.05
    while not leases.acquire(name, holder, lease_seconds):
        if clock() + pause > deadline:
            raise PublicationBusyError(f"{name} stayed held by another conversion for {wait_seconds:.0f} s")
        sleep(pause)
        pause = min(pause * 2, 2.0)
    try:
        yield
    finally:
        leases.release(name, holder)
