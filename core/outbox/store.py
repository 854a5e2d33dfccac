"""The outbox table's operations: add in the caller's transaction, claim, record results.

Crash safety rests on the lease: `claim` sets status sending and `locked_until` and commits;
the dispatcher sends; each `mark_*` runs in a new transaction and only applies while the row is
still under that same lease (fencing), so a dispatcher that lost its lease cannot overwrite
what the one that took over recorded. A crashed dispatcher's rows come back when the lease
expires and are sent again with the same retry key (LINE answers 409: counted as sent).

Messages with one ordering key (one recipient) go out one at a time, in row order: only the
lowest id among that key's pending and sending rows is eligible.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import Integer, Table, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import to_jst
from core.db.conflict import insert_or_skip
from core.db.models.inbox import PushUsage
from core.db.models.outbox import OutboxMessage
from core.db.models.people import ChannelIdentity
from core.domain.enums import OutboxStatus, Platform
from core.messages import OutgoingMessage, encode_message
from core.outbox import pg_claim

_S = OutboxStatus
INTERRUPTED = "interrupted"
"""`last_error` of a row given back after being claimed from a dead dispatcher's lease."""


@dataclass(frozen=True)
class ClaimedMessage:
    """A snapshot of a claimed row: what the dispatcher needs to send and to record."""

    id: int
    platform: Platform
    channel_id: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    retry_key: str
    attempts: int
    """Attempts including this one (1 for the first)."""
    locale: str
    ordering_key: str
    reply_token: str | None
    reply_token_expires_at: datetime | None
    created_at: datetime
    lease: datetime
    """`locked_until` as claimed: the fence every `mark_*` checks."""
    hub_id: int | None = None
    first_attempt_at: datetime | None = None
    """When an earlier claim first tried to send the row; None: this is the first attempt."""
    previous_error: str | None = None
    """What the last recorded attempt failed with (`last_error`), if any."""
    interrupted: bool = False
    """Claimed from a lapsed lease: the dispatcher that had it died with no result recorded,
    maybe between sending and recording."""


@dataclass(frozen=True)
class ClaimResult:
    messages: list[ClaimedMessage]
    cancelled: int = 0
    """Rows cancelled at claim because the recipient unfollowed (invariant 8)."""


def default_ordering_key(platform: Platform | str, channel_id: str, recipient: str) -> str:
    return f"{Platform(platform).value}:{channel_id}:{recipient}"


async def add_message(
    session: AsyncSession,
    *,
    platform: Platform,
    channel_id: str,
    recipient: str,
    message: OutgoingMessage | Sequence[OutgoingMessage],
    kind: str,
    idempotency_key: str,
    now: datetime,
    locale: str = "ja",
    priority: int = 100,
    not_before: datetime | None = None,
    reply_token: str | None = None,
    reply_token_expires_at: datetime | None = None,
    ordering_key: str | None = None,
    case_id: int | None = None,
    hub_id: int | None = None,
) -> int | None:
    """Queue a neutral message in the caller's transaction; returns the new row's id, or None
    when the key was queued before (a no-op).

    Several messages in one row go out in one request: that is how one LINE reply token
    carries everything an event's answer has to say.
    """
    messages = [message] if isinstance(message, OutgoingMessage) else list(message)
    if not messages:
        raise ValueError("an outbox row needs at least one message")
    return await _insert(
        session,
        platform=platform,
        channel_id=channel_id,
        recipient=recipient,
        payload={"messages": [encode_message(item) for item in messages]},
        kind=kind,
        idempotency_key=idempotency_key,
        now=now,
        locale=locale,
        priority=priority,
        not_before=not_before,
        reply_token=reply_token,
        reply_token_expires_at=reply_token_expires_at,
        ordering_key=ordering_key,
        case_id=case_id,
        hub_id=hub_id,
    )


