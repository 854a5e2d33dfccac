"""End-to-end fixtures: a database of its own for tests that run the roles as processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from core.db.session import create_engine
from tests.support import POSTGRES_URL
from tests.support import missing as _missing


@pytest.fixture
def kill_database() -> Iterator[str]:
    """A database of its own: the worker and dispatcher processes connect by URL alone."""
    name = f"kill_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        engine = create_engine(POSTGRES_URL)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
        await engine.dispose()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _missing("PostgreSQL at " + POSTGRES_URL, exc)
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
