"""The dashboard's numbers beyond the eight figures, each with the list of records it counts.

Queue health (escalations, outcomes not recorded) and referrals by partner organisation,
in and out. As for the eight figures, every number is the length of a list read here, and
the page links each number to that list, so the two cannot disagree. Only records the
system wrote are read: the escalation job's audit rows, bookings and consultation records,
referrals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import JST, to_jst
from core.coordinators.reminders import HELD_BOOKINGS, outcome_recorded
from core.dashboard import MONTHS
from core.db.models import (
    AuditLog,
    Booking,
    Case,
    Coordinator,
    LineChannel,
    PartnerOrganisation,
    PushUsage,
    Referral,
)
from core.domain.enums import ReferralDirection
from core.surveys.aggregate import fiscal_year_days


class Listing(StrEnum):
    ESCALATIONS = "escalations"
    """Cases left unclaimed past the hub's escalation hours, each notice (CCO, then HQ)."""
    UNRECORDED_OUTCOMES = "unrecorded_outcomes"
    """Bookings whose time has come and gone without a consultation record."""
    REFERRALS_OUT = "referrals_out"
    """The hub's hand-overs to a partner (figure 4), by the partner that received them."""
    REFERRALS_IN = "referrals_in"
    """Cases a partner handed to the hub, by the partner that sent them."""


ESCALATION_ACTIONS: Final = ("case.escalated.cco", "case.escalated.hq")
"""What core.escalation writes to the audit log when it tells the CCO, then HQ."""

NO_ORGANISATION: Final = 0
"""The `org` filter for referrals whose partner is not known."""


@dataclass(frozen=True)
class ListLine:
    on: date
    """The Japan-time day it happened."""
    case_id: int
    case_number: str
    organisation_id: int | None
    detail: str
    """The escalation's level (cco, hq), or the CO of an unrecorded booking."""


@dataclass(frozen=True)
class PartnerLine:
    organisation_id: int | None
    name: str
    out: int
    came_in: int


def _year_span(fiscal_year: int) -> tuple[datetime, datetime]:
    first, _last = fiscal_year_days(fiscal_year)
    start = datetime.combine(first, time(0), JST).astimezone(UTC)
    end = datetime(fiscal_year + 1, 4, 1, tzinfo=JST).astimezone(UTC)
    return start, end


async def listing(
    session: AsyncSession,
    which: Listing,
    *,
    hub_id: int,
    fiscal_year: int,
    now: datetime,
    organisation_id: int | None = None,
) -> list[ListLine]:
    """The records `which` counts for the hub's fiscal year; for referrals, those of one
    partner when `organisation_id` is given (NO_ORGANISATION: no partner recorded)."""
    start, end = _year_span(fiscal_year)
    match which:
        case Listing.ESCALATIONS:
            rows = await session.execute(
                select(AuditLog.at, AuditLog.case_id, Case.number, AuditLog.action)
                .join(Case, Case.id == AuditLog.case_id)
                .where(
                    AuditLog.hub_id == hub_id,
                    AuditLog.action.in_(ESCALATION_ACTIONS),
                    AuditLog.at >= start,
                    AuditLog.at < end,
                )
                .order_by(AuditLog.at, AuditLog.id)
            )
            return [
                ListLine(to_jst(at).date(), case_id, number, None, action.rsplit(".", 1)[1])
                for at, case_id, number, action in rows.tuples().all()
                if case_id is not None
            ]
        case Listing.UNRECORDED_OUTCOMES:
            booked = await session.execute(
                select(Booking.starts_at, Booking.case_id, Case.number, Coordinator.name)
                .join(Case, Case.id == Booking.case_id)
                .join(Coordinator, Coordinator.id == Booking.co_id)
                .where(
                    Booking.hub_id == hub_id,
                    Booking.status.in_(HELD_BOOKINGS),
                    Booking.starts_at >= start,
                    Booking.starts_at < min(end, now),
                    ~outcome_recorded(),
                )
                .order_by(Booking.starts_at, Booking.id)
            )
            return [
                ListLine(to_jst(at).date(), case_id, number, None, co_name)
                for at, case_id, number, co_name in booked.tuples().all()
            ]
        case Listing.REFERRALS_OUT | Listing.REFERRALS_IN:
            direction = (
                ReferralDirection.TO_PARTNER
                if which is Listing.REFERRALS_OUT
                else ReferralDirection.FROM_PARTNER
            )
            query = (
                select(
                    Referral.created_at,
                    Referral.case_id,
                    Case.number,
                    Referral.to_organisation_id,
                )
                .join(Case, Case.id == Referral.case_id)
                .where(
                    Referral.from_hub_id == hub_id,
                    Referral.direction == direction,
                    Referral.created_at >= start,
                    Referral.created_at < end,
                )
                .order_by(Referral.created_at, Referral.id)
            )
            if organisation_id == NO_ORGANISATION:
                query = query.where(Referral.to_organisation_id.is_(None))
            elif organisation_id is not None:
                query = query.where(Referral.to_organisation_id == organisation_id)
            found = await session.execute(query)
            return [
                ListLine(to_jst(at).date(), case_id, number, organisation, "")
                for at, case_id, number, organisation in found.tuples().all()
            ]
    raise ValueError(which)


