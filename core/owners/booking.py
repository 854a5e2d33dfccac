"""Booking a consultation, and 予約の確認・変更, for an owner on LINE.

Stateless between taps: every button carries what the next step needs (the case, the slot,
the booking being moved) in its postback data, so there is no conversation state to expire
and a tap on an old message is simply re-checked against the database. A slot is taken by
inserting the booking (core.booking.repository.hold_slot); the database decides who wins a
race, and the loser is offered the next free slots in the same answer.

Postback actions (all prefixed with the flow id):
    booking.start   c?            offer the next free slots
    booking.pick    c, co, t, mv? take the slot starting at epoch t with CO co (mv: move)
    booking.day     c, mv?        the date picker answered: that day's slots
    booking.list                  the owner's upcoming bookings
    booking.move    b             choose a new slot; the old booking stays until then
    booking.cancel  b             ask for confirmation
    booking.cancel_confirm  b     cancel, free the slot, tell the CO on Slack
    booking.keep    b             the owner decided not to cancel
See booking.md beside this file for the diagram.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.booking import repository
from core.booking.slots import (
    Slot,
    available_slots,
    choose_offers,
    co_preferences,
    local_day,
)
from core.clock import to_jst
from core.conversation import ConversationState
from core.db.models import Booking, Case, CaseStatusHistory, Coordinator, Hub
from core.domain.enums import (
    ACTIVE_BOOKING_STATUSES,
    ActorKind,
    BookingMode,
    CaseStatus,
    CoRole,
    HubKind,
    Platform,
    check_transition,
)
from core.domain.topics import Specialty, Topic
from core.i18n import Text
from core.messages import Action, Card, DatePicker, OutgoingMessage, PickerMode
from core.outbox import store as outbox
from core.owners import postbacks
from core.owners.context import OwnerContext
from core.queues.port import QueueError
from core.reminders import bookings as reminders
from core.routing.coordinators import CoCandidate, rank_coordinators

FLOW_ID = "booking"

START = "booking.start"
PICK = "booking.pick"
DAY = "booking.day"
LIST = "booking.list"
MOVE = "booking.move"
CANCEL = "booking.cancel"
CANCEL_CONFIRM = "booking.cancel_confirm"
KEEP = "booking.keep"

INTAKE_POSTBACK = postbacks.encode("intake.start")
"""Where an owner without a case is sent first; the intake flow owns this action."""

MAX_OFFERS = 8
"""Quick replies for slots; with the date picker they stay well under LINE's 13."""
MAX_DAY_OFFERS = 10
SEARCH_DAYS = 21
"""How far ahead the "next free slots" look."""
PICKER_DAYS = 90
MAX_CARDS = 4
"""Cards in one answer: LINE takes five messages, one is the introduction."""

BOOKABLE_STATUSES = frozenset(
    {
        CaseStatus.NEW,
        CaseStatus.QUEUED,
        CaseStatus.CLAIMED,
        CaseStatus.BOOKED,
        CaseStatus.IN_SUPPORT,
    }
)
"""Case statuses from which a booking can be made or moved (CASE_TRANSITIONS allows BOOKED)."""


# -- texts -----------------------------------------------------------------------------------


def _weekday(moment: date) -> Text:
    return Text(f"booking.weekday.{moment.weekday()}")


def when_text(starts_at: datetime, ends_at: datetime) -> Text:
    """Like 6月3日(水) 14:00〜15:00: owners read Japan time, whatever is stored."""
    start, end = to_jst(starts_at), to_jst(ends_at)
    return Text("booking.when", start=start, end=end, weekday=_weekday(start))


def day_text(day: date) -> Text:
    return Text("booking.day", value=day, weekday=_weekday(day))


def slot_label(slot: Slot) -> Text:
    start = to_jst(slot.starts_at)
    return Text(
        "booking.slot_label",
        start=start,
        weekday=_weekday(start),
        mode=Text(f"booking.mode_short.{slot.mode.value}"),
    )


def _hub_text(hub: Hub | None) -> Text:
    if hub is None or hub.kind is HubKind.HQ:
        return Text("hub.hq") if hub is not None else Text("hub.national")
    return Text("hub.name", prefecture=Text(f"prefecture.{hub.prefecture_code or hub.code}"))


def _mode_text(mode: BookingMode, hub: Hub | None) -> Text:
    if mode is BookingMode.VISIT:
        return Text("booking.mode.visit", hub=_hub_text(hub))
    return Text(f"booking.mode.{mode.value}")


