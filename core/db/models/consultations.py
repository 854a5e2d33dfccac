"""What happened in a consultation (相談実績): the カルテ row the national figures count.

Issues are a list because figure 7 counts every issue set, several per consultation.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import NextStep


class ConsultationRecord(Base):
    __tablename__ = "consultation_records"
    __table_args__ = (
        CheckConstraint("minutes >= 0", name="minutes_not_negative"),
        CheckConstraint("phase IN (1, 2)", name="phase_1_or_2"),
        Index("ix_consultation_records_co_id_held_on", "co_id", "held_on"),
        Index("ix_consultation_records_hub_id_held_on", "hub_id", "held_on"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ID, ForeignKey("cases.id"), index=True)
    booking_id: Mapped[int | None] = mapped_column(ID, ForeignKey("bookings.id"), index=True)
    co_id: Mapped[int] = mapped_column(ID, ForeignKey("coordinators.id"))
    hub_id: Mapped[int] = mapped_column(ID, ForeignKey("hubs.id"))
    """The hub that held it: the figures count per hub, and a case may have moved since."""
    held_on: Mapped[date] = mapped_column(index=True)
    """The Japan-time date, which decides the fiscal year the consultation counts in."""
    started_at: Mapped[datetime | None]
    minutes: Mapped[int]
    """Consultation time; figure 8 and the budget (稼働率) follow it."""
    issues: Mapped[list[str]] = mapped_column(JSON, default=list)
    """The issues set (課題), one string each."""
    advice_summary: Mapped[str | None] = mapped_column(Text)
    result_confirmed: Mapped[bool] = mapped_column(default=False)
    co_attending_org_id: Mapped[int | None] = mapped_column(
        # Named by hand: the convention's name is longer than PostgreSQL's 63 characters.
        ID,
        ForeignKey("partner_organisations.id", name="fk_consultation_records_co_attending_org"),
    )
    """A partner that consulted together or sat in (連携・同席, figure 5)."""
    phase: Mapped[int] = mapped_column(SmallInteger, default=1)
    next_step: Mapped[NextStep] = mapped_column(
        enum_type(NextStep, "next_step", 16), default=NextStep.FOLLOW_UP
    )
    follow_up_on: Mapped[date | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
