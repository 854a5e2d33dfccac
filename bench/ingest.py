"""Webhook ingest: signed LINE events per second at /webhooks/line, against a bare ASGI app.

Both run under the same uvicorn settings in their own process; wrk drives the peak rate,
then an open-loop client measures acknowledgement latency at half the service's peak.
Each request carries one event with its own webhookEventId, as LINE sends them.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from dataclasses import dataclass

from bench.common import REDIS, postgres_database, server
from bench.load import open_loop, wrk_peak
from integrations.standins.signing import sign_line_body

SECRET = "bench-secret"
REQUESTS = 120_000
USERS = 2_000
PEAK_SECONDS = 8
HALF_SECONDS = 6
CONNECTIONS = 128


def signed_requests(count: int) -> list[tuple[str, bytes]]:
    stamp = int(time.time() * 1000)
    requests = []
    for index in range(count):
        event = {
            "type": "message",
            "mode": "active",
            "timestamp": stamp + index,
            "source": {"type": "user", "userId": f"U{index % USERS:032x}"},
            "webhookEventId": uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": False},
            "replyToken": uuid.uuid4().hex,
            "message": {"id": str(index), "type": "text", "text": "こんにちは", "quoteToken": "q"},
        }
        body = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False)
        raw = body.encode()
        requests.append((sign_line_body(SECRET, raw), raw))
    return requests


@dataclass
class Result:
    name: str
    rate: float
    p50: float
    p99: float
    half_rate: float = 0.0
    half_p50: float = 0.0
    half_p99: float = 0.0


def measure(name: str, url: str, requests: list[tuple[str, bytes]], *, half: bool) -> Result:
    wrk_peak(url, requests[:2000], seconds=2, connections=CONNECTIONS)  # warm up
    fresh = requests[2000:]
    peak = wrk_peak(url, fresh, seconds=PEAK_SECONDS, connections=CONNECTIONS)
    result = Result(name, peak.rate, peak.p50_ms, peak.p99_ms)
    if half:
        rate = peak.rate / 2
        used = int(peak.rate * PEAK_SECONDS) + 1000
        p50, p99 = open_loop(url, fresh[used:], rate=rate, seconds=HALF_SECONDS)
        result.half_rate, result.half_p50, result.half_p99 = rate, p50, p99
    return result


def run() -> list[Result]:
    requests = signed_requests(REQUESTS)
    results = []
    with server("bare") as url:
        results.append(measure("bare ASGI endpoint", url + "/webhooks/line", requests, half=False))
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/bench.db"
        with server("app-nostore", database) as url:
            results.append(
                measure("app, no inbox write*", url + "/webhooks/line", requests, half=False)
            )
    with tempfile.TemporaryDirectory() as folder:
        database = f"sqlite:///{folder}/bench.db"
        with server("app", database) as url:
            results.append(
                measure("embedded (SQLite)", url + "/webhooks/line", requests, half=True)
            )
    with postgres_database() as database, server("app", database, REDIS) as url:
        results.append(measure("PostgreSQL + Redis", url + "/webhooks/line", requests, half=True))
    return results


def report(results: list[Result]) -> None:
    base = results[0].rate
    print("webhook ingest (signed LINE events per second, 1 uvicorn process, wrk -t1 -c128)")
    print(
        f"  {'setup':<22}{'events/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'  at half peak: rate':>22}{'p50 ms':>9}{'p99 ms':>9}"
    )
    for r in results:
        half = f"{r.half_rate:>22.0f}{r.half_p50:>9.2f}{r.half_p99:>9.2f}" if r.half_rate else ""
        print(f"  {r.name:<22}{r.rate:>10.0f}{r.rate / base:>8.2f}{r.p50:>9.2f}{r.p99:>9.2f}{half}")
    print("  targets: PostgreSQL + Redis ratio >= 0.5 (issue 14); p99 at half peak <= 25 ms")
    print("  * diagnostic only: the same app with the durable write replaced by a no-op")


if __name__ == "__main__":
    report(run())
