"""PostgreSQL's inbox claim (core.inbox.pg_claim): each person's first pending event, found
by reading the pending ids in windows rather than by a probe per row.

These pin what the claim may take: only heads, in id order; at most half the heads it sees
(at least one), so other loops and workers get a share; nobody whose first event waits for
its backoff; nobody whose head another transaction holds; and heads beyond a window that
held none to take.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db.models.inbox import InboxEvent
from core.domain.enums import InboxStatus, Platform
from core.inbox import pg_claim
from core.inbox.store import NewInboxEvent, add_events

pytestmark = pytest.mark.parametrize("backend", ["postgresql"])

Factory = async_sessionmaker[AsyncSession]


def event(person: str, n: int) -> NewInboxEvent:
    return NewInboxEvent(
        platform=Platform.LINE,
        channel_id="default",
        event_id=f"{person}-{n}",
        ordering_key=f"line:default:{person}",
        kind="message",
        payload={},
    )


async def store(factory: Factory, now: datetime, *events: NewInboxEvent) -> None:
    async with factory() as session, session.begin():
        await add_events(session, list(events), now=now)


async def change(factory: Factory, event_id: str, **values: object) -> None:
    async with factory() as session, session.begin():
        await session.execute(
            update(InboxEvent).where(InboxEvent.event_id == event_id).values(**values)
        )


async def take(
    factory: Factory, now: datetime, limit: int, *, passed: Sequence[str] = ()
) -> list[str]:
    async with factory() as session, session.begin():
        heads = await pg_claim.claim_heads(session, now, limit, passed=passed)
        return [head.event_id for head in heads]


async def test_only_each_persons_first_event_in_id_order(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    firsts = [event(person, 1) for person in "BCD"]
    await store(session_factory, now, event("A", 1), event("A", 2), event("A", 3), *firsts)
    # Four heads seen, two taken: A's later events are not heads, so B's comes next.
    assert await take(session_factory, now, 10) == ["A-1", "B-1"]


async def test_at_most_half_the_heads_seen_and_at_least_one(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    await store(session_factory, now, *(event(f"P{n}", 1) for n in range(10)))
    assert await take(session_factory, now, 16) == [f"P{n}-1" for n in range(5)]
    assert await take(session_factory, now, 3) == ["P0-1", "P1-1", "P2-1"]
    await store(session_factory, now, event("Q", 1))
    async with session_factory() as session, session.begin():
        await session.execute(
            update(InboxEvent).where(InboxEvent.event_id.like("P%")).values(status=InboxStatus.DONE)
        )
    assert await take(session_factory, now, 16) == ["Q-1"]


async def test_a_first_event_in_backoff_holds_its_person_back(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    await store(session_factory, now, event("A", 1), event("A", 2), event("B", 1), event("C", 1))
    await change(session_factory, "A-1", attempts=1, next_attempt_at=now + timedelta(minutes=5))
    # A-2 is the oldest due event, but A-1 waits for its backoff: B's head is taken.
    assert await take(session_factory, now, 10) == ["B-1"]
    assert await take(session_factory, now + timedelta(minutes=6), 10) == ["A-1", "B-1"]


async def test_done_events_leave_the_next_one_of_their_person_as_head(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    await store(session_factory, now, event("A", 1), event("A", 2), event("B", 1))
    await change(session_factory, "A-1", status=InboxStatus.DONE)
    assert await take(session_factory, now, 1) == ["A-2"]


async def test_a_head_held_elsewhere_is_passed_over_with_its_person(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    await store(session_factory, now, event("A", 1), event("A", 2), event("B", 1), event("B", 2))
    async with session_factory() as holder, holder.begin():
        assert [e.event_id for e in await pg_claim.claim_heads(holder, now, 1)] == ["A-1"]
        # A-1 is locked, not done: A-2 is still not A's head, so only B's is free.
        assert await take(session_factory, now, 10) == ["B-1"]
    assert await take(session_factory, now, 10) == ["A-1"]


async def test_heads_beyond_a_window_with_none_free(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    deep = [event("A", n) for n in range(pg_claim.WINDOW * 2 + 5)]
    await store(session_factory, now, *deep, event("B", 1), event("C", 1))
    async with session_factory() as holder, holder.begin():
        assert [e.event_id for e in await pg_claim.claim_heads(holder, now, 1)] == ["A-0"]
        assert await take(session_factory, now, 10) == ["B-1"]


async def test_people_passed_are_left_out(session_factory: Factory, clock: ManualClock) -> None:
    now = clock.now()
    await store(session_factory, now, event("A", 1), event("B", 1), event("B", 2))
    assert await take(session_factory, now, 10, passed=["line:default:A"]) == ["B-1"]


async def test_nothing_pending_nothing_taken(session_factory: Factory, clock: ManualClock) -> None:
    assert await take(session_factory, clock.now(), 4) == []