def _specialties_text(co: Coordinator) -> Text:
    known = [s for s in co.specialties if s in Specialty.__members__.values()]
    if not known:
        return Text("booking.specialty_general")
    return Text("common.verbatim", value=tuple(Text(f"specialty.{s}") for s in known))


def _co_text(co: Coordinator) -> Text:
    role = co.role.value if co.role in (CoRole.CO, CoRole.CCO, CoRole.HQ_SPECIALIST) else "co"
    return Text(f"booking.role.{role}", name=co.name)


async def booking_card(ctx: OwnerContext, booking: Booking) -> Card:
    """The confirmation card: when, where, who, with buttons to change or cancel."""
    co = await ctx.session.get(Coordinator, booking.co_id)
    hub = await ctx.session.get(Hub, booking.hub_id)
    case = await ctx.session.get(Case, booking.case_id)
    when = when_text(booking.starts_at, booking.ends_at)
    rows: list[tuple[Text, Text]] = [
        (Text("booking.card.when"), when),
        (Text("booking.card.place"), _mode_text(booking.mode, hub)),
    ]
    if co is not None:
        rows.append((Text("booking.card.co"), _co_text(co)))
        rows.append((Text("booking.card.specialty"), _specialties_text(co)))
    if case is not None:
        rows.append((Text("booking.card.number"), Text("common.verbatim", value=case.number)))
    return Card(
        title=Text("booking.card.title"),
        rows=tuple(rows),
        actions=(
            Action(Text("booking.card.change"), postbacks.encode(MOVE, b=booking.id)),
            Action(Text("booking.card.cancel"), postbacks.encode(CANCEL, b=booking.id)),
        ),
        alt_text=Text("booking.card.alt", when=when),
    )


# -- finding the case and the slots ----------------------------------------------------------


async def has_upcoming_booking(session: AsyncSession, person_id: int, now: datetime) -> bool:
    """Whether the person has an active booking still to come (the rich menu follows it)."""
    return await repository.has_upcoming(session, person_id, now)


async def owner_open_case(ctx: OwnerContext) -> int | None:
    """The owner's latest case that can still be booked, if any (the menu asks this)."""
    case = await _owner_case(ctx, None)
    return case.id if case is not None else None


async def _owner_case(ctx: OwnerContext, case_id: int | None) -> Case | None:
    """The owner's case to book for: the given one if it is theirs, else their latest open one."""
    person_id = ctx.owner.person.id
    if case_id is not None:
        case = await ctx.session.get(Case, case_id)
        return case if case is not None and case.person_id == person_id else None
    latest: Case | None = await ctx.session.scalar(
        select(Case)
        .where(Case.person_id == person_id, Case.status.in_(tuple(BOOKABLE_STATUSES)))
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(1)
    )
    return latest


async def _owned_booking(ctx: OwnerContext, values: dict[str, str]) -> tuple[Booking, Case] | None:
    """The booking a button names, if it is this owner's, still active and not over."""
    booking_id = _int(values.get("b"))
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


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def _slots(
    ctx: OwnerContext,
    case: Case,
    first_day: date,
    last_day: date,
    *,
    co_ids: list[int] | None = None,
    ignore_bookings: bool = False,
) -> tuple[list[Slot], dict[int, tuple[int, int]]]:
    """The free slots of the case's hub and who should get them (routing's ranking).

    `ignore_bookings` checks only the CO's hours, so a slot lost to a racing owner is told
    apart from one that no longer exists (the hold itself then decides).
    """
    topics = frozenset(Topic(t) for t in case.topics if t in Topic.__members__.values())
    return await hub_slots(
        ctx.session,
        case.hub_id,
        ctx.now,
        first_day,
        last_day,
        topics=topics,
        assigned_co_id=case.assigned_co_id,
        co_ids=co_ids,
        ignore_bookings=ignore_bookings,
    )


