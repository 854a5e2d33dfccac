"""A coordinator books the consultation (予約を入れる) for a case they work.

An owner on LINE books for themselves (core.owners.booking); a partner's hand-over whose owner
is not on LINE could otherwise never be booked, so the CO books it with the owner by phone.
The same rules hold as for an owner: only a free slot of the case's CO (their weekly hours,
days off, the hub's closed days, the lead time), taken atomically (invariant 5), in the
caller's transaction with every message it causes (invariant 4).

The slot belongs to the CO who holds the case; the hub's CCO (or HQ) may book on their
behalf, and books their own hours when the case has nobody yet.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core.booking import repository
from core.booking.slots import Slot, available_slots, local_day
from core.clock import to_jst
from core.coordinators.actions import (
    CaseActionError,
    _audit,
    _case,
    _check_may_work,
    _co,
    _dm,
    _move,
    notify_referrer,
)
from core.coordinators.cards import refresh_card
from core.db.models import Booking, Case, Coordinator
from core.domain.enums import BookingMode, CaseStatus
from core.i18n import Text
from core.messages import OutgoingMessage
from core.queues.port import HubQueue, QueueError
from core.reminders.bookings import plan_booking_reminders
from core.reminders.scheduled import owner_address

SEARCH_DAYS = 21
"""How far ahead the modal looks for free slots (as far as an owner's offers look)."""
MAX_CHOICES = 25
"""Slots offered in the modal: a short list a CO reads on the phone with the owner."""
MODES = (BookingMode.VISIT, BookingMode.ONLINE)
"""What a CO may choose in Slack; a visit to the business (onsite) is arranged apart."""
_BOOKABLE = frozenset(
    {CaseStatus.NEW, CaseStatus.QUEUED, CaseStatus.CLAIMED, CaseStatus.IN_SUPPORT}
)
"""Statuses a booking moves to BOOKED; a BOOKED case already has its consultation."""


def when_text(starts_at: datetime) -> Text:
    """Like 6月3日(水) 14:00: the CO and the owner talk in Japan time, whatever is stored."""
    local = to_jst(starts_at)
    return Text(
        "coordinators.book.when", start=local, weekday=Text(f"booking.weekday.{local.weekday()}")
    )


async def _slot_co(session: AsyncSession, case: Case, co: Coordinator) -> Coordinator:
    """Whose hours the booking takes: the case's CO, else the one booking."""
    if case.assigned_co_id is None or case.assigned_co_id == co.id:
        return co
    holder = await session.get(Coordinator, case.assigned_co_id)
    if holder is None or not holder.active:
        raise CaseActionError(Text("coordinators.error.changed_meanwhile"))
    return holder


async def _free(
    session: AsyncSession, case: Case, co_id: int, first: datetime, days: int, *, now: datetime
) -> list[Slot]:
    first_day = local_day(first)
    last_day = first_day + timedelta(days=days)
    availability = await repository.load_availability(
        session, case.hub_id, first_day, last_day, co_ids=[co_id]
    )
    return available_slots(
        now=now,
        first_day=first_day,
        last_day=last_day,
        weekly=availability.weekly,
        exceptions=availability.exceptions,
        busy=availability.busy,
        closed_days=availability.closed_days,
    )


async def _bookable_case(
    session: AsyncSession, case_id: int, co_id: int, *, now: datetime
) -> tuple[Case, Coordinator, Coordinator]:
    """(case, the CO booking, the CO whose slot it is), or the reason it cannot be booked."""
    case = await _case(session, case_id)
    co = await _co(session, co_id)
    await _check_may_work(session, co, case)
    if case.status is CaseStatus.BOOKED:
        upcoming = await repository.upcoming_for_case(session, case.id, now)
        raise CaseActionError(
            Text(
                "coordinators.error.already_booked",
                number=case.number,
                when=when_text(upcoming.starts_at) if upcoming else Text("card.unknown"),
            )
        )
    if case.status not in _BOOKABLE:
        raise CaseActionError(Text("coordinators.error.cannot_book"))
    return case, co, await _slot_co(session, case, co)


async def free_slots(
    session: AsyncSession, case_id: int, co_id: int, *, now: datetime, limit: int = MAX_CHOICES
) -> list[Slot]:
    """The next free hours the CO asking may book for the case, soonest first.

    Refuses (CaseActionError) what `book_consultation` would refuse, so the modal does not
    offer a booking that cannot be made.
    """
    case, _co_booking, owner_co = await _bookable_case(session, case_id, co_id, now=now)
    return (await _free(session, case, owner_co.id, now, SEARCH_DAYS, now=now))[:limit]


async def check_slot(
    session: AsyncSession, case_id: int, co_id: int, *, starts_at: datetime, now: datetime
) -> Slot:
    """The free slot starting at `starts_at` for the case, or why it cannot be booked.

    Read-only, so Slack's submission can answer a stale choice as a field error at once; the
    booking itself checks again and takes the slot atomically.
    """
    case, _co_booking, owner_co = await _bookable_case(session, case_id, co_id, now=now)
    return await _slot_at(session, case, owner_co, starts_at, now=now)


async def _slot_at(
    session: AsyncSession, case: Case, owner_co: Coordinator, starts_at: datetime, *, now: datetime
) -> Slot:
    starts_at = starts_at.astimezone(UTC)
    free = await _free(session, case, owner_co.id, starts_at, 0, now=now)
    slot = next((s for s in free if s.starts_at == starts_at), None)
    if slot is None:
        raise CaseActionError(Text("coordinators.error.slot_unavailable"))
    return slot


async def book_consultation(
    session: AsyncSession,
    case_id: int,
    co_id: int,
    *,
    starts_at: datetime,
    mode: BookingMode,
    now: datetime,
    queue: HubQueue | None = None,
) -> Booking:
    """Book the case's consultation in a free slot of its CO, as the owner would from LINE.

    The case becomes BOOKED with that CO, the owner (when on LINE) gets their reminders, the
    referring partner hears the date, the card shows it, and the CO (and the case's CO, when
    the CCO booked for them) gets a confirmation. A slot someone took meanwhile is refused
    with "slot taken" and nothing is written.
    """
    if mode not in MODES:
        raise CaseActionError(Text("coordinators.error.unknown_choice"))
    case, co, owner_co = await _bookable_case(session, case_id, co_id, now=now)
    free = await _slot_at(session, case, owner_co, starts_at, now=now)
    slot = Slot(free.starts_at, free.co_id, free.ends_at, mode)
    booking = await repository.hold_slot(
        session, case_id=case.id, hub_id=case.hub_id, slot=slot, now=now
    )
    if booking is None:
        raise CaseActionError(Text("coordinators.error.slot_taken"))
    if case.assigned_co_id is None:
        case.assigned_co_id = owner_co.id
        case.claimed_at = now
        if queue is not None:
            # Not queued, or held already: the case row above is what counts.
            with suppress(QueueError):
                await queue.claim(case.id, owner_co.id, now=now)
    _move(session, case, CaseStatus.BOOKED, now=now, actor_id=co.id, note=f"booking {booking.id}")
    await session.flush()
    _audit(
        session,
        "booking.made_by_co",
        now=now,
        case=case,
        actor_id=co.id,
        booking_id=booking.id,
        co_id=owner_co.id,
        starts_at=booking.starts_at.isoformat(),
        mode=booking.mode.value,
    )
    reminded = await plan_booking_reminders(session, booking, now=now)
    await notify_referrer(session, case.id, "booked", now=now, detail={"booking_id": booking.id})
    await show_booking_on_card(session, case, owner_co, booking, now=now)
    when = when_text(booking.starts_at)
    mode_text = Text(f"coordinators.mode.{booking.mode.value}")
    done = [Text("coordinators.book.done", number=case.number, when=when, mode=mode_text)]
    if not reminded and await owner_address(session, case.person_id) is not None:
        # The owner is on LINE but it starts too soon for a reminder: the CO should know.
        done.append(Text("coordinators.book.no_reminder"))
    await _dm(
        session,
        co,
        OutgoingMessage(texts=tuple(done)),
        now=now,
        key=f"booking:{booking.id}:co-booked",
        case_id=case.id,
    )
    if owner_co.id != co.id:
        await _dm(
            session,
            owner_co,
            OutgoingMessage(
                texts=(
                    Text(
                        "coordinators.book.for_you",
                        name=co.name,
                        number=case.number,
                        when=when,
                        mode=mode_text,
                    ),
                )
            ),
            now=now,
            key=f"booking:{booking.id}:co-booked-for",
            case_id=case.id,
        )
    return booking


async def show_booking_on_card(
    session: AsyncSession, case: Case, owner_co: Coordinator, booking: Booking, *, now: datetime
) -> None:
    """The queue card names the CO and the date, and offers no claim once a slot is booked,
    whether the CO booked it from Slack or the owner on LINE."""
    await refresh_card(session, case, now=now, suffix=f"booked:{booking.id}")
