"""The eight figures read from the pre-counted hub-months (figure_months), for the pages.

Counting a national year from the records took over a second per view; the triggers of
migration 0012 keep each hub-month's counts exact as records are written, so the dashboard
and the roll-up read a few hundred rows instead. core.figures still counts from the
records, from scratch: the tests hold the two equal after every kind of write, and the
drill-down lists (core.dashboard) still list the records themselves, so a number and its
list can only agree if the counts are exact.

Figure 1 (businesses after 名寄せ) is not additive over months or hubs' twins: the rows
hold the distinct businesses each hub-month consulted, as the cases name them, and a
merged twin is mapped to its survivor when read, as core.figures does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, func, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from core.dashboard import MONTHS, Figure
from core.db.models import Business, FigureMonth, FigureMonthBusiness
from core.figures import HubFigures, business_survivors
from core.surveys.aggregate import fiscal_year_days


@dataclass(frozen=True)
class HubMonths:
    """A hub's fiscal year as the dashboard shows it: each figure per month and in total.

    `value` answers as core.dashboard.HubYear.value does, for the same figure and month,
    so the page can read either; this one reads no record.
    """

    fiscal_year: int
    months: dict[int, HubFigures]
    """Calendar month (4 = April) -> that month's figures."""
    total: HubFigures
    """The year: businesses counted once however many months consulted them."""

    def value(self, figure: Figure, month: int | None = None) -> float:
        figures = self.months[month] if month else self.total
        if figure is Figure.HOURS:
            return figures.minutes / 60
        count: int = getattr(figures, figure.value)
        return count


def _in_year(fiscal_year: int, hub_ids: Sequence[int] | None) -> list[ColumnElement[bool]]:
    first, last = fiscal_year_days(fiscal_year)
    where: list[ColumnElement[bool]] = [FigureMonth.month >= first, FigureMonth.month <= last]
    if hub_ids is not None:
        where.append(FigureMonth.hub_id.in_(list(hub_ids)))
    return where


def _businesses_in_year(
    fiscal_year: int, hub_ids: Sequence[int] | None
) -> list[ColumnElement[bool]]:
    first, last = fiscal_year_days(fiscal_year)
    where: list[ColumnElement[bool]] = [
        FigureMonthBusiness.month >= first,
        FigureMonthBusiness.month <= last,
        FigureMonthBusiness.consultations > 0,
    ]
    if hub_ids is not None:
        where.append(FigureMonthBusiness.hub_id.in_(list(hub_ids)))
    return where


async def figures_by_hub(
    session: AsyncSession, *, fiscal_year: int, hub_ids: Sequence[int] | None = None
) -> dict[int, HubFigures]:
    """core.figures.figures_by_hub, from the hub-months: the same answer, hubs with no
    record left out alike."""
    rows = await session.execute(
        select(
            FigureMonth.hub_id,
            func.sum(FigureMonth.consultations),
            func.sum(FigureMonth.results_confirmed),
            func.sum(FigureMonth.referrals),
            func.sum(FigureMonth.joint_consultations),
            func.sum(FigureMonth.issues_set),
            func.sum(FigureMonth.issue_responses),
            func.sum(FigureMonth.minutes),
        )
        .where(*_in_year(fiscal_year, hub_ids))
        .group_by(FigureMonth.hub_id)
    )
    sums = {int(hub): [int(v or 0) for v in values] for hub, *values in rows.tuples().all()}
    where = _businesses_in_year(fiscal_year, hub_ids)
    distinct = await session.execute(
        select(FigureMonthBusiness.hub_id, func.count(FigureMonthBusiness.business_id.distinct()))
        .where(*where)
        .group_by(FigureMonthBusiness.hub_id)
    )
    businesses = {int(hub): int(count) for hub, count in distinct.tuples().all()}
    # 名寄せ: only businesses that took part in a merge can be counted twice; read those.
    merged = select(Business.id).where(Business.merged_into_id.is_not(None))
    survivors = select(Business.merged_into_id).where(Business.merged_into_id.is_not(None))
    involved = await session.execute(
        select(FigureMonthBusiness.hub_id, FigureMonthBusiness.business_id)
        .where(*where, FigureMonthBusiness.business_id.in_(union(merged, survivors)))
        .distinct()
    )
    seen: dict[int, set[int]] = {}
    for hub, business in involved.tuples().all():
        seen.setdefault(int(hub), set()).add(int(business))
    if seen:
        roots = await business_survivors(session)
        for hub, ids in seen.items():
            businesses[hub] -= len(ids) - len({roots.get(b, b) for b in ids})
    # A hub-month all of whose records were erased or moved may stay as a row of zeros.
    return {
        hub: HubFigures(
            businesses=businesses.get(hub, 0),
            consultations=values[0],
            results_confirmed=values[1],
            referrals=values[2],
            joint_consultations=values[3],
            issues_set=values[4],
            issue_responses=values[5],
            minutes=values[6],
        )
        for hub, values in sums.items()
        if any(values) or businesses.get(hub)
    }