async def hub_slots(
    session: AsyncSession,
    hub_id: int,
    now: datetime,
    first_day: date,
    last_day: date,
    *,
    topics: frozenset[Topic] = frozenset(),
    assigned_co_id: int | None = None,
    co_ids: list[int] | None = None,
    ignore_bookings: bool = False,
) -> tuple[list[Slot], dict[int, tuple[int, int]]]:
    """A hub's free slots and the routing preferences among its COs, with or without a case
    (拠点のご案内 shows the next free slot before the owner has told us anything)."""
    availability = await repository.load_availability(
        session, hub_id, first_day, last_day, co_ids=co_ids
    )
    slots = available_slots(
        now=now,
        first_day=first_day,
        last_day=last_day,
        weekly=availability.weekly,
        exceptions=availability.exceptions,
        busy=() if ignore_bookings else availability.busy,
        closed_days=availability.closed_days,
    )
    if not availability.coordinators:
        return slots, {}
    hub = await session.get(Hub, hub_id)
    hub_code = hub.code if hub is not None else "00"
    counts = await repository.open_case_counts(session, list(availability.coordinators))
    first_free: dict[int, datetime] = {}
    for slot in slots:
        first_free.setdefault(slot.co_id, slot.starts_at)
    candidates = [
        CoCandidate(
            co_id=str(co.id),
            hub_code=hub_code,
            role="cco" if co.role is CoRole.CCO else "co",
            specialties=frozenset(
                Specialty(s) for s in co.specialties if s in Specialty.__members__.values()
            ),
            open_cases=counts.get(co.id, 0),
            capacity=co.capacity,
            next_free_slot=first_free.get(co.id),
            active=co.active,
        )
        for co in availability.coordinators.values()
    ]
    ranked = rank_coordinators(hub_code, topics, candidates)
    return slots, co_preferences(ranked, assigned_co_id)


async def next_free_slot(
    session: AsyncSession, hub_id: int, now: datetime, case: Case | None = None
) -> Slot | None:
    """The first slot the booking flow would offer: for the owner's case, else for the hub."""
    first = local_day(now)
    last = first + timedelta(days=SEARCH_DAYS)
    if case is not None:
        topics = frozenset(Topic(t) for t in case.topics if t in Topic.__members__.values())
        found = await hub_slots(
            session,
            case.hub_id,
            now,
            first,
            last,
            topics=topics,
            assigned_co_id=case.assigned_co_id,
        )
    else:
        found = await hub_slots(session, hub_id, now, first, last)
    offers = choose_offers(found[0], found[1], 1)
    return offers[0] if offers else None


def pick_postback(case: Case, slot: Slot) -> str:
    """The postback that books `slot` for `case` (the flow re-checks it when tapped)."""
    return postbacks.encode(PICK, c=case.id, co=slot.co_id, t=int(slot.starts_at.timestamp()))


async def bookable_case(ctx: OwnerContext) -> Case | None:
    """The owner's latest case that can still be booked (see BOOKABLE_STATUSES)."""
    return await _owner_case(ctx, None)


def _today(ctx: OwnerContext) -> date:
    return local_day(ctx.now)


async def _offers(
    ctx: OwnerContext, case: Case, *, from_day: date | None = None, only_day: date | None = None
) -> list[Slot]:
    if only_day is not None:
        slots, preferences = await _slots(ctx, case, only_day, only_day)
        return choose_offers(slots, preferences, MAX_DAY_OFFERS)
    first = max(from_day or _today(ctx), _today(ctx))
    slots, preferences = await _slots(ctx, case, first, first + timedelta(days=SEARCH_DAYS))
    return choose_offers(slots, preferences, MAX_OFFERS)


def _offer_message(
    ctx: OwnerContext,
    case: Case,
    offers: list[Slot],
    intro: tuple[Text, ...],
    *,
    move_from: int | None,
) -> OutgoingMessage:
    extra: dict[str, int] = {"mv": move_from} if move_from is not None else {}
    choices = tuple(
        Action(
            slot_label(slot),
            postbacks.encode(
                PICK, c=case.id, co=slot.co_id, t=int(slot.starts_at.timestamp()), **extra
            ),
        )
        for slot in offers
    )
    picker = DatePicker(
        label=Text("booking.other_day"),
        data=postbacks.encode(DAY, c=case.id, **extra),
        mode=PickerMode.date,
        initial=ctx.now,
        earliest=ctx.now,
        latest=ctx.now + timedelta(days=PICKER_DAYS),
    )
    texts = intro if offers else (*intro, Text("booking.no_slots", days=SEARCH_DAYS))
    return OutgoingMessage(texts=texts, choices=choices, picker=picker)


async def _say_offers(
    ctx: OwnerContext,
    case: Case,
    intro: tuple[Text, ...],
    *,
    move_from: int | None = None,
    from_day: date | None = None,
) -> None:
    offers = await _offers(ctx, case, from_day=from_day)
    ctx.say(_offer_message(ctx, case, offers, intro, move_from=move_from))


# -- the flow contract -----------------------------------------------------------------------