async def add_raw(
    session: AsyncSession,
    *,
    platform: Platform,
    channel_id: str,
    recipient: str,
    payload: dict[str, Any],
    kind: str,
    idempotency_key: str,
    now: datetime,
    locale: str = "ja",
    priority: int = 100,
    not_before: datetime | None = None,
    ordering_key: str | None = None,
    case_id: int | None = None,
    hub_id: int | None = None,
) -> int | None:
    """Queue an already rendered platform payload (a Slack view, a chat.update), stored as
    {"raw": payload}; the new row's id, or None when the key was queued before."""
    return await _insert(
        session,
        platform=platform,
        channel_id=channel_id,
        recipient=recipient,
        payload={"raw": payload},
        kind=kind,
        idempotency_key=idempotency_key,
        now=now,
        locale=locale,
        priority=priority,
        not_before=not_before,
        reply_token=None,
        reply_token_expires_at=None,
        ordering_key=ordering_key,
        case_id=case_id,
        hub_id=hub_id,
    )


_TABLE = cast("Table", OutboxMessage.__table__)
_INSERTS: Final = {
    postgres: insert_or_skip(_TABLE, ["idempotency_key"], postgres=postgres).returning(_TABLE.c.id)
    for postgres in (False, True)
}


async def _insert(
    session: AsyncSession,
    *,
    platform: Platform,
    channel_id: str,
    recipient: str,
    payload: dict[str, Any],
    kind: str,
    idempotency_key: str,
    now: datetime,
    locale: str,
    priority: int,
    not_before: datetime | None,
    reply_token: str | None,
    reply_token_expires_at: datetime | None,
    ordering_key: str | None,
    case_id: int | None,
    hub_id: int | None,
) -> int | None:
    values: dict[str, Any] = {
        "platform": Platform(platform),
        "channel_id": channel_id,
        "recipient": recipient,
        "kind": kind,
        "payload": payload,
        "priority": priority,
        "idempotency_key": idempotency_key,
        "retry_key": str(uuid.uuid4()),
        "status": _S.PENDING,
        "attempts": 0,
        "not_before": not_before or now,
        "created_at": now,
        "ordering_key": ordering_key or default_ordering_key(platform, channel_id, recipient),
        "locale": locale,
        "reply_token": reply_token,
        "reply_token_expires_at": reply_token_expires_at,
        "case_id": case_id,
        "hub_id": hub_id,
    }
    # One Core statement with a cache key, built once per dialect (core.db.conflict; issue 14:
    # the worker writes one or two rows per event, and compiling them cost more than running).
    # It returns the id alone: building the row as an ORM object in the session, from all its
    # columns (the payload decoded again), cost the worker about as much as the insert itself,
    # and no caller needed more than whether the row was new (issue 14).
    stmt = _INSERTS[_dialect(session) == "postgresql"]
    inserted: int | None = (await session.execute(stmt, values)).scalar_one_or_none()
    return inserted


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


_HEAD: Final = """NOT EXISTS (
    SELECT 1 FROM outbox_messages AS earlier {in_flight_index}
    WHERE earlier.ordering_key = candidate.ordering_key
    AND earlier.status IN ('pending', 'sending') AND earlier.id < candidate.id
)"""
_PENDING_HEADS: Final = """
SELECT candidate.id, candidate.priority, candidate.not_before
FROM outbox_messages AS candidate {pending_index}
WHERE candidate.status = 'pending' AND candidate.priority = :priority
AND candidate.not_before <= :now AND {head}
ORDER BY candidate.not_before, candidate.id LIMIT :limit
"""
_NEXT_PRIORITY: Final = """
SELECT candidate.priority FROM outbox_messages AS candidate {pending_index}
WHERE candidate.status = 'pending' {after}
ORDER BY candidate.priority LIMIT 1
"""
_LAPSED_HEADS: Final = """
SELECT candidate.id, candidate.priority, candidate.not_before
FROM outbox_messages AS candidate
WHERE candidate.status = 'sending' AND candidate.locked_until <= :now AND {head}
ORDER BY candidate.priority, candidate.not_before, candidate.id LIMIT :limit
"""


