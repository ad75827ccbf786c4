"""`lakepipe demo` end to end, offline: the numbers it shows are the ones the fixtures imply.

Given the recorded Open-Meteo response and the seeded sample CSVs, when the demo runs the whole local pipeline,
then every stage reports exactly what the inputs dictate (rows, rejects, partitions, daily sums).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from lakepipe_cli.demo import DemoResult, run_demo
from lakepipe_cli.open_meteo_standin import RECORDED_FORECAST
from lakepipe_cli.xray_local import Trace
from tests.xray_rules import segment_document_problems

pytestmark = [pytest.mark.e2e, pytest.mark.spark, pytest.mark.xdist_group("spark")]


def daily_precipitation_in_recording() -> dict[tuple[str, str], float]:
    """Sum of hourly precipitation per (city, day), straight from the recorded body."""
    cities = ["Paris", "Marseille", "Nice", "Lyon"]  # the template's default cities, in request order
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for city, location in zip(cities, json.loads(RECORDED_FORECAST.read_bytes()), strict=True):
        for time, amount in zip(location["hourly"]["time"], location["hourly"]["precipitation"], strict=True):
            totals[(city, time[:10])] += amount or 0.0
    return totals


def o_lines(dataset: str, result: DemoResult) -> tuple[int, ...]:
    """The line numbers the generator put bad rows on, for ``dataset``."""
    return next(o.sample.bad_lines for o in result.csv if o.sample.dataset == dataset)


def test_demo_runs_both_pipelines_offline_with_the_numbers_the_inputs_imply(tmp_path: Path) -> None:
    # The stack configured with the first seed's own folder, a prefix with a space (CI's `make demo` runs the
    # template's default, input/, so both are run on every push at the cost of one demo)
    result = run_demo(tmp_path, offline=True, input_prefix="input data/")

    assert result.ok, result.pipeline_error
    assert all(o.sample.key.startswith("input data/") for o in result.csv)
    assert all(o.output_key and o.output_key.startswith(f"database/{o.sample.dataset}/") for o in result.csv)
    assert [(o.sample.dataset, o.rows_in, o.rows_out, o.quarantined_lines) for o in result.csv] == [
        ("customers", 202, 200, o_lines("customers", result)),
        ("ventes", 201, 200, o_lines("ventes", result)),
        ("sensors", 202, 200, o_lines("sensors", result)),
        ("stock", 201, 200, o_lines("stock", result)),
    ]
    assert all(outcome.quarantined_lines for outcome in result.csv), "every sample has bad rows, each quarantined"
    assert result.duplicate_delivery_ignored
    assert result.weather_source == "recorded Open-Meteo response (offline)"
    assert [state for state, _, _ in result.states] == [
        "IngestWeather",
        "TransformWeather",
        "ListViews",
        *[
            f"{state}[{index}]"
            for index in range(3)
            for state in ("StartViewQuery", "GetViewQueryState", "CheckViewQueryState", "ViewPublished")
        ],
        "PublishViews",
        "PrepareValidation",
        "StartValidationQuery",
        "GetValidationQueryState",
        "CheckValidationQueryState",
        "GetValidationResults",
        "CheckValidationResult",
        "RecordValidationPassed",
        "PipelineSucceeded",
    ]
    assert result.views == ["daily_weather_by_city", "precipitation_totals", "temperature_trend"]
    assert result.manifest["window_start"] == "2026-11-20"
    assert result.manifest["window_end"] == "2026-11-23"
    assert result.glue_summary["hours_read"] == 4 * 96
    assert result.glue_summary["hours_rejected"] == 0
    assert result.glue_summary["partitions_written"] == 4 * 4
    assert result.validation["passed"] is True
    assert result.validation["row_count"] == 384
    assert result.validation["duplicate_keys"] == 0
    expected = daily_precipitation_in_recording()
    assert {(row["city"], str(row["date"])): row["precipitation_mm"] for row in result.daily} == pytest.approx(
        {key: round(total, 2) for key, total in expected.items()}
    )
    assert all(row["hours"] == 24 for row in result.daily)
    assert result.chart is not None
    assert result.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "summary.json").read_text())["ok"] is True
    assert list((tmp_path / "lake" / "refined" / "weather_hourly").glob("date=2026-11-21/city=Paris/*.parquet"))
    assert list((tmp_path / "lake" / "quarantine").rglob("*")), "the bad CSV rows are kept under quarantine/"
    # Every invocation was traced: the demo checked each trace's subsegments; the files follow X-Ray's rules
    # (S3's test event on the queue, four uploads, the duplicate delivery, then the weather ingest)
    assert [t.function_name for t in result.traces] == ["CsvToParquetFunction"] * 6 + ["IngestWeatherFunction"]
    assert all(t.ok for t in result.traces), [t.missing for t in result.traces]
    for report in result.traces:
        trace = Trace.read(report.document)
        assert segment_document_problems(trace.root.full_document()) == []
        assert report.waterfall.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
