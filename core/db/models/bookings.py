"""Bookings of a CO's time for a case.

Invariant 5 (a CO is never double-booked) is enforced by the database, not by a read then a
write: a partial unique index lets only one active booking hold a CO's start time, so of two
racing inserts one fails, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import ACTIVE_BOOKING_STATUSES, BookingMode, BookingStatus

_ACTIVE = ", ".join(f"'{status.value}'" for status in sorted(ACTIVE_BOOKING_STATUSES))
ACTIVE_BOOKING_CONDITION = f"status IN ({_ACTIVE})"
"""The WHERE of the partial index; kept identical for both backends and for migrations."""


class Booking(Base):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint("starts_at < ends_at", name="starts_before_ends"),
        Index(
            "uq_bookings_co_id_starts_at_active",
            "co_id",
            "starts_at",
            unique=True,
            sqlite_where=text(ACTIVE_BOOKING_CONDITION),
            postgresql_where=text(ACTIVE_BOOKING_CONDITION),
        ),
        # A CO's day and free-slot search.
        Index("ix_bookings_co_id_starts_at", "co_id", "starts_at"),
        # A hub's day view.
        Index("ix_bookings_hub_id_starts_at", "hub_id", "starts_at"),
        # Reminders: active bookings starting soon.
        Index("ix_bookings_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ID, ForeignKey("cases.id"), index=True)
    co_id: Mapped[int] = mapped_column(ID, ForeignKey("coordinators.id"))
    hub_id: Mapped[int] = mapped_column(ID, ForeignKey("hubs.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    mode: Mapped[BookingMode] = mapped_column(enum_type(BookingMode, "mode", 16))
    status: Mapped[BookingStatus] = mapped_column(
        enum_type(BookingStatus, "status", 16), default=BookingStatus.CONFIRMED
    )
    location: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