async def hub_months(session: AsyncSession, *, hub_id: int, fiscal_year: int) -> HubMonths:
    """One hub's year, month by month, from its twelve hub-months."""
    found = await session.execute(select(FigureMonth).where(*_in_year(fiscal_year, [hub_id])))
    by_month: dict[int, FigureMonth] = {row.month.month: row for row in found.scalars().all()}
    where = _businesses_in_year(fiscal_year, [hub_id])
    # Rows are distinct (hub, month, business): a month's businesses are its rows, the
    # year's its distinct ids; only businesses that took part in a merge are read back, to
    # count a twin and its survivor once (the same correction as figures_by_hub).
    per_month = await session.execute(
        select(FigureMonthBusiness.month, func.count())
        .where(*where)
        .group_by(FigureMonthBusiness.month)
    )
    counted = {_month_of(month): int(n) for month, n in per_month.tuples().all()}
    year_count = int(
        await session.scalar(
            select(func.count(FigureMonthBusiness.business_id.distinct())).where(*where)
        )
        or 0
    )
    merged = select(Business.id).where(Business.merged_into_id.is_not(None))
    survivors_of = select(Business.merged_into_id).where(Business.merged_into_id.is_not(None))
    involved = await session.execute(
        select(FigureMonthBusiness.month, FigureMonthBusiness.business_id).where(
            *where, FigureMonthBusiness.business_id.in_(union(merged, survivors_of))
        )
    )
    twins: dict[int, set[int]] = {}
    for month, business in involved.tuples().all():
        twins.setdefault(_month_of(month), set()).add(int(business))
    every = set().union(*twins.values()) if twins else set()
    roots = await business_survivors(session, every) if every else {}

    def extra(ids: set[int]) -> int:
        """How many more a set of merge-involved businesses counts than its survivors."""
        return len(ids) - len({roots.get(b, b) for b in ids})

    consulted = {m: counted.get(m, 0) - extra(twins.get(m, set())) for m in MONTHS}

    months = {}
    for number in MONTHS:
        row = by_month.get(number)
        months[number] = HubFigures(
            businesses=consulted[number],
            consultations=row.consultations if row else 0,
            results_confirmed=row.results_confirmed if row else 0,
            referrals=row.referrals if row else 0,
            joint_consultations=row.joint_consultations if row else 0,
            issues_set=row.issues_set if row else 0,
            issue_responses=row.issue_responses if row else 0,
            minutes=row.minutes if row else 0,
        )
    total = HubFigures(
        businesses=year_count - extra(every),
        consultations=sum(m.consultations for m in months.values()),
        results_confirmed=sum(m.results_confirmed for m in months.values()),
        referrals=sum(m.referrals for m in months.values()),
        joint_consultations=sum(m.joint_consultations for m in months.values()),
        issues_set=sum(m.issues_set for m in months.values()),
        issue_responses=sum(m.issue_responses for m in months.values()),
        minutes=sum(m.minutes for m in months.values()),
    )
    return HubMonths(fiscal_year, months, total)


def _month_of(month: date | str) -> int:
    """The calendar month of a stored month (a date; SQLite may hand back its text)."""
    return month.month if isinstance(month, date) else int(str(month)[5:7])
