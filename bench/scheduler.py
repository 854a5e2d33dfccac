"""Scheduler: plan due booking reminders and send them through the dispatcher to LINE.

Each measurement runs in a fresh process (python -m bench.scheduler child N DATABASE LINE_URL)
against a fresh database and a fresh LINE stand-in (its own process): planning writes the
reminders as outbox rows a batch per transaction, as the planners do (never all rows at once);
the real dispatcher then sends them, through the owner-push gate (hub calendar, staleness,
grace, budget), at LINE's cap. The clock is the system clock shifted to a Tuesday 10:00 in
Tokyo, so the quiet hours never interfere with the run, whenever it is run.

Reported: planning and sending time, the send rate and its ratio to the dispatch benchmark's
rate (a 10,000-push baseline run in the same invocation), and peak memory (the process's
maximum resident set) at 10,000 and at 100,000 reminders. Targets: send ratio >= 0.90, peak at
100,000 <= 1.2 x peak at 10,000, no duplicates, no losses.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from bench import dispatch
from bench.common import postgres_database, server
from core.clock import JST, SystemClock
from core.db.migrate import upgrade
from core.db.models import Hub, OutboxMessage
from core.db.session import unit_of_work
from core.domain.enums import HubKind, OutboxStatus, Platform
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox import store
from core.push_budget import PRIORITY_BOOKING_REMINDER
from yorozu.bootstrap import Container, bootstrap
from yorozu.dispatcher import Dispatcher
from yorozu.settings import load_settings

CAP = dispatch.CAP
SIZES = (10_000, 100_000)
PLAN_BATCH = 1_000
SEND_BATCH = 500
CONCURRENCY = 128
MEMORY_RATIO_TARGET = 1.2
RATE_RATIO_TARGET = 0.9
RUN_AT = datetime(2026, 6, 2, 10, 0, tzinfo=JST)
"""A Tuesday morning in Tokyo: a business day, outside quiet hours."""


class ShiftedClock(SystemClock):
    """Real time, moved to RUN_AT: pacing stays real, the calendar sees a business morning."""

    def __init__(self, at: datetime) -> None:
        self.offset = at.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Result:
    name: str
    reminders: int
    plan_seconds: float
    send_seconds: float
    rate: float
    peak_mb: float
    growth_mb: float
    delivered: int
    duplicates: int
    lost: int


def _peak_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reminder(index: int, starts_at: datetime) -> OutgoingMessage:
    return OutgoingMessage(
        texts=(Text("common.verbatim", value=f"reminder {index}"),),
        meta={"stale_after": starts_at.isoformat()},
    )


async def plan(container: Container, hub_id: int, count: int, now: datetime) -> None:
    """Write `count` due reminders, PLAN_BATCH per transaction (two per owner)."""
    sessions = container.session_factory
    owners = max(1, count // 2)
    starts_at = now + timedelta(hours=2)
    for start in range(0, count, PLAN_BATCH):
        async with unit_of_work(sessions) as session:
            for index in range(start, min(count, start + PLAN_BATCH)):
                await store.add_message(
                    session,
                    platform=Platform.LINE,
                    channel_id="default",
                    recipient=f"U{index % owners:032x}",
                    message=reminder(index, starts_at),
                    kind="reminder",
                    idempotency_key=f"reminder:booking:{index}:{index % 2}",
                    now=now,
                    priority=PRIORITY_BOOKING_REMINDER,
                    not_before=now - timedelta(minutes=1),
                    hub_id=hub_id,
                )


async def baseline(database: str, line_url: str) -> dict[str, float | int]:
    """The dispatch benchmark's workload (10,000 plain pushes to 5,000 owners) on this clock.

    bench/dispatch.py runs on the real clock; at night in Japan its pushes would rightly wait
    for 09:00, so the baseline is run here with the same shifted clock as the reminders.
    """
    settings = load_settings(
        database_url=database,
        redis_url=None,
        line_api_base_url=line_url,
        line_rate_per_second=CAP,
        log_level="WARNING",
    )
    container = await bootstrap(settings, clock=ShiftedClock(RUN_AT))
    await upgrade(container.engine)
    now = container.clock.now()
    async with unit_of_work(container.session_factory) as session:
        for index in range(dispatch.MESSAGES):
            await store.add_message(
                session,
                platform=Platform.LINE,
                channel_id="default",
                recipient=f"U{index % dispatch.RECIPIENTS:032x}",
                message=OutgoingMessage(texts=(Text("common.verbatim", value=f"n{index}"),)),
                kind="push",
                idempotency_key=f"bench:{index}",
                now=now,
            )
    started = time.perf_counter()
    await _send_all(container)
    elapsed = time.perf_counter() - started
    await container.aclose()
    async with httpx.AsyncClient() as client:
        stats = (await client.get(line_url + "/__bench/stats")).json()
    return {"rate": int(stats["deliveries"]) / elapsed, "delivered": int(stats["deliveries"])}


async def _send_all(container: Container) -> None:
    dispatcher = Dispatcher(container, batch=SEND_BATCH, concurrency=CONCURRENCY)
    deadline = time.perf_counter() + 900
    try:
        while time.perf_counter() < deadline:
            report = await dispatcher.run_once()
            if report.claimed == 0:
                async with container.session_factory() as session:
                    left = await session.scalar(
                        select(func.count()).where(
                            OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                        )
                    )
                if not left:
                    return
                await asyncio.sleep(0.01)
    finally:
        await dispatcher.aclose()


async def child(count: int, database: str, line_url: str) -> dict[str, float | int]:
    settings = load_settings(
        database_url=database,
        redis_url=None,
        line_api_base_url=line_url,
        line_rate_per_second=CAP,
        log_level="WARNING",
    )
    container = await bootstrap(settings, clock=ShiftedClock(RUN_AT))
    await upgrade(container.engine)
    async with unit_of_work(container.session_factory) as session:
        hub = Hub(
            code="13",
            kind=HubKind.HUB,
            name_ja="東京",
            name_en="Tokyo",
            implementing_org_ja="bench",
        )
        session.add(hub)
        await session.flush()
        hub_id = hub.id
    baseline = _peak_mb()
    started = time.perf_counter()
    await plan(container, hub_id, count, container.clock.now())
    planned = time.perf_counter()
    await _send_all(container)
    sent_at = time.perf_counter()
    async with container.session_factory() as session:
        sent = await session.scalar(
            select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT)
        )
    await container.aclose()
    async with httpx.AsyncClient() as client:
        stats = (await client.get(line_url + "/__bench/stats")).json()
    delivered = int(stats["deliveries"])
    return {
        "plan_seconds": planned - started,
        "send_seconds": sent_at - planned,
        "rate": delivered / (sent_at - planned),
        "peak_mb": _peak_mb(),
        "growth_mb": _peak_mb() - baseline,
        "delivered": delivered,
        "duplicates": int(stats["duplicate_retry_keys"]) + int(stats["duplicate_contents"]),
        "lost": count - int(sent or 0),
    }


def _child(*args: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, "-m", "bench.scheduler", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def _measure(name: str, count: int, database: str, line_url: str) -> Result:
    figures = _child("child", str(count), database, line_url)
    result = Result(name=name, reminders=count, **figures)  # type: ignore[arg-type]
    print(f"  ... {result}", file=sys.stderr, flush=True)
    return result


def _baseline(name: str, database: str, line_url: str) -> tuple[str, float]:
    figures = _child("baseline", database, line_url)
    print(f"  ... dispatch baseline {name}: {figures}", file=sys.stderr, flush=True)
    return name, figures["rate"]


def run() -> tuple[dict[str, float], list[Result]]:
    baselines: dict[str, float] = {}
    results: list[Result] = []
    name = "embedded (SQLite)"
    with tempfile.TemporaryDirectory() as folder:
        with server("line") as line_url:
            baselines[name] = _baseline(name, f"sqlite:///{folder}/d.db", line_url)[1]
        for count in SIZES:
            with server("line") as line_url:
                database = f"sqlite:///{folder}/s{count}.db"
                results.append(_measure(name, count, database, line_url))
    name = "PostgreSQL"
    with postgres_database() as database, server("line") as line_url:
        baselines[name] = _baseline(name, database, line_url)[1]
    for count in SIZES:
        with postgres_database() as database, server("line") as line_url:
            results.append(_measure(name, count, database, line_url))
    return baselines, results


def report(outcome: tuple[dict[str, float], list[Result]]) -> None:
    base, results = outcome
    print(
        f"scheduler (due booking reminders planned {PLAN_BATCH} per transaction, sent through "
        f"the dispatcher to the LINE stand-in, cap {CAP:.0f}/s)"
    )
    print(
        f"  {'setup':<20}{'reminders':>10}{'plan s':>8}{'send s':>8}{'sent/s':>8}"
        f"{'dispatch/s':>11}{'ratio':>7}{'peak MB':>9}{'growth MB':>10}"
        f"{'delivered':>10}{'dups':>6}{'lost':>6}"
    )
    for r in results:
        print(
            f"  {r.name:<20}{r.reminders:>10}{r.plan_seconds:>8.1f}{r.send_seconds:>8.1f}"
            f"{r.rate:>8.0f}{base[r.name]:>11.0f}{r.rate / max(base[r.name], 1e-9):>7.2f}"
            f"{r.peak_mb:>9.1f}{r.growth_mb:>10.1f}{r.delivered:>10}{r.duplicates:>6}{r.lost:>6}"
        )
    for name in base:
        small = next(r for r in results if r.name == name and r.reminders == SIZES[0])
        large = next(r for r in results if r.name == name and r.reminders == SIZES[-1])
        print(
            f"  {name}: peak memory {SIZES[-1]:,} / {SIZES[0]:,} = "
            f"{large.peak_mb / small.peak_mb:.2f} (target <= {MEMORY_RATIO_TARGET})"
        )
    print(f"  targets: send ratio >= {RATE_RATIO_TARGET:.2f}, 0 duplicates, 0 losses")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "child":
        print(json.dumps(asyncio.run(child(int(sys.argv[2]), sys.argv[3], sys.argv[4]))))
    elif len(sys.argv) >= 2 and sys.argv[1] == "baseline":
        print(json.dumps(asyncio.run(baseline(sys.argv[2], sys.argv[3]))))
    else:
        report(run())
