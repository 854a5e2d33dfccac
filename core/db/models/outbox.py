"""The outbox: every outgoing message, written in the same transaction as its cause.

Invariant 4 rests here: the idempotency key stops a message being queued twice, the retry
key is what LINE's X-Line-Retry-Key receives so a retried push is not delivered twice, and
held rows wait out quiet hours instead of being dropped (invariant 7).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import OutboxStatus, Platform


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The dispatcher: due pending rows, most urgent first.
        Index("ix_outbox_messages_status_not_before_priority", "status", "not_before", "priority"),
        Index("ix_outbox_messages_ordering_key_id", "ordering_key", "id"),
        # The dispatcher's claim (migration 0016): pending rows in claim order, and the
        # in-flight rows of each recipient; sent rows leave both.
        Index(
            "ix_outbox_messages_pending_claim",
            "priority",
            "not_before",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_outbox_messages_in_flight_key",
            "ordering_key",
            "id",
            sqlite_where=text("status IN ('pending', 'sending')"),
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    platform: Mapped[Platform] = mapped_column(enum_type(Platform, "platform", 8))
    channel_id: Mapped[str] = mapped_column(String(64))
    """The LINE channel or Slack team to send through."""
    recipient: Mapped[str] = mapped_column(String(128))
    """LINE user id, Slack channel or user id, or a reply token."""
    kind: Mapped[str] = mapped_column(String(32))
    """reply, push, slack_message, slack_update, ..."""
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    priority: Mapped[int] = mapped_column(default=100)
    """Lower goes first."""
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    retry_key: Mapped[str] = mapped_column(String(36))
    """A UUID, fixed for the row's life, sent as X-Line-Retry-Key on every attempt."""
    status: Mapped[OutboxStatus] = mapped_column(
        enum_type(OutboxStatus, "status", 16), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime]
    """Due time: not sent earlier (backoff, Retry-After, quiet hours)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    first_attempt_at: Mapped[datetime | None]
    """When the row was first claimed for sending: where a Slack post that may have gone out
    without our hearing of it is looked for in the channel's history (issue 18)."""
    """When it was recorded as failed: the CCO's morning note lists each broken promise once."""
    ordering_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    """Messages to one recipient go out one at a time, in the order they were written."""
    locale: Mapped[str] = mapped_column(String(8), default="ja", server_default="ja")
    """The recipient's language, for rendering the neutral payload at send time."""
    reply_token: Mapped[str | None] = mapped_column(String(128))
    """LINE reply token from the event that caused this message; free but short-lived."""
    reply_token_expires_at: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    """Lease of a dispatcher that claimed the row (status sending); expired means crashed."""
    accepted_request_id: Mapped[str | None] = mapped_column(String(64))
    """The platform's id for the accepted request (LINE x-line-request-id, Slack ts)."""
    case_id: Mapped[int | None] = mapped_column(ID, ForeignKey("cases.id"), index=True)
    hub_id: Mapped[int | None] = mapped_column(ID, ForeignKey("hubs.id"), index=True)
