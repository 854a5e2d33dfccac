"""`yorozu background`: the worker, dispatcher and scheduler in one process (serve's child).

Not for operators to start by hand: `yorozu serve` starts it beside the API and watches it
(yorozu/background.py). Production runs each role as its own process instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Annotated

import typer

BACKGROUND_NICENESS = 10


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

    settings = _settings()
    configure_logging(settings)
    # Acknowledgements first: when the API and this process want the same CPU, the kernel
    # gives it to the API (issue 14). The backlog waits; a webhook that waits is redelivered.
    with contextlib.suppress(OSError):
        os.nice(BACKGROUND_NICENESS)

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
