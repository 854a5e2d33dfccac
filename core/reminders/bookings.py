"""Booking reminders: by default the day before (10:00 Japan time) and two hours before.

Planned when a booking is confirmed (core/owners/booking.py and core/coordinators/booking.py
call `plan_booking_reminders`), cancelled when it is moved or cancelled
(`cancel_booking_reminders`; a move books a new booking, which gets reminders of its own), and
planned again by the scheduler's safety net (`plan_missing_booking_reminders`) for any
confirmed booking that has none.

A reminder is a promise, so it is planned inside the owners' push window (core.push_window)
before it is written: a reminder whose ideal moment is outside the window moves to the last
allowed moment before it, earlier and never later (the two-hours-before reminder of a 09:00
booking goes at 20:00 the evening before). Waiting for the next allowed moment instead is how
such reminders used to arrive after the start and be dropped as stale. A reminder that cannot
be planned at least an hour after the booking and an hour before the start is not planned at
all, and the confirmation says so; none is written only to be dropped.

Each reminder carries three buttons: 予約を確認 (reminder.confirm), 変更 (booking.move) and
キャンセル (booking.cancel); the booking flow already owns the last two. Its wording follows
the day it goes: 本日 on the day, 明日 the day before, the date when earlier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import jst_at, jst_day
from core.clock import to_jst
from core.db.models import Booking, Case, Coordinator, Hub, OutboxMessage
from core.domain.enums import BookingMode, BookingStatus, HubKind, OutboxStatus
from core.hub_calendar import push_window
from core.i18n import Text
from core.messages import Action, Card, OutgoingMessage
from core.owners import postbacks
from core.push_window import DEFAULT_WINDOW, PushWindow
from core.reminders.scheduled import add_planned_push, owner_address

CONFIRM_ACTION: Final = "reminder.confirm"
MOVE_ACTION: Final = "booking.move"
CANCEL_ACTION: Final = "booking.cancel"
KIND: Final = "reminder"
"""The outbox kind of a booking reminder."""


@dataclass(frozen=True)
class ReminderOffset:
    """When one reminder goes, relative to the booking's start.

    Either `days_before` with a Japan-time `at` (the day before at 10:00), or `before` (two
    hours before). `name` is part of the idempotency key: keep it stable.
    """

    name: str
    before: timedelta | None = None
    days_before: int | None = None
    at: time | None = None

    def __post_init__(self) -> None:
        if (self.before is None) == (self.days_before is None):
            raise ValueError("a reminder offset needs either `before` or `days_before`")
        if self.days_before is not None and self.at is None:
            raise ValueError("a reminder on a day before needs a time of day (`at`)")

    def due(self, starts_at: datetime) -> datetime:
        """The due moment (UTC) for a booking starting at `starts_at`."""
        if self.before is not None:
            return (starts_at - self.before).astimezone(UTC)
        assert self.days_before is not None
        assert self.at is not None
        day = jst_day(starts_at) - timedelta(days=self.days_before)
        return jst_at(day, self.at).astimezone(UTC)


@dataclass(frozen=True)
class ReminderSettings:
    offsets: tuple[ReminderOffset, ...] = (
        ReminderOffset("day_before", days_before=1, at=time(10, 0)),
        ReminderOffset("2h", before=timedelta(hours=2)),
    )
    priority: int = 10
    """Booking reminders come first in the month's push budget (lower goes first)."""
    min_lead: timedelta = timedelta(hours=1)
    """A reminder due less than this before the start is not planned: the owner could not act
    on it (come, or change the booking) in time."""
    min_after: timedelta = timedelta(hours=1)
    """Nor one due within this of now (the booking): it would only repeat the confirmation."""
    min_apart: timedelta = timedelta(hours=1)
    """Two reminders closer than this are one: the one nearer the start is kept."""


DEFAULT_REMINDERS: Final = ReminderSettings()


def reminder_key(booking_id: int, offset: ReminderOffset | str) -> str:
    name = offset if isinstance(offset, str) else offset.name
    return f"reminder:booking:{booking_id}:{name}"


def _key_prefix(booking_id: int) -> str:
    return f"reminder:booking:{booking_id}:"


def reminder_times(
    starts_at: datetime,
    now: datetime,
    settings: ReminderSettings = DEFAULT_REMINDERS,
    window: PushWindow = DEFAULT_WINDOW,
) -> list[tuple[ReminderOffset, datetime]]:
    """The reminders worth planning for a booking, as (offset, due in UTC), earliest first.

    Pure. Each offset's ideal moment moves back into the push window (never later); one that
    then falls within `min_after` of now or `min_lead` of the start is left out, and of two
    closer than `min_apart` the one nearer the start is kept.
    """
    candidates: list[tuple[ReminderOffset, datetime]] = []
    for offset in settings.offsets:
        due = window.latest_at_or_before(offset.due(starts_at))
        if due < now + settings.min_after or due > starts_at - settings.min_lead:
            continue
        candidates.append((offset, due))
    kept: list[tuple[ReminderOffset, datetime]] = []
    for offset, due in sorted(candidates, key=lambda item: item[1], reverse=True):
        if all(abs(other - due) >= settings.min_apart for _, other in kept):
            kept.append((offset, due))
    return sorted(kept, key=lambda item: item[1])


# -- the message -----------------------------------------------------------------------------


def _when(booking: Booking) -> Text:
    start, end = to_jst(booking.starts_at), to_jst(booking.ends_at)
    return Text(
        "booking.when", start=start, end=end, weekday=Text(f"booking.weekday.{start.weekday()}")
    )


