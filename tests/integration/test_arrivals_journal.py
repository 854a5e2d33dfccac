"""The arrivals journal (core/inbox/journal.py): serve's webhooks commit to a file of their own.

The API writes the journal and never waits for the main file's lock; the background child
moves its rows into `inbox_events`. What a user would notice if this broke: an event
acknowledged but never handled, handled twice, or one person's messages out of order; a
backlog that /metrics and /healthz do not show.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import ManualClock
from core.db.models import InboxEvent
from core.db.session import create_engine, create_session_factory
from core.domain.enums import InboxStatus, Platform
from core.inbox import InboxWriter, NewInboxEvent
from core.inbox.journal import JournalMover, JournalWriter, MoveMark, journal_path
from yorozu.arrivals import JOURNAL_WRITER, move_leftover_arrivals
from yorozu.bootstrap import bootstrap
from yorozu.gauges import register_gauges
from yorozu.settings import load_settings

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def _event(person: int, n: int, *, event_id: str | None = None, **extra: object) -> NewInboxEvent:
    return NewInboxEvent(
        platform=Platform.LINE,
        channel_id="default",
        event_id=event_id or f"E{person:03d}-{n:04d}",
        ordering_key=f"line:default:U{person:032d}",
        kind="message",
        **(
            {"payload": {"type": "message", "message": {"type": "text", "text": f"相談 {n}"}}}
            | extra
        ),  # type: ignore[arg-type]
    )


@pytest.fixture
async def main_file(
    sqlite_template: Path, tmp_path: Path
) -> AsyncIterator[tuple[Path, async_sessionmaker[AsyncSession]]]:
    database = tmp_path / "yorozu.db"
    shutil.copyfile(sqlite_template, database)
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        yield database, create_session_factory(engine)
    finally:
        await engine.dispose()


@dataclass
class Journal:
    path: Path
    mark: MoveMark
    writer: JournalWriter
    mover: JournalMover
    sessions: async_sessionmaker[AsyncSession]


@pytest.fixture
async def journal(
    main_file: tuple[Path, async_sessionmaker[AsyncSession]],
) -> AsyncIterator[Journal]:
    """serve's pair on one main file: the API's writer and the child's mover, one mark."""
    database, sessions = main_file
    path = journal_path(database)
    mark = MoveMark.create()
    made = Journal(path, mark, JournalWriter(path, mark), JournalMover(path, mark), sessions)
    try:
        yield made
    finally:
        await made.writer.aclose()
        made.mover.close()
        mark.close()


async def _inbox(sessions: async_sessionmaker[AsyncSession]) -> list[InboxEvent]:
    async with sessions() as session:
        return list((await session.scalars(select(InboxEvent).order_by(InboxEvent.id))).all())


