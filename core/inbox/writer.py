"""Group commit for the webhooks: many requests' events, one transaction.

Each webhook request hands its events to `InboxWriter.submit` and waits until the
transaction holding them has committed; only then does it answer 200 (durable before the
acknowledgement, invariant 3). Requests arriving together share one INSERT and one commit,
so the database sees a few large transactions instead of one per request: the writer
flushes when `max_batch` events are waiting, or `linger` seconds after the first one
arrived, and while `max_in_flight` batches commit the next one fills. (Batches in flight
together may commit in either order; requests that were in flight together have no order
between them anyway, and the worker never runs one person's events at once.)

After a commit that stored something new, `wake(new_count)` tells workers there is work
(the composition root passes a Redis publisher; the database stays the record, a lost
wake-up only means a worker notices at its next poll).

A request that may wait only so long (LINE's two seconds) says so with `give_up_after`; the
writer keeps the deadlines: one timer for the oldest waiting request instead of a timer per
request (`asyncio.timeout` around each submit was a tenth of the webhook's CPU; issue 14).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import Clock
from core.inbox.store import NewInboxEvent, add_events

log = logging.getLogger(__name__)

Wake = Callable[[int], Awaitable[None]]
"""Called after a commit with the number of new events: tells workers to look."""
Store = Callable[[Sequence[NewInboxEvent], datetime], Awaitable[int]]
"""Commits a batch somewhere other than `inbox_events`; returns how many were new
(serve on SQLite: the arrivals journal, core/inbox/journal.py)."""


class InboxWriterClosed(RuntimeError):
    """The writer is shutting down and takes no more events."""


_Entry = tuple[Sequence[NewInboxEvent], "asyncio.Future[None]"]
_Deadline = tuple[float, "asyncio.Future[None]"]


class InboxWriter:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        wake: Wake | None = None,
        max_batch: int = 256,
        linger: float = 0.002,
        max_in_flight: int = 2,
        observe: Callable[[int, int], None] | None = None,
        store: Store | None = None,
    ) -> None:
        if max_batch < 1 or max_in_flight < 1:
            raise ValueError("max_batch and max_in_flight must be at least 1")
        self._sessions = session_factory
        self._clock = clock
        self._wake = wake
        self._observe = observe
        """Called after each commit with (events received, events new): for metrics."""
        self._store = store
        self._max_batch = max_batch
        self._linger = linger
        self._queue: list[_Entry] = []
        self._queued_events = 0
        self._ready = asyncio.Event()
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._slots = asyncio.Semaphore(max_in_flight)
        self._flushing: set[asyncio.Task[None]] = set()
        self._waking = 0
        """New events committed that the workers have not been told of yet."""
        self._waker: asyncio.Task[None] | None = None
        self._deadlines: dict[float, deque[_Deadline]] = {}
        """Per `give_up_after`, the waiting requests' deadlines in the order they came (so each
        deque is sorted): its head is the next to expire."""
        self._expiry: asyncio.Task[None] | None = None
        self._expiry_at = 0.0
        """When `_expiry` next wakes."""
        self.batches = 0
        """Transactions committed so far (for tests and the benchmark)."""

    async def start(self) -> None:
        """Start the flush loop (submit also starts it on first use)."""
        if self._closing:
            raise InboxWriterClosed("the inbox writer is closed")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def submit(
        self, events: Sequence[NewInboxEvent], *, give_up_after: float | None = None
    ) -> None:
        """Store `events`; returns once the transaction holding them has committed.

        Raises what the commit raised (the caller answers 5xx and the platform retries;
        a retry of events that did commit is then recognised by their ids), or TimeoutError
        when the commit has not come within `give_up_after` seconds (the events may still commit
        after it; a redelivery is recognised the same way).
        """
        if not events:
            return
        if self._closing:
            raise InboxWriterClosed("the inbox writer is closed")
        if self._task is None or self._task.done():
            await self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if give_up_after is not None:
            waiting = self._deadlines.get(give_up_after)
            if waiting is None:
                waiting = self._deadlines[give_up_after] = deque()
            deadline = loop.time() + give_up_after
            waiting.append((deadline, future))
            if self._expiry is None or self._expiry.done() or deadline < self._expiry_at:
                if self._expiry is not None:
                    self._expiry.cancel()  # it sleeps past this one (a shorter give_up_after)
                self._expiry_at = deadline
                self._expiry = asyncio.create_task(self._expire(), name="inbox-writer-expiry")
        self._queue.append((events, future))
        self._queued_events += len(events)
        self._ready.set()
        if self._queued_events >= self._max_batch:
            self._full.set()
        await future

    async def aclose(self) -> None:
        """Commit what is queued, then stop."""
        self._closing = True
        self._ready.set()
        self._full.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
            self._expiry = None

    def _drop_answered(self) -> float | None:
        """Forget the deadlines of requests already answered; the next deadline, if any."""
        upcoming: float | None = None
        for timeout, waiting in list(self._deadlines.items()):
            while waiting and waiting[0][1].done():
                waiting.popleft()
            if not waiting:
                del self._deadlines[timeout]
            elif upcoming is None or waiting[0][0] < upcoming:
                upcoming = waiting[0][0]
        return upcoming

    async def _expire(self) -> None:
        """Fail each request still waiting at its deadline with TimeoutError."""
        loop = asyncio.get_running_loop()
        while (upcoming := self._drop_answered()) is not None:
            if upcoming > loop.time():
                self._expiry_at = upcoming
                await asyncio.sleep(upcoming - loop.time())
                continue
            now = loop.time()
            for waiting in self._deadlines.values():
                while waiting and waiting[0][0] <= now:
                    _, future = waiting.popleft()
                    if not future.done():
                        future.set_exception(TimeoutError("the commit did not come in time"))

    async def _run(self) -> None:
        try:
            await self._loop()
        finally:
            # Stopped (cancelled or a bug): nobody may wait forever for a commit.
            queued, self._queue, self._queued_events = self._queue, [], 0
            for _, future in queued:
                if not future.done():
                    future.set_exception(InboxWriterClosed("the inbox writer stopped"))

    async def _loop(self) -> None:
        while True:
            await self._ready.wait()
            if not self._queue:
                self._ready.clear()
                if self._closing:
                    if self._flushing:
                        await asyncio.gather(*self._flushing, return_exceptions=True)
                    if self._waker is not None:
                        await asyncio.gather(self._waker, return_exceptions=True)
                    return
                continue
            if self._linger > 0 and not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._linger):
                        await self._full.wait()
            # While every slot is busy, more requests join the next batch.
            await self._slots.acquire()
            batch = self._take()
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._flush_in_slot(batch), name="inbox-writer-flush")
            self._flushing.add(task)
            task.add_done_callback(self._flushing.discard)

    async def _flush_in_slot(self, batch: list[_Entry]) -> None:
        try:
            await self._flush(batch)
        finally:
            self._slots.release()

    def _take(self) -> list[_Entry]:
        """Whole requests, oldest first, up to about `max_batch` events."""
        count = cut = 0
        while cut < len(self._queue) and count < self._max_batch:
            count += len(self._queue[cut][0])
            cut += 1
        taken, self._queue = self._queue[:cut], self._queue[cut:]
        self._queued_events -= count
        if self._queued_events < self._max_batch:
            self._full.clear()
        if not self._queue:
            self._ready.clear()
        return taken

    async def _flush(self, batch: list[_Entry]) -> None:
        events = [event for entry_events, _ in batch for event in entry_events]
        try:
            if self._store is not None:
                added = await self._store(events, self._clock.now())
            else:
                async with self._sessions() as session, session.begin():
                    added = await add_events(session, events, now=self._clock.now())
        except Exception as error:  # every waiting request learns of it, then we go on
            log.error(
                "inbox batch failed",
                extra={"events": len(events), "error_type": type(error).__name__},
            )
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self.batches += 1
        if self._observe is not None:
            self._observe(len(events), added)
        for _, future in batch:
            if not future.done():
                future.set_result(None)
        if self._deadlines:
            self._drop_answered()  # a little at each commit, not all at once at a deadline
        if added and self._wake is not None:
            self._waking += added
            if self._waker is None or self._waker.done():
                self._waker = asyncio.create_task(self._send_wakes(), name="inbox-writer-wake")

    async def _send_wakes(self) -> None:
        """Tell the workers of new events, outside the commit slots.

        A wake-up is a round trip to Redis; awaited in the slot it held the next batch back
        by as long as the event loop took to come back to it (24 ms in a burst, three times
        the insert; issue 14). Batches that commit while one is on its way are told in one.
        """
        assert self._wake is not None
        while self._waking:
            count, self._waking = self._waking, 0
            try:
                await self._wake(count)
            except Exception as error:  # the database holds the events anyway
                log.warning("inbox wake-up failed", extra={"error_type": type(error).__name__})
