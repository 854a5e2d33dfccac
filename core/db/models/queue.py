"""The hub queues' table, used by the embedded backend (core.queues.sql).

One row per queued case. `case_id` carries no foreign key on purpose: the queue does not
depend on how or when the cases table is defined, and the row is deleted when the case
closes. With Redis as the queue the same rows are still the record Redis is rebuilt from
(docs/queues.md).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID


class HubQueueEntry(Base):
    __tablename__ = "hub_queue_entries"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 0 AND 99", name="priority_range"),
        # list_waiting, stats and escalation: one hub's unclaimed rows in queue order.
        Index(
            "ix_hub_queue_entries_hub_waiting",
            "hub_code",
            "claimed_by_co_id",
            "priority",
            "enqueued_at",
        ),
    )

    case_id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=False)
    hub_code: Mapped[str] = mapped_column(String(2))
    priority: Mapped[int] = mapped_column(Integer)
    enqueued_at: Mapped[datetime]
    """When the case first joined a queue; kept through release and transfer."""
    claimed_by_co_id: Mapped[int | None] = mapped_column(ID)
    """Coordinators.id of the holder; no foreign key, like case_id."""
    claimed_at: Mapped[datetime | None]