def _journal_rows(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT count(*) FROM arrivals").fetchone()[0])


async def test_moved_events_keep_every_field_and_each_persons_order(journal: Journal) -> None:
    assert journal.path.name == "yorozu.arrivals.db"
    occurred = NOW - timedelta(seconds=3)
    # Three people interleaved, in several commits, as concurrent webhooks arrive.
    for n in range(5):
        await journal.writer.add([_event(p, n, occurred_at=occurred) for p in range(3)], NOW)
    await journal.writer.add([_event(9, 0, redelivery=True, ignored=True)], NOW)
    moved = await journal.mover.move(journal.sessions)
    assert (moved.rows, moved.new) == (16, 16)
    rows = await _inbox(journal.sessions)
    for person in range(3):
        mine = [r for r in rows if r.ordering_key.endswith(f"U{person:032d}")]
        assert [r.event_id for r in mine] == [f"E{person:03d}-{n:04d}" for n in range(5)]
    first = rows[0]
    assert first.payload["message"]["text"] == "相談 0"
    assert first.received_at == NOW
    assert first.occurred_at == occurred
    assert first.status is InboxStatus.PENDING
    assert first.next_attempt_at == NOW
    standby = rows[-1]
    assert standby.redelivery
    assert standby.status is InboxStatus.IGNORED
    assert journal.mark.get() == moved.rows  # how far the API may prune


async def test_a_payload_only_the_standard_library_writes_moves_with_its_batch(
    journal: Journal,
) -> None:
    odd = ({"type": "message", "big": 2**70 + 1}, {"type": "message", "text": "\ud83d"})
    given = [_event(1, 0), *(_event(2, n, payload=p) for n, p in enumerate(odd))]
    await journal.writer.add(given, NOW)
    assert (await journal.mover.move(journal.sessions)).new == 3
    assert [r.payload for r in await _inbox(journal.sessions)] == [given[0].payload, *odd]


async def test_a_redelivery_is_dropped_by_the_move_and_rows_moved_twice_count_once(
    journal: Journal,
) -> None:
    await journal.writer.add([_event(1, 0), _event(1, 1)], NOW)
    assert (await journal.mover.move(journal.sessions)).new == 2
    # LINE redelivers an event already moved; and a mover that lost the mark (a child
    # restarted without it) reads the journal from its start again.
    await journal.writer.add([_event(1, 1, redelivery=True)], NOW)
    again = JournalMover(journal.path, None)
    moved = await again.move_all(journal.sessions)
    again.close()
    assert moved.new == 0
    assert moved.rows >= 1
    assert [r.event_id for r in await _inbox(journal.sessions)] == ["E001-0000", "E001-0001"]


async def test_the_api_prunes_what_was_moved_and_a_seq_is_never_reused(journal: Journal) -> None:
    writer, mover, sessions = journal.writer, journal.mover, journal.sessions
    await writer.add([_event(1, n) for n in range(50)], NOW)
    await mover.move(sessions)
    assert _journal_rows(journal.path) == 50  # moved, not yet pruned: the API prunes on its write
    await writer.add([_event(2, 0)], NOW)
    assert _journal_rows(journal.path) == 1
    await mover.move(sessions)
    await writer.add([_event(3, 0)], NOW)  # every earlier row pruned: seq goes on
    assert _journal_rows(journal.path) == 1
    assert (await mover.move(sessions)).new == 1
    assert len(await _inbox(sessions)) == 52


async def test_a_restarted_mover_goes_on_from_the_mark(journal: Journal) -> None:
    await journal.writer.add([_event(1, n) for n in range(3)], NOW)
    await journal.mover.move(journal.sessions)
    journal.mover.close()  # the child is killed and started again
    second = JournalMover(journal.path, MoveMark.attach(journal.mark.name))
    await journal.writer.add([_event(1, 3)], NOW)
    moved = await second.move(journal.sessions)
    second.close()
    assert (moved.rows, moved.new) == (1, 1)


async def test_the_backlog_counts_unmoved_rows_for_metrics_and_health(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "yorozu.db"
    shutil.copyfile(sqlite_template, database)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("YOROZU_ENV", "development")
    clock = ManualClock(NOW)
    container = await bootstrap(load_settings(), clock=clock)
    mark = MoveMark.create()
    writer = JournalWriter(journal_path(database), mark)
    container.extras[JOURNAL_WRITER] = writer
    try:
        await writer.add([_event(1, 0), _event(2, 0)], NOW)
        clock.advance(timedelta(seconds=90))
        register_gauges(container)
        text = (await container.metrics.render()).decode()
        assert "yorozu_inbox_pending 2.0" in text
        assert "yorozu_inbox_oldest_pending_seconds 90.0" in text
        from yorozu.bootstrap import health

        _healthy, report = await health(container)
        assert report["inbox"]["oldest_pending_seconds"] == 90.0
        mover = JournalMover(journal_path(database), mark)
        await mover.move(container.session_factory)
        mover.close()
        backlog = await writer.backlog()
        assert backlog.waiting == 0  # moved: now counted as pending in the inbox instead
    finally:
        await writer.aclose()
        mark.close()
        await container.aclose()


async def test_a_start_moves_what_an_earlier_serve_left_in_the_journal(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events acknowledged just before a stop are handled whatever runs next."""
    database = tmp_path / "yorozu.db"
    shutil.copyfile(sqlite_template, database)
    writer = JournalWriter(journal_path(database))
    await writer.add([_event(1, 0), _event(1, 1)], NOW)
    await writer.aclose()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("YOROZU_ENV", "development")
    container = await bootstrap(load_settings())
    try:
        await move_leftover_arrivals(container, database, None)
        assert [r.event_id for r in await _inbox(container.session_factory)] == [
            "E001-0000",
            "E001-0001",
        ]
        text = (await container.metrics.render()).decode()
        assert 'yorozu_events_accepted_total{platform="line"} 2.0' in text
    finally:
        await container.aclose()


async def test_the_group_commit_writer_acknowledges_only_after_the_journal_commit(
    main_file: tuple[Path, async_sessionmaker[AsyncSession]],
) -> None:
    """Durable before the 200 (invariant 3): when submit returns, a fresh reader sees it."""
    database, sessions = main_file
    journal = JournalWriter(journal_path(database))
    writer = InboxWriter(sessions, ManualClock(NOW), store=journal.add)
    try:
        await asyncio.gather(*(writer.submit([_event(p, 0)]) for p in range(20)))
        assert _journal_rows(journal_path(database)) == 20
        assert await _inbox(sessions) == []  # nothing written to the main file by the API
    finally:
        await writer.aclose()
        await journal.aclose()
