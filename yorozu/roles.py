"""Process roles: api, worker, dispatcher, scheduler, and `serve` that runs them all.

In production each role is its own process (scaled separately, the scheduler once with a
standby); the embedded default runs the background roles as tasks in the API's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class BackgroundTasks:
    """Background roles as tasks that are cancelled together on shutdown.

    A role that crashes is logged loudly rather than dying silently, since an embedded
    deployment has no supervisor to notice.
    """

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._report)
        self._tasks.append(task)

    @staticmethod
    def _report(task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("background role stopped", extra={"role": task.get_name()}, exc_info=error)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()


async def worker_role(container: Any) -> None:
    """The inbox worker, with the composition root's handler (serve's embedded role)."""
    from yorozu.handlers import build_handler
    from yorozu.worker import run_worker

    await run_worker(container, build_handler(container))


async def dispatcher_role(container: Any) -> None:
    """The outbox dispatcher (serve's embedded role)."""
    from yorozu.dispatcher import run_dispatcher

    await run_dispatcher(container)


def scheduler_options(settings: Any) -> dict[str, Any]:
    """What the scheduler takes from settings: job parameters and the Redis lock."""
    from scheduler.jobs import JobConfig

    return {
        "config": JobConfig(
            escalation_hours=settings.escalation_hours,
            escalation_hq_extra_hours=settings.escalation_hq_extra_hours,
            retention_days=settings.retention_days,
            console_url=str(settings.console_base_url) if settings.console_base_url else None,
        ),
        "redis_url": settings.redis_url,
    }


async def scheduler_role(container: Any) -> None:
    """The periodic jobs (serve's embedded role; production runs one with a standby)."""
    from scheduler.runner import run_scheduler

    await run_scheduler(
        container.engine,
        container.session_factory,
        container.clock,
        **scheduler_options(container.settings),
    )


EMBEDDED_ROLES: tuple[Any, ...] = (worker_role, dispatcher_role, scheduler_role)
