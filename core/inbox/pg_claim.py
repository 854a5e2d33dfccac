"""PostgreSQL's inbox claim: each person's first pending event, found without a probe per row.

The claim must take only a person's *head*: their pending event with the lowest id, and only
once it is due. The first form of the claim asked, for every candidate, "is an earlier event
of this person pending?" in a NOT EXISTS, and left the planner to join it. The planner costs
a scan of a partial index by how many rows it expects to match the index's predicate
(status = 'pending'), and it knows that count only from statistics. Those say almost nothing
is pending exactly when a burst begins: a prepared statement's generic plan made on a quiet
inbox, or statistics analyzed on one. With one matching row expected, a scan of every
pending event per candidate costs the same as the index probe, and PostgreSQL keeps the
unparameterized path on a tie. Measured in issue 14 after a burst of 4,000 events: the
claim took 0.4 to 1.6 s, and two workers beside serve handled 30 to 50 events/s.

So there is no join left for the planner to get wrong:

1. Read the lowest pending ids in order, `WINDOW` rows at a time (the partial index of
   pending ids, migration 0011; a plain read, so rows other loops hold are seen too). Pending
   rows are a prefix in id order, so whether a row is its person's first pending event is
   answered inside what was read: it is unless an earlier row read has the same person.
2. Of those first events, the due ones are candidates. A person whose first event waits for
   its backoff has no candidate at all, which keeps their order.
3. Lock up to `limit` candidates in id order with FOR UPDATE SKIP LOCKED, re-checking that
   each is still pending: heads another loop holds or has just finished are passed over. At
   most half the candidates seen are taken (at least one): with few people waiting, one
   loop does not take them all while the other loops and workers idle.

The next window is read only when one gave fewer candidates than asked for; a window costs
one index range read, whatever the backlog. Events another API process commits later with a
lower id are the case module store's advisory lock covers, as before.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnClause,
    any_,
    bindparam,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models.inbox import InboxEvent

_E = InboxEvent
WINDOW: Final = 256
"""Pending rows read per look: more than the heads a few workers' loops hold at once (8
loops of 4 each per worker), so that one look usually finds free ones."""
_CANDIDATES_MAX: Final = 1024
"""Candidates passed to one lock statement; more would only be skipped there anyway."""

_PENDING: Final[ColumnClause[str]] = literal_column("'pending'")
_PENDING_WINDOW: Final = text(
    "SELECT id, ordering_key, next_attempt_at <= :now AS due FROM inbox_events"
    " WHERE status = 'pending' AND id > :after ORDER BY id LIMIT :window"
).bindparams(bindparam("now", type_=_E.next_attempt_at.type))
"""The status literal (not a parameter) lets the planner match the partial index."""

_LOCK: Final = (
    update(_E)
    .where(
        _E.id.in_(
            select(_E.id)
            .where(
                _E.id == any_(bindparam("ids", type_=ARRAY(BigInteger))),
                _E.status == _PENDING,
                _E.next_attempt_at <= bindparam("now", type_=_E.next_attempt_at.type),
            )
            .order_by(_E.id)
            .limit(bindparam("limit"))
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    )
    .values(attempts=_E.attempts)
    .returning(_E)
    .execution_options(synchronize_session=False)
)
"""Re-checked under the lock: a head another loop finished, or failed into its backoff, since
the window was read is passed over. The no-op UPDATE returns the event, as the other claims
do. One array parameter, so one prepared statement whatever the number of candidates."""


async def claim_heads(
    session: AsyncSession, now: datetime, limit: int, *, passed: Collection[str] = ()
) -> list[InboxEvent]:
    """Lock up to `limit` due heads of different people, in id order (module docstring).

    People in `passed` are left out (the caller could not take their advisory lock).
    """
    seen: set[str] = set(passed)
    after = 0
    while True:
        rows: Sequence[Any] = (
            await session.execute(_PENDING_WINDOW, {"now": now, "after": after, "window": WINDOW})
        ).all()
        candidates = []
        for event_id, key, due in rows:
            if key in seen:
                continue
            seen.add(key)
            if due:
                candidates.append(event_id)
        if candidates:
            share = min(limit, max(1, (len(candidates) + 1) // 2))
            claimed = await session.scalars(
                _LOCK, {"ids": candidates[:_CANDIDATES_MAX], "now": now, "limit": share}
            )
            events = sorted(claimed.all(), key=lambda event: event.id)
            if events or len(rows) < WINDOW:
                return events
        elif len(rows) < WINDOW:
            return []
        after = rows[-1][0]
