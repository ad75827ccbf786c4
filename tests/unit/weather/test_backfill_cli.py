"""`lakepipe backfill --local-root`: the same keys under a directory, and clear usage errors. No AWS involved."""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import responses
from responses import matchers

from lakepipe.domain.weather.open_meteo import DEFAULT_ARCHIVE_API_URL, split_locations
from lakepipe_cli import backfill
from tests.unit.weather.open_meteo_bodies import ARCHIVE_4_CITIES, archive_day, body

PREFIX = "landing/weather/source=open-meteo/ingest_date=2024-11-02/run=20241102T235959Z/"


def run_cli(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="lakepipe")
    backfill.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def test_local_root_receives_the_same_keys_as_the_bucket(
    http: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    query = {"start_date": "2024-11-01", "end_date": "2024-11-02", "latitude": "48.8566,43.2965,43.7102,45.764"}
    http.get(
        DEFAULT_ARCHIVE_API_URL,
        body=body(ARCHIVE_4_CITIES),
        match=[matchers.query_param_matcher(query, strict_match=False)],
    )

    code = run_cli(["backfill", "--start", "2024-11-01", "--end", "2024-11-02", "--local-root", str(tmp_path)])

    assert code == 0
    written = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    elements = [location.raw for location in split_locations(body(ARCHIVE_4_CITIES), 4)]
    assert written == {
        PREFIX + f"city={name}.json": raw
        for name, raw in zip(("Paris", "Marseille", "Nice", "Lyon"), elements, strict=True)
    }
    assert f"landing: {tmp_path}/landing/weather/source=open-meteo/" in capsys.readouterr().out


def test_cities_option_selects_what_is_fetched(http: responses.RequestsMock, tmp_path: Path) -> None:
    paris = split_locations(body(ARCHIVE_4_CITIES), 4)[0].raw
    http.get(
        "http://open-meteo.internal/v1/archive",
        body=paris,
        match=[matchers.query_param_matcher({"latitude": "48.8566", "longitude": "2.3522"}, strict_match=False)],
    )

    code = run_cli(
        [
            "backfill",
            "--start=2024-11-01",
            "--end=2024-11-02",
            "--cities=Paris:48.8566:2.3522",
            "--archive-url=http://open-meteo.internal/v1/archive/",
            f"--local-root={tmp_path}",
        ]
    )

    assert code == 0
    assert [p.name for p in tmp_path.rglob("*.json")] == ["city=Paris.json"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--cities", "Paris:48.8566"], "entry 1 'Paris:48.8566': expected Name:latitude:longitude"),
        (["--end", "2999-01-01"], "is not in the past"),
        (["--start", "2024-12-01"], "is before start"),
        (["--chunk-days", "0"], "chunk_days must be at least 1"),
    ],
)
def test_usage_errors_are_reported_without_fetching(
    http: responses.RequestsMock,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    message: str,
) -> None:
    argv = ["backfill", "--start", "2024-11-01", "--end", "2024-11-02", "--local-root", str(tmp_path), *arguments]

    assert run_cli(argv) == 2

    assert message in capsys.readouterr().err
    assert len(http.calls) == 0
    assert not any(tmp_path.iterdir())


def test_a_destination_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        run_cli(["backfill", "--start", "2024-11-01", "--end", "2024-11-02"])

    assert "one of the arguments --bucket --local-root is required" in capsys.readouterr().err


def test_an_hourly_rate_limit_stops_the_backfill_keeping_what_landed(
    http: responses.RequestsMock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given three one-day chunks: the first lands, the second meets Open-Meteo's hourly limit (its own 429 body)
    http.get(
        DEFAULT_ARCHIVE_API_URL,
        body=archive_day(0),
        match=[matchers.query_param_matcher({"start_date": "2024-11-01"}, strict_match=False)],
    )
    http.get(
        DEFAULT_ARCHIVE_API_URL,
        status=429,
        json={"error": True, "reason": "Hourly API request limit exceeded. Please try again in the next hour."},
        match=[matchers.query_param_matcher({"start_date": "2024-11-02"}, strict_match=False)],
    )
    argv = ["backfill", "--start=2024-11-01", "--end=2024-11-03", "--chunk-days=1", f"--local-root={tmp_path}"]

    # When the backfill runs
    code = run_cli(argv)

    # Then it stops there: the third chunk is not asked for, the first stays landed, and it says how to resume
    assert code == 1
    assert [call.request.params["start_date"] for call in http.calls] == ["2024-11-01", "2024-11-02"]
    assert sorted({p.parent.parent.name for p in tmp_path.rglob("*.json")}) == ["ingest_date=2024-11-01"]
    out = capsys.readouterr().out
    assert "3 chunks: 1 landed, 0 skipped (already landed), 1 failed, 1 not tried" in out
    assert "Open-Meteo hourly rate limit (lifts at " in out
    assert "stopped on an Open-Meteo rate limit: re-run the same command once it lifts" in out
