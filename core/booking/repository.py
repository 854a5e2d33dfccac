"""Bookings in the database: what a hub's COs have free, and taking a slot atomically.

The hold relies on the database, not on a read-then-write (invariant 5): the partial unique
index uq_bookings_co_id_starts_at_active admits one active booking per CO and start time, so
of any number of racing inserts exactly one commits. The insert runs in a SAVEPOINT so the
loser's transaction survives and can offer the owner other slots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.booking.slots import BusyPeriod, DayException, Slot, WeeklyWindow
from core.clock import JST
from core.db.models import (
    Booking,
    Case,
    CoAvailabilityException,
    Coordinator,
    CoWeeklyAvailability,
    HubClosedDay,
)
from core.domain.enums import ACTIVE_BOOKING_STATUSES, OPEN_CASE_STATUSES, BookingStatus

_ACTIVE = tuple(ACTIVE_BOOKING_STATUSES)


@dataclass
class HubAvailability:
    """Everything `slots.available_slots` needs for one hub and a range of days."""

    coordinators: dict[int, Coordinator] = field(default_factory=dict)
    weekly: list[WeeklyWindow] = field(default_factory=list)
    exceptions: list[DayException] = field(default_factory=list)
    busy: list[BusyPeriod] = field(default_factory=list)
    closed_days: set[date] = field(default_factory=set)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=JST).astimezone(UTC)


async def load_availability(
    session: AsyncSession,
    hub_id: int,
    first_day: date,
    last_day: date,
    *,
    co_ids: Sequence[int] | None = None,
) -> HubAvailability:
    """The hub's active COs (or just `co_ids` of them) with their hours, days off and bookings."""
    query = select(Coordinator).where(Coordinator.hub_id == hub_id, Coordinator.active.is_(True))
    if co_ids is not None:
        query = query.where(Coordinator.id.in_(list(co_ids)))
    coordinators = {co.id: co for co in await session.scalars(query.order_by(Coordinator.id))}
    result = HubAvailability(coordinators=coordinators)
    if not coordinators:
        return result
    ids = list(coordinators)
    for row in await session.scalars(
        select(CoWeeklyAvailability).where(CoWeeklyAvailability.co_id.in_(ids))
    ):
        result.weekly.append(
            WeeklyWindow(row.co_id, row.weekday, row.start_time, row.end_time, row.mode)
        )
    for exc in await session.scalars(
        select(CoAvailabilityException).where(
            CoAvailabilityException.co_id.in_(ids),
            CoAvailabilityException.day >= first_day,
            CoAvailabilityException.day <= last_day,
        )
    ):
        result.exceptions.append(
            DayException(exc.co_id, exc.day, exc.available, exc.start_time, exc.end_time)
        )
    start, end = _day_start(first_day), _day_start(last_day + timedelta(days=1))
    for booking in await session.scalars(
        select(Booking).where(
            Booking.co_id.in_(ids),
            Booking.status.in_(_ACTIVE),
            Booking.starts_at < end,
            Booking.ends_at > start,
        )
    ):
        result.busy.append(BusyPeriod(booking.co_id, booking.starts_at, booking.ends_at))
    result.closed_days = set(
        await session.scalars(
            select(HubClosedDay.day).where(
                HubClosedDay.hub_id == hub_id,
                HubClosedDay.day >= first_day,
                HubClosedDay.day <= last_day,
            )
        )
    )
    return result


async def open_case_counts(session: AsyncSession, co_ids: Sequence[int]) -> dict[int, int]:
    """Open cases per CO, for the capacity check the routing ranking makes."""
    if not co_ids:
        return {}
    rows = await session.execute(
        select(Case.assigned_co_id, func.count())
        .where(Case.assigned_co_id.in_(list(co_ids)), Case.status.in_(tuple(OPEN_CASE_STATUSES)))
        .group_by(Case.assigned_co_id)
    )
    counts = {co_id: 0 for co_id in co_ids}
    for co_id, count in rows.tuples():
        if co_id is not None:
            counts[co_id] = int(count)
    return counts


async def overlapping_booking(session: AsyncSession, co_id: int, slot: Slot) -> Booking | None:
    found: Booking | None = await session.scalar(
        select(Booking)
        .where(
            Booking.co_id == co_id,
            Booking.status.in_(_ACTIVE),
            Booking.starts_at < slot.ends_at,
            Booking.ends_at > slot.starts_at,
        )
        .limit(1)
    )
    return found


async def hold_slot(
    session: AsyncSession,
    *,
    case_id: int,
    hub_id: int,
    slot: Slot,
    now: datetime,
    status: BookingStatus = BookingStatus.CONFIRMED,
) -> Booking | None:
    """Take the slot for the case, or None when someone else has it (offer other slots).

    The overlap query catches bookings of other lengths or starts; the unique index catches
    the race the query cannot see (another transaction inserting the same start right now).
    """
    if status not in ACTIVE_BOOKING_STATUSES:
        raise ValueError(f"a hold must be active, not {status}")
    if await overlapping_booking(session, slot.co_id, slot) is not None:
        return None
    booking = Booking(
        case_id=case_id,
        co_id=slot.co_id,
        hub_id=hub_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        mode=slot.mode,
        status=status,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(booking)
            await session.flush()
    except IntegrityError:
        return None
    return booking


async def release(session: AsyncSession, booking: Booking, *, now: datetime) -> None:
    """Free the slot: the row stays (history, figures), only its status changes."""
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now
    await session.flush()


async def upcoming_for_person(
    session: AsyncSession, person_id: int, now: datetime, *, limit: int = 10
) -> list[Booking]:
    """The owner's active bookings that have not ended yet, soonest first."""
    rows = await session.scalars(
        select(Booking)
        .join(Case, Case.id == Booking.case_id)
        .where(
            Case.person_id == person_id,
            Booking.status.in_(_ACTIVE),
            Booking.ends_at > now,
        )
        .order_by(Booking.starts_at, Booking.id)
        .limit(limit)
    )
    return list(rows)


_HAS_UPCOMING = select(
    select(Booking.id)
    .join(Case, Case.id == Booking.case_id)
    .where(
        Case.person_id == bindparam("person_id"),
        Booking.status.in_(_ACTIVE),
        Booking.ends_at > bindparam("now"),
    )
    .exists()
)


async def has_upcoming(session: AsyncSession, person_id: int, now: datetime) -> bool:
    """Whether `upcoming_for_person` would find any: asked on every LINE event (the rich
    menu follows it), so one EXISTS built once rather than loading a booking."""
    return bool(await session.scalar(_HAS_UPCOMING, {"person_id": person_id, "now": now}))


async def upcoming_for_case(session: AsyncSession, case_id: int, now: datetime) -> Booking | None:
    found: Booking | None = await session.scalar(
        select(Booking)
        .where(Booking.case_id == case_id, Booking.status.in_(_ACTIVE), Booking.ends_at > now)
        .order_by(Booking.starts_at, Booking.id)
        .limit(1)
    )
    return found
