"""The owner's own words: what they type outside a form reaches a person, never a menu hint.

A message joins the owner's open case (the newest one not closed); with none, it opens an
お問い合わせ case in the right hub's queue with a card and a claim button, routed and escalated
like any other case. The words go to the case's thread under its card, and to the assigned
CO's DM when someone holds the case.

The owner is told at once that a person will answer and by when: during business hours
(09:00-17:00 on the hub's business days) 本日中を目安に; outside them, from 9:00 on the next
business day, with its real date. The notice is given once per burst: an owner who writes
twenty lines in a row gets one answer, not twenty.

「相談員と話す」 opens a person conversation (flow "chat"): while it is open, stickers and
images are relayed rather than answered with the menu, and the CO's answers keep it open.
Menus still work: tapping one starts its form, which simply takes the owner's next words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import DAY_END, DAY_START
from core.chat.attachments import MAX_ATTACHMENT_BYTES, why_not_shown
from core.clock import to_jst
from core.conversation import ConversationState, PastAttempt, Status, encode_answers
from core.db.models import Business, Case, CaseMessage, Coordinator, Hub, Person
from core.domain.enums import (
    OPEN_CASE_STATUSES,
    CaseKind,
    CaseSource,
    CaseStatus,
    MessageDirection,
)
from core.hub_calendar import hub_calendar
from core.i18n import Text
from core.messages import Action, OutgoingMessage
from core.notify import dm
from core.owners import postbacks
from core.owners.booking import day_text
from core.owners.cases import hub_display_name, open_queued_case, owner_business
from core.owners.context import OwnerContext
from core.owners.events import OwnerEventKind
from core.routing.hubs import route_to_hub

FLOW_ID: Final = "chat"
TALK_START: Final = "chat.start"
TALK_END: Final = "chat.end"
REPLY_ACTION: Final = "chat.reply"
"""The Slack button under an owner's message that opens the 返信する modal."""

TALK_LIFETIME: Final = timedelta(days=7)
"""A person conversation left alone this long is over; the owner's next words still reach
the case, only the 'no menus' mode ends."""
NOTICE_QUIET: Final = timedelta(minutes=30)
"""After the owner was told a person will answer, more messages within this stretch are
relayed without telling them again."""
MAX_OWNER_TEXT: Final = 5000
"""LINE's own limit for a text message; nothing longer can arrive."""

OPEN_STATUSES: Final = OPEN_CASE_STATUSES
"""A case in these statuses takes the owner's words; a closed one does not (a new inquiry
is opened instead, so nobody has to look in a finished case for a new question)."""

RELAYED_TYPES: Final = frozenset({"text", "image", "file", "location", "sticker", "video", "audio"})


@dataclass(frozen=True)
class OwnerWords:
    """One message of the owner, as the core keeps it (no LINE types)."""

    content_type: str
    body: str | None
    attachment: dict[str, Any] | None


def words_of(ctx: OwnerContext) -> OwnerWords:
    event = ctx.event
    if event.kind is OwnerEventKind.TEXT:
        return OwnerWords("text", (event.text or "")[:MAX_OWNER_TEXT], None)
    kind = event.message_type or "unknown"
    return OwnerWords(kind if kind in RELAYED_TYPES else "unsupported", None, event.content or None)