async def start(ctx: OwnerContext, case_id: int | None = None) -> None:
    """Offer the next free slots for the owner's case (or say what is missing first)."""
    case = await _owner_case(ctx, case_id)
    if case is None:
        ctx.say(
            OutgoingMessage(
                texts=(Text("booking.no_case"),),
                choices=(Action(Text("booking.start_intake"), INTAKE_POSTBACK),),
            )
        )
        return
    if case.status not in BOOKABLE_STATUSES:
        ctx.say(OutgoingMessage(texts=(Text("booking.case_closed"),)))
        return
    existing = await repository.upcoming_for_case(ctx.session, case.id, ctx.now)
    if existing is not None:
        ctx.say(
            OutgoingMessage(
                texts=(Text("booking.already_booked"),), card=await booking_card(ctx, existing)
            )
        )
        return
    await _say_offers(ctx, case, (Text("booking.choose_slot"),))


async def on_input(ctx: OwnerContext, state: ConversationState) -> None:
    """Booking keeps no conversation state; should one exist, drop it and offer slots again."""
    await ctx.conversations.delete(state.key)
    await start(ctx)


async def on_postback(ctx: OwnerContext, action: str, values: dict[str, str]) -> bool:
    """Handle a booking.* tap; False when the action is not this flow's."""
    if action == START:
        await start(ctx, _int(values.get("c")))
    elif action == PICK:
        await _pick(ctx, values)
    elif action == DAY:
        await _day(ctx, values)
    elif action == LIST:
        await show_bookings(ctx)
    elif action == MOVE:
        await _move(ctx, values)
    elif action == CANCEL:
        await _ask_cancel(ctx, values)
    elif action == CANCEL_CONFIRM:
        await _cancel(ctx, values)
    elif action == KEEP:
        ctx.say(OutgoingMessage(texts=(Text("booking.cancel.kept"),)))
    else:
        return False
    return True


async def show_bookings(ctx: OwnerContext) -> None:
    """予約の確認・変更: the owner's upcoming bookings as cards, or an invitation to book."""
    bookings = await repository.upcoming_for_person(ctx.session, ctx.owner.person.id, ctx.now)
    if not bookings:
        ctx.say(
            OutgoingMessage(
                texts=(Text("booking.list.none"),),
                choices=(Action(Text("booking.book"), postbacks.encode(START)),),
            )
        )
        return
    intro = [Text("booking.list.intro", count=len(bookings))]
    if len(bookings) > MAX_CARDS:
        intro.append(Text("booking.list.more", shown=MAX_CARDS))
    ctx.say(OutgoingMessage(texts=tuple(intro)))
    for booking in bookings[:MAX_CARDS]:
        ctx.say(OutgoingMessage(card=await booking_card(ctx, booking)))


# -- steps -----------------------------------------------------------------------------------


async def _pick(ctx: OwnerContext, values: dict[str, str]) -> None:
    case = await _owner_case(ctx, _int(values.get("c")))
    co_id, epoch = _int(values.get("co")), _int(values.get("t"))
    if case is None or case.status not in BOOKABLE_STATUSES:
        ctx.say(OutgoingMessage(texts=(Text("booking.case_closed"),)))
        return
    old: Booking | None = None
    move_from = _int(values.get("mv"))
    if move_from is not None:
        owned = await _owned_booking(ctx, {"b": str(move_from)})
        if owned is None or owned[1].id != case.id:
            ctx.say(OutgoingMessage(texts=(Text("booking.not_found"),)))
            return
        old = owned[0]
    else:
        existing = await repository.upcoming_for_case(ctx.session, case.id, ctx.now)
        if existing is not None:
            ctx.say(
                OutgoingMessage(
                    texts=(Text("booking.already_booked"),),
                    card=await booking_card(ctx, existing),
                )
            )
            return
    if co_id is None or epoch is None:
        await _say_offers(ctx, case, (Text("booking.slot_gone"),), move_from=move_from)
        return
    starts_at = datetime.fromtimestamp(epoch, tz=UTC)
    # Re-check the tapped slot: the button may be days old, the CO's hours may have changed.
    day = local_day(starts_at)
    slots, preferences = await _slots(ctx, case, day, day, co_ids=[co_id], ignore_bookings=True)
    slot = next((s for s in slots if s.starts_at == starts_at and s.co_id == co_id), None)
    if slot is None or co_id not in preferences:
        await _say_offers(ctx, case, (Text("booking.slot_gone"),), move_from=move_from)
        return
    if await _assigned_meanwhile(ctx, case, co_id, move_from=move_from):
        return
    booking = await repository.hold_slot(
        ctx.session, case_id=case.id, hub_id=case.hub_id, slot=slot, now=ctx.now
    )
    if booking is None:
        await _say_offers(ctx, case, (Text("booking.slot_taken"),), move_from=move_from)
        return
    if old is not None:
        await repository.release(ctx.session, old, now=ctx.now)
        await reminders.cancel_booking_reminders(ctx.session, old, reason="booking_moved")
        await _tell_co_moved(ctx, old, booking, case)
    await _mark_booked(ctx, case, booking)
    if old is None or old.co_id != booking.co_id:
        await _tell_co_booked(ctx, case, booking)
    planned = await reminders.plan_booking_reminders(ctx.session, booking, now=ctx.now)
    texts = [Text("booking.moved") if old is not None else Text("booking.confirmed")]
    if not planned:
        texts.append(Text("booking.no_reminder"))
    ctx.say(OutgoingMessage(texts=tuple(texts), card=await booking_card(ctx, booking)))


