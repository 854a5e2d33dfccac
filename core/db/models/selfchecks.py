"""Self-check results an owner produced on LINE, kept for the coordinator who meets them.

An owner may take the self-check before any case exists; the result then waits with the
person only, and is linked to the case when one is opened, so the CO sees it either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID, enum_type
from core.selfcheck import SelfCheckKind


class SelfCheckResult(Base):
    __tablename__ = "selfcheck_results"
    __table_args__ = (
        # A person's latest result of a kind: what the CO and the booking flow look up.
        Index("ix_selfcheck_results_person_id_kind_created_at", "person_id", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ID, ForeignKey("persons.id"))
    case_id: Mapped[int | None] = mapped_column(ID, ForeignKey("cases.id"), index=True)
    """The owner's open case when the result was made; None until a case exists."""
    kind: Mapped[SelfCheckKind] = mapped_column(enum_type(SelfCheckKind, "kind", 16))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    """What the owner answered (checklist choices, or the three amounts in yen)."""
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The computed summary (score and weak topics, or the break-even figures)."""
    created_at: Mapped[datetime]
