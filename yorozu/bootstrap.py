"""One place that chooses the concrete adapters (STYLE.md: cosmicpython's bootstrap).

The FastAPI lifespan, every CLI role and the tests call `bootstrap()`; nothing connects at
import time. Tests pass their own clock and settings instead of patching anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import Clock, SystemClock
from core.db.migrate import upgrade
from core.db.session import create_engine, create_session_factory, unit_of_work
from yorozu.metrics import Metrics
from yorozu.settings import Settings


@dataclass
class Container:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Any | None = None  # redis.asyncio.Redis when REDIS_URL is set
    metrics: Metrics = field(default_factory=Metrics)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Close a client built from this container when the container closes."""
        self.closers.append(closer)

    async def aclose(self) -> None:
        for closer in reversed(self.closers):
            await closer()
        self.closers.clear()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


async def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    search_path: str | None = None,
    inline_sqlite: bool = False,
) -> Container:
    sqlite_path = settings.sqlite_path()
    if sqlite_path is not None:
        sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        settings.database_url, search_path=search_path, inline_sqlite=inline_sqlite
    )
    redis = None
    if settings.redis_url is not None:
        import redis.asyncio as aioredis

        redis = aioredis.from_url(settings.redis_url, decode_responses=False)
    return Container(
        settings=settings,
        clock=clock or SystemClock(),
        engine=engine,
        session_factory=create_session_factory(engine),
        redis=redis,
    )


async def prepare_database(container: Container, *, demo: bool = False) -> None:
    """Migrate and seed: what `serve` does on start so a fresh database just works."""
    from yorozu.seed import seed

    await upgrade(container.engine)
    async with unit_of_work(container.session_factory) as session:
        await seed(session, demo=demo, clock=container.clock)


async def health(container: Container) -> tuple[bool, dict[str, Any]]:
    """The state of each real part, for /healthz and for operators."""
    report: dict[str, Any] = {}
    healthy = True
    try:
        async with container.engine.connect() as conn:
            await conn.execute(text("select 1"))
        report["database"] = {"ok": True, "backend": container.settings.database_backend}
    except Exception as exc:
        healthy = False
        report["database"] = {
            "ok": False,
            "backend": container.settings.database_backend,
            "error": type(exc).__name__,
        }
    if container.redis is None:
        report["redis"] = {"ok": True, "configured": False}
    else:
        try:
            await container.redis.ping()
            report["redis"] = {"ok": True, "configured": True}
        except Exception as exc:
            healthy = False
            report["redis"] = {"ok": False, "configured": True, "error": type(exc).__name__}
    if report["database"]["ok"]:
        # The worker behind: still serving (the webhook stores and acknowledges), so not a
        # reason to leave the load balancer, but a reason for an operator to look.
        from yorozu.arrivals import journal_backlog
        from yorozu.gauges import inbox_backlog_age

        try:
            journal = await journal_backlog(container)
            async with container.session_factory() as session:
                age = await inbox_backlog_age(session, container.clock.now(), journal)
            limit = container.settings.inbox_backlog_degraded_seconds
            report["inbox"] = {"oldest_pending_seconds": round(age, 1), "degraded": age > limit}
        except Exception as exc:
            report["inbox"] = {"error": type(exc).__name__}
        # Hubs whose Slack workspace uninstalled the app or revoked its tokens: their messages
        # are held. A fact for HQ to act on, not a reason to take the service out of rotation.
        from core.workspaces import disconnected_hub_codes

        try:
            async with container.session_factory() as session:
                report["slack"] = {"disconnected": await disconnected_hub_codes(session)}
        except Exception as exc:
            report["slack"] = {"error": type(exc).__name__}
    return healthy, report
