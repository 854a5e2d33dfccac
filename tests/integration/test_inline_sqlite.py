"""core.db.inline_sqlite: SQLite in the loop's thread, waiting for the write lock in asyncio."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from core.db.migrate import upgrade
from core.db.models import PushUsage
from core.db.session import create_engine, create_session_factory


async def test_two_sessions_of_one_loop_wait_for_each_other_instead_of_deadlocking(
    tmp_path: Path,
) -> None:
    """The worker holds the write lock while it awaits something; the dispatcher, in the same
    thread, wants to write meanwhile. With SQLite's own busy handler that blocked the thread
    (and so the holder) for the whole busy timeout; here the second simply waits its turn."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"
    engine = create_engine(url, inline_sqlite=True)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)
        holding = asyncio.Event()
        order: list[str] = []

        async def holder() -> None:
            async with factory() as session, session.begin():
                session.add(PushUsage(channel_id="first", month="2026-12", pushes=1))
                await session.flush()  # the write lock is taken here
                holding.set()
                await asyncio.sleep(0.2)  # e.g. a LINE profile read inside the transaction
                order.append("first committed")

        async def second() -> None:
            await holding.wait()
            async with factory() as session, session.begin():
                session.add(PushUsage(channel_id="second", month="2026-12", pushes=1))
                await session.flush()
            order.append("second committed")

        # SQLite's own busy handler would block the thread, the holder with it: it is off.
        async with engine.connect() as connection:
            busy = await connection.exec_driver_sql("PRAGMA busy_timeout")
            assert busy.scalar() == 0

        await asyncio.wait_for(asyncio.gather(holder(), second()), timeout=10)
        assert order == ["first committed", "second committed"]
        async with factory() as session:
            assert await session.scalar(select(func.count()).select_from(PushUsage)) == 2
    finally:
        await engine.dispose()
