"""The owner's answer to a booking reminder: 予約を確認 (the other two buttons are booking's).

Postback actions:
    reminder.confirm  b   the owner has seen the reminder: show the booking, thank them
"""

from __future__ import annotations

from typing import Final

from core.conversation import ConversationState
from core.db.models import AuditLog, Booking, Case
from core.domain.enums import ACTIVE_BOOKING_STATUSES, ActorKind
from core.i18n import Text
from core.messages import OutgoingMessage
from core.owners import booking as booking_flow
from core.owners.context import OwnerContext
from core.reminders.bookings import CONFIRM_ACTION

FLOW_ID: Final = "reminder"


async def start(ctx: OwnerContext) -> None:
    """Nothing to start: reminders come from the scheduler. Show the owner's bookings."""
    await booking_flow.show_bookings(ctx)


async def on_input(ctx: OwnerContext, state: ConversationState) -> None:
    """Reminders keep no conversation; should one exist, drop it."""
    await ctx.conversations.delete(state.key)
    await start(ctx)


async def on_postback(ctx: OwnerContext, action: str, values: dict[str, str]) -> bool:
    if action != CONFIRM_ACTION:
        return False
    found = await _owned_booking(ctx, values.get("b"))
    if found is None:
        ctx.say(OutgoingMessage(texts=(Text("booking.not_found"),)))
        return True
    booking, case = found
    ctx.session.add(
        AuditLog(
            at=ctx.now,
            actor_kind=ActorKind.PERSON,
            actor_id=ctx.owner.person.id,
            action="booking.reminder_confirmed",
            case_id=case.id,
            hub_id=booking.hub_id,
            details={"booking_id": booking.id},
        )
    )
    ctx.say(
        OutgoingMessage(
            texts=(Text("reminder.booking.confirmed"),),
            card=await booking_flow.booking_card(ctx, booking),
        )
    )
    return True


async def _owned_booking(ctx: OwnerContext, raw_id: str | None) -> tuple[Booking, Case] | None:
    try:
        booking_id = int(raw_id) if raw_id is not None else None
    except ValueError:
        return None
    if booking_id is None:
        return None
    booking = await ctx.session.get(Booking, booking_id)
    if booking is None or booking.status not in ACTIVE_BOOKING_STATUSES:
        return None
    if booking.ends_at <= ctx.now:
        return None
    case = await ctx.session.get(Case, booking.case_id)
    if case is None or case.person_id != ctx.owner.person.id:
        return None
    return booking, case
