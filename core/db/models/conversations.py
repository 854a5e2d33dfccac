"""Where a half-finished conversation waits between two messages.

One row per person per channel: an owner is in at most one dialog with a hub at a time, and
the unique key lets a save be a single upsert.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base


class ConversationStateRow(Base):
    __tablename__ = "conversation_states"
    __table_args__ = (UniqueConstraint("platform", "channel_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    flow_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    step: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    known: Mapped[list[str]] = mapped_column(JSON)
    """Keys answered from what we already knew when the flow started (not asked)."""
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
