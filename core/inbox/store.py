"""The inbox table's operations: store accepted events once, hand them to a handler once.

Storing (`add_events`) is one INSERT ... ON CONFLICT (platform, event_id) DO NOTHING, so a
redelivered LINE event or a retried Slack request is recognised by the database itself
(invariant 2) however many API processes accepted it.

Handling (`handle_next`) claims the *head* event of one person: pending, due
(`next_attempt_at <= now`), and the lowest id among that ordering key's pending events. A
failed head waiting for its backoff therefore holds that person's later events back: order
is kept. The claim, the handler's writes (outbox rows included) and the "done" mark are one
transaction, so a worker killed half-way rolls all of it back and the event stays pending:
the effect happens exactly once, and no lease or heartbeat is needed.

PostgreSQL: the claim is an UPDATE of the row picked with FOR UPDATE SKIP LOCKED, so any
number of workers take different people's heads in parallel; a transaction-scoped advisory
lock on the ordering key also keeps one person's events from ever running at once when two
API processes commit that person's events out of id order.

SQLite (the embedded default): one process runs one worker loop, and SQLite serialises
writers. Every transaction here starts with its write (the claim is an UPDATE), so a WAL
read snapshot never has to be upgraded into a write lock (which would fail at once with
SQLITE_BUSY_SNAPSHOT instead of waiting out the busy timeout). While a handler runs it holds
the write lock, so the webhook's commit waits for it: keep handlers short (they write rows;
the dispatcher talks to the platforms).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal, cast

from sqlalchemy import (
    ColumnClause,
    Select,
    Table,
    bindparam,
    func,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from core.db import planner
from core.db.conflict import insert_or_skip
from core.db.models.inbox import InboxEvent
from core.domain.enums import InboxStatus, Platform
from core.inbox import pg_claim, pg_insert

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, InboxEvent], Awaitable[None]]
"""Handles one event inside the transaction that marks it done: its writes commit with it."""

KeyHasher = Callable[[str], str]
Observer = Callable[[str, str, float], None]
"""Told (platform, outcome, seconds) after each event: outcome is handled, failed or dead."""
"""Turns an ordering key (which holds a platform user id) into something safe to log."""

_E = InboxEvent
_TABLE = cast(Table, InboxEvent.__table__)
_ADVISORY_NAMESPACE = 0x1B0C
"""First key of pg_try_advisory_xact_lock(int, int): keeps our locks apart from others'."""
_PENDING_LITERAL: ColumnClause[str] = literal_column(f"'{InboxStatus.PENDING.value}'")
BATCH_LIMIT = 16
"""Events taken per batch transaction on SQLite: the oldest due ones, in id order."""
PG_BATCH_LIMIT = 16
"""Heads (people) taken per batch on PostgreSQL. A batch costs about nine round trips of its
own (checkout, begin, plan settings, window, lock, advisory locks, done marks, commit) before
its handlers' two or three each, so its size decides the throughput: one worker handled
471 events/s at 4 a batch, 686/s at 16 (issue 14). The claim takes at most half the free
heads it sees (core/inbox/pg_claim.py), so the loops and workers still share a few people."""
BATCH_BUDGET = 0.012
"""SQLite: seconds of handling after which a batch commits early: the main file's other
writers (the dispatcher, the scheduler, Slack actions and the console) wait at most about this
long for SQLite's write lock. serve's webhooks do not wait for it: they commit to the arrivals
journal (core/inbox/journal.py)."""
PG_BATCH_BUDGET = 0.5
"""PostgreSQL: nobody waits for a batch's locks (other loops skip its rows), so the budget
only bounds how long its first replies wait for the commit. SQLite's 12 ms cut PostgreSQL's
batches to three events, a loop's handlers being interleaved with seven others'."""
_CLAIM_TRIES = 4
"""Heads tried per call when another worker holds the person's advisory lock."""
_ERROR_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class NewInboxEvent:
    """An accepted platform event, ready to be stored (what a webhook translates into)."""

    platform: Platform
    channel_id: str
    event_id: str
    """The platform's own id: LINE webhookEventId, Slack event_id. Unique per platform."""
    ordering_key: str
    """Events with one key are handled one at a time, in order: "line:{channel}:{user}"."""
    kind: str
    payload: Mapping[str, Any]
    occurred_at: datetime | None = None
    redelivery: bool = False
    ignored: bool = False
    """Stored for the record but never handled (LINE standby mode, our own Slack events)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, and a bound on attempts before "dead"."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=2)
    cap: timedelta = timedelta(minutes=30)
    jitter: float = 0.5
    """The delay is drawn from [(1 - jitter) * d, d]; 0 makes it deterministic."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")

    def delay(self, failures: int, rng: random.Random | None = None) -> timedelta:
        """The wait before the next attempt after `failures` failed attempts (1, 2, ...)."""
        exponent = min(max(failures, 1) - 1, 32)
        full = min(self.cap, self.base * (1 << exponent))
        if self.jitter == 0.0:
            return full
        draw = (rng or random).random()
        return full * (1.0 - self.jitter * draw)


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class DeadEvent:
    """What an operator sees of an event that failed too often; never its payload."""

    id: int
    platform: Platform
    kind: str
    attempts: int
    last_error: str | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class InboxStats:
    counts: Mapping[InboxStatus, int] = field(default_factory=dict)
    """Events per status; every status is present (0 when none)."""
    oldest_pending_age: timedelta | None = None
    """How long the oldest pending event has waited since it was received."""


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _row(event: NewInboxEvent, now: datetime) -> dict[str, Any]:
    return {
        "platform": event.platform,
        "channel_id": event.channel_id,
        "event_id": event.event_id,
        "ordering_key": event.ordering_key,
        "kind": event.kind,
        "payload": dict(event.payload),
        "received_at": now,
        "occurred_at": event.occurred_at,
        "redelivery": event.redelivery,
        "status": InboxStatus.IGNORED if event.ignored else InboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
        "handled_at": None,
    }


