"""`yorozu serve` under load, as README starts it: acknowledgements while its worker is busy.

Measures what an owner's burst does to the process people run (issue 14), not the API alone:
`yorozu serve` (the embedded default: SQLite, no Redis; PostgreSQL + Redis; and that with
two more `yorozu worker` processes, as production scales the worker) is started
as a real command with its LINE API pointed at the LINE stand-in, and every event it
acknowledges is handled by its worker and answered through its dispatcher while the load
goes on. Beside it, in the same run, the bare ASGI no-op under the same uvicorn settings.

* peak: wrk (one thread, 128 connections, 8 s) of distinct signed text messages from 500
  owners; the acknowledged rate and its p50/p99 (closed loop: a queue, not a latency goal);
* then an open-loop client at 25, 50, 75 and 100% of that peak, each request timed from the
  moment it was due (no coordinated omission), while the worker still drains the peak;
* handled end to end: events the worker finished per second (yorozu_events_handled_total
  from serve's own /metrics) from the first request until the backlog is gone;
* answered: how the LINE stand-in took the answers, as replies or (once the backlog is older
  than a reply token's minute) as pushes: each event carries a token it issued (`Events`).

python -m bench serve                            # all three
YOROZU_BENCH_SERVE=embedded python -m bench serve  # one of embedded, postgres, workers
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx

from bench.common import REDIS, free_port, postgres_database, server
from bench.load import open_loop, wrk_peak
from integrations.standins.signing import sign_line_body

SECRET = "bench-secret"
OWNERS = 500
PEAK_SECONDS = 8
STEP_SECONDS = 4
STEPS = (0.25, 0.5, 0.75, 1.0)
CONNECTIONS = 128
PEAK_EVENTS = 160_000
"""Distinct events for the peak's wrk run: more than 8 s at the bare no-op's rate here."""
DRAIN_LIMIT = 120.0


def signed_messages(
    count: int, *, seed: str, start: int = 0, tokens: list[str] | None = None
) -> list[tuple[str, bytes]]:
    """Distinct events (each its own webhookEventId) from OWNERS owners: 相談したいです.

    `tokens`: the events' reply tokens, one each, as the LINE stand-in issued them (see
    `Events`); without them the tokens are random, for a server that never replies.
    """
    stamp = int(time.time() * 1000)
    found = []
    for offset in range(count):
        index = start + offset
        event = {
            "type": "message",
            "mode": "active",
            "timestamp": stamp + offset,
            "source": {"type": "user", "userId": owner(seed, index)},
            "webhookEventId": uuid.uuid4().hex.upper()[:26],
            "deliveryContext": {"isRedelivery": False},
            "replyToken": tokens[offset] if tokens else uuid.uuid4().hex,
            "message": {
                "id": str(index),
                "type": "text",
                "text": "相談したいです",
                "quoteToken": "q",
            },
        }
        raw = json.dumps({"destination": "Ubench", "events": [event]}, ensure_ascii=False).encode()
        found.append((sign_line_body(SECRET, raw), raw))
    return found


def owner(seed: str, index: int) -> str:
    return f"U{seed}{index % OWNERS:028x}"


class Events:
    """Fresh signed events for one serve, made just before each phase sends them.

    Each carries a reply token the LINE stand-in issued at that moment, as LINE issues one
    with every event it sends. A reply token lives about a minute, so the answers go as
    replies while the worker keeps up and fall back to pushes (one more request each, and the
    channel's push budget) once the backlog is older than that: the bench sees both. Random
    tokens, as before, made every answer a refused reply followed by a push.
    """

    def __init__(self, seed: str, line_url: str) -> None:
        self.seed = seed
        self.line_url = line_url
        self.made = 0

    def next(self, count: int) -> list[tuple[str, bytes]]:
        users = [owner(self.seed, self.made + offset) for offset in range(count)]
        tokens = httpx.post(
            self.line_url + "/__bench/reply-tokens", json={"users": users}, timeout=120
        ).json()["tokens"]
        found = signed_messages(count, seed=self.seed, start=self.made, tokens=tokens)
        self.made += count
        return found


@contextlib.contextmanager
def serve(
    database_url: str, line_url: str, redis_url: str | None = None, *, workers: int = 0
) -> Iterator[str]:
    """`yorozu serve` as README starts it (here with the bench's secrets and stand-in), and
    `workers` more `yorozu worker` processes beside it (PostgreSQL: how production scales);
    their counters are added to serve's by `_metric` through EXTRA_METRICS."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("LINE_", "SLACK_", "EMULATOR_", "DATABASE_", "REDIS_", "YOROZU_"))
    }
    env.update(
        YOROZU_ENV="development",
        EMULATOR_ENABLED="false",
        DATABASE_URL=database_url,
        LINE_CHANNEL_SECRET=SECRET,
        LINE_API_BASE_URL=line_url,
        LINE_DATA_API_BASE_URL=line_url,
        LOG_LEVEL="WARNING",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen(
            [sys.executable, "-m", "yorozu.cli", "serve", "--port", str(port)],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        extra = []
        for _ in range(workers):
            metrics_port = free_port()
            extra.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "yorozu.cli",
                        "worker",
                        "--metrics-port",
                        str(metrics_port),
                    ],
                    cwd=folder,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            EXTRA_METRICS[base].append(f"http://127.0.0.1:{metrics_port}")
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise SystemExit(f"yorozu serve exited with {process.returncode}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                time.sleep(0.2)
            time.sleep(1.0)  # the child's roles start after the API answers
            yield base
        finally:
            for child in [process, *extra]:
                child.terminate()
            for child in [process, *extra]:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
            EXTRA_METRICS.pop(base, None)


EXTRA_METRICS: defaultdict[str, list[str]] = defaultdict(list)
"""serve's base URL -> the /metrics bases of the workers started beside it."""


def _metric(base: str, name: str) -> float:
    """Summed over serve and the workers beside it (a gauge of the shared database, such as
    the inbox backlog, is read from serve alone)."""
    bases = [base] if name == "yorozu_inbox_pending" else [base, *EXTRA_METRICS[base]]
    total = 0.0
    for url in bases:
        text = httpx.get(url + "/metrics", timeout=10).text
        total += sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and not line.startswith("#")
        )
    return total


@dataclass
class Result:
    name: str
    peak_rate: float
    peak_p50: float
    peak_p99: float
    steps: list[tuple[float, float, float]] = field(default_factory=list)
    """(rate, p50 ms, p99 ms) at each share of the peak."""
    refused: int = 0
    handled_rate: float = 0.0
    handled: int = 0
    drained: bool = True
    replies: int = 0
    """Answers the LINE stand-in took as replies (the reply token still lived) ..."""
    pushes: int = 0
    """... and as pushes (a reply too late for its token, or a message that is a push)."""


def measure(name: str, base: str, line_url: str, seed: str) -> Result:
    url = base + "/webhooks/line"
    events = Events(seed, line_url)
    wrk_peak(url, events.next(1000), seconds=2, connections=CONNECTIONS, allow_refused=True)
    before = httpx.get(line_url + "/__bench/stats", timeout=30).json()
    handled_before = _metric(base, "yorozu_events_handled_total")
    peak_events = events.next(PEAK_EVENTS)
    started = time.monotonic()
    peak = wrk_peak(
        url, peak_events, seconds=PEAK_SECONDS, connections=CONNECTIONS, allow_refused=True
    )
    result = Result(name, peak.rate, peak.p50_ms, peak.p99_ms, refused=peak.refused)
    for share in STEPS:
        rate = peak.rate * share
        batch = events.next(int(rate * STEP_SECONDS) + 10)
        p50, p99 = open_loop(url, batch, rate=rate, seconds=STEP_SECONDS)
        result.steps.append((rate, p50, p99))
    deadline = time.monotonic() + DRAIN_LIMIT
    while _metric(base, "yorozu_inbox_pending") > 0:
        if time.monotonic() > deadline:
            result.drained = False
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    result.handled = int(_metric(base, "yorozu_events_handled_total") - handled_before)
    result.handled_rate = result.handled / elapsed
    after = httpx.get(line_url + "/__bench/stats", timeout=30).json()
    result.replies = after["replies"] - before["replies"]
    result.pushes = after["pushes"] - before["pushes"]
    return result


VARIANTS = ("embedded", "postgres", "workers")
"""YOROZU_BENCH_SERVE picks some (comma-separated): SQLite; PostgreSQL + Redis; and that with
two more `yorozu worker` processes. All three by default."""


def run() -> tuple[float, list[Result]]:
    wanted = [
        name.strip()
        for name in os.environ.get("YOROZU_BENCH_SERVE", ",".join(VARIANTS)).split(",")
        if name.strip()
    ]
    unknown = sorted(set(wanted) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"YOROZU_BENCH_SERVE: unknown {unknown}; choose from {VARIANTS}")
    with server("bare") as url:
        bare = wrk_peak(
            url + "/webhooks/line",
            signed_messages(50_000, seed="a"),
            seconds=PEAK_SECONDS,
            connections=CONNECTIONS,
        ).rate
    results = []
    if "embedded" in wanted:
        with (
            server("line") as line_url,
            tempfile.TemporaryDirectory() as folder,
            serve(f"sqlite:///{folder}/bench.db", line_url) as base,
        ):
            results.append(measure("serve, embedded (SQLite)", base, line_url, "a"))
    for workers, seed, variant in ((0, "b", "postgres"), (2, "c", "workers")):
        if variant not in wanted:
            continue
        with (
            server("line") as line_url,
            postgres_database() as database,
            serve(database, line_url, REDIS, workers=workers) as base,
        ):
            name = "serve, PostgreSQL + Redis"
            if workers:
                name += f", and {workers} more `yorozu worker` processes"
            results.append(measure(name, base, line_url, seed))
    return bare, results


def report(outcome: tuple[float, list[Result]]) -> None:
    bare, results = outcome
    print("yorozu serve under load (signed LINE text messages, wrk -t1 -c128; open loop after)")
    print(f"  bare ASGI no-op, same uvicorn: {bare:,.0f} requests/s")
    for r in results:
        print(f"  {r.name}")
        print(
            f"    peak {r.peak_rate:,.0f} acks/s ({r.peak_rate / bare:.2f} of bare), "
            f"p50 {r.peak_p50:.1f} ms, p99 {r.peak_p99:.1f} ms (closed loop), "
            f"{r.refused} refused"
        )
        for (rate, p50, p99), share in zip(r.steps, STEPS, strict=True):
            print(
                f"    {share:>4.0%} of peak, {rate:>7,.0f}/s: p50 {p50:7.1f} ms  p99 {p99:7.1f} ms"
            )
        drained = "" if r.drained else f" (backlog not drained in {DRAIN_LIMIT:.0f} s)"
        print(f"    handled end to end: {r.handled_rate:,.0f} events/s ({r.handled:,}){drained}")
        print(f"    answered: {r.replies:,} replies, {r.pushes:,} pushes (reply token too old)")
    print("  targets: embedded p99 <= 25 ms at half peak, peak >= 0.3 of bare;")
    print("           handled >= 1,000/s embedded, >= 2,000/s PostgreSQL with 2 workers")


if __name__ == "__main__":
    report(run())
