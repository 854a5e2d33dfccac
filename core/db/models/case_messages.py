"""The conversation of a case: the owner's own words to the hub and the COs' answers.

A row is written when the message is accepted (an owner's text, a CO's reply), before it is
relayed: the record is what the App Home case view shows and what erasure blanks, so the
Slack thread and the LINE chat are copies of it, never its only home.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import MessageDirection


class CaseMessage(Base):
    __tablename__ = "case_messages"
    __table_args__ = (Index("ix_case_messages_case_id_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ID, ForeignKey("cases.id", ondelete="CASCADE"))
    direction: Mapped[MessageDirection] = mapped_column(
        enum_type(MessageDirection, "direction", 16)
    )
    content_type: Mapped[str] = mapped_column(String(16), default="text")
    """text, image, file, video, audio, location or sticker (LINE's message types)."""
    body: Mapped[str | None] = mapped_column(Text)
    """What was written; None once erased (the row stays, so counts do not move)."""
    attachment: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    """What a non-text message carried (LINE message id, file name and size, a place)."""
    author_co_id: Mapped[int | None] = mapped_column(ID, ForeignKey("coordinators.id"))
    """The CO who answered (to_owner); None for the owner's own messages."""
    source_key: Mapped[str] = mapped_column(String(200), unique=True)
    """The platform event it came from (LINE webhookEventId, Slack event or view id): a
    redelivered event finds its row and is not relayed twice."""
    status: Mapped[str] = mapped_column(String(16), default="accepted")
    """accepted (relayed through the outbox) or refused (the reason says why)."""
    refusal: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
