"""Erasure reaches Slack: the messages we posted about a person are edited or deleted there.

Our own rows of done Slack messages are blanked by core.erasure, but Slack keeps its copy: the
queue card, the thread under it (the owner's words relayed by the bot), the DMs to COs and
partner staff. Each of those that went out (status sent, Slack's ts recorded) gets one more
outbox row, so the change is as durable and retried as any other send:

* the case's current card is shown again as the case now stands (`refresh_card`): a card
  carries business facts only, by design, and an open case keeps its buttons;
* every other message is edited in place to the erased notice (chat.update), or deleted
  (chat.delete) when the operator's setting says so;
* a shared file (an owner's photo) is deleted (files.delete): its content cannot be edited.

A message about them still waiting to go (a thread relay of their words, a DM naming them)
is cancelled instead: cards and card updates carry business facts only and still go.

Messages a person typed in Slack themselves (a CO's thread reply) are theirs, not the app's:
a bot token can neither edit nor delete them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.chat.attachments import SLACK_FILE_KIND
from core.db.models import Case, OutboxMessage
from core.domain.enums import OutboxStatus, Platform
from core.i18n import Text
from core.messages import OutgoingMessage, encode_message
from core.outbox.store import add_raw

POST_KIND: Final = "slack_message"
UPDATE_KIND: Final = "slack_update"
DELETE_KIND: Final = "slack_delete"
"""chat.delete of a message by channel and ts (yorozu.dispatcher)."""
FILE_DELETE_KIND: Final = "slack_file_delete"
"""files.delete of a file shared by the app (yorozu.dispatcher)."""
ERASE_PRIORITY: Final = 50
"""Before routine Slack traffic, after what a person is waiting for."""


class SlackErasure(StrEnum):
    """What erasure does to a Slack message that carried someone's data (SLACK_ERASURE)."""

    UPDATE = "update"
    """Edited in place to the erased notice: the thread keeps its shape."""
    DELETE = "delete"
    """Deleted: nothing of it is left in the channel."""


class SlackAction(StrEnum):
    REFRESH = "refresh"
    """The current card, shown as the case now stands."""
    UPDATE = "update"
    DELETE = "delete"
    DELETE_FILE = "delete_file"


@dataclass(frozen=True)
class SlackTarget:
    """One message in Slack that erasure changes (no content: ids only)."""

    outbox_id: int
    channel: str
    ts: str
    """Slack's ts of the message, or the file id for a shared file."""
    case_id: int | None
    case_number: str | None
    action: SlackAction


async def slack_targets(
    session: AsyncSession,
    case_ids: Sequence[int],
    mode: SlackErasure = SlackErasure.UPDATE,
    *,
    before: datetime | None = None,
) -> list[SlackTarget]:
    """The Slack messages about these cases that went out and that Slack still holds.

    `before`: only messages written before then (a person erased before: what was written
    about their case since, such as the CO's note that the booking was cancelled, carried
    nothing of theirs, so a second erasure finds nothing to do).
    """
    if not case_ids:
        return []
    from core.coordinators.cards import current_card  # cards read cases; imported late

    current: set[int] = set()
    for case_id in sorted(set(case_ids)):
        card = await current_card(session, case_id)
        if card is not None:
            current.add(card.id)
    rows = await session.execute(
        select(OutboxMessage, Case.number)
        .join(Case, Case.id == OutboxMessage.case_id)
        .where(
            OutboxMessage.case_id.in_(sorted(set(case_ids))),
            OutboxMessage.platform == Platform.SLACK,
            OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.accepted_request_id.is_not(None),
            OutboxMessage.kind.in_((POST_KIND, SLACK_FILE_KIND)),
            *((OutboxMessage.created_at < before,) if before is not None else ()),
        )
        .order_by(OutboxMessage.id)
    )
    targets: list[SlackTarget] = []
    for row, number in rows:
        if row.kind == SLACK_FILE_KIND:
            action = SlackAction.DELETE_FILE
        elif row.id in current:
            action = SlackAction.REFRESH
        elif mode is SlackErasure.DELETE:
            action = SlackAction.DELETE
        else:
            action = SlackAction.UPDATE
        targets.append(
            SlackTarget(
                outbox_id=row.id,
                channel=row.recipient,
                ts=str(row.accepted_request_id),
                case_id=row.case_id,
                case_number=number,
                action=action,
            )
        )
    return targets


def erased_notice(case_number: str | None) -> OutgoingMessage:
    """What an edited message says instead of what it said."""
    if case_number is None:
        return OutgoingMessage(texts=(Text("privacy.slack.erased_plain"),))
    return OutgoingMessage(texts=(Text("privacy.slack.erased", case=case_number),))


async def erase_in_slack(
    session: AsyncSession,
    case_ids: Sequence[int],
    *,
    now: datetime,
    mode: SlackErasure = SlackErasure.UPDATE,
    before: datetime | None = None,
) -> list[SlackTarget]:
    """Queue the edits and deletions (in the caller's transaction); answers what was queued.

    Safe to repeat: each change has an idempotency key of its own, so a second erasure queues
    nothing and answers an empty list.
    """
    targets = await slack_targets(session, case_ids, mode, before=before)
    queued: list[SlackTarget] = []
    for target in targets:
        row = await session.get(OutboxMessage, target.outbox_id)
        assert row is not None
        if target.action is SlackAction.REFRESH:
            case = await session.get(Case, target.case_id)
            if case is None:
                continue
            from core.coordinators.cards import refresh_card

            made = await refresh_card(session, case, now=now, suffix="erased")
        else:
            payload: dict[str, Any]
            if target.action is SlackAction.DELETE_FILE:
                kind, payload = FILE_DELETE_KIND, {"file": target.ts}
            elif target.action is SlackAction.DELETE:
                kind, payload = DELETE_KIND, {"channel": target.channel, "ts": target.ts}
            else:
                kind = UPDATE_KIND
                payload = {
                    "channel": target.channel,
                    "ts": target.ts,
                    "messages": [encode_message(erased_notice(target.case_number))],
                }
            made = await add_raw(
                session,
                platform=Platform.SLACK,
                channel_id=row.channel_id,
                recipient=row.recipient,
                payload=payload,
                kind=kind,
                idempotency_key=f"erase:slack:{row.id}",
                now=now,
                locale=row.locale,
                priority=ERASE_PRIORITY,
                case_id=row.case_id,
                hub_id=row.hub_id,
            )
        if made is not None:
            queued.append(target)
    return queued


async def cancel_waiting(
    session: AsyncSession, case_ids: Sequence[int], *, before: datetime | None = None
) -> int:
    """Cancel the Slack posts about these cases that have not gone yet, but for the cards
    (the hub works the case from its card); answers how many."""
    if not case_ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.case_id.in_(sorted(set(case_ids))),
            OutboxMessage.platform == Platform.SLACK,
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.HELD)),
            OutboxMessage.kind.in_((POST_KIND, SLACK_FILE_KIND)),
            OutboxMessage.idempotency_key.not_like("case:%:card%"),
            *((OutboxMessage.created_at < before,) if before is not None else ()),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="erased")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
