"""The scheduler role: APScheduler 3.x, one active instance guarded by a lock.

Two schedulers must never share an APScheduler job store (PLATFORMS.md), so there is no
job store at all: jobs are registered in code with explicit ids, and what they send is
decided from database rows with idempotency keys. The lock (a PostgreSQL advisory lock, or
nothing on the embedded SQLite where one process runs everything) keeps a standby idle
until the active one dies; even two active ones would send nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import JST, Clock
from scheduler import jobs

log = logging.getLogger(__name__)
LOCK_KEY = 0x59_4F_52_4F  # "YORO": one advisory lock id for the whole product


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Any
    trigger: Any


def job_specs(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> list[JobSpec]:
    return [
        JobSpec(
            "release_held_pushes",
            lambda: jobs.release_held_pushes(sessions, clock),
            CronTrigger(day=1, hour=0, minute=5, timezone=JST),
        ),
    ]


@contextlib.asynccontextmanager
async def leadership(engine: AsyncEngine, *, retry_seconds: float = 5.0) -> AsyncIterator[None]:
    """Hold the scheduler lock for as long as the block runs (waits while another holds it)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as conn:
        while not (
            await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})
        ).scalar():
            log.info("another scheduler is active; standing by")
            await asyncio.sleep(retry_seconds)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})


async def run_scheduler(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    stop: asyncio.Event | None = None,
) -> None:
    stop = stop or asyncio.Event()
    async with leadership(engine):
        scheduler = AsyncIOScheduler(timezone=JST)
        specs = job_specs(sessions, clock)
        for spec in specs:
            scheduler.add_job(
                spec.func,
                spec.trigger,
                id=spec.id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )
        scheduler.start()
        log.info(
            "scheduler active", extra={"jobs": [spec.id for spec in job_specs(sessions, clock)]}
        )
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
