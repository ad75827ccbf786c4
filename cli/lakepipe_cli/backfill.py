"""``lakepipe backfill``: past hourly weather from the Open-Meteo archive into the landing layer, resumable.

    lakepipe backfill --start 2024-01-01 --end 2024-12-31 --bucket lakepipe-dev-data-123456789012-eu-west-3-1c0ffee0
    lakepipe backfill --start 2024-11-01 --end 2024-11-30 --local-root demo-output/lake --cities "Paris:48.8566:2.3522"

One archive request per chunk (a calendar month by default) serves every city. Chunks land under the scheduled
runs' layout with ``ingest_date`` = the chunk's last day and ``run`` = that day at 23:59:59Z (see
:mod:`lakepipe.domain.weather.backfill`). A chunk whose objects already hold all its hours is skipped, so an
interrupted backfill resumes by running the same command again. A chunk refused by an Open-Meteo rate limit stops
the backfill (the API's per-minute limit is waited out first; its hourly and daily ones cannot be): run the same
command again once the limit lifts. S3 is reached with the default credential chain, or the endpoint in
``AWS_ENDPOINT_URL`` (a local moto server); ``--local-root`` writes the same keys to a directory.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs in the pinned dev set

from lakepipe.adapters.aws import s3_client
from lakepipe.adapters.landing_store import LocalLandingStore, S3LandingStore
from lakepipe.adapters.open_meteo import OpenMeteoClient
from lakepipe.domain.weather.backfill import ChunkResult, backfill_chunk, plan_backfill
from lakepipe.domain.weather.cities import CitiesConfigError, City, parse_cities
from lakepipe.domain.weather.ingest import LandingStore
from lakepipe.domain.weather.landing import LANDING_ROOT
from lakepipe.settings import SettingsError, load_settings
from lakepipe.settings.ingest_weather import OpenMeteoSettings

USAGE_ERROR = 2


def register(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subcommands.add_parser(
        "backfill",
        help="load past weather from the Open-Meteo archive into the landing layer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first day, YYYY-MM-DD (UTC)")
    parser.add_argument("--end", type=date.fromisoformat, required=True, help="last day, YYYY-MM-DD (UTC), included")
    parser.add_argument(
        "--cities",
        help="Name:latitude:longitude;... (default: WEATHER_CITIES, else Paris, Marseille, Nice, Lyon)",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--bucket", help="data lake bucket to write landing/weather/ into")
    target.add_argument("--local-root", type=Path, help="write the same keys under this directory instead of S3")
    parser.add_argument("--archive-url", help="archive API base URL (default: OPEN_METEO_ARCHIVE_URL or Open-Meteo's)")
    parser.add_argument("--chunk-days", type=int, help="days per request (default: one calendar month)")
    parser.add_argument("--force", action="store_true", help="re-fetch chunks that are already landed")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(OpenMeteoSettings)
        cities = parse_cities(args.cities) if args.cities else settings.cities
        plans = plan_backfill(
            start=args.start,
            end=args.end,
            cities=cities,
            archive_api_url=(args.archive_url or settings.archive_api_url).rstrip("/"),
            today=datetime.now(UTC).date(),
            chunk_days=args.chunk_days,
        )
    except (SettingsError, CitiesConfigError, ValueError) as error:
        print(f"lakepipe backfill: {error}", file=sys.stderr)
        return USAGE_ERROR
    store: LandingStore
    if args.local_root is not None:
        store, destination = LocalLandingStore(args.local_root), f"{args.local_root}/{LANDING_ROOT}"
    else:
        store, destination = S3LandingStore(args.bucket, s3_client()), f"s3://{args.bucket}/{LANDING_ROOT}"
    api = OpenMeteoClient.from_settings(settings)
    results: list[ChunkResult] = []
    with tqdm(plans, desc="backfill", unit="chunk", file=sys.stderr) as progress:
        for plan in progress:
            progress.set_postfix_str(f"{plan.window_start}..{plan.window_end}")
            result = backfill_chunk(plan, cities=cities, api=api, store=store, force=args.force)
            results.append(result)
            if result.rate_limited:
                break
    _report(results, cities, destination, planned=len(plans))
    return 1 if any(result.status == "failed" for result in results) else 0


def _report(results: list[ChunkResult], cities: tuple[City, ...], destination: str, *, planned: int) -> None:
    counts = {status: sum(result.status == status for result in results) for status in ("landed", "skipped", "failed")}
    first, last = results[0].plan, results[-1].plan
    not_tried = f", {planned - len(results)} not tried" if planned > len(results) else ""
    print(
        f"backfill {first.window_start}..{last.window_end}, {len(cities)} cities, {planned} chunks: "
        f"{counts['landed']} landed, {counts['skipped']} skipped (already landed), {counts['failed']} failed"
        f"{not_tried}"
    )
    print(f"landing: {destination}")
    for result in results:
        if result.status == "failed" and result.error is not None:
            print(f"  failed {result.plan.window_start}..{result.plan.window_end}: {result.error}")
    if results[-1].rate_limited:
        print("stopped on an Open-Meteo rate limit: re-run the same command once it lifts; landed chunks are skipped")
    elif counts["failed"]:
        print("re-run the same command to retry the failed chunks; landed chunks are skipped")
    lookback = (last.run.ingest_date - first.run.ingest_date).days
    print(
        f"Glue job arguments covering every chunk: --ingest_date {last.run.ingest_date} --run_id {last.run.run_id}"
        f" --lookback_days {lookback}"
    )
