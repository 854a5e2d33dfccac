"""`yorozu inbox dead|replay` and the `yorozu worker` role.

The commands only translate arguments into calls of `core.inbox`; the async functions they
wrap (`dead_events`, `replay_events`) are what the tests call.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from typing import Annotated

import typer

from core.clock import to_jst
from core.db.session import unit_of_work
from core.inbox import DeadEvent, list_dead, replay
from yorozu.bootstrap import Container, bootstrap
from yorozu.cli_dispatch import MetricsPort
from yorozu.cli_health import DEFAULT_MAX_AGE, Check, MaxAge, role_check
from yorozu.settings import Settings, settings_for_command

inbox_app = typer.Typer(help="The inbox: dead events and their replay.", no_args_is_help=True)


def _settings() -> Settings:
    return settings_for_command()


async def dead_events(container: Container, *, limit: int = 100) -> list[DeadEvent]:
    async with container.session_factory() as session:
        return await list_dead(session, limit=limit)


async def replay_events(container: Container, ids: Sequence[int], *, all_dead: bool) -> int:
    async with unit_of_work(container.session_factory) as session:
        return await replay(session, "all" if all_dead else ids, now=container.clock.now())


def format_dead(events: Sequence[DeadEvent]) -> list[str]:
    """One line per dead event; times in Japan time. No payload, no user id."""
    lines = ["id\tplatform\tkind\tattempts\treceived_at (JST)\tlast_error"]
    for event in events:
        received = to_jst(event.received_at).strftime("%Y-%m-%d %H:%M:%S")
        error = (event.last_error or "").replace("\n", " ")
        lines.append(
            f"{event.id}\t{event.platform}\t{event.kind}\t{event.attempts}\t{received}\t{error}"
        )
    return lines


@inbox_app.command("dead")
def dead(
    limit: Annotated[int, typer.Option(help="Show at most this many.", min=1)] = 100,
) -> None:
    """List dead events (failed too often), oldest first."""
    settings = _settings()

    async def main() -> list[DeadEvent]:
        container = await bootstrap(settings)
        try:
            return await dead_events(container, limit=limit)
        finally:
            await container.aclose()

    events = asyncio.run(main())
    if not events:
        typer.echo("no dead events")
        return
    for line in format_dead(events):
        typer.echo(line)


@inbox_app.command("replay")
def replay_command(
    ids: Annotated[list[int] | None, typer.Argument(help="Ids of dead events.")] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Replay every dead event.")] = False,
) -> None:
    """Make dead events pending again (attempts reset), so the worker handles them."""
    if not ids and not all_dead:
        typer.echo("give the ids of dead events, or --all", err=True)
        raise typer.Exit(code=2)
    settings = _settings()

    async def main() -> int:
        container = await bootstrap(settings)
        try:
            return await replay_events(container, ids or [], all_dead=all_dead)
        finally:
            await container.aclose()

    count = asyncio.run(main())
    typer.echo(f"replayed {count} event(s)")


def worker_command(
    concurrency: Annotated[
        int | None,
        typer.Option(help="Worker loops (PostgreSQL; default 8). SQLite always runs one.", min=1),
    ] = None,
    metrics_port: MetricsPort = None,
    check: Check = False,
    max_age: MaxAge = DEFAULT_MAX_AGE,
) -> None:
    """Handle stored inbox events (production: its own process, scaled separately)."""
    from yorozu.worker import run_worker

    if check:
        role_check("worker", metrics_port, max_age)

    settings = _settings()

    async def main() -> None:
        from yorozu.handlers import build_handler  # the composition root's handler
        from yorozu.heap import freeze_startup_heap

        container = await bootstrap(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        stop_metrics = None
        if metrics_port:
            from yorozu.metrics import serve_metrics

            stop_metrics = serve_metrics(container.metrics, metrics_port)
        handler = build_handler(container)
        freeze_startup_heap()
        try:
            await run_worker(container, handler, concurrency=concurrency, stop=stop)
        finally:
            if stop_metrics is not None:
                stop_metrics()
            await container.aclose()

    asyncio.run(main())
