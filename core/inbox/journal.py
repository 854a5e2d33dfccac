"""The arrivals journal: on SQLite, the webhook's commits go to a file of their own.

SQLite has one writer per database file. In `yorozu serve` the API's group commits and its
background child's transactions (the worker's batches, the dispatcher's marks, the
scheduler's jobs) took turns at the one write lock of the main database, and a webhook that
found it taken waited in SQLite's busy handler, whose sleeps grow to 100 ms: acknowledgements
at a quarter of the peak rate had a p99 of 175 ms (issue 14). A priority gate between the two
processes shortened the waits but could not remove them.

Here the API writes only to the journal, a second SQLite file beside the main one, of which it
is the only writer: its commits never wait for the worker. The child moves journal rows into
`inbox_events` in large transactions of its own, in journal order, and handling goes on from
there as before. What holds:

* Durability before the 200 (invariant 3): an event is acknowledged once its journal
  transaction has committed (WAL, synchronous=NORMAL, as the main file).
* Exactly once (invariant 2): the move is INSERT ... ON CONFLICT (platform, event_id) DO
  NOTHING into `inbox_events`, so a redelivery, or a row moved again after a crash between
  the move's commit and the prune, is dropped there, as the direct insert dropped it.
* Order per person: journal `seq` is the commit order of the API's batches, and rows move in
  `seq` order, so `inbox_events.id` keeps it (AUTOINCREMENT: a seq is never reused, even when
  every row has been pruned).
* The journal stays small: the child publishes how far it has moved (`MoveMark`, 8 bytes of
  shared memory), and the API prunes up to there in its own next commit, so the child never
  writes the journal at all. A lost mark (a restarted child) only means rows are moved again
  and dropped as duplicates.

The backlog an operator sees is the journal's unmoved rows plus the pending inbox rows
(`JournalWriter.backlog`). PostgreSQL has row locks and no single writer: it never uses this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import shared_memory
from pathlib import Path
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.domain.enums import Platform
from core.inbox.payload import payload_from_text, payload_text
from core.inbox.store import NewInboxEvent, add_received

log = logging.getLogger(__name__)

MOVE_LIMIT: Final = 2000
"""Journal rows moved per transaction: large, since nobody waits for the main file's lock."""
_BUSY_TIMEOUT_MS: Final = 5000
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS arrivals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ordering_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    received_us INTEGER NOT NULL,
    occurred_us INTEGER,
    redelivery INTEGER NOT NULL,
    ignored INTEGER NOT NULL
)
"""
_INSERT: Final = (
    "INSERT INTO arrivals (platform, channel_id, event_id, ordering_key, kind, payload,"
    " received_us, occurred_us, redelivery, ignored) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT: Final = (
    "SELECT seq, platform, channel_id, event_id, ordering_key, kind, payload, received_us,"
    " occurred_us, redelivery, ignored FROM arrivals WHERE seq > ? ORDER BY seq LIMIT ?"
)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def journal_path(database: Path) -> Path:
    """The journal of a main SQLite file: `var/yorozu.db` → `var/yorozu.arrivals.db`."""
    return database.with_name(f"{database.stem}.arrivals{database.suffix or '.db'}")


def _micros(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    connection.execute(_SCHEMA)
    return connection


class MoveMark:
    """How far the mover has moved (a journal seq), in shared memory: the API prunes to it."""

    _SIZE: Final = 8

    def __init__(self, block: shared_memory.SharedMemory, *, owner: bool) -> None:
        self._block = block
        self._owner = owner

    @classmethod
    def create(cls) -> MoveMark:
        block = shared_memory.SharedMemory(create=True, size=cls._SIZE)
        mark = cls(block, owner=True)
        mark.set(0)
        return mark

    @classmethod
    def attach(cls, name: str) -> MoveMark | None:
        try:
            block = shared_memory.SharedMemory(name=name)
        except (FileNotFoundError, OSError, ValueError):
            log.warning("arrivals move mark not found; the journal is pruned at the next start")
            return None
        # Python's resource tracker would unlink the block when this process exits; it is its
        # creator's to remove (a restarted child attaches to the same block).
        with contextlib.suppress(Exception):
            from multiprocessing import resource_tracker

            resource_tracker.unregister(block._name, "shared_memory")  # type: ignore[attr-defined]
        return cls(block, owner=False)

    @property
    def name(self) -> str:
        return self._block.name

    @property
    def _buffer(self) -> memoryview:
        buffer = self._block.buf
        if buffer is None:  # closed
            raise ValueError("the move mark is closed")
        return buffer

    def get(self) -> int:
        value: int = struct.unpack_from("q", self._buffer, 0)[0]
        return value

    def set(self, seq: int) -> None:
        # One writer (the mover) and an aligned 8-byte store: a reader sees old or new.
        struct.pack_into("q", self._buffer, 0, seq)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._block.close()
        if self._owner:
            with contextlib.suppress(Exception):
                self._block.unlink()


@dataclass(frozen=True, slots=True)
class JournalBacklog:
    waiting: int
    """Rows not moved yet."""
    oldest: datetime | None


class JournalWriter:
    """The API's side: stores events in the journal, the only writer of its file.

    Its statements run on one thread of its own with a plain sqlite3 connection (driver-level
    executemany: no ORM work per event on the acknowledgement path).
    """

    def __init__(self, path: Path, mark: MoveMark | None = None) -> None:
        self.path = path
        self._mark = mark
        self._pruned = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="arrivals")
        self._connection: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = _connect(self.path)
        return self._connection

    async def _run(self, function: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def add(self, events: Sequence[NewInboxEvent], now: datetime) -> int:
        """Commit `events` to the journal; returns how many were written (all of them: the
        move drops duplicates)."""
        received = _micros(now)
        rows = [
            (
                str(event.platform),
                event.channel_id,
                event.event_id,
                event.ordering_key,
                event.kind,
                payload_text(event.payload),
                received,
                None if event.occurred_at is None else _micros(event.occurred_at),
                int(event.redelivery),
                int(event.ignored),
            )
            for event in events
        ]
        moved = self._mark.get() if self._mark is not None else 0
        await self._run(self._add, rows, moved)
        return len(rows)

    def _add(self, rows: list[tuple[Any, ...]], moved: int) -> None:
        connection = self._open()
        connection.execute("BEGIN IMMEDIATE")
        try:
            if moved > self._pruned:
                connection.execute("DELETE FROM arrivals WHERE seq <= ?", (moved,))
                self._pruned = moved
            connection.executemany(_INSERT, rows)
            connection.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise

    async def backlog(self) -> JournalBacklog:
        """What waits in the journal to be moved (for /metrics and /healthz)."""
        moved = self._mark.get() if self._mark is not None else 0
        return await self._run(self._backlog, moved)  # type: ignore[no-any-return]

    def _backlog(self, moved: int) -> JournalBacklog:
        count, oldest = (
            self._open()
            .execute("SELECT count(*), min(received_us) FROM arrivals WHERE seq > ?", (moved,))
            .fetchone()
        )
        return JournalBacklog(int(count), None if oldest is None else _moment(int(oldest)))

    async def aclose(self) -> None:
        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await self._run(close)
        self._executor.shutdown(wait=True)


@dataclass(frozen=True, slots=True)
class Moved:
    rows: int
    """Journal rows moved in this call."""
    new: int
    """Of those, the ones `inbox_events` did not hold yet (the rest were duplicates)."""


class JournalMover:
    """The background side: moves journal rows into `inbox_events`, oldest first."""

    def __init__(self, path: Path, mark: MoveMark | None = None, *, limit: int = MOVE_LIMIT):
        self.path = path
        self._mark = mark
        self._limit = limit
        self._moved = mark.get() if mark is not None else 0
        """The last seq committed to the main file (from the mark: a restarted child goes on
        where the last one stopped; 0: from the oldest row)."""
        self._connection: sqlite3.Connection | None = None

    def _read(self) -> list[tuple[Any, ...]]:
        if self._connection is None:
            if not self.path.exists():
                return []
            self._connection = _connect(self.path)
        rows: list[tuple[Any, ...]] = self._connection.execute(
            _SELECT, (self._moved, self._limit)
        ).fetchall()
        return rows

    async def move(self, session_factory: async_sessionmaker[AsyncSession]) -> Moved:
        """Move the oldest unmoved rows (up to the limit) in one main-file transaction."""
        rows = await asyncio.to_thread(self._read)
        if not rows:
            return Moved(0, 0)
        received = [
            (
                NewInboxEvent(
                    platform=Platform(platform),
                    channel_id=channel_id,
                    event_id=event_id,
                    ordering_key=ordering_key,
                    kind=kind,
                    payload=payload_from_text(payload),
                    occurred_at=None if occurred_us is None else _moment(occurred_us),
                    redelivery=bool(redelivery),
                    ignored=bool(ignored),
                ),
                _moment(received_us),
            )
            for (
                _seq,
                platform,
                channel_id,
                event_id,
                ordering_key,
                kind,
                payload,
                received_us,
                occurred_us,
                redelivery,
                ignored,
            ) in rows
        ]
        async with session_factory() as session, session.begin():
            new = await add_received(session, received)
        self._moved = int(rows[-1][0])
        if self._mark is not None:
            self._mark.set(self._moved)
        return Moved(len(rows), new)

    async def move_all(self, session_factory: async_sessionmaker[AsyncSession]) -> Moved:
        """Everything the journal holds (at start, before anything else reads the inbox)."""
        rows = new = 0
        while True:
            moved = await self.move(session_factory)
            if not moved.rows:
                return Moved(rows, new)
            rows += moved.rows
            new += moved.new

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


__all__ = [
    "MOVE_LIMIT",
    "JournalBacklog",
    "JournalMover",
    "JournalWriter",
    "MoveMark",
    "Moved",
    "journal_path",
]
