"""The audit log: who did what to which case or hub.

It is kept long and read widely, so it holds ids and kinds only, never personal data
(invariant 9): erasing a person must not require rewriting the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.domain.enums import ActorKind


def _empty_details() -> dict[str, Any]:
    return {}


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_hub_id_at", "hub_id", "at"),)

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[ActorKind] = mapped_column(enum_type(ActorKind, "actor_kind", 16))
    actor_id: Mapped[int | None] = mapped_column(ID)
    action: Mapped[str] = mapped_column(String(64))
    """A dotted verb such as case.claimed or booking.cancelled."""
    case_id: Mapped[int | None] = mapped_column(ID, ForeignKey("cases.id"), index=True)
    hub_id: Mapped[int | None] = mapped_column(ID, ForeignKey("hubs.id"))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=_empty_details)
