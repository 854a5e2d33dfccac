"""Surveys after a consultation, their answers, and the reviews of COs they produce.

Unique keys make repeated answers harmless: LINE redelivers events and owners tap twice,
and satisfaction must count each consultation and each question once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import SurveyKind, SurveyStatus


class Survey(Base):
    __tablename__ = "surveys"
    __table_args__ = (
        UniqueConstraint("consultation_id", "kind"),
        # The scheduler: planned surveys now due, sent surveys now expired.
        Index("ix_surveys_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ID, ForeignKey("cases.id"), index=True)
    consultation_id: Mapped[int | None] = mapped_column(ID, ForeignKey("consultation_records.id"))
    """None for a follow-up survey, which hangs on the case rather than a consultation."""
    person_id: Mapped[int] = mapped_column(ID, ForeignKey("persons.id"), index=True)
    kind: Mapped[SurveyKind] = mapped_column(enum_type(SurveyKind, "kind", 16))
    status: Mapped[SurveyStatus] = mapped_column(
        enum_type(SurveyStatus, "status", 16), default=SurveyStatus.PLANNED
    )
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("survey_id", "question"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(ID, ForeignKey("surveys.id", ondelete="CASCADE"))
    question: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    answered_at: Mapped[datetime]


class CoReview(Base):
    """An owner's stars for the CO of one consultation; input to CO awards."""

    __tablename__ = "co_reviews"
    __table_args__ = (
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_1_to_5"),
        UniqueConstraint("consultation_id", "co_id"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    consultation_id: Mapped[int] = mapped_column(ID, ForeignKey("consultation_records.id"))
    co_id: Mapped[int] = mapped_column(ID, ForeignKey("coordinators.id"), index=True)
    survey_id: Mapped[int | None] = mapped_column(ID, ForeignKey("surveys.id"), index=True)
    stars: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    comment_shown: Mapped[bool] = mapped_column(default=False, server_default=false())
    """The CO agreed to show the comment on the hub's dashboard (the CCO and HQ read it
    there); until then only the CO sees it. Erasure blanks the comment either way."""
    created_at: Mapped[datetime]
