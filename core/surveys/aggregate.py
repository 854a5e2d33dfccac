"""Satisfaction and CO reviews, per CO and per hub, for a fiscal year (April to March).

Satisfaction is the share of 大変満足 plus 満足 among the answers given (DOMAIN.md); the
consultation's Japan-time date decides the fiscal year it counts in. Only answers count:
expired and unanswered surveys are in neither the numerator nor the denominator. Counting is
done by the database (GROUP BY), so the memory used does not grow with the number of answers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import String, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from core.db.models import ConsultationRecord, CoReview, Survey, SurveyAnswer
from core.domain.enums import SatisfactionLevel, SurveyKind
from core.surveys.planning import SATISFACTION_QUESTION


@dataclass(frozen=True)
class Satisfaction:
    answers: int = 0
    satisfied: int = 0
    """大変満足 plus 満足."""

    @property
    def rate(self) -> float | None:
        """The share satisfied (0..1); None when nobody answered."""
        return self.satisfied / self.answers if self.answers else None


@dataclass(frozen=True)
class ReviewSummary:
    count: int = 0
    average: float | None = None
    """Average stars (1..5); None without reviews."""


def fiscal_year_days(year: int) -> tuple[date, date]:
    """First and last day of a Japanese fiscal year (FY2026 = 2026-04-01 .. 2027-03-31)."""
    return date(year, 4, 1), date(year + 1, 3, 31)


def _level(raw: Any) -> SatisfactionLevel | None:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
        return SatisfactionLevel(value)
    except (ValueError, TypeError):
        return None


def _record_filters(fiscal_year: int | None, hub_id: int | None) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if fiscal_year is not None:
        first, last = fiscal_year_days(fiscal_year)
        filters += [ConsultationRecord.held_on >= first, ConsultationRecord.held_on <= last]
    if hub_id is not None:
        filters.append(ConsultationRecord.hub_id == hub_id)
    return filters


async def _satisfaction(
    session: AsyncSession, group: Any, fiscal_year: int | None, hub_id: int | None
) -> dict[int, Satisfaction]:
    # JSON has no equality operator on PostgreSQL: group by its text, which both backends
    # spell the same way ('"satisfied"'), and decode that here.
    value = cast(SurveyAnswer.value, String)
    rows = await session.execute(
        select(group, value, func.count())
        .join(Survey, Survey.id == SurveyAnswer.survey_id)
        .join(ConsultationRecord, ConsultationRecord.id == Survey.consultation_id)
        .where(
            SurveyAnswer.question == SATISFACTION_QUESTION,
            Survey.kind == SurveyKind.SATISFACTION,
            *_record_filters(fiscal_year, hub_id),
        )
        .group_by(group, value)
    )
    totals: dict[int, list[int]] = {}
    for key, raw, count in rows.all():
        level = _level(raw)
        if level is None:
            continue
        entry = totals.setdefault(int(key), [0, 0])
        entry[0] += int(count)
        if level.counts_as_satisfied:
            entry[1] += int(count)
    return {key: Satisfaction(answers, satisfied) for key, (answers, satisfied) in totals.items()}


async def satisfaction_by_co(
    session: AsyncSession, *, fiscal_year: int | None, hub_id: int | None = None
) -> dict[int, Satisfaction]:
    """co_id -> satisfaction of the consultations that CO held (in one hub, or all)."""
    return await _satisfaction(session, ConsultationRecord.co_id, fiscal_year, hub_id)


async def satisfaction_by_hub(
    session: AsyncSession, *, fiscal_year: int | None, hub_id: int | None = None
) -> dict[int, Satisfaction]:
    """hub_id -> satisfaction of the consultations the hub held (HQ: all hubs)."""
    return await _satisfaction(session, ConsultationRecord.hub_id, fiscal_year, hub_id)


def overall(figures: Mapping[int, Satisfaction]) -> Satisfaction:
    """All groups together (the national figure from the per-hub ones)."""
    return Satisfaction(
        sum(f.answers for f in figures.values()), sum(f.satisfied for f in figures.values())
    )


async def co_reviews(
    session: AsyncSession,
    *,
    fiscal_year: int | None,
    hub_id: int | None = None,
    co_id: int | None = None,
) -> dict[int, ReviewSummary]:
    """co_id -> the count and average of the stars owners gave that CO."""
    query = (
        select(CoReview.co_id, func.count(), func.avg(CoReview.stars))
        .join(ConsultationRecord, ConsultationRecord.id == CoReview.consultation_id)
        .where(*_record_filters(fiscal_year, hub_id))
        .group_by(CoReview.co_id)
    )
    if co_id is not None:
        query = query.where(CoReview.co_id == co_id)
    rows = await session.execute(query)
    return {
        int(co): ReviewSummary(int(count), float(average) if average is not None else None)
        for co, count, average in rows.all()
    }
