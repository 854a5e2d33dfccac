"""The inbox: every accepted platform event, stored before the webhook answers.

The unique (platform, event_id) is what makes a redelivered LINE event or a retried Slack
request a no-op (invariant 2); the ordering key lets workers handle one person's events one at
a time, in order, while different people proceed in parallel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import InboxStatus, Platform


class InboxEvent(Base):
    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("platform", "event_id"),
        Index("ix_inbox_events_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_inbox_events_ordering_key_id", "ordering_key", "id"),
        # The oldest pending events, in order, for the worker's claims (migration 0011).
        Index(
            "ix_inbox_events_pending_id",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        # Each person's pending events: "is an earlier one waiting" (migration 0017).
        Index(
            "ix_inbox_events_pending_key",
            "ordering_key",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, "platform", 8))
    channel_id: Mapped[str] = mapped_column(String(64))
    """LINE channel id (or hub code of the webhook path), or Slack team id."""
    event_id: Mapped[str] = mapped_column(String(128))
    """LINE webhookEventId, Slack event_id, or a digest of an interaction payload."""
    ordering_key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime]
    occurred_at: Mapped[datetime | None]
    redelivery: Mapped[bool] = mapped_column(default=False)
    status: Mapped[InboxStatus] = mapped_column(
        enum_type(InboxStatus, "status", 16), default=InboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    handled_at: Mapped[datetime | None]


class PushUsage(Base):
    """Pushes sent per LINE channel and month: the plan's budget is spent against this."""

    __tablename__ = "push_usage"
    __table_args__ = (UniqueConstraint("channel_id", "month"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))
    """YYYY-MM in Japan time, as LINE counts."""
    pushes: Mapped[int] = mapped_column(default=0)
