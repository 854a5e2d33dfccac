"""A hub's fiscal year, month by month: the eight figures and the rows behind each of them.

Each figure is counted from the very rows its drill-down lists, so a number on the dashboard
and the length of the list it links to cannot disagree; and the year's totals are checked
against core.figures, which counts them independently (tests/integration/test_dashboard.py).
Only records the bots and the CO outcome modal wrote are read: nothing here is typed in.

Months run April to March (Japan time), as the records system and the budget count them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import JST
from core.db.models import (
    Booking,
    Business,
    Case,
    ConsultationRecord,
    Coordinator,
    CoReview,
    Referral,
)
from core.domain.enums import BookingStatus, CaseStatus, ReferralDirection
from core.figures import business_survivors
from core.surveys.aggregate import fiscal_year_days


class Figure(StrEnum):
    """The eight figures of DOMAIN.md, in its order."""

    BUSINESSES = "businesses"
    CONSULTATIONS = "consultations"
    RESULTS_CONFIRMED = "results_confirmed"
    REFERRALS = "referrals"
    JOINT_CONSULTATIONS = "joint_consultations"
    ISSUES_SET = "issues_set"
    ISSUE_RESPONSES = "issue_responses"
    HOURS = "hours"


MONTHS: Final = (4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3)
"""A fiscal year's months in order."""


@dataclass(frozen=True)
class ConsultationLine:
    """One consultation as a drill-down list shows it: ids, date, CO, no personal data."""

    record_id: int
    case_id: int
    case_number: str
    held_on: date
    co_id: int
    co_name: str
    minutes: int
    result_confirmed: bool
    joint: bool
    issues: tuple[str, ...]
    business_id: int | None


@dataclass(frozen=True)
class ReferralLine:
    referral_id: int
    case_id: int
    case_number: str
    on: date
    organisation_id: int | None


@dataclass(frozen=True)
class BusinessLine:
    business_id: int
    """The survivor of any 名寄せ merge: a merged twin is this business."""
    name: str
    consultations: int


@dataclass
class Month:
    month: int
    consultations: list[ConsultationLine] = field(default_factory=list)
    referrals: list[ReferralLine] = field(default_factory=list)


@dataclass
class HubYear:
    """Everything the dashboard counts for one hub and fiscal year."""

    fiscal_year: int
    months: dict[int, Month]
    survivors: dict[int, int]
    """business id -> the business it was finally merged into (itself when never merged)."""
    business_names: dict[int, str]
    """Filled by with_business_names, for the lists that show them."""
    _rows: dict[tuple[Figure, int | None], Sequence[object]] = field(default_factory=dict)
    """Each figure's rows, worked out once: the page asks for 8 figures x 13 periods."""

    def consultations(self, month: int | None = None) -> list[ConsultationLine]:
        chosen = [self.months[month]] if month else list(self.months.values())
        return [line for m in chosen for line in m.consultations]

    def referrals(self, month: int | None = None) -> list[ReferralLine]:
        chosen = [self.months[month]] if month else list(self.months.values())
        return [line for m in chosen for line in m.referrals]

    def businesses(self, month: int | None = None) -> list[BusinessLine]:
        counts: dict[int, int] = {}
        for line in self.consultations(month):
            if line.business_id is None:
                continue
            root = self.survivors.get(line.business_id, line.business_id)
            counts[root] = counts.get(root, 0) + 1
        return [
            BusinessLine(business_id, self.business_names.get(business_id, ""), count)
            for business_id, count in sorted(counts.items())
        ]

    def rows(self, figure: Figure, month: int | None = None) -> Sequence[object]:
        """The records `figure` counts (for issue responses: one row per issue)."""
        key = (figure, month)
        if key not in self._rows:
            self._rows[key] = self._rows_of(figure, month)
        return self._rows[key]

    def _rows_of(self, figure: Figure, month: int | None) -> Sequence[object]:
        lines = self.consultations(month)
        match figure:
            case Figure.BUSINESSES:
                return self.businesses(month)
            case Figure.CONSULTATIONS | Figure.HOURS:
                return lines
            case Figure.RESULTS_CONFIRMED:
                return [line for line in lines if line.result_confirmed]
            case Figure.REFERRALS:
                return self.referrals(month)
            case Figure.JOINT_CONSULTATIONS:
                return [line for line in lines if line.joint]
            case Figure.ISSUES_SET:
                return [line for line in lines if line.issues]
            case Figure.ISSUE_RESPONSES:
                return [(line, issue) for line in lines for issue in line.issues]
        raise ValueError(figure)

    def of_co(self, co_id: int) -> HubYear:
        """The same year with only the consultations one CO held (their own page).

        Referrals stay the hub's: a referral records the hub that made it, not a CO."""
        months = {
            number: Month(number, [line for line in m.consultations if line.co_id == co_id], [])
            for number, m in self.months.items()
        }
        return HubYear(self.fiscal_year, months, self.survivors, self.business_names)

    def value(self, figure: Figure, month: int | None = None) -> float:
        if figure is Figure.HOURS:
            return sum(line.minutes for line in self.consultations(month)) / 60
        return len(self.rows(figure, month))


