"""The Glue job and the ingest function agree on what a landing object holds."""

from __future__ import annotations

import weather_etl
from lakepipe.domain.weather.open_meteo import HOURLY_VARIABLES


def test_the_job_reads_exactly_the_hourly_variables_the_ingest_function_requests() -> None:
    assert weather_etl.HOURLY_VARIABLES == HOURLY_VARIABLES
