"""The embedded hub queue: one table (core.db.models.queue), any SQLAlchemy database.

Every state change is a single conditional UPDATE whose WHERE clause states what the
caller saw, and the row count says whether it took effect. That is atomic on PostgreSQL
(a concurrent UPDATE waits for the row lock, then re-checks the WHERE clause against the
committed row) and on SQLite (one writer at a time), without SELECT ... FOR UPDATE, and
every write transaction starts with its write, so SQLite in WAL mode never has to upgrade
a read snapshot into a write lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.models.queue import HubQueueEntry
from core.queues.port import (
    AlreadyQueued,
    ClaimResult,
    ConcurrentUpdate,
    InvalidTransfer,
    NotHolder,
    QueueEntry,
    QueueStats,
    Reassignment,
    Transfer,
    UnknownCase,
    check_hub_code,
    check_priority,
    to_queue_time,
)

_T = HubQueueEntry
_CAS_ATTEMPTS = 8
"""How often reassign and transfer re-read a case that changed under them before giving up."""


@dataclass(frozen=True, slots=True)
class _Row:
    entry: QueueEntry
    holder: int | None


class SqlAlchemyHubQueue:
    """`HubQueue` over the `hub_queue_entries` table."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
        *,
        session: AsyncSession | None = None,
    ) -> None:
        if (session_factory is None) == (session is None):
            raise ValueError("give either a session factory or a session")
        self._factory = session_factory
        self._session = session

    @classmethod
    def in_transaction(cls, session: AsyncSession) -> SqlAlchemyHubQueue:
        """A queue whose changes belong to the caller's open transaction.

        The embedded setup queues a new case in the same transaction that creates it, so a
        case is never queued without existing, nor created without being queued.
        """
        return cls(session=session)

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncSession]:
        if self._session is not None:
            async with self._session.begin_nested():
                yield self._session
            return
        assert self._factory is not None
        async with self._factory() as session, session.begin():
            yield session

    @asynccontextmanager
    async def _reader(self) -> AsyncIterator[AsyncSession]:
        if self._session is not None:
            yield self._session
            return
        assert self._factory is not None
        async with self._factory() as session:
            yield session

    async def enqueue(self, entry: QueueEntry) -> None:
        try:
            async with self._tx() as session:
                await session.execute(
                    insert(_T).values(
                        case_id=entry.case_id,
                        hub_code=entry.hub_code,
                        priority=entry.priority,
                        enqueued_at=entry.enqueued_at,
                        claimed_by_co_id=None,
                        claimed_at=None,
                    )
                )
        except IntegrityError as exc:
            raise AlreadyQueued(entry.case_id) from exc

    async def claim(self, case_id: int, co_id: int, *, now: datetime) -> ClaimResult:
        at = to_queue_time(now)
        async with self._tx() as session:
            won = await _changed(
                session,
                update(_T)
                .where(_T.case_id == case_id, _T.claimed_by_co_id.is_(None))
                .values(claimed_by_co_id=co_id, claimed_at=at),
            )
            row = await _read(session, case_id)
        if row is None:
            raise UnknownCase(case_id)
        # A claim by the CO who already holds the case is answered as won: retries are safe.
        return ClaimResult(won=won or row.holder == co_id, holder_co_id=row.holder, entry=row.entry)

    async def release(self, case_id: int, co_id: int | None = None) -> QueueEntry:
        held_by = (
            _T.claimed_by_co_id.is_not(None) if co_id is None else _T.claimed_by_co_id == co_id
        )
        async with self._tx() as session:
            released = await _changed(
                session,
                update(_T)
                .where(_T.case_id == case_id, held_by)
                .values(claimed_by_co_id=None, claimed_at=None),
            )
            row = await _read(session, case_id)
        if row is None:
            raise UnknownCase(case_id)
        if not released:
            raise NotHolder(case_id, row.holder)
        return row.entry

    async def reassign(
        self,
        case_id: int,
        to_co_id: int,
        *,
        now: datetime,
        expected_holder: int | None = None,
    ) -> Reassignment:
        at = to_queue_time(now)
        for _ in range(_CAS_ATTEMPTS):
            row = await self._get(case_id)
            if row.holder is None or (
                expected_holder is not None and row.holder != expected_holder
            ):
                raise NotHolder(case_id, row.holder)
            async with self._tx() as session:
                done = await _changed(
                    session,
                    update(_T)
                    .where(_T.case_id == case_id, _T.claimed_by_co_id == row.holder)
                    .values(claimed_by_co_id=to_co_id, claimed_at=at),
                )
            if done:
                return Reassignment(
                    case_id=case_id,
                    from_co_id=row.holder,
                    to_co_id=to_co_id,
                    at=at,
                    entry=row.entry,
                )
        raise ConcurrentUpdate(f"case {case_id} kept changing during reassign")

    async def transfer(
        self, case_id: int, to_hub_code: str, *, priority: int | None = None
    ) -> Transfer:
        check_hub_code(to_hub_code)
        if priority is not None:
            check_priority(priority)
        for _ in range(_CAS_ATTEMPTS):
            row = await self._get(case_id)
            if row.entry.hub_code == to_hub_code:
                raise InvalidTransfer(f"case {case_id} is already in hub {to_hub_code}")
            new_priority = row.entry.priority if priority is None else priority
            async with self._tx() as session:
                done = await _changed(
                    session,
                    update(_T)
                    .where(
                        _T.case_id == case_id,
                        _T.hub_code == row.entry.hub_code,
                        _T.claimed_by_co_id.is_not_distinct_from(row.holder),
                    )
                    .values(
                        hub_code=to_hub_code,
                        priority=new_priority,
                        claimed_by_co_id=None,
                        claimed_at=None,
                    ),
                )
            if done:
                return Transfer(
                    case_id=case_id,
                    from_hub_code=row.entry.hub_code,
                    to_hub_code=to_hub_code,
                    released_co_id=row.holder,
                    entry=QueueEntry(
                        case_id=case_id,
                        hub_code=to_hub_code,
                        priority=new_priority,
                        enqueued_at=row.entry.enqueued_at,
                    ),
                )
        raise ConcurrentUpdate(f"case {case_id} kept changing during transfer")

    async def remove(self, case_id: int) -> bool:
        async with self._tx() as session:
            return await _changed(session, delete(_T).where(_T.case_id == case_id))

    async def list_waiting(self, hub_code: str, limit: int = 50) -> Sequence[QueueEntry]:
        check_hub_code(hub_code)
        query = (
            select(_T)
            .where(_T.hub_code == hub_code, _T.claimed_by_co_id.is_(None))
            .order_by(_T.priority, _T.enqueued_at, _T.case_id)
            .limit(max(limit, 0))
        )
        async with self._reader() as session:
            return [_entry(row) for row in await session.scalars(query)]

    async def unclaimed_older_than(
        self, hub_code: str, threshold: timedelta, now: datetime
    ) -> Sequence[QueueEntry]:
        check_hub_code(hub_code)
        cutoff = to_queue_time(now) - threshold
        query = (
            select(_T)
            .where(
                _T.hub_code == hub_code,
                _T.claimed_by_co_id.is_(None),
                _T.enqueued_at < cutoff,
            )
            .order_by(_T.enqueued_at, _T.case_id)
        )
        async with self._reader() as session:
            return [_entry(row) for row in await session.scalars(query)]

    async def stats(self, hub_code: str) -> QueueStats:
        check_hub_code(hub_code)
        query = select(func.count(), func.min(_T.enqueued_at)).where(
            _T.hub_code == hub_code, _T.claimed_by_co_id.is_(None)
        )
        async with self._reader() as session:
            depth, oldest = (await session.execute(query)).one()
        return QueueStats(hub_code=hub_code, depth=int(depth), oldest_enqueued_at=oldest)

    async def holder(self, case_id: int) -> int | None:
        return (await self._get(case_id)).holder

    async def snapshot(self) -> tuple[list[QueueEntry], dict[int, int]]:
        """Every queued case and the holders (case_id -> CO id): what RedisHubQueue.rebuild
        takes when this table is the record Redis is rebuilt from."""
        async with self._reader() as session:
            rows = list(await session.scalars(select(_T).order_by(_T.case_id)))
        holders = {
            row.case_id: row.claimed_by_co_id for row in rows if row.claimed_by_co_id is not None
        }
        return [_entry(row) for row in rows], holders

    async def _get(self, case_id: int) -> _Row:
        async with self._reader() as session:
            row = await _read(session, case_id)
        if row is None:
            raise UnknownCase(case_id)
        return row


async def _changed(session: AsyncSession, statement: Any) -> bool:
    """Run a conditional UPDATE/DELETE; True when it touched a row."""
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return cast("CursorResult[Any]", result).rowcount > 0


async def _read(session: AsyncSession, case_id: int) -> _Row | None:
    found = await session.scalar(select(_T).where(_T.case_id == case_id))
    if found is None:
        return None
    return _Row(entry=_entry(found), holder=found.claimed_by_co_id)


def _entry(row: HubQueueEntry) -> QueueEntry:
    return QueueEntry(
        case_id=row.case_id,
        hub_code=row.hub_code,
        priority=row.priority,
        enqueued_at=row.enqueued_at,
    )
