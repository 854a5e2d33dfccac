"""Answers and reviews stored once: the unique keys decide, so a second tap changes nothing.

LINE redelivers events and owners tap twice; satisfaction must count each consultation and
each question once. The insert does nothing on a conflict and says whether it stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import CoReview, SurveyAnswer


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def record_answer(
    session: AsyncSession, survey_id: int, question: str, value: Any, *, now: datetime
) -> bool:
    """Store the answer to one question of a survey; False when it was answered before."""
    stmt = (
        _insert(session)(SurveyAnswer)
        .values(survey_id=survey_id, question=question, value=value, answered_at=now)
        .on_conflict_do_nothing(index_elements=["survey_id", "question"])
        .returning(SurveyAnswer.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def answer_value(session: AsyncSession, survey_id: int, question: str) -> Any:
    return await session.scalar(
        select(SurveyAnswer.value).where(
            SurveyAnswer.survey_id == survey_id, SurveyAnswer.question == question
        )
    )


async def record_review(
    session: AsyncSession,
    *,
    consultation_id: int,
    co_id: int,
    survey_id: int,
    stars: int,
    now: datetime,
) -> bool:
    """Store the owner's stars for the CO of a consultation; False when reviewed before."""
    if not 1 <= stars <= 5:
        raise ValueError("a review has 1 to 5 stars")
    stmt = (
        _insert(session)(CoReview)
        .values(
            consultation_id=consultation_id,
            co_id=co_id,
            survey_id=survey_id,
            stars=stars,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["consultation_id", "co_id"])
        .returning(CoReview.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def review_for_survey(session: AsyncSession, survey_id: int) -> CoReview | None:
    found: CoReview | None = await session.scalar(
        select(CoReview).where(CoReview.survey_id == survey_id).limit(1)
    )
    return found