async def hub_year(session: AsyncSession, *, hub_id: int, fiscal_year: int) -> HubYear:
    """Read one hub's year in three queries (consultations, referrals, business merges)."""
    first, last = fiscal_year_days(fiscal_year)
    months = {month: Month(month) for month in MONTHS}
    rows = await session.execute(
        select(
            ConsultationRecord.id,
            ConsultationRecord.case_id,
            ConsultationRecord.held_on,
            ConsultationRecord.co_id,
            ConsultationRecord.minutes,
            ConsultationRecord.result_confirmed,
            ConsultationRecord.co_attending_org_id,
            ConsultationRecord.issues,
            Case.number,
            Case.business_id,
            Coordinator.name,
        )
        .join(Case, Case.id == ConsultationRecord.case_id)
        .join(Coordinator, Coordinator.id == ConsultationRecord.co_id)
        .where(
            ConsultationRecord.hub_id == hub_id,
            ConsultationRecord.held_on >= first,
            ConsultationRecord.held_on <= last,
        )
        .order_by(ConsultationRecord.held_on, ConsultationRecord.id)
    )
    business_ids: set[int] = set()
    for (
        record_id,
        case_id,
        held_on,
        co_id,
        minutes,
        confirmed,
        attending,
        listed,
        number,
        business_id,
        co_name,
    ) in rows.tuples().all():
        issues = tuple(i.strip() for i in listed or [] if isinstance(i, str) and i.strip())
        months[held_on.month].consultations.append(
            ConsultationLine(
                record_id=record_id,
                case_id=case_id,
                case_number=number,
                held_on=held_on,
                co_id=co_id,
                co_name=co_name,
                minutes=minutes,
                result_confirmed=confirmed,
                joint=attending is not None,
                issues=issues,
                business_id=business_id,
            )
        )
        if business_id is not None:
            business_ids.add(business_id)
    start = datetime.combine(first, time(0), JST).astimezone(UTC)
    end = datetime(fiscal_year + 1, 4, 1, tzinfo=JST).astimezone(UTC)
    referrals = await session.execute(
        select(Referral, Case.number)
        .join(Case, Case.id == Referral.case_id)
        .where(
            Referral.from_hub_id == hub_id,
            Referral.direction == ReferralDirection.TO_PARTNER,
            Referral.created_at >= start,
            Referral.created_at < end,
        )
        .order_by(Referral.created_at, Referral.id)
    )
    for referral, number in referrals.tuples().all():
        on = referral.created_at.astimezone(JST).date()
        months[on.month].referrals.append(
            ReferralLine(referral.id, referral.case_id, number, on, referral.to_organisation_id)
        )
    survivors = await business_survivors(session, business_ids)
    return HubYear(fiscal_year, months, survivors, {})


