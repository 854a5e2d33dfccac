"""Dispatch: outbox messages delivered per second to the LINE stand-in, against the cap.

The stand-in runs in its own process (so it does not share the dispatcher's interpreter);
the dispatcher is the real one, with LINE's per-channel cap set to CAP. Duplicates and
losses are counted at the stand-in: by retry key, by recipient and content, and by rows
the database still holds unsent.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select

from bench.common import postgres_database, server
from core.db.migrate import upgrade
from core.db.models import OutboxMessage
from core.db.session import unit_of_work
from core.domain.enums import OutboxStatus, Platform
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox import store
from yorozu.bootstrap import bootstrap
from yorozu.dispatcher import Dispatcher
from yorozu.settings import load_settings

CAP = 1000.0
MESSAGES = 10_000
RECIPIENTS = 5_000


@dataclass
class Result:
    name: str
    rate: float
    delivered: int
    duplicates: int
    lost: int


async def _run(name: str, database: str, line_url: str) -> Result:
    settings = load_settings(
        database_url=database,
        redis_url=None,
        line_api_base_url=line_url,
        line_rate_per_second=CAP,
        log_level="WARNING",
    )
    # A business morning in Tokyo: pushes are not deferred by quiet hours whenever it runs.
    from bench.scheduler import RUN_AT, ShiftedClock

    container = await bootstrap(settings, clock=ShiftedClock(RUN_AT))
    await upgrade(container.engine)
    now = container.clock.now()
    async with unit_of_work(container.session_factory) as session:
        for index in range(MESSAGES):
            await store.add_message(
                session,
                platform=Platform.LINE,
                channel_id="default",
                recipient=f"U{index % RECIPIENTS:032x}",
                message=OutgoingMessage(texts=(Text("common.verbatim", value=f"n{index}"),)),
                kind="push",
                idempotency_key=f"bench:{uuid.uuid4().hex}",
                now=now,
            )
    dispatcher = Dispatcher(container, batch=500, concurrency=128)
    started = time.perf_counter()
    deadline = started + 120
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
                break
            await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await dispatcher.aclose()
    async with container.session_factory() as session:
        sent = await session.scalar(
            select(func.count()).where(OutboxMessage.status == OutboxStatus.SENT)
        )
    await container.aclose()
    async with httpx.AsyncClient() as client:
        stats = (await client.get(line_url + "/__bench/stats")).json()
    delivered = int(stats["deliveries"])
    duplicates = int(stats["duplicate_retry_keys"]) + int(stats["duplicate_contents"])
    return Result(name, delivered / elapsed, delivered, duplicates, MESSAGES - int(sent or 0))


def run() -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory() as folder, server("line") as line_url:
        results.append(asyncio.run(_run("embedded (SQLite)", f"sqlite:///{folder}/d.db", line_url)))
    with postgres_database() as database, server("line") as line_url:
        results.append(asyncio.run(_run("PostgreSQL", database, line_url)))
    return results


def report(results: list[Result]) -> None:
    print(f"dispatch ({MESSAGES} LINE pushes to {RECIPIENTS} owners, cap {CAP:.0f}/s per channel)")
    print(
        f"  {'setup':<22}{'sent/s':>9}{'ratio to cap':>14}{'delivered':>11}"
        f"{'duplicates':>12}{'lost':>6}"
    )
    for r in results:
        print(
            f"  {r.name:<22}{r.rate:>9.0f}{r.rate / CAP:>14.2f}{r.delivered:>11}"
            f"{r.duplicates:>12}{r.lost:>6}"
        )
    print("  targets: ratio >= 0.90 with 0 duplicates and 0 losses")


if __name__ == "__main__":
    report(run())
