"""core.db.planner: the inbox claim's plan settings hold for the claim and nothing after it."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db import planner


async def _settings(session: AsyncSession) -> tuple[str, str]:
    row = (
        await session.execute(
            text("SELECT current_setting('enable_sort'), current_setting('enable_bitmapscan')")
        )
    ).one()
    return str(row[0]), str(row[1])


async def test_settings_hold_for_the_claim_and_come_back(
    session_factory: async_sessionmaker[AsyncSession], backend: str
) -> None:
    async with session_factory() as session, session.begin():
        saved = await planner.index_order_only(session)
        if backend == "sqlite":
            assert saved is None  # SQLite is told its index by name instead
            return
        assert saved == {"enable_sort": "on", "enable_bitmapscan": "on"}
        assert await _settings(session) == ("off", "off")
        await planner.restore(session, saved)
        assert await _settings(session) == ("on", "on")
        await planner.index_order_only(session)
    # Local to the transaction it was set in: the connection's next one plans as usual.
    async with session_factory() as session, session.begin():
        assert await _settings(session) == ("on", "on")
