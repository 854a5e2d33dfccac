"""`yorozu background`: the worker, dispatcher and scheduler in one process (serve's child).

Not for operators to start by hand: `yorozu serve` starts it beside the API and watches it
(yorozu/background.py). Production runs each role as its own process instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Annotated

import typer

BACKGROUND_NICENESS = 10
"""Where SCHED_IDLE is missing (not Linux): the niceness the child takes instead."""


def yield_cpu_to_the_api() -> str:
    """Give this process (and every thread it starts later) the lowest CPU priority there is.

    Acknowledgements first (issue 14): when the API and this process want the same core, the
    kernel gives it to the API; the backlog waits, a webhook that waits is redelivered. Nice
    10 was not low enough: measured under an open-loop load at half of serve's peak while this
    child drained a backlog, webhook p99 was 26-33 ms with nice 10, 16-27 ms with nice 19 and
    10-16 ms with SCHED_IDLE (7-10 ms with the child stopped). SCHED_IDLE is not starvation:
    the child keeps a small share of a busy core (weight 3 against 1024), and all of an idle
    one, which on two cores is nearly always there, since the API is one Python thread.
    Linux sets policy per thread, and threads inherit it: call this before any thread starts.
    Returns how the priority was lowered (for the log line), or "unchanged".
    """
    if hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return "sched_idle"
        except OSError:
            pass
    try:
        os.nice(BACKGROUND_NICENESS)
        return f"nice {BACKGROUND_NICENESS}"
    except OSError:
        return "unchanged"


def background_command(
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Serve this process's counters at 127.0.0.1:PORT/metrics.", min=1),
    ] = None,
) -> None:
    """Run the background roles of `serve` (started by `yorozu serve`, not by hand)."""
    from yorozu.background import EMBEDDED_IDLE_WAIT
    from yorozu.bootstrap import bootstrap
    from yorozu.cli import _settings
    from yorozu.dispatcher import run_dispatcher
    from yorozu.handlers import build_handler
    from yorozu.heap import freeze_startup_heap
    from yorozu.heartbeat import keep_beating
    from yorozu.logs import configure_logging
    from yorozu.roles import scheduler_options
    from yorozu.worker import run_worker

    priority = yield_cpu_to_the_api()
    settings = _settings()
    configure_logging(settings)
    logging.getLogger(__name__).info("background roles yield the CPU", extra={"priority": priority})

    async def main() -> None:
        from scheduler.runner import run_scheduler
        from yorozu.arrivals import child_mover

        # This loop serves no request: SQLite runs in its thread (core/db/inline_sqlite.py).
        container = await bootstrap(settings, inline_sqlite=True)
        # serve on SQLite: its webhooks commit to the arrivals journal; the worker moves them.
        mover = child_mover(container)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        stop_metrics = None
        if metrics_port:
            from yorozu.metrics import serve_metrics

            stop_metrics = serve_metrics(container.metrics, metrics_port, host="127.0.0.1")
        # Without Redis nothing wakes this worker from the API's process: it looks often.
        idle_wait = 0.5 if container.redis is not None else EMBEDDED_IDLE_WAIT
        roles = [
            asyncio.create_task(
                run_worker(
                    container,
                    build_handler(container),
                    stop=stop,
                    idle_wait=idle_wait,
                    mover=mover,
                ),
                name="worker",
            ),
            asyncio.create_task(run_dispatcher(container, stop=stop), name="dispatcher"),
            asyncio.create_task(
                run_scheduler(
                    container.engine,
                    container.session_factory,
                    container.clock,
                    stop=stop,
                    **scheduler_options(settings),
                ),
                name="scheduler",
            ),
            # As `yorozu scheduler` beats: the worker and the dispatcher beat from their loops.
            asyncio.create_task(keep_beating(container, "scheduler", stop), name="heartbeat"),
        ]
        freeze_startup_heap()
        try:
            done, _pending = await asyncio.wait(roles, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            stop.set()
            for task in roles:
                task.cancel()
            await asyncio.gather(*roles, return_exceptions=True)
            if stop_metrics is not None:
                stop_metrics()
            if mover is not None:
                mover.close()
            await container.aclose()

    asyncio.run(main())
