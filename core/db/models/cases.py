"""Cases: one owner's request for help, from intake to closing, and its status history.

A case moves between statuses only along core.domain.enums.CASE_TRANSITIONS; every move is
also a history row, so a hub can see who did what and when without reading the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import ActorKind, BookingMode, CaseKind, CaseSource, CaseStatus


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("phase IN (1, 2)", name="phase_1_or_2"),
        # The hub queue: a hub's cases in a status, most urgent first, then oldest first.
        Index("ix_cases_hub_queue", "hub_id", "status", "priority", "created_at"),
        # A CO's open cases: their list and the capacity check.
        Index("ix_cases_assigned_co_id_status", "assigned_co_id", "status"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    """Human readable, like "13-2026-000042" (hub, fiscal year, sequence)."""
    hub_id: Mapped[int] = mapped_column(ID, ForeignKey("hubs.id"))
    business_id: Mapped[int | None] = mapped_column(ID, ForeignKey("businesses.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ID, ForeignKey("persons.id"), index=True)
    """The owner's contact for the case."""
    source: Mapped[CaseSource] = mapped_column(enum_type(CaseSource, "source", 16))
    kind: Mapped[CaseKind] = mapped_column(
        enum_type(CaseKind, "kind", 16),
        default=CaseKind.CONSULTATION,
        server_default=CaseKind.CONSULTATION.value,
    )
    """お問い合わせ cases (an owner's question to a person) are told apart on the card."""
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Topic values as plain strings (core.domain.topics.Topic)."""
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[CaseStatus] = mapped_column(
        enum_type(CaseStatus, "status", 16), default=CaseStatus.NEW
    )
    phase: Mapped[int] = mapped_column(SmallInteger, default=1)
    """1 = consultation (経営相談), 2 = continuous management support (経営支援)."""
    priority: Mapped[int] = mapped_column(default=100)
    """Lower is more urgent."""
    assigned_co_id: Mapped[int | None] = mapped_column(ID, ForeignKey("coordinators.id"))
    referring_staff_id: Mapped[int | None] = mapped_column(
        ID, ForeignKey("partner_staff.id"), index=True
    )
    sit_in_requested: Mapped[bool] = mapped_column(default=False)
    """The referring partner wants to sit in on the consultation (同席)."""
    preferred_mode: Mapped[BookingMode | None] = mapped_column(
        enum_type(BookingMode, "preferred_mode", 8)
    )
    """Visit or online, as the owner asked in the intake; the booking offers it first."""
    transferred_from_hub_id: Mapped[int | None] = mapped_column(ID, ForeignKey("hubs.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class CaseStatusHistory(Base):
    __tablename__ = "case_status_history"
    __table_args__ = (Index("ix_case_status_history_case_id_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ID, ForeignKey("cases.id", ondelete="CASCADE"))
    from_status: Mapped[CaseStatus | None] = mapped_column(enum_type(CaseStatus, "from_status", 16))
    """None for the row that records the case's creation."""
    to_status: Mapped[CaseStatus] = mapped_column(enum_type(CaseStatus, "to_status", 16))
    at: Mapped[datetime]
    actor_kind: Mapped[ActorKind] = mapped_column(enum_type(ActorKind, "actor_kind", 16))
    actor_id: Mapped[int | None] = mapped_column(ID)
    note: Mapped[str | None] = mapped_column(Text)