async def _assigned_meanwhile(
    ctx: OwnerContext, case: Case, co_id: int, *, move_from: int | None
) -> bool:
    """A CO took the case after these times were offered: offer that CO's own times.

    Without this the tap would book the other CO and silently take the case from the one
    who had just claimed it in Slack. If the assigned CO has no free time, any CO will do.
    """
    assigned = case.assigned_co_id
    if assigned is None or assigned == co_id:
        return False
    offers = await _offers(ctx, case)
    co = await ctx.session.get(Coordinator, assigned)
    if co is None or not any(slot.co_id == assigned for slot in offers):
        return False
    intro = (Text("booking.co_assigned", co=_co_text(co)),)
    ctx.say(_offer_message(ctx, case, offers, intro, move_from=move_from))
    return True


async def _day(ctx: OwnerContext, values: dict[str, str]) -> None:
    case = await _owner_case(ctx, _int(values.get("c")))
    if case is None or case.status not in BOOKABLE_STATUSES:
        ctx.say(OutgoingMessage(texts=(Text("booking.case_closed"),)))
        return
    move_from = _int(values.get("mv"))
    chosen = _picked_day(ctx)
    if chosen is None or chosen < _today(ctx):
        await _say_offers(ctx, case, (Text("booking.choose_slot"),), move_from=move_from)
        return
    offers = await _offers(ctx, case, only_day=chosen)
    if offers:
        intro = (Text("booking.choose_slot_day", day=day_text(chosen)),)
        ctx.say(_offer_message(ctx, case, offers, intro, move_from=move_from))
        return
    await _say_offers(
        ctx,
        case,
        (Text("booking.day_none", day=day_text(chosen)),),
        move_from=move_from,
        from_day=chosen,
    )


def _picked_day(ctx: OwnerContext) -> date | None:
    raw = ctx.event.params.get("date") or ctx.event.params.get("datetime", "")[:10]
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


async def _move(ctx: OwnerContext, values: dict[str, str]) -> None:
    owned = await _owned_booking(ctx, values)
    if owned is None:
        ctx.say(OutgoingMessage(texts=(Text("booking.not_found"),)))
        return
    booking, case = owned
    intro = (Text("booking.move.intro", when=when_text(booking.starts_at, booking.ends_at)),)
    await _say_offers(ctx, case, intro, move_from=booking.id)


async def _ask_cancel(ctx: OwnerContext, values: dict[str, str]) -> None:
    owned = await _owned_booking(ctx, values)
    if owned is None:
        ctx.say(OutgoingMessage(texts=(Text("booking.not_found"),)))
        return
    booking, _case = owned
    when = when_text(booking.starts_at, booking.ends_at)
    ctx.say(
        OutgoingMessage(
            texts=(Text("booking.cancel.confirm", when=when),),
            choices=(
                Action(Text("booking.cancel.yes"), postbacks.encode(CANCEL_CONFIRM, b=booking.id)),
                Action(Text("booking.cancel.no"), postbacks.encode(KEEP, b=booking.id)),
            ),
        )
    )


