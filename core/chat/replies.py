"""A CO's answer to the owner: checked, recorded, pushed through the outbox, shown in the thread.

Which Slack messages reach the owner is one visible rule, stated in the thread itself
(`chat.slack.rule`): the 返信する button's form, or a thread reply that starts with 「返信:」.
Everything else in the thread is the team's own note and never leaves Slack.

The push goes under the hub's and the CO's name, at the highest priority after booking
reminders, exactly once (its idempotency key is the Slack event or view it came from).
Quiet hours hold it until the window opens, and the CO is told so in the thread. Edits and
deletions in Slack afterwards are not mirrored: the thread shows the CO what was sent.

A reply that cannot go (the owner blocked the account, was erased, or has no LINE) is
refused with the reason in the thread; the CO's words are kept on the case either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import to_jst
from core.conversation import ConversationKey
from core.db.models import Case, CaseMessage, ChannelIdentity, Coordinator, Hub, Person
from core.domain.enums import CoRole, MessageDirection, Platform
from core.hub_calendar import push_window
from core.i18n import Text
from core.messages import OutgoingMessage
from core.outbox.store import add_message
from core.owners.booking import day_text
from core.owners.cases import hub_display_name
from core.push_budget import PRIORITY_CO_REPLY
from core.routing.hubs import HQ_CODE

REPLY_MARKERS: Final = ("返信:", "返信：", "reply:", "Reply:")
"""A thread reply starting with one of these goes to the owner; nothing else does."""
MAX_REPLY_LENGTH: Final = 5000
"""LINE's limit for one text message, less nothing: the name line is a message of its own."""


@dataclass(frozen=True)
class ReplyRefused:
    """Why the answer could not go to the owner: told to the CO, recorded on the case."""

    reason: str
    message: Text


@dataclass(frozen=True)
class ReplyAccepted:
    record: CaseMessage
    held_until: datetime | None
    """Set when quiet hours hold the push: when the owner will get it."""


def reply_text(text: str) -> str | None:
    """The answer in a thread message meant for the owner; None for a note to colleagues."""
    stripped = text.lstrip()
    for marker in REPLY_MARKERS:
        if stripped.startswith(marker):
            return stripped[len(marker) :].strip()
    return None


async def send_reply(
    session: AsyncSession,
    *,
    case_id: int,
    co_id: int,
    text: str,
    key: str,
    now: datetime,
) -> ReplyAccepted | ReplyRefused:
    """Push the CO's answer to the case's owner, or say why not (recorded either way).

    `key` names the Slack event or view the answer came from: a redelivery finds the row it
    wrote the first time and sends nothing more.
    """
    source_key = f"slack:{key}"
    previous = await session.scalar(select(CaseMessage).where(CaseMessage.source_key == source_key))
    if previous is not None:
        if previous.status != "accepted":
            return ReplyRefused(previous.refusal or "refused", _refusal_text(previous.refusal))
        return ReplyAccepted(previous, None)
    case = await session.get(Case, case_id)
    co = await session.get(Coordinator, co_id)
    if case is None or co is None:
        return ReplyRefused("unknown_case", Text("chat.refused.unknown_case"))
    record = CaseMessage(
        case_id=case.id,
        direction=MessageDirection.TO_OWNER,
        content_type="text",
        body=text.strip()[: MAX_REPLY_LENGTH + 1],
        author_co_id=co.id,
        source_key=source_key,
        status="accepted",
        created_at=now,
    )
    reason = await _why_not(session, case, co, text)
    identity = await _line_identity(session, case) if reason is None else None
    if reason is None and identity is None:
        reason = "no_line"
    elif reason is None and identity is not None and not identity.followed:
        reason = "blocked"
    if reason is not None or identity is None:
        record.status, record.refusal = "refused", reason
        session.add(record)
        await session.flush()
        return ReplyRefused(reason or "no_line", _refusal_text(reason))
    session.add(record)
    await session.flush()
    hub = await session.get(Hub, case.hub_id)
    person = await session.get(Person, case.person_id) if case.person_id else None
    message = OutgoingMessage(
        texts=(
            Text(
                "chat.owner.co_reply",
                hub=hub_display_name(hub) if hub is not None else Text("hub.national"),
                co=co.name,
                text=Text("common.verbatim", value=record.body or ""),
            ),
        )
    )
    await add_message(
        session,
        platform=Platform.LINE,
        channel_id=identity.channel_id,
        recipient=identity.external_user_id,
        message=message,
        kind="push",
        idempotency_key=f"chat:{source_key}:push",
        now=now,
        locale=person.locale if person is not None else "ja",
        priority=PRIORITY_CO_REPLY,
        ordering_key=f"line:{identity.channel_id}:{identity.external_user_id}",
        case_id=case.id,
        hub_id=case.hub_id,
    )
    from core.chat.owner_side import open_talk

    await open_talk(
        session,
        ConversationKey(Platform.LINE.value, identity.channel_id, identity.external_user_id),
        case.id,
        now=now,
        replace_forms=False,
    )
    window = await push_window(session, case.hub_id)
    held = None if window.allows(now) else window.next_at_or_after(now)
    return ReplyAccepted(record, held)


async def _why_not(session: AsyncSession, case: Case, co: Coordinator, text: str) -> str | None:
    if not co.active:
        return "inactive"
    if co.hub_id != case.hub_id and not await _is_hq(session, co):
        return "other_hub"
    body = text.strip()
    if not body:
        return "empty"
    if len(body) > MAX_REPLY_LENGTH:
        return "too_long"
    if case.person_id is None:
        return "no_line"
    person = await session.get(Person, case.person_id)
    if person is None or person.erased_at is not None:
        return "erased"
    return None


async def _is_hq(session: AsyncSession, co: Coordinator) -> bool:
    if co.role is CoRole.HQ_SPECIALIST:
        return True
    hub = await session.get(Hub, co.hub_id)
    return hub is not None and hub.code == HQ_CODE


async def _line_identity(session: AsyncSession, case: Case) -> ChannelIdentity | None:
    """The owner's LINE identity (a followed one first), or None."""
    rows = list(
        await session.scalars(
            select(ChannelIdentity)
            .where(
                ChannelIdentity.person_id == case.person_id,
                ChannelIdentity.platform == Platform.LINE,
            )
            .order_by(ChannelIdentity.followed.desc(), ChannelIdentity.id.desc())
        )
    )
    return rows[0] if rows else None


def _refusal_text(reason: str | None) -> Text:
    known = {"inactive", "other_hub", "empty", "too_long", "no_line", "erased", "blocked"}
    if reason in known:
        if reason == "too_long":
            return Text("chat.refused.too_long", max=MAX_REPLY_LENGTH)
        return Text(f"chat.refused.{reason}")
    return Text("chat.refused.unknown_case")


def held_text(co_name: str, held_until: datetime) -> Text:
    local = to_jst(held_until)
    return Text(
        "chat.slack.sent_held",
        co=co_name,
        day=day_text(local.date()),
        at=f"{local.hour}:{local.minute:02d}",
    )
