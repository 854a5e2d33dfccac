"""What every planned push to an owner shares: whom it goes to, and how its row is written.

A planned push is an outbox row with `not_before` = its due time, a deterministic idempotency
key (planning twice, or two schedulers at once, queues it once) and a `stale_after` moment in
its message's meta (ISO datetime) after which the dispatcher drops it and records it as stale
(a reminder that could only arrive after its event). Planning puts each row inside the hub's
push window (core.push_window), so a row goes stale only when the dispatcher was down or
held up: that is counted, logged and told to the CCO (yorozu.dispatcher, core.undelivered).

Each planned row has an ordering key of its own: the outbox sends one recipient's rows in
order, head first, so a reminder due tomorrow under the owner's conversation key would hold
back every reply until then.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import ChannelIdentity, Person
from core.domain.enums import Platform
from core.hub_calendar import push_window
from core.messages import OutgoingMessage
from core.outbox import store as outbox

log = logging.getLogger(__name__)

STALE_AFTER = "stale_after"
"""Payload meta key (ISO datetime): past it the dispatcher drops the row as stale."""


@dataclass(frozen=True)
class OwnerAddress:
    """Where an owner's pushes go: one LINE identity they still follow us on."""

    person_id: int
    channel_id: str
    user_id: str
    locale: str


async def owner_address(session: AsyncSession, person_id: int | None) -> OwnerAddress | None:
    """The owner's most recent followed LINE identity; None if erased, unfollowed or not on LINE."""
    if person_id is None:
        return None
    person = await session.get(Person, person_id)
    if person is None or person.erased_at is not None:
        return None
    identity = await session.scalar(
        select(ChannelIdentity)
        .where(
            ChannelIdentity.person_id == person_id,
            ChannelIdentity.platform == Platform.LINE,
            ChannelIdentity.followed.is_(True),
        )
        .order_by(ChannelIdentity.created_at.desc(), ChannelIdentity.id.desc())
        .limit(1)
    )
    if identity is None:
        return None
    return OwnerAddress(person_id, identity.channel_id, identity.external_user_id, person.locale)


async def add_planned_push(
    session: AsyncSession,
    address: OwnerAddress,
    message: OutgoingMessage,
    *,
    kind: str,
    key: str,
    due: datetime,
    stale_after: datetime | None,
    priority: int,
    now: datetime,
    case_id: int | None = None,
    hub_id: int | None = None,
) -> int | None:
    """Queue a push due at `due`; None when the key was planned before (nothing changes).

    The row goes out at the first moment of the hub's push window at or after `due` (a planner
    that must not be late, like booking reminders, has already moved `due` into the window,
    earlier). A row that could then only go after its `stale_after` is not written at all: a
    push planned only to be dropped is a promise broken in silence. Answers None for it too,
    with a warning in the log, since it means a planner's window arithmetic is wrong.
    """
    window = await push_window(session, hub_id)
    due = window.next_at_or_after(max(due, now))
    if stale_after is not None and due >= stale_after:
        log.warning("planned owner push would only go stale: not planned", extra={"kind": kind})
        return None
    meta = {STALE_AFTER: stale_after.isoformat()} if stale_after is not None else {}
    if meta:
        message = replace(message, meta={**message.meta, **meta})
    return await outbox.add_message(
        session,
        platform=Platform.LINE,
        channel_id=address.channel_id,
        recipient=address.user_id,
        message=message,
        kind=kind,
        idempotency_key=key,
        now=now,
        locale=address.locale,
        priority=priority,
        not_before=due,
        ordering_key=f"planned:{key}",
        case_id=case_id,
        hub_id=hub_id,
    )