def _place(booking: Booking, hub: Hub | None) -> Text:
    if booking.mode is BookingMode.VISIT:
        if hub is None or hub.kind is HubKind.HQ or hub.prefecture_code is None:
            hub_text = Text("hub.hq")
        else:
            hub_text = Text("hub.name", prefecture=Text(f"prefecture.{hub.prefecture_code}"))
        return Text("booking.mode.visit", hub=hub_text)
    return Text(f"booking.mode.{booking.mode.value}")


def _intro(booking: Booking, sent_at: datetime, when: Text) -> Text:
    """The first line, true to the day it is read: 本日, 明日, or the date further ahead."""
    days = (jst_day(booking.starts_at) - jst_day(sent_at)).days
    if days <= 0:
        return Text("reminder.booking.today", start=to_jst(booking.starts_at), when=when)
    if days == 1:
        return Text("reminder.booking.day_before", when=when)
    return Text("reminder.booking.ahead", when=when)


def reminder_message(
    booking: Booking,
    sent_at: datetime,
    *,
    hub: Hub | None,
    co: Coordinator | None,
    case_number: str | None,
) -> OutgoingMessage:
    when = _when(booking)
    rows: list[tuple[Text, Text]] = [
        (Text("booking.card.when"), when),
        (Text("booking.card.place"), _place(booking, hub)),
    ]
    if co is not None:
        rows.append((Text("booking.card.co"), Text("reminder.booking.co", name=co.name)))
    if case_number:
        rows.append((Text("booking.card.number"), Text("common.verbatim", value=case_number)))
    return OutgoingMessage(
        texts=(_intro(booking, sent_at, when),),
        card=Card(
            title=Text("reminder.booking.title"),
            rows=tuple(rows),
            actions=(
                Action(
                    Text("reminder.booking.confirm"), postbacks.encode(CONFIRM_ACTION, b=booking.id)
                ),
                Action(
                    Text("reminder.booking.change"), postbacks.encode(MOVE_ACTION, b=booking.id)
                ),
                Action(
                    Text("reminder.booking.cancel"), postbacks.encode(CANCEL_ACTION, b=booking.id)
                ),
            ),
            alt_text=Text("reminder.booking.alt", when=when),
        ),
    )


# -- planning and cancelling -----------------------------------------------------------------


async def plan_booking_reminders(
    session: AsyncSession,
    booking: Booking,
    *,
    now: datetime,
    settings: ReminderSettings = DEFAULT_REMINDERS,
) -> list[datetime]:
    """Queue the booking's reminders in the caller's transaction; answers when they go (UTC).

    Only a confirmed booking of an owner we can reach on LINE gets any; an empty answer means
    the owner gets none (the confirmation says so). Planning again (the safety net, a
    redelivered event) finds the keys taken and writes nothing, but answers the same times.
    """
    if booking.status is not BookingStatus.CONFIRMED:
        return []
    window = await push_window(session, booking.hub_id)
    due_times = reminder_times(booking.starts_at, now, settings, window)
    if not due_times:
        return []
    case = await session.get(Case, booking.case_id)
    address = await owner_address(session, case.person_id if case is not None else None)
    if address is None:
        return []
    hub = await session.get(Hub, booking.hub_id)
    co = await session.get(Coordinator, booking.co_id)
    for offset, due in due_times:
        await add_planned_push(
            session,
            address,
            reminder_message(
                booking, due, hub=hub, co=co, case_number=case.number if case else None
            ),
            kind=KIND,
            key=reminder_key(booking.id, offset),
            due=due,
            stale_after=booking.starts_at,
            priority=settings.priority,
            now=now,
            case_id=booking.case_id,
            hub_id=booking.hub_id,
        )
    return [due for _, due in due_times]


async def cancel_booking_reminders(
    session: AsyncSession, booking: Booking, *, reason: str = "booking_cancelled"
) -> int:
    """Cancel the booking's reminders that have not gone yet; answers how many."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.case_id == booking.case_id,
            OutboxMessage.idempotency_key.like(f"{_key_prefix(booking.id)}%"),
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.HELD)),
        )
        .values(status=OutboxStatus.CANCELLED, last_error=reason)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def plan_missing_booking_reminders(
    session: AsyncSession,
    *,
    now: datetime,
    after_id: int = 0,
    limit: int = 500,
    settings: ReminderSettings = DEFAULT_REMINDERS,
) -> tuple[int, int | None]:
    """One batch of the safety net: confirmed future bookings with id > after_id.

    Answers (reminders planned, the last booking id looked at, or None when there were no
    more). A booking that has any reminder row already is left alone, so a reminder that was
    cancelled (the owner unfollowed) is not planned again.
    """
    bookings: Sequence[Booking] = (
        await session.scalars(
            select(Booking)
            .where(
                Booking.id > after_id,
                Booking.status == BookingStatus.CONFIRMED,
                Booking.starts_at > now,
            )
            .order_by(Booking.id)
            .limit(limit)
        )
    ).all()
    if not bookings:
        return 0, None
    keys = {
        reminder_key(booking.id, offset): booking.id
        for booking in bookings
        for offset in settings.offsets
    }
    taken = set(
        await session.scalars(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.in_(list(keys))
            )
        )
    )
    has_some = {keys[key] for key in taken}
    planned = 0
    for booking in bookings:
        if booking.id not in has_some:
            planned += len(
                await plan_booking_reminders(session, booking, now=now, settings=settings)
            )
    return planned, bookings[-1].id
