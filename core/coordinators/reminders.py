"""What the scheduler tells coordinators in Slack: the morning digest and two reminders.

* The morning digest (08:30 on the hub's business days): each CO gets one DM listing the day's
  consultations with each client's intake (topics and description) and self-check results.
* The outcome reminder: a consultation whose outcome (ConsultationRecord) is still missing at
  10:00 on the next business day after it took place.
* The follow-up reminder: a consultation record's `follow_up_on` day has come (phase-2
  continuous support), on the first business day on or after it, unless the CO has met the
  client again since.

Every notice is one outbox row with a deterministic key, so the jobs may run as often as they
like, or twice at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.calendar import jst_at
from core.clock import to_jst
from core.db.models import (
    Booking,
    Business,
    Case,
    ConsultationRecord,
    Coordinator,
    SelfCheckResult,
)
from core.domain.enums import BookingStatus, CaseStatus
from core.hub_calendar import DEFAULT_CALENDAR, hub_calendars
from core.i18n import Text
from core.i18n.dates import jst_day
from core.messages import OutgoingMessage
from core.notify import dm

OUTCOME_REMINDER_AT = time(10, 0)
"""On the next business day after a consultation, its missing outcome is asked for at this time."""
LOOKBACK = timedelta(days=21)
"""Reminders are not invented for consultations older than this (after a long outage)."""
DESCRIPTION_CHARS = 300
HELD_BOOKINGS = (BookingStatus.CONFIRMED, BookingStatus.COMPLETED)
CLOSED = (CaseStatus.CLOSED, CaseStatus.CANCELLED)


def _hhmm(moment: datetime) -> str:
    return to_jst(moment).strftime("%H:%M")


def _topics(values: Sequence[str]) -> tuple[Text, ...]:
    return tuple(Text(f"topic.{value}") for value in values) or (Text("scheduler.common.none"),)


def selfcheck_text(kind: str, result: dict[str, Any]) -> Text:
    """One line summarising a self-check result for the CO."""
    if kind == "checklist":
        return Text(
            "scheduler.co_digest.checklist",
            percent=int(result.get("percent") or 0),
            weak=_topics([str(v) for v in result.get("weak_topics", [])]),
        )
    return Text(
        "scheduler.co_digest.breakeven",
        sales=f"{int(result.get('sales') or 0):,}",
        break_even=f"{int(result.get('break_even_sales') or 0):,}",
    )


async def _selfchecks(session: AsyncSession, case_ids: Sequence[int]) -> dict[int, list[Text]]:
    found: dict[int, list[Text]] = {}
    if not case_ids:
        return found
    rows = await session.execute(
        select(SelfCheckResult.case_id, SelfCheckResult.kind, SelfCheckResult.result)
        .where(SelfCheckResult.case_id.in_(case_ids))
        .order_by(SelfCheckResult.case_id, SelfCheckResult.created_at)
    )
    for case_id, kind, result in rows.all():
        found.setdefault(case_id, []).append(selfcheck_text(str(kind), dict(result or {})))
    return found


async def morning_digest(session: AsyncSession, *, now: datetime) -> int:
    """Queue each CO's digest of today's consultations (on their hub's business days)."""
    today = to_jst(now).date()
    start, end = jst_at(today, time(0)), jst_at(today + timedelta(days=1), time(0))
    rows = (
        await session.execute(
            select(Booking, Case, Business)
            .join(Case, Case.id == Booking.case_id)
            .outerjoin(Business, Business.id == Case.business_id)
            .where(
                Booking.status == BookingStatus.CONFIRMED,
                Booking.starts_at >= start,
                Booking.starts_at < end,
            )
            .order_by(Booking.co_id, Booking.starts_at)
        )
    ).all()
    if not rows:
        return 0
    calendars = await hub_calendars(session, {b.hub_id for b, _, _ in rows}, today=today)
    checks = await _selfchecks(session, sorted({c.id for _, c, _ in rows}))
    by_co: dict[int, list[tuple[Booking, Case, Business | None]]] = {}
    for booking, case, business in rows:
        if calendars.get(booking.hub_id, DEFAULT_CALENDAR).is_business_day(today):
            by_co.setdefault(booking.co_id, []).append((booking, case, business))
    queued = 0
    for co_id, items in by_co.items():
        co = await session.get(Coordinator, co_id)
        if co is None:
            continue
        message = _digest_message(today, items, checks)
        queued += await dm(session, co, message, key=f"co_digest:{co_id}:{today}", now=now)
    return queued


def _digest_message(
    today: date,
    items: Sequence[tuple[Booking, Case, Business | None]],
    checks: dict[int, list[Text]],
) -> OutgoingMessage:
    texts = [Text("scheduler.co_digest.title", day=jst_day(today), count=len(items))]
    for booking, case, business in items:
        description = (case.description or "").strip()
        if len(description) > DESCRIPTION_CHARS:
            description = description[:DESCRIPTION_CHARS] + "…"
        texts.append(
            Text(
                "scheduler.co_digest.item",
                start=_hhmm(booking.starts_at),
                end=_hhmm(booking.ends_at),
                number=case.number,
                business=business.name if business is not None else "-",
                mode=Text(f"booking.mode_short.{booking.mode.value}"),
                topics=_topics(case.topics or []),
                description=description or "-",
            )
        )
        texts.extend(checks.get(case.id, []))
    return OutgoingMessage(texts=tuple(texts))


def outcome_due(next_business_day: date) -> datetime:
    """When a missing outcome is asked for: OUTCOME_REMINDER_AT on the next business day."""
    return jst_at(next_business_day, OUTCOME_REMINDER_AT)


def outcome_recorded() -> Exists:
    """A booking's outcome is recorded: a consultation record names it, or (written by
    hand, without the booking) the same CO recorded one on the case after it began.

    The reminders and the dashboard's count of unrecorded outcomes both ask this."""
    return exists().where(
        or_(
            ConsultationRecord.booking_id == Booking.id,
            and_(
                ConsultationRecord.booking_id.is_(None),
                ConsultationRecord.case_id == Booking.case_id,
                ConsultationRecord.co_id == Booking.co_id,
                ConsultationRecord.created_at >= Booking.starts_at,
            ),
        )
    )


async def outcome_reminders(session: AsyncSession, *, now: datetime) -> int:
    """Remind COs of consultations held whose outcome is still not recorded."""
    recorded = outcome_recorded()
    rows = (
        await session.execute(
            select(Booking, Case.number)
            .join(Case, Case.id == Booking.case_id)
            .where(
                Booking.status.in_(HELD_BOOKINGS),
                Booking.starts_at >= now - LOOKBACK,
                Booking.starts_at < now,
                ~recorded,
            )
            .order_by(Booking.id)
        )
    ).all()
    if not rows:
        return 0
    calendars = await hub_calendars(session, {b.hub_id for b, _ in rows}, today=to_jst(now).date())
    queued = 0
    for booking, number in rows:
        calendar = calendars.get(booking.hub_id, DEFAULT_CALENDAR)
        held_on = to_jst(booking.starts_at).date()
        if now < outcome_due(calendar.next_business_day(held_on)):
            continue
        co = await session.get(Coordinator, booking.co_id)
        if co is None:
            continue
        message = OutgoingMessage(
            texts=(
                Text(
                    "scheduler.co_outcome.reminder",
                    number=number,
                    day=jst_day(held_on),
                    start=_hhmm(booking.starts_at),
                ),
            )
        )
        queued += await dm(
            session,
            co,
            message,
            key=f"co_outcome:{booking.id}",
            now=now,
            case_id=booking.case_id,
        )
    return queued


async def followup_reminders(session: AsyncSession, *, now: datetime) -> int:
    """Remind COs of follow-ups due today (or since the last business day)."""
    today = to_jst(now).date()
    rows = (
        await session.execute(
            select(ConsultationRecord, Case.number)
            .join(Case, Case.id == ConsultationRecord.case_id)
            .where(
                ConsultationRecord.follow_up_on.is_not(None),
                ConsultationRecord.follow_up_on <= today,
                ConsultationRecord.follow_up_on >= today - LOOKBACK,
                Case.status.not_in(CLOSED),
            )
            .order_by(ConsultationRecord.id)
        )
    ).all()
    if not rows:
        return 0
    calendars = await hub_calendars(session, {r.hub_id for r, _ in rows}, today=today)
    queued = 0
    for record, number in rows:
        calendar = calendars.get(record.hub_id, DEFAULT_CALENDAR)
        if not calendar.is_business_day(today) or to_jst(now).time() < time(9, 0):
            continue
        assert record.follow_up_on is not None
        met_since = await session.scalar(
            select(ConsultationRecord.id)
            .where(
                ConsultationRecord.case_id == record.case_id,
                ConsultationRecord.id != record.id,
                ConsultationRecord.held_on >= record.follow_up_on,
            )
            .limit(1)
        )
        if met_since is not None:
            continue
        co = await session.get(Coordinator, record.co_id)
        if co is None:
            continue
        message = OutgoingMessage(
            texts=(
                Text(
                    "scheduler.co_followup.reminder",
                    number=number,
                    day=jst_day(record.follow_up_on),
                    held_on=jst_day(record.held_on),
                ),
            )
        )
        queued += await dm(
            session,
            co,
            message,
            key=f"co_followup:{record.id}:{record.follow_up_on}",
            now=now,
            case_id=record.case_id,
        )
    return queued
