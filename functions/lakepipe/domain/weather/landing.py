"""Where a run's raw responses land, and the manifest that tells the next step what landed.

Layout (contract with the Glue job)::

    landing/weather/source=open-meteo/ingest_date=YYYY-MM-DD/run=YYYYMMDDTHHMMSSZ/city=<Name>.json

``run`` is the scheduled event's time in ISO basic form (colons break Hadoop paths) and ``ingest_date`` its UTC
date. Both come from the event, never from the wall clock, so a re-delivered event rewrites the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from lakepipe.domain.weather.cities import City
from lakepipe.domain.weather.open_meteo import ApiRequest

SOURCE = "open-meteo"
LANDING_ROOT = f"landing/weather/source={SOURCE}/"
RUN_ID_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class LandingRun:
    """The identity of one run: its UTC instant, from which its id, date and keys follow."""

    run_time: datetime

    def __post_init__(self) -> None:
        if self.run_time.tzinfo is None:
            raise ValueError("run_time must be timezone-aware")

    @classmethod
    def at(cls, moment: datetime) -> LandingRun:
        """The run for an event at ``moment`` (naive means UTC), to the second."""
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return cls(run_time=aware.astimezone(UTC).replace(microsecond=0))

    @property
    def run_id(self) -> str:
        return self.run_time.strftime(RUN_ID_FORMAT)

    @property
    def ingest_date(self) -> date:
        return self.run_time.date()

    @property
    def prefix(self) -> str:
        return f"{LANDING_ROOT}ingest_date={self.ingest_date.isoformat()}/run={self.run_id}/"

    def key_for(self, city: City) -> str:
        return f"{self.prefix}city={city.key_name}.json"


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs decided before it starts: where it lands, the days it covers, what it asks."""

    run: LandingRun
    window_start: date
    window_end: date
    request: ApiRequest


@dataclass(frozen=True)
class CityOutcome:
    """How one city fared in a run."""

    city: str
    status: Literal["ok", "failed"]
    key: str | None
    bytes: int
    error: str | None

    @classmethod
    def landed(cls, city: City, key: str, size: int) -> CityOutcome:
        return cls(city=city.name, status="ok", key=key, bytes=size, error=None)

    @classmethod
    def failed(cls, city: City, error: str) -> CityOutcome:
        return cls(city=city.name, status="failed", key=None, bytes=0, error=error)


@dataclass(frozen=True)
class IngestManifest:
    """The run's result, handed by the state machine to the Glue job (contract 2)."""

    plan: RunPlan
    cities: tuple[CityOutcome, ...]

    @property
    def keys(self) -> list[str]:
        return [outcome.key for outcome in self.cities if outcome.key is not None]

    @property
    def failed(self) -> list[CityOutcome]:
        return [outcome for outcome in self.cities if outcome.status == "failed"]

    @property
    def bytes_landed(self) -> int:
        return sum(outcome.bytes for outcome in self.cities)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (strings, numbers, lists only): Step Functions passes it on as is."""
        run = self.plan.run
        return {
            "run_id": run.run_id,
            "ingest_date": run.ingest_date.isoformat(),
            "source": SOURCE,
            "landing_prefix": run.prefix,
            "keys": self.keys,
            "cities": [
                {"city": o.city, "status": o.status, "key": o.key, "bytes": o.bytes, "error": o.error}
                for o in self.cities
            ],
            "window_start": self.plan.window_start.isoformat(),
            "window_end": self.plan.window_end.isoformat(),
        }

    def summary(self) -> str:
        """One line for logs and error messages: which cities failed and why, which landed."""
        errors = {o.error for o in self.failed}
        if len(self.failed) == len(self.cities) and len(errors) == 1:
            return f"run {self.plan.run.run_id}: all {len(self.cities)} cities failed: {errors.pop()}"
        failed = ", ".join(f"{o.city} ({o.error})" for o in self.failed) or "none"
        landed = ", ".join(o.city for o in self.cities if o.status == "ok") or "none"
        return (
            f"run {self.plan.run.run_id}: {len(self.failed)} of {len(self.cities)} cities failed: {failed}; "
            f"landed: {landed}"
        )
