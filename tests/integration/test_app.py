"""The service starts on a fresh database, migrates and seeds it, and reports its health."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

import core.db.models as m
from yorozu.app import create_app
from yorozu.bootstrap import bootstrap
from yorozu.settings import load_settings


async def _get(app: object, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get(path)


async def test_fresh_sqlite_file_is_created_migrated_and_seeded(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/fresh/var/y.db", redis_url=None)
    app = create_app(settings, prepare=True)
    async with app.router.lifespan_context(app):
        response = await _get(app, "/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == {"ok": True, "backend": "sqlite"}
    assert response.json()["redis"] == {"ok": True, "configured": False}
    assert response.json()["slack"] == {"disconnected": []}
    assert response.json()["inbox"] == {"oldest_pending_seconds": 0.0, "degraded": False}
    container = await bootstrap(settings)
    async with container.session_factory() as session:
        hubs = await session.scalar(select(func.count()).select_from(m.Hub))
    await container.aclose()
    assert hubs == 48


async def test_health_says_degraded_when_the_worker_falls_behind(tmp_path: Path) -> None:
    """No worker runs here: a stored event waits, and once it has waited longer than the
    setting, /healthz says degraded (still 200) and /metrics shows the backlog's age."""
    from datetime import UTC, datetime, timedelta

    from core.clock import ManualClock
    from core.domain.enums import Platform
    from core.inbox import NewInboxEvent
    from core.inbox.store import add_events

    clock = ManualClock(datetime(2026, 6, 1, 1, 0, tzinfo=UTC))
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/y.db",
        redis_url=None,
        inbox_backlog_degraded_seconds=60,
    )
    app = create_app(settings, prepare=True, clock=clock)
    async with app.router.lifespan_context(app):
        container = app.state.container
        async with container.session_factory() as session:
            await add_events(
                session,
                [
                    NewInboxEvent(
                        platform=Platform.LINE,
                        channel_id="default",
                        event_id="01BACKLOG",
                        ordering_key="line:default:U1",
                        kind="line.message",
                        payload={},
                    )
                ],
                now=clock.now(),
            )
            await session.commit()
        fresh = (await _get(app, "/healthz")).json()
        clock.advance(timedelta(seconds=90))
        late = await _get(app, "/healthz")
        metrics = (await _get(app, "/metrics")).text
    assert fresh["status"] == "ok"
    assert fresh["inbox"] == {"oldest_pending_seconds": 0.0, "degraded": False}
    assert late.status_code == 200
    assert late.json()["status"] == "degraded"
    assert late.json()["inbox"] == {"oldest_pending_seconds": 90.0, "degraded": True}
    assert "yorozu_inbox_pending 1.0" in metrics
    assert "yorozu_inbox_oldest_pending_seconds 90.0" in metrics


async def test_health_reports_redis_when_configured(tmp_path: Path, redis_url: str) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/y.db", redis_url=redis_url)
    app = create_app(settings, prepare=True)
    async with app.router.lifespan_context(app):
        response = await _get(app, "/healthz")
    assert response.status_code == 200
    assert response.json()["redis"] == {"ok": True, "configured": True}


async def test_health_is_503_when_redis_is_down(tmp_path: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path}/y.db", redis_url="redis://127.0.0.1:1/0"
    )
    app = create_app(settings, prepare=True)
    async with app.router.lifespan_context(app):
        response = await _get(app, "/healthz")
    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_fresh_postgres_schema_is_migrated_on_start(database_url: str) -> None:
    # The shared fixture hands an already migrated schema; `prepare` must be a no-op on it.
    settings = load_settings(database_url=database_url, redis_url=None)
    assert settings.database_backend == "postgresql"
