"""Ingest first: on SQLite the webhook's commits go ahead of the background roles' transactions.

SQLite has one writer at a time, and a waiting writer polls with growing sleeps (its busy
handler), so a worker that starts transaction after transaction starves the webhook's
group commit: with `yorozu serve`'s roles in their own process, acknowledgements waited for
the lock and timed out into 503s even at a quarter of the peak (issue 14). This gate gives
the webhook priority without a lock server: two counters in a shared memory block that
`serve` creates and names to its child.

* The API's inbox writer raises `ingest` before each commit and waits (at most
  `INGEST_WAIT`) until no background session is open, so it finds the write lock free.
* The child's sessions (worker, dispatcher, scheduler) wait while `ingest` is raised (at most
  `BACKGROUND_WAIT`, so they are never starved either), then count themselves in
  `background` until the session closes.

Only scheduling depends on it: SQLite's own locking still decides who writes, so a lost or
stale flag can slow things down but never corrupt or lose anything. PostgreSQL has row
locks and needs none of this; the gate is only made for SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from multiprocessing import shared_memory
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

ENV_NAME: Final = "YOROZU_INGEST_GATE"
"""The shared memory block's name, passed by serve to its child."""
INGEST_WAIT: Final = 0.05
BACKGROUND_WAIT: Final = 0.25
POLL: Final = 0.0005
_INGEST, _BACKGROUND = 0, 4  # byte offsets of the two int32 counters


class IngestGate:
    def __init__(self, block: shared_memory.SharedMemory, *, owner: bool) -> None:
        self._block = block
        self._owner = owner

    @classmethod
    def create(cls) -> IngestGate:
        block = shared_memory.SharedMemory(create=True, size=8)
        block.buf[:8] = bytes(8)
        return cls(block, owner=True)

    @classmethod
    def attach(cls, name: str) -> IngestGate | None:
        try:
            block = shared_memory.SharedMemory(name=name)
        except (FileNotFoundError, OSError, ValueError):
            log.warning("ingest gate not found; background sessions run without it")
            return None
        # Python's resource tracker would unlink the block when this child exits; it is the
        # parent's to remove (a restarted child attaches to the same block).
        with contextlib.suppress(Exception):
            from multiprocessing import resource_tracker

            resource_tracker.unregister(block._name, "shared_memory")  # type: ignore[attr-defined]
        return cls(block, owner=False)

    @property
    def name(self) -> str:
        return self._block.name

    def _get(self, offset: int) -> int:
        value: int = struct.unpack_from("i", self._block.buf, offset)[0]
        return value

    def _add(self, offset: int, delta: int) -> None:
        # Each counter has one writing process (a single-threaded event loop): no race.
        struct.pack_into("i", self._block.buf, offset, max(self._get(offset) + delta, 0))

    # -- the API's inbox writer --------------------------------------------------------------

    async def before_commit(self) -> None:
        self._add(_INGEST, 1)
        deadline = time.monotonic() + INGEST_WAIT
        # Another process sets the counter: nothing to await but the memory itself.
        while self._get(_BACKGROUND) > 0 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(POLL)

    def after_commit(self) -> None:
        self._add(_INGEST, -1)

    # -- the child's sessions ------------------------------------------------------------------

    async def enter_background(self) -> None:
        deadline = time.monotonic() + BACKGROUND_WAIT
        while True:
            while self._get(_INGEST) > 0 and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(POLL)
            self._add(_BACKGROUND, 1)
            if self._get(_INGEST) == 0 or time.monotonic() >= deadline:
                return
            self._add(_BACKGROUND, -1)  # the webhook came in between: let it go first

    def exit_background(self) -> None:
        self._add(_BACKGROUND, -1)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._block.close()
        if self._owner:
            with contextlib.suppress(Exception):
                self._block.unlink()


def gated_session_class(gate: IngestGate) -> type[AsyncSession]:
    """An AsyncSession whose `async with` waits for the webhook's commits to go first."""

    class GatedSession(AsyncSession):
        async def __aenter__(self) -> Any:
            await gate.enter_background()
            try:
                return await super().__aenter__()
            except BaseException:
                gate.exit_background()
                raise

        async def __aexit__(self, *exc: Any) -> None:
            try:
                await super().__aexit__(*exc)
            finally:
                gate.exit_background()

    return GatedSession
