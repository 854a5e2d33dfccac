"""The dispatcher's claim (core.outbox.store.claim) on both backends: what it takes, in which
order, and that a deep queue behind a few recipients does not change what it takes.

The claim walks partial indexes one priority at a time (migration 0016); these tests pin the
ranking that walk must keep: most urgent priority first, then the oldest due row, only each
recipient's head, lapsed leases ranked with the rest, future rows left alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db.models.outbox import OutboxMessage
from core.db.session import unit_of_work
from core.domain.enums import OutboxStatus, Platform
from core.outbox import pg_claim, store

Factory = async_sessionmaker[AsyncSession]
LEASE = timedelta(seconds=30)


async def add(
    factory: Factory,
    now: datetime,
    recipient: str,
    key: str,
    *,
    priority: int = 100,
    not_before: datetime | None = None,
) -> int:
    async with unit_of_work(factory) as session:
        row = await store.add_raw(
            session,
            platform=Platform.SLACK,
            channel_id="T1",
            recipient=recipient,
            payload={"text": key},
            kind="slack_message",
            idempotency_key=key,
            now=now,
            priority=priority,
            not_before=not_before,
        )
        assert row is not None
        return row


async def take(factory: Factory, now: datetime, limit: int = 200) -> list[str]:
    """Claim; the idempotency keys of what was taken, in the order the claim gave them."""
    async with unit_of_work(factory) as session:
        claimed = await store.claim(session, now=now, lease=LEASE, limit=limit)
        ids = [message.id for message in claimed.messages]
        found = await session.execute(
            select(OutboxMessage.id, OutboxMessage.idempotency_key).where(OutboxMessage.id.in_(ids))
        )
        keys = {row_id: key for row_id, key in found.all()}
    return [keys[row_id] for row_id in ids]


async def mark_sent(factory: Factory, key: str) -> None:
    async with unit_of_work(factory) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key == key)
            .values(status=OutboxStatus.SENT)
        )


async def test_most_urgent_priority_first_then_oldest(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    await add(session_factory, now - timedelta(minutes=3), "C1", "routine-old")
    await add(session_factory, now - timedelta(minutes=1), "C2", "urgent-new", priority=10)
    await add(session_factory, now - timedelta(minutes=2), "C3", "urgent-old", priority=10)
    await add(session_factory, now, "C4", "middle", priority=50)

    assert sorted(await take(session_factory, now, limit=3)) == [
        "middle",
        "urgent-new",
        "urgent-old",
    ]
    assert await take(session_factory, now) == ["routine-old"]


async def test_only_each_recipients_head_however_deep_the_queue(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    for n in range(60):
        for recipient in ("C1", "C2", "C3"):
            await add(session_factory, now, recipient, f"{recipient}-{n:02}")

    assert sorted(await take(session_factory, now, limit=10)) == ["C1-00", "C2-00", "C3-00"]
    # Their heads are in flight (sending): nothing more of theirs until those are done.
    assert await take(session_factory, now) == []


async def test_a_later_urgent_row_waits_for_its_recipients_earlier_one(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    await add(session_factory, now, "C1", "first", priority=100)
    await add(session_factory, now, "C1", "second-urgent", priority=1)
    await add(session_factory, now, "C2", "other", priority=50)

    assert sorted(await take(session_factory, now)) == ["first", "other"]


async def test_future_rows_wait_and_do_not_hide_the_next_priority(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    later = now + timedelta(hours=1)
    await add(session_factory, now, "C1", "urgent-tomorrow", priority=1, not_before=later)
    await add(session_factory, now, "C2", "routine-now", priority=100)

    assert await take(session_factory, now) == ["routine-now"]
    await mark_sent(session_factory, "routine-now")
    assert await take(session_factory, later) == ["urgent-tomorrow"]


async def test_a_lapsed_lease_is_ranked_with_the_pending_rows(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    crashed = await add(session_factory, now, "C1", "crashed-urgent", priority=5)
    await add(session_factory, now, "C1", "after-crashed")
    await add(session_factory, now, "C2", "routine")
    assert await take(session_factory, now, limit=1) == ["crashed-urgent"]

    # Under its lease the row blocks its recipient; once the lease lapses it comes back first.
    assert await take(session_factory, now) == ["routine"]
    await mark_sent(session_factory, "routine")
    await add(session_factory, now, "C3", "more-routine")
    lapsed = now + LEASE + timedelta(seconds=1)
    assert await take(session_factory, lapsed, limit=1) == ["crashed-urgent"]
    async with unit_of_work(session_factory) as session:
        row = await session.get(OutboxMessage, crashed)
        assert row is not None
        assert row.attempts == 2
    assert await take(session_factory, lapsed) == ["more-routine"]


async def test_heads_behind_a_deep_queue_to_one_recipient_are_found(
    session_factory: Factory, clock: ManualClock
) -> None:
    """The oldest 50 due rows are all one channel's: the claim reads past them, page after
    page on PostgreSQL, to the other recipients' heads."""
    now = clock.now()
    for n in range(50):
        await add(session_factory, now - timedelta(minutes=10), "C1", f"C1-{n:02}")
    await add(session_factory, now - timedelta(minutes=5), "C2", "C2-00")
    await add(session_factory, now - timedelta(minutes=4), "C3", "C3-00")
    assert await take(session_factory, now, limit=2) == ["C1-00", "C2-00"]
    assert await take(session_factory, now, limit=2) == ["C3-00"]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_claim_after_statistics_of_a_quiet_outbox_reads_no_row_twice(
    session_factory: Factory, clock: ManualClock
) -> None:
    """Statistics analyzed when nothing was pending, then a burst of replies: the planner
    expects one in-flight row. The claim (core/outbox/pg_claim.py) has no join for such a
    plan to go wrong in; its page read walks the claim index in order and stops."""
    now = clock.now()
    for n in range(20):
        key = await add(session_factory, now, f"Q{n}", f"quiet-{n}")
        assert key
        await mark_sent(session_factory, f"quiet-{n}")
    async with session_factory() as session:
        await session.execute(text("ANALYZE outbox_messages"))
        await session.commit()
    for n in range(4):
        for recipient in range(50):
            await add(session_factory, now, f"R{recipient:02}", f"R{recipient:02}-{n}")
    async with session_factory() as session, session.begin():
        plan = "\n".join(
            (
                await session.execute(
                    text(f"EXPLAIN {pg_claim._PENDING_PAGE}"),
                    {
                        "now": now,
                        "priority": 100,
                        "page": 32,
                        "after_when": pg_claim._START[0],
                        "after_id": 0,
                    },
                )
            ).scalars()
        )
    assert "Index Scan using ix_outbox_messages_pending_claim" in plan, plan
    assert "Sort" not in plan, plan
    assert sorted(await take(session_factory, now, limit=60)) == [
        f"R{recipient:02}-0" for recipient in range(50)
    ]