_ADD_EVENTS: Final = insert_or_skip(_TABLE, ["platform", "event_id"], postgres=False).returning(
    _TABLE.c.id
)
"""SQLite's inbox insert; PostgreSQL's is core/inbox/pg_insert.py."""


async def add_events(
    session: AsyncSession, events: Sequence[NewInboxEvent], *, now: datetime
) -> int:
    """Store the events that are new; returns how many were (duplicates are dropped).

    Runs inside the caller's transaction: the caller commits, and only then may the webhook
    acknowledge. Duplicates inside `events` itself count once.
    """
    return await add_received(session, [(event, now) for event in events])


async def add_received(
    session: AsyncSession, received: Sequence[tuple[NewInboxEvent, datetime]]
) -> int:
    """`add_events` for events received at different times (each with its own): what the
    arrivals journal moves (core/inbox/journal.py)."""
    if not received:
        return 0
    dialect = _dialect(session)
    if dialect == "postgresql":
        return await pg_insert.add_received(session, received)
    if dialect != "sqlite":  # pragma: no cover - the two backends
        raise RuntimeError(f"the inbox supports sqlite and postgresql, not {dialect}")
    # SQLite: one statement with a cache key (core.db.conflict), executed with many
    # parameter sets: SQLAlchemy's "insertmanyvalues" turns it into a few multi-row
    # INSERT ... RETURNING statements without compiling SQL again for each request.
    rows = [_row(event, at) for event, at in received]
    result = await session.execute(_ADD_EVENTS, rows)
    return len(result.all())


def _heads(now: datetime) -> Select[tuple[int]]:
    """SQLite: the id of the oldest due event that is the first pending event of its person.

    Aliased so the UPDATE that embeds it does not correlate it to the updated row. The status
    literals (not bound parameters) let the planner use the partial indexes of pending ids
    (migration 0011) and of each person's pending events (0017).
    """
    candidate = aliased(_E, name="candidate")
    earlier = aliased(_E, name="earlier")
    blocked = (
        select(earlier.id)
        .where(
            earlier.ordering_key == candidate.ordering_key,
            earlier.status == _PENDING_LITERAL,
            earlier.id < candidate.id,
        )
        .exists()
    )
    return (
        select(candidate.id)
        .where(candidate.status == _PENDING_LITERAL, candidate.next_attempt_at <= now, ~blocked)
        .order_by(candidate.id)
        .limit(1)
    )


