"""A local stand-in for Open-Meteo's forecast API that answers with a recorded response.

The demo runs offline: IngestWeatherFunction's base URL (the ``ForecastApiUrl`` parameter, which exists so users
can point at a self-hosted Open-Meteo) is pointed here instead. The stand-in answers only the request the
recording was made for — same coordinates, same dates — and otherwise replies as Open-Meteo does to a bad
request, so a demo that silently asked for something else would fail rather than show wrong data.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

REPO_ROOT = Path(__file__).resolve().parents[2]
RECORDED_FORECAST = REPO_ROOT / "tests" / "fixtures" / "open_meteo" / "forecast_4_cities_20261120_20261123.json"
LIVE_FORECAST_HOST = "api.open-meteo.com"


@dataclass(frozen=True)
class RecordedRequest:
    """What the recording answers: its coordinates (in request order) and its first and last day."""

    latitudes: tuple[float, ...]
    longitudes: tuple[float, ...]
    start_date: str
    end_date: str

    @classmethod
    def of_body(cls, body: bytes) -> RecordedRequest:
        locations = json.loads(body)
        locations = locations if isinstance(locations, list) else [locations]
        times: Sequence[str] = locations[0]["hourly"]["time"]
        return cls(
            latitudes=tuple(float(location["latitude"]) for location in locations),
            longitudes=tuple(float(location["longitude"]) for location in locations),
            start_date=times[0][:10],
            end_date=times[-1][:10],
        )

    def mismatch(self, query: Mapping[str, list[str]]) -> str | None:
        """Why ``query`` is not the recorded request, or None when it is (coordinates within 0.1°)."""
        asked_latitudes = [float(value) for value in query.get("latitude", [""])[0].split(",") if value]
        asked_longitudes = [float(value) for value in query.get("longitude", [""])[0].split(",") if value]
        if len(asked_latitudes) != len(self.latitudes) or any(
            abs(asked - recorded) > 0.1
            for asked, recorded in zip(
                [*asked_latitudes, *asked_longitudes], [*self.latitudes, *self.longitudes], strict=True
            )
        ):
            return "the recording holds other locations"
        dates = (query.get("start_date", [""])[0], query.get("end_date", [""])[0])
        if dates != (self.start_date, self.end_date):
            return f"the recording covers {self.start_date}..{self.end_date}, not {dates[0]}..{dates[1]}"
        return None


@contextmanager
def recorded_forecast_api(recording: Path = RECORDED_FORECAST) -> Iterator[str]:
    """Serve ``recording`` on a free loopback port; yields the forecast base URL to configure."""
    body = recording.read_bytes()
    expected = RecordedRequest.of_body(body)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            problem = "unknown endpoint" if url.path != "/v1/forecast" else expected.mismatch(parse_qs(url.query))
            status, payload = (200, body) if problem is None else (400, _error_body(problem))
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the demo reports what matters."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/forecast"
    finally:
        server.shutdown()
        server.server_close()


def _error_body(reason: str) -> bytes:
    return json.dumps({"error": True, "reason": reason}).encode()


def live_api_reachable(timeout_seconds: float) -> bool:
    """Whether a TCP connection to Open-Meteo's forecast host opens within ``timeout_seconds``."""
    try:
        with socket.create_connection((LIVE_FORECAST_HOST, 443), timeout=timeout_seconds):
            return True
    except OSError:
        return False