async def _cancel(ctx: OwnerContext, values: dict[str, str]) -> None:
    owned = await _owned_booking(ctx, values)
    if owned is None:
        ctx.say(OutgoingMessage(texts=(Text("booking.not_found"),)))
        return
    booking, case = owned
    await repository.release(ctx.session, booking, now=ctx.now)
    await reminders.cancel_booking_reminders(ctx.session, booking)
    if case.status is CaseStatus.BOOKED:
        remaining = await repository.upcoming_for_case(ctx.session, case.id, ctx.now)
        if remaining is None:
            # The CO keeps the case (CASE_TRANSITIONS: BOOKED → CLAIMED), the owner may rebook.
            _set_status(ctx, case, CaseStatus.CLAIMED, note=f"booking {booking.id} cancelled")
    from core.coordinators.cards import refresh_card  # cards read cases; imported late

    await refresh_card(ctx.session, case, now=ctx.now, suffix=f"cancelled:{booking.id}")
    co = await ctx.session.get(Coordinator, booking.co_id)
    when = when_text(booking.starts_at, booking.ends_at)
    if co is not None:
        await _tell_co(
            ctx,
            co,
            Text("booking.co_cancelled", case=case.number, when=when),
            key=f"booking:{booking.id}:cancelled:co",
            booking=booking,
        )
    ctx.say(
        OutgoingMessage(
            texts=(Text("booking.cancel.done", when=when),),
            choices=(Action(Text("booking.cancel.rebook"), postbacks.encode(START, c=case.id)),),
        )
    )


# -- effects on the case and the CO ----------------------------------------------------------


def _set_status(ctx: OwnerContext, case: Case, target: CaseStatus, *, note: str) -> None:
    check_transition(case.status, target)
    ctx.session.add(
        CaseStatusHistory(
            case_id=case.id,
            from_status=case.status,
            to_status=target,
            at=ctx.now,
            actor_kind=ActorKind.PERSON,
            actor_id=ctx.owner.person.id,
            note=note,
        )
    )
    case.status = target
    case.updated_at = ctx.now


async def _mark_booked(ctx: OwnerContext, case: Case, booking: Booking) -> None:
    """The case is booked with the slot's CO; a waiting case leaves the hub queue's wait list."""
    if case.status is not CaseStatus.BOOKED:
        _set_status(ctx, case, CaseStatus.BOOKED, note=f"booking {booking.id}")
    case.assigned_co_id = booking.co_id
    case.updated_at = ctx.now
    if ctx.queue is not None:
        # Not queued (booked straight from LINE) or already held: nothing to move.
        with suppress(QueueError):
            await ctx.queue.claim(case.id, booking.co_id, now=ctx.now)
    await ctx.session.flush()
    from core.coordinators.booking import show_booking_on_card

    co = await ctx.session.get(Coordinator, booking.co_id)
    if co is not None:
        await show_booking_on_card(ctx.session, case, co, booking, now=ctx.now)
    # A partner who handed the case over hears that a consultation is booked (and when).
    from core.partners.status import ReferrerStep, notify_referrer

    await notify_referrer(
        ctx.session, case.id, ReferrerStep.BOOKED, now=ctx.now, detail={"booking_id": booking.id}
    )


async def _tell_co_moved(ctx: OwnerContext, old: Booking, new: Booking, case: Case) -> None:
    co = await ctx.session.get(Coordinator, old.co_id)
    if co is None:
        return
    old_when = when_text(old.starts_at, old.ends_at)
    if new.co_id == old.co_id:
        text = Text(
            "booking.co_moved",
            case=case.number,
            old=old_when,
            new=when_text(new.starts_at, new.ends_at),
        )
        key = f"booking:{old.id}:moved:co"
    else:
        text = Text("booking.co_cancelled", case=case.number, when=old_when)
        key = f"booking:{old.id}:cancelled:co"
    await _tell_co(ctx, co, text, key=key, booking=old)


async def _tell_co_booked(ctx: OwnerContext, case: Case, booking: Booking) -> None:
    """The CO whose hour the owner took hears of it at once, not from the next digest."""
    co = await ctx.session.get(Coordinator, booking.co_id)
    if co is None:
        return
    when = when_text(booking.starts_at, booking.ends_at)
    text = Text("booking.co_booked", case=case.number, when=when)
    await _tell_co(ctx, co, text, key=f"booking:{booking.id}:booked:co", booking=booking)


async def _tell_co(
    ctx: OwnerContext, co: Coordinator, text: Text, *, key: str, booking: Booking
) -> None:
    """A Slack message to the CO, written in this transaction (invariant 4)."""
    if not co.slack_user_id:
        return
    await outbox.add_message(
        ctx.session,
        platform=Platform.SLACK,
        channel_id=co.slack_team_id or "default",
        recipient=co.slack_user_id,
        kind="slack_message",
        message=OutgoingMessage(texts=(text,)),
        idempotency_key=key,
        now=ctx.now,
        case_id=booking.case_id,
        hub_id=booking.hub_id,
    )
