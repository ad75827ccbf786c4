"""The Glue job's arguments: parsed without awsglue (argparse, same names as getResolvedOptions), then checked."""

from __future__ import annotations

from datetime import date

import pytest

from weather_etl import as_directory, landing_key_prefix, parse_job_arguments

CONTRACT_ARGV = [
    "--run_id",
    "20261122T030000Z",
    "--ingest_date",
    "2026-11-22",
    "--landing_path",
    "s3://lakepipe-dev-data-123456789012-eu-west-3/landing/weather/source=open-meteo/",
    "--refined_path",
    "s3://lakepipe-dev-data-123456789012-eu-west-3/refined/weather_hourly",
    "--rejects_path",
    "s3://lakepipe-dev-data-123456789012-eu-west-3/refined/weather_rejects/",
    "--lookback_days",
    "2",
]


def test_contract_arguments_parse_and_glue_extras_are_ignored() -> None:
    # Given the arguments Glue passes: the job's own, --JOB_NAME and Glue's special parameters
    argv = [*CONTRACT_ARGV, "--JOB_NAME", "lakepipe-dev-weather-etl", "--enable-metrics", "true"]

    # When parsed
    arguments = parse_job_arguments(argv)

    # Then the job's arguments are typed, paths end with a slash, and the window covers lookback + 1 folders
    assert arguments.run_id == "20261122T030000Z"
    assert arguments.ingest_date == date(2026, 11, 22)
    assert arguments.refined_path == "s3://lakepipe-dev-data-123456789012-eu-west-3/refined/weather_hourly/"
    assert arguments.window_dates == [date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 22)]


def test_a_lookback_of_zero_reads_the_run_folder_only() -> None:
    argv = [*CONTRACT_ARGV[:-1], "0"]

    assert parse_job_arguments(argv).window_dates == [date(2026, 11, 22)]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("--run_id", "2026-11-22T03:00:00Z", "is not YYYYMMDDTHHMMSSZ"),
        ("--ingest_date", "22/11/2026", "is not YYYY-MM-DD"),
        ("--lookback_days", "-1", "whole number of days"),
        ("--lookback_days", "two", "whole number of days"),
    ],
)
def test_bad_arguments_are_refused_with_their_name(name: str, value: str, message: str) -> None:
    argv = list(CONTRACT_ARGV)
    argv[argv.index(name) + 1] = value

    with pytest.raises(ValueError, match=message) as caught:
        parse_job_arguments(argv)

    assert name in str(caught.value)


def test_a_missing_argument_stops_the_job() -> None:
    with pytest.raises(SystemExit):
        parse_job_arguments(CONTRACT_ARGV[2:])


@pytest.mark.parametrize(
    ("landing_path", "prefix"),
    [
        ("s3://bucket/landing/weather/source=open-meteo/", "landing/weather/source=open-meteo/"),
        ("s3a://bucket/landing/weather/source=open-meteo", "landing/weather/source=open-meteo/"),
        ("/tmp/lake/landing/weather/source=open-meteo/", "landing/weather/source=open-meteo/"),
        ("file:///home/me/landing/lake/landing/weather/source=open-meteo/", "landing/weather/source=open-meteo/"),
        ("/data/raw/open-meteo/", "data/raw/open-meteo/"),
    ],
)
def test_source_keys_are_bucket_keys_on_s3_and_locally(landing_path: str, prefix: str) -> None:
    assert landing_key_prefix(landing_path) == prefix


def test_paths_become_directories() -> None:
    assert as_directory("s3://b/refined") == "s3://b/refined/"
    assert as_directory("s3://b/refined/") == "s3://b/refined/"