_SQLITE_BATCH_CLAIM: Final = """
UPDATE inbox_events SET attempts = attempts WHERE id IN (
    SELECT candidate.id FROM inbox_events AS candidate INDEXED BY ix_inbox_events_pending_id
    WHERE candidate.status = 'pending' AND candidate.next_attempt_at <= :now
    AND NOT EXISTS (
        SELECT 1 FROM inbox_events AS earlier INDEXED BY ix_inbox_events_pending_key
        WHERE earlier.ordering_key = candidate.ordering_key AND earlier.status = 'pending'
        AND earlier.id < candidate.id AND earlier.next_attempt_at > :now
    )
    ORDER BY candidate.id LIMIT :limit
) RETURNING {columns}
"""


@functools.cache
def _sqlite_batch_claim(limit: int) -> Any:
    """The batch claim on SQLite, in SQL, with the pending-id index named.

    Without statistics SQLite's planner chose the (status, next_attempt_at) index for the
    candidates, then sorted every pending row by id for each claim: 18 to 40 ms a claim with
    20,000 events waiting, the worker's largest cost under a burst (issue 14). The partial
    index of pending ids (migration 0011) gives them in id order, so the scan stops at
    `limit` heads: 0.08 ms. SQLAlchemy renders no table hints for SQLite, hence the text.
    """
    columns = ", ".join(column.name for column in _TABLE.c)
    statement = text(_SQLITE_BATCH_CLAIM.format(columns=columns)).bindparams(
        bindparam("now", type_=_E.next_attempt_at.type), bindparam("limit", value=limit)
    )
    return select(_E).from_statement(statement.columns(*_TABLE.c))


async def _claim_batch(session: AsyncSession, now: datetime, limit: int) -> list[InboxEvent]:
    """Claims up to `limit` events to handle in one transaction, in id order.

    SQLite (one worker loop): the oldest due events that no earlier event in backoff holds
    back, several of one person's in order. PostgreSQL (many loops and workers): the oldest
    due *heads*, one per person, row-locked with SKIP LOCKED so that loops take different
    people (core/inbox/pg_claim.py says how they are found).
    """
    if _dialect(session) == "postgresql":
        return await pg_claim.claim_heads(session, now, limit)
    claimed = await session.scalars(_sqlite_batch_claim(limit), {"now": now})
    return sorted(claimed.all(), key=lambda event: event.id)


async def _advisory_locked(session: AsyncSession, events: Sequence[InboxEvent]) -> list[InboxEvent]:
    """The claimed heads whose person this transaction could lock (one round trip).

    A person whose lock another worker holds is being handled there (their events were
    committed out of id order): their head stays pending, for after that.
    """
    ids = [event.id for event in events]
    # In the select list, not the WHERE clause: taken for exactly these rows, whatever plan.
    tried = await session.execute(
        select(
            _E.id,
            func.pg_try_advisory_xact_lock(_ADVISORY_NAMESPACE, func.hashtext(_E.ordering_key)),
        ).where(_E.id.in_(ids))
    )
    locked = {event_id for event_id, got in tried if got}
    return [event for event in events if event.id in locked]


async def _claim(session: AsyncSession, now: datetime) -> InboxEvent | None:
    """Take the head event of one person, locked until this transaction ends."""
    saved = await planner.index_order_only(session)
    event = await _claim_head(session, now, postgres=_dialect(session) == "postgresql")
    await planner.restore(session, saved)
    return event


async def _claim_head(session: AsyncSession, now: datetime, *, postgres: bool) -> InboxEvent | None:
    if not postgres:
        # A no-op UPDATE as the claim: it makes the transaction's first statement a write
        # (see the module docstring).
        claim = (
            update(_E)
            .where(_E.id == _heads(now).scalar_subquery())
            .values(attempts=_E.attempts)
            .returning(_E)
            .execution_options(synchronize_session=False)
        )
        return (await session.scalars(claim)).one_or_none()
    passed: list[str] = []
    for _ in range(_CLAIM_TRIES):
        heads = await pg_claim.claim_heads(session, now, 1, passed=passed)
        if not heads:
            return None
        event = heads[0]
        locked = await session.scalar(
            select(
                func.pg_try_advisory_xact_lock(
                    _ADVISORY_NAMESPACE, func.hashtext(event.ordering_key)
                )
            )
        )
        if locked:
            return event
        # Another worker is handling an earlier-committed event of this person.
        passed.append(event.ordering_key)
    return None


def describe_error(error: BaseException) -> str:
    """The exception's type and message, cut short: what operators see as last_error."""
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    message = str(error)
    described = f"{name}: {message}" if message else name
    return described[:_ERROR_LIMIT]