async def with_business_names(session: AsyncSession, year: HubYear) -> HubYear:
    """Fill in the names the businesses list shows (the dashboard itself needs none)."""
    wanted = sorted(set(year.survivors.values()) - set(year.business_names))
    for chunk in (wanted[i : i + 5000] for i in range(0, len(wanted), 5000)):
        found = await session.execute(
            select(Business.id, Business.name).where(Business.id.in_(chunk))
        )
        year.business_names.update(found.tuples().all())
    return year


@dataclass(frozen=True)
class HubHealth:
    """How the hub's work is going: the queue, claims, bookings, phases, reviews."""

    waiting: int
    oldest_wait_hours: float | None
    claim_hours_p50: float | None
    claim_hours_p90: float | None
    claimed: int
    bookings_completed: int
    no_shows: int
    phase_1: int
    phase_2: int
    reviews: int
    review_average: float | None


async def hub_health(
    session: AsyncSession, *, hub_id: int, fiscal_year: int, now: datetime
) -> HubHealth:
    """Queue health now, and claims, bookings and phases of the fiscal year."""
    first, last = fiscal_year_days(fiscal_year)
    start = datetime.combine(first, time(0), JST).astimezone(UTC)
    end = datetime(fiscal_year + 1, 4, 1, tzinfo=JST).astimezone(UTC)
    waiting = (
        await session.execute(
            select(func.count(), func.min(Case.created_at)).where(
                Case.hub_id == hub_id, Case.status.in_([CaseStatus.NEW, CaseStatus.QUEUED])
            )
        )
    ).one()
    oldest = waiting[1]
    claims = sorted(
        (claimed - created).total_seconds() / 3600
        for created, claimed in (
            await session.execute(
                select(Case.created_at, Case.claimed_at).where(
                    Case.hub_id == hub_id,
                    Case.claimed_at.is_not(None),
                    Case.created_at >= start,
                    Case.created_at < end,
                )
            )
        )
        .tuples()
        .all()
        if claimed is not None
    )
    bookings = dict(
        (
            await session.execute(
                select(Booking.status, func.count())
                .where(
                    Booking.hub_id == hub_id,
                    Booking.starts_at >= start,
                    Booking.starts_at < end,
                    Booking.status.in_([BookingStatus.COMPLETED, BookingStatus.NO_SHOW]),
                )
                .group_by(Booking.status)
            )
        )
        .tuples()
        .all()
    )
    phases = dict(
        (
            await session.execute(
                select(ConsultationRecord.phase, func.count())
                .where(
                    ConsultationRecord.hub_id == hub_id,
                    ConsultationRecord.held_on >= first,
                    ConsultationRecord.held_on <= last,
                )
                .group_by(ConsultationRecord.phase)
            )
        )
        .tuples()
        .all()
    )
    review_count, review_average = (
        await session.execute(
            select(func.count(), func.avg(CoReview.stars))
            .join(ConsultationRecord, ConsultationRecord.id == CoReview.consultation_id)
            .where(
                ConsultationRecord.hub_id == hub_id,
                ConsultationRecord.held_on >= first,
                ConsultationRecord.held_on <= last,
            )
        )
    ).one()
    return HubHealth(
        waiting=int(waiting[0]),
        oldest_wait_hours=(now - oldest).total_seconds() / 3600 if oldest else None,
        claim_hours_p50=_quantile(claims, 0.5),
        claim_hours_p90=_quantile(claims, 0.9),
        claimed=len(claims),
        bookings_completed=int(bookings.get(BookingStatus.COMPLETED, 0)),
        no_shows=int(bookings.get(BookingStatus.NO_SHOW, 0)),
        phase_1=int(phases.get(1, 0)),
        phase_2=int(phases.get(2, 0)),
        reviews=int(review_count),
        review_average=float(review_average) if review_average is not None else None,
    )


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank quantile of sorted values; None for none."""
    if not ordered:
        return None
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))  # ceil(q * n), exact in integers
    return ordered[min(rank, len(ordered)) - 1]