async def open_case_of(session: AsyncSession, person_id: int) -> Case | None:
    """The owner's newest case that is still open, in whichever hub it is."""
    case: Case | None = await session.scalar(
        select(Case)
        .where(Case.person_id == person_id, Case.status.in_(tuple(OPEN_STATUSES)))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    return case


async def relay(ctx: OwnerContext, *, late_comment_on: int | None = None) -> None:
    """Record the owner's message on their case (opening an inquiry if needed) and relay it.

    `late_comment_on`: the case of a survey whose comment window has closed. What the owner
    typed is their comment all the same: it joins that case (closed or not), the CO reads it
    as a late comment, and the owner is thanked rather than told the survey expired.
    """
    words = words_of(ctx)
    key = f"line:{ctx.event.event_id}"
    if await ctx.session.scalar(select(CaseMessage.id).where(CaseMessage.source_key == key)):
        return  # a redelivered event: recorded and relayed the first time
    late = await ctx.session.get(Case, late_comment_on) if late_comment_on is not None else None
    case = late or await open_case_of(ctx.session, ctx.owner.person.id)
    opened = case is None
    if case is None:
        case = await _open_inquiry(ctx)
    previous = await _last_from_owner(ctx.session, case.id)
    record = CaseMessage(
        case_id=case.id,
        direction=MessageDirection.FROM_OWNER,
        content_type=words.content_type,
        body=words.body,
        attachment=words.attachment,
        source_key=key,
        status="accepted",
        created_at=ctx.now,
    )
    ctx.session.add(record)
    await ctx.session.flush()
    await _to_slack(ctx, case, record, first=previous is None, late=late is not None)
    if late is not None:
        ctx.say(OutgoingMessage(texts=(Text("chat.owner.late_comment_thanks"),)))
        return
    if words.content_type == "unsupported":
        ctx.say(OutgoingMessage(texts=(Text("chat.owner.unsupported"),)))
    if opened or previous is None or ctx.now - previous.created_at >= NOTICE_QUIET:
        ctx.say(await answer_notice(ctx.session, case, ctx.now))
    await keep_talking(ctx, case.id)


async def _last_from_owner(session: AsyncSession, case_id: int) -> CaseMessage | None:
    found: CaseMessage | None = await session.scalar(
        select(CaseMessage)
        .where(
            CaseMessage.case_id == case_id,
            CaseMessage.direction == MessageDirection.FROM_OWNER,
        )
        .order_by(CaseMessage.id.desc())
        .limit(1)
    )
    return found


async def _open_inquiry(ctx: OwnerContext) -> Case:
    person = ctx.owner.person
    business = await owner_business(ctx.session, person.id)
    channel_hub = (
        await ctx.session.get(Hub, ctx.channel.hub_id) if ctx.channel.hub_id is not None else None
    )
    route = route_to_hub(
        business.prefecture_code if business is not None else None,
        channel_hub.code if channel_hub is not None else None,
    )
    hub = await ctx.session.scalar(select(Hub).where(Hub.code == route.hub_code))
    if hub is None:
        raise LookupError(f"no hub with code {route.hub_code!r}: is the hub seed loaded?")
    now = ctx.now
    return await open_queued_case(
        ctx.session,
        hub,
        lambda number: Case(
            number=number,
            hub_id=hub.id,
            business_id=business.id if business is not None else None,
            person_id=person.id,
            source=CaseSource.LINE,
            kind=CaseKind.INQUIRY,
            topics=[],
            status=CaseStatus.QUEUED,
            created_at=now,
            updated_at=now,
        ),
        actor_id=person.id,
        now=now,
        queue=ctx.queue,
        details={
            "source": CaseSource.LINE.value,
            "kind": CaseKind.INQUIRY.value,
            "route": route.reason.value,
            "business_id": business.id if business is not None else None,
        },
    )


def owner_label(person: Person, business: Business | None) -> Text:
    """How the thread names the writer: their name and business when known."""
    name = person.display_name or None
    if name and business is not None:
        return Text("chat.slack.owner_with_business", name=name, business=business.name)
    if name:
        return Text("common.verbatim", value=name)
    if business is not None:
        return Text("chat.slack.business_only", business=business.name)
    return Text("chat.slack.owner_unnamed")


def owner_words_text(words: CaseMessage) -> Text:
    """The owner's message as a CO reads it: their words, or what they sent instead."""
    if words.content_type == "text":
        return Text("common.verbatim", value=words.body or "")
    attachment = words.attachment or {}
    if words.content_type == "location":
        return Text(
            "chat.slack.location",
            title=str(attachment.get("title") or ""),
            address=str(attachment.get("address") or ""),
            latitude=str(attachment.get("latitude") or ""),
            longitude=str(attachment.get("longitude") or ""),
        )
    if words.content_type == "file":
        return Text("chat.slack.file", name=str(attachment.get("file_name") or "-"))
    if words.content_type in RELAYED_TYPES:
        return Text(f"chat.slack.kind.{words.content_type}")
    return Text("chat.slack.kind.unsupported")


async def _to_slack(
    ctx: OwnerContext, case: Case, record: CaseMessage, *, first: bool, late: bool = False
) -> None:
    # threads import cards, which import the owners' modules: imported when first needed
    from core.chat.threads import post_file_in_thread, post_in_thread

    business = await ctx.session.get(Business, case.business_id) if case.business_id else None
    writer = owner_label(ctx.owner.person, business)
    heading = "chat.slack.late_comment" if late else "chat.slack.from_owner"
    texts = [Text(heading, writer=writer, words=owner_words_text(record))]
    withheld = why_not_shown(record) if record.content_type in ("image", "file") else None
    if withheld in ("too_large", "type"):
        texts.append(Text(f"chat.slack.file_{withheld}", max_mb=MAX_ATTACHMENT_BYTES // 2**20))
    if first:
        texts.append(Text("chat.slack.rule"))
    reply = Action(Text("chat.slack.reply_button"), f"{REPLY_ACTION}&c={case.id}")
    message = OutgoingMessage(texts=tuple(texts), choices=(reply,))
    key = f"chat:{record.source_key}"
    attachment = record.attachment or {}
    if record.content_type in ("image", "file") and withheld is None:
        await post_file_in_thread(
            ctx.session,
            case,
            OutgoingMessage(texts=tuple(texts)),
            line_channel=ctx.event.channel_key,
            message_id=str(attachment["message_id"]),
            file_name=str(attachment.get("file_name") or "") or None,
            key=key,
            now=ctx.now,
        )
    else:
        await post_in_thread(ctx.session, case, message, key=key, now=ctx.now)
    if case.assigned_co_id is not None:
        co = await ctx.session.get(Coordinator, case.assigned_co_id)
        if co is not None and co.active:
            await dm(
                ctx.session,
                co,
                OutgoingMessage(
                    texts=(
                        Text(
                            "chat.slack.dm_from_owner",
                            number=case.number,
                            writer=writer,
                            words=owner_words_text(record),
                        ),
                    ),
                    choices=(reply,),
                ),
                key=f"chat:{record.source_key}:dm",
                now=ctx.now,
                case_id=case.id,
            )


async def answer_notice(session: AsyncSession, case: Case, now: datetime) -> OutgoingMessage:
    """「…相談員がお返事します」 with when: today during business hours, else the next opening."""
    hub = await session.get(Hub, case.hub_id)
    hub_name = hub_display_name(hub) if hub is not None else Text("hub.national")
    local = to_jst(now)
    calendar = await hub_calendar(session, case.hub_id, today=local.date())
    today = local.date()
    if calendar.is_business_day(today) and DAY_START <= local.time() < DAY_END:
        text = Text("chat.owner.notice_open", hub=hub_name)
    else:
        opens = _next_opening(
            calendar.is_business_day, today, before_opening=local.time() < DAY_START
        )
        text = Text(
            "chat.owner.notice_closed",
            hub=hub_name,
            day=day_text(opens),
            at=DAY_START.strftime("%H:%M").lstrip("0"),
        )
    end = Action(Text("chat.owner.end_button"), postbacks.encode(TALK_END))
    return OutgoingMessage(texts=(text,), choices=(end,))


def _next_opening(is_business_day: Any, today: date, *, before_opening: bool) -> date:
    if before_opening and is_business_day(today):
        return today
    day = today + timedelta(days=1)
    for _ in range(400):
        if is_business_day(day):
            return day
        day += timedelta(days=1)
    return day


# -- the person conversation (flow "chat") --------------------------------------------------


async def keep_talking(ctx: OwnerContext, case_id: int) -> None:
    """Open (or prolong) the person conversation, unless a form is under way."""
    await open_talk(ctx.session, ctx.conversation_key, case_id, now=ctx.now, replace_forms=False)


async def open_talk(
    session: AsyncSession,
    key: Any,
    case_id: int,
    *,
    now: datetime,
    replace_forms: bool,
) -> None:
    from core.conversation import SessionConversationStore

    store = SessionConversationStore(session)
    state = await store.load(key)
    if (
        state is not None
        and not state.finished
        and state.flow_id != FLOW_ID
        and state.expires_at > now
        and not replace_forms
    ):
        return  # the owner is in the middle of a form: it keeps the next words
    started = state.started_at if state is not None and state.flow_id == FLOW_ID else now
    await store.save(
        ConversationState(
            key=key,
            flow_id=FLOW_ID,
            status=Status.ACTIVE,
            step="talk",
            answers={"case": str(case_id)},
            started_at=started,
            updated_at=now,
            expires_at=now + TALK_LIFETIME,
            history=list(state.history) if state is not None and state.flow_id == FLOW_ID else [],
        )
    )


def talking(state: ConversationState | None, now: datetime) -> bool:
    return (
        state is not None
        and state.flow_id == FLOW_ID
        and not state.finished
        and state.expires_at > now
    )


async def start(ctx: OwnerContext) -> None:
    """「相談員と話す」: open the conversation and tell the owner to write freely."""
    case = await open_case_of(ctx.session, ctx.owner.person.id)
    state = await ctx.conversations.load(ctx.conversation_key)
    in_form = state is not None and not state.finished and state.flow_id != FLOW_ID
    history = list(state.history) if state is not None else []
    if in_form and state is not None and state.answers:
        # What they typed into the form so far is kept with the conversation, not dropped.
        history.append(
            PastAttempt(
                answers=dict(encode_answers(state.answers)),
                started_at=state.started_at,
                ended_at=ctx.now,
                reason=f"talk:{state.flow_id}",
            )
        )
    await ctx.conversations.save(
        ConversationState(
            key=ctx.conversation_key,
            flow_id=FLOW_ID,
            status=Status.ACTIVE,
            step="talk",
            answers={"case": str(case.id)} if case is not None else {},
            started_at=ctx.now,
            updated_at=ctx.now,
            expires_at=ctx.now + TALK_LIFETIME,
            history=history,
        )
    )
    texts = [Text("chat.owner.talk_started")]
    if in_form:
        texts.append(Text("chat.owner.form_paused"))
    end = Action(Text("chat.owner.end_button"), postbacks.encode(TALK_END))
    ctx.say(OutgoingMessage(texts=tuple(texts), choices=(end,)))


async def on_postback(ctx: OwnerContext, action: str, values: dict[str, str]) -> bool:
    if action == TALK_START:
        await start(ctx)
        return True
    if action != TALK_END:
        return False
    state = await ctx.conversations.load(ctx.conversation_key)
    if talking(state, ctx.now):
        await ctx.conversations.delete(ctx.conversation_key)
        ctx.say(OutgoingMessage(texts=(Text("chat.owner.talk_ended"),)))
    else:
        ctx.say(OutgoingMessage(texts=(Text("chat.owner.talk_not_open"),)))
    return True


async def on_input(ctx: OwnerContext, state: ConversationState) -> None:
    """In a person conversation everything the owner sends is relayed."""
    await relay(ctx)
