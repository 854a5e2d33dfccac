"""core.db.planner: the inbox claim's plan settings hold for the claim and nothing after it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db import planner
from core.domain.enums import Platform
from core.inbox import pg_claim
from core.inbox.store import NewInboxEvent, add_events


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


def _events(people: int, each: int, *, first: int = 0) -> list[NewInboxEvent]:
    return [
        NewInboxEvent(
            platform=Platform.LINE,
            channel_id="default",
            event_id=f"e{person}-{n}",
            ordering_key=f"line:default:U{person:04d}",
            kind="message",
            payload={},
        )
        for n in range(first, first + each)
        for person in range(people)
    ]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_the_claim_reads_the_pending_index_in_order_whatever_the_statistics_say(
    session_factory: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    """Statistics taken on a quiet inbox say nothing is pending; then a burst arrives. The
    claim's one planner choice left (core/inbox/pg_claim.py), the window of pending ids, must
    still walk the pending-id index and stop at its limit, not sort or scan every row."""
    async with session_factory() as session:
        async with session.begin():
            await add_events(session, _events(50, 2), now=clock.now())
            await session.execute(text("UPDATE inbox_events SET status = 'done'"))
        await session.commit()
        await session.execute(text("ANALYZE inbox_events"))
        await session.commit()
        async with session.begin():
            await add_events(session, _events(300, 10, first=2), now=clock.now())
        async with session.begin():
            saved = await planner.index_order_only(session)
            plan = "\n".join(
                (
                    await session.execute(
                        text(f"EXPLAIN {_WINDOW_SQL}"),
                        {"now": clock.now(), "after": 0, "window": pg_claim.WINDOW},
                    )
                ).scalars()
            )
            await planner.restore(session, saved)
            heads = await pg_claim.claim_heads(session, clock.now(), 4)
    assert plan.splitlines()[0].startswith("Limit"), plan
    assert "Index Scan using ix_inbox_events_pending_id" in plan, plan
    assert "Sort" not in plan, plan
    assert "Seq Scan" not in plan, plan
    assert [event.event_id for event in heads] == ["e0-2", "e1-2", "e2-2", "e3-2"]


_WINDOW_SQL = str(pg_claim._PENDING_WINDOW)