async def handle_next(
    session_factory: async_sessionmaker[AsyncSession],
    handler: Handler,
    now: datetime,
    worker_id: str,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
    hash_key: KeyHasher | None = None,
    observe: Observer | None = None,
) -> bool:
    """Handle one due head event; False when there was none to take.

    The handler runs in the claim's transaction and the event is marked done in it. If the
    handler (or that commit) raises, the transaction is rolled back and the failure is
    recorded in a fresh one: attempts + 1 and a backoff, or "dead" after
    `policy.max_attempts`. Cancellation (a worker being stopped or killed) records nothing:
    the event simply stays pending.
    """
    claimed: tuple[int, int, str, str] | None = None
    platform = ""
    started = time.perf_counter()
    try:
        async with session_factory() as session, session.begin():
            event = await _claim(session, now)
            if event is None:
                return False
            claimed = (event.id, event.attempts, event.ordering_key, event.kind)
            platform = str(event.platform)
            await handler(session, event)
            await session.execute(
                update(_E)
                .where(_E.id == claimed[0])
                .values(status=InboxStatus.DONE, handled_at=now)
                .execution_options(synchronize_session=False)
            )
    except Exception as error:
        if claimed is None:
            raise
        event_id, attempts, key, kind = claimed
        outcome = await _record_failure(
            session_factory,
            event_id=event_id,
            seen_attempts=attempts,
            error=error,
            now=now,
            policy=policy,
            rng=rng,
            log_extra={
                "inbox_event_id": event_id,
                "kind": kind,
                "worker": worker_id,
                "error_type": type(error).__name__,
                **({"person": hash_key(key)} if hash_key else {}),
            },
        )
        if observe is not None and outcome is not None:
            observe(platform, outcome, time.perf_counter() - started)
        return True
    if observe is not None:
        observe(platform, "handled", time.perf_counter() - started)
    event_id, _, key, kind = claimed
    log.debug(
        "inbox event handled",
        extra={
            "inbox_event_id": event_id,
            "kind": kind,
            "worker": worker_id,
            **({"person": hash_key(key)} if hash_key else {}),
        },
    )
    return True


async def handle_batch(
    session_factory: async_sessionmaker[AsyncSession],
    handler: Handler,
    now: datetime,
    worker_id: str,
    *,
    limit: int | None = None,
    budget: float | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    rng: random.Random | None = None,
    hash_key: KeyHasher | None = None,
    observe: Observer | None = None,
) -> int:
    """Handle the oldest due events in one transaction; how many were handled (0: none due).

    A transaction per event spent more time on its claim and commit than on the handling:
    on SQLite every commit took the one write lock again, in turn with the webhook, and on
    PostgreSQL every commit waited for its own WAL flush (issue 14). Here one claim takes up
    to `limit` events (by default BATCH_LIMIT on SQLite, PG_BATCH_LIMIT on PostgreSQL),
    handled in id order in the claim's transaction until `budget` seconds have passed (by
    default BATCH_BUDGET or PG_BATCH_BUDGET); the done marks and the handlers' writes commit
    together.

    Order per person holds. SQLite: the claim holds the write lock, so nothing is inserted
    meanwhile, and a person whose earlier event waits for its backoff has none of their
    later ones taken. PostgreSQL: only each person's head is taken, row-locked, and only
    when the person's advisory lock is free, as `handle_next` does it. Exactly-once holds as
    for `handle_next`: all of it commits or none of it does.

    If a handler raises, the whole batch rolls back and the same events are handled one
    transaction each by `handle_next`, which records the failure on the event it belongs to
    (so one bad event costs its batch a second run, and never a neighbour's attempt).
    """
    taken = 0
    handled: list[tuple[str, float]] = []
    try:
        async with session_factory() as session, session.begin():
            postgres = _dialect(session) == "postgresql"
            size = limit or (PG_BATCH_LIMIT if postgres else BATCH_LIMIT)
            seconds = (
                budget if budget is not None else PG_BATCH_BUDGET if postgres else BATCH_BUDGET
            )
            saved = await planner.index_order_only(session)
            events = await _claim_batch(session, now, size)
            await planner.restore(session, saved)
            taken = len(events)
            if postgres and events:
                events = await _advisory_locked(session, events)
            done: list[int] = []
            started = time.perf_counter()
            for event in events:
                began = time.perf_counter()
                await handler(session, event)
                done.append(event.id)
                handled.append((str(event.platform), time.perf_counter() - began))
                if began - started > seconds:
                    break
            if done:
                await session.execute(
                    update(_E)
                    .where(_E.id.in_(done))
                    .values(status=InboxStatus.DONE, handled_at=now)
                    .execution_options(synchronize_session=False)
                )
    except Exception as error:
        if not taken:
            raise
        log.warning(
            "inbox batch rolled back; handling its events one by one",
            extra={"worker": worker_id, "events": taken, "error_type": type(error).__name__},
        )
        count = 0
        for _ in range(taken):
            if not await handle_next(
                session_factory,
                handler,
                now,
                worker_id,
                policy=policy,
                rng=rng,
                hash_key=hash_key,
                observe=observe,
            ):
                break
            count += 1
        return count
    if observe is not None:
        for platform, seconds in handled:
            observe(platform, "handled", seconds)
    return len(handled)


