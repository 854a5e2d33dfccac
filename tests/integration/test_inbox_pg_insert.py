"""The inbox insert (core.inbox.pg_insert on PostgreSQL, insertmanyvalues on SQLite) and the
webhooks' one-statement commit on PostgreSQL (`CommittedInsert`).

Both backends must store the same row for the same event: the worker, the erasure and the
console read these columns whichever database runs. The one-statement commit must be
durable when it returns, keep arrival order, and survive a connection the database dropped.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db.models.inbox import InboxEvent
from core.db.session import create_engine
from core.domain.enums import InboxStatus, Platform
from core.inbox.pg_insert import CommittedInsert
from core.inbox.store import NewInboxEvent, add_events, add_received
from tests.support import POSTGRES_URL

Factory = async_sessionmaker[AsyncSession]


def event(event_id: str, person: str = "U1", **fields: object) -> NewInboxEvent:
    values: dict[str, object] = {
        "platform": Platform.LINE,
        "channel_id": "default",
        "event_id": event_id,
        "ordering_key": f"line:default:{person}",
        "kind": "message",
        "payload": {"type": "message", "message": {"type": "text", "text": "相談したいです"}},
    }
    values.update(fields)
    return NewInboxEvent(**values)  # type: ignore[arg-type]


async def rows(factory: Factory) -> list[InboxEvent]:
    async with factory() as session:
        return list(await session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


async def test_both_backends_store_the_same_row(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    occurred = now - timedelta(seconds=3)
    events = [
        event("E1", occurred_at=occurred, redelivery=True),
        event("E2", "U2", kind="follow", payload={"type": "follow", "nested": [1, {"a": None}]}),
        event("E3", ignored=True),
    ]
    async with session_factory() as session, session.begin():
        assert await add_events(session, events, now=now) == 3
    first, second, third = await rows(session_factory)
    assert (first.event_id, first.ordering_key, first.kind) == ("E1", "line:default:U1", "message")
    assert first.payload["message"]["text"] == "相談したいです"
    assert first.occurred_at == occurred
    assert first.redelivery is True
    assert (first.status, first.attempts) == (InboxStatus.PENDING, 0)
    assert first.received_at == first.next_attempt_at == now
    assert (first.last_error, first.handled_at) == (None, None)
    assert second.payload == {"type": "follow", "nested": [1, {"a": None}]}
    assert (second.kind, second.occurred_at, second.redelivery) == ("follow", None, False)
    assert third.status == InboxStatus.IGNORED


ODD_PAYLOADS = (
    {"type": "message", "big": 2**70 + 1},  # past orjson's 64 bits
    {"type": "message", "text": "\ud83d"},  # a lone surrogate, from a JSON escape
)


async def test_a_payload_only_the_standard_library_writes_is_stored_with_its_batch(
    session_factory: Factory, clock: ManualClock
) -> None:
    """One odd event must not fail the batch it shares with everyone else's."""
    given = [event("N1"), *(event(f"O{n}", payload=p) for n, p in enumerate(ODD_PAYLOADS))]
    async with session_factory() as session, session.begin():
        assert await add_events(session, given, now=clock.now()) == 3
    stored = await rows(session_factory)
    assert [row.payload for row in stored] == [given[0].payload, *ODD_PAYLOADS]


async def test_ids_follow_the_order_given_and_repeats_count_once(
    session_factory: Factory, clock: ManualClock
) -> None:
    now = clock.now()
    async with session_factory() as session, session.begin():
        await add_events(session, [event("B0")], now=now)
    given = [event(f"B{n}", f"U{n % 3}") for n in range(40, 0, -1)]
    later = now + timedelta(seconds=1)
    async with session_factory() as session, session.begin():
        # B0 is stored already and B7 comes twice in this batch: 40 new, not 42.
        received = [(e, later) for e in [*given, event("B0"), event("B7")]]
        assert await add_received(session, received) == 40
    stored = await rows(session_factory)
    assert [row.event_id for row in stored] == ["B0"] + [e.event_id for e in given]
    assert [row.received_at for row in stored] == [now] + [later] * 40


async def test_naive_times_are_refused(session_factory: Factory) -> None:
    naive = datetime(2026, 6, 2, 10, 0)
    async with session_factory() as session:
        with pytest.raises((ValueError, StatementError), match="naive datetimes are refused"):
            await add_events(session, [event("N1")], now=naive)


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_the_one_statement_commit_is_durable_and_in_order(
    engine: AsyncEngine, session_factory: Factory, clock: ManualClock
) -> None:
    schema = await _search_path(engine)
    own = create_engine(POSTGRES_URL, search_path=schema, pre_ping=False, pool_size=1)
    try:
        insert = CommittedInsert(own)
        assert await insert([event(f"C{n}", f"U{n}") for n in range(5)], clock.now()) == 5
        # Read through another engine at once: the statement committed before it returned.
        assert [row.event_id for row in await rows(session_factory)] == [f"C{n}" for n in range(5)]
        assert await insert([event("C4"), event("C5")], clock.now()) == 1
    finally:
        await own.dispose()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_connection_the_database_dropped_is_replaced_once(
    engine: AsyncEngine,
    session_factory: Factory,
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    schema = await _search_path(engine)
    own = create_engine(POSTGRES_URL, search_path=schema, pre_ping=False, pool_size=1)
    try:
        insert = CommittedInsert(own)
        assert await insert([event("D1")], clock.now()) == 1
        async with own.connect() as connection:  # the pooled connection the insert used
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        async with engine.connect() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        caplog.set_level(logging.WARNING, logger="core.inbox.pg_insert")
        assert await insert([event("D2")], clock.now()) == 1
        assert "retried on a new connection" in caplog.text
        assert [row.event_id for row in await rows(session_factory)] == ["D1", "D2"]
        # A statement the database refuses is not a dead connection: no second try.
        too_long = event("D3", channel_id="x" * 65)
        with pytest.raises(DBAPIError):
            await insert([too_long], clock.now())
        assert caplog.text.count("retried") == 1
    finally:
        await own.dispose()


async def _search_path(engine: AsyncEngine) -> str:
    async with engine.connect() as connection:
        return str(await connection.scalar(text("SELECT current_schema()")))


def test_times_are_stored_in_utc() -> None:
    """The insert converts an aware time in another zone to UTC, as `UTCDateTime` does."""
    from zoneinfo import ZoneInfo

    from core.inbox.pg_insert import _arrays

    tokyo = datetime(2026, 6, 2, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    arrays = _arrays([(event("T1"), tokyo)])
    assert arrays["received_at"] == [datetime(2026, 6, 2, 1, 0, tzinfo=UTC)]
    assert arrays["received_at"][0].tzinfo is UTC
