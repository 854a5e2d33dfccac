"""The inbox INSERT on PostgreSQL: one statement of column arrays for a whole batch.

Every acknowledged webhook waits for this insert (invariant 3), so its cost per event is
the ingest path's ceiling. SQLAlchemy's "insertmanyvalues" renders a multi-row VALUES list
and processes each row's fourteen parameters through their types in Python: in the API role
on PostgreSQL it cost about 150 µs of CPU per event, more than the rest of the webhook
(issue 14). Here the batch travels as one array per column, which asyncpg encodes in its
compiled codecs, and PostgreSQL's `unnest` turns back into rows:

* Exactly once (invariant 2) is still the database's: ON CONFLICT (platform, event_id) DO
  NOTHING, which also skips a second copy inside the same batch.
* Order: rows are inserted in the order given (`WITH ORDINALITY` ... ORDER BY), so ids, and
  with them each person's order, follow arrival.
* The payload is serialised here (core/inbox/payload.py) and cast to json by the server;
  times are aware UTC datetimes (invariant 10), as `UTCDateTime` requires of every other
  write.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.db.base import stored_utc
from core.domain.enums import InboxStatus
from core.inbox.payload import payload_text

if TYPE_CHECKING:
    from core.inbox.store import NewInboxEvent

log = logging.getLogger(__name__)

_PENDING: Final = InboxStatus.PENDING.value
_IGNORED: Final = InboxStatus.IGNORED.value

_INSERT: Final = text(
    """
INSERT INTO inbox_events (platform, channel_id, event_id, ordering_key, kind, payload,
    received_at, occurred_at, redelivery, status, attempts, next_attempt_at)
SELECT platform, channel_id, event_id, ordering_key, kind, payload::json,
    received_at, occurred_at, redelivery, status, 0, received_at
FROM unnest(
    CAST(:platform AS text[]), CAST(:channel_id AS text[]), CAST(:event_id AS text[]),
    CAST(:ordering_key AS text[]), CAST(:kind AS text[]), CAST(:payload AS text[]),
    CAST(:received_at AS timestamptz[]), CAST(:occurred_at AS timestamptz[]),
    CAST(:redelivery AS boolean[]), CAST(:status AS text[])
) WITH ORDINALITY AS batch(platform, channel_id, event_id, ordering_key, kind, payload,
    received_at, occurred_at, redelivery, status, position)
ORDER BY position
ON CONFLICT (platform, event_id) DO NOTHING
RETURNING id
"""
)


_COLUMNS: Final = (
    "platform",
    "channel_id",
    "event_id",
    "ordering_key",
    "kind",
    "payload",
    "received_at",
    "occurred_at",
    "redelivery",
    "status",
)


def _arrays(received: Sequence[tuple[NewInboxEvent, datetime]]) -> dict[str, list[Any]]:
    """The batch as one list per column, which asyncpg sends as PostgreSQL arrays."""
    rows = [
        (
            event.platform.value,
            event.channel_id,
            event.event_id,
            event.ordering_key,
            event.kind,
            payload_text(event.payload),
            stored_utc(at),
            None if event.occurred_at is None else stored_utc(event.occurred_at),
            event.redelivery,
            _IGNORED if event.ignored else _PENDING,
        )
        for event, at in received
    ]
    return {
        name: list(values) for name, values in zip(_COLUMNS, zip(*rows, strict=True), strict=True)
    }


async def add_received(
    session: AsyncSession, received: Sequence[tuple[NewInboxEvent, datetime]]
) -> int:
    """Insert the events that are new, in the given order, in the session's transaction;
    returns how many were."""
    result = await session.execute(_INSERT, _arrays(received))
    return len(result.all())


class CommittedInsert:
    """The webhooks' group commit on PostgreSQL (`InboxWriter(store=...)`): one round trip.

    The INSERT runs as a statement of its own (autocommit), which PostgreSQL commits before
    it reports the statement complete: durable when this returns (invariant 3), and atomic,
    being one statement. In a session it cost four round trips (the pool's ping, BEGIN, the
    INSERT, COMMIT), and while those waited the whole burst waited with them: in the API role
    each batch held every connection's request, so the rate was batch size / flush time
    (issue 14).

    The engine should be one of its own made with `pre_ping=False`: a connection that died
    (a database restart) fails its statement, SQLAlchemy discards it and the pool's other
    connections, and the statement runs once more on a new one. Running it twice is safe:
    the events that did commit are skipped by ON CONFLICT.
    """

    connections = 2
    """Statements committing at once (the writer's `max_in_flight`), each on a connection of
    the engine's pool (its `pool_size`)."""
    batch = 64
    """Events per statement (the writer's `max_batch`). Under a burst every waiting request
    joined one batch of 256, so the event loop sat idle while it committed, then had every
    request to answer and read at once; in batches of 64 the next one forms while one
    commits. One API process took 3,500-4,300 events/s with 256 and 5,200-6,500/s with 64
    (wrk, 128 connections; issue 14)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def __call__(self, events: Sequence[NewInboxEvent], now: datetime) -> int:
        if not events:
            return 0
        arrays = _arrays([(event, now) for event in events])
        try:
            return await self._execute(arrays)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            log.warning("inbox insert retried on a new connection after a dead one")
            return await self._execute(arrays)

    async def _execute(self, arrays: dict[str, list[Any]]) -> int:
        async with self._engine.connect() as connection:
            result = await connection.execute(_INSERT, arrays)
            return len(result.all())
