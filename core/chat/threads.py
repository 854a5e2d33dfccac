"""Where a case's conversation lives in Slack: the thread under the case's current queue card.

The card's Slack ts exists only once the dispatcher has posted it, so a thread message names
its parent by the card's outbox key (`thread_ts_ref`), as card updates do (`ts_ref`); it shares
the card's recipient and so its ordering key, and goes out after the card, in order.
A hub without a queue channel has no card: the words then go to its CCOs by DM, so they still
reach a person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.attachments import SLACK_FILE_KIND
from core.coordinators.cards import CARD_KIND, current_card
from core.db.models import Case, Hub, OutboxMessage
from core.domain.enums import Platform
from core.messages import OutgoingMessage, encode_message
from core.notify import notify_cco
from core.outbox.store import add_raw


async def post_file_in_thread(
    session: AsyncSession,
    case: Case,
    comment: OutgoingMessage,
    *,
    line_channel: str,
    message_id: str,
    file_name: str | None,
    key: str,
    now: datetime,
) -> int | None:
    """Queue an owner's photo or file for the case's thread, fetched from LINE at send time;
    without a card only the comment goes to the CCOs (they cannot see a file in a DM of ours
    without it, and the case view lists it)."""
    card = await current_card(session, case.id)
    if card is None:
        return await post_in_thread(session, case, comment, key=key, now=now)
    extra = {"line_channel": line_channel, "message_id": message_id, "file_name": file_name}
    return await _thread_row(
        session, card, comment, kind=SLACK_FILE_KIND, key=key, now=now, extra=extra
    )


async def post_in_thread(
    session: AsyncSession,
    case: Case,
    message: OutgoingMessage,
    *,
    key: str,
    now: datetime,
    priority: int = 100,
) -> int | None:
    """Queue `message` in the case's thread; without a card, DM the hub's CCOs instead.

    Answers the thread row's id (None when it went to the CCOs or was queued before).
    """
    card = await current_card(session, case.id)
    if card is None:
        hub = await session.get(Hub, case.hub_id)
        if hub is not None:
            await notify_cco(session, hub, message, key=key, now=now, case_id=case.id)
        return None
    return await _thread_row(
        session, card, message, kind=CARD_KIND, key=key, now=now, priority=priority
    )


async def _thread_row(
    session: AsyncSession,
    card: OutboxMessage,
    message: OutgoingMessage,
    *,
    kind: str,
    key: str,
    now: datetime,
    priority: int = 100,
    extra: dict[str, Any] | None = None,
) -> int | None:
    return await add_raw(
        session,
        platform=Platform.SLACK,
        channel_id=card.channel_id,
        recipient=card.recipient,
        payload={
            "channel": card.recipient,
            "thread_ts_ref": card.idempotency_key,
            "messages": [encode_message(message)],
            **(extra or {}),
        },
        kind=kind,
        idempotency_key=key,
        now=now,
        priority=priority,
        case_id=card.case_id,
        hub_id=card.hub_id,
    )
