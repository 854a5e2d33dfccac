"""The hub queue contract (core.queues.port), run against every backend.

SQLite and PostgreSQL run the database backend (SqlAlchemyHubQueue) on a real database;
Redis runs RedisHubQueue on the real server (database 15, flushed by the shared fixture).
Times come from the test's clock; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import JST, ManualClock
from core.db.base import Base
from core.db.models.queue import HubQueueEntry
from core.db.session import create_engine, create_session_factory
from core.queues import (
    HQ_HUB_CODE,
    AlreadyQueued,
    HubQueue,
    InvalidTransfer,
    NotHolder,
    QueueEntry,
    UnknownCase,
)
from core.queues.sql import SqlAlchemyHubQueue
from integrations.redis_hub_queue import RedisHubQueue, queue_score

POSTGRES_URL = os.environ.get(
    "YOROZU_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Until the Alembic migration holding hub_queue_entries exists, the database backends get
# a schema of their own built from the model (create_all) instead of the shared migrated
# `session_factory` fixture.
QUEUE_TABLE = Base.metadata.tables[HubQueueEntry.__tablename__]


async def _create_queue_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all, tables=[QUEUE_TABLE])


async def _sqlite_queue(tmp_path: Path) -> AsyncIterator[HubQueue]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'queues.db'}")
    await _create_queue_table(engine)
    try:
        yield SqlAlchemyHubQueue(create_session_factory(engine))
    finally:
        await engine.dispose()


async def _postgres_queue() -> AsyncIterator[HubQueue]:
    admin = create_engine(POSTGRES_URL)
    schema = f"q_{uuid.uuid4().hex[:12]}"
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        await admin.dispose()
        message = f"PostgreSQL at {POSTGRES_URL} is not reachable ({exc})"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    engine = create_engine(POSTGRES_URL, search_path=schema)
    try:
        await _create_queue_table(engine)
        yield SqlAlchemyHubQueue(create_session_factory(engine))
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


async def _redis_queue(url: str) -> AsyncIterator[HubQueue]:
    client = aioredis.from_url(url)
    try:
        yield RedisHubQueue(client, prefix="test")
    finally:
        await client.aclose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def queue_backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """The backend's name, and for Redis the flushed server's URL (a sync fixture, so it
    can ask for the async `redis_url` fixture only when Redis is the backend)."""
    if request.param == "redis":
        return "redis", str(request.getfixturevalue("redis_url"))
    return str(request.param), None


@pytest.fixture
async def queue(queue_backend: tuple[str, str | None], tmp_path: Path) -> AsyncIterator[HubQueue]:
    name, url = queue_backend
    if name == "sqlite":
        backend = _sqlite_queue(tmp_path)
    elif name == "postgresql":
        backend = _postgres_queue()
    else:
        assert url is not None
        backend = _redis_queue(url)
    async for built in backend:
        yield built


@pytest.fixture
def t0(clock: ManualClock) -> datetime:
    return clock.now() - timedelta(hours=6)


def entry(case_id: int, hub: str, priority: int, at: datetime) -> QueueEntry:
    return QueueEntry(case_id=case_id, hub_code=hub, priority=priority, enqueued_at=at)


def ids(entries: object) -> list[int]:
    assert isinstance(entries, list | tuple)
    return [item.case_id for item in entries]


async def test_waiting_cases_come_by_priority_then_age(queue: HubQueue, t0: datetime) -> None:
    minute = timedelta(minutes=1)
    for case in [
        entry(1, "13", 5, t0 + 3 * minute),
        entry(2, "13", 1, t0 + 9 * minute),
        entry(3, "13", 5, t0),
        entry(4, "13", 1, t0 + 2 * minute),
        entry(6, "13", 5, t0 + 3 * minute),  # same priority and time as 1: case id decides
        entry(5, "27", 0, t0),  # another hub
    ]:
        await queue.enqueue(case)

    waiting = await queue.list_waiting("13")
    assert ids(waiting) == [4, 2, 3, 1, 6]
    assert waiting[0] == entry(4, "13", 1, t0 + 2 * minute)
    assert ids(await queue.list_waiting("13", limit=2)) == [4, 2]
    assert ids(await queue.list_waiting("27")) == [5]
    assert await queue.list_waiting("01") == []


async def test_a_case_is_queued_once(queue: HubQueue, t0: datetime) -> None:
    await queue.enqueue(entry(1, "13", 5, t0))
    with pytest.raises(AlreadyQueued):
        await queue.enqueue(entry(1, "27", 1, t0))
    assert ids(await queue.list_waiting("27")) == []


async def test_fifty_concurrent_claims_have_one_winner(
    queue: HubQueue, t0: datetime, clock: ManualClock
) -> None:
    await queue.enqueue(entry(42, "13", 3, t0))
    await queue.enqueue(entry(43, "13", 3, t0 + timedelta(seconds=1)))

    results = await asyncio.gather(
        *(queue.claim(42, co_id, now=clock.now()) for co_id in range(101, 151))
    )

    winners = [co_id for co_id, result in zip(range(101, 151), results, strict=True) if result.won]
    assert len(winners) == 1
    winner = winners[0]
    assert all(result.holder_co_id == winner for result in results)
    assert all(result.entry == entry(42, "13", 3, t0) for result in results)
    assert await queue.holder(42) == winner
    assert ids(await queue.list_waiting("13")) == [43]
    # The winner pressing the button again (a redelivery) still holds it.
    again = await queue.claim(42, winner, now=clock.now())
    assert (again.won, again.holder_co_id) == (True, winner)


async def test_release_keeps_the_place_in_line(
    queue: HubQueue, t0: datetime, clock: ManualClock
) -> None:
    for case_id, offset in [(1, 0), (2, 1), (3, 2)]:
        await queue.enqueue(entry(case_id, "13", 5, t0 + timedelta(minutes=offset)))
    assert (await queue.claim(1, 7, now=clock.now())).won
    assert ids(await queue.list_waiting("13")) == [2, 3]

    with pytest.raises(NotHolder) as not_holder:
        await queue.release(1, co_id=8)
    assert not_holder.value.holder_co_id == 7

    released = await queue.release(1, co_id=7)
    assert released == entry(1, "13", 5, t0)
    assert ids(await queue.list_waiting("13")) == [1, 2, 3]
    assert await queue.holder(1) is None
    with pytest.raises(NotHolder) as waiting:
        await queue.release(1)
    assert waiting.value.holder_co_id is None

    # Releasing on the holder's behalf (a CCO) needs no CO id.
    await queue.claim(2, 9, now=clock.now())
    assert (await queue.release(2)).case_id == 2
    assert ids(await queue.list_waiting("13")) == [1, 2, 3]


async def test_reassign_hands_a_held_case_to_another_co(
    queue: HubQueue, t0: datetime, clock: ManualClock
) -> None:
    await queue.enqueue(entry(1, "13", 5, t0))
    with pytest.raises(NotHolder):
        await queue.reassign(1, 8, now=clock.now())  # waiting cases are claimed instead
    await queue.claim(1, 7, now=clock.now())
    clock.advance(timedelta(minutes=30))

    moved = await queue.reassign(1, 8, now=clock.now(), expected_holder=7)

    assert (moved.case_id, moved.from_co_id, moved.to_co_id) == (1, 7, 8)
    assert moved.at == clock.now()
    assert moved.entry == entry(1, "13", 5, t0)
    assert await queue.holder(1) == 8
    with pytest.raises(NotHolder) as stale:
        await queue.reassign(1, 9, now=clock.now(), expected_holder=7)
    assert stale.value.holder_co_id == 8
    assert (await queue.reassign(1, 9, now=clock.now())).from_co_id == 8
    assert await queue.list_waiting("13") == []


async def test_transfer_to_hq_keeps_the_original_waiting_time(
    queue: HubQueue, t0: datetime, clock: ManualClock
) -> None:
    await queue.enqueue(entry(1, "13", 5, t0))
    await queue.enqueue(entry(2, HQ_HUB_CODE, 5, t0 + timedelta(hours=1)))
    await queue.enqueue(entry(3, HQ_HUB_CODE, 5, t0 - timedelta(hours=1)))
    await queue.claim(1, 7, now=clock.now())

    moved = await queue.transfer(1, HQ_HUB_CODE)

    assert (moved.from_hub_code, moved.to_hub_code, moved.released_co_id) == ("13", "00", 7)
    assert moved.entry == entry(1, HQ_HUB_CODE, 5, t0)
    assert ids(await queue.list_waiting(HQ_HUB_CODE)) == [3, 1, 2]
    assert await queue.list_waiting("13") == []
    assert await queue.holder(1) is None
    assert (await queue.stats("13")).depth == 0

    with pytest.raises(InvalidTransfer):
        await queue.transfer(1, HQ_HUB_CODE)
    back = await queue.transfer(1, "13", priority=0)
    assert (back.released_co_id, back.entry) == (None, entry(1, "13", 0, t0))
    assert ids(await queue.list_waiting(HQ_HUB_CODE)) == [3, 2]
    assert ids(await queue.list_waiting("13")) == [1]


async def test_unclaimed_older_than_finds_the_cases_to_escalate(
    queue: HubQueue, t0: datetime, clock: ManualClock
) -> None:
    now = t0 + timedelta(hours=24)
    await queue.enqueue(entry(1, "13", 9, t0))  # 24h: the oldest, low priority
    await queue.enqueue(entry(2, "13", 0, t0 + timedelta(hours=1)))  # 23h
    await queue.enqueue(entry(3, "13", 5, t0 + timedelta(hours=2)))  # exactly 22h
    await queue.enqueue(entry(4, "13", 5, t0 + timedelta(hours=12)))  # 12h
    await queue.enqueue(entry(5, "13", 5, t0 - timedelta(hours=5)))  # old, but claimed
    await queue.enqueue(entry(6, "27", 5, t0 - timedelta(hours=5)))  # another hub
    await queue.claim(5, 7, now=clock.now())

    overdue = await queue.unclaimed_older_than("13", timedelta(hours=22), now)

    assert ids(overdue) == [1, 2]  # oldest first; 22h is not older than 22h
    assert overdue[0] == entry(1, "13", 9, t0)
    assert ids(await queue.unclaimed_older_than("13", timedelta(hours=1), now)) == [1, 2, 3, 4]
    assert await queue.unclaimed_older_than("13", timedelta(days=2), now) == []


async def test_stats_count_the_waiting_cases(
    queue: HubQueue, t0: datetime, clock: ManualClock
) -> None:
    empty = await queue.stats("13")
    assert (empty.hub_code, empty.depth, empty.oldest_enqueued_at) == ("13", 0, None)
    assert empty.oldest_wait(clock.now()) is None

    await queue.enqueue(entry(1, "13", 0, t0 + timedelta(hours=2)))
    await queue.enqueue(entry(2, "13", 9, t0 + timedelta(hours=1)))
    await queue.enqueue(entry(3, "13", 5, t0))
    await queue.enqueue(entry(4, "27", 5, t0 - timedelta(hours=1)))
    await queue.claim(3, 7, now=clock.now())

    stats = await queue.stats("13")
    assert (stats.depth, stats.oldest_enqueued_at) == (2, t0 + timedelta(hours=1))
    assert stats.oldest_wait(clock.now()) == clock.now() - (t0 + timedelta(hours=1))


async def test_remove_forgets_a_closed_case(
    queue: HubQueue, t0: datetime, clock: ManualClock
) -> None:
    await queue.enqueue(entry(1, "13", 5, t0))
    await queue.enqueue(entry(2, "13", 5, t0))
    await queue.claim(2, 7, now=clock.now())

    assert await queue.remove(1) is True
    assert await queue.remove(2) is True
    assert await queue.remove(1) is False
    assert await queue.list_waiting("13") == []
    with pytest.raises(UnknownCase):
        await queue.holder(2)
    await queue.enqueue(entry(1, "13", 5, t0))  # a reopened case can queue again


async def test_unknown_cases_are_refused(queue: HubQueue, clock: ManualClock) -> None:
    with pytest.raises(UnknownCase) as unknown:
        await queue.claim(999, 7, now=clock.now())
    assert unknown.value.case_id == 999
    with pytest.raises(UnknownCase):
        await queue.holder(999)
    with pytest.raises(UnknownCase):
        await queue.release(999, co_id=7)
    with pytest.raises(UnknownCase):
        await queue.reassign(999, 8, now=clock.now())
    with pytest.raises(UnknownCase):
        await queue.transfer(999, HQ_HUB_CODE)
    assert await queue.remove(999) is False


async def test_hub_codes_are_checked(queue: HubQueue) -> None:
    with pytest.raises(ValueError, match="hub code"):
        await queue.list_waiting("48")
    with pytest.raises(ValueError, match="hub code"):
        await queue.stats("13 ")


# Redis recovery: the database is the record, Redis is rebuilt from it.


@pytest.mark.redis
async def test_redis_rebuild_restores_order_and_holders(
    redis_url: str, t0: datetime, clock: ManualClock
) -> None:
    client = aioredis.from_url(redis_url)
    try:
        queue = RedisHubQueue(client, prefix="test")
        record = [
            entry(1, "13", 5, t0),
            entry(2, "13", 1, t0 + timedelta(minutes=5)),
            entry(3, "13", 5, t0 - timedelta(minutes=5)),
            entry(4, HQ_HUB_CODE, 2, t0),
            entry(5, "13", 0, t0),
        ]
        holders = {5: 7}
        for case in record:
            await queue.enqueue(case)
        await queue.claim(5, 7, now=clock.now())
        before = [await queue.list_waiting(hub) for hub in ("13", HQ_HUB_CODE)]

        await client.flushdb()  # Redis restarted without its data
        assert await queue.list_waiting("13") == []
        await client.set("test:hubq:case:99", "stale")  # rebuild replaces everything
        assert await queue.rebuild(record, holders) == 5

        assert [await queue.list_waiting(hub) for hub in ("13", HQ_HUB_CODE)] == before
        assert ids(before[0]) == [2, 3, 1]
        assert await queue.holder(5) == 7
        assert await queue.holder(1) is None
        assert await client.exists("test:hubq:case:99") == 0
        assert (await queue.stats("13")).oldest_enqueued_at == t0 - timedelta(minutes=5)
        # The rebuilt state behaves like the original one.
        assert (await queue.release(5, co_id=7)).case_id == 5
        assert ids(await queue.list_waiting("13")) == [5, 2, 3, 1]
        lost = await queue.claim(1, 8, now=clock.now())
        assert lost.won
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_rebuild_from_the_database_snapshot(
    redis_url: str, tmp_path: Path, t0: datetime, clock: ManualClock
) -> None:
    client = aioredis.from_url(redis_url)
    try:
        async for database in _sqlite_queue(tmp_path):
            assert isinstance(database, SqlAlchemyHubQueue)
            for case_id, hub, priority in [(1, "13", 5), (2, "13", 1), (3, "00", 5), (4, "13", 1)]:
                await database.enqueue(
                    entry(case_id, hub, priority, t0 + timedelta(seconds=case_id))
                )
            await database.claim(4, 7, now=clock.now())
            entries, holders = await database.snapshot()
            assert holders == {4: 7}

            redis_queue = RedisHubQueue(client, prefix="test")
            await redis_queue.rebuild(entries, holders)

            for hub in ("13", HQ_HUB_CODE):
                assert await redis_queue.list_waiting(hub) == await database.list_waiting(hub)
                assert await redis_queue.stats(hub) == await database.stats(hub)
            assert await redis_queue.holder(4) == 7
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_redis_rebuild_refuses_inconsistent_input(redis_url: str, t0: datetime) -> None:
    client = aioredis.from_url(redis_url)
    try:
        queue = RedisHubQueue(client, prefix="test")
        with pytest.raises(ValueError, match="twice"):
            await queue.rebuild([entry(1, "13", 5, t0), entry(1, "27", 5, t0)], {})
        with pytest.raises(ValueError, match="holders"):
            await queue.rebuild([entry(1, "13", 5, t0)], {2: 7})
    finally:
        await client.aclose()


# The entry type itself (no backend needed).


def test_queue_times_are_aware_utc_milliseconds() -> None:
    tokyo = datetime(2026, 6, 2, 10, 0, 0, 123_987, tzinfo=JST)
    case = entry(1, "13", 5, tokyo)
    assert case.enqueued_at == datetime(2026, 6, 2, 1, 0, 0, 123_000, tzinfo=UTC)
    assert case.enqueued_at.tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        entry(1, "13", 5, datetime(2026, 6, 2, 10, 0))
    with pytest.raises(ValueError, match="priority"):
        entry(1, "13", 100, tokyo)
    with pytest.raises(ValueError, match="hub code"):
        entry(1, "48", 5, tokyo)


def test_redis_scores_order_by_priority_then_age_exactly() -> None:
    late_2285 = datetime(2285, 12, 31, tzinfo=UTC)
    assert queue_score(0, late_2285) < queue_score(1, datetime(1970, 1, 1, tzinfo=UTC))
    top = queue_score(99, late_2285)
    assert top < 2**53
    assert float(top) == top
