"""The single entry point for an owner's event, called by the worker inside its transaction.

Order of precedence: follow/unfollow and consent (onboarding), then the menu, then the
postbacks a flow owns, then an active conversation (a form, or a person conversation), and
whatever the owner says outside them goes to a person (core.chat), never to a menu hint.
Whatever was said is written to the outbox as one answer: one reply token, one request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from types import ModuleType

from sqlalchemy.ext.asyncio import AsyncSession

from core.chat import owner_side
from core.conversation import ConversationState, Status
from core.domain.enums import Platform
from core.i18n import Text
from core.messages import Action, OutgoingMessage
from core.outbox import store as outbox
from core.owners import (
    booking,
    followup,
    hub_info,
    intake,
    postbacks,
    reminder,
    richmenus,
    selfcheck,
    survey,
)
from core.owners.context import OwnerContext
from core.owners.events import OwnerEvent, OwnerEventKind
from core.owners.onboarding import (
    REPLY_TOKEN_LIFETIME,
    ChannelContext,
    find_or_create_owner,
    handle_onboarding,
    on_unfollow,
)
from core.queues.port import HubQueue

FLOWS: dict[str, ModuleType] = {
    intake.FLOW_ID: intake,
    booking.FLOW_ID: booking,
    selfcheck.FLOW_ID: selfcheck,
    survey.FLOW_ID: survey,
    followup.FLOW_ID: followup,
    reminder.FLOW_ID: reminder,
    owner_side.FLOW_ID: owner_side,
}
MAX_TEXT_LENGTH = 2000
"""Longer messages are kept in the inbox but not fed to a question: nobody types an essay
into a chat form by accident, and the answer would not fit the case description anyway."""


async def book(ctx: OwnerContext) -> None:
    """相談を予約する: an owner without an open case does the intake first."""
    open_case = await booking.owner_open_case(ctx)
    if open_case is None:
        await intake.start(ctx)
    else:
        await booking.start(ctx, case_id=open_case)


def _faq(ctx: OwnerContext) -> None:
    ctx.say(
        OutgoingMessage(
            texts=(Text("owner.faq.body"),),
            choices=(Action(Text("owner.menu.book"), postbacks.encode(postbacks.MENU_BOOK)),),
        )
    )


async def _hub_info(ctx: OwnerContext) -> None:
    """拠点のご案内: the hub's own information, today's hours and the next free slot."""
    await hub_info.answer(ctx)


async def _show_bookings(ctx: OwnerContext) -> None:
    await booking.show_bookings(ctx)


async def _selfcheck(ctx: OwnerContext) -> None:
    await selfcheck.start(ctx)


MENU: dict[str, Callable[[OwnerContext], Awaitable[None]]] = {
    postbacks.MENU_BOOK: book,
    postbacks.MENU_BOOKINGS: _show_bookings,
    postbacks.MENU_SELFCHECK: _selfcheck,
    postbacks.MENU_TALK: owner_side.start,
    "intake.start": intake.start,
}


async def _active_conversation(ctx: OwnerContext) -> ConversationState | None:
    state = await ctx.conversations.load(ctx.conversation_key)
    if state is None or state.finished:
        return None
    return state


async def route(ctx: OwnerContext) -> None:
    event = ctx.event
    action, values = postbacks.decode(event.data)
    if event.kind is OwnerEventKind.POSTBACK and action in MENU:
        await MENU[action](ctx)
        return
    if event.kind is OwnerEventKind.POSTBACK and action == postbacks.MENU_FAQ:
        _faq(ctx)
        return
    if event.kind is OwnerEventKind.POSTBACK and action == postbacks.MENU_HUB:
        await _hub_info(ctx)
        return
    flow_id = action.split(".", 1)[0] if action else ""
    if event.kind is OwnerEventKind.POSTBACK and flow_id in FLOWS:
        handler = getattr(FLOWS[flow_id], "on_postback", None)
        if handler is not None and await handler(ctx, action, values):
            return
    state = await _active_conversation(ctx)
    if state is not None and state.flow_id == owner_side.FLOW_ID:
        if event.kind is not OwnerEventKind.POSTBACK:
            await owner_side.on_input(ctx, state)
            return
    elif state is not None and state.flow_id in FLOWS and event.kind is not OwnerEventKind.OTHER:
        if event.kind is OwnerEventKind.TEXT and len(event.text or "") > MAX_TEXT_LENGTH:
            ctx.say(OutgoingMessage(texts=(Text("owner.too_long", max=MAX_TEXT_LENGTH),)))
            return
        await FLOWS[state.flow_id].on_input(ctx, state)
        return
    if event.kind is OwnerEventKind.POSTBACK:
        ctx.say(OutgoingMessage(texts=(Text("owner.expired_button"), Text("owner.menu_hint"))))
        return
    # The owner's own words (or a photo, a place, a sticker) outside a form: a person reads
    # them. A form under way keeps its place and is pointed to afterwards.
    await owner_side.relay(ctx)
    if state is not None and state.status is Status.ACTIVE and state.flow_id in FLOWS:
        ctx.say(OutgoingMessage(texts=(Text("owner.conversation_waiting"),)))


async def handle_owner_event(
    session: AsyncSession,
    event: OwnerEvent,
    channel: ChannelContext,
    now: datetime,
    *,
    queue: HubQueue | None = None,
) -> OwnerContext | None:
    """Handle one event; returns the context (with what was said) for callers and tests."""
    if event.kind is OwnerEventKind.UNFOLLOW:
        await on_unfollow(session, event)
        return None
    owner = await find_or_create_owner(session, event)
    if not owner.identity.followed and event.kind is not OwnerEventKind.FOLLOW:
        # A late event from someone who has blocked us since: record nothing, say nothing.
        return None
    ctx = OwnerContext(session, event, owner, channel, now, queue=queue)
    if not await handle_onboarding(ctx):
        await route(ctx)
    await flush(ctx)
    await follow_rich_menu(ctx)
    return ctx


async def follow_rich_menu(ctx: OwnerContext) -> None:
    """Link the per-user rich menu that fits the owner's state, when it changed.

    Consent and bookings change what the menu should offer; the link goes through the outbox
    after this event's answer (same ordering key), and only when the menu differs from the
    one last asked for, so ordinary messages cost no call to LINE.
    """
    identity = ctx.owner.identity
    if not identity.followed:
        return
    # Before consent the menu is the same whatever is booked: no look-up for it (one query
    # per event saved while a burst of new owners is handled, issue 14).
    consented = ctx.owner.consented
    wanted = richmenus.menu_for(
        consented,
        consented and await booking.has_upcoming_booking(ctx.session, ctx.owner.person.id, ctx.now),
    )
    if identity.rich_menu == wanted:
        return
    identity.rich_menu = wanted
    await outbox.add_raw(
        ctx.session,
        platform=Platform.LINE,
        channel_id=ctx.event.channel_key,
        recipient=ctx.event.user_id,
        payload={"menu": wanted},
        kind="richmenu_link",
        idempotency_key=f"line:{ctx.event.event_id}:richmenu:{wanted}",
        now=ctx.now,
        ordering_key=ctx.event.ordering_key,
        hub_id=ctx.channel.hub_id,
    )


async def flush(ctx: OwnerContext) -> None:
    """Write what the handlers said as one outbox row: a reply while the token lives."""
    if not ctx.said:
        return
    event = ctx.event
    await outbox.add_message(
        ctx.session,
        platform=Platform.LINE,
        channel_id=event.channel_key,
        recipient=event.user_id,
        message=ctx.said,
        kind="reply" if event.reply_token else "push",
        idempotency_key=f"line:{event.event_id}:answer",
        now=ctx.now,
        locale=ctx.locale,
        reply_token=event.reply_token,
        reply_token_expires_at=(
            event.occurred_at + REPLY_TOKEN_LIFETIME if event.reply_token else None
        ),
        ordering_key=event.ordering_key,
        hub_id=ctx.channel.hub_id,
    )
