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
    container = await bootstrap(settings)
    async with container.session_factory() as session:
        hubs = await session.scalar(select(func.count()).select_from(m.Hub))
    await container.aclose()
    assert hubs == 48


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
