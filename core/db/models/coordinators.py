"""Coordinators (CO, CCO, HQ specialists) and when they can be booked.

Availability is a weekly pattern plus dated exceptions, so a holiday or an extra Saturday is
one row instead of a rewritten timetable.
"""

from __future__ import annotations

from datetime import date, time

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
from core.domain.enums import BookingMode, CoRole


class Coordinator(Base):
    __tablename__ = "coordinators"
    __table_args__ = (
        UniqueConstraint("slack_user_id", "slack_team_id"),
        # The hub's CO directory and routing list active COs of one hub.
        Index("ix_coordinators_hub_id_active", "hub_id", "active"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    hub_id: Mapped[int] = mapped_column(ID, ForeignKey("hubs.id"))
    role: Mapped[CoRole] = mapped_column(enum_type(CoRole, "role", 16), default=CoRole.CO)
    name: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str | None] = mapped_column(String(100))
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Specialty values as plain strings (core.domain.topics.Specialty)."""
    qualifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    self_introduction: Mapped[str | None] = mapped_column(Text)
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    slack_team_id: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    capacity: Mapped[int] = mapped_column(default=15)
    """Most open cases the CO carries; routing skips a CO at capacity."""
    active: Mapped[bool] = mapped_column(default=True)
    console_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    """On a coordinator of the HQ hub: HQ (本部) in the operations console, every hub."""


class CoWeeklyAvailability(Base):
    __tablename__ = "co_weekly_availability"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("start_time < end_time", name="start_before_end"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    co_id: Mapped[int] = mapped_column(
        ID, ForeignKey("coordinators.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int]
    """0 = Monday, as datetime.weekday() counts."""
    start_time: Mapped[time]
    end_time: Mapped[time]
    mode: Mapped[BookingMode] = mapped_column(
        enum_type(BookingMode, "mode", 16), default=BookingMode.VISIT
    )


class CoAvailabilityException(Base):
    """One day off the weekly pattern: unavailable, or available at other hours."""

    __tablename__ = "co_availability_exceptions"
    __table_args__ = (Index("ix_co_availability_exceptions_co_id_day", "co_id", "day"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    co_id: Mapped[int] = mapped_column(ID, ForeignKey("coordinators.id", ondelete="CASCADE"))
    day: Mapped[date]
    available: Mapped[bool] = mapped_column(default=False)
    start_time: Mapped[time | None]
    end_time: Mapped[time | None]
    note: Mapped[str | None] = mapped_column(String(200))
