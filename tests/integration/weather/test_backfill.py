"""`lakepipe backfill` on moto: archive chunks land in the scheduled layout, and a re-run resumes."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import boto3
import pytest
import responses
from responses import matchers

from lakepipe.domain.weather.open_meteo import DEFAULT_ARCHIVE_API_URL, split_locations
from lakepipe_cli import backfill
from lakepipe_cli.local_aws import LocalStack
from tests.unit.weather.open_meteo_bodies import ARCHIVE_4_CITIES, archive_day, body

pytestmark = pytest.mark.integration

CITY_NAMES = ("Paris", "Marseille", "Nice", "Lyon")


def run_cli(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="lakepipe")
    backfill.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


def keys_for(day: str) -> list[str]:
    run = day.replace("-", "") + "T235959Z"
    prefix = f"landing/weather/source=open-meteo/ingest_date={day}/run={run}/"
    return [prefix + f"city={name}.json" for name in CITY_NAMES]


def landed(bucket: str) -> dict[str, bytes]:
    s3 = boto3.client("s3")
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="landing/weather/").get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listing}


def archive_reply(mock: responses.RequestsMock, day: str, **reply: Any) -> None:
    query = {"start_date": day, "end_date": day, "timezone": "UTC"}
    mock.get(DEFAULT_ARCHIVE_API_URL, match=[matchers.query_param_matcher(query, strict_match=False)], **reply)


def two_daily_chunks_into(bucket: str) -> list[str]:
    """`lakepipe backfill` arguments for 2024-11-01..02, one chunk a day, into ``bucket``."""
    return ["backfill", "--start", "2024-11-01", "--end", "2024-11-02", "--chunk-days", "1", "--bucket", bucket]


def test_daily_chunks_land_in_the_scheduled_layout_then_a_rerun_skips_them(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    archive_reply(open_meteo, "2024-11-01", body=archive_day(0))
    archive_reply(open_meteo, "2024-11-02", body=archive_day(1))
    argv = two_daily_chunks_into(weather_aws.bucket)

    assert run_cli(argv) == 0

    expected = dict(zip(keys_for("2024-11-01"), [loc.raw for loc in split_locations(archive_day(0), 4)], strict=True))
    expected |= dict(zip(keys_for("2024-11-02"), [loc.raw for loc in split_locations(archive_day(1), 4)], strict=True))
    assert landed(weather_aws.bucket) == expected
    head = boto3.client("s3").head_object(Bucket=weather_aws.bucket, Key=keys_for("2024-11-02")[0])
    assert head["Metadata"]["http-status"] == "200"
    assert "start_date=2024-11-02&end_date=2024-11-02" in head["Metadata"]["request-url"]
    output = capsys.readouterr().out
    assert "2 chunks: 2 landed, 0 skipped (already landed), 0 failed" in output
    assert "--ingest_date 2024-11-02 --run_id 20241102T235959Z --lookback_days 1" in output

    assert run_cli(argv) == 0

    assert len(open_meteo.calls) == 2  # nothing fetched the second time
    assert "2 chunks: 0 landed, 2 skipped (already landed), 0 failed" in capsys.readouterr().out


def test_an_interrupted_backfill_resumes_where_it_failed(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = two_daily_chunks_into(weather_aws.bucket)
    archive_reply(open_meteo, "2024-11-01", body=archive_day(0))
    for _ in range(2):  # OPEN_METEO_MAX_ATTEMPTS=2
        archive_reply(open_meteo, "2024-11-02", status=502, body="Bad Gateway")

    assert run_cli(argv) == 1

    assert sorted(landed(weather_aws.bucket)) == sorted(keys_for("2024-11-01"))
    output = capsys.readouterr().out
    assert "1 landed, 0 skipped (already landed), 1 failed" in output
    assert (
        "failed 2024-11-02..2024-11-02: run 20241102T235959Z: all 4 cities failed: fetch failed:"
        " Open-Meteo request failed: still" in output
    )
    assert "re-run the same command" in output
    open_meteo.reset()
    archive_reply(open_meteo, "2024-11-02", body=archive_day(1))

    assert run_cli(argv) == 0

    assert sorted(landed(weather_aws.bucket)) == sorted(keys_for("2024-11-01") + keys_for("2024-11-02"))
    assert [call.request.params["start_date"] for call in open_meteo.calls] == ["2024-11-02"]
    assert "1 landed, 1 skipped (already landed), 0 failed" in capsys.readouterr().out


def test_force_refetches_landed_chunks_into_the_same_keys(
    weather_aws: LocalStack, open_meteo: responses.RequestsMock
) -> None:
    for _ in range(2):
        open_meteo.get(DEFAULT_ARCHIVE_API_URL, body=body(ARCHIVE_4_CITIES))
    argv = ["backfill", "--start", "2024-11-01", "--end", "2024-11-02", "--bucket", weather_aws.bucket]

    assert run_cli(argv) == 0
    assert run_cli([*argv, "--force"]) == 0

    assert sorted(landed(weather_aws.bucket)) == sorted(keys_for("2024-11-02"))  # one month chunk ending 11-02
    versions = boto3.client("s3").list_object_versions(Bucket=weather_aws.bucket, Prefix="landing/weather/")
    assert len(versions["Versions"]) == 8  # each key written twice
