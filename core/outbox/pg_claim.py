"""PostgreSQL's outbox claim: the most urgent due heads, with no probe per candidate.

A row may go out only when it is its recipient's *head*: the lowest id among that ordering
key's pending and sending rows. The claim used to ask that of every candidate in a NOT
EXISTS joined to the candidates' walk. After statistics taken on a quiet outbox (a night
with nothing pending, then a morning's burst), the planner expects one in-flight row, and
at one row a scan of every in-flight row per candidate costs what the probe costs; it
keeps the unparameterized path on such a tie. Measured with 20,000 replies queued for 500
recipients: 2.8 s a claim of 200, four million rows read (issue 14; the inbox's claim had
the same defect, core/inbox/pg_claim.py).

So nothing is left to join:

1. Candidates are read in claim order, a page at a time, without locks: rows whose lease
   lapsed (their dispatcher died), then pending due rows one priority at a time by
   (not_before, id) on the partial index of migration 0016.
2. One look-up gives the lowest in-flight id of every candidate's recipient; a candidate is
   a head when it is that row.
3. The heads are locked FOR UPDATE SKIP LOCKED, in claim order up to what is still wanted,
   and re-checked as still due: rows another dispatcher is claiming, or has claimed since
   the read, are passed over. Lapsed rows and pending rows are each locked up to `limit`
   and then ranked together, so up to twice `limit` rows are locked for the claim's short
   transaction; those not taken are free again at its commit.

A page holding too few heads (a deep queue to one recipient) is followed by the next, so a
claim costs a few index range reads whatever the backlog.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import BigInteger, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models.outbox import OutboxMessage

PAGE_FACTOR: Final = 2
"""Candidates read per page, as a multiple of the heads still wanted."""
_WHEN = OutboxMessage.not_before.type

_LAPSED: Final = text(
    "SELECT id, ordering_key, priority, not_before FROM outbox_messages"
    " WHERE status = 'sending' AND locked_until <= :now"
    " ORDER BY priority, not_before, id LIMIT :page"
).bindparams(bindparam("now", type_=_WHEN))
_NEXT_PRIORITY: Final = text(
    "SELECT priority FROM outbox_messages WHERE status = 'pending' AND priority > :after"
    " ORDER BY priority LIMIT 1"
)
_PENDING_PAGE: Final = text(
    "SELECT id, ordering_key, priority, not_before FROM outbox_messages"
    " WHERE status = 'pending' AND priority = :priority AND not_before <= :now"
    " AND (not_before, id) > (:after_when, :after_id)"
    " ORDER BY not_before, id LIMIT :page"
).bindparams(bindparam("now", type_=_WHEN), bindparam("after_when", type_=_WHEN))
"""One page in claim order after the row (after_when, after_id); the first page starts
after (-infinity, 0)."""
_START: Final = (datetime.min.replace(tzinfo=UTC), 0)
_FIRST_IN_FLIGHT: Final = text(
    "SELECT ordering_key, min(id) FROM outbox_messages"
    " WHERE status IN ('pending', 'sending') AND ordering_key = ANY(:keys)"
    " GROUP BY ordering_key"
).bindparams(bindparam("keys", type_=ARRAY(String())))
_LOCK: Final = text(
    "SELECT id, priority, not_before FROM outbox_messages WHERE id = ANY(:ids)"
    " AND ((status = 'pending' AND not_before <= :now)"
    " OR (status = 'sending' AND locked_until <= :now))"
    " ORDER BY priority, not_before, id LIMIT :limit FOR UPDATE SKIP LOCKED"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger())), bindparam("now", type_=_WHEN))
"""The status literals (not parameters) let the planner match the partial indexes."""

_Row = Sequence[Any]
"""(id, ordering_key, priority, not_before)"""


async def _lock_heads(
    session: AsyncSession, rows: Sequence[_Row], now: datetime, limit: int
) -> list[_Row]:
    """Of `rows`, those that are the lowest in-flight id of their recipient, locked, up to
    `limit` in claim order: (id, priority, not_before)."""
    if not rows:
        return []
    keys = sorted({row[1] for row in rows})
    first = dict((await session.execute(_FIRST_IN_FLIGHT, {"keys": keys})).tuples().all())
    heads = [row[0] for row in rows if first.get(row[1]) == row[0]]
    if not heads:
        return []
    params = {"ids": heads, "now": now, "limit": limit}
    return list((await session.execute(_LOCK, params)).all())


async def due_heads(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """The ids of up to `limit` due heads, locked, most urgent first: (priority, not_before,
    id), lapsed leases ranked with the rest (module docstring)."""
    page = max(limit * PAGE_FACTOR, 16)
    lapsed = (await session.execute(_LAPSED, {"now": now, "page": page})).all()
    found = await _lock_heads(session, lapsed, now, limit)
    taken = 0
    priority = await session.scalar(_NEXT_PRIORITY, {"after": -(2**31)})
    while priority is not None and taken < limit:
        after_when, after_id = _START
        while taken < limit:
            wanted = max((limit - taken) * PAGE_FACTOR, 16)
            params = {
                "now": now,
                "priority": priority,
                "page": wanted,
                "after_when": after_when,
                "after_id": after_id,
            }
            rows = (await session.execute(_PENDING_PAGE, params)).all()
            heads = await _lock_heads(session, rows, now, limit - taken)
            found.extend(heads)
            taken += len(heads)
            if len(rows) < wanted:
                break
            after_id, after_when = rows[-1][0], rows[-1][3]
        if taken < limit:
            priority = await session.scalar(_NEXT_PRIORITY, {"after": priority})
    ranked = sorted(found, key=lambda row: (row[1], row[2], row[0]))
    return [row[0] for row in ranked[:limit]]