async def _record_failure(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    event_id: int,
    seen_attempts: int,
    error: Exception,
    now: datetime,
    policy: RetryPolicy,
    rng: random.Random | None,
    log_extra: dict[str, Any],
) -> str | None:
    """Count the failure; "failed" or "dead", or None when another worker had counted it."""
    failures = seen_attempts + 1
    dead = failures >= policy.max_attempts
    values: dict[str, Any] = {
        "attempts": failures,
        "last_error": describe_error(error),
        "next_attempt_at": now if dead else now + policy.delay(failures, rng),
    }
    if dead:
        values["status"] = InboxStatus.DEAD
    async with session_factory() as session, session.begin():
        # Guarded by what the claim saw: if another worker took the event in between (it was
        # pending and due once our transaction rolled back), only one failure is counted.
        result = await session.execute(
            update(_E)
            .where(
                _E.id == event_id,
                _E.status == InboxStatus.PENDING,
                _E.attempts == seen_attempts,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if getattr(result, "rowcount", 0) != 1:
        return None
    if dead:
        log.error("inbox event dead", extra={**log_extra, "attempts": failures})
        return "dead"
    log.warning(
        "inbox event failed, will retry",
        extra={**log_extra, "attempts": failures, "retry_at": values["next_attempt_at"]},
    )
    return "failed"


async def list_dead(session: AsyncSession, *, limit: int = 100) -> list[DeadEvent]:
    """Dead events, oldest first."""
    rows = await session.execute(
        select(_E.id, _E.platform, _E.kind, _E.attempts, _E.last_error, _E.received_at)
        .where(_E.status == InboxStatus.DEAD)
        .order_by(_E.id)
        .limit(limit)
    )
    return [DeadEvent(*row) for row in rows.tuples()]


async def replay(
    session: AsyncSession, ids: Collection[int] | Literal["all"], *, now: datetime
) -> int:
    """Make dead events pending again with their attempts reset; returns how many.

    Only dead events move: an id that is pending, done or ignored is left alone. A replayed
    event is again its person's first pending event, so it is handled before anything of
    theirs still waiting. last_error is kept until the event succeeds or fails again.
    """
    statement = (
        update(_E)
        .where(_E.status == InboxStatus.DEAD)
        .values(status=InboxStatus.PENDING, attempts=0, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    if ids != "all":
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        statement = statement.where(_E.id.in_(wanted))
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0))


async def stats(session: AsyncSession, *, now: datetime) -> InboxStats:
    """Events per status and the age of the oldest pending one, for metrics and health."""
    counts: dict[InboxStatus, int] = dict.fromkeys(InboxStatus, 0)
    rows = await session.execute(select(_E.status, func.count()).group_by(_E.status))
    for status, count in rows.tuples():
        counts[InboxStatus(status)] = int(count)
    oldest = await session.scalar(
        select(func.min(_E.received_at)).where(_E.status == InboxStatus.PENDING)
    )
    age = None if oldest is None else max(now - oldest, timedelta(0))
    return InboxStats(counts=counts, oldest_pending_age=age)


__all__ = [
    "DEFAULT_POLICY",
    "DeadEvent",
    "Handler",
    "InboxStats",
    "KeyHasher",
    "NewInboxEvent",
    "RetryPolicy",
    "add_events",
    "add_received",
    "describe_error",
    "handle_next",
    "list_dead",
    "replay",
    "stats",
]