@functools.cache
def _claim_statements() -> tuple[Any, Any, Any, Any]:
    """SQLite's claim look-ups, as SQL that names the partial indexes (migration 0016).

    SQLite is told the index (INDEXED BY; SQLAlchemy renders no table hints for it), so its
    planner cannot choose another. PostgreSQL's claim is core/outbox/pg_claim.py. Built once.
    """
    hints = {
        "pending_index": "INDEXED BY ix_outbox_messages_pending_claim",
        "in_flight_index": "INDEXED BY ix_outbox_messages_in_flight_key",
    }
    head = _HEAD.format(**hints)
    when = OutboxMessage.not_before.type
    ranked = {"id": Integer(), "priority": Integer(), "not_before": when}
    pending = (
        text(_PENDING_HEADS.format(head=head, **hints))
        .bindparams(bindparam("now", type_=when), bindparam("priority"), bindparam("limit"))
        .columns(**ranked)
    )
    first = text(_NEXT_PRIORITY.format(after="", **hints))
    following = text(
        _NEXT_PRIORITY.format(after="AND candidate.priority > :after", **hints)
    ).bindparams(bindparam("after"))
    lapsed = (
        text(_LAPSED_HEADS.format(head=head))
        .bindparams(bindparam("now", type_=when), bindparam("limit"))
        .columns(**ranked)
    )
    return first, following, pending, lapsed


async def _due_heads(session: AsyncSession, now: datetime, limit: int) -> list[int]:
    """The ids of the `limit` most urgent due heads, by (priority, not_before, id).

    Pending heads are taken one priority at a time, most urgent first, each walk starting
    at that priority's oldest due row and stopping at `limit` heads: a claim steps over the
    later rows of recipients met before (one index probe each), never over every row that
    waits, so it costs about the same with 70 or 70,000 replies queued. Rows whose lease
    lapsed (their dispatcher died) are few; they join the same ranking. PostgreSQL, where
    several dispatchers claim at once and the planner chooses by statistics, has its own
    (core/outbox/pg_claim.py), which locks what it returns.
    """
    if _dialect(session) == "postgresql":
        return await pg_claim.due_heads(session, now, limit)
    first, following, pending, lapsed = _claim_statements()
    found = list((await session.execute(lapsed, {"now": now, "limit": limit})).tuples())
    taken = 0
    priority = await session.scalar(first)
    while priority is not None and taken < limit:
        heads = list(
            (
                await session.execute(
                    pending, {"now": now, "priority": priority, "limit": limit - taken}
                )
            ).tuples()
        )
        found.extend(heads)
        taken += len(heads)
        if taken < limit:
            priority = await session.scalar(following, {"after": priority})
    found.sort(key=lambda head: (head[1], head[2], head[0]))
    return [head[0] for head in found[:limit]]


