"""SQLite run in the event loop's own thread, for the process whose loop does nothing else.

aiosqlite runs every call in a thread of its own and hands the result back through the event
loop: for SQLAlchemy that is four or five hops per statement (cursor, execute, fetch, close),
and a worker handling one LINE event ran about seventy of them. Profiling `yorozu serve`'s
background process under a burst (issue 14) showed it idle half the time, waiting for those
hand-offs, with the GIL going back and forth between the two threads.

Here the same calls run at once, in the caller's thread: each coroutine finishes without
suspending, so SQLAlchemy's aiosqlite dialect drives it unchanged (it is passed as the
engine's `async_creator`). A statement on a local file takes microseconds.

Waiting for the write lock must not block the thread: two sessions of one loop (the worker
holding the lock while it awaits something, the dispatcher wanting it) would deadlock until
the busy timeout. So SQLite's own busy timeout is 0 here, and a statement refused with
SQLITE_BUSY is tried again after an asyncio sleep, with growing pauses, until `timeout`
seconds have passed, as SQLite's busy handler would (SQLITE_BUSY_SNAPSHOT, which no waiting
can cure, is raised at once). It is only for `yorozu background`, whose loop holds the
worker, dispatcher and scheduler and no request; the API keeps aiosqlite.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

_T = TypeVar("_T")
_SQLITE_BUSY = 5
_FIRST_PAUSE = 0.0005
_LONGEST_PAUSE = 0.01


async def _when_unlocked(call: Callable[[], _T], patience: float) -> _T:
    """`call()`, tried again while SQLite answers SQLITE_BUSY, for at most `patience` s."""
    deadline = time.monotonic() + patience
    pause = _FIRST_PAUSE
    while True:
        try:
            return call()
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", None) != _SQLITE_BUSY:
                raise
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)


class InlineCursor:
    """The part of aiosqlite's Cursor that SQLAlchemy's adapter uses."""

    def __init__(self, cursor: sqlite3.Cursor, timeout: float) -> None:
        self._cursor = cursor
        self._timeout = timeout

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await _when_unlocked(lambda: self._cursor.execute(sql, parameters), self._timeout)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        rows = list(parameters)
        await _when_unlocked(lambda: self._cursor.executemany(sql, rows), self._timeout)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


class _Calls:
    """Stands in for aiosqlite's queue of calls: the adapter's isolation-level setter puts a
    (future, function) pair here; it is run at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class InlineConnection:
    """The part of aiosqlite's Connection that SQLAlchemy's adapter uses."""

    def __init__(self, connection: sqlite3.Connection, timeout: float) -> None:
        self._conn = connection
        self._tx = _Calls()
        self._timeout = timeout

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor(), self._timeout)

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return await InlineCursor(self._conn.cursor(), self._timeout).execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        await _when_unlocked(self._conn.commit, self._timeout)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()

    def stop(self) -> None:
        """What the adapter calls to terminate a connection: there is no thread to stop."""
        self._conn.close()


def inline_creator(path: str, *, timeout: float = 30.0) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine: a connection to `path`, run inline.

    The engine must not set a busy timeout of its own on these connections (see above).
    """

    async def connect() -> InlineConnection:
        connection = sqlite3.connect(path, timeout=0, check_same_thread=False)
        return InlineConnection(connection, timeout)

    return connect
