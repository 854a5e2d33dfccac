"""The worker role: takes stored inbox events and hands them to the handler.

Every loop handles events in batches, many in one transaction (core.inbox.store.handle_batch
explains how order per person and exactly-once effect are kept), so commits are few.
PostgreSQL: `concurrency` loops (default 8), each batch the heads of different people.
SQLite: one loop, whatever is asked: SQLite has one writer at a time, and the embedded
default runs one process; its batches are large transactions rather than many small ones,
and the webhook's commits find the write lock free between them.

Idle loops wait for a wake-up instead of polling fast: with Redis, a BLPOP on
`yorozu:inbox:wake` (the inbox writer pushes tokens there after each commit that stored
something new); without it, an in-process signal from the writer in the same process.
Either way they also look every `idle_wait` seconds, for retries whose backoff has passed
and for wake-ups that were lost: the database is the record, the wake-up only a hint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any

from core.inbox import DEFAULT_POLICY, Handler, RetryPolicy, Wake, handle_batch
from core.inbox.journal import JournalMover
from yorozu.arrivals import count_moved
from yorozu.bootstrap import Container
from yorozu.heartbeat import beat
from yorozu.logs import hash_user_id

log = logging.getLogger(__name__)

WAKE_KEY = "yorozu:inbox:wake"
_WAKE_TOKENS_MAX = 16
"""Tokens pushed per commit: enough to wake every loop of a worker or two."""
_WAKE_LIST_MAX = 64
"""The list is trimmed to this, so it cannot grow while no worker runs."""
_LOCAL_WAKE = "inbox_local_wake"
DEFAULT_CONCURRENCY = 8
_ERROR_PAUSE_MAX = 30.0


class _LocalWake:
    """Wake-ups within one process (the embedded default: API and worker together)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def __call__(self, new_events: int) -> None:
        self.event.set()


def redis_wake(redis: Any) -> Wake:
    """A `Wake` that pushes tokens to `WAKE_KEY` for the workers' BLPOP."""

    async def wake(new_events: int) -> None:
        tokens = min(max(new_events, 1), _WAKE_TOKENS_MAX)
        async with redis.pipeline(transaction=False) as pipe:
            pipe.lpush(WAKE_KEY, *([b"1"] * tokens))
            pipe.ltrim(WAKE_KEY, 0, _WAKE_LIST_MAX - 1)
            await pipe.execute()

    return wake


def inbox_wake(container: Container) -> Wake:
    """The wake-up the inbox writer should call: Redis when configured, else in-process."""
    if container.redis is not None:
        return redis_wake(container.redis)
    return _local_wake(container)


def _local_wake(container: Container) -> _LocalWake:
    wake = container.extras.get(_LOCAL_WAKE)
    if not isinstance(wake, _LocalWake):
        wake = _LocalWake()
        container.extras[_LOCAL_WAKE] = wake
    return wake


def worker_concurrency(container: Container, requested: int | None) -> int:
    if container.engine.dialect.name == "sqlite":
        if requested not in (None, 1):
            log.warning("sqlite runs one worker loop", extra={"requested": requested})
        return 1
    return max(1, requested or container.settings.worker_concurrency or DEFAULT_CONCURRENCY)


async def run_worker(
    container: Container,
    handler: Handler,
    *,
    concurrency: int | None = None,
    stop: asyncio.Event | None = None,
    idle_wait: float = 0.5,
    policy: RetryPolicy = DEFAULT_POLICY,
    mover: JournalMover | None = None,
) -> None:
    """Run the worker loops until `stop` is set (or the task is cancelled).

    `mover`: serve on SQLite, whose webhooks commit to the arrivals journal; before each
    batch the loop moves what arrived into the inbox (core/inbox/journal.py).
    """
    stop = stop or asyncio.Event()
    loops = worker_concurrency(container, concurrency)
    prefix = f"{os.getpid()}"
    log.info("inbox worker started", extra={"loops": loops})
    tasks = [
        asyncio.create_task(
            _loop(container, handler, f"{prefix}-{n}", stop, idle_wait, policy, mover),
            name=f"inbox-worker-{n}",
        )
        for n in range(loops)
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        log.info("inbox worker stopped", extra={"loops": loops})


async def _loop(
    container: Container,
    handler: Handler,
    worker_id: str,
    stop: asyncio.Event,
    idle_wait: float,
    policy: RetryPolicy,
    mover: JournalMover | None = None,
) -> None:
    pause = idle_wait
    observe = observer(container)
    while not stop.is_set():
        beat(container, "worker")
        try:
            arrived = False
            if mover is not None:
                moved = await mover.move(container.session_factory)
                if moved.rows:
                    count_moved(container, moved.rows, moved.new)
                    arrived = True
            busy = arrived or bool(
                await handle_batch(
                    container.session_factory,
                    handler,
                    container.clock.now(),
                    worker_id,
                    policy=policy,
                    hash_key=hash_user_id,
                    observe=observe,
                )
            )
        except Exception as error:  # the database is away: wait, then try again
            log.error(
                "inbox worker could not claim",
                extra={"worker": worker_id, "error_type": type(error).__name__},
            )
            await _wait(stop, pause)
            pause = min(pause * 2, _ERROR_PAUSE_MAX)
            continue
        pause = idle_wait
        if not busy:
            await _idle(container, stop, idle_wait)


def observer(container: Container) -> Any:
    """The worker's share of /metrics: events handled, failed and dead, and handler time."""
    metrics = container.metrics

    def observe(platform: str, outcome: str, seconds: float) -> None:
        if outcome == "handled":
            metrics.events_handled.labels(platform).inc()
            metrics.handler_seconds.labels(platform).observe(seconds)
        elif outcome == "failed":
            metrics.events_failed.labels(platform).inc()
        elif outcome == "dead":
            metrics.events_failed.labels(platform).inc()
            metrics.events_dead.labels(platform).inc()

    return observe


async def _idle(container: Container, stop: asyncio.Event, idle_wait: float) -> None:
    """Wait for a wake-up, `stop`, or `idle_wait` seconds, whichever comes first."""
    if container.redis is not None:
        waking: asyncio.Future[Any] = asyncio.ensure_future(
            container.redis.blpop([WAKE_KEY], timeout=idle_wait)
        )
    else:
        local = _local_wake(container)
        if local.event.is_set():
            local.event.clear()
            return
        waking = asyncio.ensure_future(local.event.wait())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        # The margin lets BLPOP time out by itself rather than be cut off mid-command.
        await asyncio.wait(
            {stopping, waking}, timeout=idle_wait + 1.0, return_when="FIRST_COMPLETED"
        )
    finally:
        stopping.cancel()
        waking.cancel()
    if not waking.done() or waking.cancelled():
        return
    error = waking.exception()
    if error is not None:  # Redis away: fall back to polling
        log.warning("inbox wake-up wait failed", extra={"error_type": type(error).__name__})
        await _wait(stop, idle_wait)
    elif container.redis is None:
        _local_wake(container).event.clear()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
