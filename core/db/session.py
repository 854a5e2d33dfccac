"""Engines and the unit of work.

Engines are built by bootstrap, never at import time. SQLite gets the pragmas that make it
a safe embedded default (foreign keys, WAL, a busy timeout so the worker and the API in one
process wait for each other instead of failing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from core.db.inline_sqlite import inline_creator


def create_engine(
    url: str,
    *,
    search_path: str | None = None,
    echo: bool = False,
    inline_sqlite: bool = False,
    pre_ping: bool = True,
    pool_size: int = 10,
) -> AsyncEngine:
    """An async engine for an already normalised URL (see yorozu.settings).

    `search_path` puts every table of a PostgreSQL run into one schema, which is how the test
    suite gives each run its own database without needing CREATE DATABASE rights.
    `inline_sqlite` runs a SQLite file's statements in the caller's thread (core.db.inline_sqlite
    says for which process that is right). PostgreSQL only: `pre_ping=False` saves a round
    trip per checkout, for callers that retry a statement on a connection found dead
    themselves (core/inbox/pg_insert.py); `pool_size` connections are kept, as many again may
    open at busy moments.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": 30}
        if parsed.database in (None, "", ":memory:"):
            kwargs["poolclass"] = NullPool
        elif inline_sqlite:
            kwargs["async_creator"] = inline_creator(parsed.database, timeout=30)
        engine = create_async_engine(url, **kwargs)
        # Inline connections wait for the write lock in asyncio, not in SQLite's busy handler.
        _sqlite_pragmas(engine, busy_timeout_ms=0 if "async_creator" in kwargs else 30000)
        return engine
    connect_args: dict[str, Any] = {}
    if search_path:
        connect_args["server_settings"] = {"search_path": search_path}
    kwargs.update(
        pool_pre_ping=pre_ping,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args=connect_args,
    )
    return create_async_engine(url, **kwargs)


def _sqlite_pragmas(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One transaction: everything inside commits together or not at all.

    The outbox relies on this: a message is written in the same transaction as the change
    that caused it (invariant 4).
    """
    async with factory() as session, session.begin():
        yield session
