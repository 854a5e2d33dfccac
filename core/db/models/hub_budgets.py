"""The consultation hours HQ budgets for each hub and fiscal year (稼働率's denominator).

DOMAIN.md: budget follows consultation hours, 稼働率 = consultation hours per budget. HQ
sets the budget on the console (audited); the hours come only from consultation records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID


class HubBudget(Base):
    __tablename__ = "hub_budgets"
    __table_args__ = (CheckConstraint("hours >= 0", name="hours_not_negative"),)

    hub_id: Mapped[int] = mapped_column(ID, ForeignKey("hubs.id"), primary_key=True)
    fiscal_year: Mapped[int] = mapped_column(Integer, primary_key=True)
    hours: Mapped[int]
    """Budgeted consultation hours for the year."""
    updated_at: Mapped[datetime]
    updated_by_co_id: Mapped[int | None] = mapped_column(ID, ForeignKey("coordinators.id"))
