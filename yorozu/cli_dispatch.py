"""`yorozu dispatcher`: the outbox sender as its own process (production runs one or more).

Registered by the CLI as `app.command("dispatcher")(dispatcher_command)`. SIGTERM and SIGINT
stop it gracefully: the batch in flight is sent and recorded first.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Annotated

import typer

from yorozu.cli_health import DEFAULT_MAX_AGE, Check, MaxAge, role_check
from yorozu.settings import Settings, settings_for_command


def _settings() -> Settings:
    return settings_for_command()


async def _main(settings: Settings, metrics_port: int | None = None) -> None:
    from yorozu.bootstrap import bootstrap
    from yorozu.dispatcher import run_dispatcher
    from yorozu.heap import freeze_startup_heap

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    container = await bootstrap(settings)
    stop_metrics = None
    if metrics_port:
        from yorozu.metrics import serve_metrics

        stop_metrics = serve_metrics(container.metrics, metrics_port)
    freeze_startup_heap()
    try:
        await run_dispatcher(container, stop=stop)
    finally:
        stop.set()
        if stop_metrics is not None:
            stop_metrics()
        await container.aclose()


MetricsPort = Annotated[
    int | None,
    typer.Option(help="Serve this process's counters at :PORT/metrics for Prometheus.", min=1),
]


def dispatcher_command(
    metrics_port: MetricsPort = None, check: Check = False, max_age: MaxAge = DEFAULT_MAX_AGE
) -> None:
    """Send the outbox: deliver due messages through LINE and Slack, with retries."""
    if check:
        role_check("dispatcher", metrics_port, max_age)
    settings = _settings()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(settings, metrics_port))
