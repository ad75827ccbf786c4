"""Backfill: past date ranges from the archive API, cut into chunks that land like scheduled runs.

Each chunk is one archive request for every city and lands under the same layout as a scheduled run, with

* ``ingest_date`` = the chunk's last day, and
* ``run`` = that day at 23:59:59 UTC (``YYYYMMDDT235959Z``): the moment the chunk's data is complete.

So a chunk's keys depend only on its last day: re-running a backfill rewrites the same keys, and the Glue job
picks chunks up like any run (``--ingest_date`` = chunk end; a ``--lookback_days`` spanning the backfilled range
reprocesses it all at once). A chunk already landed for every city, covering all of the chunk's hours, is
skipped: that is what makes an interrupted backfill resumable without a checkpoint file.

A month of hourly data for many cities weighs many Open-Meteo calls (100 cities x 31 days x 8 variables: about
177), so a long backfill meets the API's per-minute limit, which the client waits out, and may meet its hourly
or daily one: a chunk failing on a rate limit stops the backfill (the later chunks would fail alike), and the
same command resumes it once the limit lifts.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from lakepipe.domain.weather.cities import City
from lakepipe.domain.weather.ingest import (
    CitiesFailedError,
    LandingStore,
    OpenMeteoQuotaExhaustedError,
    OpenMeteoRateLimitedError,
    WeatherApi,
    ingest,
    run_failure,
)
from lakepipe.domain.weather.landing import IngestManifest, LandingRun, RunPlan
from lakepipe.domain.weather.open_meteo import archive_request, hourly_time_span

# The archive's reanalysis starts in 1940.
ARCHIVE_FIRST_DAY = date(1940, 1, 1)
CHUNK_RUN_TIME = time(23, 59, 59)


def backfill_chunks(start: date, end: date, chunk_days: int | None = None) -> list[tuple[date, date]]:
    """Cut ``start..end`` (both included) into calendar months, or into ``chunk_days``-day chunks if given.

    Month chunks keep keys stable when a backfill is re-run with another start inside a month: every chunk but
    the first still ends on the same day.
    """
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if chunk_days is not None and chunk_days < 1:
        raise ValueError(f"chunk_days must be at least 1, got {chunk_days}")
    chunks: list[tuple[date, date]] = []
    chunk_start = start
    while chunk_start <= end:
        if chunk_days is None:
            month_end = chunk_start.replace(day=calendar.monthrange(chunk_start.year, chunk_start.month)[1])
        else:
            month_end = chunk_start + timedelta(days=chunk_days - 1)
        chunk_end = min(month_end, end)
        chunks.append((chunk_start, chunk_end))
        chunk_start = chunk_end + timedelta(days=1)
    return chunks


def backfill_run(chunk_end: date) -> LandingRun:
    """The run identity of the chunk ending on ``chunk_end``."""
    return LandingRun(run_time=datetime.combine(chunk_end, CHUNK_RUN_TIME, tzinfo=UTC))


def plan_backfill(
    *,
    start: date,
    end: date,
    cities: Sequence[City],
    archive_api_url: str,
    today: date,
    chunk_days: int | None = None,
) -> list[RunPlan]:
    """One run plan per chunk of ``start..end``; the range must lie between 1940 and yesterday (UTC)."""
    if start < ARCHIVE_FIRST_DAY:
        raise ValueError(f"start {start} is before the archive's first day {ARCHIVE_FIRST_DAY}")
    if end >= today:
        raise ValueError(f"end {end} is not in the past (today is {today} UTC); the archive holds past days only")
    return [
        RunPlan(
            run=backfill_run(chunk_end),
            window_start=chunk_start,
            window_end=chunk_end,
            request=archive_request(
                base_url=archive_api_url, cities=cities, start_date=chunk_start, end_date=chunk_end
            ),
        )
        for chunk_start, chunk_end in backfill_chunks(start, end, chunk_days)
    ]


def is_landed(plan: RunPlan, cities: Sequence[City], store: LandingStore) -> bool:
    """True when every city's object of ``plan`` exists and covers every hour of the plan's window."""
    first_hour = datetime.combine(plan.window_start, time(0), tzinfo=UTC)
    last_hour = datetime.combine(plan.window_end, time(23), tzinfo=UTC)
    for city in cities:
        raw = store.read(plan.run.key_for(city))
        span = hourly_time_span(raw) if raw is not None else None
        if span is None or span[0] > first_hour or span[1] < last_hour:
            return False
    return True


@dataclass(frozen=True)
class ChunkResult:
    """What became of one chunk: landed now, skipped (already landed), or failed for some city."""

    plan: RunPlan
    status: Literal["landed", "skipped", "failed"]
    manifest: IngestManifest | None
    error: CitiesFailedError | None = None

    @property
    def rate_limited(self) -> bool:
        """The chunk failed on an Open-Meteo rate limit: the chunks after it would fail alike."""
        return isinstance(self.error, OpenMeteoRateLimitedError | OpenMeteoQuotaExhaustedError)


def backfill_chunk(
    plan: RunPlan, *, cities: Sequence[City], api: WeatherApi, store: LandingStore, force: bool = False
) -> ChunkResult:
    """Land one chunk unless it is already landed (or ``force``); a failed city marks the chunk failed."""
    if not force and is_landed(plan, cities, store):
        return ChunkResult(plan=plan, status="skipped", manifest=None)
    outcome = ingest(plan=plan, cities=cities, api=api, store=store)
    error = run_failure(outcome)
    status: Literal["landed", "failed"] = "failed" if error is not None else "landed"
    return ChunkResult(plan=plan, status=status, manifest=outcome.manifest, error=error)
