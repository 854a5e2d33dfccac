"""The scheduler role: APScheduler 3.x, one active instance guarded by a lock.

Two schedulers must never share an APScheduler job store (PLATFORMS.md), so there is no
job store at all: jobs are registered in code with explicit ids and cron triggers in Japan
time, and what they send is decided from database rows with idempotency keys.

Only one instance runs the jobs: with REDIS_URL set, the one holding a Redis lock (SET NX PX,
renewed while it runs; an instance that cannot renew stops its jobs and stands by); else on
PostgreSQL the one holding an advisory lock; the embedded SQLite runs one process anyway.
Even two active ones would send nothing twice (tests run two).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import JST, Clock
from scheduler import jobs
from scheduler.jobs import JobConfig

log = logging.getLogger(__name__)
LOCK_KEY = 0x59_4F_52_4F  # "YORO": one advisory lock id for the whole product
REDIS_LOCK_KEY = "yorozu:scheduler:leader"
REDIS_LOCK_TTL_MS = 30_000
MISFIRE_GRACE_SECONDS = 3600
"""A run missed by up to an hour (a restart) still happens; the jobs catch up from the record."""

Job = Callable[..., Awaitable[int]]


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Job
    trigger: BaseTrigger
    args: tuple[Any, ...] = field(default=())


def _cron(**fields: Any) -> CronTrigger:
    return CronTrigger(timezone=JST, **fields)


def owner_jobs() -> dict[str, Job]:
    """The owner-facing planners (scheduler/owner_jobs.py), when that module exists."""
    try:
        from scheduler.owner_jobs import OWNER_JOBS
    except ImportError:
        return {}
    return dict(OWNER_JOBS)


OWNER_JOB_TRIGGERS: dict[str, dict[str, Any]] = {
    "plan_booking_reminders": {"minute": "*/5"},
    "plan_surveys": {"minute": "1-59/10"},
    "plan_followups": {"minute": "3-59/10"},
    "expire_surveys": {"minute": "7-59/10"},
}


def job_specs(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, config: JobConfig | None = None
) -> list[JobSpec]:
    """Every periodic job with its id and trigger (Japan time)."""
    config = config or JobConfig()
    base = (sessions, clock)
    specs = [
        JobSpec(
            "release_held_pushes", jobs.release_held_pushes, _cron(day=1, hour=0, minute=5), base
        ),
        JobSpec("escalation", jobs.escalate, _cron(minute="*/5"), (*base, config)),
        JobSpec("co_reminders", jobs.co_reminders, _cron(minute="2-59/15"), base),
        JobSpec(
            "co_morning_digest",
            jobs.co_morning_digest,
            _cron(day_of_week="mon-fri", hour=8, minute=30),
            base,
        ),
        JobSpec(
            "cco_weekly_digest",
            jobs.cco_weekly_digest,
            _cron(day_of_week="mon", hour=8, minute=30),
            (*base, config),
        ),
        JobSpec("retention", jobs.retention, _cron(hour=2, minute=0), (*base, config)),
    ]
    for job_id, func in owner_jobs().items():
        trigger = OWNER_JOB_TRIGGERS.get(job_id, {"minute": "*/10"})
        specs.append(JobSpec(job_id, func, _cron(**trigger), base))
    return specs


async def run_job(job_id: str, func: Job, *args: Any) -> int:
    """One run of one job, logged; an exception is logged and the next run tries again."""
    try:
        done = await func(*args)
    except Exception:
        log.exception("scheduler job failed", extra={"job": job_id})
        return 0
    if done:
        log.info("scheduler job done", extra={"job": job_id, "count": done})
    return done


# -- leadership ---------------------------------------------------------------------------


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


@contextlib.asynccontextmanager
async def redis_leadership(
    redis_url: str,
    stop: asyncio.Event,
    *,
    ttl_ms: int = REDIS_LOCK_TTL_MS,
    retry_seconds: float = 5.0,
    key: str = REDIS_LOCK_KEY,
) -> AsyncIterator[asyncio.Event]:
    """Hold a Redis lock while the block runs; yields an event set when the lock is lost.

    redis-py's `Lock` (a token under SET NX PX; renewal and release only while the token is
    ours): waits while another instance holds it (or until `stop`); renewed every third of
    its life; a failed renewal sets the event, and the caller stops its jobs.
    """
    import redis.asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(redis_url)
    lock = client.lock(key, timeout=ttl_ms / 1000, blocking=False, thread_local=False)
    lost = asyncio.Event()
    renewer: asyncio.Task[None] | None = None
    held = False
    try:
        while not stop.is_set():
            try:
                if await lock.acquire():
                    held = True
                    break
            except Exception:
                log.warning("scheduler lock: Redis unreachable; retrying", exc_info=True)
            log.info("another scheduler is active; standing by")
            await _wait(stop, retry_seconds)

        async def renew() -> None:
            while not stop.is_set() and not lost.is_set():
                await _wait(stop, ttl_ms / 3000)
                if stop.is_set():
                    return
                try:
                    await lock.reacquire()
                except Exception:
                    log.warning("scheduler lock lost; standing by", exc_info=True)
                    lost.set()

        if not stop.is_set():
            renewer = asyncio.create_task(renew())
        yield lost
    finally:
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        if held:
            with contextlib.suppress(RedisError, OSError):  # expired or unreachable
                await lock.release()
        await client.aclose()


@contextlib.asynccontextmanager
async def postgres_leadership(
    engine: AsyncEngine, stop: asyncio.Event, *, retry_seconds: float = 5.0
) -> AsyncIterator[asyncio.Event]:
    """Hold the PostgreSQL advisory lock while the block runs (waits while another holds it).

    The lock lives as long as its connection: a dead instance's lock goes with it.
    """
    lost = asyncio.Event()
    async with engine.connect() as conn:
        while not stop.is_set():
            held = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})
            ).scalar()
            await conn.commit()
            if held:
                break
            log.info("another scheduler is active; standing by")
            await _wait(stop, retry_seconds)
        else:
            yield lost
            return
        try:
            yield lost
        finally:
            with contextlib.suppress(Exception):
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                await conn.commit()


@contextlib.asynccontextmanager
async def leadership(
    engine: AsyncEngine,
    stop: asyncio.Event | None = None,
    *,
    redis_url: str | None = None,
    retry_seconds: float = 5.0,
) -> AsyncIterator[asyncio.Event]:
    """The lock that makes one scheduler active: Redis when configured, else PostgreSQL's
    advisory lock, else none (the embedded SQLite runs one process)."""
    stop = stop or asyncio.Event()
    if redis_url:
        async with redis_leadership(redis_url, stop, retry_seconds=retry_seconds) as lost:
            yield lost
    elif engine.dialect.name == "postgresql":
        async with postgres_leadership(engine, stop, retry_seconds=retry_seconds) as lost:
            yield lost
    else:
        yield asyncio.Event()


# -- the role -----------------------------------------------------------------------------


async def run_scheduler(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    stop: asyncio.Event | None = None,
    config: JobConfig | None = None,
    redis_url: str | None = None,
    retry_seconds: float = 5.0,
) -> None:
    """Run the jobs while this instance holds the lock, until `stop` is set."""
    stop = stop or asyncio.Event()
    specs = job_specs(sessions, clock, config)
    while not stop.is_set():
        async with leadership(
            engine, stop, redis_url=redis_url, retry_seconds=retry_seconds
        ) as lost:
            if stop.is_set():
                return
            scheduler = AsyncIOScheduler(timezone=JST)
            for spec in specs:
                scheduler.add_job(
                    run_job,
                    spec.trigger,
                    args=(spec.id, spec.func, *spec.args),
                    id=spec.id,
                    name=spec.id,
                    replace_existing=True,
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=MISFIRE_GRACE_SECONDS,
                )
            scheduler.start()
            log.info("scheduler active", extra={"jobs": [spec.id for spec in specs]})
            try:
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(lost.wait())]
                try:
                    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waiters:
                        waiter.cancel()
            finally:
                scheduler.shutdown(wait=False)
        if not stop.is_set():
            await _wait(stop, retry_seconds)