async def claim(
    session: AsyncSession, *, now: datetime, lease: timedelta, limit: int = 200
) -> ClaimResult:
    """Take up to `limit` due rows (status sending, leased until now + lease).

    Eligible: the head of its ordering key (lowest id among pending and sending rows) that is
    pending and due, or sending with an expired lease (its dispatcher died). On PostgreSQL the
    rows are locked FOR UPDATE SKIP LOCKED, so several dispatchers never take one row; on SQLite
    one dispatcher process is assumed. LINE rows to someone who unfollowed are cancelled here.
    Commit the session right after.
    """
    row = OutboxMessage
    ids = await _due_heads(session, now, limit)
    if not ids:
        return ClaimResult([])
    before = {
        row_id: (status, first_attempt_at)
        for row_id, status, first_attempt_at in (
            await session.execute(
                select(row.id, row.status, row.first_attempt_at).where(row.id.in_(ids))
            )
        ).all()
    }
    lease_until = now + lease
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            status=_S.SENDING,
            locked_until=lease_until,
            attempts=OutboxMessage.attempts + 1,
            first_attempt_at=func.coalesce(OutboxMessage.first_attempt_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    rows = (
        await session.execute(
            select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
        )
    ).scalars()
    claimed = [
        ClaimedMessage(
            id=r.id,
            platform=r.platform,
            channel_id=r.channel_id,
            recipient=r.recipient,
            kind=r.kind,
            payload=r.payload,
            retry_key=r.retry_key,
            attempts=r.attempts,
            locale=r.locale,
            ordering_key=r.ordering_key,
            reply_token=r.reply_token,
            reply_token_expires_at=r.reply_token_expires_at,
            created_at=r.created_at,
            lease=lease_until,
            hub_id=r.hub_id,
            first_attempt_at=before[r.id][1],
            previous_error=r.last_error,
            interrupted=OutboxStatus(before[r.id][0]) is _S.SENDING,
        )
        for r in rows
    ]
    unfollowed = await _unfollowed(session, [m for m in claimed if m.platform is Platform.LINE])
    if unfollowed:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([m.id for m in claimed if m.id in unfollowed]))
            .values(status=_S.CANCELLED, locked_until=None, last_error="unfollowed")
            .execution_options(synchronize_session=False)
        )
    return ClaimResult([m for m in claimed if m.id not in unfollowed], len(unfollowed))


async def _unfollowed(session: AsyncSession, messages: Sequence[ClaimedMessage]) -> set[int]:
    if not messages:
        return set()
    recipients = {m.recipient for m in messages}
    pairs = (
        await session.execute(
            select(ChannelIdentity.channel_id, ChannelIdentity.external_user_id).where(
                ChannelIdentity.platform == Platform.LINE,
                ChannelIdentity.external_user_id.in_(recipients),
                ChannelIdentity.followed.is_(False),
            )
        )
    ).all()
    gone = {(channel, user) for channel, user in pairs}
    return {m.id for m in messages if (m.channel_id, m.recipient) in gone}


async def _finish(session: AsyncSession, message: ClaimedMessage, **values: Any) -> bool:
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.status == _S.SENDING,
            OutboxMessage.locked_until == message.lease,
        )
        .values(locked_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def mark_sent(
    session: AsyncSession,
    message: ClaimedMessage,
    *,
    now: datetime,
    accepted_request_id: str | None = None,
) -> bool:
    """Delivered. False when the lease was lost (another dispatcher owns the row now)."""
    return await _finish(
        session,
        message,
        status=_S.SENT,
        sent_at=now,
        last_error=None,
        accepted_request_id=(accepted_request_id or None) and accepted_request_id[:64],
    )


async def mark_sent_many(
    session: AsyncSession,
    sent: Sequence[tuple[ClaimedMessage, str | None]],
    *,
    now: datetime,
) -> set[int]:
    """Record a batch of deliveries with one statement; answers the ids whose lease held.

    One executemany instead of a statement per message: at a thousand messages a second the
    per-statement work, not the database, was what limited the dispatcher.
    """
    if not sent:
        return set()
    table = cast("Table", OutboxMessage.__table__)
    # The table, not the entity: a list of parameters with an ORM update() would mean an ORM
    # bulk update by primary key, which cannot carry the lease condition.
    statement = (
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.status == _S.SENDING,
            table.c.locked_until == bindparam("b_lease"),
        )
        .values(
            status=_S.SENT,
            sent_at=now,
            last_error=None,
            locked_until=None,
            accepted_request_id=bindparam("b_request"),
        )
    )
    await session.execute(
        statement,
        [
            {
                "b_id": message.id,
                "b_lease": message.lease,
                "b_request": (request or None) and request[:64],
            }
            for message, request in sent
        ],
    )
    ids = [message.id for message, _ in sent]
    applied = await session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.id.in_(ids),
            OutboxMessage.status == _S.SENT,
            OutboxMessage.sent_at == now,
        )
    )
    return set(applied)