async def referrals_by_partner(
    session: AsyncSession, *, hub_id: int, fiscal_year: int, now: datetime
) -> list[PartnerLine]:
    """Referrals out and in per partner organisation, counted from the two lists; the
    partners' names in order, a partner nobody recorded last."""
    out = await listing(
        session, Listing.REFERRALS_OUT, hub_id=hub_id, fiscal_year=fiscal_year, now=now
    )
    came = await listing(
        session, Listing.REFERRALS_IN, hub_id=hub_id, fiscal_year=fiscal_year, now=now
    )
    ids = {line.organisation_id for line in (*out, *came)}
    named = {i for i in ids if i is not None}
    names: dict[int, str] = {}
    if named:
        found = await session.execute(
            select(PartnerOrganisation.id, PartnerOrganisation.name).where(
                PartnerOrganisation.id.in_(sorted(named))
            )
        )
        names = dict(found.tuples().all())
    return sorted(
        (
            PartnerLine(
                organisation_id=i,
                name=names.get(i, "") if i is not None else "",
                out=_count(out, i),
                came_in=_count(came, i),
            )
            for i in ids
        ),
        key=lambda line: (line.organisation_id is None, line.name, line.organisation_id or 0),
    )


def _count(lines: Sequence[ListLine], organisation_id: int | None) -> int:
    return sum(1 for line in lines if line.organisation_id == organisation_id)


@dataclass(frozen=True)
class PushMonth:
    """LINE pushes the hub's channels sent in one Japan-time month, against their plan."""

    month: int
    pushes: int
    budget: int | None
    """The channels' monthly push budgets added up; None when no channel has one."""

    @property
    def share(self) -> float | None:
        return self.pushes / self.budget if self.budget else None


async def push_months(session: AsyncSession, *, hub_id: int, fiscal_year: int) -> list[PushMonth]:
    """The push budget used, month by month: the counter LINE bills by (push_usage), which
    the dispatcher adds to as it sends, per channel and Japan-time month.

    It is a counter, not a list of records: sent messages are deleted by retention, and a
    multicast is one message but many pushes. The year's use is the sum of these rows."""
    channels = (
        await session.execute(
            select(LineChannel.channel_id, LineChannel.monthly_push_budget).where(
                LineChannel.hub_id == hub_id
            )
        )
    ).all()
    budgets = [budget for _channel, budget in channels if budget is not None]
    budget = sum(budgets) if budgets else None
    months = [f"{fiscal_year + (m < 4):04d}-{m:02d}" for m in MONTHS]
    used: dict[str, int] = {}
    if channels:
        found = await session.execute(
            select(PushUsage.month, func.sum(PushUsage.pushes))
            .where(
                PushUsage.channel_id.in_([channel for channel, _budget in channels]),
                PushUsage.month.in_(months),
            )
            .group_by(PushUsage.month)
        )
        used = {month: int(n or 0) for month, n in found.tuples().all()}
    return [PushMonth(int(m[5:]), used.get(m, 0), budget) for m in months]
