"""The eight figures pre-counted per hub and month, kept exact by database triggers.

The national roll-up reads 400,000 consultations a year; counting them on every page view
took over a second. These tables hold each hub-month's counts instead. They are never
written by our code: triggers on consultation_records, referrals and cases (migration
0012) add each change's difference in the same transaction as the change, so the counts
cannot drift from the records, whatever path (ORM, bulk UPDATE, COPY) wrote them.
`core.figure_months.rebuild` recounts them from scratch, and a test checks the two agree.

Months are the first day of the Japan-time month: held_on is already a Japan-time date,
and a referral counts in the Japan-time month of its creation.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Index
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base
from core.db.models.hubs import ID


class FigureMonth(Base):
    """The additive figures (2 to 8) of one hub-month."""

    __tablename__ = "figure_months"

    hub_id: Mapped[int] = mapped_column(ID, primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    consultations: Mapped[int]
    results_confirmed: Mapped[int]
    joint_consultations: Mapped[int]
    issues_set: Mapped[int]
    issue_responses: Mapped[int]
    minutes: Mapped[int] = mapped_column(BigInteger)
    referrals: Mapped[int]


class FigureMonthBusiness(Base):
    """How many consultations of a hub-month each business (as its case names it) had.

    Figure 1 is not additive (a business consulted in May and June counts once in the
    year), so the distinct businesses are kept, not a count. The id is the case's own
    business, before 名寄せ: a merge changes no row here, the reader maps twins to their
    survivor. A row whose count fell to zero is no longer consulted and is not counted.
    """

    __tablename__ = "figure_month_businesses"
    __table_args__ = (Index("ix_figure_month_businesses_business_id", "business_id"),)

    hub_id: Mapped[int] = mapped_column(ID, primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ID, primary_key=True)
    consultations: Mapped[int]