async def mark_retry(
    session: AsyncSession, message: ClaimedMessage, *, after: datetime, error: str
) -> bool:
    """Back to pending, due again at `after`."""
    return await _finish(
        session, message, status=_S.PENDING, not_before=after, last_error=error[:2000]
    )


async def release(session: AsyncSession, message: ClaimedMessage, *, after: datetime) -> bool:
    """Give the row back without an attempt (a rate limit said wait): pending again at `after`.

    Nothing was sent, so the row is as it was before the claim: no attempt counted, and no
    first attempt time if it had none.
    """
    values: dict[str, Any] = {}
    if message.interrupted:
        # The dispatcher that died may have sent it: the next claim must still know.
        values["last_error"] = INTERRUPTED
    return await _finish(
        session,
        message,
        status=_S.PENDING,
        not_before=after,
        attempts=OutboxMessage.attempts - 1,
        first_attempt_at=message.first_attempt_at,
        **values,
    )


async def mark_failed(
    session: AsyncSession, message: ClaimedMessage, *, reason: str, now: datetime
) -> bool:
    """Permanent failure: recorded, never retried."""
    return await _finish(
        session, message, status=_S.FAILED, last_error=reason[:2000], failed_at=now
    )


async def mark_held(session: AsyncSession, message: ClaimedMessage, *, reason: str) -> bool:
    """Parked (the month's push budget is spent): waits for `release_held`, never dropped."""
    return await _finish(session, message, status=_S.HELD, last_error=reason[:2000])


async def mark_cancelled(session: AsyncSession, message: ClaimedMessage, *, reason: str) -> bool:
    return await _finish(session, message, status=_S.CANCELLED, last_error=reason[:2000])


async def release_held(
    session: AsyncSession, *, now: datetime, channel_id: str | None = None
) -> int:
    """Make held rows (all, or one channel's) pending again, due now; answers how many."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.status == _S.HELD)
        .values(status=_S.PENDING, not_before=now)
        .execution_options(synchronize_session=False)
    )
    if channel_id is not None:
        stmt = stmt.where(OutboxMessage.channel_id == channel_id)
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)


async def cancel_for_recipient(session: AsyncSession, channel_id: str, user_id: str) -> int:
    """On unfollow: cancel every waiting LINE message to that user (invariant 8)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.platform == Platform.LINE,
            OutboxMessage.channel_id == channel_id,
            OutboxMessage.recipient == user_id,
            OutboxMessage.status.in_((_S.PENDING, _S.HELD)),
        )
        .values(status=_S.CANCELLED, last_error="unfollowed")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def jst_month(now: datetime) -> str:
    """YYYY-MM in Japan time: the month LINE counts pushes in."""
    return to_jst(now).strftime("%Y-%m")


async def count_push(session: AsyncSession, channel_id: str, *, now: datetime, n: int = 1) -> None:
    """Add `n` pushes to the channel's usage for the Japan-time month."""
    insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
    stmt = insert(PushUsage).values(channel_id=channel_id, month=jst_month(now), pushes=n)
    stmt = stmt.on_conflict_do_update(
        index_elements=["channel_id", "month"],
        set_={"pushes": PushUsage.pushes + n},
    )
    await session.execute(stmt)


async def push_usage(session: AsyncSession, channel_id: str, *, now: datetime) -> int:
    found = await session.scalar(
        select(PushUsage.pushes).where(
            PushUsage.channel_id == channel_id, PushUsage.month == jst_month(now)
        )
    )
    return int(found or 0)


async def stats(session: AsyncSession) -> dict[str, int]:
    """Rows per status (every status present, zero when none)."""
    counts = {status.value: 0 for status in OutboxStatus}
    rows = await session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    for status, count in rows.all():
        counts[OutboxStatus(status).value] = int(count)
    return counts
