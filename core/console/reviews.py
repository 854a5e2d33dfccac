"""Owners' comments on their CO, and the CO's consent to show each one on the dashboard.

A comment is about a person, so the CO decides: on their own page they see every comment
of the year and may show or hide each; the hub's dashboard (the CCO, HQ) shows only those
the CO agreed to show. Each decision is audited. Erasure blanks a comment, shown or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import AuditLog, ConsultationRecord, Coordinator, CoReview
from core.domain.enums import ActorKind
from core.surveys.aggregate import fiscal_year_days


@dataclass(frozen=True)
class ReviewComment:
    review_id: int
    co_id: int
    co_name: str
    held_on: date
    stars: int
    comment: str
    shown: bool


async def comments(
    session: AsyncSession,
    *,
    fiscal_year: int,
    hub_id: int | None = None,
    co_id: int | None = None,
    shown_only: bool,
) -> list[ReviewComment]:
    """The year's comments (by the consultation's date) of a hub or a CO, newest first."""
    first, last = fiscal_year_days(fiscal_year)
    query = (
        select(CoReview, Coordinator.name, ConsultationRecord.held_on)
        .join(ConsultationRecord, ConsultationRecord.id == CoReview.consultation_id)
        .join(Coordinator, Coordinator.id == CoReview.co_id)
        .where(
            ConsultationRecord.held_on >= first,
            ConsultationRecord.held_on <= last,
            CoReview.comment.is_not(None),
            CoReview.comment != "",
        )
        .order_by(ConsultationRecord.held_on.desc(), CoReview.id.desc())
    )
    if hub_id is not None:
        query = query.where(ConsultationRecord.hub_id == hub_id)
    if co_id is not None:
        query = query.where(CoReview.co_id == co_id)
    if shown_only:
        query = query.where(CoReview.comment_shown.is_(True))
    rows = await session.execute(query)
    return [
        ReviewComment(
            review_id=review.id,
            co_id=review.co_id,
            co_name=name,
            held_on=held_on,
            stars=review.stars,
            comment=review.comment or "",
            shown=review.comment_shown,
        )
        for review, name, held_on in rows.tuples().all()
    ]


async def set_shown(
    session: AsyncSession, *, review_id: int, co_id: int, shown: bool, now: datetime
) -> bool | None:
    """The CO `co_id` shows or hides a comment on them; None when the review is not theirs,
    False when nothing changed. Audited."""
    review = await session.get(CoReview, review_id)
    if review is None or review.co_id != co_id:
        return None
    if review.comment_shown == shown:
        return False
    review.comment_shown = shown
    record = await session.get(ConsultationRecord, review.consultation_id)
    session.add(
        AuditLog(
            at=now,
            actor_kind=ActorKind.COORDINATOR,
            actor_id=co_id,
            action="review.comment_shown" if shown else "review.comment_hidden",
            hub_id=record.hub_id if record is not None else None,
            details={"review_id": review_id},
        )
    )
    return True
